//! Where an actor truly is at each scenario time: straight legs between
//! waypoints at their speeds with dwell times, or a GPX track replayed at its
//! recorded pace.

use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::{Context, bail};
use vangnet_geodesy::{Position, azimuth, distance_m};

use super::model::{Route, Waypoint};

/// A true position at a scenario time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    t: f64,
    at: Position,
}

/// The actor's true path: positions at increasing scenario times, straight between them.
#[derive(Debug, Clone)]
pub struct Track {
    samples: Vec<Sample>,
}

/// The true state of an actor at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    /// Where the actor is.
    pub at: Position,
    /// Ground speed (m/s).
    pub speed_mps: f64,
    /// Direction of travel (degrees from north), 0 when standing.
    pub heading: f64,
}

impl Track {
    /// The path of `route`; a GPX file is found relative to `base`.
    pub fn of(route: &Route, base: &Path) -> anyhow::Result<Self> {
        let samples = match route {
            Route::Waypoints { waypoints } => from_waypoints(waypoints),
            Route::Gpx { gpx, start_s } => from_gpx(&base.join(gpx), *start_s)?,
        };
        if samples.is_empty() {
            bail!("a route without points");
        }
        Ok(Self { samples })
    }

    /// The actor's true position, speed and heading at scenario time `t`.
    pub fn at(&self, t: f64) -> Truth {
        let standing = |at| Truth {
            at,
            speed_mps: 0.0,
            heading: 0.0,
        };
        let next = self.samples.partition_point(|s| s.t <= t);
        let (Some(a), Some(b)) = (
            next.checked_sub(1).and_then(|i| self.samples.get(i)),
            self.samples.get(next),
        ) else {
            let edge = if next == 0 {
                self.samples.first()
            } else {
                self.samples.last()
            };
            return standing(edge.map_or(Position::new(0.0, 0.0), |s| s.at));
        };
        let share = (t - a.t) / (b.t - a.t);
        let at = Position::new(
            a.at.lat + (b.at.lat - a.at.lat) * share,
            a.at.lon + (b.at.lon - a.at.lon) * share,
        );
        let length = distance_m(a.at, b.at);
        if length == 0.0 {
            return standing(at);
        }
        Truth {
            at,
            speed_mps: length / (b.t - a.t),
            heading: azimuth(a.at, b.at),
        }
    }
}

fn point(lon_lat: [f64; 2]) -> Position {
    Position::new(lon_lat[1], lon_lat[0])
}

fn from_waypoints(waypoints: &[Waypoint]) -> Vec<Sample> {
    let mut samples = Vec::with_capacity(waypoints.len() * 2);
    let mut t = 0.0;
    let mut previous: Option<Position> = None;
    for waypoint in waypoints {
        let at = point(waypoint.at);
        if let Some(from) = previous {
            t += distance_m(from, at) / (waypoint.speed_kmh / 3.6);
        }
        samples.push(Sample { t, at });
        if waypoint.dwell_s > 0.0 {
            t += waypoint.dwell_s;
            samples.push(Sample { t, at });
        }
        previous = Some(at);
    }
    samples.dedup_by(|b, a| a.t == b.t && a.at == b.at);
    samples
}

fn from_gpx(path: &Path, start_s: f64) -> anyhow::Result<Vec<Sample>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let gpx = gpx::read(std::io::BufReader::new(file))
        .with_context(|| format!("reading GPX {}", path.display()))?;
    let mut timed = Vec::new();
    for point in gpx
        .tracks
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| &s.points)
    {
        let Some(time) = point.time else {
            bail!("{}: a track point without <time>", path.display());
        };
        let text = time.format().context("GPX time")?;
        let seconds = humantime::parse_rfc3339_weak(&text)
            .with_context(|| format!("GPX time {text}"))?
            .duration_since(UNIX_EPOCH)
            .context("GPX time before 1970")?
            .as_secs_f64();
        let p = point.point();
        timed.push((seconds, Position::new(p.y(), p.x())));
    }
    let Some(&(first, _)) = timed.first() else {
        return Ok(Vec::new());
    };
    let samples: Vec<Sample> = timed
        .into_iter()
        .map(|(seconds, at)| Sample {
            t: start_s + seconds - first,
            at,
        })
        .collect();
    if samples.windows(2).any(|w| w[1].t < w[0].t) {
        bail!("{}: track times go backwards", path.display());
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> Track {
        let route = Route::Waypoints {
            waypoints: vec![
                Waypoint {
                    at: [4.0, 52.0],
                    speed_kmh: 0.0,
                    dwell_s: 100.0,
                },
                Waypoint {
                    at: [4.0, 52.01],
                    speed_kmh: 3.6,
                    dwell_s: 0.0,
                },
            ],
        };
        Track::of(&route, Path::new(".")).unwrap()
    }

    #[test]
    fn an_actor_dwells_then_walks_at_the_leg_speed() {
        let path = walk();
        assert_eq!(path.at(50.0).speed_mps, 0.0);
        let walking = path.at(200.0);
        assert!((walking.speed_mps - 1.0).abs() < 1e-9);
        assert!((distance_m(path.at(100.0).at, walking.at) - 100.0).abs() < 0.01);
        assert!(walking.heading < 1.0 || walking.heading > 359.0);
    }

    #[test]
    fn an_actor_stays_at_the_last_point_after_the_route() {
        let path = walk();
        let end = path.at(1e6);
        assert_eq!(end.at, Position::new(52.01, 4.0));
        assert_eq!(end.speed_mps, 0.0);
    }

    #[test]
    fn a_gpx_track_is_replayed_at_its_recorded_pace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.gpx"),
            r#"<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<trk><trkseg>
<trkpt lat="52.0" lon="4.0"><time>2026-11-28T12:00:00Z</time></trkpt>
<trkpt lat="52.001" lon="4.0"><time>2026-11-28T12:01:00Z</time></trkpt>
</trkseg></trk></gpx>"#,
        )
        .unwrap();
        let route = Route::Gpx {
            gpx: "t.gpx".into(),
            start_s: 30.0,
        };
        let path = Track::of(&route, dir.path()).unwrap();
        assert_eq!(path.at(0.0).at, Position::new(52.0, 4.0));
        assert!((path.at(60.0).at.lat - 52.0005).abs() < 1e-9);
        assert_eq!(path.at(90.0).at, Position::new(52.001, 4.0));
    }
}
