//! The indexes across partitions: `P:alert-partition` (alert → partition)
//! and `P:outbox` (every partition's outbox, in delivery order). A commit
//! writes them right after its script, and they are rebuilt from the
//! partitions before the first read of an index (and the outbox index every
//! minute), so a crash between the two steps loses nothing.
//!
//! `P:alert-times` (the alerts by the time of their latest revision) is
//! written by the commit script itself; the first rebuild adds the alerts
//! stored before it existed, each only if absent (`ZADD NX`), so it never
//! puts back an older time than a commit wrote meanwhile.

use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use vangnet_proto::DispatchBody;

use super::partitions::time_member;
use super::{RedisStore, SCAN_BATCH, unavailable};
use crate::store::outbox::rank;
use crate::store::{OutboxEntry, StoreError, decode, encode};

/// How often the outbox index is rebuilt, to pick up a step another instance left half done.
const REPAIR_INTERVAL: Duration = Duration::from_secs(60);
/// Outbox scores are `rank * PRIORITY_SPAN + enqueued_at`, so P1 sorts before P2 before P3.
pub(super) const PRIORITY_SPAN: u64 = 10_000_000_000_000;

/// When the indexes are rebuilt next, and whether the alert index is rebuilt then too.
pub(super) struct RepairSchedule {
    next: Instant,
    alerts_indexed: bool,
}

impl RepairSchedule {
    /// Both indexes rebuilt before their first read.
    pub(super) fn new() -> Self {
        Self {
            next: Instant::now(),
            alerts_indexed: false,
        }
    }
}

impl RedisStore {
    /// Rebuilds the outbox index (and with `alerts`, the alert indexes) from
    /// the partitions; idempotent.
    async fn repair(&self, alerts: bool) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let names = self.partition_names().await?;
        for chunk in names.chunks(SCAN_BATCH) {
            let mut read = redis::pipe();
            for name in chunk {
                read.cmd("HVALS").arg(self.key(name, "outbox"));
                if alerts {
                    read.cmd("HVALS").arg(self.key(name, "alerts"));
                }
            }
            let replies: Vec<Vec<String>> =
                read.query_async(&mut conn).await.map_err(unavailable)?;
            let mut replies = replies.into_iter();
            let mut write = redis::pipe();
            for name in chunk {
                for json in replies.next().unwrap_or_default() {
                    match decode::<OutboxEntry>(json.as_bytes()) {
                        Ok(entry) => {
                            write
                                .cmd("ZADD")
                                .arg(self.global("outbox"))
                                .arg(outbox_score(&entry))
                                .arg(outbox_member(name, &entry.key())?)
                                .ignore();
                        }
                        Err(err) => tracing::error!("skipping an outbox entry of {name}: {err}"),
                    }
                }
                if alerts {
                    for json in replies.next().unwrap_or_default() {
                        let alert = match decode::<DispatchBody>(json.as_bytes()) {
                            Ok(alert) => alert,
                            Err(err) => {
                                tracing::error!("skipping an alert of {name}: {err}");
                                continue;
                            }
                        };
                        let id = alert.alert_id.as_str();
                        write
                            .cmd("HSET")
                            .arg(self.global("alert-partition"))
                            .arg(id)
                            .arg(name)
                            .ignore();
                        write
                            .cmd("ZADD")
                            .arg(self.partition_shard_key(name, "alert-times"))
                            .arg("NX")
                            .arg(alert.updated_at.0.millis())
                            .arg(time_member(id, name))
                            .ignore();
                    }
                }
            }
            if !write.is_empty() {
                write.exec_async(&mut conn).await.map_err(unavailable)?;
            }
        }
        Ok(())
    }

    /// Rebuilds the indexes when due: first use, every minute, after a failed index write.
    pub(super) async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let alerts = {
            let mut schedule = self.schedule();
            let now = Instant::now();
            if now < schedule.next {
                return Ok(());
            }
            schedule.next = now + REPAIR_INTERVAL;
            !schedule.alerts_indexed
        };
        match self.repair(alerts).await {
            Ok(()) => {
                if alerts {
                    self.schedule().alerts_indexed = true;
                }
                Ok(())
            }
            Err(err) => {
                self.schedule().next = Instant::now();
                Err(err)
            }
        }
    }

    /// Makes the next index read rebuild both indexes first.
    pub(super) fn schedule_full_repair(&self) {
        let mut schedule = self.schedule();
        schedule.next = Instant::now();
        schedule.alerts_indexed = false;
    }

    fn schedule(&self) -> MutexGuard<'_, RepairSchedule> {
        self.shared
            .repair
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the cross-partition index entries of committed revisions.
    pub(super) async fn index_revisions(
        &self,
        partition: &str,
        entries: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for entry in entries {
            pipe.cmd("HSET")
                .arg(self.global("alert-partition"))
                .arg(entry.body.alert_id.as_str())
                .arg(partition)
                .ignore();
            pipe.cmd("ZADD")
                .arg(self.global("outbox"))
                .arg(outbox_score(entry))
                .arg(outbox_member(partition, &entry.key())?)
                .ignore();
        }
        pipe.exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}

/// Where an entry sorts in the outbox: most urgent priority first, then oldest.
fn outbox_score(entry: &OutboxEntry) -> u64 {
    rank(entry.body.priority) * PRIORITY_SPAN + entry.enqueued_at.millis().min(PRIORITY_SPAN - 1)
}

/// An entry's member of `P:outbox`: `["X","{alert_id}/{revision}"]`.
pub(super) fn outbox_member(partition: &str, key: &str) -> Result<String, StoreError> {
    encode(&(partition, key))
}
