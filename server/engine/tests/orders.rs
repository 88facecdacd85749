//! Order validation: every invalid body is refused with the path of the
//! field at fault, and a valid one keeps everything it said.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vangnet_engine::order::MAX_ZONES;
use vangnet_engine::order::Shape;
use vangnet_engine::{Order, OrderError, Problem, Sibling};
use vangnet_proto::order::{Geometry, OrderBody, Zones};
use vangnet_proto::{OrderId, ZoneId};

fn refused(body: &OrderBody) -> (String, Problem) {
    let OrderError { field, problem } = Order::validate(body).unwrap_err();
    (field, problem)
}

fn with_polygon(rings: Vec<Vec<Vec<f64>>>) -> OrderBody {
    let mut body = order(
        "o1",
        Some((1000.0, 2000.0)),
        vec![square("work", 0.0, 0.0, 100.0, 500.0)],
    );
    body.zones[0].geometry = Geometry::Polygon(rings);
    body
}

fn ring(points: &[(f64, f64)]) -> Vec<Vec<f64>> {
    points
        .iter()
        .map(|(x, y)| vec![4.46 + x / 100.0, 51.91 + y / 100.0])
        .collect()
}

#[test]
fn the_spec_example_is_valid_and_kept_whole() {
    let body = order(
        "order-17",
        Some((1000.0, 2000.0)),
        vec![
            circle("home", 0.0, 0.0, 250.0, 750.0),
            square("work", 2_000.0, 0.0, 400.0, 500.0),
        ],
    );
    let order = Order::validate(&body).unwrap();
    assert_eq!(order.id, OrderId::new("order-17"));
    assert_eq!(order.zones.len(), 2);
    assert!(matches!(order.zones[0].shape, Shape::Circle(_)));
    assert!(matches!(order.zones[1].shape, Shape::Area(_)));
    assert_eq!(order.proximity.unwrap().prealarm_m, 2000.0);
}

#[test]
fn an_order_needs_an_id_a_region_and_both_sides() {
    let mut body = zone_order();
    body.id = None;
    assert_eq!(refused(&body), ("id".into(), Problem::Missing));
    let mut body = zone_order();
    body.region = " ".into();
    assert_eq!(refused(&body), ("region".into(), Problem::Empty));
    let mut body = zone_order();
    body.victim_devices.clear();
    assert_eq!(refused(&body), ("victim_devices".into(), Problem::Empty));
    let mut body = zone_order();
    body.perpetrator_devices.clear();
    assert_eq!(
        refused(&body),
        ("perpetrator_devices".into(), Problem::Empty)
    );
}

#[test]
fn a_device_cannot_be_both_victim_and_perpetrator() {
    let mut body = zone_order();
    body.perpetrator_devices.push(dev("v1"));
    assert_eq!(
        refused(&body),
        ("perpetrator_devices[1]".into(), Problem::OnBothSides)
    );
}

#[test]
fn prealarm_must_be_greater_than_alarm() {
    let body = order("o1", Some((1000.0, 1000.0)), Vec::new());
    assert_eq!(
        refused(&body),
        (
            "proximity.prealarm_m".into(),
            Problem::PrealarmNotBeyondAlarm
        )
    );
}

#[test]
fn radius_must_be_positive_and_only_on_points() {
    let mut body = zone_order();
    body.zones[0].radius_m = Some(0.0);
    assert_eq!(
        refused(&body),
        ("zones[0].radius_m".into(), Problem::NotPositive)
    );
    let mut body = order("o1", None, vec![square("work", 0.0, 0.0, 100.0, 500.0)]);
    body.zones[0].radius_m = Some(50.0);
    assert_eq!(
        refused(&body),
        ("zones[0].radius_m".into(), Problem::RadiusOnlyForPoints)
    );
}

#[test]
fn zone_prealarm_must_be_positive() {
    let mut body = zone_order();
    body.zones[0].prealarm_m = 0.0;
    assert_eq!(
        refused(&body),
        ("zones[0].prealarm_m".into(), Problem::NotPositive)
    );
}

#[test]
fn zone_ids_are_unique() {
    let body = order(
        "o1",
        None,
        vec![
            circle("home", 0.0, 0.0, 250.0, 750.0),
            circle("home", 9.0, 0.0, 5.0, 5.0),
        ],
    );
    assert_eq!(refused(&body), ("zones[1].id".into(), Problem::Duplicate));
}

#[test]
fn coordinates_out_of_range_are_named() {
    let mut body = zone_order();
    body.zones[0].geometry = Geometry::Point(vec![4.4, 91.0]);
    assert_eq!(
        refused(&body),
        (
            "zones[0].geometry.coordinates".into(),
            Problem::LatitudeOutOfRange
        )
    );
    let mut corners = ring(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]);
    corners[2][0] = 181.0;
    assert_eq!(
        refused(&with_polygon(vec![corners])),
        (
            "zones[0].geometry.coordinates[0][2]".into(),
            Problem::LongitudeOutOfRange
        )
    );
}

#[test]
fn degenerate_rings_are_refused() {
    let short = ring(&[(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]);
    assert_eq!(
        refused(&with_polygon(vec![short])).1,
        Problem::TooFewPositions
    );
    let open = ring(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
    assert_eq!(
        refused(&with_polygon(vec![open])),
        (
            "zones[0].geometry.coordinates[0][3]".into(),
            Problem::RingNotClosed
        )
    );
    let flat = ring(&[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.0, 0.0)]);
    assert_eq!(refused(&with_polygon(vec![flat])).1, Problem::ZeroArea);
}

#[test]
fn self_intersecting_rings_are_refused() {
    let outer = ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]);
    let bow_tie = ring(&[(1.0, 1.0), (3.0, 3.0), (3.0, 1.0), (1.0, 2.0), (1.0, 1.0)]);
    assert_eq!(
        refused(&with_polygon(vec![outer, bow_tie])),
        (
            "zones[0].geometry.coordinates[1][0]".into(),
            Problem::SelfIntersecting(2)
        )
    );
}

#[test]
fn non_finite_coordinates_are_refused() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut corners = ring(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]);
        corners[2][1] = bad;
        assert_eq!(
            refused(&with_polygon(vec![corners])),
            (
                "zones[0].geometry.coordinates[0][2]".into(),
                Problem::NotAPosition
            )
        );
    }
}

fn square_ring(x: f64, y: f64, side: f64) -> Vec<Vec<f64>> {
    ring(&[
        (x, y),
        (x + side, y),
        (x + side, y + side),
        (x, y + side),
        (x, y),
    ])
}

#[test]
fn holes_must_lie_inside_the_outer_ring() {
    let outer = square_ring(0.0, 0.0, 4.0);
    for hole in [square_ring(5.0, 5.0, 1.0), square_ring(3.0, 1.0, 2.0)] {
        let error = Order::validate(&with_polygon(vec![outer.clone(), hole])).unwrap_err();
        assert_eq!(
            (error.field.as_str(), &error.problem),
            ("zones[0].geometry.coordinates[1]", &Problem::HoleOutside)
        );
        assert_eq!(
            error.to_string(),
            "zones[0].geometry.coordinates[1]: the hole is not inside the outer ring"
        );
    }
}

#[test]
fn rings_may_meet_only_at_points() {
    let outer = square_ring(0.0, 0.0, 4.0);
    let hole = square_ring(1.0, 1.0, 1.0);
    let corner_to_corner = square_ring(2.0, 2.0, 1.0);
    assert!(
        Order::validate(&with_polygon(vec![
            outer.clone(),
            hole.clone(),
            corner_to_corner
        ]))
        .is_ok()
    );
    assert_eq!(
        refused(&with_polygon(vec![
            outer.clone(),
            hole.clone(),
            square_ring(1.5, 1.5, 1.0)
        ])),
        (
            "zones[0].geometry.coordinates[2]".into(),
            Problem::Overlaps(Sibling::Ring(1))
        )
    );
    assert_eq!(
        refused(&with_polygon(vec![
            outer.clone(),
            hole,
            square_ring(2.0, 1.0, 1.0)
        ])),
        (
            "zones[0].geometry.coordinates[2]".into(),
            Problem::SharesEdge(Sibling::Ring(1))
        )
    );
    assert_eq!(
        refused(&with_polygon(vec![outer, square_ring(0.0, 1.0, 1.0)])),
        (
            "zones[0].geometry.coordinates[1]".into(),
            Problem::SharesEdge(Sibling::Ring(0))
        )
    );
}

#[test]
fn the_polygons_of_a_multipolygon_may_meet_only_at_points() {
    let mut body = zone_order();
    body.zones[0].radius_m = None;
    let mut refused_parts = |parts: Vec<Vec<Vec<Vec<f64>>>>| {
        body.zones[0].geometry = Geometry::MultiPolygon(parts);
        Order::validate(&body).err().map(|e| (e.field, e.problem))
    };
    let lake = vec![square_ring(0.0, 0.0, 4.0), square_ring(1.0, 1.0, 2.0)];
    let island = vec![square_ring(1.5, 1.5, 1.0)];
    let corner = vec![square_ring(4.0, 4.0, 1.0)];
    assert_eq!(refused_parts(vec![lake.clone(), island, corner]), None);
    assert_eq!(
        refused_parts(vec![lake.clone(), vec![square_ring(3.0, 3.0, 2.0)]]),
        Some((
            "zones[0].geometry.coordinates[1]".into(),
            Problem::Overlaps(Sibling::Polygon(0))
        ))
    );
    let beside = vec![square_ring(4.0, 0.0, 1.0)];
    let error = {
        body.zones[0].geometry = Geometry::MultiPolygon(vec![lake, beside]);
        Order::validate(&body).unwrap_err()
    };
    assert_eq!(
        error.to_string(),
        "zones[0].geometry.coordinates[1]: runs along an edge of polygon 0; \
         rings and polygons may meet only at points"
    );
}

#[test]
fn more_than_10000_vertices_in_a_zone_are_refused() {
    let big: Vec<(f64, f64)> = (0..=10_001)
        .map(|i| {
            let a = f64::from(i % 10_001) / 10_001.0 * std::f64::consts::TAU;
            (a.cos(), a.sin())
        })
        .collect();
    assert_eq!(
        refused(&with_polygon(vec![ring(&big)])).1,
        Problem::TooManyVertices
    );
}

#[test]
fn multipolygons_with_holes_are_accepted_and_paths_name_the_part() {
    let mut body = zone_order();
    let outer = ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]);
    let hole = ring(&[(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0), (1.0, 1.0)]);
    let open = ring(&[(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 6.0)]);
    body.zones[0].radius_m = None;
    body.zones[0].geometry = Geometry::MultiPolygon(vec![vec![outer.clone(), hole.clone()]]);
    assert!(Order::validate(&body).is_ok());
    body.zones[0].geometry = Geometry::MultiPolygon(vec![vec![outer, hole], vec![open]]);
    assert_eq!(refused(&body).0, "zones[0].geometry.coordinates[1][0][3]");
}

#[test]
fn validity_window_must_not_end_before_it_starts() {
    let mut body = zone_order();
    body.valid_from = Some(vangnet_proto::UtcTime(ts(100)));
    body.valid_until = Some(vangnet_proto::UtcTime(ts(100)));
    assert_eq!(
        refused(&body),
        ("valid_until".into(), Problem::EndsBeforeItStarts)
    );
}

#[test]
fn devices_may_belong_to_several_orders() {
    let mut engine = engine_with(&[zone_order(), order("o2", Some((500.0, 1000.0)), Vec::new())]);
    assert!(engine.knows(&dev("v1")));
    let replaced = order("o2", None, vec![circle("x", 0.0, 0.0, 10.0, 10.0)]);
    engine.put_order(&replaced, ts(1)).unwrap();
    assert_eq!(
        engine.order(&OrderId::new("o2")).unwrap().zones[0].id,
        ZoneId::new("x")
    );
}

#[test]
fn a_stored_order_whose_parts_overlap_still_loads_though_a_new_one_is_refused() {
    let mut body = zone_order();
    body.zones[0].radius_m = None;
    body.zones[0].geometry = Geometry::MultiPolygon(vec![
        vec![square_ring(0.0, 0.0, 4.0)],
        vec![square_ring(3.0, 3.0, 2.0)],
    ]);
    assert!(Order::validate(&body).is_err());
    assert!(Order::load(&body).is_ok());
}

#[test]
fn a_stored_order_whose_ring_crosses_itself_does_not_load() {
    let bow_tie = ring(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]);
    let body = with_polygon(vec![bow_tie]);
    assert!(Order::load(&body).is_err());
}

/// `body` with its zones given as a GeoJSON FeatureCollection.
fn as_features(mut body: OrderBody) -> OrderBody {
    body.zones = Zones::FeatureCollection(body.zones.to_vec());
    body
}

#[test]
fn an_order_of_more_than_max_zones_is_refused_before_any_zone_is_looked_at() {
    let many = |n: usize| {
        let zones = (0..n)
            .map(|i| circle(&format!("z{i}"), i as f64 * 100.0, 0.0, 10.0, 10.0))
            .collect();
        order("o1", None, zones)
    };
    assert!(Order::validate(&many(MAX_ZONES)).is_ok());
    let mut body = many(MAX_ZONES + 1);
    body.zones[MAX_ZONES].prealarm_m = -1.0;
    assert_eq!(refused(&body), ("zones".into(), Problem::TooManyZones));
    assert_eq!(
        refused(&as_features(body.clone())),
        ("zones.features".into(), Problem::TooManyZones)
    );
    assert!(Order::load(&many(MAX_ZONES + 1)).is_ok());
}

#[test]
fn problems_of_a_feature_collection_name_the_feature_and_its_properties() {
    let mut body = zone_order();
    body.zones[0].prealarm_m = 0.0;
    assert_eq!(
        Order::validate(&as_features(body)).unwrap_err().to_string(),
        "zones.features[0].properties.prealarm_m: must be a positive number of metres"
    );
    let mut body = zone_order();
    body.zones[0].radius_m = None;
    assert_eq!(
        refused(&as_features(body)),
        (
            "zones.features[0].properties.radius_m".into(),
            Problem::RadiusOnlyForPoints
        )
    );
    let body = order(
        "o1",
        None,
        vec![
            circle("home", 0.0, 0.0, 250.0, 750.0),
            circle("home", 9.0, 0.0, 5.0, 5.0),
        ],
    );
    assert_eq!(
        refused(&as_features(body)),
        ("zones.features[1].properties.id".into(), Problem::Duplicate)
    );
}

#[test]
fn a_self_intersecting_feature_is_named_down_to_its_position() {
    let bow_tie = ring(&[(1.0, 1.0), (3.0, 3.0), (3.0, 1.0), (1.0, 2.0), (1.0, 1.0)]);
    assert_eq!(
        refused(&as_features(with_polygon(vec![bow_tie]))),
        (
            "zones.features[0].geometry.coordinates[0][0]".into(),
            Problem::SelfIntersecting(2)
        )
    );
}

#[test]
fn an_order_is_the_same_whichever_form_its_zones_take() {
    let body = order(
        "o1",
        None,
        vec![
            circle("home", 0.0, 0.0, 250.0, 750.0),
            square("work", 2_000.0, 0.0, 400.0, 500.0),
        ],
    );
    let (list, features) = (
        Order::validate(&body).unwrap(),
        Order::validate(&as_features(body)).unwrap(),
    );
    assert_eq!(list.zones.len(), features.zones.len());
    for (a, b) in list.zones.iter().zip(&features.zones) {
        assert_eq!((&a.id, a.thresholds), (&b.id, b.thresholds));
        for (x, y) in [(0.0, 0.0), (2_000.0, 0.0), (600.0, 300.0)] {
            assert_eq!(
                a.shape.signed_distance_within(at(x, y), 5_000.0),
                b.shape.signed_distance_within(at(x, y), 5_000.0)
            );
        }
    }
}

#[test]
fn a_clockwise_outer_ring_is_accepted_like_a_counterclockwise_one() {
    let counterclockwise = ring(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]);
    let clockwise: Vec<_> = counterclockwise.iter().rev().cloned().collect();
    let measured = |outer| {
        let order = Order::validate(&as_features(with_polygon(vec![outer]))).unwrap();
        let centre = vangnet_engine::geometry::GeoPoint::new(51.915, 4.465);
        order.zones[0].shape.signed_distance_within(centre, 5_000.0)
    };
    assert!(measured(clockwise.clone()).is_some_and(|d| d < 0.0));
    assert_eq!(measured(clockwise), measured(counterclockwise));
}
