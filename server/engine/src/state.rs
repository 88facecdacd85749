//! The engine's memory, split so that the service can load one order's state
//! and its devices' states from a store, run one step, and save them again.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use vangnet_proto::{IncidentId, Priority, TimestampMs};

use crate::alert::Alert;
use crate::classify::Level;
use crate::dedup::DedupWindow;
use crate::order::Order;
use crate::track::Track;

/// Everything the engine remembers about one device, whatever its orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Recently seen message keys.
    pub dedup: DedupWindow,
    /// Its recent positions.
    pub track: Track,
    /// Server time its last message was received.
    pub last_heard: Option<TimestampMs>,
    /// Its latest battery report.
    pub battery: Option<Battery>,
    /// An open `panic_unassigned` alert (a panic while in no active order).
    pub unassigned_panic: Option<Box<Alert>>,
}

/// A device's latest battery report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Battery {
    /// Charge in percent.
    pub pct: f64,
    /// Time of the report: its device time, or its receive time if earlier.
    pub ts: TimestampMs,
    /// Low, with hysteresis: set at `battery_low_pct`, cleared above it plus the margin.
    pub low: bool,
}

/// What the engine remembers about one victim–perpetrator pair of an order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PairState {
    /// The proximity level reached.
    pub level: Level,
    /// The distance measured at a reference time, for the closing speed.
    pub reference: Option<(TimestampMs, f64)>,
    /// The distance at which an approach was raised, while it lasts.
    pub approach_from: Option<f64>,
}

/// What the engine remembers about one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    /// Server time the order was put; silence is counted from here for devices never heard.
    pub since: TimestampMs,
    /// Server time the order was ended; it then evaluates nothing.
    pub ended: Option<TimestampMs>,
    /// Zone level per (zone, perpetrator device), zone-major, in the order's
    /// order; inline for up to 8, so that reading them costs no extra lookup.
    pub zone_levels: SmallVec<[Level; 8]>,
    /// Pair state per (victim device, perpetrator device), victim-major; the
    /// usual single pair is kept inline.
    pub pairs: SmallVec<[PairState; 1]>,
    /// Its alerts that are not resolved.
    pub alerts: Vec<Alert>,
    /// Incidents with unresolved alerts whose P1 alert a person resolved:
    /// only another unresolved P1 alert holds them open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settled_incidents: Vec<IncidentId>,
}

impl OrderState {
    /// A fresh state for `order`, put at `now`.
    pub fn new(order: &Order, now: TimestampMs) -> Self {
        Self {
            since: now,
            ended: None,
            zone_levels: SmallVec::from_elem(
                Level::Clear,
                order.zones.len() * order.perpetrators.len(),
            ),
            pairs: SmallVec::from_elem(
                PairState::default(),
                order.victims.len() * order.perpetrators.len(),
            ),
            alerts: Vec::new(),
            settled_incidents: Vec::new(),
        }
    }

    /// The order's open incident, which every alert raised for it now joins:
    /// the newest incident an unresolved alert holds open. An unresolved
    /// alert holds its incident, except that once a person resolved a P1
    /// alert of it, only an unresolved P1 alert does: an alarm handled, a
    /// pre-alarm that lingers is not the start of the next emergency. `None`
    /// when no alert holds one: the next alert opens an incident.
    pub fn open_incident(&self) -> Option<&IncidentId> {
        self.alerts
            .iter()
            .rev()
            .filter(|alert| {
                !self.settled_incidents.contains(alert.incident())
                    || alert.current().priority == Priority::P1
            })
            .map(Alert::incident)
            .next()
    }

    /// Takes the alert at `index` out once it is resolved, remembering an
    /// incident whose P1 alert a person resolved.
    pub fn remove_resolved(&mut self, index: usize) -> Alert {
        let alert = self.alerts.remove(index);
        if alert.current().priority == Priority::P1
            && !self.settled_incidents.contains(alert.incident())
        {
            self.settled_incidents.push(alert.incident().clone());
        }
        let alerts = &self.alerts;
        self.settled_incidents
            .retain(|incident| alerts.iter().any(|a| a.incident() == incident));
        alert
    }

    /// This state made to fit `order`: one level per (zone, perpetrator) and
    /// one pair per (victim, perpetrator), missing ones clear, so that a state
    /// saved for another version of the order cannot switch a zone off.
    pub fn fitted(mut self, order: &Order) -> Self {
        let zones = order.zones.len() * order.perpetrators.len();
        let pairs = order.victims.len() * order.perpetrators.len();
        self.zone_levels.resize(zones, Level::Clear);
        self.pairs.resize(pairs, PairState::default());
        self
    }

    /// This state carried over from `old` to its replacement `new`: levels
    /// follow their zone and device ids; alerts and counters stay.
    pub fn carried_over(self, old: &Order, new: &Order) -> Self {
        let perps_old = old.perpetrators.len();
        let perp_index = |d| old.perpetrators.iter().position(|p| p == d);
        let zone_levels = new
            .zones
            .iter()
            .flat_map(|zone| new.perpetrators.iter().map(move |p| (zone, p)))
            .map(|(zone, perp)| {
                let z = old.zones.iter().position(|z| z.id == zone.id);
                z.zip(perp_index(perp))
                    .and_then(|(z, p)| self.zone_levels.get(z * perps_old + p).copied())
                    .unwrap_or_default()
            })
            .collect();
        let pairs = new
            .victims
            .iter()
            .flat_map(|v| new.perpetrators.iter().map(move |p| (v, p)))
            .map(|(victim, perp)| {
                let v = old.victims.iter().position(|x| x == victim);
                v.zip(perp_index(perp))
                    .and_then(|(v, p)| self.pairs.get(v * perps_old + p).copied())
                    .unwrap_or_default()
            })
            .collect();
        Self {
            zone_levels,
            pairs,
            ended: None,
            ..self
        }
    }
}
