//! The embedded store: one redb file, one transaction per method, run on
//! Tokio's blocking pool. The default when no Redis is configured.
//!
//! The tables below are the file's layout; each concern has a module here,
//! and a commit ([`partitions`]) writes to the tables of several.

mod audit_log;
mod events;
mod history;
mod orders;
mod outbox;
mod partitions;
mod push;
mod set_aside;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction};

use super::{Store, StoreError};
use crate::audit_seal::SealKey;

/// Order id → order body.
const ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("orders");
/// Named counters: [`orders::ORDERS_EPOCH`].
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// Partition → (version, its last commit's time as 8 big-endian bytes of ms;
/// empty when written before commits recorded their time).
const STATES: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("states");
/// (partition, part name) → the part's bytes.
const STATE_PARTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("state_parts");
/// (partition, alert id) → latest revision JSON.
const ALERTS: TableDefinition<(&str, &str), &str> = TableDefinition::new("alerts");
/// (latest revision's `updated_at` ms, alert id) → partition: the alerts
/// newest first for [`PartitionStore::alerts_before`](crate::store::PartitionStore::alerts_before).
const ALERT_TIMES: TableDefinition<(u64, &str), &str> = TableDefinition::new("alert_times");
/// Alert id → partition.
const ALERT_PARTITIONS: TableDefinition<&str, &str> = TableDefinition::new("alert_partitions");
/// (alert id, position) → timeline entry JSON.
const TIMELINES: TableDefinition<(&str, u64), &str> = TableDefinition::new("timelines");
/// (priority rank, enqueued at, partition, key) → outbox entry JSON, in delivery order.
const OUTBOX: TableDefinition<(u64, u64, &str, &str), &str> = TableDefinition::new("outbox");
/// (partition, key) → (priority rank, enqueued at): where an entry sits in [`OUTBOX`].
const OUTBOX_KEYS: TableDefinition<(&str, &str), (u64, u64)> = TableDefinition::new("outbox_keys");
/// (partition, device, ts, seq) → fix JSON.
const HISTORY: TableDefinition<(&str, &str, u64, u64), &str> = TableDefinition::new("history");
/// (ts, partition, device, seq): [`HISTORY`] ordered by time, for trimming.
const HISTORY_BY_TIME: TableDefinition<(u64, &str, &str, u64), ()> =
    TableDefinition::new("history_by_time");

/// Sequence number (from 1) → committed revision JSON: the event log, in
/// commit order, its oldest dropped beyond the store's `events_kept`.
const EVENTS: TableDefinition<u64, &str> = TableDefinition::new("events");

/// Position (1, 2, 3 …) → audit entry JSON, in chain order.
const AUDIT: TableDefinition<u64, &str> = TableDefinition::new("audit");
/// [`audit_log::AUDIT_HEAD`] → (seq, hash, last event audited or "").
const AUDIT_HEADS: TableDefinition<&str, (u64, &str, &str)> = TableDefinition::new("audit_head");

/// Sequence number → set-aside message JSON, oldest first.
const SET_ASIDE: TableDefinition<u64, &str> = TableDefinition::new("set_aside");

/// Subscription id → push subscription JSON.
const PUSH_SUBSCRIPTIONS: TableDefinition<&str, &str> = TableDefinition::new("push_subscriptions");

/// Events the log keeps unless told otherwise, as the Redis log does.
const EVENTS_KEPT: u64 = 100_000;

/// The [`Store`] in a local redb file.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    events_kept: u64,
    /// Seals what [`super::AuditLog::append_audit`] appends; the file never holds it.
    seal_key: Option<SealKey>,
}

impl EmbeddedStore {
    /// Opens the store in the file at `path`, creating it if missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(db_error)?;
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(ORDERS).map_err(db_error)?;
        txn.open_table(COUNTERS).map_err(db_error)?;
        txn.open_table(STATES).map_err(db_error)?;
        txn.open_table(STATE_PARTS).map_err(db_error)?;
        txn.open_table(ALERTS).map_err(db_error)?;
        txn.open_table(ALERT_PARTITIONS).map_err(db_error)?;
        partitions::index_alert_times(&txn)?;
        txn.open_table(TIMELINES).map_err(db_error)?;
        txn.open_table(OUTBOX).map_err(db_error)?;
        txn.open_table(OUTBOX_KEYS).map_err(db_error)?;
        txn.open_table(HISTORY).map_err(db_error)?;
        txn.open_table(HISTORY_BY_TIME).map_err(db_error)?;
        txn.open_table(EVENTS).map_err(db_error)?;
        txn.open_table(AUDIT).map_err(db_error)?;
        txn.open_table(AUDIT_HEADS).map_err(db_error)?;
        txn.open_table(SET_ASIDE).map_err(db_error)?;
        txn.open_table(PUSH_SUBSCRIPTIONS).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        Ok(Self {
            db: Arc::new(db),
            events_kept: EVENTS_KEPT,
            seal_key: None,
        })
    }

    /// The same store keeping only the newest `events` in its event log, so
    /// a test can see the log drop events.
    pub fn keeping_events(self, events: u64) -> Self {
        Self {
            events_kept: events.max(1),
            ..self
        }
    }

    /// Runs `f` in one read transaction on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db.begin_read().map_err(db_error)?))
            .await
            .map_err(|err| StoreError::Unavailable(err.to_string()))?
    }

    /// Runs `f` in one write transaction on the blocking pool and commits it
    /// durably when `f` succeeds.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(db_error)?;
            let value = f(&txn)?;
            txn.commit().map_err(db_error)?;
            Ok(value)
        })
        .await
        .map_err(|err| StoreError::Unavailable(err.to_string()))?
    }
}

impl Store for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|_| Ok(())).await
    }
}

/// A redb failure: the store cannot serve the call.
fn db_error(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(err.into().to_string())
}
