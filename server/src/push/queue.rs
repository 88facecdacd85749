//! The pushes waiting to be sent: bounded, so a push service that is slow
//! or gone costs memory only up to the bound; when full the oldest push
//! gives way, since a newer revision says more.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::store::PushSubscription;

/// One push to send: a subscription and the notice for it.
#[derive(Debug, Clone)]
pub struct Job {
    /// Where to.
    pub subscription: PushSubscription,
    /// The notice JSON, before encryption.
    pub payload: Arc<Vec<u8>>,
    /// The alert's `Topic`.
    pub topic: Arc<str>,
    /// The `Urgency` header: `high` or `normal`.
    pub urgency: &'static str,
    /// The `TTL` header: how long the push service keeps it for an offline browser (s).
    pub ttl_s: u64,
}

/// A bounded first-in, first-out queue (of pushes, say) with one taker.
#[derive(Debug)]
pub struct Queue<T = Job> {
    jobs: Mutex<VecDeque<T>>,
    ready: Notify,
    capacity: usize,
}

impl<T> Queue<T> {
    /// A queue holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::with_capacity(capacity)),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds `job`; returns the item dropped to make room, if any.
    pub fn offer(&self, job: T) -> Option<T> {
        let dropped = {
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            let dropped = (jobs.len() >= self.capacity)
                .then(|| jobs.pop_front())
                .flatten();
            jobs.push_back(job);
            dropped
        };
        self.ready.notify_one();
        dropped
    }

    /// The oldest item, waiting for one.
    pub async fn take(&self) -> T {
        loop {
            let next = self
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            if let Some(job) = next {
                return job;
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{TimestampMs, UtcTime};

    use super::*;

    fn job(n: u8) -> Job {
        Job {
            subscription: PushSubscription {
                id: n.to_string(),
                owner: "d".into(),
                regions: vec![],
                endpoint: String::new(),
                p256dh: String::new(),
                auth: String::new(),
                expires_at: UtcTime(TimestampMs(0)),
                device: None,
            },
            payload: Arc::new(vec![n]),
            topic: Arc::from("t"),
            urgency: "high",
            ttl_s: 60,
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_push() {
        let queue = Queue::new(2);
        assert!(queue.offer(job(1)).is_none());
        assert!(queue.offer(job(2)).is_none());

        let dropped = queue.offer(job(3)).unwrap();

        assert_eq!(dropped.payload[0], 1);
        assert_eq!(queue.take().await.payload[0], 2);
        assert_eq!(queue.take().await.payload[0], 3);
    }
}
