//! The engine's distances against geodesics on the WGS84 ellipsoid
//! (`vangnet-geodesy`: Karney's algorithms, no code shared with the engine),
//! at random places over the Netherlands (51–54° N, 3–7° E). Any disagreement
//! over [`TOLERANCE_M`] fails.
//!
//! The range compared is the one the engine decides on: two parties up to
//! 5 km apart (proximity pre-alarm distances are a few km, plus hysteresis,
//! accuracy and drift), and positions from deep inside a zone to 1.5 km
//! outside its edge (zone pre-alarm distances up to 1 km, plus hysteresis and
//! accuracy), for circles up to 3 km in radius and polygons up to 6 km
//! across, with holes and several parts. Polygon edges are straight in
//! longitude and latitude for both (GeoJSON's definition).
#![allow(clippy::unwrap_used)]

mod common;

use std::f64::consts::TAU;

use common::order;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vangnet_engine::Order;
use vangnet_engine::geometry::{GeoPoint, distance_m};
use vangnet_geodesy::{Position, Zone, destination, offset};
use vangnet_proto::ZoneId;
use vangnet_proto::order::{Geometry, ZoneBody};

/// The largest disagreement with the geodesic truth allowed, in metres.
const TOLERANCE_M: f64 = 0.5;
/// Farthest apart two parties are compared.
const PARTIES_M: f64 = 5_000.0;
/// Farthest outside a zone's edge a position is compared.
const OUTSIDE_M: f64 = 1_500.0;

/// The largest disagreement seen, and where.
#[derive(Debug, Default)]
struct Worst {
    error_m: f64,
    case: String,
}

impl Worst {
    fn note(&mut self, engine_m: f64, truth_m: f64, case: impl FnOnce() -> String) {
        let error_m = (engine_m - truth_m).abs();
        if error_m > self.error_m {
            *self = Self {
                error_m,
                case: format!(
                    "{} (engine {engine_m:.3} m, geodesic {truth_m:.3} m)",
                    case()
                ),
            };
        }
    }

    fn report(&self, what: &str) {
        println!(
            "{what}: largest disagreement {:.4} m at {}",
            self.error_m, self.case
        );
    }

    fn check(&self, what: &str) {
        self.report(what);
        assert!(
            self.error_m <= TOLERANCE_M,
            "{what}: the engine is {:.3} m off the geodesic at {}",
            self.error_m,
            self.case
        );
    }
}

fn somewhere_dutch(rng: &mut StdRng) -> Position {
    Position::new(rng.random_range(51.0..54.0), rng.random_range(3.0..7.0))
}

fn engine_point(p: Position) -> GeoPoint {
    GeoPoint::new(p.lat, p.lon)
}

fn lon_lat(p: Position) -> Vec<f64> {
    vec![p.lon, p.lat]
}

/// The engine's signed distance from `p` to the only zone of an order over `geometry`.
fn engine_zone(geometry: &Geometry, radius_m: Option<f64>) -> impl Fn(Position) -> f64 {
    let zone = ZoneBody {
        id: ZoneId::new("z"),
        geometry: geometry.clone(),
        radius_m,
        prealarm_m: OUTSIDE_M,
    };
    let order = Order::validate(&order("o1", None, vec![zone])).unwrap();
    move |p| {
        order.zones[0]
            .shape
            .signed_distance_within(engine_point(p), f64::INFINITY)
            .unwrap()
    }
}

/// A closed ring around `centre`, star-shaped: `corners` (at least 4)
/// vertices at increasing bearings, no two more than 135° apart, each between
/// `r / 3` and `r` metres out, so that it keeps `r / 8` clear around `centre`.
fn star(rng: &mut StdRng, centre: Position, corners: usize, r: f64) -> Vec<Vec<f64>> {
    let gap = TAU / corners as f64;
    let start = rng.random_range(0.0..360.0);
    let mut ring: Vec<Vec<f64>> = (0..corners)
        .map(|i| {
            let bearing = start + (i as f64 + rng.random_range(-0.25..0.25)) * gap.to_degrees();
            lon_lat(destination(centre, bearing, rng.random_range(r / 3.0..r)))
        })
        .collect();
    ring.push(ring[0].clone());
    ring
}

#[test]
fn party_distances_agree_with_geodesics_up_to_5_km() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut worst = Worst::default();
    for _ in 0..50_000 {
        let a = somewhere_dutch(&mut rng);
        let b = destination(
            a,
            rng.random_range(0.0..360.0),
            rng.random_range(0.0..PARTIES_M),
        );
        let truth = vangnet_geodesy::distance_m(a, b);
        worst.note(distance_m(engine_point(a), engine_point(b)), truth, || {
            format!("{a:?} to {b:?}")
        });
    }
    worst.check("parties");
}

#[test]
fn circle_zone_distances_agree_with_geodesics() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut worst = Worst::default();
    for _ in 0..2_000 {
        let centre = somewhere_dutch(&mut rng);
        let radius = rng.random_range(20.0..3_000.0);
        let geometry = Geometry::Point(lon_lat(centre));
        let (engine, truth) = (
            engine_zone(&geometry, Some(radius)),
            Zone::of(&geometry, Some(radius)).unwrap(),
        );
        for _ in 0..20 {
            let reach = rng.random_range(0.0..radius + OUTSIDE_M);
            let p = destination(centre, rng.random_range(0.0..360.0), reach);
            worst.note(engine(p), truth.signed_distance(p), || {
                format!("{p:?}, circle of {radius:.0} m around {centre:?}")
            });
        }
    }
    worst.check("circles");
}

#[test]
fn polygon_zone_distances_agree_with_geodesics() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut worst = Worst::default();
    for n in 0..600 {
        let centre = somewhere_dutch(&mut rng);
        let r = rng.random_range(100.0..3_000.0);
        let corners = rng.random_range(4..=16);
        let shell = star(&mut rng, centre, corners, r);
        let (geometry, east) = match n % 3 {
            0 => (Geometry::Polygon(vec![shell]), r),
            1 => {
                let hole = star(&mut rng, centre, 5, r / 9.0);
                (Geometry::Polygon(vec![shell, hole]), r)
            }
            _ => {
                let beside = offset(centre, 2.5 * r, rng.random_range(-r..r));
                let other = star(&mut rng, beside, corners, r / 2.0);
                (
                    Geometry::MultiPolygon(vec![vec![shell], vec![other]]),
                    3.0 * r,
                )
            }
        };
        let (engine, truth) = (
            engine_zone(&geometry, None),
            Zone::of(&geometry, None).unwrap(),
        );
        let mut compared = 0;
        while compared < 40 {
            let p = offset(
                centre,
                rng.random_range(-r - OUTSIDE_M..east + OUTSIDE_M),
                rng.random_range(-2.0 * r - OUTSIDE_M..2.0 * r + OUTSIDE_M),
            );
            let exact = truth.signed_distance(p);
            if exact > OUTSIDE_M {
                continue;
            }
            compared += 1;
            worst.note(engine(p), exact, || format!("{p:?}, {geometry:?}"));
        }
    }
    worst.check("polygons");
}

/// The worst disagreement along a line across the set of positions equally
/// far from two edges of an L-shaped zone part: one edge runs north–south
/// `d` metres east of `p0`, the other east–west `d` metres south of it.
/// `south_m` is how far the zone reaches south of `p0`, with a second part
/// there when `apart` (a zone of two places, such as a home and a workplace).
fn across_the_corner(p0: Position, d: f64, south_m: f64, apart: bool) -> Worst {
    let at = |x: f64, y: f64| lon_lat(offset(p0, x, y));
    let mut shell = vec![
        at(-3_000.0, -d),
        at(d, -d),
        at(d, 1_500.0),
        at(d + 1_000.0, 1_500.0),
    ];
    let reach = if apart { d + 1_000.0 } else { south_m };
    shell.extend([
        at(d + 1_000.0, -reach),
        at(-3_000.0, -reach),
        at(-3_000.0, -d),
    ]);
    let geometry = if apart {
        let far = [
            [-500.0, 0.0],
            [500.0, 0.0],
            [500.0, 1_000.0],
            [-500.0, 1_000.0],
            [-500.0, 0.0],
        ];
        let other = far.iter().map(|[x, y]| at(*x, y - south_m)).collect();
        Geometry::MultiPolygon(vec![vec![shell], vec![other]])
    } else {
        Geometry::Polygon(vec![shell])
    };
    let (engine, truth) = (
        engine_zone(&geometry, None),
        Zone::of(&geometry, None).unwrap(),
    );
    let mut worst = Worst::default();
    for i in -1_000..=1_000 {
        let shift = f64::from(i) * 0.002;
        let p = offset(p0, shift, shift);
        worst.note(engine(p), truth.signed_distance(p), || {
            format!("{p:?}, {d} m from both edges, zone reaching {south_m} m south")
        });
    }
    worst
}

/// Where two edges are almost equally near, a distortion of the engine's
/// flat frame around the zone can pick the farther edge. Compared at the
/// latitudes of Limburg and Groningen, for one polygon 5.5 by 7.5 km seen
/// from 1.5 km outside, and for a zone of two parts 10 km apart seen from
/// 1 km outside the nearer one.
#[test]
fn between_two_near_edges_the_engine_measures_to_the_nearer_one() {
    let mut worst = Worst::default();
    for lat in [51.0, 53.5] {
        let p0 = Position::new(lat, 5.0);
        for (what, corner) in [
            (
                "one wide polygon",
                across_the_corner(p0, 1_500.0, 6_000.0, false),
            ),
            (
                "two parts 10 km apart",
                across_the_corner(p0, 1_000.0, 10_000.0, true),
            ),
        ] {
            corner.report(what);
            if corner.error_m > worst.error_m {
                worst = corner;
            }
        }
    }
    worst.check("near edges");
}
