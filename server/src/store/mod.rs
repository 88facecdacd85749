//! Durable state: one trait per concern, two implementations (Redis and an
//! embedded redb file) that pass one conformance suite.
//!
//! State is kept per *partition*: one protection order (or the catch-all
//! partition of devices in no order). A partition's engine state, stored
//! as named parts so a step writes only the parts it changed, its
//! alerts with their timelines, its dispatch outbox and its location history
//! change together in one atomic [`PartitionStore::commit`], guarded by the
//! version the caller loaded: two instances working on the same order cannot
//! both commit, so they never raise two alerts for one episode.
//!
//! | trait | keeps |
//! |---|---|
//! | [`OrderStore`] | protection orders and the epoch of their last change |
//! | [`PartitionStore`] | partitions' engine state and alerts, and the commit |
//! | [`Outbox`] | alert revisions not yet delivered to police dispatch |
//! | [`EventLog`] | every committed alert revision, in commit order |
//! | [`History`] | devices' location history |
//! | [`AuditLog`] | the audit chain |
//! | [`SetAsideLog`] | device messages that could not be handled |
//! | [`PushSubscriptions`] | Web Push subscriptions of dispatchers and devices |
//!
//! [`Store`] is all of them, for the callers that need several.
//!
//! Redis is one server (a primary, with replicas if wanted) or a Redis
//! Cluster, where the partitions are spread over shards ([`RedisStore`]).

mod audit_log;
mod embedded;
mod events;
mod history;
mod orders;
mod outbox;
mod partitions;
mod push;
mod redis;
mod set_aside;

#[cfg(test)]
#[path = "tests/conformance.rs"]
mod conformance;

use std::future::Future;

use serde::Serialize;

pub use self::audit_log::{AuditHead, AuditLog};
pub use self::embedded::EmbeddedStore;
pub use self::events::{EVENT_ID_PATTERN, EventId, EventLog};
pub use self::history::{History, HistoryEntry};
pub use self::orders::{OrderChange, OrderStore, OrderWrite, StoredOrder};
pub use self::outbox::{Outbox, OutboxEntry};
pub use self::partitions::{
    Act, Commit, CommitOutcome, PartitionKey, PartitionStore, StateParts, StoredAlert,
    TimelineEntry, Versioned,
};
pub use self::push::{DeviceSubscriber, PushSubscription, PushSubscriptions};
pub use self::redis::{RedisAddress, RedisStore};
pub use self::set_aside::{SET_ASIDE_KEPT, SetAside, SetAsideLog, SetAsideReason};

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

/// Durable state of the service, for callers that need several concerns.
/// Every method is atomic on its own.
pub trait Store:
    OrderStore
    + PartitionStore
    + Outbox
    + EventLog
    + History
    + AuditLog
    + SetAsideLog
    + PushSubscriptions
{
    /// Answers when the store is reachable.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Serializes a stored value as JSON, readable with `redis-cli` too.
fn encode<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Reads a stored JSON value.
fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(json).map_err(|err| StoreError::Corrupt(err.to_string()))
}
