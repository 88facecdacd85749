//! Each partition's engine state and the alerts its steps raised, changed
//! together by one versioned commit.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use vangnet_proto::{AlertId, AlertStatus, DispatchBody, OrderId, TimestampMs};

use super::{HistoryEntry, StoreError};

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

/// A partition's engine state as the caller serialized it: part name → bytes.
///
/// A commit writes only the parts that changed; a load returns every part.
/// The names `version` and `committed_at` are the store's own and never parts.
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

/// The partitions' state and alerts, written only by a commit at the version
/// the writer loaded, so two instances never both act on one step.
pub trait PartitionStore: Send + Sync + 'static {
    /// A partition's engine state parts and version, if it was ever committed.
    fn load(
        &self,
        partition: &PartitionKey,
    ) -> impl Future<Output = Result<Option<Versioned<StateParts>>, StoreError>> + Send;
    /// Writes `commit` if the partition is still at `expected` (0: never
    /// committed): its parts, its revisions into their alerts' timelines, the
    /// outbox and the event log, and its fixes into history, all or nothing.
    fn commit(
        &self,
        partition: &PartitionKey,
        expected: u64,
        commit: Commit,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
    /// Every partition ever committed.
    fn partitions(&self) -> impl Future<Output = Result<Vec<PartitionKey>, StoreError>> + Send;
    /// Removes the state parts `names` of a partition still at `expected`
    /// and last committed before `before` (or before commits recorded their
    /// time), moving its version on so that a cached copy reloads: how
    /// retention forgets the device states of an ended order. Whether it did.
    fn remove_parts(
        &self,
        partition: &PartitionKey,
        expected: u64,
        names: &[String],
        before: TimestampMs,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

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
    /// Takes the parties' positions ([`vangnet_engine::without_positions`])
    /// out of the latest revision and every timeline entry of each resolved
    /// alert whose latest revision was made in `from..before`, as retention
    /// wants; returns how many alerts lost positions.
    fn forget_positions(
        &self,
        from: TimestampMs,
        before: TimestampMs,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Up to `limit` alerts' latest revisions whose `(updated_at ms, alert id)`
    /// is below `before` (all, without it), newest first: the alert list past
    /// what the alert board holds.
    fn alerts_before(
        &self,
        before: Option<&(u64, String)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DispatchBody>, StoreError>> + Send;
}

/// The alert that [`PartitionStore::forget_positions`] makes of `alert`'s
/// latest revision and timeline, if it is resolved and still holds a position.
pub(super) fn without_positions(
    current: &DispatchBody,
    timeline: &[TimelineEntry],
) -> Option<(DispatchBody, Vec<TimelineEntry>)> {
    let located = |body: &DispatchBody| {
        body.victim.is_some() || body.perpetrator.is_some() || body.distance_m.is_some()
    };
    let resolved = current.status == AlertStatus::Resolved;
    if !resolved || !(located(current) || timeline.iter().any(|entry| located(&entry.revision))) {
        return None;
    }
    let timeline = timeline
        .iter()
        .map(|entry| TimelineEntry {
            revision: vangnet_engine::without_positions(entry.revision.clone()),
            act: entry.act.clone(),
        })
        .collect();
    Some((vangnet_engine::without_positions(current.clone()), timeline))
}
