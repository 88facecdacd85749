//! A device-month of a perpetrator who parks, then drives off at 70 km/h
//! (starting at 3 m/s²) straight across a 50 m wide zone and parks on the
//! other side, twelve times, with fixes a minute apart, no reported speed,
//! the replay's GPS noise and multipath outliers. Every crossing must raise a
//! zone alarm (P2 at least: a crossing between two fixes is `possible`), and
//! no P1 may come outside a crossing. Where he truly is decides what a
//! crossing is, not the engine's reading of the fixes.
#![allow(clippy::unwrap_used)]

mod common;

use common::walk::report;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vangnet_engine::{Engine, EngineConfig, Event};
use vangnet_proto::order::ZoneBody;
use vangnet_proto::{AlertKind, Priority};

const FIX_INTERVAL_S: u64 = 60;
const MONTH_S: u64 = 30 * 24 * 3600;
const OUTLIER_RATE: f64 = 1.0 / 500.0;
const CROSSINGS: u64 = 12;
const TOP_SPEED_MPS: f64 = 70.0 / 3.6;
const ACCELERATION_MPS2: f64 = 3.0;
const PARKED_AT_M: f64 = 300.0;
const HALF_WIDTH_M: f64 = 25.0;
/// An alarm this long after a crossing still answers it: the fix after the
/// crossing, and the one after that.
const ANSWER_WITHIN_S: u64 = 2 * FIX_INTERVAL_S + 1;

/// A lane 50 m wide and 4 km long, across the perpetrator's way.
fn lane() -> ZoneBody {
    rectangle(
        "lane",
        [-HALF_WIDTH_M, -2_000.0],
        [HALF_WIDTH_M, 2_000.0],
        100.0,
    )
}

/// How far he has come `t` seconds after he drove off.
fn covered(t: f64) -> f64 {
    let accelerating = TOP_SPEED_MPS / ACCELERATION_MPS2;
    if t <= accelerating {
        ACCELERATION_MPS2 * t * t / 2.0
    } else {
        TOP_SPEED_MPS * (t - accelerating / 2.0)
    }
}

/// Seconds after driving off at which he has come `distance` metres.
fn time_to_cover(distance: f64) -> f64 {
    let accelerating = TOP_SPEED_MPS / ACCELERATION_MPS2;
    let while_accelerating = ACCELERATION_MPS2 * accelerating * accelerating / 2.0;
    if distance <= while_accelerating {
        (2.0 * distance / ACCELERATION_MPS2).sqrt()
    } else {
        accelerating + (distance - while_accelerating) / TOP_SPEED_MPS
    }
}

#[test]
fn a_car_pulling_away_across_a_narrow_zone_with_fixes_a_minute_apart_is_always_raised() {
    let mut rng = StdRng::seed_from_u64(23);
    let mut engine = Engine::new(EngineConfig::default());
    engine
        .put_order(&order("o1", None, vec![lane()]), ts(0))
        .unwrap();
    let perpetrator = dev("p1");
    let departures: Vec<u64> = (0..CROSSINGS)
        .map(|i| i * MONTH_S / CROSSINGS + rng.random_range(3_600..7_200))
        .collect();
    let (mut parked, mut y) = (-PARKED_AT_M, 0.0);
    let mut crossings = Vec::new();
    let mut raised: Vec<(u64, Priority)> = Vec::new();
    let mut trip = 0;
    let mut t = rng.random_range(0..FIX_INTERVAL_S);
    let mut seq = 0;
    while t < MONTH_S {
        let x = match departures.get(trip) {
            Some(&off) if t >= off => {
                if crossings.len() == trip {
                    let into_the_lane = time_to_cover(PARKED_AT_M - HALF_WIDTH_M);
                    crossings.push(off + into_the_lane as u64);
                }
                let gone = covered((t - off) as f64).min(2.0 * PARKED_AT_M);
                if gone >= 2.0 * PARKED_AT_M {
                    parked = -parked;
                    y = rng.random_range(-500.0..500.0);
                    trip += 1;
                    parked
                } else {
                    parked - parked.signum() * gone
                }
            }
            _ => parked,
        };
        seq += 1;
        let outlier = rng.random::<f64>() < OUTLIER_RATE;
        let fix = report(&mut rng, seq, t, [x, y], outlier);
        for body in dispatches(&engine.handle(&perpetrator, Event::Fixes(vec![fix]), ts(t))) {
            if body.kind == AlertKind::ZoneAlarm && body.revision == 1 {
                raised.push((t, body.priority));
            } else if body.kind == AlertKind::ZoneAlarm && body.priority == Priority::P1 {
                raised.push((t, Priority::P1));
            }
        }
        // A dispatcher resolves every alert at once, so that each crossing opens its own.
        let open: Vec<_> = engine.open_alerts().map(|a| a.id().clone()).collect();
        for id in open {
            let act = vangnet_engine::Act {
                actor: "dispatcher".into(),
                note: "seen".into(),
            };
            let _ = engine.resolve(&id, act, ts(t));
        }
        t += FIX_INTERVAL_S;
    }

    let answered = |crossed: &u64| {
        raised
            .iter()
            .any(|(at, _)| (*crossed..=crossed + ANSWER_WITHIN_S).contains(at))
    };
    let missed: Vec<_> = crossings.iter().filter(|c| !answered(c)).collect();
    let false_p1: Vec<_> = raised
        .iter()
        .filter(|(at, priority)| {
            *priority == Priority::P1
                && !crossings
                    .iter()
                    .any(|c| (*c..=c + ANSWER_WITHIN_S).contains(at))
        })
        .collect();
    println!(
        "drives: {} crossings, {} missed; {} zone alarms raised, {} P1 outside a crossing",
        crossings.len(),
        missed.len(),
        raised.len(),
        false_p1.len()
    );
    assert_eq!(crossings.len() as u64, CROSSINGS);
    assert!(missed.is_empty(), "missed crossings at {missed:?}");
    assert!(false_p1.is_empty(), "P1 outside a crossing at {false_p1:?}");
}
