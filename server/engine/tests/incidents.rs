//! One test per incident rule of docs/detection.md#incidents: an order has at
//! most one open incident, which every alert raised for the order joins; it
//! closes when all its alerts are resolved.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use vangnet_engine::{Act, Engine, Event};
use vangnet_proto::{
    AlarmKind, AlertKind, DispatchBody, IncidentId, MetersPerSecond, Priority, TimestampMs,
};

fn act() -> Act {
    Act {
        actor: "dispatcher-7".into(),
        note: "handled".into(),
    }
}

fn incidents(bodies: &[DispatchBody]) -> BTreeSet<IncidentId> {
    bodies.iter().map(|b| b.incident_id.clone()).collect()
}

/// Victim at home (the origin, inside zone `home`); the perpetrator drives
/// in from 4 km at 13.3 m/s and stops at the door.
fn approach(engine: &mut Engine) -> Vec<DispatchBody> {
    let mut sent = dispatches(&send(engine, "v1", vec![fix(1, 0, 0.0, 0.0, 10.0)]));
    for i in 0..=10 {
        let mut f = fix(i, i * 30, 4_000.0 - 400.0 * i as f64, 0.0, 10.0);
        f.spd = MetersPerSecond::new(13.3);
        sent.extend(dispatches(&send(engine, "p1", vec![f])));
    }
    sent
}

fn approach_order(id: &str) -> vangnet_proto::order::OrderBody {
    order(
        id,
        Some((1000.0, 2000.0)),
        vec![circle("home", 0.0, 0.0, 250.0, 750.0)],
    )
}

fn resolve_all(engine: &mut Engine, now: TimestampMs) -> Vec<DispatchBody> {
    let open: Vec<_> = engine.open_alerts().map(|a| a.id().clone()).collect();
    open.iter()
        .flat_map(|id| dispatches(&engine.resolve(id, act(), now).unwrap()))
        .collect()
}

#[test]
fn an_approach_escalating_to_alarm_in_zone_and_proximity_is_one_incident_of_five_alerts_at_p1() {
    let mut engine = engine_with(&[approach_order("o1")]);
    let sent = approach(&mut engine);
    let kinds: BTreeSet<String> = sent.iter().map(|b| format!("{:?}", b.kind)).collect();
    let expected = [
        AlertKind::ProximityApproach,
        AlertKind::ProximityPrealarm,
        AlertKind::ProximityAlarm,
        AlertKind::ZonePrealarm,
        AlertKind::ZoneAlarm,
    ];
    assert_eq!(
        kinds,
        expected.iter().map(|k| format!("{k:?}")).collect(),
        "five alerts"
    );
    assert_eq!(incidents(&sent).len(), 1, "one incident");
    let highest = sent.iter().map(|b| b.priority).max();
    assert_eq!(highest, Some(Priority::P1));
}

#[test]
fn the_incident_is_named_after_the_alert_that_opened_it() {
    let mut engine = engine_with(&[approach_order("o1")]);
    let sent = approach(&mut engine);
    assert_eq!(sent[0].incident_id.as_str(), sent[0].alert_id.as_str());
}

#[test]
fn a_cleared_but_unresolved_alert_keeps_its_incident_open() {
    let mut engine = engine_with(&[zone_order()]);
    let first = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]));
    send(&mut engine, "p1", vec![fix(2, 600, 5_000.0, 0.0, 10.0)]);
    let again = dispatches(&send(&mut engine, "p1", vec![fix(3, 1200, 0.0, 0.0, 10.0)]));
    assert_eq!(incidents(&first), incidents(&again));
}

#[test]
fn an_alert_after_the_incident_closed_opens_a_new_incident() {
    let mut engine = engine_with(&[zone_order()]);
    let first = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]));
    send(&mut engine, "p1", vec![fix(2, 600, 5_000.0, 0.0, 10.0)]);
    let closing = resolve_all(&mut engine, ts(700));
    assert_eq!(incidents(&closing), incidents(&first));
    let second = dispatches(&send(&mut engine, "p1", vec![fix(3, 1200, 0.0, 0.0, 10.0)]));
    assert!(!second.is_empty());
    assert_eq!(incidents(&second).len(), 1);
    assert!(incidents(&first).is_disjoint(&incidents(&second)));
}

#[test]
fn two_orders_never_share_an_incident() {
    let mut engine = engine_with(&[approach_order("o1"), approach_order("o2")]);
    let sent = approach(&mut engine);
    let of = |order: &str| {
        let bodies: Vec<_> = sent
            .iter()
            .filter(|b| b.order_id.as_ref().is_some_and(|o| o.as_str() == order))
            .cloned()
            .collect();
        incidents(&bodies)
    };
    let (o1, o2) = (of("o1"), of("o2"));
    assert_eq!((o1.len(), o2.len()), (1, 1));
    assert!(o1.is_disjoint(&o2));
}

#[test]
fn a_panic_joins_the_orders_open_incident() {
    let mut engine = engine_with(&[zone_order()]);
    let zone = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]));
    let panic = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 10, AlarmKind::Panic)),
        ts(10),
    ));
    assert_eq!(panic[0].kind, AlertKind::Panic);
    assert_eq!(incidents(&panic), incidents(&zone));
}

#[test]
fn a_panic_from_a_device_in_no_order_is_an_incident_of_its_own() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]);
    let mut panics = Vec::new();
    for (seq, device) in [(1, "x1"), (2, "x2")] {
        panics.extend(dispatches(&engine.handle(
            &dev(device),
            Event::Alarm(alarm(seq, 10, AlarmKind::Panic)),
            ts(10),
        )));
    }
    assert_eq!(panics.len(), 2);
    for panic in &panics {
        assert_eq!(panic.kind, AlertKind::PanicUnassigned);
        assert_eq!(panic.incident_id.as_str(), panic.alert_id.as_str());
    }
    assert_eq!(incidents(&panics).len(), 2);
}

#[test]
fn replaying_the_same_events_gives_the_same_incident_ids() {
    let run = || {
        let mut engine = engine_with(&[approach_order("o1")]);
        let mut sent = approach(&mut engine);
        sent.extend(resolve_all(&mut engine, ts(400)));
        let mut f = fix(20, 600, 0.0, 0.0, 10.0);
        f.spd = MetersPerSecond::new(0.0);
        sent.extend(dispatches(&send(&mut engine, "p1", vec![f])));
        sent.iter()
            .map(|b| (b.alert_id.clone(), b.incident_id.clone()))
            .collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(incidents_of(&first).len(), 2, "{first:?}");
    assert_eq!(first, run());
}

fn incidents_of(pairs: &[(vangnet_proto::AlertId, IncidentId)]) -> BTreeSet<IncidentId> {
    pairs.iter().map(|(_, i)| i.clone()).collect()
}

#[test]
fn once_its_p1_alarm_is_resolved_a_lingering_prealarm_no_longer_holds_the_incident() {
    let mut engine = engine_with(&[approach_order("o1")]);
    let first = approach(&mut engine);
    let drive = |engine: &mut Engine, from_seq: u64, xs: &[f64]| {
        let mut sent = Vec::new();
        for (seq, x) in (from_seq..).zip(xs) {
            let mut f = fix(seq, seq * 30, *x, 0.0, 10.0);
            f.spd = MetersPerSecond::new(13.3);
            send(engine, "v1", vec![fix(seq, seq * 30, 0.0, 0.0, 10.0)]);
            sent.extend(dispatches(&send(engine, "p1", vec![f])));
        }
        sent
    };
    drive(&mut engine, 11, &[400.0, 800.0, 1_200.0, 1_500.0]);
    let p1: Vec<_> = engine
        .open_alerts()
        .filter(|a| a.current().priority == Priority::P1)
        .map(|a| a.id().clone())
        .collect();
    assert!(!p1.is_empty());
    for id in &p1 {
        engine.resolve(id, act(), ts(15 * 30)).unwrap();
    }
    assert!(
        engine
            .open_alerts()
            .any(|a| a.current().kind == AlertKind::ProximityPrealarm),
        "the prealarm lingers"
    );

    let again = drive(&mut engine, 16, &[1_100.0, 700.0, 300.0, 0.0]);

    let alarms: Vec<_> = again
        .into_iter()
        .filter(|b| b.priority == Priority::P1)
        .collect();
    assert!(!alarms.is_empty());
    assert!(incidents(&alarms).is_disjoint(&incidents(&first)));
}
