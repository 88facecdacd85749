//! An engine's memory of resolved alerts is bounded: it keeps the most
//! recently resolved ones (the service's store keeps all of them), and a
//! resolved revision can be stripped of where the parties were.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vangnet_engine::{Act, AlertError, Engine};
use vangnet_proto::{DispatchBody, TimestampMs};

fn resolve_all(engine: &mut Engine, now: TimestampMs) -> Vec<DispatchBody> {
    let act = Act {
        actor: "dispatcher-7".into(),
        note: "handled".into(),
    };
    let open: Vec<_> = engine.open_alerts().map(|a| a.id().clone()).collect();
    open.iter()
        .flat_map(|id| dispatches(&engine.resolve(id, act.clone(), now).unwrap()))
        .collect()
}

#[test]
fn an_engine_keeps_only_the_most_recently_resolved_alerts_and_still_refuses_acts_on_them() {
    let mut engine = engine_with(&[zone_order()]);
    let mut last = None;
    for round in 0..50 {
        let t = round * 1_200;
        send(&mut engine, "p1", vec![fix(2 * round, t, 0.0, 0.0, 10.0)]);
        send(
            &mut engine,
            "p1",
            vec![fix(2 * round + 1, t + 600, 5_000.0, 0.0, 10.0)],
        );
        last = resolve_all(&mut engine, ts(t + 700)).last().cloned();
    }

    assert!(engine.alerts().count() <= 64, "{}", engine.alerts().count());
    let last = last.unwrap().alert_id;
    let refused = engine
        .resolve(
            &last,
            Act {
                actor: "d".into(),
                note: "again".into(),
            },
            ts(60_000),
        )
        .unwrap_err();
    assert!(matches!(refused, AlertError::InvalidTransition { .. }));
}

#[test]
fn a_resolved_revision_without_positions_keeps_everything_but_where_the_parties_were() {
    let mut engine = engine_with(&[zone_order()]);
    send(&mut engine, "p1", vec![fix(1, 0, 0.0, 0.0, 10.0)]);
    let resolved = resolve_all(&mut engine, ts(60)).pop().unwrap();
    assert!(resolved.perpetrator.is_some() && resolved.distance_m.is_some());

    let forgotten = vangnet_engine::without_positions(resolved.clone());

    assert_eq!(
        (
            forgotten.victim,
            forgotten.perpetrator,
            forgotten.distance_m
        ),
        (None, None, None)
    );
    assert!(
        !forgotten.summary.contains("distance"),
        "{}",
        forgotten.summary
    );
    assert_eq!(
        DispatchBody {
            victim: resolved.victim.clone(),
            perpetrator: resolved.perpetrator.clone(),
            distance_m: resolved.distance_m,
            summary: resolved.summary.clone(),
            ..forgotten
        },
        resolved
    );
}
