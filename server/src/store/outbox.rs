//! The alert revisions police dispatch has yet to receive.

use std::future::Future;

use serde::{Deserialize, Serialize};
use vangnet_proto::{DispatchBody, Priority, TimestampMs};

use super::{PartitionKey, StoreError};

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

/// Priorities from most to least urgent, the order [`Outbox::outbox_depth`] reports them in.
pub(super) const PRIORITIES: [Priority; 3] = [Priority::P1, Priority::P2, Priority::P3];

/// An outbox position for a priority: 0 for the most urgent.
pub(super) fn rank(priority: Priority) -> u64 {
    match priority {
        Priority::P1 => 0,
        Priority::P2 => 1,
        Priority::P3 => 2,
    }
}

/// The queue dispatch delivers from; a commit fills it (see
/// [`super::PartitionStore::commit`]), so no revision is lost between the two.
pub trait Outbox: Send + Sync + 'static {
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
}
