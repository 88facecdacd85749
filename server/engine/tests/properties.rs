//! Properties that must hold for any events, checked with proptest.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use vangnet_engine::classify::Thresholds;
use vangnet_engine::{Effect, Engine, Event, Level};
use vangnet_proto::{AlarmKind, DeviceId, OrderId, TimestampMs, WarningLevel};

/// One message of a random scenario.
#[derive(Debug, Clone)]
enum Step {
    Fix {
        device: usize,
        dt_s: u64,
        x: f64,
        y: f64,
        acc: f64,
    },
    Panic {
        device: usize,
        dt_s: u64,
    },
    Tick {
        dt_s: u64,
    },
}

const DEVICES: [&str; 4] = ["p1", "v1", "p2", "v2"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..4usize, 1..120u64, -2_500.0..2_500.0f64, -2_500.0..2_500.0f64, 3.0..60.0f64)
            .prop_map(|(device, dt_s, x, y, acc)| Step::Fix { device, dt_s, x, y, acc }),
        1 => (0..4usize, 1..120u64).prop_map(|(device, dt_s)| Step::Panic { device, dt_s }),
        1 => (1..600u64).prop_map(|dt_s| Step::Tick { dt_s }),
    ]
}

/// Two orders sharing nothing: o1 protects v1 from p1, o2 protects v2 from p2.
fn two_orders() -> Vec<vangnet_proto::order::OrderBody> {
    let mut second = order(
        "o2",
        Some((800.0, 1600.0)),
        vec![square("work", 500.0, 500.0, 300.0, 400.0)],
    );
    second.victim_devices = vec![dev("v2")];
    second.perpetrator_devices = vec![dev("p2")];
    vec![
        order(
            "o1",
            Some((1000.0, 2000.0)),
            vec![circle("home", 0.0, 0.0, 250.0, 750.0)],
        ),
        second,
    ]
}

/// The messages of `steps`, leaving out those of devices not in `devices`.
fn messages(steps: &[Step], devices: &[&str]) -> Vec<(DeviceId, Event, TimestampMs)> {
    let mut messages = Vec::new();
    let mut t = 0;
    for (seq, step) in (1..).zip(steps) {
        let (device, event) = match step {
            Step::Fix {
                device,
                dt_s,
                x,
                y,
                acc,
            } => {
                t += dt_s;
                (device, Event::Fixes(vec![fix(seq, t, *x, *y, *acc)]))
            }
            Step::Panic { device, dt_s } => {
                t += dt_s;
                (device, Event::Alarm(alarm(seq, t, AlarmKind::Panic)))
            }
            Step::Tick { dt_s } => {
                t += dt_s;
                continue;
            }
        };
        if devices.contains(&DEVICES[*device]) {
            messages.push((dev(DEVICES[*device]), event, ts(t)));
        }
    }
    messages
}

/// Runs `steps` on `engine`, skipping those of devices not in `devices`.
fn run(engine: &mut Engine, steps: &[Step], devices: &[&str]) -> Vec<Effect> {
    messages(steps, devices)
        .into_iter()
        .flat_map(|(device, event, now)| engine.handle(&device, event, now))
        .collect()
}

fn dispatched_for(effects: &[Effect], order: &str) -> Vec<vangnet_proto::DispatchBody> {
    dispatches(effects)
        .into_iter()
        .filter(|b| b.order_id == Some(OrderId::new(order)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn no_flapping_under_gps_jitter_smaller_than_the_hysteresis(
        depth in -150.0..900.0f64,
        jitter in proptest::collection::vec(-24.0..24.0f64, 40),
    ) {
        let mut engine = engine_with(&[zone_order()]);
        let mut effects = Vec::new();
        for (i, j) in (0u64..).zip(&jitter) {
            let x = 250.0 + depth + j;
            effects.extend(send(&mut engine, "p1", vec![fix(i + 1, i * 30, x, 0.0, 10.0)]));
        }
        let sent = dispatches(&effects);
        prop_assert!(sent.iter().all(|b| b.cleared_at.is_none()), "nothing raised is cleared again");
        let mut opened: Vec<_> = sent.iter().filter(|b| b.revision == 1).map(|b| b.kind).collect();
        let before = opened.len();
        opened.dedup();
        prop_assert_eq!(opened.len(), before, "each kind is raised at most once");
    }

    #[test]
    fn alarm_level_is_monotone_in_distance(
        alarm_m in 0.0..2_000.0f64,
        extra in 1.0..2_000.0f64,
        u in 0.0..300.0f64,
        d1 in -500.0..5_000.0f64,
        d2 in -500.0..5_000.0f64,
        previous in 0..4usize,
    ) {
        let thresholds = Thresholds { alarm_m, prealarm_m: alarm_m + extra };
        let previous = [Level::Clear, Level::Prealarm, Level::PossibleAlarm, Level::CertainAlarm][previous];
        let (near, far) = if d1 <= d2 { (d1, d2) } else { (d2, d1) };
        prop_assert!(thresholds.classify(near, u, previous) >= thresholds.classify(far, u, previous));
    }

    #[test]
    fn alarm_level_is_monotone_in_distance_through_the_engine(d1 in -240.0..1_200.0f64, d2 in -240.0..1_200.0f64) {
        let level = |d: f64| {
            let mut engine = engine_with(&[zone_order()]);
            send(&mut engine, "p1", vec![fix(1, 0, 250.0 + d, 0.0, 10.0)]);
            engine.order_view(&OrderId::new("o1")).unwrap().zones[0].level
        };
        let (near, far) = if d1 <= d2 { (d1, d2) } else { (d2, d1) };
        prop_assert!(level(near) >= level(far));
    }

    #[test]
    fn orders_are_independent_of_each_other(steps in proptest::collection::vec(step(), 1..40)) {
        let mut both = engine_with(&two_orders());
        let together = run(&mut both, &steps, &DEVICES);
        let mut alone = engine_with(&two_orders()[..1]);
        let apart = run(&mut alone, &steps, &["p1", "v1"]);
        let of_o1 = |effects: &[Effect]| {
            let bodies = dispatched_for(effects, "o1");
            with_ids_renamed(&bodies.into_iter().map(|b| Effect::Dispatch(Box::new(b))).collect::<Vec<_>>())
        };
        prop_assert_eq!(of_o1(&together), of_o1(&apart));
    }

    #[test]
    fn the_same_events_replayed_give_the_same_alerts(steps in proptest::collection::vec(step(), 1..40)) {
        let first = run(&mut engine_with(&two_orders()), &steps, &DEVICES);
        let second = run(&mut engine_with(&two_orders()), &steps, &DEVICES);
        prop_assert_eq!(first, second);
    }

    #[test]
    fn out_of_order_fixes_never_change_alert_state(
        steps in proptest::collection::vec(step(), 1..40),
        device in 0..4usize,
        x in -2_500.0..2_500.0f64,
        y in -2_500.0..2_500.0f64,
    ) {
        let mut engine = engine_with(&two_orders());
        run(&mut engine, &steps, &DEVICES);
        let id = dev(DEVICES[device]);
        let Some(newest) = engine.device_state(&id).and_then(|s| s.track.latest()) else {
            return Ok(());
        };
        let states = |e: &Engine| {
            ["o1", "o2"].map(|o| e.order_state(&OrderId::new(o)).cloned())
        };
        let before = states(&engine);
        let older = vangnet_proto::TimestampMs(newest.position.ts.millis() - 1);
        let mut stale = fix(1_000_000, 0, x, y, 5.0);
        stale.ts = older;
        let effects = engine.handle(&id, Event::Fixes(vec![stale]), newest.position.ts);
        let quiet = effects.iter().all(|e| matches!(e, Effect::History { .. } | Effect::Persist(_)));
        prop_assert!(quiet, "only history and the device's dedup state");
        prop_assert_eq!(states(&engine), before);
    }

    #[test]
    fn commands_never_carry_the_other_partys_position_or_distance(
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut engine = engine_with(&two_orders());
        let effects = run(&mut engine, &steps, &DEVICES);
        for effect in &effects {
            let (device, text, levels): (&DeviceId, String, &[WarningLevel]) = match effect {
                Effect::Command { device, command } => {
                    let victim = device.as_str().starts_with('v');
                    let allowed: &[WarningLevel] = if victim {
                        &[WarningLevel::Alarm, WarningLevel::Clear]
                    } else {
                        &[WarningLevel::Prealarm, WarningLevel::Clear]
                    };
                    prop_assert!(allowed.contains(&command.level));
                    (device, serde_json::to_string(command).unwrap(), allowed)
                }
                Effect::Ack { device, ack } => (device, serde_json::to_string(ack).unwrap(), &[]),
                _ => continue,
            };
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            let expected: &[&str] = if levels.is_empty() {
                &["alert_ids", "seq", "ts"]
            } else {
                &["alert_id", "kind", "level", "ts"]
            };
            prop_assert_eq!(keys, expected, "{} got {}", device, text);
        }
    }
}
