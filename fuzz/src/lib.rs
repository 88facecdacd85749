//! What the fuzz targets share: the device and clock a message is decoded
//! against, and the checks an order that the API admits must pass.

use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use vangnet_engine::Order;
use vangnet_proto::order::{Geometry, OrderBody, Position};
use vangnet_proto::{DeviceId, OrderId, TimestampMs};
use vangnet_server::api::orders::validated;

/// The receive time every message is decoded at: a fixed clock keeps a run
/// repeatable, and `ts` values around it reach the future-skew check.
pub const NOW: TimestampMs = TimestampMs(1_764_331_300_000);

/// The device whose topic every uplink arrives on.
pub fn device() -> DeviceId {
    DeviceId::parse("v-17", "device").unwrap_or_else(|err| panic!("{err}"))
}

/// Runs `body` through the API's admission of a new order (the id it
/// gives or one the server would make) and, when it is admitted, checks what
/// must then hold: the stored bytes read back as the same body, the stored
/// order loads again, and every zone is valid geometry by geo's own,
/// exhaustive, validation.
pub fn admit(body: OrderBody) -> Option<OrderBody> {
    let id = body
        .id
        .clone()
        .unwrap_or_else(|| OrderId::new("order-fuzz"));
    let (body, stored) = validated(body, id).ok()?;
    let again: OrderBody = serde_json::from_slice(&stored)
        .unwrap_or_else(|err| panic!("a stored order does not read back: {err}"));
    assert_eq!(again, body, "a stored order reads back as another");
    if let Err(err) = Order::load(&again) {
        panic!("an admitted order does not load: {err}");
    }
    for (i, zone) in body.zones.iter().enumerate() {
        if let Some(problem) = geometry_problem(&zone.geometry) {
            panic!("zone {i} was admitted but geo finds it invalid: {problem}");
        }
    }
    Some(body)
}

/// Why geo's validation refuses a polygon or multipolygon, if it does.
fn geometry_problem(geometry: &Geometry) -> Option<String> {
    match geometry {
        Geometry::Point(_) => None,
        Geometry::Polygon(rings) => polygon(rings)
            .check_validation()
            .err()
            .map(|e| e.to_string()),
        Geometry::MultiPolygon(polygons) => {
            MultiPolygon::new(polygons.iter().map(|p| polygon(p)).collect())
                .check_validation()
                .err()
                .map(|e| e.to_string())
        }
    }
}

fn polygon(rings: &[Vec<Position>]) -> Polygon<f64> {
    let mut rings = rings.iter().map(|ring| line_string(ring));
    let exterior = rings.next().unwrap_or_else(|| LineString::new(Vec::new()));
    Polygon::new(exterior, rings.collect())
}

fn line_string(ring: &[Position]) -> LineString<f64> {
    ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect()
}
