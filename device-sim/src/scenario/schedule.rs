//! Every uplink message of a scenario, worked out before it plays: fixes at
//! each actor's interval (through its GPS noise), heartbeats, `gps_lost` and
//! `gps_ok`, alarms, `offline` and `online`, and the flood's traffic, sorted
//! by scenario time. `seq` and `ts` are added when a message is sent.

use serde_json::{Map, Value, json};
use vangnet_proto::Channel;

use super::model::{Actor, EventKind, Flood, Scenario};
use super::motion::Track;
use super::noise::Gps;

/// One uplink message at a scenario time.
#[derive(Debug, Clone)]
pub struct Message {
    /// Scenario time (s).
    pub t: f64,
    /// The device as the scenario names it.
    pub device: String,
    /// The topic's channel.
    pub channel: Channel,
    /// The payload without `seq` and `ts`.
    pub body: Map<String, Value>,
}

/// The messages of all actors and of the flood, in time order.
pub fn messages(scenario: &Scenario, tracks: &[Track]) -> Vec<Message> {
    let mut all: Vec<Message> = scenario
        .actors
        .iter()
        .zip(tracks)
        .enumerate()
        .flat_map(|(n, (actor, track))| {
            actor_messages(actor, track, scenario.duration_s, scenario.seed ^ n as u64)
        })
        .collect();
    if let Some(flood) = &scenario.flood {
        all.extend(flood_messages(flood));
    }
    all.sort_by(|a, b| a.t.total_cmp(&b.t));
    all
}

/// The battery charge of `actor` at scenario time `t` (%).
pub fn battery(actor: &Actor, t: f64) -> f64 {
    (actor.battery.start - actor.battery.drain_per_h * t / 3600.0).clamp(0.0, 100.0)
}

/// Whether the device is switched on at `t`, after its off, silent and on events.
fn is_on(actor: &Actor, t: f64) -> bool {
    actor
        .events
        .iter()
        .filter(|e| e.at_s <= t && e.kind.alarm().is_none())
        .max_by(|a, b| a.at_s.total_cmp(&b.at_s))
        .is_none_or(|e| e.kind == EventKind::On)
}

/// Whether the device has no position to report at `t`.
fn has_no_fix(actor: &Actor, t: f64) -> bool {
    let noise = &actor.noise;
    noise
        .dropout
        .iter()
        .chain(&noise.gps_lost)
        .any(|w| (w[0]..w[1]).contains(&t))
}

fn actor_messages(actor: &Actor, track: &Track, duration_s: f64, seed: u64) -> Vec<Message> {
    let message = |t: f64, channel, body: Value| Message {
        t,
        device: actor.device.clone(),
        channel,
        body: object(body),
    };
    let batt = |t: f64| (battery(actor, t) * 10.0).round() / 10.0;
    let mut gps = Gps::new(actor.noise.clone(), actor.acc_m, seed);
    let mut out = Vec::new();
    for t in times(actor.interval_s, duration_s) {
        if !is_on(actor, t) || has_no_fix(actor, t) {
            continue;
        }
        let truth = track.at(t);
        let reading = gps.read(truth.at, t);
        let mut fix = json!({"lat": reading.at.lat, "lon": reading.at.lon, "acc": reading.acc,
                             "src": "gps", "batt": batt(t)});
        if actor.reports_speed {
            fix["spd"] = json!(truth.speed_mps);
            fix["hdg"] = json!(truth.heading);
        }
        out.push(message(t, Channel::Loc, fix));
    }
    if let Some(every) = actor.heartbeat_s {
        for t in times(every, duration_s).filter(|t| is_on(actor, *t)) {
            out.push(message(
                t,
                Channel::Status,
                json!({"kind": "heartbeat", "batt": batt(t)}),
            ));
        }
    }
    for window in &actor.noise.gps_lost {
        for (t, kind) in [(window[0], "gps_lost"), (window[1], "gps_ok")] {
            if t < duration_s && is_on(actor, t) {
                out.push(message(t, Channel::Status, json!({"kind": kind})));
            }
        }
    }
    for event in &actor.events {
        let t = event.at_s;
        let body = match (event.kind, event.kind.alarm()) {
            (_, Some(_)) if !is_on(actor, t) => continue,
            (_, Some(kind)) if has_no_fix(actor, t) => (Channel::Alarm, json!({"kind": kind})),
            (_, Some(kind)) => {
                let at = track.at(t).at;
                (
                    Channel::Alarm,
                    json!({"kind": kind, "lat": at.lat, "lon": at.lon, "acc": actor.acc_m}),
                )
            }
            (EventKind::Off, None) => (Channel::Status, json!({"kind": "offline"})),
            (EventKind::On, None) => (Channel::Status, json!({"kind": "online", "batt": batt(t)})),
            _ => continue,
        };
        out.push(message(t, body.0, body.1));
    }
    out
}

/// The fields of a JSON object (every payload here is one).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `0, every, 2·every, …` below `until`.
fn times(every: f64, until: f64) -> impl Iterator<Item = f64> {
    (0..)
        .map(move |n| f64::from(n) * every)
        .take_while(move |t| *t < until)
}

/// The flood's background orders: `flood-{k}`, victim and perpetrator 35 km apart.
pub fn flood_orders(flood: &Flood) -> Vec<Value> {
    (0..flood.orders)
        .map(|k| {
            json!({"id": format!("flood-{k}"), "region": "flood", "exercise": true,
                   "victim_devices": [format!("flood-v-{k}")],
                   "perpetrator_devices": [format!("flood-p-{k}")],
                   "proximity": {"alarm_m": 500, "prealarm_m": 1000}})
        })
        .collect()
}

fn flood_messages(flood: &Flood) -> Vec<Message> {
    let [from, until] = flood.window;
    let devices = flood.orders * 2;
    if devices == 0 || flood.rate_per_s <= 0.0 {
        return Vec::new();
    }
    times(1.0 / flood.rate_per_s, until - from)
        .enumerate()
        .map(|(n, dt)| {
            let k = (n % devices) / 2;
            let (role, lon) = if n % 2 == 0 { ("v", 5.0) } else { ("p", 5.5) };
            let lat = 52.0 + k as f64 * 0.001;
            Message {
                t: from + dt,
                device: format!("flood-{role}-{k}"),
                channel: Channel::Loc,
                body: object(json!({"lat": lat, "lon": lon, "acc": 10.0, "src": "gps"})),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn scenario(extra: &str) -> (Scenario, Vec<Track>) {
        let text = format!(
            r#"
duration_s = 100
[[order]]
id = "o"
region = "r"
victim_devices = ["v"]
perpetrator_devices = ["p"]
[[actor]]
device = "v"
interval_s = 10
route = {{ waypoints = [{{ at = [4.47, 51.92] }}] }}
{extra}
"#
        );
        let scenario: Scenario = toml::from_str(&text).unwrap();
        let tracks = scenario
            .actors
            .iter()
            .map(|a| Track::of(&a.route, Path::new(".")).unwrap())
            .collect();
        (scenario, tracks)
    }

    #[test]
    fn a_device_reports_at_its_interval_until_the_end() {
        let (scenario, tracks) = scenario("");
        let fixes: Vec<f64> = messages(&scenario, &tracks).iter().map(|m| m.t).collect();
        assert_eq!(
            fixes,
            (0..10).map(|n| f64::from(n) * 10.0).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_device_that_reports_no_speed_sends_position_only() {
        let (scenario, tracks) = scenario("reports_speed = false");
        let all = messages(&scenario, &tracks);
        assert!(
            all.iter()
                .all(|m| !m.body.contains_key("spd") && !m.body.contains_key("hdg"))
        );
        assert!(all[0].body.contains_key("lat"));
    }

    #[test]
    fn a_device_switched_off_says_offline_and_stays_quiet_until_on() {
        let (scenario, tracks) =
            scenario("event = [{ at_s = 25, kind = \"off\" }, { at_s = 65, kind = \"on\" }]");
        let all = messages(&scenario, &tracks);
        assert!(
            !all.iter()
                .any(|m| m.channel == Channel::Loc && (30.0..65.0).contains(&m.t))
        );
        let statuses: Vec<&Value> = all
            .iter()
            .filter(|m| m.channel == Channel::Status)
            .map(|m| &m.body["kind"])
            .collect();
        assert_eq!(statuses, [&json!("offline"), &json!("online")]);
    }

    #[test]
    fn a_device_switched_off_sends_no_alarm() {
        let (scenario, tracks) =
            scenario("event = [{ at_s = 25, kind = \"off\" }, { at_s = 50, kind = \"panic\" }]");
        let all = messages(&scenario, &tracks);
        assert!(!all.iter().any(|m| m.channel == Channel::Alarm));
    }

    #[test]
    fn a_panic_without_gps_carries_no_position() {
        let (scenario, tracks) = scenario(
            "noise = { gps_lost = [[20, 80]] }\nevent = [{ at_s = 50, kind = \"panic\" }]",
        );
        let all = messages(&scenario, &tracks);
        let panic = all.iter().find(|m| m.channel == Channel::Alarm).unwrap();
        assert!(!panic.body.contains_key("lat"));
        assert!(
            !all.iter()
                .any(|m| m.channel == Channel::Loc && (20.0..80.0).contains(&m.t))
        );
    }
}
