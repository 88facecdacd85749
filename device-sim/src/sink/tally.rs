//! The sink's running counts, printed as the live summary line.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::{Duration, SystemTime};

/// How one request was answered, as counted in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// Any other status, including 401 and the fault plan's 503.
    Failed,
    /// Never answered.
    Hung,
    /// Answered 503 inside the down window.
    Down,
}

/// Counts since the sink started.
#[derive(Debug, Default)]
pub struct Tally {
    received: u64,
    delivered: u64,
    failed: u64,
    hung: u64,
    down: u64,
    invalid_signatures: u64,
    unsigned: u64,
    duplicates: u64,
    keys: HashSet<String>,
    priorities: BTreeMap<String, u64>,
    max_p1_gap: Option<Duration>,
}

impl Tally {
    /// Counts a received request; true when its Idempotency-Key was seen before.
    pub fn receive(&mut self, idempotency_key: Option<&str>, priority: Option<&str>) -> bool {
        self.received += 1;
        *self
            .priorities
            .entry(priority.unwrap_or("none").to_owned())
            .or_default() += 1;
        let duplicate = idempotency_key.is_some_and(|key| !self.keys.insert(key.to_owned()));
        self.duplicates += u64::from(duplicate);
        duplicate
    }

    /// Counts a request whose signature did not verify, or was missing while
    /// one was required, whatever the answer.
    pub fn bad_signature(&mut self, missing: bool) {
        if missing {
            self.unsigned += 1;
        } else {
            self.invalid_signatures += 1;
        }
    }

    /// Counts the answer given; `p1_updated_at` is the `updated_at` of a P1
    /// body, whose gap to a 2xx answer feeds the maximum P1 gap.
    pub fn answer(
        &mut self,
        outcome: Outcome,
        p1_updated_at: Option<SystemTime>,
        answered_at: SystemTime,
    ) {
        match outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Hung => self.hung += 1,
            Outcome::Down => self.down += 1,
        }
        if outcome == Outcome::Delivered
            && let Some(updated_at) = p1_updated_at
        {
            let gap = answered_at
                .duration_since(updated_at)
                .unwrap_or(Duration::ZERO);
            self.max_p1_gap = Some(self.max_p1_gap.map_or(gap, |max| max.max(gap)));
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received={} delivered={} failed={} hung={} down={} invalid_signatures={} unsigned={} duplicates={}",
            self.received,
            self.delivered,
            self.failed,
            self.hung,
            self.down,
            self.invalid_signatures,
            self.unsigned,
            self.duplicates
        )?;
        for (priority, count) in &self.priorities {
            write!(f, " priority_{priority}={count}")?;
        }
        match self.max_p1_gap {
            Some(gap) => write!(f, " max_p1_gap_ms={}", gap.as_millis()),
            None => write!(f, " max_p1_gap_ms=-"),
        }
    }
}
