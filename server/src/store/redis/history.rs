//! Location history on Redis: `P:{p:X}:fixes:{device}`, listed in
//! `P:{p:X}:history-devices` so a trim finds it.
//!
//! A device's history is a list because appending to one costs Redis a
//! fraction of a sorted-set insert and of its memory. Reads sort it by `ts`
//! and drop repeats (a fix deduplication no longer remembers is appended
//! again); the trim removes old fixes from its head, so a fix that arrived
//! after later ones of its device goes with the first of those that follow it.

use std::sync::{LazyLock, MutexGuard, PoisonError};

use redis::Script;
use vangnet_proto::{DeviceId, Fix, TimestampMs};

use super::history_listing::HistoryListing;
use super::{RedisStore, SCAN_BATCH, unavailable};
use crate::store::{History, PartitionKey, StoreError, decode};

/// Takes the fixes older than a time from the head of devices' lists.
static TRIM_HISTORY: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/trim_history.lua")));

impl History for RedisStore {
    async fn history(
        &self,
        partition: &PartitionKey,
        device: &DeviceId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<Fix>, StoreError> {
        let listed: Vec<String> = redis::cmd("LRANGE")
            .arg(self.key(&partition.to_string(), &format!("fixes:{device}")))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut fixes = listed
            .iter()
            .map(|json| decode::<Fix>(json.as_bytes()))
            .filter(|fix| {
                fix.as_ref()
                    .map_or(true, |fix| (from..to).contains(&fix.ts))
            })
            .collect::<Result<Vec<_>, _>>()?;
        fixes.sort_by_key(|fix| (fix.ts, fix.seq));
        fixes.dedup();
        Ok(fixes)
    }

    async fn trim_history(&self, before: TimestampMs) -> Result<u64, StoreError> {
        self.listing().before_trim(before, TimestampMs::now());
        let mut conn = self.conn.clone();
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.global("partitions"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut removed = 0;
        for chunk in names.chunks(SCAN_BATCH) {
            let mut pipe = redis::pipe();
            for name in chunk {
                pipe.cmd("SMEMBERS").arg(self.key(name, "history-devices"));
            }
            let devices: Vec<Vec<String>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for (name, devices) in chunk.iter().zip(devices) {
                if devices.is_empty() {
                    continue;
                }
                let mut invocation = TRIM_HISTORY.key(self.key(name, "history-devices"));
                invocation.arg(before.millis());
                for device in &devices {
                    invocation
                        .key(self.key(name, &format!("fixes:{device}")))
                        .arg(device);
                }
                let count: u64 = invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                removed += count;
            }
        }
        Ok(removed)
    }
}

impl RedisStore {
    /// The devices this process lately listed in `history-devices`, whose fixes skip the `SADD`.
    pub(super) fn listing(&self) -> MutexGuard<'_, HistoryListing> {
        self.shared
            .history_listing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
