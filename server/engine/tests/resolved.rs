//! An engine's memory of resolved alerts is bounded: it keeps the most
//! recently resolved ones (the service's store keeps all of them).
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
