//! Builders shared by the engine's integration tests: an order around a
//! fixed point in Rotterdam, fixes placed in metres east and north of it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod walk;

use vangnet_engine::geometry::{GeoPoint, LocalFrame};
use vangnet_engine::{AlertIds, Effect, Engine, EngineConfig, Event};
use vangnet_proto::order::{Geometry, OrderBody, ProximityRule, ZoneBody};
use vangnet_proto::{
    Alarm, AlarmKind, AlertId, Command, DeviceId, DispatchBody, Fix, IncidentId, Latitude,
    Longitude, Meters, OrderId, Status, StatusKind, TimestampMs, ZoneId,
};

/// Device time of second 0 of every scenario.
pub const T0: u64 = 1_764_331_200_000;

pub fn frame() -> LocalFrame {
    LocalFrame::new(GeoPoint::new(51.9225, 4.4792))
}

/// The position `x` metres east and `y` metres north of the origin.
pub fn at(x: f64, y: f64) -> GeoPoint {
    frame().unproject([x, y])
}

pub fn ts(t_s: u64) -> TimestampMs {
    TimestampMs(T0 + t_s * 1000)
}

pub fn dev(id: &str) -> DeviceId {
    DeviceId::parse(id, "device").unwrap()
}

pub fn fix(seq: u64, t_s: u64, x: f64, y: f64, acc: f64) -> Fix {
    let p = at(x, y);
    Fix::new(
        seq,
        ts(t_s),
        Latitude::new(p.lat).unwrap(),
        Longitude::new(p.lon).unwrap(),
        Meters::new(acc).unwrap(),
    )
}

pub fn alarm(seq: u64, t_s: u64, kind: AlarmKind) -> Alarm {
    Alarm {
        seq: Some(seq),
        ts: ts(t_s),
        kind,
        lat: None,
        lon: None,
        acc: None,
        device: None,
    }
}

pub fn status(seq: u64, t_s: u64, kind: StatusKind, batt: Option<f64>) -> Status {
    Status {
        seq: Some(seq),
        ts: ts(t_s),
        kind,
        batt: batt.and_then(vangnet_proto::BatteryPercent::new),
        device: None,
    }
}

/// A circle zone around the point `x`, `y` metres from the origin.
pub fn circle(id: &str, x: f64, y: f64, radius_m: f64, prealarm_m: f64) -> ZoneBody {
    let p = at(x, y);
    ZoneBody {
        id: ZoneId::new(id),
        geometry: Geometry::Point(vec![p.lon, p.lat]),
        radius_m: Some(radius_m),
        prealarm_m,
    }
}

/// A square zone of side `2 * half` around `x`, `y`.
pub fn square(id: &str, x: f64, y: f64, half: f64, prealarm_m: f64) -> ZoneBody {
    rectangle(id, [x - half, y - half], [x + half, y + half], prealarm_m)
}

/// A rectangle zone from corner `low` to corner `high`, metres east and north of the origin.
pub fn rectangle(id: &str, low: [f64; 2], high: [f64; 2], prealarm_m: f64) -> ZoneBody {
    let ring = [
        [low[0], low[1]],
        [high[0], low[1]],
        [high[0], high[1]],
        [low[0], high[1]],
        [low[0], low[1]],
    ]
    .iter()
    .map(|[x, y]| {
        let p = at(*x, *y);
        vec![p.lon, p.lat]
    })
    .collect();
    ZoneBody {
        id: ZoneId::new(id),
        geometry: Geometry::Polygon(vec![ring]),
        radius_m: None,
        prealarm_m,
    }
}

/// Order `id` protecting `v1` from `p1`.
pub fn order(id: &str, proximity: Option<(f64, f64)>, zones: Vec<ZoneBody>) -> OrderBody {
    OrderBody {
        id: Some(OrderId::new(id)),
        region: "rotterdam".into(),
        exercise: false,
        victim_devices: vec![dev("v1")],
        perpetrator_devices: vec![dev("p1")],
        proximity: proximity.map(|(alarm_m, prealarm_m)| ProximityRule {
            alarm_m,
            prealarm_m,
        }),
        zones: zones.into(),
        valid_from: None,
        valid_until: None,
        warn_perpetrator: Default::default(),
    }
}

/// The usual zone order: `home`, 250 m around the origin, pre-alarm 750 m.
pub fn zone_order() -> OrderBody {
    order("o1", None, vec![circle("home", 0.0, 0.0, 250.0, 750.0)])
}

/// The usual proximity order: alarm 1000 m, pre-alarm 2000 m.
pub fn proximity_order() -> OrderBody {
    order("o1", Some((1000.0, 2000.0)), Vec::new())
}

/// An engine with seeded alert ids, so that two runs of a scenario compare equal.
pub fn seeded_engine() -> Engine {
    Engine::new(EngineConfig::default()).with_ids(AlertIds::seeded(17))
}

pub fn engine_with(bodies: &[OrderBody]) -> Engine {
    let mut engine = seeded_engine();
    for body in bodies {
        engine.put_order(body, ts(0)).unwrap();
    }
    engine
}

/// Sends fixes of `device` received at their own device time.
pub fn send(engine: &mut Engine, device: &str, fixes: Vec<Fix>) -> Vec<Effect> {
    let now = fixes.iter().map(|f| f.ts).max().unwrap_or(TimestampMs(T0));
    engine.handle(&dev(device), Event::Fixes(fixes), now)
}

pub fn dispatches(effects: &[Effect]) -> Vec<DispatchBody> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Dispatch(body) => Some((**body).clone()),
            _ => None,
        })
        .collect()
}

pub fn commands(effects: &[Effect]) -> Vec<(DeviceId, Command)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Command { device, command } => Some((device.clone(), command.clone())),
            _ => None,
        })
        .collect()
}

/// The latest revision of each open alert, by kind name.
pub fn open_kinds(engine: &Engine) -> Vec<String> {
    let mut kinds: Vec<String> = engine
        .open_alerts()
        .map(|a| format!("{:?}", a.current().kind))
        .collect();
    kinds.sort();
    kinds
}

/// `effects` with each alert id replaced by `A1`, `A2`, ... in order of first
/// appearance: what two runs with different id sources must agree on.
pub fn with_ids_renamed(effects: &[Effect]) -> Vec<Effect> {
    let mut names: Vec<AlertId> = Vec::new();
    let mut rename = |id: &mut AlertId| {
        let n = match names.iter().position(|known| known == id) {
            Some(n) => n,
            None => {
                names.push(id.clone());
                names.len() - 1
            }
        };
        *id = AlertId::new(format!("A{}", n + 1));
    };
    let mut effects = effects.to_vec();
    for effect in &mut effects {
        match effect {
            Effect::Dispatch(body) => {
                rename(&mut body.alert_id);
                let mut incident = AlertId::new(body.incident_id.as_str());
                rename(&mut incident);
                body.incident_id = IncidentId::new(incident.as_str());
            }
            Effect::Command { command, .. } => rename(&mut command.alert_id),
            Effect::Ack { ack, .. } => ack.alert_ids.iter_mut().for_each(&mut rename),
            Effect::History { .. } | Effect::Persist(_) => {}
        }
    }
    effects
}
