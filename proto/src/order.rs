//! The protection order body of the HTTP API (docs/api.md#orders).
//!
//! These are plain wire shapes: serde reads any well-typed body, and the
//! engine's `Order::validate` decides whether it makes sense (closed rings,
//! prealarm beyond alarm, devices on both sides, ...), naming the field at fault.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{DeviceId, OrderId, UtcTime, ZoneId};

/// A GeoJSON position: `[lon, lat]`, optionally followed by an altitude that is ignored.
pub type Position = Vec<f64>;

/// A protection order as the API receives and returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// The order's id; the server assigns one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OrderId>,
    /// The region whose dispatchers handle this order's alerts.
    pub region: String,
    /// True for simulation and pilot orders, whose alerts never reach real routes.
    #[serde(default)]
    pub exercise: bool,
    /// Devices carried by the protected person(s).
    pub victim_devices: Vec<DeviceId>,
    /// Devices worn by the person(s) the order restrains.
    pub perpetrator_devices: Vec<DeviceId>,
    /// The minimum distance between perpetrator and victim, if the order sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proximity: Option<ProximityRule>,
    /// Exclusion zones the perpetrator must stay out of.
    #[serde(default)]
    pub zones: Vec<ZoneBody>,
    /// When the order starts to apply; immediately when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<UtcTime>,
    /// When the order stops applying; open-ended when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<UtcTime>,
    /// Which pre-alarms warn the perpetrator's devices; `zones` when absent.
    #[serde(default)]
    pub warn_perpetrator: WarnPerpetrator,
}

/// Which pre-alarms send the perpetrator a warning (docs/detection.md#warnings-to-devices). A
/// warning that starts and stops with the victim's distance would let him
/// find her by driving around, so proximity warnings need the order to ask.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WarnPerpetrator {
    /// Zone pre-alarms only: he knows the zones from the court order.
    #[default]
    Zones,
    /// Zone pre-alarms, and proximity pre-alarms and approaches too.
    All,
}

/// The perpetrator–victim distances of an order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProximityRule {
    /// Closer than this raises `proximity_alarm` (metres).
    pub alarm_m: f64,
    /// Closer than this raises `proximity_prealarm`; must exceed `alarm_m` (metres).
    pub prealarm_m: f64,
}

/// One exclusion zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneBody {
    /// Unique within the order; named in the zone's alerts.
    pub id: ZoneId,
    /// The area: a point (with `radius_m`), a polygon or a multipolygon.
    pub geometry: Geometry,
    /// Radius around a point geometry (metres); only for points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    /// How far outside the zone `zone_prealarm` starts (metres, > 0).
    pub prealarm_m: f64,
}

/// The GeoJSON geometries a zone may have, positions as `[lon, lat]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(tag = "type", content = "coordinates")]
pub enum Geometry {
    /// The centre of a circle zone.
    Point(Vec<f64>),
    /// An outer ring followed by its holes; each ring closed (first position = last).
    Polygon(Vec<Vec<Vec<f64>>>),
    /// Several polygons, each an outer ring followed by its holes.
    MultiPolygon(Vec<Vec<Vec<Vec<f64>>>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_round_trips() {
        let text = r#"{"id":"order-17","region":"rotterdam","exercise":false,
 "victim_devices":["v-17"],"perpetrator_devices":["p-17"],
 "proximity":{"alarm_m":1000,"prealarm_m":2000},
 "zones":[{"id":"home","geometry":{"type":"Point","coordinates":[4.4792,51.9225]},"radius_m":250,"prealarm_m":750},
          {"id":"work","geometry":{"type":"Polygon","coordinates":[[[4.46,51.91],[4.47,51.91],[4.47,51.92],[4.46,51.92],[4.46,51.91]]]},"prealarm_m":500}],
 "valid_until":"2027-06-01T00:00:00Z"}"#;
        let body: OrderBody = serde_json::from_str(text).unwrap();
        assert_eq!(body.zones.len(), 2);
        assert!(
            matches!(body.zones[1].geometry, Geometry::Polygon(ref rings) if rings[0].len() == 5)
        );
        let again: OrderBody =
            serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(again, body);
    }

    #[test]
    fn exercise_and_zones_default_when_absent() {
        let body: OrderBody = serde_json::from_str(
            r#"{"region":"r","victim_devices":["v"],"perpetrator_devices":["p"]}"#,
        )
        .unwrap();
        assert!(!body.exercise);
        assert!(body.zones.is_empty() && body.id.is_none());
        assert_eq!(body.warn_perpetrator, WarnPerpetrator::Zones);
    }

    #[test]
    fn warn_perpetrator_is_zones_or_all() {
        let with = |value: &str| {
            serde_json::from_str::<OrderBody>(&format!(
                r#"{{"region":"r","victim_devices":["v"],"perpetrator_devices":["p"],"warn_perpetrator":{value}}}"#
            ))
            .map(|body| body.warn_perpetrator)
        };
        assert_eq!(with(r#""zones""#).unwrap(), WarnPerpetrator::Zones);
        assert_eq!(with(r#""all""#).unwrap(), WarnPerpetrator::All);
        for bad in [r#""proximity""#, r#""All""#, "true", "null"] {
            assert!(with(bad).is_err(), "{bad} is refused");
        }
    }
}
