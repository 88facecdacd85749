//! The scenario file: TOML types of actors, routes, noise, events, orders and
//! expectations. Positions are `[lon, lat]` everywhere, as in the orders' GeoJSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use vangnet_proto::order::OrderBody;
use vangnet_proto::{AlertKind, Priority};

/// A whole scenario as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario time at which the devices stop (s).
    pub duration_s: f64,
    /// Seed of the noise model; the same seed gives the same fixes.
    #[serde(default)]
    pub seed: u64,
    /// Alerts not explained by the truth or an expectation that are tolerated.
    #[serde(default)]
    pub max_false_alarms: usize,
    /// False alarms below this priority are reported but never fail the run (`"P1"`: only a false P1 counts).
    #[serde(default)]
    pub tolerate_below: Option<Priority>,
    /// When set, at most this many times an alert condition may clear and come back.
    #[serde(default)]
    pub max_flaps: Option<usize>,
    /// How long after a true violation starts Vangnet may take to raise it (scenario s).
    #[serde(default = "default_truth_within_s")]
    pub truth_within_s: f64,
    /// Alert kinds that are never counted as false alarms.
    #[serde(default)]
    pub allow: Vec<AlertKind>,
    /// The protection orders, as order bodies (docs/api.md#orders); `exercise` defaults to true here.
    #[serde(rename = "order")]
    pub orders: Vec<toml::Table>,
    /// The people and their devices.
    #[serde(rename = "actor")]
    pub actors: Vec<Actor>,
    /// Background location traffic from orders of its own.
    #[serde(default)]
    pub flood: Option<Flood>,
    /// Alerts the scenario expects besides the truth's own violations.
    #[serde(default, rename = "expect")]
    pub expectations: Vec<Expectation>,
}

fn default_truth_within_s() -> f64 {
    90.0
}

/// One person carrying one device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The device id as written in the orders.
    pub device: String,
    /// Where the person goes.
    pub route: Route,
    /// Seconds between fixes.
    pub interval_s: f64,
    /// Seconds between heartbeat status events; none when absent.
    #[serde(default)]
    pub heartbeat_s: Option<f64>,
    /// The accuracy the device reports (m); the simulated error is scaled to it.
    #[serde(default = "default_acc_m")]
    pub acc_m: f64,
    /// Whether its fixes carry ground speed and heading; many tags report position only.
    #[serde(default = "yes")]
    pub reports_speed: bool,
    /// Battery charge at the start (%), and how fast it drains.
    #[serde(default)]
    pub battery: Battery,
    /// GPS faults.
    #[serde(default)]
    pub noise: Noise,
    /// Things the device does at given times.
    #[serde(default, rename = "event")]
    pub events: Vec<Event>,
}

fn default_acc_m() -> f64 {
    8.0
}

fn yes() -> bool {
    true
}

/// A device's battery.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Battery {
    /// Charge at scenario time 0 (%).
    pub start: f64,
    /// Percentage points lost per hour of scenario time.
    #[serde(default)]
    pub drain_per_h: f64,
}

impl Default for Battery {
    fn default() -> Self {
        Self {
            start: 90.0,
            drain_per_h: 0.0,
        }
    }
}

/// A route: waypoints, or a GPX track.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Route {
    /// Straight legs between waypoints.
    Waypoints {
        /// The first is the start; each later one is reached at its own speed.
        waypoints: Vec<Waypoint>,
    },
    /// A recorded track, replayed at its own pace from scenario time `start_s`.
    Gpx {
        /// The GPX file, relative to the scenario file.
        gpx: PathBuf,
        /// Scenario time of the track's first point.
        #[serde(default)]
        start_s: f64,
    },
}

/// A point of a route.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waypoint {
    /// `[lon, lat]`.
    pub at: [f64; 2],
    /// Speed on the leg that reaches this point (km/h); ignored on the first.
    #[serde(default)]
    pub speed_kmh: f64,
    /// Time spent here before the next leg (s).
    #[serde(default)]
    pub dwell_s: f64,
}

/// GPS faults of one device. Windows are `[from_s, until_s]` of scenario time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Share of fixes 150–400 m off while claiming 10–20 m accuracy.
    #[serde(default)]
    pub outlier_rate: f64,
    /// Share of fixes that start a 3-fix jump of 100–300 m with the usual accuracy.
    #[serde(default)]
    pub jump_rate: f64,
    /// Urban-canyon multipath: bursts of fixes all thrown the same way.
    #[serde(default)]
    pub canyon: Option<Canyon>,
    /// The device repeats its last position.
    #[serde(default)]
    pub frozen: Vec<[f64; 2]>,
    /// The device sends no fixes (its other messages still go out).
    #[serde(default)]
    pub dropout: Vec<[f64; 2]>,
    /// The device reports `gps_lost`, sends no fixes, then reports `gps_ok`.
    #[serde(default)]
    pub gps_lost: Vec<[f64; 2]>,
}

/// Bursts of correlated bad fixes, as a street's walls reflect the signal: every
/// fix of a burst is off by the same displacement, plus the ordinary error.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canyon {
    /// Share of fixes that start a burst.
    pub rate: f64,
    /// Which way the fixes are thrown (degrees clockwise from north).
    pub bearing_deg: f64,
    /// Fixes a burst lasts, `[min, max]`.
    #[serde(default = "default_burst_fixes")]
    pub fixes: [u32; 2],
    /// How far off the fixes are thrown (m), `[min, max]`.
    #[serde(default = "default_burst_m")]
    pub offset_m: [f64; 2],
}

fn default_burst_fixes() -> [u32; 2] {
    [3, 5]
}

fn default_burst_m() -> [f64; 2] {
    [150.0, 300.0]
}

/// Something a device does at a scenario time.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Scenario time (s).
    pub at_s: f64,
    /// What happens.
    pub kind: EventKind,
}

/// What a scheduled event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The victim presses the button.
    Panic,
    /// The tag reports tampering.
    Tamper,
    /// The tag reports its strap opened.
    StrapOpen,
    /// The tag reports separation from its companion unit.
    Separation,
    /// The victim's device detects a fall.
    Fall,
    /// The device says `offline` and goes quiet.
    Off,
    /// The device goes quiet without a word.
    Silent,
    /// The device says `online` and reports again.
    On,
}

impl EventKind {
    /// The alarm kind (docs/protocol.md#alarms) this event sends, if it is an alarm.
    pub fn alarm(self) -> Option<&'static str> {
        match self {
            Self::Panic => Some("panic"),
            Self::Tamper => Some("tamper"),
            Self::StrapOpen => Some("strap_open"),
            Self::Separation => Some("separation"),
            Self::Fall => Some("fall"),
            Self::Off | Self::Silent | Self::On => None,
        }
    }

    /// The alert the truth expects from this alarm, and its priority.
    pub fn alert(self) -> Option<(AlertKind, Priority)> {
        match self {
            Self::Panic => Some((AlertKind::Panic, Priority::P1)),
            Self::Tamper => Some((AlertKind::Tamper, Priority::P2)),
            Self::StrapOpen => Some((AlertKind::StrapOpen, Priority::P2)),
            Self::Separation => Some((AlertKind::Separation, Priority::P2)),
            Self::Fall => Some((AlertKind::Fall, Priority::P2)),
            Self::Off | Self::Silent | Self::On => None,
        }
    }
}

/// Location traffic from background orders, to load Vangnet while the scenario plays.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flood {
    /// Background orders (two devices each, far apart, never violating).
    pub orders: usize,
    /// Fixes per second of scenario time, spread over the background devices.
    pub rate_per_s: f64,
    /// Scenario time window `[from_s, until_s]`.
    pub window: [f64; 2],
}

/// An alert the scenario expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The alert's kind.
    pub kind: AlertKind,
    /// The order as written in the scenario; any of the scenario's when absent.
    #[serde(default)]
    pub order: Option<String>,
    /// The zone, for zone kinds.
    #[serde(default)]
    pub zone: Option<String>,
    /// The least priority that counts.
    #[serde(default = "default_priority")]
    pub priority: Priority,
    /// From when it is due.
    pub after: Due,
    /// How long after that it may take (scenario s).
    pub within_s: f64,
}

fn default_priority() -> Priority {
    Priority::P3
}

/// The moment an expectation counts from.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// A scenario time (s).
    At(f64),
    /// The start of the truth's first violation of the expectation's kind (and order, zone).
    Truth,
}

impl Scenario {
    /// Reads and checks the scenario at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let scenario: Self =
            toml::from_str(&text).with_context(|| format!("scenario {}", path.display()))?;
        scenario.check()?;
        Ok(scenario)
    }

    /// The orders as order bodies (docs/api.md#orders), exercise unless they say otherwise.
    pub fn order_bodies(&self) -> anyhow::Result<Vec<OrderBody>> {
        self.orders
            .iter()
            .map(|table| {
                let mut table = table.clone();
                table
                    .entry("exercise")
                    .or_insert(toml::Value::Boolean(true));
                let body: OrderBody = toml::Value::Table(table).try_into().context("[[order]]")?;
                if body.id.is_none() {
                    bail!("every [[order]] needs an id");
                }
                Ok(body)
            })
            .collect()
    }

    /// Whether order `id` is an exercise order; none when the scenario has no such order.
    pub fn exercise(&self, id: &str) -> Option<bool> {
        let order = self
            .orders
            .iter()
            .find(|o| o.get("id").and_then(toml::Value::as_str) == Some(id))?;
        Some(
            order
                .get("exercise")
                .and_then(toml::Value::as_bool)
                .unwrap_or(true),
        )
    }

    fn check(&self) -> anyhow::Result<()> {
        if !positive(self.duration_s) {
            bail!("duration_s must be positive");
        }
        let orders = self.order_bodies()?;
        for actor in &self.actors {
            if !positive(actor.interval_s) {
                bail!("actor {}: interval_s must be positive", actor.device);
            }
            if let Route::Waypoints { waypoints } = &actor.route {
                if waypoints.is_empty() {
                    bail!("actor {}: a route needs waypoints", actor.device);
                }
                if waypoints.iter().skip(1).any(|w| !positive(w.speed_kmh)) {
                    bail!(
                        "actor {}: every waypoint after the first needs speed_kmh",
                        actor.device
                    );
                }
            }
        }
        for expectation in &self.expectations {
            if let Some(order) = &expectation.order
                && !orders
                    .iter()
                    .any(|o| o.id.as_ref().is_some_and(|id| id.as_str() == order))
            {
                bail!("[[expect]] names unknown order {order}");
            }
        }
        Ok(())
    }
}

/// Above zero (NaN is not).
fn positive(x: f64) -> bool {
    x > 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
duration_s = 60
[[order]]
id = "o"
region = "r"
victim_devices = ["v"]
perpetrator_devices = ["p"]
proximity = { alarm_m = 500, prealarm_m = 1000 }
[[actor]]
device = "v"
interval_s = 30
route = { waypoints = [{ at = [4.47, 51.92] }] }
[[actor]]
device = "p"
interval_s = 30
route = { waypoints = [{ at = [4.40, 51.92] }, { at = [4.47, 51.92], speed_kmh = 5 }] }
[[expect]]
kind = "proximity_alarm"
priority = "P1"
after = "truth"
within_s = 60
"#;

    #[test]
    fn orders_are_exercise_unless_they_say_otherwise() {
        let scenario: Scenario = toml::from_str(MINIMAL).unwrap();
        let bodies = scenario.order_bodies().unwrap();
        assert!(bodies[0].exercise);
        assert_eq!(scenario.expectations[0].priority, Priority::P1);
        assert!(matches!(scenario.expectations[0].after, Due::Truth));
    }

    #[test]
    fn a_leg_without_a_speed_is_refused() {
        let text = MINIMAL.replace(", speed_kmh = 5", "");
        let scenario: Scenario = toml::from_str(&text).unwrap();
        assert!(scenario.check().is_err());
    }
}
