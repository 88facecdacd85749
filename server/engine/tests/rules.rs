//! One test per rule of docs/detection.md (detection, then alerts), named
//! after the rule. Scenarios use the builders of `common`: an order around a
//! point in Rotterdam, positions in metres east (`x`) and north of it.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vangnet_engine::{Act, AlertError, Effect, Event, Level};
use vangnet_proto::{
    AlarmKind, AlertKind, AlertStatus, Confidence, DispatchBody, MetersPerSecond, OrderId,
    Priority, StatusKind, WarningLevel,
};

fn only(bodies: &[DispatchBody], kind: AlertKind) -> Vec<DispatchBody> {
    bodies.iter().filter(|b| b.kind == kind).cloned().collect()
}

fn moving(mut f: vangnet_proto::Fix, mps: f64) -> vangnet_proto::Fix {
    f.spd = MetersPerSecond::new(mps);
    f
}

fn act(note: &str) -> Act {
    Act {
        actor: "dispatcher-7".into(),
        note: note.into(),
    }
}

// ---- Detection (docs/detection.md) ----

#[test]
fn hi_within_alarm_distance_is_certain_p1() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]));
    let alarm = &only(&sent, AlertKind::ZoneAlarm)[0];
    assert_eq!(
        (alarm.priority, alarm.confidence),
        (Priority::P1, Some(Confidence::Certain))
    );
    assert!(
        (alarm.distance_m.unwrap() + 150.0).abs() < 1.0,
        "negative inside by the depth"
    );
}

#[test]
fn lo_within_alarm_distance_but_hi_beyond_is_possible_p2() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 240.0, 0.0, 30.0)]));
    let alarm = &only(&sent, AlertKind::ZoneAlarm)[0];
    assert_eq!(
        (alarm.priority, alarm.confidence),
        (Priority::P2, Some(Confidence::Possible))
    );
}

#[test]
fn lo_within_prealarm_distance_is_a_p2_prealarm() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 600.0, 0.0, 10.0)]));
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].kind, sent[0].priority),
        (AlertKind::ZonePrealarm, Priority::P2)
    );
}

#[test]
fn beyond_prealarm_distance_is_clear() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(1, 0, 1_200.0, 0.0, 10.0)],
    ));
    assert!(sent.is_empty());
}

#[test]
fn zone_uncertainty_is_the_perpetrator_accuracy_alone() {
    let mut sure = engine_with(&[zone_order()]);
    let mut vague = engine_with(&[zone_order()]);
    let near_edge = |acc| vec![fix(1, 0, 270.0, 0.0, acc)];
    assert!(
        only(
            &dispatches(&send(&mut sure, "p1", near_edge(10.0))),
            AlertKind::ZoneAlarm
        )
        .is_empty()
    );
    assert_eq!(
        only(
            &dispatches(&send(&mut vague, "p1", near_edge(30.0))),
            AlertKind::ZoneAlarm
        )
        .len(),
        1
    );
}

#[test]
fn proximity_uncertainty_adds_victim_accuracy_and_drift_over_the_fixes_age() {
    let fresh = |victim_t: u64| {
        let mut engine = engine_with(&[proximity_order()]);
        send(&mut engine, "v1", vec![fix(1, victim_t, 0.0, 0.0, 10.0)]);
        dispatches(&send(
            &mut engine,
            "p1",
            vec![fix(1, 60, 1_100.0, 0.0, 10.0)],
        ))
    };
    // Same time: u = 20 m, lo = 1080 m > 1000 m: pre-alarm only.
    assert!(only(&fresh(60), AlertKind::ProximityAlarm).is_empty());
    // Victim fix 60 s older: u = 20 + 1.5 × 60 = 110 m, lo = 990 m: possible alarm.
    let alarm = &only(&fresh(0), AlertKind::ProximityAlarm)[0];
    assert_eq!(alarm.confidence, Some(Confidence::Possible));
}

#[test]
fn proximity_is_evaluated_when_either_partys_fix_arrives() {
    let mut engine = engine_with(&[proximity_order()]);
    assert!(dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 300.0, 0.0, 10.0)])).is_empty());
    let sent = dispatches(&send(&mut engine, "v1", vec![fix(1, 10, 0.0, 0.0, 10.0)]));
    let alarm = &only(&sent, AlertKind::ProximityAlarm)[0];
    assert_eq!(alarm.priority, Priority::P1);
    assert_eq!(alarm.victim.as_ref().unwrap().device, dev("v1"));
    assert_eq!(alarm.perpetrator.as_ref().unwrap().device, dev("p1"));
}

#[test]
fn victim_position_older_than_stale_after_is_unknown() {
    let mut engine = engine_with(&[proximity_order()]);
    send(&mut engine, "v1", vec![fix(1, 0, 0.0, 0.0, 10.0)]);
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(1, 901, 100.0, 0.0, 10.0)],
    ));
    assert!(sent.is_empty(), "no proximity evaluation");
    let view = engine.order_view(&OrderId::new("o1")).unwrap();
    assert!(view.victim_position_unknown && !view.perpetrator_position_unknown);
    assert_eq!(view.proximity[0].distance_m, None);
}

#[test]
fn perpetrator_position_older_than_stale_after_is_unknown() {
    let mut engine = engine_with(&[proximity_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]);
    let sent = dispatches(&send(&mut engine, "v1", vec![fix(1, 901, 0.0, 0.0, 10.0)]));
    assert!(sent.is_empty());
    let view = engine.order_view(&OrderId::new("o1")).unwrap();
    assert!(view.perpetrator_position_unknown && !view.victim_position_unknown);
}

#[test]
fn raised_state_clears_only_beyond_hysteresis() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 600.0, 0.0, 10.0)]);
    // d = 790 m, lo = 780 m: beyond B = 750 m but within B + H = 825 m.
    let kept = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(2, 300, 1_040.0, 0.0, 10.0)],
    ));
    assert!(kept.iter().all(|b| b.cleared_at.is_none()));
    // d = 870 m, lo = 860 m > 825 m: cleared.
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(3, 600, 1_120.0, 0.0, 10.0)],
    ));
    assert!(sent[0].cleared_at.is_some());
}

#[test]
fn zone_alarm_distance_is_the_zone_itself_and_prealarm_its_prealarm_m() {
    let mut engine = engine_with(&[order(
        "o1",
        None,
        vec![square("work", 0.0, 0.0, 200.0, 500.0)],
    )]);
    let outside = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 650.0, 0.0, 10.0)]));
    assert_eq!(
        outside.iter().map(|b| b.kind).collect::<Vec<_>>(),
        vec![AlertKind::ZonePrealarm]
    );
    let inside = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(2, 300, 150.0, 0.0, 10.0)],
    ));
    assert_eq!(
        only(&inside, AlertKind::ZoneAlarm)[0].priority,
        Priority::P1
    );
}

#[test]
fn outlier_is_held_at_possible_until_the_next_fix_confirms_it() {
    let mut engine = engine_with(&[zone_order()]);
    let track = (0..3).map(|i| fix(i, i * 30, 1_500.0, 0.0, 10.0)).collect();
    send(&mut engine, "p1", track);
    let jump = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(3, 120, 100.0, 0.0, 10.0)],
    ));
    let held = &only(&jump, AlertKind::ZoneAlarm)[0];
    assert_eq!(
        (held.priority, held.confidence),
        (Priority::P2, Some(Confidence::Possible))
    );
    let confirm = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(4, 150, 110.0, 0.0, 10.0)],
    ));
    let raised = &only(&confirm, AlertKind::ZoneAlarm)[0];
    assert_eq!(
        (raised.priority, raised.confidence),
        (Priority::P1, Some(Confidence::Certain))
    );
    assert_eq!(raised.alert_id, held.alert_id);
}

#[test]
fn outlier_undone_by_the_next_fix_stays_a_p2() {
    let mut engine = engine_with(&[zone_order()]);
    let track = (0..3).map(|i| fix(i, i * 30, 1_500.0, 0.0, 10.0)).collect();
    send(&mut engine, "p1", track);
    send(&mut engine, "p1", vec![fix(3, 90, 100.0, 0.0, 10.0)]);
    send(&mut engine, "p1", vec![fix(4, 120, 1_505.0, 0.0, 10.0)]);
    // The segment from the outlier to the fix that undid it is checked too.
    send(&mut engine, "p1", vec![fix(5, 150, 1_500.0, 0.0, 10.0)]);
    let alarm = engine
        .open_alerts()
        .find(|a| a.slot.kind == AlertKind::ZoneAlarm)
        .unwrap();
    assert_eq!(alarm.current().priority, Priority::P2, "never raised to P1");
    assert!(alarm.current().cleared_at.is_some());
}

#[test]
fn single_multipath_outlier_after_a_minute_of_silence_never_raises_a_p1() {
    let mut engine = engine_with(&[zone_order()]);
    let parked = (0..3).map(|i| fix(i, i * 60, 600.0, 0.0, 10.0)).collect();
    send(&mut engine, "p1", parked);
    let mut sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(3, 180, 100.0, 0.0, 10.0)],
    ));
    let held = only(&sent, AlertKind::ZoneAlarm);
    assert_eq!(held.len(), 1, "the outlier is still raised");
    sent.extend(dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(4, 240, 605.0, 0.0, 10.0)],
    )));
    assert!(
        only(&sent, AlertKind::ZoneAlarm)
            .iter()
            .all(|b| b.priority == Priority::P2)
    );
}

#[test]
fn burst_of_fixes_no_possible_movement_reaches_is_never_confirmed() {
    let mut engine = engine_with(&[zone_order()]);
    let standing = (0..5).map(|i| fix(i, i * 2, 500.0, 0.0, 8.0));
    let burst = (5..9).map(|i| fix(i, i * 2, 200.0, 0.0, 8.0));
    let back = (9..12).map(|i| fix(i, i * 2, 502.0, 0.0, 8.0));
    let mut sent = Vec::new();
    for f in standing.chain(burst).chain(back) {
        sent.extend(dispatches(&send(&mut engine, "p1", vec![f])));
    }
    let alarms = only(&sent, AlertKind::ZoneAlarm);
    assert!(!alarms.is_empty(), "the burst is still raised");
    assert!(alarms.iter().all(|b| b.priority == Priority::P2));
}

#[test]
fn first_fix_is_taken_as_it_is() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]));
    assert_eq!(only(&sent, AlertKind::ZoneAlarm)[0].priority, Priority::P1);
}

#[test]
fn zone_crossed_between_two_fixes_is_a_possible_alarm() {
    let mut engine = engine_with(&[order(
        "o1",
        None,
        vec![square("shop", 0.0, 0.0, 50.0, 100.0)],
    )]);
    send(
        &mut engine,
        "p1",
        vec![moving(fix(1, 0, -600.0, 0.0, 10.0), 20.0)],
    );
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![moving(fix(2, 60, 600.0, 0.0, 10.0), 20.0)],
    ));
    let alarm = &only(&sent, AlertKind::ZoneAlarm)[0];
    assert_eq!(
        (alarm.priority, alarm.confidence),
        (Priority::P2, Some(Confidence::Possible))
    );
}

#[test]
fn car_pulling_away_across_a_narrow_zone_between_fixes_a_minute_apart_raises_the_zone_alarm() {
    let mut engine = engine_with(&[order(
        "o1",
        None,
        vec![square("lane", 0.0, 0.0, 25.0, 100.0)],
    )]);
    let parked = (0..3).map(|i| fix(i, i * 60, -600.0, 0.0, 10.0)).collect();
    send(&mut engine, "p1", parked);
    // 3 m/s² up to 70 km/h, then 70 km/h: 1,103 m in the minute.
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(3, 180, 503.0, 0.0, 10.0)],
    ));
    let alarm = &only(&sent, AlertKind::ZoneAlarm)[0];
    assert_eq!(
        (alarm.priority, alarm.confidence),
        (Priority::P2, Some(Confidence::Possible))
    );
}

#[test]
fn fixes_more_than_ten_minutes_apart_are_not_checked_for_crossing() {
    let mut engine = engine_with(&[order(
        "o1",
        None,
        vec![square("shop", 0.0, 0.0, 50.0, 100.0)],
    )]);
    send(&mut engine, "p1", vec![fix(1, 0, -600.0, 0.0, 10.0)]);
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(2, 601, 600.0, 0.0, 10.0)],
    ));
    assert!(sent.is_empty());
}

#[test]
fn closing_speed_reaching_alarm_distance_within_horizon_raises_approach_outside_prealarm() {
    let mut engine = engine_with(&[proximity_order()]);
    send(&mut engine, "v1", vec![fix(1, 0, 0.0, 0.0, 10.0)]);
    let mut raised = Vec::new();
    for i in 0..5 {
        let x = 4_000.0 - 400.0 * i as f64;
        let effects = send(
            &mut engine,
            "p1",
            vec![moving(fix(i, i * 30, x, 0.0, 10.0), 13.3)],
        );
        raised.extend(dispatches(&effects));
    }
    // At 2400 m and 13.3 m/s the alarm distance is 105 s away.
    assert_eq!(
        raised.iter().map(|b| b.kind).collect::<Vec<_>>(),
        vec![AlertKind::ProximityApproach]
    );
    assert_eq!(raised[0].priority, Priority::P2);
}

#[test]
fn every_fix_is_evaluated_whatever_its_ts() {
    let mut engine = engine_with(&[zone_order()]);
    let batch = vec![fix(2, 30, 100.0, 0.0, 10.0), fix(1, 0, 1_500.0, 0.0, 10.0)];
    let effects = engine.handle(&dev("p1"), Event::Fixes(batch), ts(86_400));
    assert_eq!(only(&dispatches(&effects), AlertKind::ZoneAlarm).len(), 1);
}

#[test]
fn fix_older_than_the_newest_is_kept_in_history_but_changes_no_state() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(2, 100, 1_500.0, 0.0, 10.0)]);
    let effects = send(&mut engine, "p1", vec![fix(1, 50, 0.0, 0.0, 10.0)]);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::History { fix, .. } if fix.seq == 1))
    );
    assert!(dispatches(&effects).is_empty());
    assert_eq!(
        engine.order_view(&OrderId::new("o1")).unwrap().zones[0].level,
        Level::Clear
    );
}

#[test]
fn late_alarm_is_flagged_late() {
    let mut engine = engine_with(&[zone_order()]);
    let effects = engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(121),
    );
    assert!(dispatches(&effects)[0].late);
    let mut engine = engine_with(&[zone_order()]);
    let effects = engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(120),
    );
    assert!(!dispatches(&effects)[0].late);
}

#[test]
fn alarm_older_than_the_newest_fix_is_still_processed() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "v1", vec![fix(5, 1_000, 0.0, 0.0, 10.0)]);
    let effects = engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 10, AlarmKind::Panic)),
        ts(1_000),
    );
    assert_eq!(dispatches(&effects)[0].kind, AlertKind::Panic);
}

#[test]
fn silent_perpetrator_raises_signal_lost_p2_on_the_server_clock() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "v1", vec![fix(1, 250, 5_000.0, 0.0, 10.0)]);
    assert!(dispatches(&engine.tick(ts(300))).is_empty());
    let sent = dispatches(&engine.tick(ts(301)));
    assert_eq!(
        (sent[0].kind, sent[0].priority),
        (AlertKind::SignalLost, Priority::P2)
    );
}

#[test]
fn silent_victim_raises_signal_lost_p3_on_the_server_clock() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 800, 5_000.0, 0.0, 10.0)]);
    let sent = dispatches(&engine.tick(ts(901)));
    assert_eq!(
        (sent[0].kind, sent[0].priority),
        (AlertKind::SignalLost, Priority::P3)
    );
}

#[test]
fn battery_at_or_below_15_percent_raises_battery_low_p3() {
    let mut engine = engine_with(&[zone_order()]);
    let mut low = fix(1, 0, 5_000.0, 0.0, 10.0);
    low.batt = vangnet_proto::BatteryPercent::new(15.0);
    let sent = dispatches(&send(&mut engine, "p1", vec![low]));
    assert_eq!(
        (sent[0].kind, sent[0].priority),
        (AlertKind::BatteryLow, Priority::P3)
    );
    let mut engine = engine_with(&[zone_order()]);
    let report = status(1, 0, StatusKind::Battery, Some(9.0));
    let sent = dispatches(&engine.handle(&dev("v1"), Event::Status(report), ts(0)));
    assert_eq!(sent[0].kind, AlertKind::BatteryLow);
}

#[test]
fn another_victims_distance_neither_clears_nor_rewrites_a_proximity_alarm() {
    let mut body = proximity_order();
    body.victim_devices.push(dev("v2"));
    let mut engine = engine_with(&[body]);
    send(&mut engine, "v1", vec![fix(1, 0, 0.0, 0.0, 10.0)]);
    send(&mut engine, "p1", vec![fix(1, 10, 300.0, 0.0, 10.0)]);
    let sent = dispatches(&send(
        &mut engine,
        "v2",
        vec![fix(1, 60, 1_800.0, 0.0, 10.0)],
    ));
    assert!(only(&sent, AlertKind::ProximityAlarm).is_empty());
    let alarm = engine
        .open_alerts()
        .find(|a| a.slot.kind == AlertKind::ProximityAlarm)
        .unwrap();
    assert!(alarm.current().cleared_at.is_none());
    assert_eq!(alarm.current().victim.as_ref().unwrap().device, dev("v1"));
}

// ---- Alerts and priorities (docs/detection.md#alert-kinds-and-priorities) ----

#[test]
fn panic_is_p1_in_every_order_of_the_device() {
    let mut engine = engine_with(&[zone_order(), order("o2", Some((500.0, 1000.0)), Vec::new())]);
    let sent = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|b| b.kind == AlertKind::Panic && b.priority == Priority::P1)
    );
}

#[test]
fn panic_from_a_device_in_no_active_order_is_p2_panic_unassigned() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&engine.handle(
        &dev("stray"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    assert_eq!(
        (sent[0].kind, sent[0].priority),
        (AlertKind::PanicUnassigned, Priority::P2)
    );
    assert_eq!(sent[0].order_id, None);
}

#[test]
fn tamper_strap_open_and_separation_are_p2() {
    for (kind, alert) in [
        (AlarmKind::Tamper, AlertKind::Tamper),
        (AlarmKind::StrapOpen, AlertKind::StrapOpen),
        (AlarmKind::Separation, AlertKind::Separation),
    ] {
        let mut engine = engine_with(&[zone_order()]);
        let sent = dispatches(&engine.handle(&dev("p1"), Event::Alarm(alarm(1, 0, kind)), ts(0)));
        assert_eq!((sent[0].kind, sent[0].priority), (alert, Priority::P2));
    }
}

#[test]
fn fall_is_p2() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Fall)),
        ts(0),
    ));
    assert_eq!(
        (sent[0].kind, sent[0].priority),
        (AlertKind::Fall, Priority::P2)
    );
}

#[test]
fn revision_and_count_start_at_1() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    assert_eq!(
        (sent[0].revision, sent[0].count, sent[0].status),
        (1, 1, AlertStatus::Open)
    );
}

#[test]
fn another_alarm_press_updates_the_open_alert_with_count_plus_one() {
    let mut engine = engine_with(&[zone_order()]);
    let first = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    let second = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(2, 5, AlarmKind::Panic)),
        ts(5),
    ));
    assert_eq!(second[0].alert_id, first[0].alert_id);
    assert_eq!((second[0].revision, second[0].count), (2, 2));
    assert_eq!(engine.open_alerts().count(), 1);
}

#[test]
fn one_open_alert_per_order_and_kind_later_triggers_update_it() {
    let mut engine = engine_with(&[zone_order()]);
    for i in 0..10 {
        send(
            &mut engine,
            "p1",
            vec![fix(i, i * 10, 100.0 + i as f64, 0.0, 10.0)],
        );
    }
    assert_eq!(open_kinds(&engine), vec!["ZoneAlarm", "ZonePrealarm"]);
}

#[test]
fn zone_alerts_are_one_per_zone() {
    let zones = vec![
        circle("a", 0.0, 0.0, 250.0, 750.0),
        circle("b", 100.0, 0.0, 250.0, 750.0),
    ];
    let mut engine = engine_with(&[order("o1", None, zones)]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 50.0, 0.0, 10.0)]));
    let alarms = only(&sent, AlertKind::ZoneAlarm);
    assert_eq!(alarms.len(), 2);
    assert_ne!(alarms[0].zone, alarms[1].zone);
}

#[test]
fn new_positions_make_a_revision_at_most_once_per_30_s_of_device_time() {
    let mut engine = engine_with(&[zone_order()]);
    let mut revisions = 0;
    for i in 0..=12 {
        let sent = send(
            &mut engine,
            "p1",
            vec![fix(i, i * 5, 100.0 + i as f64, 0.0, 10.0)],
        );
        revisions += only(&dispatches(&sent), AlertKind::ZoneAlarm).len();
    }
    // 60 s of fixes every 5 s: the opening revision and one per 30 s after it.
    assert_eq!(revisions, 3);
}

#[test]
fn rise_in_priority_is_dispatched_at_once() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 240.0, 0.0, 30.0)]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(2, 5, 200.0, 0.0, 10.0)]));
    let alarm = &only(&sent, AlertKind::ZoneAlarm)[0];
    assert_eq!((alarm.revision, alarm.priority), (2, Priority::P1));
}

#[test]
fn cleared_condition_sets_cleared_at_and_is_dispatched() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]);
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(2, 1_000, 2_000.0, 0.0, 10.0)],
    ));
    let alarm = &only(&sent, AlertKind::ZoneAlarm)[0];
    assert!(alarm.cleared_at.is_some());
    assert_eq!(
        alarm.status,
        AlertStatus::Open,
        "P1 stays open until a person resolves it"
    );
}

#[test]
fn p3_resolves_itself_when_its_condition_clears() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 800, 5_000.0, 0.0, 10.0)]);
    engine.tick(ts(901));
    let sent = dispatches(&send(
        &mut engine,
        "v1",
        vec![fix(1, 950, 6_000.0, 0.0, 10.0)],
    ));
    assert_eq!(sent[0].kind, AlertKind::SignalLost);
    assert_eq!(sent[0].status, AlertStatus::Resolved);
    assert!(sent[0].cleared_at.is_some());
    assert_eq!(engine.open_alerts().count(), 0);
}

#[test]
fn p1_and_p2_are_resolved_only_by_a_person() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "v1", vec![fix(1, 250, 5_000.0, 0.0, 10.0)]);
    engine.tick(ts(301));
    send(&mut engine, "p1", vec![fix(1, 310, 5_000.0, 0.0, 10.0)]);
    let signal = engine
        .open_alerts()
        .find(|a| a.slot.kind == AlertKind::SignalLost)
        .unwrap();
    assert!(signal.current().cleared_at.is_some());
    let id = signal.id().clone();
    let sent = dispatches(
        &engine
            .resolve(&id, act("tag reconnected"), ts(400))
            .unwrap(),
    );
    assert_eq!(sent[0].status, AlertStatus::Resolved);
}

#[test]
fn acknowledge_then_resolve_are_a_persons_acts_on_the_revisions_they_make() {
    let mut engine = engine_with(&[zone_order()]);
    let opened = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    let id = opened[0].alert_id.clone();
    let acked = dispatches(&engine.acknowledge(&id, act("on my way"), ts(10)).unwrap());
    assert_eq!(
        (acked[0].status, acked[0].revision),
        (AlertStatus::Acknowledged, 2)
    );
    assert_eq!(engine.alert(&id).unwrap().act().unwrap().note, "on my way");
    engine
        .resolve(&id, act("false alarm, victim called"), ts(20))
        .unwrap();
    let alert = engine.alert(&id).unwrap();
    assert_eq!(
        (alert.current().revision, alert.act().unwrap().note.as_str()),
        (3, "false alarm, victim called")
    );
}

#[test]
fn an_alert_revised_for_a_day_holds_only_its_latest_revision() {
    let mut engine = engine_with(&[zone_order()]);
    let opened = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    let id = opened[0].alert_id.clone();
    let fresh = serde_json::to_vec(engine.alert(&id).unwrap())
        .unwrap()
        .len();
    for press in 1..2_000 {
        engine.handle(
            &dev("v1"),
            Event::Alarm(alarm(press + 1, press * 40, AlarmKind::Panic)),
            ts(press * 40),
        );
    }
    let alert = engine.alert(&id).unwrap();
    assert!(alert.current().count >= 2_000);
    assert!(serde_json::to_vec(alert).unwrap().len() < fresh + 64);
}

#[test]
fn resolving_needs_a_note() {
    let mut engine = engine_with(&[zone_order()]);
    let opened = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    let result = engine.resolve(&opened[0].alert_id, act("  "), ts(10));
    assert_eq!(result, Err(AlertError::NoteRequired));
}

#[test]
fn acknowledging_a_resolved_alert_is_an_error() {
    let mut engine = engine_with(&[zone_order()]);
    let opened = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    let id = opened[0].alert_id.clone();
    engine.resolve(&id, act("handled"), ts(10)).unwrap();
    let result = engine.acknowledge(&id, act("late"), ts(20));
    assert_eq!(
        result,
        Err(AlertError::InvalidTransition {
            from: AlertStatus::Resolved,
            to: AlertStatus::Acknowledged
        })
    );
}

#[test]
fn resolved_alert_stays_closed_and_a_new_trigger_opens_another() {
    let mut engine = engine_with(&[zone_order()]);
    let first = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(1, 0, AlarmKind::Panic)),
        ts(0),
    ));
    engine
        .resolve(&first[0].alert_id, act("handled"), ts(10))
        .unwrap();
    let second = dispatches(&engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(2, 20, AlarmKind::Panic)),
        ts(20),
    ));
    assert_ne!(second[0].alert_id, first[0].alert_id);
    assert_eq!((second[0].revision, second[0].count), (1, 1));
    let old = engine.alert(&first[0].alert_id).unwrap();
    assert_eq!(old.current().status, AlertStatus::Resolved);
}

#[test]
fn p1_alarm_warns_the_victim_devices() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = commands(&send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]));
    let alarms: Vec<_> = sent
        .iter()
        .filter(|(_, c)| c.level == WarningLevel::Alarm)
        .collect();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].0, dev("v1"));
}

#[test]
fn prealarm_warns_the_perpetrator_devices_not_the_victim() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = commands(&send(&mut engine, "p1", vec![fix(1, 0, 600.0, 0.0, 10.0)]));
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].0.clone(), sent[0].1.level),
        (dev("p1"), WarningLevel::Prealarm)
    );
}

#[test]
fn possible_alarm_does_not_warn_the_victim() {
    let mut engine = engine_with(&[zone_order()]);
    let sent = commands(&send(&mut engine, "p1", vec![fix(1, 0, 240.0, 0.0, 30.0)]));
    assert!(sent.iter().all(|(device, _)| *device == dev("p1")));
}

#[test]
fn clearing_sends_clear_to_the_warned_devices() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]);
    let sent = commands(&send(
        &mut engine,
        "p1",
        vec![fix(2, 1_000, 2_000.0, 0.0, 10.0)],
    ));
    let mut cleared: Vec<_> = sent
        .iter()
        .filter(|(_, c)| c.level == WarningLevel::Clear)
        .map(|(d, _)| d.to_string())
        .collect();
    cleared.sort();
    assert_eq!(
        cleared,
        vec!["p1", "v1"],
        "victim for the alarm, perpetrator for the pre-alarm"
    );
}

#[test]
fn each_accepted_alarm_is_acknowledged_with_one_alert_id_per_order() {
    let mut engine = engine_with(&[zone_order(), order("o2", Some((500.0, 1000.0)), Vec::new())]);
    let effects = engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(7, 0, AlarmKind::Panic)),
        ts(0),
    );
    let Some(Effect::Ack { device, ack }) = effects.last() else {
        panic!("the ack comes last, after the alerts to store");
    };
    assert_eq!(
        (device.clone(), ack.seq, ack.alert_ids.len()),
        (dev("v1"), Some(7), 2)
    );
}

#[test]
fn repeated_alarm_is_acknowledged_again_but_counts_once() {
    let mut engine = engine_with(&[zone_order()]);
    let first = engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(7, 0, AlarmKind::Panic)),
        ts(0),
    );
    let again = engine.handle(
        &dev("v1"),
        Event::Alarm(alarm(7, 0, AlarmKind::Panic)),
        ts(3),
    );
    assert!(dispatches(&again).is_empty());
    assert!(matches!(&again[..], [Effect::Ack { .. }]));
    assert_eq!(again.last().map(ack_ids), first.last().map(ack_ids));
}

fn ack_ids(effect: &Effect) -> Vec<String> {
    match effect {
        Effect::Ack { ack, .. } => ack.alert_ids.iter().map(|a| a.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn repeated_fix_changes_nothing() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]);
    assert!(send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]).is_empty());
}

#[test]
fn counter_restart_is_not_a_repeat() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 2_000.0, 0.0, 10.0)]);
    let sent = dispatches(&send(
        &mut engine,
        "p1",
        vec![fix(1, 600, 1_500.0, 0.0, 10.0)],
    ));
    assert!(sent.is_empty());
    let view = engine.order_view(&OrderId::new("o1")).unwrap();
    assert_eq!(view.devices[1].position.as_ref().unwrap().ts, ts(600));
}

#[test]
fn exercise_order_alerts_are_marked_exercise() {
    let mut body = zone_order();
    body.exercise = true;
    let mut engine = engine_with(&[body]);
    let sent = dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]));
    assert!(sent.iter().all(|b| b.exercise));
}

#[test]
fn ending_an_order_never_resolves_its_open_alerts() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]);
    let effects = engine.end_order(&OrderId::new("o1"), ts(10)).unwrap();
    assert!(dispatches(&effects).is_empty());
    assert_eq!(open_kinds(&engine), vec!["ZoneAlarm", "ZonePrealarm"]);
    assert!(dispatches(&send(&mut engine, "p1", vec![fix(2, 20, 110.0, 0.0, 10.0)])).is_empty());
}

#[test]
fn order_outside_its_validity_window_evaluates_nothing() {
    let mut body = zone_order();
    body.valid_from = Some(vangnet_proto::UtcTime(ts(100)));
    let mut engine = engine_with(&[body]);
    assert!(dispatches(&send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)])).is_empty());
    assert!(
        !dispatches(&send(
            &mut engine,
            "p1",
            vec![fix(2, 100, 100.0, 0.0, 10.0)]
        ))
        .is_empty()
    );
}

#[test]
fn replaying_the_same_events_with_seeded_ids_gives_the_same_alert_ids() {
    let run = || {
        let mut engine = seeded_engine();
        engine.put_order(&zone_order(), ts(0)).unwrap();
        let mut effects = send(&mut engine, "p1", vec![fix(1, 0, 100.0, 0.0, 10.0)]);
        effects.extend(engine.handle(
            &dev("v1"),
            Event::Alarm(alarm(1, 5, AlarmKind::Panic)),
            ts(5),
        ));
        dispatches(&effects)
    };
    assert_eq!(run(), run());
}
