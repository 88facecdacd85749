//! From a distance and its uncertainty to a level (docs/detection.md#levels):
//! `lo = d − u`, `hi = d + u`; `hi ≤ A` certain alarm, `lo ≤ A` possible
//! alarm, `lo ≤ B` pre-alarm, otherwise clear. A level already reached is
//! only left when `lo` exceeds its threshold by the hysteresis
//! `H = max(50 m, 10 % of the threshold)`, so jitter smaller than `H` cannot
//! make it flap.

use serde::{Deserialize, Serialize};
use vangnet_proto::Confidence;

/// How far a target is violated, ordered from harmless to certain.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Beyond the pre-alarm distance.
    #[default]
    Clear,
    /// Within the pre-alarm distance.
    Prealarm,
    /// The uncertainty admits a violation of the alarm distance.
    PossibleAlarm,
    /// Even the most favourable reading violates the alarm distance.
    CertainAlarm,
}

impl Level {
    /// The confidence of an alarm level; `None` below alarm.
    pub fn confidence(self) -> Option<Confidence> {
        match self {
            Self::CertainAlarm => Some(Confidence::Certain),
            Self::PossibleAlarm => Some(Confidence::Possible),
            Self::Prealarm | Self::Clear => None,
        }
    }
}

/// Alarm distance `A` and pre-alarm distance `B` (`B > A`) of one target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// `A`: the zone itself (0) or the order's `alarm_m`.
    pub alarm_m: f64,
    /// `B`: the zone's or the order's `prealarm_m`.
    pub prealarm_m: f64,
}

/// The hysteresis of `threshold`: max(50 m, 10 % of it).
pub fn hysteresis(threshold: f64) -> f64 {
    (threshold * 0.1).max(50.0)
}

impl Thresholds {
    /// How far beyond which a target is clear whatever its previous level.
    pub fn clear_beyond(&self) -> f64 {
        self.prealarm_m + hysteresis(self.prealarm_m)
    }

    /// The level of signed distance `d` with uncertainty `u`, given the
    /// `previous` level (hysteresis applies to the levels already reached).
    pub fn classify(&self, d: f64, u: f64, previous: Level) -> Level {
        let (lo, hi) = (d - u, d + u);
        let widened = |threshold: f64, level: Level| {
            if previous >= level {
                threshold + hysteresis(threshold)
            } else {
                threshold
            }
        };
        if hi <= widened(self.alarm_m, Level::CertainAlarm) {
            Level::CertainAlarm
        } else if lo <= widened(self.alarm_m, Level::PossibleAlarm) {
            Level::PossibleAlarm
        } else if lo <= widened(self.prealarm_m, Level::Prealarm) {
            Level::Prealarm
        } else {
            Level::Clear
        }
    }
}
