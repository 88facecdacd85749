//! The sink's fault plan: which answer each request gets, decided from the
//! `--fail-percent`, `--hang-percent`, `--latency-ms` and down window options
//! with a seeded generator, so a run with the same seed and the same request
//! order fails the same requests.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

/// What the sink does with one request, before the signature is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Inside the down window: 503 at once, connection closed.
    Down,
    /// Never answered; the request is held until the client gives up.
    Hang,
    /// Answered 503 after the latency.
    Fail,
    /// Answered normally (200, or 401/405) after the latency.
    Serve,
}

/// The faults a sink injects.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    fail_percent: f64,
    hang_percent: f64,
    /// Added before every answer except down and hung ones.
    pub latency: Duration,
    /// Down from this offset after the start (inclusive).
    down_from: Option<Duration>,
    /// Down until this offset after the start (exclusive); `None` is forever.
    down_until: Option<Duration>,
    started: Instant,
}

impl FaultPlan {
    /// A plan from the command line's values; `down_from` and `down_until`
    /// are `+<duration>` after the start or RFC 3339 times.
    pub fn new(
        fail_percent: f64,
        hang_percent: f64,
        latency: Duration,
        down_from: Option<&str>,
        down_until: Option<&str>,
    ) -> anyhow::Result<Self> {
        for (name, value) in [
            ("--fail-percent", fail_percent),
            ("--hang-percent", hang_percent),
        ] {
            anyhow::ensure!(
                (0.0..=100.0).contains(&value),
                "{name} must be between 0 and 100, not {value}"
            );
        }
        let now = SystemTime::now();
        let down_from = down_from
            .map(|t| offset(t, now).with_context(|| format!("--down-from {t}")))
            .transpose()?;
        let down_until = down_until
            .map(|t| offset(t, now).with_context(|| format!("--down-until {t}")))
            .transpose()?;
        let (down_from, down_until) = match (down_from, down_until) {
            (None, None) => (None, None),
            (from, until) => (Some(from.unwrap_or(Duration::ZERO)), until),
        };
        if let (Some(from), Some(until)) = (down_from, down_until) {
            anyhow::ensure!(from < until, "--down-from must be before --down-until");
        }
        Ok(Self {
            fail_percent,
            hang_percent,
            latency,
            down_from,
            down_until,
            started: Instant::now(),
        })
    }

    /// The fate of the next request. Both rolls are always drawn, so the
    /// n-th request's rolls do not depend on what happened to earlier ones.
    pub fn decide(&self, rng: &mut fastrand::Rng) -> Fate {
        let hang_roll = rng.f64() * 100.0;
        let fail_roll = rng.f64() * 100.0;
        if self.is_down() {
            Fate::Down
        } else if hang_roll < self.hang_percent {
            Fate::Hang
        } else if fail_roll < self.fail_percent {
            Fate::Fail
        } else {
            Fate::Serve
        }
    }

    fn is_down(&self) -> bool {
        let Some(from) = self.down_from else {
            return false;
        };
        let elapsed = self.started.elapsed();
        elapsed >= from && self.down_until.is_none_or(|until| elapsed < until)
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fail {}%, hang {}%, latency {} ms",
            self.fail_percent,
            self.hang_percent,
            self.latency.as_millis()
        )?;
        match (self.down_from, self.down_until) {
            (Some(from), Some(until)) => write!(
                f,
                ", down from +{:.3}s until +{:.3}s",
                from.as_secs_f64(),
                until.as_secs_f64()
            ),
            (Some(from), None) => write!(f, ", down from +{:.3}s on", from.as_secs_f64()),
            _ => Ok(()),
        }
    }
}

/// `+60s`, `+2m`, `+1500ms` after `start`, or an RFC 3339 time; a time
/// before `start` is the start itself.
fn offset(time: &str, start: SystemTime) -> anyhow::Result<Duration> {
    if let Some(relative) = time.strip_prefix('+') {
        return humantime::parse_duration(relative.trim())
            .context("expected a duration like +60s, +2m or +1500ms");
    }
    let absolute = humantime::parse_rfc3339_weak(time)
        .context("expected +<duration> or an RFC 3339 time like 2026-11-28T15:00:00Z")?;
    Ok(absolute.duration_since(start).unwrap_or(Duration::ZERO))
}
