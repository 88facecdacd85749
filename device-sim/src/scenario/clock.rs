//! The scenario clock at `--speed N`: scenario second `t` is played at real
//! time `start + t/N`, and devices stamp it `ts = anchor + t`.
//!
//! The anchor is `start − duration·(N−1)/N`, so device time never runs ahead
//! of real time (Vangnet refuses `ts` more than 5 minutes in the future) and
//! reaches it exactly at the scenario's end; at speed 1 it is real time.
//! What follows at speed N > 1:
//! - everything Vangnet judges on device time — proximity drift, stale
//!   positions (`stale_after_s`), the approach horizon, the 30 s revision
//!   spacing — behaves as in real life;
//! - silence is measured on the server's clock, so a device quiet for `s`
//!   scenario seconds is quiet for only `s/N` real seconds: `signal_lost` comes
//!   `N` times later in scenario time (300 s of perpetrator silence takes
//!   `300·N` scenario seconds) unless the server runs with
//!   `VANGNET_PERP_SILENCE_S` and `VANGNET_VICTIM_SILENCE_S` divided by N, as
//!   the CI test does; the server checks silence once a real second, i.e. every
//!   N scenario seconds;
//! - Vangnet's real processing time L shows as `N·L` scenario seconds in the
//!   report's delays, so an expectation's `within_s` must allow for it;
//! - an alarm raised `a` scenario seconds before the end reaches Vangnet with
//!   a `ts` `a·(N−1)/N` seconds old, so it is flagged `late` when that exceeds
//!   120 s (it is still raised at its priority).

use std::time::{Duration, Instant};

use vangnet_proto::TimestampMs;

/// Maps scenario time to real instants and device timestamps.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    speed: f64,
    anchor_ms: f64,
    duration_s: f64,
}

impl Clock {
    /// Starts scenario time 0 now, for a scenario of `duration_s` played at `speed`.
    pub fn start(speed: f64, duration_s: f64) -> Self {
        let now_ms = TimestampMs::now().millis() as f64;
        Self {
            start: Instant::now(),
            speed,
            anchor_ms: now_ms - duration_s * 1000.0 * (speed - 1.0) / speed,
            duration_s,
        }
    }

    /// When scenario time `t` is played.
    pub fn instant(&self, t: f64) -> Instant {
        self.start + Duration::from_secs_f64(t.max(0.0) / self.speed)
    }

    /// When the scenario ends.
    pub fn end(&self) -> Instant {
        self.instant(self.duration_s)
    }

    /// The device timestamp of scenario time `t`.
    pub fn device_ts(&self, t: f64) -> TimestampMs {
        TimestampMs((self.anchor_ms + t * 1000.0).round() as u64)
    }

    /// The scenario time of the real instant `at`.
    pub fn scenario_time(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64() * self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_time_never_runs_ahead_of_real_time_and_meets_it_at_the_end() {
        let clock = Clock::start(10.0, 600.0);
        let now = TimestampMs::now().millis();
        assert!(clock.device_ts(0.0).millis() + 539_000 <= now + 1000);
        let end = clock.device_ts(600.0).millis();
        assert!(end.abs_diff(now + 60_000) < 1000, "{end} vs {now}");
        assert_eq!(
            clock.instant(600.0) - clock.instant(0.0),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn at_speed_one_device_time_is_real_time() {
        let clock = Clock::start(1.0, 600.0);
        assert!(
            clock
                .device_ts(0.0)
                .millis()
                .abs_diff(TimestampMs::now().millis())
                < 1000
        );
    }
}
