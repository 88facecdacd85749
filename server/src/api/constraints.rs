//! What the server checks in requests, written into the OpenAPI document
//! where the handlers' annotations cannot say it: id patterns, positive
//! distances, coordinate ranges, ring sizes, devices listed once, a radius
//! for points only. Each entry is a JSON merge patch (RFC 7396) on one place
//! of the generated document. What JSON Schema cannot say (a closed ring
//! that does not cross itself, `prealarm_m` beyond `alarm_m`, `valid_until`
//! after `valid_from`, a device on both sides) stays in the descriptions
//! and is answered 422.

use serde_json::{Value, json};
use utoipa::openapi::OpenApi;
use vangnet_engine::order::{MAX_ZONE_VERTICES, MAX_ZONES};
use vangnet_proto::UTC_TIME_PATTERN;

use crate::store::EVENT_ID_PATTERN;

/// Ids of orders, zones and devices: what MQTT topics allow.
const ID_PATTERN: &str = "^[A-Za-z0-9_.-]{1,64}$";
/// A string that is not empty nor only whitespace (Rust's `White_Space`, which `trim` removes).
const NOT_BLANK: &str = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A place in the document (a JSON pointer) and the merge patch applied there.
type Patch = (&'static str, Value);

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Metres that must be a positive number.
fn metres(description: &str) -> Value {
    json!({ "type": "number", "format": "double", "exclusiveMinimum": 0, "description": description })
}

/// The shapes of zones and their geometries, as new components.
fn geometry_components() -> Value {
    let geometry = |kind: &str, coordinates: Value, description: &str| {
        json!({
            "type": "object",
            "description": description,
            "required": ["type", "coordinates"],
            "properties": {
                "type": { "type": "string", "enum": [kind] },
                "coordinates": coordinates,
            },
        })
    };
    let prealarm = metres("How far outside the zone `zone_prealarm` starts (metres).");
    let radius = metres("Radius around the point (metres).");
    let zone = |geometry: Value, radius: Option<&Value>, description: &str| {
        let mut properties = json!({
            "id": schema("ZoneId"),
            "geometry": geometry,
            "prealarm_m": prealarm,
        });
        let mut required = vec!["id", "geometry", "prealarm_m"];
        match radius {
            Some(radius) => {
                properties["radius_m"] = radius.clone();
                required.push("radius_m");
            }
            None => properties["radius_m"] = json!({ "type": "null" }),
        }
        json!({
            "type": "object",
            "description": description,
            "required": required,
            "properties": properties,
            "additionalProperties": false,
        })
    };
    let area = json!({ "oneOf": [schema("PolygonGeometry"), schema("MultiPolygonGeometry")] });
    let properties = |radius: Option<&Value>, description: &str| {
        let mut properties = zone(Value::Null, radius, description);
        properties["properties"]
            .as_object_mut()
            .map(|members| members.remove("geometry"));
        properties["required"] = json!(if radius.is_some() {
            vec!["id", "radius_m", "prealarm_m"]
        } else {
            vec!["id", "prealarm_m"]
        });
        properties
    };
    let feature = |geometry: Value, properties: &str, description: &str| {
        json!({
            "type": "object",
            "description": description,
            "required": ["type", "geometry", "properties"],
            "properties": {
                "type": schema("FeatureType"),
                "geometry": geometry,
                "properties": schema(properties),
            },
            "additionalProperties": false,
        })
    };
    json!({
        "Position": {
            "type": "array",
            "description": "A GeoJSON position: `[lon, lat]`, optionally followed by an altitude that is ignored.",
            "prefixItems": [
                { "type": "number", "format": "double", "minimum": -180, "maximum": 180, "description": "Longitude (degrees)" },
                { "type": "number", "format": "double", "minimum": -90, "maximum": 90, "description": "Latitude (degrees)" },
            ],
            "items": { "type": "number", "format": "double" },
            "minItems": 2,
            "maxItems": 3,
        },
        "LinearRing": {
            "type": "array",
            "description": "A closed ring: its last position is its first; it encloses an area and does not cross itself. A zone has at most 10 000 positions over all its rings.",
            "items": schema("Position"),
            "minItems": 4,
            "maxItems": MAX_ZONE_VERTICES,
        },
        "PolygonCoordinates": {
            "type": "array",
            "description": "An outer ring followed by its holes, each inside the outer ring; rings neither overlap nor share an edge.",
            "items": schema("LinearRing"),
            "minItems": 1,
        },
        "PointGeometry": geometry("Point", schema("Position"), "The centre of a circle zone."),
        "PolygonGeometry": geometry("Polygon", schema("PolygonCoordinates"), "A polygon, possibly with holes."),
        "MultiPolygonGeometry": geometry(
            "MultiPolygon",
            json!({ "type": "array", "items": schema("PolygonCoordinates"), "minItems": 1 }),
            "Several polygons, which neither overlap nor share an edge.",
        ),
        "PointZone": zone(schema("PointGeometry"), Some(&radius), "A circle zone: a point and its radius."),
        "AreaZone": zone(area.clone(), None, "A polygon or multipolygon zone; it has no radius."),
        "PointZoneProperties": properties(Some(&radius), "The properties of a circle zone's feature."),
        "AreaZoneProperties": properties(None, "The properties of a polygon or multipolygon zone's feature."),
        "PointFeature": feature(schema("PointGeometry"), "PointZoneProperties", "A circle zone as a GeoJSON Feature."),
        "AreaFeature": feature(area, "AreaZoneProperties", "A polygon or multipolygon zone as a GeoJSON Feature."),
        "ZoneProperties": null,
    })
}

/// Replaces a generated schema by `replacement`, dropping the members it does not name.
fn replaced(replacement: Value) -> Value {
    let mut patch = json!({
        "type": null, "required": null, "properties": null, "additionalProperties": null,
        "oneOf": null, "items": null, "format": null, "$ref": null,
    });
    if let (Value::Object(patch), Value::Object(members)) = (&mut patch, replacement) {
        patch.extend(members);
    }
    patch
}

fn patches() -> Vec<Patch> {
    let id = json!({ "type": "string", "pattern": ID_PATTERN, "minLength": 1, "maxLength": 64 });
    let devices = json!({ "minItems": 1, "uniqueItems": true });
    let order_id = json!({
        "allOf": [schema("OrderId")],
        "not": { "const": "import" },
        "description": "The order's id; the server assigns one when absent. `import` names the bulk import endpoint.",
    });
    vec![
        ("/components/schemas", geometry_components()),
        ("/components/schemas/OrderId", id.clone()),
        ("/components/schemas/ZoneId", id),
        (
            "/components/schemas/UtcTime",
            json!({ "pattern": UTC_TIME_PATTERN }),
        ),
        (
            "/components/schemas/OrderBody/properties",
            json!({
                "id": replaced(json!({ "oneOf": [order_id, { "type": "null" }] })),
                "region": { "pattern": NOT_BLANK },
                "victim_devices": devices,
                "perpetrator_devices": devices,
            }),
        ),
        (
            "/components/schemas/OrderBody",
            json!({ "description": "A protection order as the API receives and returns it. Beyond this schema: no device is both a victim's and a perpetrator's, zone ids are unique within the order, and `valid_until` is after `valid_from`." }),
        ),
        (
            "/components/schemas/ProximityRule/properties",
            json!({
                "alarm_m": { "exclusiveMinimum": 0 },
                "prealarm_m": { "exclusiveMinimum": 0 },
            }),
        ),
        (
            "/components/schemas/Zones/oneOf/0",
            json!({ "maxItems": MAX_ZONES }),
        ),
        (
            "/components/schemas/FeatureCollection/properties/features",
            json!({ "maxItems": MAX_ZONES }),
        ),
        (
            "/components/schemas/ZoneBody",
            replaced(json!({ "oneOf": [schema("PointZone"), schema("AreaZone")] })),
        ),
        (
            "/components/schemas/Feature",
            replaced(json!({ "oneOf": [schema("PointFeature"), schema("AreaFeature")] })),
        ),
        (
            "/components/schemas/Geometry",
            replaced(json!({
                "oneOf": [schema("PointGeometry"), schema("PolygonGeometry"), schema("MultiPolygonGeometry")],
            })),
        ),
        (
            "/components/schemas/ActBody",
            json!({ "additionalProperties": false }),
        ),
        (
            "/paths/~1api~1v1~1alerts~1{id}~1{action}/post/requestBody",
            json!({
                "required": false,
                "content": { "application/json": { "schema": replaced(schema("ActBody")) } },
            }),
        ),
        (
            "/paths/~1api~1v1~1orders~1import/post/requestBody/content/application~1json/schema/items",
            replaced(json!({
                "allOf": [schema("OrderBody")],
                "required": ["id"],
                "properties": { "id": { "$ref": "#/components/schemas/OrderId", "not": { "const": "import" } } },
                "description": "An order with its id; no two orders of one import have the same id.",
            })),
        ),
        (
            "/paths/~1api~1v1~1audit/get/parameters/0/schema",
            json!({ "format": null, "maximum": u64::MAX }),
        ),
        (
            "/paths/~1api~1v1~1alerts~1stream/get/parameters/1/schema",
            replaced(json!({ "type": "string", "pattern": EVENT_ID_PATTERN })),
        ),
    ]
}

/// Applies an RFC 7396 merge patch to `target`.
fn merge(target: &mut Value, patch: Value) {
    let Value::Object(members) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(target) = target {
        for (name, value) in members {
            if value.is_null() {
                target.remove(&name);
            } else {
                merge(target.entry(name).or_insert(Value::Null), value);
            }
        }
    }
}

/// Why the constraints could not be written into the document.
#[derive(Debug, thiserror::Error)]
pub enum ConstraintError {
    /// A patch names a place the generated document does not have.
    #[error("the OpenAPI document has no {0}")]
    Missing(&'static str),
    /// The generated document is not JSON.
    #[error("the OpenAPI document is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `document` as JSON, with the server's checks written into its schemas.
pub fn constrained(document: &OpenApi) -> Result<Value, ConstraintError> {
    let mut value = serde_json::to_value(document)?;
    for (pointer, patch) in patches() {
        let target = value
            .pointer_mut(pointer)
            .ok_or(ConstraintError::Missing(pointer))?;
        merge(target, patch);
    }
    Ok(value)
}
