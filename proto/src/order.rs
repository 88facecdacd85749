//! The protection order body of the HTTP API (docs/api.md#orders).
//!
//! These are plain wire shapes: serde reads any well-typed body, and the
//! engine's `Order::validate` decides whether it makes sense (closed rings,
//! prealarm beyond alarm, devices on both sides, ...), naming the field at fault.

use std::fmt;
use std::ops::{Deref, DerefMut};

use schemars::JsonSchema;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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
    /// Exclusion zones the perpetrator must stay out of: an array of zone
    /// bodies, or a GeoJSON FeatureCollection as GIS tools export it.
    #[serde(default)]
    pub zones: Zones,
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

/// An order's exclusion zones as zone bodies, whichever of the two forms the
/// body gave them in; both mean the same zones, and each is written back in
/// the form it came in.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, ToSchema)]
#[serde(untagged)]
pub enum Zones {
    /// An array of zone bodies.
    List(Vec<ZoneBody>),
    /// A GeoJSON FeatureCollection (RFC 7946), one feature per zone, in
    /// the order of its features.
    #[serde(serialize_with = "as_feature_collection")]
    #[schemars(with = "FeatureCollection")]
    #[schema(value_type = FeatureCollection)]
    FeatureCollection(Vec<ZoneBody>),
}

/// A member of a zone body, to name it in an error wherever the body's form put it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneMember {
    /// `id`.
    Id,
    /// `geometry`.
    Geometry,
    /// `radius_m`.
    RadiusM,
    /// `prealarm_m`.
    PrealarmM,
}

impl ZoneMember {
    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Geometry => "geometry",
            Self::RadiusM => "radius_m",
            Self::PrealarmM => "prealarm_m",
        }
    }
}

impl Zones {
    /// The JSON path of the zones' list in the body: `zones` or `zones.features`.
    pub fn path(&self) -> &'static str {
        match self {
            Self::List(_) => "zones",
            Self::FeatureCollection(_) => "zones.features",
        }
    }

    /// The JSON path of `member` of zone `index` in the body, e.g.
    /// `zones[2].prealarm_m` or `zones.features[2].properties.prealarm_m`.
    pub fn member_path(&self, index: usize, member: ZoneMember) -> String {
        let (list, name) = (self.path(), member.name());
        match (self, member) {
            (Self::List(_), _) | (Self::FeatureCollection(_), ZoneMember::Geometry) => {
                format!("{list}[{index}].{name}")
            }
            (Self::FeatureCollection(_), _) => format!("{list}[{index}].properties.{name}"),
        }
    }
}

impl Default for Zones {
    fn default() -> Self {
        Self::List(Vec::new())
    }
}

impl From<Vec<ZoneBody>> for Zones {
    fn from(zones: Vec<ZoneBody>) -> Self {
        Self::List(zones)
    }
}

impl Deref for Zones {
    type Target = [ZoneBody];

    fn deref(&self) -> &[ZoneBody] {
        match self {
            Self::List(zones) | Self::FeatureCollection(zones) => zones,
        }
    }
}

impl DerefMut for Zones {
    fn deref_mut(&mut self) -> &mut [ZoneBody] {
        match self {
            Self::List(zones) | Self::FeatureCollection(zones) => zones,
        }
    }
}

/// Reads an array as [`Zones::List`] and an object as
/// [`Zones::FeatureCollection`], so that a parse error keeps the path of the
/// member at fault, which serde's untagged enums would lose.
impl<'de> Deserialize<'de> for Zones {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ZonesVisitor)
    }
}

struct ZonesVisitor;

impl<'de> Visitor<'de> for ZonesVisitor {
    type Value = Zones;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of zones or a GeoJSON FeatureCollection")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Zones, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Zones::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Zones, A::Error> {
        let collection = FeatureCollection::deserialize(MapAccessDeserializer::new(map))?;
        let zones = collection.features.into_iter().map(ZoneBody::from);
        Ok(Zones::FeatureCollection(zones.collect()))
    }
}

fn as_feature_collection<S: Serializer>(
    zones: &[ZoneBody],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    FeatureCollection {
        kind: CollectionType::FeatureCollection,
        features: zones.iter().cloned().map(Feature::from).collect(),
    }
    .serialize(serializer)
}

/// Zones as a GeoJSON FeatureCollection (RFC 7946), the form GIS tools
/// export, positions in WGS 84; members beyond these are refused, `crs` among
/// them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: CollectionType,
    /// One feature per zone.
    pub features: Vec<Feature>,
}

/// The `type` member of a GeoJSON FeatureCollection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub enum CollectionType {
    /// RFC 7946's name for a collection of features.
    FeatureCollection,
}

/// One zone as a GeoJSON Feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// `Feature`.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// The zone's area; required.
    pub geometry: Geometry,
    /// The zone's other members.
    pub properties: ZoneProperties,
}

/// The `type` member of a GeoJSON Feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub enum FeatureType {
    /// RFC 7946's name for a feature.
    Feature,
}

/// The properties of a zone feature: those of a zone body but its geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneProperties {
    /// Unique within the order; named in the zone's alerts.
    pub id: ZoneId,
    /// Radius around a point geometry (metres); only for points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    /// How far outside the zone `zone_prealarm` starts (metres, > 0).
    pub prealarm_m: f64,
}

impl From<Feature> for ZoneBody {
    fn from(feature: Feature) -> Self {
        let ZoneProperties {
            id,
            radius_m,
            prealarm_m,
        } = feature.properties;
        Self {
            id,
            geometry: feature.geometry,
            radius_m,
            prealarm_m,
        }
    }
}

impl From<ZoneBody> for Feature {
    fn from(zone: ZoneBody) -> Self {
        Self {
            kind: FeatureType::Feature,
            geometry: zone.geometry,
            properties: ZoneProperties {
                id: zone.id,
                radius_m: zone.radius_m,
                prealarm_m: zone.prealarm_m,
            },
        }
    }
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

    /// The spec example's zones as a GeoJSON FeatureCollection.
    const FEATURES: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[4.4792,51.9225]},"properties":{"id":"home","radius_m":250.0,"prealarm_m":750.0}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[4.46,51.91],[4.47,51.91],[4.47,51.92],[4.46,51.92],[4.46,51.91]]]},"properties":{"id":"work","prealarm_m":500.0}}]}"#;

    const ARRAY: &str = r#"[
 {"id":"home","geometry":{"type":"Point","coordinates":[4.4792,51.9225]},"radius_m":250.0,"prealarm_m":750.0},
 {"id":"work","geometry":{"type":"Polygon","coordinates":[[[4.46,51.91],[4.47,51.91],[4.47,51.92],[4.46,51.92],[4.46,51.91]]]},"prealarm_m":500.0}]"#;

    fn order_with_zones(zones: &str) -> String {
        format!(
            r#"{{"region":"r","victim_devices":["v"],"perpetrator_devices":["p"],"zones":{zones}}}"#
        )
    }

    /// The path and message of the error reading an order whose `zones` are `zones`.
    fn refused(zones: &str) -> (String, String) {
        let text = order_with_zones(zones);
        let mut deserializer = serde_json::Deserializer::from_str(&text);
        let err = serde_path_to_error::deserialize::<_, OrderBody>(&mut deserializer).unwrap_err();
        (err.path().to_string(), err.inner().to_string())
    }

    fn feature(geometry: &str, properties: &str) -> String {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","geometry":{geometry},"properties":{properties}}}]}}"#
        )
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[4.46,51.91],[4.47,51.91],[4.47,51.92],[4.46,51.92],[4.46,51.91]]]}"#;

    #[test]
    fn a_feature_collection_reads_as_the_same_zone_bodies_as_the_array() {
        let features: OrderBody = serde_json::from_str(&order_with_zones(FEATURES)).unwrap();
        let array: OrderBody = serde_json::from_str(&order_with_zones(ARRAY)).unwrap();
        assert!(matches!(features.zones, Zones::FeatureCollection(_)));
        assert!(matches!(array.zones, Zones::List(_)));
        assert_eq!(*features.zones, *array.zones);
    }

    #[test]
    fn a_feature_collection_is_written_back_as_a_feature_collection() {
        let body: OrderBody = serde_json::from_str(&order_with_zones(FEATURES)).unwrap();
        let written = serde_json::to_value(&body).unwrap();
        let given: serde_json::Value = serde_json::from_str(FEATURES).unwrap();
        assert_eq!(written["zones"], given);
    }

    #[test]
    fn a_zone_array_is_written_back_as_an_array() {
        let body: OrderBody = serde_json::from_str(&order_with_zones(ARRAY)).unwrap();
        let written = serde_json::to_value(&body).unwrap();
        let given: serde_json::Value = serde_json::from_str(ARRAY).unwrap();
        assert_eq!(written["zones"], given);
    }

    #[test]
    fn an_empty_feature_collection_is_no_zones() {
        let body: OrderBody = serde_json::from_str(&order_with_zones(
            r#"{"type":"FeatureCollection","features":[]}"#,
        ))
        .unwrap();
        assert!(body.zones.is_empty());
    }

    #[test]
    fn zones_that_are_neither_an_array_nor_an_object_are_refused_naming_zones() {
        let (path, message) = refused(r#""home""#);
        assert_eq!(path, "zones");
        assert!(message.contains("FeatureCollection"), "{message}");
    }

    #[test]
    fn an_object_of_another_type_is_refused_naming_its_type() {
        let (path, message) = refused(SQUARE);
        assert_eq!(path, "zones.type");
        assert!(message.contains("Polygon"), "{message}");
    }

    #[test]
    fn a_feature_of_another_type_is_refused_naming_its_type() {
        let zones = feature(SQUARE, r#"{"id":"a","prealarm_m":5}"#)
            .replace(r#""type":"Feature","#, r#""type":"Point","#);
        assert_eq!(refused(&zones).0, "zones.features[0].type");
    }

    #[test]
    fn a_feature_without_geometry_is_refused_naming_it() {
        let (path, message) = refused(&feature("null", r#"{"id":"a","prealarm_m":5}"#));
        assert_eq!(path, "zones.features[0].geometry");
        assert!(message.contains("null"), "{message}");
        let zones = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"a","prealarm_m":5}}]}"#;
        let (path, message) = refused(zones);
        assert_eq!(path, "zones.features[0]");
        assert!(message.contains("geometry"), "{message}");
    }

    #[test]
    fn a_line_string_feature_is_refused_naming_its_geometry() {
        let line = r#"{"type":"LineString","coordinates":[[4.46,51.91],[4.47,51.91]]}"#;
        let (path, message) = refused(&feature(line, r#"{"id":"a","prealarm_m":5}"#));
        assert!(path.starts_with("zones.features[0].geometry"), "{path}");
        assert!(message.contains("LineString"), "{message}");
    }

    #[test]
    fn unknown_members_of_a_feature_collection_are_refused_naming_them() {
        let properties = r#"{"id":"a","prealarm_m":5}"#;
        let crs = feature(SQUARE, properties).replace(
            r#"{"type":"FeatureCollection","#,
            r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:28992"}},"#,
        );
        let (path, message) = refused(&crs);
        assert_eq!(path, "zones.crs");
        assert!(message.contains("unknown field `crs`"), "{message}");
        let feature_id = feature(SQUARE, properties)
            .replace(r#"{"type":"Feature","#, r#"{"type":"Feature","id":7,"#);
        assert_eq!(refused(&feature_id).0, "zones.features[0].id");
        let extra = feature(SQUARE, r#"{"id":"a","prealarm_m":5,"name":"school"}"#);
        assert_eq!(refused(&extra).0, "zones.features[0].properties.name");
    }

    #[test]
    fn a_feature_without_id_or_prealarm_m_is_refused_naming_its_properties() {
        for properties in [r#"{"prealarm_m":5}"#, r#"{"id":"a"}"#, "null"] {
            let (path, _) = refused(&feature(SQUARE, properties));
            assert_eq!(path, "zones.features[0].properties", "{properties}");
        }
    }

    #[test]
    fn coordinates_nested_deeper_than_the_geometry_are_refused_naming_them() {
        let deep = format!(
            r#"{{"type":"Polygon","coordinates":[[[{}4.46{}]]]}}"#,
            "[".repeat(64),
            "]".repeat(64)
        );
        let (path, message) = refused(&feature(&deep, r#"{"id":"a","prealarm_m":5}"#));
        assert!(
            path.starts_with("zones.features[0].geometry.coordinates[0][0][0]"),
            "{path}"
        );
        assert!(message.contains("invalid type"), "{message}");
    }

    #[test]
    fn member_paths_name_the_feature_and_its_properties() {
        let features: OrderBody = serde_json::from_str(&order_with_zones(FEATURES)).unwrap();
        let array: OrderBody = serde_json::from_str(&order_with_zones(ARRAY)).unwrap();
        assert_eq!(features.zones.path(), "zones.features");
        assert_eq!(array.zones.path(), "zones");
        let cases = [
            (
                ZoneMember::Id,
                "zones.features[1].properties.id",
                "zones[1].id",
            ),
            (
                ZoneMember::Geometry,
                "zones.features[1].geometry",
                "zones[1].geometry",
            ),
            (
                ZoneMember::RadiusM,
                "zones.features[1].properties.radius_m",
                "zones[1].radius_m",
            ),
            (
                ZoneMember::PrealarmM,
                "zones.features[1].properties.prealarm_m",
                "zones[1].prealarm_m",
            ),
        ];
        for (member, in_features, in_array) in cases {
            assert_eq!(features.zones.member_path(1, member), in_features);
            assert_eq!(array.zones.member_path(1, member), in_array);
        }
    }

    #[test]
    fn the_json_schema_offers_zones_as_an_array_or_a_feature_collection() {
        let schema = serde_json::to_value(schemars::schema_for!(OrderBody)).unwrap();
        let forms = &schema["$defs"]["Zones"]["anyOf"];
        assert_eq!(forms[0]["items"]["$ref"], "#/$defs/ZoneBody");
        assert_eq!(forms[1]["$ref"], "#/$defs/FeatureCollection");
        let feature = &schema["$defs"]["Feature"];
        assert_eq!(feature["additionalProperties"], false);
        assert_eq!(
            feature["properties"]["geometry"]["$ref"],
            "#/$defs/Geometry"
        );
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
