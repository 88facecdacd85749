//! What a perpetrator's own device must not be able to do (docs/detection.md):
//! blind detection with a clock dated ahead, or learn where the
//! victim is from the warnings and alert ids it receives. Fixes are
//! received at the second given, whatever their `ts` says.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vangnet_engine::{Act, Effect, Engine, EngineConfig, Event};
use vangnet_proto::order::{OrderBody, WarnPerpetrator};
use vangnet_proto::{
    AlertId, AlertKind, Fix, MetersPerSecond, OrderId, Priority, StatusKind, WarningLevel,
};

/// How far ahead a forged fix is dated: inside the accepted 5-minute skew.
const AHEAD_S: u64 = 240;

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

// ---- A fix dated ahead counts at its receive time ----
// (docs/detection.md#time-and-order-of-events)

#[test]
fn a_fix_dated_ahead_cannot_hide_the_zone_entry_after_it() {
    let mut engine = engine_with(&[zone_order()]);
    received(
        &mut engine,
        "p1",
        moving(fix(1, 0, 1_200.0, 0.0, 10.0), 10.0),
        0,
    );
    let forged = moving(fix(2, AHEAD_S, 1_200.0, 0.0, 10.0), 10.0);
    received(&mut engine, "p1", forged, 1);
    let mut effects = Vec::new();
    for (i, x) in [900.0, 600.0, 300.0, 0.0].into_iter().enumerate() {
        let t = 30 * (i as u64 + 1);
        let real = moving(fix(3 + i as u64, t, x, 0.0, 10.0), 10.0);
        effects.extend(received(&mut engine, "p1", real, t));
    }
    assert!(
        raised(&effects, AlertKind::ZoneAlarm).contains(&Priority::P1),
        "the real entry at 120 s is a certain zone alarm"
    );
}

#[test]
fn a_fix_dated_ahead_cannot_hide_the_approach_to_the_victim_after_it() {
    let mut engine = engine_with(&[proximity_order()]);
    received(&mut engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    received(
        &mut engine,
        "p1",
        moving(fix(1, 0, 2_600.0, 0.0, 10.0), 10.0),
        0,
    );
    let forged = moving(fix(2, AHEAD_S, 2_600.0, 0.0, 10.0), 10.0);
    received(&mut engine, "p1", forged, 1);
    let mut effects = Vec::new();
    for (i, x) in [2_300.0, 2_000.0, 1_700.0, 1_400.0, 1_100.0, 800.0]
        .into_iter()
        .enumerate()
    {
        let t = 30 * (i as u64 + 1);
        effects.extend(received(
            &mut engine,
            "v1",
            fix(10 + i as u64, t - 5, 0.0, 0.0, 10.0),
            t - 5,
        ));
        let real = moving(fix(3 + i as u64, t, x, 0.0, 10.0), 10.0);
        effects.extend(received(&mut engine, "p1", real, t));
    }
    assert!(!raised(&effects, AlertKind::ProximityAlarm).is_empty());
    assert!(!raised(&effects, AlertKind::ProximityApproach).is_empty());
}

#[test]
fn a_fix_older_than_the_receive_time_of_the_newest_still_changes_no_state() {
    let mut engine = engine_with(&[zone_order()]);
    received(&mut engine, "p1", fix(1, AHEAD_S, 2_000.0, 0.0, 10.0), 10);
    let effects = received(&mut engine, "p1", fix(2, 5, 0.0, 0.0, 10.0), 11);
    assert!(dispatches(&effects).is_empty());
    assert!(matches!(effects[0], Effect::History { .. }));
    let view = engine.order_view(&OrderId::new("o1")).unwrap();
    assert_eq!(view.devices[1].position.as_ref().unwrap().ts, ts(AHEAD_S));
}

#[test]
fn a_perpetrator_clock_ahead_cannot_make_the_victims_position_look_stale() {
    let mut engine = engine_with(&[proximity_order()]);
    received(&mut engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    let effects = received(
        &mut engine,
        "p1",
        fix(1, 700 + AHEAD_S, 500.0, 0.0, 10.0),
        700,
    );
    assert!(
        !raised(&effects, AlertKind::ProximityAlarm).is_empty(),
        "the victim's fix is 700 s old, within stale_after_s"
    );
    let view = engine.order_view(&OrderId::new("o1")).unwrap();
    assert!(!view.victim_position_unknown);
}

#[test]
fn a_perpetrator_clock_ahead_cannot_soften_a_certain_proximity_alarm() {
    let mut engine = engine_with(&[proximity_order()]);
    received(&mut engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    let effects = received(
        &mut engine,
        "p1",
        fix(1, 10 + AHEAD_S, 700.0, 0.0, 10.0),
        10,
    );
    assert_eq!(
        raised(&effects, AlertKind::ProximityAlarm),
        vec![Priority::P1]
    );
    assert_eq!(warnings_to(&effects, "v1"), vec![WarningLevel::Alarm]);
}

#[test]
fn a_fix_dated_ahead_cannot_freeze_the_positions_of_an_open_alert() {
    let mut engine = engine_with(&[zone_order()]);
    received(&mut engine, "p1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    received(&mut engine, "p1", fix(2, AHEAD_S, 10.0, 0.0, 10.0), 5);
    let effects = received(&mut engine, "p1", fix(3, 40, 20.0, 0.0, 10.0), 40);
    let revised: Vec<_> = dispatches(&effects)
        .into_iter()
        .filter(|b| b.kind == AlertKind::ZoneAlarm)
        .map(|b| b.perpetrator.unwrap().ts)
        .collect();
    assert_eq!(
        revised,
        vec![ts(40)],
        "the real position 40 s after the last revision"
    );
}

#[test]
fn a_status_dated_ahead_cannot_hide_a_low_battery_after_it() {
    let mut engine = engine_with(&[zone_order()]);
    let forged = status(1, AHEAD_S, StatusKind::Battery, Some(90.0));
    engine.handle(&dev("p1"), Event::Status(forged), ts(1));
    let real = status(2, 30, StatusKind::Battery, Some(10.0));
    let effects = engine.handle(&dev("p1"), Event::Status(real), ts(30));
    assert_eq!(raised(&effects, AlertKind::BatteryLow), vec![Priority::P3]);
}

// ---- Proximity warnings only when the order asks (docs/detection.md#warnings-to-devices) ----

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

// ---- Alert ids reveal nothing (docs/protocol.md#warnings) ----

/// Two orders whose alarms all open at second 0: zone alarms and pre-alarms
/// in two zones, proximity alarms, in orders `o1` and `o2` of the same devices.
fn many_alerts_at_once(engine: &mut Engine) -> Vec<AlertId> {
    for id in ["o1", "o2"] {
        let zones = vec![
            circle("home", 0.0, 0.0, 250.0, 750.0),
            circle("work", 100.0, 0.0, 250.0, 750.0),
        ];
        engine
            .put_order(&order(id, Some((1_000.0, 2_000.0)), zones), ts(0))
            .unwrap();
    }
    received(engine, "v1", fix(1, 0, 0.0, 0.0, 10.0), 0);
    let effects = received(engine, "p1", fix(1, 0, 50.0, 0.0, 10.0), 0);
    dispatches(&effects)
        .into_iter()
        .map(|b| b.alert_id)
        .collect()
}

#[test]
fn alerts_opened_at_the_same_instant_have_unrelated_ids() {
    let ids = many_alerts_at_once(&mut seeded_engine());
    assert!(ids.len() >= 10, "{ids:?}");
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let same = a
                .as_str()
                .bytes()
                .zip(b.as_str().bytes())
                .filter(|(x, y)| x == y)
                .count();
            assert!(same <= 6, "{a} and {b} agree in {same} of 26 characters");
        }
    }
}

#[test]
fn an_alert_id_carries_no_order_zone_or_kind_text() {
    let ids = many_alerts_at_once(&mut seeded_engine());
    for id in &ids {
        let text = id.as_str().to_ascii_lowercase();
        for word in ["o1", "o2", "home", "work", "zone", "proximity", "alarm"] {
            assert!(!text.contains(word), "{id} contains {word}");
        }
    }
}

#[test]
fn alert_ids_are_drawn_afresh_not_derived_from_the_events() {
    let first = many_alerts_at_once(&mut Engine::new(EngineConfig::default()));
    let second = many_alerts_at_once(&mut Engine::new(EngineConfig::default()));
    assert_eq!(first.len(), second.len());
    assert!(first.iter().all(|id| !second.contains(id)));
}
