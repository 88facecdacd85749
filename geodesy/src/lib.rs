//! Ground-truth geometry on the WGS84 ellipsoid: geodesic distances between
//! positions and signed distances to exclusion zones, from Karney's
//! algorithms (`geographiclib-rs`) and `geo`'s point-in-polygon test. It
//! shares no code with the engine's geometry, so that the simulator's judge
//! and the engine's tests can catch an error there.
//!
//! A polygon's edges are straight lines in longitude and latitude, as GeoJSON
//! defines them (RFC 7946, 3.1.1). The distance to an edge is the geodesic
//! distance to its nearest point, found by golden-section search along the
//! edge to [`PRECISION_M`]. That search, and the bound that skips edges which
//! cannot be the nearest, assume edges and distances far shorter than the
//! earth's radius, where the distance along an edge has a single minimum.
//! Longitudes are not wrapped across the antimeridian.

use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use vangnet_proto::order::Geometry;

/// Width, in metres along an edge, to which its nearest point is found.
pub const PRECISION_M: f64 = 1e-3;

/// 1/φ, the golden-section step.
const INV_PHI: f64 = 0.618_033_988_749_894_9;

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

impl Position {
    /// A position from latitude and longitude in degrees.
    pub fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }
}

/// Geodesic distance in metres between two positions.
pub fn distance_m(a: Position, b: Position) -> f64 {
    Geodesic::wgs84().inverse(a.lat, a.lon, b.lat, b.lon)
}

/// Direction of the geodesic from `a` towards `b` at `a`, degrees from north in `[0, 360)`.
pub fn azimuth(a: Position, b: Position) -> f64 {
    let (azimuth, _, _): (f64, f64, f64) = Geodesic::wgs84().inverse(a.lat, a.lon, b.lat, b.lon);
    azimuth.rem_euclid(360.0)
}

/// The position `distance_m` metres from `from` along the geodesic leaving it at `azimuth` degrees.
pub fn destination(from: Position, azimuth: f64, distance_m: f64) -> Position {
    let (lat, lon) = Geodesic::wgs84().direct(from.lat, from.lon, azimuth, distance_m);
    Position::new(lat, lon)
}

/// The position `east_m` and `north_m` metres from `from`: the geodesic of that length in that direction.
pub fn offset(from: Position, east_m: f64, north_m: f64) -> Position {
    destination(
        from,
        east_m.atan2(north_m).to_degrees(),
        east_m.hypot(north_m),
    )
}

/// Why a zone's geometry cannot be measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// A position with fewer than two coordinates.
    #[error("a position without longitude and latitude")]
    Position,
    /// A point zone without `radius_m`.
    #[error("a point zone without radius_m")]
    Radius,
    /// A polygon without any ring.
    #[error("a polygon without rings")]
    Rings,
}

/// One polygon edge, with what is needed to skip it cheaply.
#[derive(Debug, Clone, Copy)]
struct Edge {
    from: Position,
    to: Position,
    length_m: f64,
    middle: Position,
    /// At least the distance from `middle` to any point of the edge.
    reach_m: f64,
}

impl Edge {
    fn new(from: Position, to: Position) -> Self {
        let mut edge = Self {
            from,
            to,
            length_m: distance_m(from, to),
            middle: from,
            reach_m: 0.0,
        };
        edge.middle = edge.at(0.5);
        let half = distance_m(edge.middle, from).max(distance_m(edge.middle, to));
        edge.reach_m = half * 1.001 + PRECISION_M;
        edge
    }

    /// The point a share `t` of the way from `from` to `to`, linear in degrees.
    fn at(&self, t: f64) -> Position {
        Position::new(
            self.from.lat + (self.to.lat - self.from.lat) * t,
            self.from.lon + (self.to.lon - self.from.lon) * t,
        )
    }

    /// Geodesic distance from `p` to the nearest point of the edge (golden-section search).
    fn distance_m(&self, p: Position) -> f64 {
        let along = |t: f64| distance_m(p, self.at(t));
        let (mut lo, mut hi) = (0.0, 1.0);
        let (mut t1, mut t2) = (1.0 - INV_PHI, INV_PHI);
        let (mut d1, mut d2) = (along(t1), along(t2));
        while (hi - lo) * self.length_m > PRECISION_M {
            if d1 <= d2 {
                (hi, t2, d2) = (t2, t1, d1);
                t1 = hi - INV_PHI * (hi - lo);
                d1 = along(t1);
            } else {
                (lo, t1, d1) = (t1, t2, d2);
                t2 = lo + INV_PHI * (hi - lo);
                d2 = along(t2);
            }
        }
        d1.min(d2)
    }
}

/// An exclusion zone as the ground truth measures it.
#[derive(Debug, Clone)]
pub struct Zone(Shape);

#[derive(Debug, Clone)]
enum Shape {
    Circle {
        centre: Position,
        radius_m: f64,
    },
    /// The area (x = longitude, y = latitude) for the inside test, and every ring's edges.
    Area {
        area: MultiPolygon<f64>,
        edges: Vec<Edge>,
    },
}

impl Zone {
    /// The zone a GeoJSON `geometry` with an optional `radius_m` describes (a point needs one).
    pub fn of(geometry: &Geometry, radius_m: Option<f64>) -> Result<Self, ZoneError> {
        let parts = match geometry {
            Geometry::Point(p) => {
                let centre = coord(p)?;
                return Ok(Self(Shape::Circle {
                    centre: Position::new(centre.y, centre.x),
                    radius_m: radius_m.ok_or(ZoneError::Radius)?,
                }));
            }
            Geometry::Polygon(rings) => vec![polygon(rings)?],
            Geometry::MultiPolygon(parts) => {
                parts.iter().map(|p| polygon(p)).collect::<Result<_, _>>()?
            }
        };
        let area = MultiPolygon::new(parts);
        let edges = area
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(LineString::lines)
            .map(|l| {
                Edge::new(
                    Position::new(l.start.y, l.start.x),
                    Position::new(l.end.y, l.end.x),
                )
            })
            .collect();
        Ok(Self(Shape::Area { area, edges }))
    }

    /// Geodesic distance from `p` to the zone's edge, negative inside.
    pub fn signed_distance(&self, p: Position) -> f64 {
        match &self.0 {
            Shape::Circle { centre, radius_m } => distance_m(*centre, p) - radius_m,
            Shape::Area { area, edges } => {
                let mut bounds: Vec<(f64, &Edge)> = edges
                    .iter()
                    .map(|e| (distance_m(p, e.middle) - e.reach_m, e))
                    .collect();
                bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut nearest = f64::INFINITY;
                for (bound, edge) in bounds {
                    if bound >= nearest {
                        break;
                    }
                    nearest = nearest.min(edge.distance_m(p));
                }
                if area.contains(&Point::new(p.lon, p.lat)) {
                    -nearest
                } else {
                    nearest
                }
            }
        }
    }
}

fn coord(position: &[f64]) -> Result<Coord<f64>, ZoneError> {
    match position {
        [lon, lat, ..] => Ok(Coord { x: *lon, y: *lat }),
        _ => Err(ZoneError::Position),
    }
}

fn polygon(rings: &[Vec<Vec<f64>>]) -> Result<Polygon<f64>, ZoneError> {
    let mut rings = rings.iter().map(|ring| {
        ring.iter()
            .map(|p| coord(p))
            .collect::<Result<Vec<_>, _>>()
            .map(LineString::new)
    });
    let exterior = rings.next().ok_or(ZoneError::Rings)??;
    Ok(Polygon::new(exterior, rings.collect::<Result<_, _>>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Position = Position {
        lat: 51.9225,
        lon: 4.4792,
    };

    fn lon_lat(p: Position) -> Vec<f64> {
        vec![p.lon, p.lat]
    }

    /// A ring of positions `east`, `north` metres from `centre`, closed.
    fn ring(centre: Position, corners: &[[f64; 2]]) -> Vec<Vec<f64>> {
        corners
            .iter()
            .chain(corners.first())
            .map(|[east, north]| lon_lat(offset(centre, *east, *north)))
            .collect()
    }

    fn square(centre: Position, half: f64) -> Vec<Vec<f64>> {
        let corners = [[-half, -half], [half, -half], [half, half], [-half, half]];
        ring(centre, &corners)
    }

    #[test]
    fn offsets_land_at_their_distance_and_direction() {
        let p = offset(HOME, 300.0, -400.0);
        assert!((distance_m(HOME, p) - 500.0).abs() < 1e-6);
        let expected = 300.0_f64.atan2(-400.0).to_degrees().rem_euclid(360.0);
        assert!((azimuth(HOME, p) - expected).abs() < 1e-9);
        assert!(azimuth(HOME, offset(HOME, -1.0, 0.0)) > 269.0);
    }

    #[test]
    fn a_circle_measures_from_its_centre_less_the_radius() {
        let zone = Zone::of(&Geometry::Point(lon_lat(HOME)), Some(250.0)).unwrap();
        assert!((zone.signed_distance(offset(HOME, 60.0, 80.0)) + 150.0).abs() < 1e-6);
        assert!((zone.signed_distance(destination(HOME, 200.0, 1_250.0)) - 1_000.0).abs() < 1e-6);
        assert_eq!(
            Zone::of(&Geometry::Point(lon_lat(HOME)), None).unwrap_err(),
            ZoneError::Radius
        );
    }

    #[test]
    fn the_nearest_point_of_an_edge_is_found_between_its_ends() {
        let (west, east) = (offset(HOME, -2_000.0, 0.0), offset(HOME, 2_000.0, 0.0));
        let edge = Edge::new(west, east);
        let north = destination(edge.at(0.3), 0.0, 700.0);
        let by_scan = (0..=100_000)
            .map(|i| distance_m(north, edge.at(f64::from(i) / 100_000.0)))
            .fold(f64::INFINITY, f64::min);
        assert!((edge.distance_m(north) - by_scan).abs() < 1e-3);
        assert!((edge.distance_m(north) - 700.0).abs() < 0.5);
        let beyond = offset(east, 300.0, 400.0);
        assert!((edge.distance_m(beyond) - distance_m(beyond, east)).abs() < 1e-3);
    }

    #[test]
    fn a_polygon_with_a_hole_is_negative_only_between_its_rings() {
        let geometry = Geometry::Polygon(vec![square(HOME, 1_000.0), square(HOME, 200.0)]);
        let zone = Zone::of(&geometry, None).unwrap();
        assert!((zone.signed_distance(offset(HOME, 0.0, 500.0)) + 300.0).abs() < 0.5);
        assert!((zone.signed_distance(HOME) - 200.0).abs() < 0.5);
        assert!((zone.signed_distance(offset(HOME, 1_500.0, 0.0)) - 500.0).abs() < 0.5);
        let corner = offset(HOME, 1_000.0, 1_000.0);
        let outside = destination(corner, 45.0, 300.0);
        let to_corner = distance_m(outside, corner);
        assert!((zone.signed_distance(outside) - to_corner).abs() < 0.5);
    }

    #[test]
    fn a_multipolygon_is_the_union_of_its_parts() {
        let far = offset(HOME, 10_000.0, 0.0);
        let geometry =
            Geometry::MultiPolygon(vec![vec![square(HOME, 100.0)], vec![square(far, 100.0)]]);
        let zone = Zone::of(&geometry, None).unwrap();
        assert!((zone.signed_distance(far) + 100.0).abs() < 0.5);
        assert!((zone.signed_distance(HOME) + 100.0).abs() < 0.5);
        assert!((zone.signed_distance(offset(HOME, 0.0, 400.0)) - 300.0).abs() < 0.1);
    }

    #[test]
    fn a_malformed_geometry_is_an_error() {
        let bad = Geometry::Polygon(vec![vec![vec![4.0, 52.0], vec![4.1]]]);
        assert_eq!(Zone::of(&bad, None).unwrap_err(), ZoneError::Position);
        assert_eq!(
            Zone::of(&Geometry::Polygon(Vec::new()), None).unwrap_err(),
            ZoneError::Rings
        );
    }
}
