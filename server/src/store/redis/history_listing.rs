//! Which devices this process has lately listed in their partition's
//! `history-devices` set, so that a fix need not list its device again: the
//! `SADD` is about a tenth of what Redis does per fix.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use vangnet_proto::{DeviceId, TimestampMs};

use crate::store::PartitionKey;

/// How long a listing is trusted. A trim keeps at least a day (the shortest
/// retention), so it cannot unlist a device whose listing is still trusted.
const TRUSTED_FOR: Duration = Duration::from_secs(3600);

/// The listings trusted now; all are dropped together once [`TRUSTED_FOR`] has passed.
pub(super) struct HistoryListing {
    since: Instant,
    listed: HashMap<PartitionKey, HashSet<DeviceId>>,
}

impl HistoryListing {
    pub(super) fn new() -> Self {
        Self {
            since: Instant::now(),
            listed: HashMap::new(),
        }
    }

    /// Whether `device` is known to be listed in `partition`.
    pub(super) fn is_listed(&mut self, partition: &PartitionKey, device: &DeviceId) -> bool {
        if self.since.elapsed() >= TRUSTED_FOR {
            self.forget();
        }
        self.listed
            .get(partition)
            .is_some_and(|devices| devices.contains(device))
    }

    /// Notes that a commit at `now` listed `device` with a fix taken at `ts`.
    /// An older fix is not enough: the next trim may remove it and unlist the
    /// device while the listing would still be trusted.
    pub(super) fn note(
        &mut self,
        partition: &PartitionKey,
        device: &DeviceId,
        ts: TimestampMs,
        now: TimestampMs,
    ) {
        if ts.millis().saturating_add(millis(TRUSTED_FOR)) >= now.millis() {
            self.listed
                .entry(partition.clone())
                .or_default()
                .insert(device.clone());
        }
    }

    /// Called before a trim up to `before` at `now`: one that may remove
    /// fixes a trusted listing relies on forgets every listing.
    pub(super) fn before_trim(&mut self, before: TimestampMs, now: TimestampMs) {
        if before.millis().saturating_add(2 * millis(TRUSTED_FOR)) > now.millis() {
            self.forget();
        }
    }

    fn forget(&mut self) {
        self.listed.clear();
        self.since = Instant::now();
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use vangnet_proto::OrderId;

    use super::*;

    const NOW: TimestampMs = TimestampMs(1_764_331_200_000);
    const HOUR_MS: u64 = 3_600_000;

    fn key() -> (PartitionKey, DeviceId) {
        let partition = PartitionKey::Order(OrderId::new("order-17"));
        (partition, DeviceId::parse("victim-1", "device").unwrap())
    }

    #[test]
    fn a_device_listed_with_a_recent_fix_is_known_to_be_listed() {
        let (partition, device) = key();
        let mut listing = HistoryListing::new();
        assert!(!listing.is_listed(&partition, &device));
        listing.note(&partition, &device, TimestampMs(NOW.0 - 1_000), NOW);
        assert!(listing.is_listed(&partition, &device));
    }

    #[test]
    fn a_device_listed_with_an_old_fix_is_listed_again_next_time() {
        let (partition, device) = key();
        let mut listing = HistoryListing::new();
        listing.note(&partition, &device, TimestampMs(NOW.0 - 2 * HOUR_MS), NOW);
        assert!(!listing.is_listed(&partition, &device));
    }

    #[test]
    fn a_trim_of_recent_history_forgets_every_listing() {
        let (partition, device) = key();
        let mut listing = HistoryListing::new();
        listing.note(&partition, &device, NOW, NOW);
        listing.before_trim(TimestampMs(NOW.0 - 24 * HOUR_MS), NOW);
        assert!(listing.is_listed(&partition, &device));
        listing.before_trim(TimestampMs(NOW.0 - HOUR_MS), NOW);
        assert!(!listing.is_listed(&partition, &device));
    }
}
