//! The engine's tunable numbers, with the defaults of docs/detection.md.

use serde::{Deserialize, Serialize};

/// Every threshold the rules use; `Default` gives the values of docs/detection.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Two parties' fixes further apart than this (s) make the older position unknown.
    pub stale_after_s: u64,
    /// How fast a victim's last known position is assumed to drift (m/s).
    pub drift_mps: f64,
    /// Closing in on the alarm distance within this many seconds raises `proximity_approach`.
    pub approach_horizon_s: u64,
    /// Server-clock silence (s) after which a perpetrator device raises `signal_lost` P2.
    pub perp_silence_s: u64,
    /// Server-clock silence (s) after which a victim device raises `signal_lost` P3.
    pub victim_silence_s: u64,
    /// A battery at or below this percentage raises `battery_low`.
    pub battery_low_pct: f64,
    /// `battery_low` clears once the battery is above `battery_low_pct` by this much.
    pub battery_clear_margin_pct: f64,
    /// An alarm received more than this many seconds after its `ts` is flagged late.
    pub late_after_s: u64,
    /// Two successive fixes at most this far apart (s) are checked for crossing a zone.
    pub crossing_max_gap_s: u64,
    /// While a condition lasts, a new position makes a revision at most this often (s of fix time).
    pub position_revision_s: u64,
    /// No real movement is faster than this (m/s); a faster jump is an outlier.
    pub max_speed_mps: f64,
    /// How much a device may change its speed between two fixes (m/s) and stay on its track.
    pub speed_change_mps: f64,
    /// The hardest acceleration (m/s²) a device's carrier keeps up, so that a jump beyond
    /// its reach is known to be wrong: 3 m/s² is an ordinary car's full-throttle start
    /// (0–100 km/h in 9 s); a faster start only makes its jump wait one more fix.
    pub max_accel_mps2: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            stale_after_s: 900,
            drift_mps: 1.5,
            approach_horizon_s: 120,
            perp_silence_s: 300,
            victim_silence_s: 900,
            battery_low_pct: 15.0,
            battery_clear_margin_pct: 5.0,
            late_after_s: 120,
            crossing_max_gap_s: 600,
            position_revision_s: 30,
            max_speed_mps: 70.0,
            speed_change_mps: 2.0,
            max_accel_mps2: 3.0,
        }
    }
}
