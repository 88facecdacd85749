//! What an order's state page shows (docs/api.md#order-state):
//! positions, distances, unknown positions and open alerts, computed when asked.

use serde::Serialize;
use vangnet_proto::{DeviceId, DispatchBody, OrderId, Party, TimestampMs, ZoneId};

use crate::classify::Level;
use crate::config::EngineConfig;
use crate::detect::party;
use crate::geometry::distance_m;
use crate::order::{Order, Role};
use crate::state::{DeviceState, OrderState};

/// What an order's state page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    /// The order.
    pub order_id: OrderId,
    /// Its region.
    pub region: String,
    /// Exercise order.
    pub exercise: bool,
    /// When it was ended, if it was.
    pub ended: Option<TimestampMs>,
    /// A victim has no fix, or one older than `stale_after_s` against a perpetrator's.
    pub victim_position_unknown: bool,
    /// A perpetrator has no fix, or one older than `stale_after_s` against a victim's.
    pub perpetrator_position_unknown: bool,
    /// Each device's latest position.
    pub devices: Vec<DeviceView>,
    /// Each victim–perpetrator distance, when both positions are known.
    pub proximity: Vec<PairView>,
    /// Each perpetrator's signed distance to each zone.
    pub zones: Vec<ZoneView>,
    /// The order's alerts that are not resolved.
    pub open_alerts: Vec<DispatchBody>,
}

/// One device of an order's state page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceView {
    /// The device.
    pub device: DeviceId,
    /// `victim` or `perpetrator`.
    pub role: &'static str,
    /// Its latest fix.
    pub position: Option<Party>,
    /// The latest fix contradicts the device's track and awaits confirmation.
    pub suspect: bool,
    /// Server time of its last message.
    pub last_heard: Option<TimestampMs>,
    /// Its latest battery report.
    pub battery_pct: Option<f64>,
}

/// One victim–perpetrator pair of an order's state page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairView {
    /// The victim's device.
    pub victim: DeviceId,
    /// The perpetrator's device.
    pub perpetrator: DeviceId,
    /// Their distance, when both positions are known.
    pub distance_m: Option<f64>,
}

/// One zone–perpetrator pair of an order's state page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneView {
    /// The zone.
    pub zone: ZoneId,
    /// The perpetrator's device.
    pub perpetrator: DeviceId,
    /// Signed distance (negative inside), when the perpetrator's position is known.
    pub distance_m: Option<f64>,
    /// The level reached.
    pub level: Level,
}

impl OrderView {
    /// The page of `order` with `state`, reading device states through `state_of`.
    pub(crate) fn of<'s>(
        order: &Order,
        state: &OrderState,
        state_of: &dyn Fn(&DeviceId) -> Option<&'s DeviceState>,
        config: &EngineConfig,
    ) -> Self {
        let latest = |d: &DeviceId| state_of(d).and_then(|s| s.track.latest());
        let stale_ms = config.stale_after_s * 1000;
        let devices = order
            .devices()
            .map(|(device, role)| {
                let state = state_of(device);
                let position = latest(device);
                DeviceView {
                    device: device.clone(),
                    role: match role {
                        Role::Victim => "victim",
                        Role::Perpetrator => "perpetrator",
                    },
                    position: position.and_then(|l| party(device, &l.position)),
                    suspect: position.is_some_and(|l| l.suspect),
                    last_heard: state.and_then(|s| s.last_heard),
                    battery_pct: state.and_then(|s| s.battery).map(|b| b.pct),
                }
            })
            .collect();
        let mut victim_unknown = false;
        let mut perpetrator_unknown = false;
        let mut proximity = Vec::new();
        for victim in &order.victims {
            for perpetrator in &order.perpetrators {
                let (v, p) = (latest(victim), latest(perpetrator));
                let (vu, pu) = match (v, p) {
                    (Some(v), Some(p))
                        if v.position.time().abs_diff(p.position.time()) > stale_ms =>
                    {
                        let (vt, pt) = (v.position.time(), p.position.time());
                        (vt < pt, pt < vt)
                    }
                    (v, p) => (v.is_none(), p.is_none()),
                };
                victim_unknown |= vu;
                perpetrator_unknown |= pu;
                let distance_m = match (v, p) {
                    (Some(v), Some(p)) if !vu && !pu => {
                        Some(distance_m(v.position.at, p.position.at))
                    }
                    _ => None,
                };
                proximity.push(PairView {
                    victim: victim.clone(),
                    perpetrator: perpetrator.clone(),
                    distance_m,
                });
            }
        }
        let perps = order.perpetrators.len();
        let zones = order
            .zones
            .iter()
            .enumerate()
            .flat_map(|(zi, zone)| {
                order
                    .perpetrators
                    .iter()
                    .enumerate()
                    .map(move |(pi, perpetrator)| (zi, zone, pi, perpetrator))
            })
            .map(|(zi, zone, pi, perpetrator)| ZoneView {
                zone: zone.id.clone(),
                perpetrator: perpetrator.clone(),
                distance_m: latest(perpetrator).and_then(|l| {
                    zone.shape
                        .signed_distance_within(l.position.at, f64::INFINITY)
                }),
                level: state
                    .zone_levels
                    .get(zi * perps + pi)
                    .copied()
                    .unwrap_or_default(),
            })
            .collect();
        Self {
            order_id: order.id.clone(),
            region: order.region.clone(),
            exercise: order.exercise,
            ended: state.ended,
            victim_position_unknown: victim_unknown,
            perpetrator_position_unknown: perpetrator_unknown,
            devices,
            proximity,
            zones,
            open_alerts: state.alerts.iter().map(|a| a.current().clone()).collect(),
        }
    }
}
