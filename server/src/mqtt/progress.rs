//! Whether a lane still takes the messages it is given: how many each of its
//! workers was handed, how many it finished, and since when it finished none
//! while some waited. A lane with a worker stuck that way makes `/readyz`
//! answer 503.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Messages a lane handed to one of its workers and messages it finished.
#[derive(Debug, Default)]
pub struct LaneProgress {
    handed: AtomicU64,
    finished: AtomicU64,
}

impl LaneProgress {
    /// Counts one message handed to a worker.
    pub fn handed(&self) {
        self.handed.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts `count` messages a worker finished (acked, rejected or set aside).
    pub fn finished(&self, count: usize) {
        self.finished.fetch_add(count as u64, Ordering::AcqRel);
    }

    fn counts(&self) -> (u64, u64) {
        let finished = self.finished.load(Ordering::Acquire);
        (self.handed.load(Ordering::Acquire), finished)
    }
}

/// Watches one lane's progress for a stall longer than its allowance.
#[derive(Debug)]
pub struct StallWatch {
    allowance: Duration,
    finished: u64,
    since: Instant,
}

impl StallWatch {
    /// A watch that calls a lane stalled after `allowance` without progress.
    pub fn new(allowance: Duration, now: Instant) -> Self {
        Self {
            allowance,
            finished: 0,
            since: now,
        }
    }

    /// True when `progress` has held messages without finishing one for the allowance.
    pub fn stalled(&mut self, progress: &LaneProgress, now: Instant) -> bool {
        let (handed, finished) = progress.counts();
        if finished != self.finished || handed <= finished {
            self.finished = finished;
            self.since = now;
            return false;
        }
        now.duration_since(self.since) >= self.allowance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWANCE: Duration = Duration::from_secs(30);

    #[test]
    fn an_idle_lane_never_stalls() {
        let start = Instant::now();
        let mut watch = StallWatch::new(ALLOWANCE, start);
        let progress = LaneProgress::default();
        assert!(!watch.stalled(&progress, start + ALLOWANCE * 10));
    }

    #[test]
    fn a_lane_holding_a_message_it_does_not_finish_stalls_after_the_allowance() {
        let start = Instant::now();
        let mut watch = StallWatch::new(ALLOWANCE, start);
        let progress = LaneProgress::default();
        progress.handed();
        assert!(!watch.stalled(&progress, start + ALLOWANCE / 2));
        assert!(watch.stalled(&progress, start + ALLOWANCE));
    }

    #[test]
    fn a_lane_that_finishes_messages_is_not_stalled_however_much_waits() {
        let start = Instant::now();
        let mut watch = StallWatch::new(ALLOWANCE, start);
        let progress = LaneProgress::default();
        for second in 1..100u32 {
            progress.handed();
            progress.handed();
            progress.finished(1);
            let now = start + Duration::from_secs(u64::from(second));
            assert!(!watch.stalled(&progress, now), "stalled at {second} s");
        }
    }

    #[test]
    fn a_stalled_lane_recovers_when_it_finishes_a_message() {
        let start = Instant::now();
        let mut watch = StallWatch::new(ALLOWANCE, start);
        let progress = LaneProgress::default();
        progress.handed();
        assert!(watch.stalled(&progress, start + ALLOWANCE));
        progress.finished(1);
        assert!(!watch.stalled(&progress, start + ALLOWANCE * 2));
    }
}
