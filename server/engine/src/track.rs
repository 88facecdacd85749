//! A device's own track, used to tell real movement from multipath outliers
//! (docs/detection.md#outliers).
//!
//! Technique: confirmation by the next fix, limited by what a body can do.
//! A fix is *consistent* when its distance `D` from the track's last
//! consistent fix (the anchor) is explained by the recent speed plus a
//! plausible change of speed plus both accuracies:
//! `D ≤ min((v + Δv)·dt, v_max·dt) + 1.5·(acc₁ + acc₂) + 10 m`, with `v` the
//! larger of the speed between the anchor and its predecessor (less their
//! accuracies) and any reported `spd`. A fix that is not consistent is a
//! *suspect*: it is evaluated, but can raise an alarm only to `possible`
//! (P2) and lowers nothing; the segment from the fix before it is still
//! checked for zone crossings. The next fix decides: if it is consistent with
//! the anchor, the jump was undone and the suspect was an outlier; otherwise
//! the suspect is confirmed, becomes the anchor, and the next fix is judged
//! against it (at full confidence when consistent). Only a suspect some
//! possible movement *reaches* can be confirmed:
//! `D ≤ min(v·dt + ½·a·dt², v_max·dt) + 1.5·(acc₁ + acc₂) + 10 m`, with `a`
//! the hardest acceleration a vehicle keeps up. A suspect beyond that reach
//! (a burst of multipath fixes at a high fix rate) stays a suspect, and so
//! does the next one, until a fix returns to the track or a suspect is within
//! the reach, which grows with the time since the anchor. A first fix, or one
//! after a silence longer than `stale_after_s`, starts a fresh track and is
//! consistent.
//!
//! Time (docs/detection.md#time-and-order-of-events): a fix counts at the
//! smaller of its `ts` and the time it was received, so that a fix dated
//! ahead of the server's clock cannot make the real fixes after it look old.
//! Order, speeds and gaps are measured in these times; the device's `ts` is
//! kept as it came.

use serde::{Deserialize, Serialize};
use vangnet_proto::{Fix, TimestampMs};

use crate::config::EngineConfig;
use crate::geometry::{GeoPoint, distance_m};

/// The parts of a fix the engine keeps: where, how sure, when.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Where.
    pub at: GeoPoint,
    /// Accuracy radius (m).
    pub acc: f64,
    /// Device time.
    pub ts: TimestampMs,
    /// How far `ts` was ahead of the time the fix was received (ms); 0 for
    /// a fix dated at or before its receipt.
    #[serde(default, skip_serializing_if = "is_zero")]
    ahead_ms: u64,
    /// Reported ground speed (m/s), if any.
    pub spd: Option<f64>,
}

fn is_zero(ms: &u64) -> bool {
    *ms == 0
}

impl Position {
    /// The position `fix` gives, received at `now`.
    pub fn received(fix: &Fix, now: TimestampMs) -> Self {
        Self {
            at: GeoPoint::new(fix.lat.get(), fix.lon.get()),
            acc: fix.acc.get(),
            ts: fix.ts,
            ahead_ms: fix.ts.millis().saturating_sub(now.millis()),
            spd: fix.spd.map(|s| s.get()),
        }
    }

    /// When the fix counts: its device time, or its receive time if earlier.
    pub fn time(&self) -> TimestampMs {
        TimestampMs(self.ts.millis().saturating_sub(self.ahead_ms))
    }

    /// Whether this fix comes after `other`: by time, then by device time
    /// (fixes dated ahead and received at the same instant keep their order).
    fn is_after(&self, other: &Self) -> bool {
        (self.time(), self.ts) > (other.time(), other.ts)
    }
}

/// The device's latest position and whether its track vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    /// The newest accepted fix.
    pub position: Position,
    /// True while it contradicts the track and awaits confirmation.
    pub suspect: bool,
}

/// How a new fix relates to the device's track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Not after the newest accepted fix: history only, no state change.
    Older,
    /// Explained by the track; `previous` is the consistent fix before it, if
    /// recent enough to draw a segment from.
    Consistent {
        /// The anchor the fix was judged against.
        previous: Option<Position>,
        /// The accepted fix before this one when it is not `previous` (a
        /// suspect, or the last fix before a fresh track): the device may have
        /// come from there, so that segment is checked too.
        last: Option<Position>,
    },
    /// Contradicts the track: evaluated at `possible` at most, lowers nothing.
    Suspect {
        /// The accepted fix before it, for the zone-crossing rule.
        previous: Position,
    },
}

impl Verdict {
    /// The fixes whose segments to the judged fix the zone-crossing rule checks.
    pub fn segment_starts(&self) -> [Option<Position>; 2] {
        match *self {
            Self::Older => [None, None],
            Self::Consistent { previous, last } => [previous, last],
            Self::Suspect { previous } => [Some(previous), None],
        }
    }
}

/// The last consistent fix and the speed the track had arriving at it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Anchor {
    position: Position,
    speed: f64,
}

/// The recent track of one device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Track {
    latest: Option<Latest>,
    anchor: Option<Anchor>,
}

impl Track {
    /// The newest accepted fix.
    pub fn latest(&self) -> Option<Latest> {
        self.latest
    }

    /// Judges `fix` against the track and takes it in unless it is older.
    pub fn accept(&mut self, fix: Position, config: &EngineConfig) -> Verdict {
        let Some(latest) = self.latest else {
            return self.take_consistent(fix, None, None);
        };
        if !fix.is_after(&latest.position) {
            return Verdict::Older;
        }
        let last = Some(latest.position);
        let Some(anchor) = self
            .anchor
            .filter(|a| fix.time().abs_diff(a.position.time()) <= config.stale_after_s * 1000)
        else {
            return self.take_consistent(fix, None, last);
        };
        if explains(anchor, fix, config) {
            return self.take_consistent(fix, Some(anchor.position), last);
        }
        if latest.suspect && reaches(anchor, latest.position, config) {
            let confirmed = Anchor {
                position: latest.position,
                speed: speed_between(anchor.position, latest.position),
            };
            self.anchor = Some(confirmed);
            if explains(confirmed, fix, config) {
                return self.take_consistent(fix, Some(confirmed.position), last);
            }
        }
        self.latest = Some(Latest {
            position: fix,
            suspect: true,
        });
        Verdict::Suspect {
            previous: latest.position,
        }
    }

    fn take_consistent(
        &mut self,
        fix: Position,
        previous: Option<Position>,
        last: Option<Position>,
    ) -> Verdict {
        self.anchor = Some(Anchor {
            position: fix,
            speed: previous.map_or(0.0, |p| speed_between(p, fix)),
        });
        self.latest = Some(Latest {
            position: fix,
            suspect: false,
        });
        let last = last.filter(|l| Some(*l) != previous);
        Verdict::Consistent { previous, last }
    }
}

/// The speed the track had arriving at the anchor, or reported by either fix.
fn known_speed(anchor: Anchor, fix: Position) -> f64 {
    [anchor.position.spd, fix.spd]
        .into_iter()
        .flatten()
        .fold(anchor.speed, f64::max)
}

/// The room both fixes' accuracies leave (m).
fn slack(a: Position, b: Position) -> f64 {
    1.5 * (a.acc + b.acc) + 10.0
}

/// Whether moving from the anchor to `fix` is plausible given the speed the
/// track had arriving at the anchor.
fn explains(anchor: Anchor, fix: Position, config: &EngineConfig) -> bool {
    let from = anchor.position;
    let dt = seconds_between(from.time(), fix.time());
    let speed = known_speed(anchor, fix);
    let travel = ((speed + config.speed_change_mps) * dt).min(config.max_speed_mps * dt);
    distance_m(from.at, fix.at) <= travel + slack(from, fix)
}

/// Whether any movement within the acceleration and speed limits gets from
/// the anchor to `fix` in the time between them.
fn reaches(anchor: Anchor, fix: Position, config: &EngineConfig) -> bool {
    let from = anchor.position;
    let dt = seconds_between(from.time(), fix.time());
    let speed = known_speed(anchor, fix);
    let travel =
        (speed * dt + 0.5 * config.max_accel_mps2 * dt * dt).min(config.max_speed_mps * dt);
    distance_m(from.at, fix.at) <= travel + slack(from, fix)
}

/// The speed between two fixes that their accuracies cannot explain away.
fn speed_between(a: Position, b: Position) -> f64 {
    let moved = distance_m(a.at, b.at) - a.acc - b.acc;
    moved.max(0.0) / seconds_between(a.time(), b.time())
}

fn seconds_between(a: TimestampMs, b: TimestampMs) -> f64 {
    (a.abs_diff(b) as f64 / 1000.0).max(0.001)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::LocalFrame;

    fn at(x: f64, t_s: u64) -> Position {
        let frame = LocalFrame::new(GeoPoint::new(52.0, 5.0));
        Position {
            at: frame.unproject([x, 0.0]),
            acc: 10.0,
            ts: TimestampMs(t_s * 1000),
            ahead_ms: 0,
            spd: None,
        }
    }

    fn feed(track: &mut Track, fixes: &[Position]) -> Vec<Verdict> {
        let config = EngineConfig::default();
        fixes.iter().map(|f| track.accept(*f, &config)).collect()
    }

    #[test]
    fn a_jump_the_next_fix_undoes_is_a_suspect_outlier() {
        let mut track = Track::default();
        let verdicts = feed(
            &mut track,
            &[at(0.0, 0), at(5.0, 30), at(300.0, 60), at(10.0, 90)],
        );
        assert!(matches!(verdicts[2], Verdict::Suspect { .. }));
        assert!(
            matches!(verdicts[3], Verdict::Consistent { previous: Some(p), .. } if p == at(5.0, 30))
        );
    }

    #[test]
    fn a_jump_the_next_fix_confirms_becomes_the_track() {
        let mut track = Track::default();
        let verdicts = feed(
            &mut track,
            &[at(0.0, 0), at(5.0, 30), at(300.0, 60), at(310.0, 90)],
        );
        assert!(matches!(verdicts[2], Verdict::Suspect { .. }));
        assert!(
            matches!(verdicts[3], Verdict::Consistent { previous: Some(p), .. } if p == at(300.0, 60))
        );
    }

    #[test]
    fn a_jump_no_movement_reaches_in_time_is_not_confirmed_by_the_next_fix() {
        let mut track = Track::default();
        let verdicts = feed(
            &mut track,
            &[
                at(0.0, 0),
                at(0.0, 2),
                at(300.0, 4),
                at(300.0, 6),
                at(2.0, 8),
            ],
        );
        assert!(matches!(verdicts[2], Verdict::Suspect { .. }));
        assert!(matches!(verdicts[3], Verdict::Suspect { .. }));
        assert!(
            matches!(verdicts[4], Verdict::Consistent { previous: Some(p), last: Some(u) }
                if p == at(0.0, 2) && u == at(300.0, 6))
        );
    }

    #[test]
    fn a_jump_is_confirmed_once_the_time_since_the_anchor_makes_it_reachable() {
        let mut track = Track::default();
        let verdicts = feed(
            &mut track,
            &[
                at(0.0, 0),
                at(0.0, 2),
                at(300.0, 4),
                at(300.0, 20),
                at(305.0, 22),
            ],
        );
        assert!(matches!(verdicts[3], Verdict::Suspect { previous } if previous == at(300.0, 4)));
        assert!(
            matches!(verdicts[4], Verdict::Consistent { previous: Some(p), .. } if p == at(300.0, 20))
        );
    }

    #[test]
    fn steady_driving_is_consistent_and_older_fixes_are_older() {
        let mut track = Track::default();
        let fixes: Vec<Position> = (0u32..10)
            .map(|i| at(f64::from(i) * 400.0, u64::from(i) * 30))
            .collect();
        let verdicts = feed(&mut track, &fixes);
        assert!(
            verdicts[2..]
                .iter()
                .all(|v| matches!(v, Verdict::Consistent { .. }))
        );
        assert_eq!(feed(&mut track, &[at(0.0, 30)]), vec![Verdict::Older]);
    }

    #[test]
    fn a_position_saved_without_its_receive_time_counts_at_its_device_time() {
        let saved = serde_json::to_string(&at(5.0, 30)).unwrap();
        assert!(!saved.contains("ahead_ms"), "{saved}");
        let loaded: Position = serde_json::from_str(&saved).unwrap();
        assert_eq!(loaded.time(), TimestampMs(30_000));
    }
}
