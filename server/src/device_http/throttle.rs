//! Limits on password guessing: failed sign-ins counted per key in fixed
//! windows, in a bounded cache that forgets the least recently seen keys.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Failed sign-ins per key (a client address, a claimed device id).
pub struct FailureLimit<K: Hash + Eq> {
    windows: Mutex<LruCache<K, Window>>,
    max_failures: u32,
    window: Duration,
}

/// The failures of one key since its window started.
#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl<K: Hash + Eq> FailureLimit<K> {
    /// Allows `max_failures` per `window`, remembering at most `keys` keys.
    pub fn new(max_failures: u32, window: Duration, keys: NonZeroUsize) -> Self {
        Self {
            windows: Mutex::new(LruCache::new(keys)),
            max_failures,
            window,
        }
    }

    /// How long `key` must wait before it may try again, if it failed too often.
    pub fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let window = self.current(key, now)?;
        let ends = window.started + self.window;
        (window.failures >= self.max_failures).then(|| ends.saturating_duration_since(now))
    }

    /// Whether `key` failed at all in its current window.
    pub fn has_failed(&self, key: &K, now: Instant) -> bool {
        self.current(key, now).is_some()
    }

    /// Counts one failure of `key`.
    pub fn failed(&self, key: K, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = windows.get_or_insert_mut(key, || Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= self.window {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    fn current(&self, key: &K, now: Instant) -> Option<Window> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = *windows.peek(key)?;
        if now.duration_since(window.started) >= self.window {
            windows.pop(key);
            return None;
        }
        Some(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(keys: usize) -> FailureLimit<&'static str> {
        FailureLimit::new(3, Duration::from_secs(60), NonZeroUsize::new(keys).unwrap())
    }

    #[test]
    fn a_key_is_blocked_after_its_failures_until_its_window_ends() {
        let (limit, start) = (limit(10), Instant::now());
        for _ in 0..2 {
            limit.failed("ip", start);
        }
        assert_eq!(limit.blocked(&"ip", start), None);
        limit.failed("ip", start);
        let later = start + Duration::from_secs(20);
        assert_eq!(limit.blocked(&"ip", later), Some(Duration::from_secs(40)));
        assert_eq!(limit.blocked(&"other", later), None);
        assert_eq!(limit.blocked(&"ip", start + Duration::from_secs(60)), None);
    }

    #[test]
    fn the_memory_holds_only_the_most_recent_keys() {
        let (limit, now) = (limit(2), Instant::now());
        for key in ["a", "b", "c"] {
            limit.failed(key, now);
        }
        assert!(!limit.has_failed(&"a", now));
        assert!(limit.has_failed(&"c", now));
        assert_eq!(limit.windows.lock().unwrap().len(), 2);
    }
}
