//! Saving and loading state: a service that stores each order's and each
//! device's state after a step, and loads them into a fresh engine for the
//! next, gets exactly the effects of one engine kept in memory.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vangnet_engine::{DeviceState, Effect, Engine, EngineConfig, Event, OrderState};
use vangnet_proto::{AlarmKind, OrderId};

/// The events of a scenario: the perpetrator walks into the zone, the
/// victim's device reports and panics, then the perpetrator leaves.
fn events() -> Vec<(&'static str, Event, u64)> {
    let mut events = Vec::new();
    for i in 0..12 {
        let x = 1_200.0 - 100.0 * i as f64;
        events.push((
            "p1",
            Event::Fixes(vec![fix(i, i * 30, x, 0.0, 10.0)]),
            i * 30,
        ));
        if i % 3 == 0 {
            events.push((
                "v1",
                Event::Fixes(vec![fix(100 + i, i * 30, 0.0, 3_000.0, 10.0)]),
                i * 30,
            ));
        }
    }
    events.push(("v1", Event::Alarm(alarm(200, 400, AlarmKind::Panic)), 400));
    events.push((
        "p1",
        Event::Fixes(vec![fix(50, 2_000, 3_000.0, 0.0, 10.0)]),
        2_000,
    ));
    events
}

fn body() -> vangnet_proto::order::OrderBody {
    order(
        "o1",
        Some((1_000.0, 2_000.0)),
        vec![circle("home", 0.0, 0.0, 250.0, 750.0)],
    )
}

#[test]
fn a_step_on_reloaded_state_gives_the_same_effects_as_one_engine_in_memory() {
    let mut kept = engine_with(&[body()]);
    let expected: Vec<Effect> = events()
        .into_iter()
        .flat_map(|(device, event, t)| kept.handle(&dev(device), event, ts(t)))
        .collect();
    assert!(
        dispatches(&expected).len() >= 5,
        "the scenario raises and clears alerts"
    );

    let id = OrderId::new("o1");
    let save = |engine: &Engine| {
        let order = serde_json::to_string(engine.order_state(&id).unwrap()).unwrap();
        let devices = ["v1", "p1"].map(|d| {
            let state = engine.device_state(&dev(d)).cloned().unwrap_or_default();
            serde_json::to_string(&state).unwrap()
        });
        (order, devices)
    };
    let mut stored = save(&engine_with(&[body()]));
    let mut effects = Vec::new();
    for (device, event, t) in events() {
        let mut fresh = Engine::new(EngineConfig::default());
        fresh.put_order(&body(), ts(0)).unwrap();
        let order: OrderState = serde_json::from_str(&stored.0).unwrap();
        fresh.restore_order_state(&id, order).unwrap();
        for (d, text) in ["v1", "p1"].iter().zip(&stored.1) {
            let state: DeviceState = serde_json::from_str(text).unwrap();
            fresh.restore_device_state(dev(d), state);
        }
        effects.extend(fresh.handle(&dev(device), event, ts(t)));
        stored = save(&fresh);
    }
    assert_eq!(with_ids_renamed(&effects), with_ids_renamed(&expected));
}

#[test]
fn a_restored_state_that_does_not_fit_the_order_never_switches_a_zone_off() {
    let mut engine = engine_with(&[body()]);
    let mut state = engine.order_state(&OrderId::new("o1")).cloned().unwrap();
    state.zone_levels.clear();
    state.pairs.clear();
    engine
        .restore_order_state(&OrderId::new("o1"), state)
        .unwrap();
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]));
    assert!(
        sent.iter()
            .any(|b| b.kind == vangnet_proto::AlertKind::ZoneAlarm)
    );
}

#[test]
fn an_order_state_stored_with_its_alerts_earlier_revisions_still_loads() {
    let mut engine = engine_with(&[body()]);
    engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    );
    let id = OrderId::new("o1");
    let mut stored = serde_json::to_value(engine.order_state(&id).unwrap()).unwrap();
    fn add_history(value: &mut serde_json::Value) -> usize {
        match value {
            serde_json::Value::Object(map) => {
                let mut added = 0;
                if let Some(latest) = map.get("latest").cloned() {
                    map.insert("history".into(), serde_json::json!([latest]));
                    added += 1;
                }
                added + map.values_mut().map(add_history).sum::<usize>()
            }
            serde_json::Value::Array(items) => items.iter_mut().map(add_history).sum(),
            _ => 0,
        }
    }
    assert!(add_history(&mut stored) > 0, "the state holds an alert");
    let loaded: OrderState = serde_json::from_value(stored).unwrap();
    assert_eq!(&loaded, engine.order_state(&id).unwrap());
}
