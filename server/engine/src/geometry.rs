//! Distances on the WGS84 ellipsoid and the zone shapes they are measured to.
//!
//! Method: every distance is finally measured between two positions with the
//! mid-latitude ("ellipsoidal flat-earth") formula: the latitude and longitude
//! differences are scaled by the ellipsoid's meridional (M) and prime-vertical
//! (N) radii of curvature at the mean latitude. Against Karney's geodesics its
//! error is far below 0.5 % up to 50 km at latitudes up to 70° (see the tests).
//!
//! Polygons are prepared once: their vertices are projected into a local
//! equirectangular frame around the polygon (same radii, at the frame's
//! origin), oriented (outer rings counter-clockwise, holes clockwise) and, when
//! they have more than [`SCAN_LIMIT`] edges, indexed in an R-tree. A query
//! projects the point into that frame, decides inside/outside with the
//! non-zero winding rule over the edges the horizontal ray meets, finds the
//! nearest edge, and measures the distance to the nearest edge point again with
//! the mid-latitude formula, so the frame's small distortion far from its
//! origin only affects which edge point is chosen, not the metres reported.
//! Longitudes are not wrapped across the antimeridian.

use rstar::primitives::Line;
use rstar::{AABB, Envelope, RTree, RTreeObject};
use serde::{Deserialize, Serialize};

/// WGS84 semi-major axis (m).
const SEMI_MAJOR: f64 = 6_378_137.0;
/// WGS84 first eccentricity squared.
const E2: f64 = 6.694_379_990_141_32e-3;
/// Polygons with at most this many edges are scanned; larger ones are indexed.
pub const SCAN_LIMIT: usize = 64;

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

impl GeoPoint {
    /// A position from latitude and longitude in degrees.
    pub fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }
}

/// Metres per degree of latitude and of longitude at `lat_deg`.
fn metres_per_degree(lat_deg: f64) -> (f64, f64) {
    let phi = lat_deg.to_radians();
    let w2 = 1.0 - E2 * phi.sin().powi(2);
    let meridional = SEMI_MAJOR * (1.0 - E2) / (w2 * w2.sqrt());
    let prime_vertical = SEMI_MAJOR / w2.sqrt();
    let per_radian = std::f64::consts::PI / 180.0;
    (
        meridional * per_radian,
        prime_vertical * phi.cos() * per_radian,
    )
}

/// Distance in metres between two positions (mid-latitude ellipsoidal formula).
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let (per_lat, per_lon) = metres_per_degree((a.lat + b.lat) / 2.0);
    let (dy, dx) = ((b.lat - a.lat) * per_lat, (b.lon - a.lon) * per_lon);
    (dx * dx + dy * dy).sqrt()
}

/// A lower bound of [`distance_m`] from the frame's origin to `p`: the
/// radii of curvature are at least their values at the equator (M) and the
/// semi-major axis (N), and the cosine of the mean latitude is at least the
/// origin's less half the latitude difference (in radians).
fn lower_bound_m(frame: &LocalFrame, p: GeoPoint) -> f64 {
    let per_degree = SEMI_MAJOR.to_radians();
    let (dlat, dlon) = (
        (p.lat - frame.origin.lat).abs(),
        (p.lon - frame.origin.lon).abs(),
    );
    let dy = dlat * per_degree * (1.0 - E2);
    let cos_origin = frame.per_lon * (1.0 - E2).sqrt() / per_degree;
    let dx = dlon * per_degree * (cos_origin - dlat.to_radians() / 2.0).max(0.0);
    (dx * dx + dy * dy).sqrt() * (1.0 - 1e-9)
}

/// A plane in metres around an origin, for shapes that are queried many times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalFrame {
    origin: GeoPoint,
    per_lat: f64,
    per_lon: f64,
}

impl LocalFrame {
    /// The frame centred on `origin`.
    pub fn new(origin: GeoPoint) -> Self {
        let (per_lat, per_lon) = metres_per_degree(origin.lat);
        Self {
            origin,
            per_lat,
            per_lon,
        }
    }

    /// `p` in metres east and north of the origin.
    pub fn project(&self, p: GeoPoint) -> [f64; 2] {
        [
            (p.lon - self.origin.lon) * self.per_lon,
            (p.lat - self.origin.lat) * self.per_lat,
        ]
    }

    /// How much longer east and north metres are at latitude `lat` than at
    /// the origin, for measuring at a point's own scale.
    fn scale_at(&self, lat: f64) -> [f64; 2] {
        let (per_lat, per_lon) = metres_per_degree(lat);
        [per_lon / self.per_lon, per_lat / self.per_lat]
    }

    /// The position `xy` metres east and north of the origin.
    pub fn unproject(&self, xy: [f64; 2]) -> GeoPoint {
        GeoPoint::new(
            self.origin.lat + xy[1] / self.per_lat,
            self.origin.lon + xy[0] / self.per_lon,
        )
    }
}

/// A disc of `radius_m` metres around a centre: the circle zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Circle {
    frame: LocalFrame,
    centre: GeoPoint,
    radius_m: f64,
}

impl Circle {
    /// The disc around `centre`; the caller ensures `radius_m > 0`.
    pub fn new(centre: GeoPoint, radius_m: f64) -> Self {
        Self {
            frame: LocalFrame::new(centre),
            centre,
            radius_m,
        }
    }

    /// Distance to the centre minus the radius: negative inside.
    pub fn signed_distance(&self, p: GeoPoint) -> f64 {
        distance_m(self.centre, p) - self.radius_m
    }

    /// [`Circle::signed_distance`], or `None` when `p` is certainly more than
    /// `cutoff_m` metres outside, found without trigonometry.
    pub fn signed_distance_within(&self, p: GeoPoint, cutoff_m: f64) -> Option<f64> {
        let reach = self.radius_m + cutoff_m + 1.0;
        (lower_bound_m(&self.frame, p) <= reach).then(|| self.signed_distance(p))
    }

    /// Whether the straight segment from `a` to `b` passes through the disc.
    pub fn crossed_by(&self, a: GeoPoint, b: GeoPoint) -> bool {
        let (a, b) = (self.frame.project(a), self.frame.project(b));
        segment_distance_2(a, b, [0.0, 0.0]) <= self.radius_m * self.radius_m
    }
}

/// Squared distance from `p` to the segment a–b.
fn segment_distance_2(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length_2 = dx * dx + dy * dy;
    let t = if length_2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length_2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    ex * ex + ey * ey
}

/// The edge of `edges` with the least `key`.
fn least<'a>(
    edges: impl Iterator<Item = &'a Edge>,
    key: impl Fn(&Edge) -> f64,
) -> Option<&'a Edge> {
    edges
        .map(|e| (key(e), e))
        .min_by(|(a, _), (b, _)| a.total_cmp(b))
        .map(|(_, e)| e)
}

/// An axis-aligned rectangle in a local frame, for the cheap tests that
/// reject most queries before any edge is looked at.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    min: [f64; 2],
    max: [f64; 2],
}

impl Bounds {
    fn around<'p>(points: impl IntoIterator<Item = &'p [f64; 2]>) -> Self {
        let empty = Self {
            min: [f64::INFINITY; 2],
            max: [f64::NEG_INFINITY; 2],
        };
        points.into_iter().fold(empty, |b, p| Self {
            min: [b.min[0].min(p[0]), b.min[1].min(p[1])],
            max: [b.max[0].max(p[0]), b.max[1].max(p[1])],
        })
    }

    /// Squared distance from `p`; 0 inside.
    fn distance_2(&self, p: [f64; 2]) -> f64 {
        let dx = (self.min[0] - p[0]).max(p[0] - self.max[0]).max(0.0);
        let dy = (self.min[1] - p[1]).max(p[1] - self.max[1]).max(0.0);
        dx * dx + dy * dy
    }

    fn contains(&self, p: [f64; 2]) -> bool {
        self.distance_2(p) == 0.0
    }

    /// Whether the rectangle spanned by `a` and `b` overlaps this one.
    fn meets_span(&self, a: [f64; 2], b: [f64; 2]) -> bool {
        (0..2).all(|i| a[i].min(b[i]) <= self.max[i] && a[i].max(b[i]) >= self.min[i])
    }
}

/// One edge of a prepared polygon, directed so that the inside is on its left.
type Edge = Line<[f64; 2]>;

/// The edges of a polygon, scanned when few and indexed when many.
#[derive(Debug, Clone)]
enum Edges {
    Scan(Vec<Edge>),
    Indexed(RTree<Edge>),
}

impl Edges {
    fn new(edges: Vec<Edge>) -> Self {
        if edges.len() <= SCAN_LIMIT {
            Self::Scan(edges)
        } else {
            Self::Indexed(RTree::bulk_load(edges))
        }
    }

    /// The point of the edges nearest to `p`, with distances measured at
    /// `p`'s own scale: east and north metres in the frame times `scale`.
    /// The frame's scale is that of its centre; away from it east–west
    /// metres stretch, and measuring in the frame alone can pick the farther
    /// of two almost equally near edges.
    fn nearest_at_scale(&self, p: [f64; 2], scale: [f64; 2]) -> Option<[f64; 2]> {
        let scaled = |q: [f64; 2]| [q[0] * scale[0], q[1] * scale[1]];
        let at_scale = |e: &Edge| segment_distance_2(scaled(e.from), scaled(e.to), scaled(p));
        let edge = match self {
            Self::Scan(edges) => least(edges.iter(), at_scale)?,
            Self::Indexed(tree) => {
                let in_frame = tree.nearest_neighbor(&p)?;
                let reach = at_scale(in_frame).sqrt() / scale[0].min(scale[1]) + 1e-6;
                least(tree.locate_within_distance(p, reach * reach), at_scale)?
            }
        };
        let (a, b, q) = (scaled(edge.from), scaled(edge.to), scaled(p));
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let length_2 = dx * dx + dy * dy;
        let t = if length_2 > 0.0 {
            (((q[0] - a[0]) * dx + (q[1] - a[1]) * dy) / length_2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Some([
            edge.from[0] + t * (edge.to[0] - edge.from[0]),
            edge.from[1] + t * (edge.to[1] - edge.from[1]),
        ])
    }

    fn in_envelope(&self, envelope: AABB<[f64; 2]>) -> impl Iterator<Item = &Edge> {
        let (scan, indexed) = match self {
            Self::Scan(edges) => (Some(edges.iter()), None),
            Self::Indexed(tree) => (None, Some(tree.locate_in_envelope_intersecting(&envelope))),
        };
        let scanned = scan
            .into_iter()
            .flatten()
            .filter(move |e| e.envelope().intersects(&envelope));
        scanned.chain(indexed.into_iter().flatten())
    }
}

/// A polygon or multipolygon (holes allowed), prepared for fast queries.
#[derive(Debug, Clone)]
pub struct Area {
    frame: LocalFrame,
    bbox: Bounds,
    edges: Edges,
}

impl Area {
    /// Prepares `polygons`, each an outer ring followed by its holes, every
    /// ring closed (first = last) and already validated.
    pub fn new(polygons: &[Vec<Vec<GeoPoint>>]) -> Self {
        let all = polygons.iter().flatten().flatten();
        let count = all.clone().count().max(1) as f64;
        let (lat, lon) = all.fold((0.0, 0.0), |(la, lo), p| (la + p.lat, lo + p.lon));
        let frame = LocalFrame::new(GeoPoint::new(lat / count, lon / count));
        let mut edges = Vec::new();
        for polygon in polygons {
            for (index, ring) in polygon.iter().enumerate() {
                let mut xy: Vec<[f64; 2]> = ring.iter().map(|p| frame.project(*p)).collect();
                let is_outer = index == 0;
                if (ring_area(&xy) > 0.0) != is_outer {
                    xy.reverse();
                }
                edges.extend(xy.windows(2).map(|w| Line::new(w[0], w[1])));
            }
        }
        edges.shrink_to_fit();
        let bbox = Bounds::around(edges.iter().map(|e| &e.from));
        Self {
            frame,
            bbox,
            edges: Edges::new(edges),
        }
    }

    /// The signed distance to the edge (negative inside), or `None` when `p`
    /// is certainly more than `cutoff_m` metres outside.
    pub fn signed_distance_within(&self, p: GeoPoint, cutoff_m: f64) -> Option<f64> {
        let xy = self.frame.project(p);
        let margin = cutoff_m * 1.05 + 1.0;
        if self.bbox.distance_2(xy) > margin * margin {
            return None;
        }
        let nearest = self
            .edges
            .nearest_at_scale(xy, self.frame.scale_at(p.lat))?;
        let distance = distance_m(p, self.frame.unproject(nearest));
        Some(if self.winding_number(xy) != 0 {
            -distance
        } else {
            distance
        })
    }

    /// The signed distance to the edge, negative inside.
    pub fn signed_distance(&self, p: GeoPoint) -> f64 {
        self.signed_distance_within(p, f64::INFINITY)
            .unwrap_or(f64::INFINITY)
    }

    /// Whether the straight segment from `a` to `b` touches the area.
    pub fn crossed_by(&self, a: GeoPoint, b: GeoPoint) -> bool {
        let (a, b) = (self.frame.project(a), self.frame.project(b));
        if !self.bbox.meets_span(a, b) {
            return false;
        }
        let span = AABB::from_corners(a, b);
        self.winding_number(a) != 0
            || self
                .edges
                .in_envelope(span)
                .any(|e| segments_intersect(a, b, e.from, e.to))
    }

    /// Non-zero winding number of the rings around `p` (Sunday's algorithm),
    /// counting only the edges a ray from `p` towards +x can meet.
    fn winding_number(&self, p: [f64; 2]) -> i32 {
        if !self.bbox.contains(p) {
            return 0;
        }
        let ray = AABB::from_corners(p, [self.bbox.max[0], p[1]]);
        self.edges.in_envelope(ray).fold(0, |winding, e| {
            let (a, b) = (e.from, e.to);
            if a[1] <= p[1] && b[1] > p[1] && cross(a, b, p) > 0.0 {
                winding + 1
            } else if a[1] > p[1] && b[1] <= p[1] && cross(a, b, p) < 0.0 {
                winding - 1
            } else {
                winding
            }
        })
    }
}

/// Twice the signed area of the triangle (a, b, p): positive when p is left of a→b.
fn cross(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (p[0] - a[0]) * (b[1] - a[1])
}

/// Signed area of a closed ring (shoelace): positive counter-clockwise.
pub fn ring_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum::<f64>()
        / 2.0
}

/// Whether the closed segments a–b and c–d share a point.
pub fn segments_intersect(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    let on = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        r[0] >= p[0].min(q[0])
            && r[0] <= p[0].max(q[0])
            && r[1] >= p[1].min(q[1])
            && r[1] <= p[1].max(q[1])
    };
    (d1 == 0.0 && on(c, d, a))
        || (d2 == 0.0 && on(c, d, b))
        || (d3 == 0.0 && on(a, b, c))
        || (d4 == 0.0 && on(a, b, d))
}

#[cfg(test)]
mod tests {
    use geographiclib_rs::{DirectGeodesic, Geodesic};

    use super::*;

    /// The point `distance` metres from `from` along `azimuth` degrees, on the ellipsoid.
    fn karney_destination(from: GeoPoint, azimuth: f64, distance: f64) -> GeoPoint {
        let (lat, lon) = Geodesic::wgs84().direct(from.lat, from.lon, azimuth, distance);
        GeoPoint::new(lat, lon)
    }

    #[test]
    fn distance_error_is_under_half_a_percent_up_to_50_km() {
        let mut worst: f64 = 0.0;
        for lat in [-60.0, -30.0, 0.0, 35.0, 51.9, 60.0, 70.0] {
            for distance in [10.0, 100.0, 1_000.0, 10_000.0, 25_000.0, 50_000.0] {
                for azimuth in (0..360).step_by(15) {
                    let from = GeoPoint::new(lat, 4.48);
                    let to = karney_destination(from, f64::from(azimuth), distance);
                    let error = (distance_m(from, to) - distance).abs() / distance;
                    worst = worst.max(error);
                }
            }
        }
        assert!(worst < 0.005, "worst relative error {worst}");
        assert!(worst < 1e-3, "expected well under the bound, got {worst}");
    }

    #[test]
    fn circle_distance_is_negative_inside_by_the_depth() {
        let centre = GeoPoint::new(51.9225, 4.4792);
        let circle = Circle::new(centre, 250.0);
        let inside = karney_destination(centre, 40.0, 100.0);
        let outside = karney_destination(centre, 200.0, 1_250.0);
        assert!((circle.signed_distance(inside) + 150.0).abs() < 0.5);
        assert!((circle.signed_distance(outside) - 1_000.0).abs() < 1.0);
    }

    #[test]
    fn a_circle_skips_only_points_beyond_the_cutoff() {
        for lat in [-80.0, -45.0, 0.0, 51.9, 70.0, 85.0] {
            let circle = Circle::new(GeoPoint::new(lat, 4.48), 250.0);
            for distance in [0.0, 500.0, 900.0, 1_000.0, 1_100.0, 5_000.0, 200_000.0] {
                for azimuth in (0..360).step_by(10) {
                    let from = GeoPoint::new(lat, 4.48);
                    let p = karney_destination(from, f64::from(azimuth), distance);
                    let exact = circle.signed_distance(p);
                    match circle.signed_distance_within(p, 800.0) {
                        Some(d) => assert_eq!(d, exact),
                        None => assert!(exact > 800.0, "{lat} {distance} {azimuth}: {exact}"),
                    }
                }
            }
            let far = circle.signed_distance_within(GeoPoint::new(lat + 0.5, 4.48), 800.0);
            assert_eq!(far, None, "{lat}");
        }
    }

    fn square(centre: GeoPoint, half_side: f64) -> Vec<GeoPoint> {
        let frame = LocalFrame::new(centre);
        [
            [-1.0, -1.0],
            [1.0, -1.0],
            [1.0, 1.0],
            [-1.0, 1.0],
            [-1.0, -1.0],
        ]
        .iter()
        .map(|[x, y]| frame.unproject([x * half_side, y * half_side]))
        .collect()
    }

    #[test]
    fn polygon_with_hole_measures_to_the_nearest_edge() {
        let centre = GeoPoint::new(51.9, 4.46);
        let area = Area::new(&[vec![square(centre, 1_000.0), square(centre, 200.0)]]);
        let frame = LocalFrame::new(centre);
        let at = |x: f64, y: f64| frame.unproject([x, y]);
        assert!((area.signed_distance(at(0.0, 500.0)) + 300.0).abs() < 1.0);
        assert!((area.signed_distance(at(0.0, 0.0)) - 200.0).abs() < 1.0);
        assert!((area.signed_distance(at(1_500.0, 0.0)) - 500.0).abs() < 1.0);
        assert_eq!(area.signed_distance_within(at(9_000.0, 0.0), 1_000.0), None);
    }

    #[test]
    fn polygon_distance_error_is_under_half_a_percent_up_to_50_km() {
        let centre = GeoPoint::new(60.0, 10.0);
        let corner = square(centre, 1_000.0)[2];
        let area = Area::new(&[vec![square(centre, 1_000.0)]]);
        for distance in [100.0, 5_000.0, 20_000.0, 50_000.0] {
            let p = karney_destination(corner, 45.0, distance);
            let error = (area.signed_distance(p) - distance).abs() / distance;
            assert!(error < 0.005, "{distance} m: relative error {error}");
        }
    }

    #[test]
    fn multipolygon_parts_and_large_indexed_rings_agree_with_scanning() {
        let centre = GeoPoint::new(51.9, 4.46);
        let frame = LocalFrame::new(centre);
        let circle: Vec<GeoPoint> = (0..=5_000)
            .map(|i| {
                let angle = f64::from(i % 5_000) / 5_000.0 * std::f64::consts::TAU;
                frame.unproject([1_000.0 * angle.cos(), 1_000.0 * angle.sin()])
            })
            .collect();
        let far = square(frame.unproject([10_000.0, 0.0]), 100.0);
        let area = Area::new(&[vec![circle], vec![far]]);
        assert!((area.signed_distance(frame.unproject([0.0, 0.0])) + 1_000.0).abs() < 1.0);
        assert!((area.signed_distance(frame.unproject([0.0, 1_500.0])) - 500.0).abs() < 1.0);
        assert!(area.signed_distance(frame.unproject([10_000.0, 0.0])) < -99.0);
    }

    #[test]
    fn segments_crossing_a_zone_are_detected_even_with_both_ends_outside() {
        let centre = GeoPoint::new(51.9, 4.46);
        let frame = LocalFrame::new(centre);
        let area = Area::new(&[vec![square(centre, 100.0)]]);
        let circle = Circle::new(centre, 100.0);
        let (west, east) = (
            frame.unproject([-500.0, 0.0]),
            frame.unproject([500.0, 0.0]),
        );
        let north = frame.unproject([500.0, 500.0]);
        assert!(area.crossed_by(west, east) && circle.crossed_by(west, east));
        assert!(!area.crossed_by(east, north) && !circle.crossed_by(east, north));
    }
}
