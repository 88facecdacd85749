//! The ground truth: what really happened, from the actors' TRUE positions
//! and scheduled events, never from what the devices reported or what
//! Vangnet made of it. Sampled once per scenario second.

use anyhow::Context;
use serde::Serialize;
use vangnet_geodesy::{Zone, distance_m};
use vangnet_proto::AlertKind;
use vangnet_proto::order::OrderBody;

use super::model::{Actor, Scenario};
use super::motion::Track;
use super::schedule::battery;

/// Scenario seconds between two samples of the true positions.
const STEP_S: f64 = 1.0;
/// `battery_low` is due at or below this charge (docs/detection.md#silence-and-battery).
const BATTERY_LOW: f64 = 15.0;

/// One true violation or incident, over a span of scenario time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    /// The alert it calls for.
    pub kind: AlertKind,
    /// The order as the scenario names it; none for a panic outside every order.
    pub order: Option<String>,
    /// The zone, for zone kinds.
    pub zone: Option<String>,
    /// When it started (scenario s).
    pub start_s: f64,
    /// When it ended (scenario s); the scenario's end when it lasted.
    pub end_s: f64,
}

/// Every true episode of the scenario, measured with geodesics (`vangnet-geodesy`), not the engine's geometry.
pub fn episodes(
    scenario: &Scenario,
    orders: &[OrderBody],
    tracks: &[Track],
) -> anyhow::Result<Vec<Episode>> {
    let track_of = |device: &str| {
        scenario
            .actors
            .iter()
            .position(|a| a.device == device)
            .and_then(|n| tracks.get(n))
    };
    let times: Vec<f64> = (0..)
        .map(|n| f64::from(n) * STEP_S)
        .take_while(|t| *t <= scenario.duration_s)
        .collect();
    let mut out = Vec::new();
    for order in orders {
        let name = order.id.as_ref().map(|id| id.as_str().to_owned());
        let mut record = |kind, zone: Option<&str>, inside: &dyn Fn(f64) -> bool| {
            for (start_s, end_s) in spans(&times, inside) {
                out.push(Episode {
                    kind,
                    order: name.clone(),
                    zone: zone.map(str::to_owned),
                    start_s,
                    end_s,
                });
            }
        };
        for perp in order
            .perpetrator_devices
            .iter()
            .filter_map(|d| track_of(d.as_str()))
        {
            if let Some(rule) = order.proximity {
                for victim in order
                    .victim_devices
                    .iter()
                    .filter_map(|d| track_of(d.as_str()))
                {
                    let d = |t| distance_m(perp.at(t).at, victim.at(t).at);
                    record(AlertKind::ProximityAlarm, None, &|t| d(t) <= rule.alarm_m);
                    record(AlertKind::ProximityPrealarm, None, &|t| {
                        d(t) <= rule.prealarm_m
                    });
                }
            }
            for zone in order.zones.iter() {
                let shape = Zone::of(&zone.geometry, zone.radius_m)
                    .with_context(|| format!("zone {}", zone.id.as_str()))?;
                let d = |t| shape.signed_distance(perp.at(t).at);
                let id = Some(zone.id.as_str());
                record(AlertKind::ZoneAlarm, id, &|t| d(t) <= 0.0);
                record(AlertKind::ZonePrealarm, id, &|t| d(t) <= zone.prealarm_m);
            }
        }
        for actor in scenario.actors.iter().filter(|a| in_order(order, a)) {
            record(AlertKind::BatteryLow, None, &|t| {
                battery(actor, t) <= BATTERY_LOW
            });
        }
    }
    for actor in &scenario.actors {
        for (event, (kind, _)) in actor
            .events
            .iter()
            .filter_map(|e| Some((e, e.kind.alert()?)))
        {
            let mut owners = orders.iter().filter(|o| in_order(o, actor)).peekable();
            let incident = |kind, order: Option<String>| Episode {
                kind,
                order,
                zone: None,
                start_s: event.at_s,
                end_s: event.at_s,
            };
            if owners.peek().is_none() && kind == AlertKind::Panic {
                out.push(incident(AlertKind::PanicUnassigned, None));
            }
            for order in owners {
                out.push(incident(
                    kind,
                    order.id.as_ref().map(|id| id.as_str().to_owned()),
                ));
            }
        }
    }
    Ok(out)
}

fn in_order(order: &OrderBody, actor: &Actor) -> bool {
    order
        .victim_devices
        .iter()
        .chain(&order.perpetrator_devices)
        .any(|d| d.as_str() == actor.device)
}

/// The `[start, end]` spans of `times` over which `inside` holds.
fn spans(times: &[f64], inside: &dyn Fn(f64) -> bool) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut open: Option<(f64, f64)> = None;
    for &t in times {
        open = match (inside(t), open) {
            (true, Some((start, _))) => Some((start, t)),
            (true, None) => Some((t, t)),
            (false, Some(span)) => {
                out.push(span);
                None
            }
            (false, None) => None,
        };
    }
    out.extend(open);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn truth(actors: &str) -> Vec<Episode> {
        let text = format!(
            r#"
duration_s = 600
[[order]]
id = "o"
region = "r"
victim_devices = ["v"]
perpetrator_devices = ["p"]
proximity = {{ alarm_m = 500, prealarm_m = 1000 }}
zones = [{{ id = "home", geometry = {{ type = "Point", coordinates = [4.0, 52.0] }}, radius_m = 200, prealarm_m = 300 }}]
[[actor]]
device = "v"
interval_s = 30
route = {{ waypoints = [{{ at = [4.0, 52.0] }}] }}
{actors}
"#
        );
        let scenario: Scenario = toml::from_str(&text).unwrap();
        let tracks: Vec<Track> = scenario
            .actors
            .iter()
            .map(|a| Track::of(&a.route, Path::new(".")).unwrap())
            .collect();
        episodes(&scenario, &scenario.order_bodies().unwrap(), &tracks).unwrap()
    }

    #[test]
    fn a_perpetrator_walking_to_the_victim_violates_proximity_then_the_zone() {
        let all = truth(
            "[[actor]]\ndevice = \"p\"\ninterval_s = 30\n\
             route = { waypoints = [{ at = [4.0, 52.009] }, { at = [4.0, 52.0], speed_kmh = 7.2 }] }",
        );
        let first = |kind| all.iter().find(|e| e.kind == kind).unwrap().start_s;
        let alarm = first(AlertKind::ProximityAlarm);
        assert!((alarm - 251.0).abs() <= 2.0, "{alarm}");
        assert!(first(AlertKind::ProximityPrealarm) < alarm);
        assert!(first(AlertKind::ZoneAlarm) > alarm);
        assert_eq!(
            all.iter()
                .find(|e| e.kind == AlertKind::ZoneAlarm)
                .unwrap()
                .end_s,
            600.0
        );
    }

    #[test]
    fn a_panic_and_a_drained_battery_are_incidents_of_the_order() {
        let all = truth(
            "[[actor]]\ndevice = \"p\"\ninterval_s = 30\nbattery = { start = 20, drain_per_h = 60 }\n\
             route = { waypoints = [{ at = [4.5, 52.0] }] }\n\
             event = [{ at_s = 100, kind = \"tamper\" }]",
        );
        let tamper = all.iter().find(|e| e.kind == AlertKind::Tamper).unwrap();
        assert_eq!(
            (tamper.order.as_deref(), tamper.start_s),
            (Some("o"), 100.0)
        );
        let low = all
            .iter()
            .find(|e| e.kind == AlertKind::BatteryLow)
            .unwrap();
        assert_eq!(low.start_s, 300.0);
        assert!(!all.iter().any(|e| e.kind == AlertKind::ProximityAlarm));
    }
}
