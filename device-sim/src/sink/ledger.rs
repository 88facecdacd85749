//! What a chaos run needs from its in-process sink: an outage switched on
//! and off while it runs, and the Idempotency-Key of every delivery.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The outage switch and the keys of the requests answered 2xx.
#[derive(Debug, Default)]
pub struct Ledger {
    down: AtomicBool,
    delivered: Mutex<HashSet<String>>,
}

impl Ledger {
    /// Starts or ends an outage: while down, every request is answered 503 at once.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Whether an outage is on.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Records that the request with `key` was answered 2xx.
    pub fn delivered(&self, key: &str) {
        self.keys().insert(key.to_owned());
    }

    /// The Idempotency-Keys answered 2xx so far.
    pub fn delivered_keys(&self) -> HashSet<String> {
        self.keys().clone()
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.delivered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
