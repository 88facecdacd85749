//! Durable state: one [`Store`] trait, two implementations (Redis and an
//! embedded redb file) that pass one conformance suite.
//!
//! State is kept per *partition*: one protection order (or the catch-all
//! partition of devices in no order). A partition's engine state, stored
//! as named parts so a step writes only the parts it changed, its
//! alerts with their timelines, its dispatch outbox and its location history
//! change together in one atomic [`Store::commit`], guarded by the version the
//! caller loaded: two instances working on the same order cannot both commit,
//! so they never raise two alerts for one episode.
//!
//! Redis must be one server (a primary, with replicas if wanted): Redis
//! Cluster is not supported, because every commit with an alert also appends
//! to the event log, one stream outside the partitions' hash slots.

mod embedded;
mod redis;

#[cfg(test)]
#[path = "tests/conformance.rs"]
mod conformance;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use vangnet_proto::{AlertId, DeviceId, DispatchBody, Fix, OrderId, Priority, TimestampMs};

use crate::audit_chain::{Entry as AuditEntry, Link, Run as AuditRun};

pub use self::embedded::EmbeddedStore;
pub use self::redis::RedisStore;

/// A store operation failed; the caller retries or reports the store as down.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or answered with an error.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Which partition state belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PartitionKey {
    /// Everything of one protection order.
    Order(OrderId),
    /// Devices in no active order (their panics raise `panic_unassigned`).
    Unassigned,
}

impl std::str::FromStr for PartitionKey {
    type Err = StoreError;

    /// Reads a partition back from its display form.
    fn from_str(name: &str) -> Result<Self, StoreError> {
        match name.strip_prefix("o.") {
            Some(id) => Ok(Self::Order(OrderId::new(id))),
            None if name == "unassigned" => Ok(Self::Unassigned),
            None => Err(StoreError::Corrupt(format!("unknown partition `{name}`"))),
        }
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Order(id) => write!(f, "o.{id}"),
            Self::Unassigned => f.write_str("unassigned"),
        }
    }
}

/// An outbox position for a priority: 0 for the most urgent.
fn rank(priority: Priority) -> u64 {
    match priority {
        Priority::P1 => 0,
        Priority::P2 => 1,
        Priority::P3 => 2,
    }
}

/// Serializes a stored value as JSON, readable with `redis-cli` too.
fn encode<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Reads a stored JSON value.
fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(json).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// A value with the version it was stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// Increases by one with every commit; the first commit makes version 1.
    pub version: u64,
    /// The value.
    pub value: T,
}

/// A human act on an alert, recorded in its timeline beside the revision it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    /// Who acted (the token's `sub`).
    pub actor: String,
    /// What they wrote.
    pub note: String,
}

/// One entry of an alert's timeline: a revision, and the act that made it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The revision as dispatched.
    pub revision: DispatchBody,
    /// The person's act behind it (acknowledge, resolve).
    pub act: Option<Act>,
}

/// An alert as stored: its latest revision and every revision before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// The partition holding it.
    pub partition: PartitionKey,
    /// The latest revision.
    pub current: DispatchBody,
    /// Every revision, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// One alert revision waiting to be delivered to police dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The partition holding it.
    pub partition: PartitionKey,
    /// The revision to deliver; its `Idempotency-Key` is `{alert_id}/{revision}`.
    pub body: DispatchBody,
    /// When it was committed.
    pub enqueued_at: TimestampMs,
}

impl OutboxEntry {
    /// `{alert_id}/{revision}`: unique per entry, and the dispatch `Idempotency-Key`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.body.alert_id, self.body.revision)
    }
}

/// One stored fix of a device's location history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Whose fix.
    pub device: DeviceId,
    /// The fix as accepted.
    pub fix: Fix,
}

/// A partition's engine state as the caller serialized it: part name → bytes.
///
/// A commit writes only the parts that changed; a load returns every part.
/// The name `version` is the store's own and is never a part.
pub type StateParts = BTreeMap<String, Vec<u8>>;

/// Everything one processing step changes in one partition, written atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// The parts of the partition's engine state this step changed; the others stay.
    pub parts: StateParts,
    /// New alert revisions: each is stored in its alert's timeline and put in the outbox.
    pub revisions: Vec<TimelineEntry>,
    /// Fixes to append to location history.
    pub history: Vec<HistoryEntry>,
    /// When this step ran (server time); outbox entries carry it.
    pub at: TimestampMs,
}

/// What became of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written; the partition now has this version.
    Committed(u64),
    /// Someone else committed first: reload and run the step again.
    Conflict,
}

/// Where an alert revision sits in the event log ([`Store::events_after`]).
///
/// Redis stream ids (`ms-seq`) or the embedded store's zero-padded sequence
/// number; ordered by their numeric parts, so ids sort in log order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// Reads an id a client sent back (`Last-Event-ID`): digits, optionally `-` and digits.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (first, rest) = text.split_once('-').unwrap_or((text, "0"));
        let number =
            |part: &str| part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok();
        (number(first) && number(rest)).then(|| Self(text.to_owned()))
    }

    /// The id as sent to clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric parts, for ordering.
    fn parts(&self) -> (u64, u64) {
        let (first, rest) = self.0.split_once('-').unwrap_or((&self.0, "0"));
        (first.parse().unwrap_or(0), rest.parse().unwrap_or(0))
    }
}

impl Ord for EventId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts()
            .cmp(&other.parts())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The audit chain's end in the store, with the last alert event audited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditHead {
    /// Where the next entry attaches.
    pub link: Link,
    /// The last event of [`Store::events_after`] recorded as `alert.revision`.
    pub event: Option<EventId>,
}

/// A stored protection order, as the API received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// Its id.
    pub id: OrderId,
    /// The order body as JSON.
    pub body: Vec<u8>,
}

/// Why a device message was set aside instead of handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetAsideReason {
    /// Handling it panicked.
    Panicked,
    /// The state of a partition it touches cannot be decoded.
    CorruptState,
    /// The store answers, but refused its commit every time.
    StoreRefused,
}

impl SetAsideReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Panicked => "panicked",
            Self::CorruptState => "corrupt_state",
            Self::StoreRefused => "store_refused",
        }
    }
}

/// A device message that failed every time it was handled, kept for an
/// operator instead of holding up the messages after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    /// The topic it came on.
    pub topic: String,
    /// Its payload, hex-encoded.
    pub payload_hex: String,
    /// Why it was set aside.
    pub reason: SetAsideReason,
    /// When it was set aside (server time).
    pub at: TimestampMs,
}

/// How many set-aside messages a store keeps; the oldest go first.
pub const SET_ASIDE_KEPT: usize = 10_000;

/// Whether an order write makes a new order or a new version of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderChange {
    /// A new order: refused when its id exists.
    Create,
    /// The order of that id, new or replaced.
    Replace,
}

/// How a conditional order write ([`Store::write_order`]) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderWrite {
    /// Stored, and the epoch moved on.
    Written,
    /// Nothing stored: a [`OrderChange::Create`] of an id that exists.
    Exists,
    /// Nothing stored: the orders changed since the epoch given.
    Moved,
}

/// Durable state of the service. Every method is atomic on its own.
pub trait Store: Send + Sync + 'static {
    /// Answers when the store is reachable.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `order` only if the orders' epoch is still `epoch`, so that
    /// what was checked against the orders of that epoch still holds when it
    /// is written (another instance may have changed them meanwhile);
    /// [`OrderChange::Create`] also refuses an id that exists.
    fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
    ) -> impl Future<Output = Result<OrderWrite, StoreError>> + Send;
    /// Replaces or creates an order.
    fn put_order(&self, order: &StoredOrder)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes an order's definition (its partition, alerts and history stay).
    fn delete_order(&self, id: &OrderId) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// One order.
    fn order(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<StoredOrder>, StoreError>> + Send;
    /// Every order, by id.
    fn orders(&self) -> impl Future<Output = Result<Vec<StoredOrder>, StoreError>> + Send;
    /// A number that changes whenever any order is created, replaced or deleted.
    fn orders_epoch(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// A partition's engine state parts and version, if it was ever committed.
    fn load(
        &self,
        partition: &PartitionKey,
    ) -> impl Future<Output = Result<Option<Versioned<StateParts>>, StoreError>> + Send;
    /// Writes `commit` if the partition is still at `expected` (0: never committed).
    fn commit(
        &self,
        partition: &PartitionKey,
        expected: u64,
        commit: Commit,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
    /// Every partition ever committed.
    fn partitions(&self) -> impl Future<Output = Result<Vec<PartitionKey>, StoreError>> + Send;

    /// One alert with its timeline.
    fn alert(
        &self,
        id: &AlertId,
    ) -> impl Future<Output = Result<Option<StoredAlert>, StoreError>> + Send;
    /// The latest revision of every alert of a partition, by alert id.
    fn alerts(
        &self,
        partition: &PartitionKey,
    ) -> impl Future<Output = Result<Vec<DispatchBody>, StoreError>> + Send;

    /// Up to `limit` undelivered revisions, highest priority first, then oldest first.
    fn outbox(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;
    /// Undelivered revisions per priority: P1, P2 and P3 in that order, zeros included.
    fn outbox_depth(&self)
    -> impl Future<Output = Result<Vec<(Priority, u64)>, StoreError>> + Send;
    /// Marks a revision delivered; `false` if it was not pending.
    fn delivered(
        &self,
        partition: &PartitionKey,
        key: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Up to `limit` alert revisions committed after `after` (from the start
    /// of the log when `None`), oldest first: every committed revision is in
    /// the log exactly once, in commit order, until the log drops it (the
    /// Redis log keeps about the newest 100,000; see [`Store::log_gap_after`]).
    fn events_after(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(EventId, DispatchBody)>, StoreError>> + Send;
    /// The id of the newest event in the log, if any.
    fn last_event_id(&self) -> impl Future<Output = Result<Option<EventId>, StoreError>> + Send;
    /// Whether a reader at `after` (at the start when `None`) may have missed
    /// events the log dropped: the first event still held when the log has
    /// dropped events and `after` sorts before that first one, else `None`.
    fn log_gap_after(
        &self,
        after: Option<&EventId>,
    ) -> impl Future<Output = Result<Option<EventId>, StoreError>> + Send;

    /// A device's history with `from <= ts < to`, oldest first.
    fn history(
        &self,
        partition: &PartitionKey,
        device: &DeviceId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> impl Future<Output = Result<Vec<Fix>, StoreError>> + Send;
    /// Removes history with `ts < before`; returns how many fixes went. The
    /// Redis store keeps a fix that arrived late until the fixes before it go.
    fn trim_history(
        &self,
        before: TimestampMs,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The audit chain's head (seq 0 and the genesis hash while it is empty).
    fn audit_head(&self) -> impl Future<Output = Result<AuditHead, StoreError>> + Send;
    /// Appends `run` only if the chain still ends where the run attaches,
    /// recording `event` as audited when given; `false` when another writer
    /// appended first.
    fn append_audit(
        &self,
        run: &AuditRun,
        event: Option<&EventId>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Keeps a message that could not be handled, dropping the oldest beyond [`SET_ASIDE_KEPT`].
    fn set_aside(&self, message: &SetAside) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Up to `limit` set-aside messages, newest first.
    fn set_aside_messages(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SetAside>, StoreError>> + Send;

    /// Up to `limit` audit entries in stored order, skipping the first `after`
    /// (on an intact chain: the entries with seq > `after`).
    fn audit_after(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}
