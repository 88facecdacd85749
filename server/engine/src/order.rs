//! A validated protection order: who is protected from whom, where, and when.
//!
//! [`Order::validate`] turns the API's [`OrderBody`] into an [`Order`] whose
//! zones are prepared for fast queries, or explains with an [`OrderError`]
//! which field is wrong (`zones[1].geometry.coordinates[0][3]`, or
//! `zones.features[1].geometry.coordinates[0][3]` when the zones came as a
//! GeoJSON FeatureCollection).

use std::collections::HashSet;
use std::fmt;

use vangnet_proto::order::{
    Geometry, OrderBody, Position, ProximityRule, WarnPerpetrator, ZoneMember,
};
use vangnet_proto::{DeviceId, OrderId, TimestampMs, ZoneId};

use crate::classify::Thresholds;
use crate::geometry::{self, Area, Circle, GeoPoint, LocalFrame};
use crate::topology::{self, Contact, Fault, Meeting};

/// Most positions one zone may have, over all its rings.
pub const MAX_ZONE_VERTICES: usize = 10_000;
/// Most zones one new or changed order may have (docs/api.md#orders): enough
/// for every address a victim keeps, few enough that checking them stays cheap.
pub const MAX_ZONES: usize = 64;

/// What is wrong with a field of an order body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required value is absent.
    Missing,
    /// An id outside `[A-Za-z0-9_.-]{1,64}`.
    BadId,
    /// A list that must not be empty is.
    Empty,
    /// The same id appears twice.
    Duplicate,
    /// A device listed as both victim and perpetrator.
    OnBothSides,
    /// A distance that must be a positive finite number is not.
    NotPositive,
    /// `prealarm_m` not greater than `alarm_m`.
    PrealarmNotBeyondAlarm,
    /// `radius_m` on a polygon, or missing on a point.
    RadiusOnlyForPoints,
    /// A position that is not two or three finite numbers.
    NotAPosition,
    /// A latitude outside ±90°.
    LatitudeOutOfRange,
    /// A longitude outside ±180°.
    LongitudeOutOfRange,
    /// A ring with fewer than 4 positions.
    TooFewPositions,
    /// A ring whose last position differs from its first.
    RingNotClosed,
    /// A ring enclosing no area.
    ZeroArea,
    /// A ring whose edge starting here crosses the edge starting at the given position.
    SelfIntersecting(usize),
    /// A hole that is not inside its polygon's outer ring.
    HoleOutside,
    /// A ring or polygon whose inside overlaps that of the one given.
    Overlaps(Sibling),
    /// A ring or polygon that runs along an edge of the one given.
    SharesEdge(Sibling),
    /// A zone with more than [`MAX_ZONE_VERTICES`] positions.
    TooManyVertices,
    /// An order with more than [`MAX_ZONES`] zones.
    TooManyZones,
    /// `valid_until` not after `valid_from`.
    EndsBeforeItStarts,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("is required"),
            Self::BadId => f.write_str("must match [A-Za-z0-9_.-]{1,64}"),
            Self::Empty => f.write_str("must not be empty"),
            Self::Duplicate => f.write_str("is listed twice"),
            Self::OnBothSides => f.write_str("is both a victim and a perpetrator device"),
            Self::NotPositive => f.write_str("must be a positive number of metres"),
            Self::PrealarmNotBeyondAlarm => f.write_str("must be greater than alarm_m"),
            Self::RadiusOnlyForPoints => {
                f.write_str("is required for a Point and only for a Point")
            }
            Self::NotAPosition => f.write_str("must be [lon, lat] with finite numbers"),
            Self::LatitudeOutOfRange => f.write_str("latitude outside -90..90"),
            Self::LongitudeOutOfRange => f.write_str("longitude outside -180..180"),
            Self::TooFewPositions => f.write_str("a ring needs at least 4 positions"),
            Self::RingNotClosed => f.write_str("a ring must end at its first position"),
            Self::ZeroArea => f.write_str("the ring encloses no area"),
            Self::SelfIntersecting(other) => {
                write!(f, "this edge crosses the edge starting at position {other}")
            }
            Self::HoleOutside => f.write_str("the hole is not inside the outer ring"),
            Self::Overlaps(other) => write!(f, "overlaps {other}"),
            Self::SharesEdge(other) => write!(
                f,
                "runs along an edge of {other}; rings and polygons may meet only at points"
            ),
            Self::TooManyVertices => write!(f, "more than {MAX_ZONE_VERTICES} positions"),
            Self::TooManyZones => write!(f, "more than {MAX_ZONES} zones"),
            Self::EndsBeforeItStarts => f.write_str("must be after valid_from"),
        }
    }
}

/// Another ring of the same polygon, or another polygon of the same
/// multipolygon, named in a [`Problem`] by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sibling {
    /// A ring, 0 being the outer one.
    Ring(usize),
    /// A polygon of a multipolygon.
    Polygon(usize),
}

impl fmt::Display for Sibling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ring(index) => write!(f, "ring {index}"),
            Self::Polygon(index) => write!(f, "polygon {index}"),
        }
    }
}

/// An invalid order body: the path of the field at fault and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct OrderError {
    /// JSON path of the field, e.g. `zones[1].geometry.coordinates[0][3]`
    /// or `zones.features[1].properties.prealarm_m`.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

fn fail<T>(field: impl Into<String>, problem: Problem) -> Result<T, OrderError> {
    Err(OrderError {
        field: field.into(),
        problem,
    })
}

/// Which side of an order a device is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Carried by the protected person.
    Victim,
    /// Worn by the restrained person.
    Perpetrator,
}

/// The area of an exclusion zone.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A point with `radius_m`.
    Circle(Circle),
    /// A polygon or multipolygon, possibly with holes.
    Area(Area),
}

impl Shape {
    /// Signed distance to the zone's edge (negative inside), or `None` when
    /// certainly more than `cutoff_m` outside.
    pub fn signed_distance_within(&self, p: GeoPoint, cutoff_m: f64) -> Option<f64> {
        match self {
            Self::Circle(circle) => circle.signed_distance_within(p, cutoff_m),
            Self::Area(area) => area.signed_distance_within(p, cutoff_m),
        }
    }

    /// Whether the straight segment from `a` to `b` touches the zone.
    pub fn crossed_by(&self, a: GeoPoint, b: GeoPoint) -> bool {
        match self {
            Self::Circle(circle) => circle.crossed_by(a, b),
            Self::Area(area) => area.crossed_by(a, b),
        }
    }
}

/// One exclusion zone, ready to be measured against.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Its id within the order.
    pub id: ZoneId,
    /// Its area.
    pub shape: Shape,
    /// `A` = 0 (the zone itself) and `B` = its `prealarm_m`.
    pub thresholds: Thresholds,
}

/// A validated protection order.
#[derive(Debug, Clone)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// The region whose dispatchers handle it.
    pub region: String,
    /// Simulation or pilot order: its alerts are marked `exercise`.
    pub exercise: bool,
    /// Devices of the protected person(s), no duplicates.
    pub victims: Vec<DeviceId>,
    /// Devices of the restrained person(s), no duplicates, none a victim's.
    pub perpetrators: Vec<DeviceId>,
    /// The minimum distance, if the order sets one.
    pub proximity: Option<Thresholds>,
    /// Exclusion zones, unique ids.
    pub zones: Vec<Zone>,
    /// Start of validity (inclusive).
    pub valid_from: Option<TimestampMs>,
    /// End of validity (exclusive).
    pub valid_until: Option<TimestampMs>,
    /// Which pre-alarms warn the perpetrator's devices.
    pub warn_perpetrator: WarnPerpetrator,
}

/// How strictly zone polygons are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// A new or changed order: also at most [`MAX_ZONES`] zones, no hole
    /// outside its shell, and no rings or parts that overlap or share an edge.
    Admission,
    /// An order already stored: only what the engine cannot evaluate (rings
    /// that cross themselves), so no order accepted under earlier rules stops
    /// loading.
    Stored,
}

impl Order {
    /// Checks a new or changed order's `body` and prepares its zones; nothing
    /// is half-built on error.
    pub fn validate(body: &OrderBody) -> Result<Self, OrderError> {
        Self::checked(body, Rules::Admission)
    }

    /// Prepares a stored order's zones, checking only what evaluation needs.
    pub fn load(body: &OrderBody) -> Result<Self, OrderError> {
        Self::checked(body, Rules::Stored)
    }

    fn checked(body: &OrderBody, rules: Rules) -> Result<Self, OrderError> {
        let id = match &body.id {
            None => return fail("id", Problem::Missing),
            Some(id) if !is_valid_id(id.as_str()) => return fail("id", Problem::BadId),
            Some(id) => id.clone(),
        };
        if body.region.trim().is_empty() {
            return fail("region", Problem::Empty);
        }
        let victims = devices(&body.victim_devices, "victim_devices")?;
        let perpetrators = devices(&body.perpetrator_devices, "perpetrator_devices")?;
        if let Some(i) = perpetrators.iter().position(|d| victims.contains(d)) {
            return fail(format!("perpetrator_devices[{i}]"), Problem::OnBothSides);
        }
        let proximity = body.proximity.map(proximity).transpose()?;
        if rules == Rules::Admission && body.zones.len() > MAX_ZONES {
            return fail(body.zones.path(), Problem::TooManyZones);
        }
        let mut seen = HashSet::new();
        let mut zones = Vec::with_capacity(body.zones.len());
        for (i, zone) in body.zones.iter().enumerate() {
            let field = |member| body.zones.member_path(i, member);
            if !is_valid_id(zone.id.as_str()) {
                return fail(field(ZoneMember::Id), Problem::BadId);
            }
            if !seen.insert(zone.id.as_str()) {
                return fail(field(ZoneMember::Id), Problem::Duplicate);
            }
            let prealarm_m = positive(zone.prealarm_m, &field(ZoneMember::PrealarmM))?;
            let shape = shape(
                &zone.geometry,
                zone.radius_m,
                &field(ZoneMember::Geometry),
                &field(ZoneMember::RadiusM),
                rules,
            )?;
            zones.push(Zone {
                id: zone.id.clone(),
                shape,
                thresholds: Thresholds {
                    alarm_m: 0.0,
                    prealarm_m,
                },
            });
        }
        let valid_from = body.valid_from.map(|t| t.0);
        let valid_until = body.valid_until.map(|t| t.0);
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until <= from
        {
            return fail("valid_until", Problem::EndsBeforeItStarts);
        }
        Ok(Self {
            id,
            region: body.region.clone(),
            exercise: body.exercise,
            victims,
            perpetrators,
            proximity,
            zones,
            valid_from,
            valid_until,
            warn_perpetrator: body.warn_perpetrator,
        })
    }

    /// Whether the order applies at `t`.
    pub fn is_valid_at(&self, t: TimestampMs) -> bool {
        self.valid_from.is_none_or(|from| from <= t)
            && self.valid_until.is_none_or(|until| t < until)
    }

    /// Every device of the order with its side.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceId, Role)> {
        let victims = self.victims.iter().map(|d| (d, Role::Victim));
        victims.chain(self.perpetrators.iter().map(|d| (d, Role::Perpetrator)))
    }
}

fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn devices(list: &[DeviceId], field: &str) -> Result<Vec<DeviceId>, OrderError> {
    if list.is_empty() {
        return fail(field, Problem::Empty);
    }
    let mut unique: Vec<DeviceId> = Vec::with_capacity(list.len());
    for (i, device) in list.iter().enumerate() {
        if unique.contains(device) {
            return fail(format!("{field}[{i}]"), Problem::Duplicate);
        }
        unique.push(device.clone());
    }
    Ok(unique)
}

fn positive(value: f64, field: &str) -> Result<f64, OrderError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        fail(field, Problem::NotPositive)
    }
}

fn proximity(rule: ProximityRule) -> Result<Thresholds, OrderError> {
    let alarm_m = positive(rule.alarm_m, "proximity.alarm_m")?;
    let prealarm_m = positive(rule.prealarm_m, "proximity.prealarm_m")?;
    if prealarm_m <= alarm_m {
        return fail("proximity.prealarm_m", Problem::PrealarmNotBeyondAlarm);
    }
    Ok(Thresholds {
        alarm_m,
        prealarm_m,
    })
}

/// The zone's shape; `geometry_field` and `radius_field` are the paths of
/// its `geometry` and `radius_m`.
fn shape(
    geometry: &Geometry,
    radius_m: Option<f64>,
    geometry_field: &str,
    radius_field: &str,
    rules: Rules,
) -> Result<Shape, OrderError> {
    let field = format!("{geometry_field}.coordinates");
    let parts = match (geometry, radius_m) {
        (Geometry::Point(position), Some(radius)) => {
            let radius = positive(radius, radius_field)?;
            return Ok(Shape::Circle(Circle::new(point(position, &field)?, radius)));
        }
        (Geometry::Point(_), None) | (_, Some(_)) => {
            return fail(radius_field, Problem::RadiusOnlyForPoints);
        }
        (Geometry::Polygon(rings), None) => {
            within_vertex_limit(rings, &field)?;
            vec![polygon(rings, &field, rules)?]
        }
        (Geometry::MultiPolygon(polygons), None) => {
            if polygons.is_empty() {
                return fail(field, Problem::Empty);
            }
            within_vertex_limit(polygons.iter().flatten(), &field)?;
            polygons
                .iter()
                .enumerate()
                .map(|(i, rings)| polygon(rings, &format!("{field}[{i}]"), rules))
                .collect::<Result<_, _>>()?
        }
    };
    let (rings, polygons): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    if let Some(meeting) = (rules == Rules::Admission)
        .then(|| topology::first_meeting(&polygons, 0))
        .flatten()
    {
        return fail(
            format!("{field}[{}]", meeting.item),
            meets(meeting, Sibling::Polygon),
        );
    }
    Ok(Shape::Area(Area::new(&rings)))
}

/// Checks a polygon's rings; gives them as positions and as geo's polygon.
fn polygon(
    rings: &[Vec<Position>],
    field: &str,
    rules: Rules,
) -> Result<(Vec<Vec<GeoPoint>>, geo::Polygon<f64>), OrderError> {
    let points = rings
        .iter()
        .enumerate()
        .map(|(i, ring)| self::ring(ring, &format!("{field}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let Some((outer, holes)) = points.split_first() else {
        return fail(field, Problem::Empty);
    };
    let polygon = topology::polygon(outer, holes, rules == Rules::Admission).map_err(|fault| {
        let (at, problem) = match fault {
            Fault::SelfIntersection { ring, edge, other } => (
                format!("[{ring}][{edge}]"),
                Problem::SelfIntersecting(other),
            ),
            Fault::HoleOutside { ring } => (format!("[{ring}]"), Problem::HoleOutside),
            Fault::Meet(meeting) => (format!("[{}]", meeting.item), meets(meeting, Sibling::Ring)),
        };
        OrderError {
            field: format!("{field}{at}"),
            problem,
        }
    })?;
    Ok((points, polygon))
}

fn meets(meeting: Meeting, sibling: fn(usize) -> Sibling) -> Problem {
    match meeting.contact {
        Contact::Overlap => Problem::Overlaps(sibling(meeting.other)),
        Contact::SharedEdge => Problem::SharesEdge(sibling(meeting.other)),
    }
}

/// Refuses a zone of more than [`MAX_ZONE_VERTICES`] positions before any
/// of them is looked at.
fn within_vertex_limit<'a>(
    rings: impl IntoIterator<Item = &'a Vec<Position>>,
    field: &str,
) -> Result<(), OrderError> {
    if rings.into_iter().map(Vec::len).sum::<usize>() > MAX_ZONE_VERTICES {
        return fail(field, Problem::TooManyVertices);
    }
    Ok(())
}

fn ring(positions: &[Position], field: &str) -> Result<Vec<GeoPoint>, OrderError> {
    let points = positions
        .iter()
        .enumerate()
        .map(|(i, p)| point(p, &format!("{field}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 4 {
        return fail(field, Problem::TooFewPositions);
    }
    if points.first() != points.last() {
        return fail(
            format!("{field}[{}]", points.len() - 1),
            Problem::RingNotClosed,
        );
    }
    let frame = LocalFrame::new(points[0]);
    let xy: Vec<[f64; 2]> = points.iter().map(|p| frame.project(*p)).collect();
    if geometry::ring_area(&xy).abs() < 1e-6 {
        return fail(field, Problem::ZeroArea);
    }
    Ok(points)
}

fn point(position: &Position, field: &str) -> Result<GeoPoint, OrderError> {
    let (lon, lat) = match position.as_slice() {
        [lon, lat] | [lon, lat, _] if lon.is_finite() && lat.is_finite() => (*lon, *lat),
        _ => return fail(field, Problem::NotAPosition),
    };
    if !(-90.0..=90.0).contains(&lat) {
        return fail(field, Problem::LatitudeOutOfRange);
    }
    if !(-180.0..=180.0).contains(&lon) {
        return fail(field, Problem::LongitudeOutOfRange);
    }
    Ok(GeoPoint::new(lat, lon))
}
