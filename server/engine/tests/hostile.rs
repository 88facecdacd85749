//! What a perpetrator's own device must not be able to do (SPEC section 5):
//! learn where the victim is from the warnings it receives. Fixes are
//! received at the second given, whatever their `ts` says.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vangnet_engine::{Act, Effect, Engine, Event};
use vangnet_proto::order::{OrderBody, WarnPerpetrator};
use vangnet_proto::{AlertKind, Fix, MetersPerSecond, Priority, WarningLevel};

/// Sends `fix` of `device`, received at second `at_s`.
fn received(engine: &mut Engine, device: &str, fix: Fix, at_s: u64) -> Vec<Effect> {
    engine.handle(&dev(device), Event::Fixes(vec![fix]), ts(at_s))
}

fn moving(mut f: Fix, mps: f64) -> Fix {
    f.spd = MetersPerSecond::new(mps);
    f
}

fn raised(effects: &[Effect], kind: AlertKind) -> Vec<Priority> {
    dispatches(effects)
        .iter()
        .filter(|b| b.kind == kind && b.cleared_at.is_none())
        .map(|b| b.priority)
        .collect()
}

fn warnings_to(effects: &[Effect], device: &str) -> Vec<WarningLevel> {
    commands(effects)
        .into_iter()
        .filter(|(d, _)| *d == dev(device))
        .map(|(_, c)| c.level)
        .collect()
}

fn warning_all(mut body: OrderBody) -> OrderBody {
    body.warn_perpetrator = WarnPerpetrator::All;
    body
}

// ---- SPEC section 5: proximity warnings only when the order asks ----

/// The perpetrator 1500 m from the victim: a proximity pre-alarm.
fn prealarm(engine: &mut Engine) -> Vec<Effect> {
    received(engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    received(engine, "p1", fix(1, 0, 1_500.0, 0.0, 10.0), 0)
}

/// The perpetrator closing in at 13.3 m/s from 4 km: an approach, outside the pre-alarm.
fn approach(engine: &mut Engine) -> Vec<Effect> {
    received(engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    (0..5u64)
        .flat_map(|i| {
            let x = 4_000.0 - 400.0 * i as f64;
            received(
                engine,
                "p1",
                moving(fix(i, i * 30, x, 0.0, 10.0), 13.3),
                i * 30,
            )
        })
        .collect()
}

#[test]
fn a_proximity_prealarm_does_not_warn_the_perpetrator_by_default() {
    let mut engine = engine_with(&[proximity_order()]);
    let effects = prealarm(&mut engine);
    assert_eq!(
        raised(&effects, AlertKind::ProximityPrealarm),
        vec![Priority::P2]
    );
    assert!(commands(&effects).is_empty());
}

#[test]
fn a_proximity_approach_does_not_warn_the_perpetrator_by_default() {
    let mut engine = engine_with(&[proximity_order()]);
    let effects = approach(&mut engine);
    assert!(!raised(&effects, AlertKind::ProximityApproach).is_empty());
    assert!(commands(&effects).is_empty());
}

#[test]
fn a_proximity_prealarm_warns_the_perpetrator_when_the_order_says_all() {
    let mut engine = engine_with(&[warning_all(proximity_order())]);
    let effects = prealarm(&mut engine);
    assert_eq!(warnings_to(&effects, "p1"), vec![WarningLevel::Prealarm]);
    assert!(warnings_to(&effects, "v1").is_empty());
}

#[test]
fn a_proximity_approach_warns_the_perpetrator_when_the_order_says_all() {
    let mut engine = engine_with(&[warning_all(proximity_order())]);
    let effects = approach(&mut engine);
    assert_eq!(warnings_to(&effects, "p1"), vec![WarningLevel::Prealarm]);
    assert!(warnings_to(&effects, "v1").is_empty());
}

#[test]
fn a_cleared_proximity_prealarm_sends_no_clear_to_a_perpetrator_never_warned() {
    let mut engine = engine_with(&[proximity_order()]);
    prealarm(&mut engine);
    let away = moving(fix(2, 60, 2_500.0, 0.0, 10.0), 15.0);
    let effects = received(&mut engine, "p1", away, 60);
    assert!(dispatches(&effects).iter().any(|b| b.cleared_at.is_some()));
    assert!(commands(&effects).is_empty());
}

#[test]
fn a_cleared_proximity_prealarm_sends_clear_to_the_perpetrator_warned_of_it() {
    let mut engine = engine_with(&[warning_all(proximity_order())]);
    prealarm(&mut engine);
    let away = moving(fix(2, 60, 2_500.0, 0.0, 10.0), 15.0);
    let effects = received(&mut engine, "p1", away, 60);
    assert_eq!(warnings_to(&effects, "p1"), vec![WarningLevel::Clear]);
}

#[test]
fn a_resolved_proximity_prealarm_sends_no_clear_to_a_perpetrator_never_warned() {
    let mut engine = engine_with(&[proximity_order()]);
    let opened = dispatches(&prealarm(&mut engine));
    let act = Act {
        actor: "dispatcher-7".into(),
        note: "handled".into(),
    };
    let effects = engine.resolve(&opened[0].alert_id, act, ts(60)).unwrap();
    assert!(commands(&effects).is_empty());
}

#[test]
fn a_zone_prealarm_warns_the_perpetrator_whatever_the_order_says() {
    for body in [zone_order(), warning_all(zone_order())] {
        let mut engine = engine_with(&[body]);
        let effects = received(&mut engine, "p1", fix(1, 0, 600.0, 0.0, 10.0), 0);
        assert_eq!(warnings_to(&effects, "p1"), vec![WarningLevel::Prealarm]);
    }
}

#[test]
fn the_victim_is_warned_of_a_certain_proximity_alarm_whatever_the_order_says() {
    for body in [proximity_order(), warning_all(proximity_order())] {
        let mut engine = engine_with(&[body]);
        received(&mut engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
        let effects = received(&mut engine, "p1", fix(1, 0, 500.0, 0.0, 10.0), 0);
        assert_eq!(warnings_to(&effects, "v1"), vec![WarningLevel::Alarm]);
    }
}
