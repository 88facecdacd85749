//! Panic-to-dispatch latency: each panic sent is noted with the revision it
//! must produce (its order's panic alert reaching the press count), and
//! timed when the first revision with that count reaches the dispatch sink.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::latency::LatencySummary;

/// The revision a panic must produce: its order and the alert's press count.
type Press = (String, u64);

/// Panics waiting for their dispatch, and the latencies of those dispatched.
#[derive(Debug, Default)]
struct Ledger {
    waiting: HashMap<Press, Instant>,
    latencies: Vec<Duration>,
}

/// Times panics from their sending to their dispatch; shared by the senders and the sink.
#[derive(Debug, Default)]
pub struct PanicClock {
    ledger: Mutex<Ledger>,
}

impl PanicClock {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a panic of `order`, sent `at`, that raises its panic alert's count to `count`.
    pub fn sent(&self, order: &str, count: u64, at: Instant) {
        self.ledger().waiting.insert((order.to_owned(), count), at);
    }

    /// Times the panic a dispatch body (docs/api.md#the-request) answers, if one is waiting for it.
    pub fn observe(&self, body: &Value) {
        let arrived = Instant::now();
        if body["kind"] != "panic" {
            return;
        }
        let (Some(order), Some(count)) = (body["order_id"].as_str(), body["count"].as_u64()) else {
            return;
        };
        let mut ledger = self.ledger();
        if let Some(sent) = ledger.waiting.remove(&(order.to_owned(), count)) {
            ledger.latencies.push(arrived.duration_since(sent));
        }
    }

    /// Panics still waiting for their dispatch.
    pub fn waiting(&self) -> usize {
        self.ledger().waiting.len()
    }

    /// The summary since the last call; a panic waiting longer than `timeout` counts as missed.
    pub fn take(&self, timeout: Duration) -> LatencySummary {
        let mut ledger = self.ledger();
        let before = ledger.waiting.len();
        ledger.waiting.retain(|_, sent| sent.elapsed() <= timeout);
        let missed = (before - ledger.waiting.len()) as u64;
        LatencySummary::of(std::mem::take(&mut ledger.latencies), missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dispatch(kind: &str, order: &str, count: u64) -> Value {
        json!({"kind": kind, "order_id": order, "count": count, "revision": count})
    }

    #[test]
    fn a_panic_is_timed_by_the_first_revision_with_its_count() {
        let clock = PanicClock::default();
        clock.sent("o-1", 1, Instant::now());
        clock.observe(&dispatch("proximity_alarm", "o-1", 1));
        clock.observe(&dispatch("panic", "o-2", 1));
        assert_eq!(clock.waiting(), 1);
        clock.observe(&dispatch("panic", "o-1", 1));
        clock.observe(&dispatch("panic", "o-1", 1));
        let summary = clock.take(Duration::from_secs(5));
        assert_eq!((summary.count, summary.missed), (1, 0));
    }

    #[test]
    fn a_panic_waiting_past_the_timeout_is_missed() {
        let clock = PanicClock::default();
        clock.sent("o-1", 1, Instant::now());
        clock.sent("o-1", 2, Instant::now());
        clock.observe(&dispatch("panic", "o-1", 2));
        let summary = clock.take(Duration::ZERO);
        assert_eq!((summary.count, summary.missed), (1, 1));
        assert_eq!(clock.waiting(), 0);
    }
}
