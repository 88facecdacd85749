//! The embedded store: one redb file, one transaction per method, run on
//! Tokio's blocking pool. The default when no Redis is configured.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};
use vangnet_proto::{AlertId, DeviceId, DispatchBody, Fix, OrderId, Priority, TimestampMs};

use super::outbox::{PRIORITIES, rank};
use super::{
    AuditHead, AuditLog, Commit, CommitOutcome, EventId, EventLog, History, OrderChange,
    OrderStore, OrderWrite, Outbox, OutboxEntry, PartitionKey, PartitionStore, SET_ASIDE_KEPT,
    SetAside, SetAsideLog, StateParts, Store, StoreError, StoredAlert, StoredOrder, TimelineEntry,
    Versioned, decode, encode,
};
use crate::audit_chain::{Entry as AuditEntry, GENESIS, Link, Run as AuditRun};

/// Order id → order body.
const ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("orders");
/// Named counters: [`ORDERS_EPOCH`].
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// Partition → (version, an unused byte string, always empty: redb files record
/// a table's value type, so the type stays as written).
const STATES: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("states");
/// (partition, part name) → the part's bytes.
const STATE_PARTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("state_parts");
/// (partition, alert id) → latest revision JSON.
const ALERTS: TableDefinition<(&str, &str), &str> = TableDefinition::new("alerts");
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

/// Sequence number → committed revision JSON: the event log, in commit order.
/// Never trimmed: alert revisions are few next to location history.
const EVENTS: TableDefinition<u64, &str> = TableDefinition::new("events");

/// Position (1, 2, 3 …) → audit entry JSON, in chain order.
const AUDIT: TableDefinition<u64, &str> = TableDefinition::new("audit");
/// [`AUDIT_HEAD`] → (seq, hash, last event audited or "").
const AUDIT_HEADS: TableDefinition<&str, (u64, &str, &str)> = TableDefinition::new("audit_head");

/// Sequence number → set-aside message JSON, oldest first.
const SET_ASIDE: TableDefinition<u64, &str> = TableDefinition::new("set_aside");

const ORDERS_EPOCH: &str = "orders_epoch";
const AUDIT_HEAD: &str = "head";

/// The [`Store`] in a local redb file.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
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
        txn.open_table(TIMELINES).map_err(db_error)?;
        txn.open_table(OUTBOX).map_err(db_error)?;
        txn.open_table(OUTBOX_KEYS).map_err(db_error)?;
        txn.open_table(HISTORY).map_err(db_error)?;
        txn.open_table(HISTORY_BY_TIME).map_err(db_error)?;
        txn.open_table(EVENTS).map_err(db_error)?;
        txn.open_table(AUDIT).map_err(db_error)?;
        txn.open_table(AUDIT_HEADS).map_err(db_error)?;
        txn.open_table(SET_ASIDE).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        Ok(Self { db: Arc::new(db) })
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

impl OrderStore for EmbeddedStore {
    async fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
    ) -> Result<OrderWrite, StoreError> {
        let order = order.clone();
        self.write(move |txn| {
            let mut orders = txn.open_table(ORDERS).map_err(db_error)?;
            let exists = orders.get(order.id.as_str()).map_err(db_error)?.is_some();
            if change == OrderChange::Create && exists {
                return Ok(OrderWrite::Exists);
            }
            if orders_epoch(txn)? != epoch {
                return Ok(OrderWrite::Moved);
            }
            orders
                .insert(order.id.as_str(), order.body.as_slice())
                .map_err(db_error)?;
            bump_orders_epoch(txn)?;
            Ok(OrderWrite::Written)
        })
        .await
    }

    async fn put_order(&self, order: &StoredOrder) -> Result<(), StoreError> {
        let order = order.clone();
        self.write(move |txn| {
            txn.open_table(ORDERS)
                .map_err(db_error)?
                .insert(order.id.as_str(), order.body.as_slice())
                .map_err(db_error)?;
            bump_orders_epoch(txn)
        })
        .await
    }

    async fn delete_order(&self, id: &OrderId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.write(move |txn| {
            let deleted = txn
                .open_table(ORDERS)
                .map_err(db_error)?
                .remove(id.as_str())
                .map_err(db_error)?
                .is_some();
            if deleted {
                bump_orders_epoch(txn)?;
            }
            Ok(deleted)
        })
        .await
    }

    async fn order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let id = id.clone();
        self.read(move |txn| {
            let orders = txn.open_table(ORDERS).map_err(db_error)?;
            let body = orders.get(id.as_str()).map_err(db_error)?;
            Ok(body.map(|body| StoredOrder {
                id,
                body: body.value().to_vec(),
            }))
        })
        .await
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        self.read(|txn| {
            let orders = txn.open_table(ORDERS).map_err(db_error)?;
            orders
                .iter()
                .map_err(db_error)?
                .map(|item| {
                    let (id, body) = item.map_err(db_error)?;
                    Ok(StoredOrder {
                        id: OrderId::new(id.value()),
                        body: body.value().to_vec(),
                    })
                })
                .collect()
        })
        .await
    }

    async fn orders_epoch(&self) -> Result<u64, StoreError> {
        self.read(|txn| {
            let counters = txn.open_table(COUNTERS).map_err(db_error)?;
            let epoch = counters.get(ORDERS_EPOCH).map_err(db_error)?;
            Ok(epoch.map_or(0, |epoch| epoch.value()))
        })
        .await
    }
}

impl PartitionStore for EmbeddedStore {
    async fn load(
        &self,
        partition: &PartitionKey,
    ) -> Result<Option<Versioned<StateParts>>, StoreError> {
        let name = partition.to_string();
        self.read(move |txn| {
            let name = name.as_str();
            let states = txn.open_table(STATES).map_err(db_error)?;
            let Some(state) = states.get(name).map_err(db_error)? else {
                return Ok(None);
            };
            let (version, _) = state.value();
            let mut parts = StateParts::new();
            let stored = txn.open_table(STATE_PARTS).map_err(db_error)?;
            for item in stored.range((name, "")..).map_err(db_error)? {
                let (key, bytes) = item.map_err(db_error)?;
                let (owner, part) = key.value();
                if owner != name {
                    break;
                }
                parts.insert(part.to_owned(), bytes.value().to_vec());
            }
            Ok(Some(Versioned {
                version,
                value: parts,
            }))
        })
        .await
    }

    async fn commit(
        &self,
        partition: &PartitionKey,
        expected: u64,
        commit: Commit,
    ) -> Result<CommitOutcome, StoreError> {
        let partition = partition.clone();
        self.write(move |txn| write_commit(txn, &partition, expected, commit))
            .await
    }

    async fn partitions(&self) -> Result<Vec<PartitionKey>, StoreError> {
        self.read(|txn| {
            let states = txn.open_table(STATES).map_err(db_error)?;
            let mut partitions = states
                .iter()
                .map_err(db_error)?
                .map(|item| PartitionKey::from_str(item.map_err(db_error)?.0.value()))
                .collect::<Result<Vec<_>, _>>()?;
            partitions.sort();
            Ok(partitions)
        })
        .await
    }

    async fn alert(&self, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        let id = id.clone();
        self.read(move |txn| {
            let id = id.as_str();
            let alert_partitions = txn.open_table(ALERT_PARTITIONS).map_err(db_error)?;
            let Some(name) = alert_partitions.get(id).map_err(db_error)? else {
                return Ok(None);
            };
            let name = name.value();
            let alerts = txn.open_table(ALERTS).map_err(db_error)?;
            let Some(current) = alerts.get((name, id)).map_err(db_error)? else {
                return Ok(None);
            };
            let timelines = txn.open_table(TIMELINES).map_err(db_error)?;
            let timeline = timelines
                .range((id, 0)..=(id, u64::MAX))
                .map_err(db_error)?
                .map(|item| decode::<TimelineEntry>(item.map_err(db_error)?.1.value().as_bytes()))
                .collect::<Result<_, _>>()?;
            Ok(Some(StoredAlert {
                partition: PartitionKey::from_str(name)?,
                current: decode(current.value().as_bytes())?,
                timeline,
            }))
        })
        .await
    }

    async fn alerts(&self, partition: &PartitionKey) -> Result<Vec<DispatchBody>, StoreError> {
        let name = partition.to_string();
        self.read(move |txn| {
            let name = name.as_str();
            let alerts = txn.open_table(ALERTS).map_err(db_error)?;
            let mut found = Vec::new();
            for item in alerts.range((name, "")..).map_err(db_error)? {
                let (key, body) = item.map_err(db_error)?;
                if key.value().0 != name {
                    break;
                }
                found.push(decode(body.value().as_bytes())?);
            }
            Ok(found)
        })
        .await
    }
}

impl Outbox for EmbeddedStore {
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.read(move |txn| {
            let outbox = txn.open_table(OUTBOX).map_err(db_error)?;
            let mut entries = Vec::new();
            for item in outbox.iter().map_err(db_error)? {
                if entries.len() >= limit {
                    break;
                }
                let (key, body) = item.map_err(db_error)?;
                match decode(body.value().as_bytes()) {
                    Ok(entry) => entries.push(entry),
                    Err(err) => {
                        let (_, _, name, key) = key.value();
                        tracing::error!("skipping outbox entry {key} of {name}: {err}");
                    }
                }
            }
            Ok(entries)
        })
        .await
    }

    async fn outbox_depth(&self) -> Result<Vec<(Priority, u64)>, StoreError> {
        self.read(|txn| {
            let outbox = txn.open_table(OUTBOX).map_err(db_error)?;
            let mut depth = PRIORITIES.map(|p| (p, 0));
            for item in outbox.iter().map_err(db_error)? {
                let (key, _) = item.map_err(db_error)?;
                let (entry_rank, ..) = key.value();
                if let Some((_, count)) = depth.iter_mut().find(|(p, _)| rank(*p) == entry_rank) {
                    *count += 1;
                }
            }
            Ok(depth.to_vec())
        })
        .await
    }

    async fn delivered(&self, partition: &PartitionKey, key: &str) -> Result<bool, StoreError> {
        let name = partition.to_string();
        let key = key.to_owned();
        self.write(move |txn| {
            let (name, key) = (name.as_str(), key.as_str());
            let place = txn
                .open_table(OUTBOX_KEYS)
                .map_err(db_error)?
                .remove((name, key))
                .map_err(db_error)?
                .map(|place| place.value());
            let Some((entry_rank, enqueued_at)) = place else {
                return Ok(false);
            };
            txn.open_table(OUTBOX)
                .map_err(db_error)?
                .remove((entry_rank, enqueued_at, name, key))
                .map_err(db_error)?;
            Ok(true)
        })
        .await
    }
}

impl EventLog for EmbeddedStore {
    async fn events_after(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<Vec<(EventId, DispatchBody)>, StoreError> {
        let start = match after {
            None => 0,
            Some(id) => id
                .as_str()
                .parse::<u64>()
                .map_err(|_| StoreError::Corrupt(format!("event id `{id}` is not of this store")))?
                .saturating_add(1),
        };
        self.read(move |txn| {
            let events = txn.open_table(EVENTS).map_err(db_error)?;
            events
                .range(start..)
                .map_err(db_error)?
                .take(limit)
                .map(|item| {
                    let (seq, body) = item.map_err(db_error)?;
                    Ok((event_id(seq.value()), decode(body.value().as_bytes())?))
                })
                .collect()
        })
        .await
    }

    async fn last_event_id(&self) -> Result<Option<EventId>, StoreError> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).map_err(db_error)?;
            let last = events.last().map_err(db_error)?;
            Ok(last.map(|(seq, _)| event_id(seq.value())))
        })
        .await
    }

    async fn log_gap_after(&self, _after: Option<&EventId>) -> Result<Option<EventId>, StoreError> {
        Ok(None)
    }
}

impl History for EmbeddedStore {
    async fn history(
        &self,
        partition: &PartitionKey,
        device: &DeviceId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<Fix>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let name = partition.to_string();
        let device = device.clone();
        self.read(move |txn| {
            let (name, device) = (name.as_str(), device.as_str());
            let history = txn.open_table(HISTORY).map_err(db_error)?;
            history
                .range((name, device, from.millis(), 0)..(name, device, to.millis(), 0))
                .map_err(db_error)?
                .map(|item| decode(item.map_err(db_error)?.1.value().as_bytes()))
                .collect()
        })
        .await
    }

    async fn trim_history(&self, before: TimestampMs) -> Result<u64, StoreError> {
        self.write(move |txn| {
            let mut by_time = txn.open_table(HISTORY_BY_TIME).map_err(db_error)?;
            let mut history = txn.open_table(HISTORY).map_err(db_error)?;
            let mut removed = 0;
            for item in by_time
                .extract_from_if(..(before.millis(), "", "", 0), |_, _| true)
                .map_err(db_error)?
            {
                let (key, _) = item.map_err(db_error)?;
                let (ts, name, device, seq) = key.value();
                history.remove((name, device, ts, seq)).map_err(db_error)?;
                removed += 1;
            }
            Ok(removed)
        })
        .await
    }
}

impl AuditLog for EmbeddedStore {
    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.read(|txn| {
            let heads = txn.open_table(AUDIT_HEADS).map_err(db_error)?;
            let head = heads.get(AUDIT_HEAD).map_err(db_error)?;
            Ok(head.map_or_else(AuditHead::default, |head| {
                let (seq, hash, event) = head.value();
                AuditHead {
                    link: Link {
                        seq,
                        hash: hash.to_owned(),
                    },
                    event: (!event.is_empty()).then(|| EventId(event.to_owned())),
                }
            }))
        })
        .await
    }

    async fn append_audit(
        &self,
        run: &AuditRun,
        event: Option<&EventId>,
    ) -> Result<bool, StoreError> {
        let entries = run
            .entries()
            .iter()
            .map(|entry| Ok((entry.seq, encode(entry)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (start, end) = (run.attaches_to().clone(), run.end());
        let event = event.map(|id| id.as_str().to_owned());
        self.write(move |txn| {
            let mut heads = txn.open_table(AUDIT_HEADS).map_err(db_error)?;
            let head_event = {
                let head = heads.get(AUDIT_HEAD).map_err(db_error)?;
                let (head_seq, head_hash, head_event) =
                    head.as_ref().map_or((0, GENESIS, ""), |head| head.value());
                if head_seq != start.seq || head_hash != start.hash {
                    return Ok(false);
                }
                event.unwrap_or_else(|| head_event.to_owned())
            };
            let mut audit = txn.open_table(AUDIT).map_err(db_error)?;
            for (seq, json) in &entries {
                audit.insert(*seq, json.as_str()).map_err(db_error)?;
            }
            heads
                .insert(
                    AUDIT_HEAD,
                    (end.seq, end.hash.as_str(), head_event.as_str()),
                )
                .map_err(db_error)?;
            Ok(true)
        })
        .await
    }

    async fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |txn| {
            let audit = txn.open_table(AUDIT).map_err(db_error)?;
            audit
                .range(after.saturating_add(1)..)
                .map_err(db_error)?
                .take(limit)
                .map(|item| decode(item.map_err(db_error)?.1.value().as_bytes()))
                .collect()
        })
        .await
    }
}

impl SetAsideLog for EmbeddedStore {
    async fn set_aside(&self, message: &SetAside) -> Result<(), StoreError> {
        let json = encode(message)?;
        self.write(move |txn| {
            let mut table = txn.open_table(SET_ASIDE).map_err(db_error)?;
            let next = match table.last().map_err(db_error)? {
                Some((seq, _)) => seq.value() + 1,
                None => 1,
            };
            table.insert(next, json.as_str()).map_err(db_error)?;
            while table.len().map_err(db_error)? > SET_ASIDE_KEPT as u64 {
                table.pop_first().map_err(db_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn set_aside_messages(&self, limit: usize) -> Result<Vec<SetAside>, StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(SET_ASIDE).map_err(db_error)?;
            let mut messages = Vec::new();
            for row in table.iter().map_err(db_error)?.rev().take(limit) {
                let (_, json) = row.map_err(db_error)?;
                messages.push(decode(json.value().as_bytes())?);
            }
            Ok(messages)
        })
        .await
    }
}

/// The body of [`EmbeddedStore::commit`], inside its write transaction.
fn write_commit(
    txn: &WriteTransaction,
    partition: &PartitionKey,
    expected: u64,
    commit: Commit,
) -> Result<CommitOutcome, StoreError> {
    let name = partition.to_string();
    let name = name.as_str();
    let mut states = txn.open_table(STATES).map_err(db_error)?;
    let current = states
        .get(name)
        .map_err(db_error)?
        .map_or(0, |state| state.value().0);
    if current != expected {
        return Ok(CommitOutcome::Conflict);
    }
    let version = current + 1;
    states
        .insert(name, (version, b"".as_slice()))
        .map_err(db_error)?;
    let mut parts = txn.open_table(STATE_PARTS).map_err(db_error)?;
    for (part, bytes) in &commit.parts {
        parts
            .insert((name, part.as_str()), bytes.as_slice())
            .map_err(db_error)?;
    }

    let mut alerts = txn.open_table(ALERTS).map_err(db_error)?;
    let mut alert_partitions = txn.open_table(ALERT_PARTITIONS).map_err(db_error)?;
    let mut timelines = txn.open_table(TIMELINES).map_err(db_error)?;
    let mut outbox = txn.open_table(OUTBOX).map_err(db_error)?;
    let mut outbox_keys = txn.open_table(OUTBOX_KEYS).map_err(db_error)?;
    let mut events = txn.open_table(EVENTS).map_err(db_error)?;
    let first_event = events
        .last()
        .map_err(db_error)?
        .map_or(1, |(seq, _)| seq.value() + 1);
    for (seq, entry) in (first_event..).zip(commit.revisions) {
        events
            .insert(seq, encode(&entry.revision)?.as_str())
            .map_err(db_error)?;
        let id = entry.revision.alert_id.as_str();
        alerts
            .insert((name, id), encode(&entry.revision)?.as_str())
            .map_err(db_error)?;
        alert_partitions.insert(id, name).map_err(db_error)?;
        let position = timelines
            .range((id, 0)..=(id, u64::MAX))
            .map_err(db_error)?
            .next_back()
            .transpose()
            .map_err(db_error)?
            .map_or(0, |(key, _)| key.value().1 + 1);
        timelines
            .insert((id, position), encode(&entry)?.as_str())
            .map_err(db_error)?;

        let queued = OutboxEntry {
            partition: partition.clone(),
            body: entry.revision.clone(),
            enqueued_at: commit.at,
        };
        let key = queued.key();
        let place = (rank(queued.body.priority), commit.at.millis());
        let replaced = outbox_keys
            .insert((name, key.as_str()), place)
            .map_err(db_error)?
            .map(|old| old.value());
        if let Some((old_rank, old_at)) = replaced {
            outbox
                .remove((old_rank, old_at, name, key.as_str()))
                .map_err(db_error)?;
        }
        outbox
            .insert(
                (place.0, place.1, name, key.as_str()),
                encode(&queued)?.as_str(),
            )
            .map_err(db_error)?;
    }

    let mut history = txn.open_table(HISTORY).map_err(db_error)?;
    let mut by_time = txn.open_table(HISTORY_BY_TIME).map_err(db_error)?;
    for entry in &commit.history {
        let (device, ts, seq) = (entry.device.as_str(), entry.fix.ts.millis(), entry.fix.seq);
        history
            .insert((name, device, ts, seq), encode(&entry.fix)?.as_str())
            .map_err(db_error)?;
        by_time
            .insert((ts, name, device, seq), ())
            .map_err(db_error)?;
    }
    Ok(CommitOutcome::Committed(version))
}

/// The event id of a sequence number: zero-padded, so ids sort as text too.
fn event_id(seq: u64) -> EventId {
    EventId(format!("{seq:020}"))
}

fn orders_epoch(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let counters = txn.open_table(COUNTERS).map_err(db_error)?;
    let epoch = counters.get(ORDERS_EPOCH).map_err(db_error)?;
    Ok(epoch.map_or(0, |epoch| epoch.value()))
}

fn bump_orders_epoch(txn: &WriteTransaction) -> Result<(), StoreError> {
    let epoch = orders_epoch(txn)?;
    let mut counters = txn.open_table(COUNTERS).map_err(db_error)?;
    counters.insert(ORDERS_EPOCH, epoch + 1).map_err(db_error)?;
    Ok(())
}

fn db_error(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(err.into().to_string())
}
