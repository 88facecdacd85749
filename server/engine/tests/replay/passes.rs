//! Device-months of a perpetrator passing a zone between two fixes a minute
//! apart, with no reported speed, the walks' GPS noise and multipath
//! outliers: a car pulling away from rest at 3 m/s² to 70 km/h straight
//! across a 50 m wide zone, and a train at 40 m/s through a station zone.
//! Every crossing must raise a zone alarm (P2 at least: a crossing between
//! two fixes is `possible`), and no P1 may come outside a crossing. Where he
//! truly is decides what a crossing is, not the engine's reading of the fixes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vangnet_engine::{Engine, EngineConfig, Event};
use vangnet_geodesy::Zone;
use vangnet_proto::order::ZoneBody;
use vangnet_proto::{AlertKind, Priority};

use crate::common::walk::report;
use crate::common::*;
use crate::position;

const FIX_INTERVAL_S: u64 = 60;
const MONTH_S: u64 = 30 * 24 * 3600;
const OUTLIER_RATE: f64 = 1.0 / 500.0;
/// An alarm this long after a crossing still answers it: the fix after the
/// crossing, and the one after that.
const ANSWER_WITHIN_S: u64 = 2 * FIX_INTERVAL_S + 1;

/// How he moves on each trip: from rest at `-half_m` east of the zone's
/// centre to rest at `+half_m` (and back on the next trip), `lateral_m`
/// north of the centre line.
struct Trip {
    half_m: f64,
    lateral_m: f64,
    top_speed_mps: f64,
    acceleration_mps2: f64,
    /// Whether he brakes to a stop at the far end, or arrives at full speed.
    brakes: bool,
}

impl Trip {
    /// How far he has come `t` seconds after setting off, and whether he has arrived.
    fn covered(&self, t: f64) -> (f64, bool) {
        let length = 2.0 * self.half_m;
        let ramp_s = self.top_speed_mps / self.acceleration_mps2;
        let ramp_m = self.top_speed_mps * ramp_s / 2.0;
        let speeding_up = |t: f64| {
            if t <= ramp_s {
                self.acceleration_mps2 * t * t / 2.0
            } else {
                ramp_m + self.top_speed_mps * (t - ramp_s)
            }
        };
        let gone = if self.brakes {
            let total_s = ramp_s + (length - 2.0 * ramp_m) / self.top_speed_mps + ramp_s;
            if t >= total_s {
                length
            } else if t > total_s - ramp_s {
                length - speeding_up(total_s - t).min(ramp_m)
            } else {
                speeding_up(t)
            }
        } else {
            speeding_up(t)
        };
        (gone.min(length), gone >= length)
    }
}

/// The trips' outcome: crossings, the zone alarms raised (revision one, or a
/// rise to P1) with their time, and the alarms that missed or were false.
struct Passes {
    crossings: Vec<u64>,
    missed: Vec<u64>,
    false_p1: Vec<u64>,
    raised: usize,
}

/// Runs one device-month of `trips` trips across `zone`, each starting at a
/// random time in its share of the month, a dispatcher resolving every
/// alert at once so that each crossing opens its own.
fn run(seed: u64, zone: ZoneBody, trips: u64, trip: impl Fn(&mut StdRng) -> Trip) -> Passes {
    let truth = Zone::of(&zone.geometry, zone.radius_m).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut engine = Engine::new(EngineConfig::default());
    engine
        .put_order(&order("o1", None, vec![zone]), ts(0))
        .unwrap();
    let perpetrator = dev("p1");
    let departures: Vec<u64> = (0..trips)
        .map(|i| i * MONTH_S / trips + rng.random_range(3_600..7_200))
        .collect();
    let mut current = trip(&mut rng);
    let (mut direction, mut lateral) = (1.0, current.lateral_m);
    let mut crossings = Vec::new();
    let mut raised: Vec<(u64, Priority)> = Vec::new();
    let mut done = 0;
    let mut t = rng.random_range(0..FIX_INTERVAL_S);
    let mut seq = 0;
    let x_at = |trip: &Trip, direction: f64, gone: f64| direction * (gone - trip.half_m);
    while t < MONTH_S {
        let x = match departures.get(done) {
            Some(&off) if t >= off => {
                if crossings.len() == done {
                    let entry = (off..off + 3_600).find(|&s| {
                        let gone = current.covered((s - off) as f64).0;
                        let xy = [x_at(&current, direction, gone), lateral];
                        truth.signed_distance(position(xy)) < 0.0
                    });
                    crossings.extend(entry);
                }
                let (gone, arrived) = current.covered((t - off) as f64);
                let x = x_at(&current, direction, gone);
                if arrived {
                    done += 1;
                    direction = -direction;
                    current = trip(&mut rng);
                    lateral = current.lateral_m;
                }
                x
            }
            _ => -direction * current.half_m,
        };
        seq += 1;
        let outlier = rng.random::<f64>() < OUTLIER_RATE;
        let fix = report(&mut rng, seq, t, [x, lateral], outlier);
        for body in dispatches(&engine.handle(&perpetrator, Event::Fixes(vec![fix]), ts(t))) {
            if body.kind == AlertKind::ZoneAlarm && body.revision == 1 {
                raised.push((t, body.priority));
            } else if body.kind == AlertKind::ZoneAlarm && body.priority == Priority::P1 {
                raised.push((t, Priority::P1));
            }
        }
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

    let answers = |crossed: &u64, at: &u64| (*crossed..=crossed + ANSWER_WITHIN_S).contains(at);
    Passes {
        missed: crossings
            .iter()
            .filter(|c| !raised.iter().any(|(at, _)| answers(c, at)))
            .copied()
            .collect(),
        false_p1: raised
            .iter()
            .filter(|(at, priority)| {
                *priority == Priority::P1 && !crossings.iter().any(|c| answers(c, at))
            })
            .map(|(at, _)| *at)
            .collect(),
        raised: raised.len(),
        crossings,
    }
}

fn check(name: &str, passes: &Passes, trips: u64) {
    println!(
        "{name}: {} crossings, {} missed; {} zone alarms raised, {} P1 outside a crossing",
        passes.crossings.len(),
        passes.missed.len(),
        passes.raised,
        passes.false_p1.len()
    );
    assert_eq!(passes.crossings.len() as u64, trips, "every trip crossed");
    assert!(
        passes.missed.is_empty(),
        "missed crossings at {:?}",
        passes.missed
    );
    assert!(
        passes.false_p1.is_empty(),
        "P1 outside a crossing at {:?}",
        passes.false_p1
    );
}

#[test]
fn a_car_pulling_away_across_a_narrow_zone_with_fixes_a_minute_apart_is_always_raised() {
    let lane = rectangle("lane", [-25.0, -2_000.0], [25.0, 2_000.0], 100.0);
    let passes = run(23, lane, 12, |rng| Trip {
        half_m: 300.0,
        lateral_m: rng.random_range(-500.0..500.0),
        top_speed_mps: 70.0 / 3.6,
        acceleration_mps2: 3.0,
        brakes: false,
    });
    check("passes, car from rest", &passes, 12);
}

#[test]
fn a_train_through_a_station_zone_with_fixes_a_minute_apart_is_always_raised() {
    let station = circle("station", 0.0, 0.0, 150.0, 200.0);
    let passes = run(41, station, 60, |rng| Trip {
        half_m: 10_000.0,
        lateral_m: rng.random_range(-100.0..100.0),
        top_speed_mps: 40.0,
        acceleration_mps2: 0.8,
        brakes: true,
    });
    check("passes, train", &passes, 60);
}
