//! Whether a zone's rings form valid simple-feature polygons, decided with
//! geo's robust predicates on the positions as given (x = longitude,
//! y = latitude): no ring meets itself, holes lie inside their outer ring,
//! and the rings of a polygon, like the polygons of a multipolygon, meet at
//! most at single points.
//!
//! A ring's edges are compared in one sweep over all of them and rings and
//! polygons through their DE-9IM relation (geo's `Relate`), not with geo's
//! `Validation`, which compares every edge of a ring with every other: a
//! zone may have 10,000 positions and is checked again whenever a partition
//! loads its order.

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::relate::IntersectionMatrix;
use geo::sweep::{Cross, Intersections};
use geo::{BoundingRect, Intersects, Line, LineString, Polygon, PreparedGeometry, Rect, Relate};

use crate::geometry::GeoPoint;

/// How the rings of a polygon break the rules; every index is a position in
/// the order body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The edge from position `edge` of ring `ring` meets the ring's edge
    /// from position `other`, which is not its neighbour.
    SelfIntersection {
        /// The ring.
        ring: usize,
        /// The first edge, by the position it starts at.
        edge: usize,
        /// The other edge, by the position it starts at.
        other: usize,
    },
    /// Hole `ring` is not inside its polygon's outer ring.
    HoleOutside {
        /// The hole.
        ring: usize,
    },
    /// Two rings meet in more than single points.
    Meet(Meeting),
}

/// Two rings of a polygon, or two polygons of a multipolygon, that meet in
/// more than single points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meeting {
    /// The later of the two.
    pub item: usize,
    /// The earlier of the two.
    pub other: usize,
    /// How they meet.
    pub contact: Contact,
}

/// How two rings or polygons meet in more than single points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    /// Their insides overlap.
    Overlap,
    /// One runs along an edge of the other.
    SharedEdge,
}

/// One edge of a ring, named by its ring and the position it starts at.
#[derive(Debug, Clone)]
struct Edge {
    ring: usize,
    index: usize,
    /// How many edges its ring has.
    edges: usize,
    line: Line<f64>,
}

impl Edge {
    /// Whether the two edges follow one another in the same ring.
    fn neighbours(&self, other: &Self) -> bool {
        let (low, high) = (self.index.min(other.index), self.index.max(other.index));
        high == low + 1 || (low == 0 && high + 1 == self.edges)
    }
}

impl Cross for Edge {
    type Scalar = f64;

    fn line(&self) -> Line<f64> {
        self.line
    }
}

/// The polygon of `outer` and `holes`, rings of closed positions with at
/// least four each, or its first fault: a ring crossing itself, and when
/// `strict`, holes outside the shell or meeting it or each other along edges.
pub fn polygon(
    outer: &[GeoPoint],
    holes: &[Vec<GeoPoint>],
    strict: bool,
) -> Result<Polygon<f64>, Fault> {
    let polygon = Polygon::new(
        line_string(outer),
        holes.iter().map(|hole| line_string(hole)).collect(),
    );
    let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
    if let Some(fault) = self_intersection(rings) {
        return Err(fault);
    }
    if !strict {
        return Ok(polygon);
    }
    let shell = Polygon::new(polygon.exterior().clone(), Vec::new());
    let shell = PreparedGeometry::from(&shell);
    let holes: Vec<Polygon<f64>> = polygon
        .interiors()
        .iter()
        .map(|hole| Polygon::new(hole.clone(), Vec::new()))
        .collect();
    for (index, hole) in holes.iter().enumerate() {
        let ring = index + 1;
        let relation = shell.relate(hole);
        if !relation.is_contains() {
            return Err(Fault::HoleOutside { ring });
        }
        if shares_edge(&relation) {
            return Err(Fault::Meet(Meeting {
                item: ring,
                other: 0,
                contact: Contact::SharedEdge,
            }));
        }
    }
    match first_meeting(&holes, 1) {
        Some(meeting) => Err(Fault::Meet(meeting)),
        None => Ok(polygon),
    }
}

fn line_string(ring: &[GeoPoint]) -> LineString<f64> {
    ring.iter().map(|p| (p.lon, p.lat)).collect()
}

/// The first pair of `polygons`, each valid, that meet in more than single
/// points, numbered from `first`.
pub fn first_meeting(polygons: &[Polygon<f64>], first: usize) -> Option<Meeting> {
    let bounds: Vec<Option<Rect<f64>>> = polygons.iter().map(BoundingRect::bounding_rect).collect();
    let prepared: Vec<_> = polygons.iter().map(PreparedGeometry::from).collect();
    (1..polygons.len()).find_map(|item| {
        (0..item).find_map(|other| {
            let near = matches!(
                (bounds[item], bounds[other]),
                (Some(a), Some(b)) if a.intersects(&b)
            );
            if !near {
                return None;
            }
            let relation = prepared[item].relate(&prepared[other]);
            let contact =
                if relation.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                    Contact::Overlap
                } else if shares_edge(&relation) {
                    Contact::SharedEdge
                } else {
                    return None;
                };
            Some(Meeting {
                item: first + item,
                other: first + other,
                contact,
            })
        })
    })
}

fn shares_edge(relation: &IntersectionMatrix) -> bool {
    relation.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional
}

/// The lowest pair of edges of one ring that meet without being neighbours.
fn self_intersection<'a>(rings: impl Iterator<Item = &'a LineString<f64>>) -> Option<Fault> {
    let edges = rings.enumerate().flat_map(|(ring, points)| {
        let edges = points.0.len().saturating_sub(1);
        points.lines().enumerate().map(move |(index, line)| Edge {
            ring,
            index,
            edges,
            line,
        })
    });
    Intersections::from_iter(edges)
        .filter(|(a, b, _)| a.ring == b.ring && !a.neighbours(b))
        .map(|(a, b, _)| (a.ring, a.index.min(b.index), a.index.max(b.index)))
        .min()
        .map(|(ring, edge, other)| Fault::SelfIntersection { ring, edge, other })
}
