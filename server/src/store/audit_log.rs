//! The audit chain as stored: its entries and its head.

use std::borrow::Cow;
use std::future::Future;

use crate::audit_chain::{Entry as AuditEntry, Link, Run as AuditRun};
use crate::audit_seal::SealKey;

use super::{EventId, StoreError};

/// The audit chain's end in the store, with the last alert event audited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditHead {
    /// Where the next entry attaches.
    pub link: Link,
    /// The last event of [`super::EventLog::events_after`] recorded as `alert.revision`.
    pub event: Option<EventId>,
}

/// `run` as a store appends it: sealed under `key` when the store has one.
pub(super) fn sealed<'a>(run: &'a AuditRun, key: Option<&SealKey>) -> Cow<'a, AuditRun> {
    key.map_or(Cow::Borrowed(run), |key| Cow::Owned(run.sealed(key)))
}

/// The tamper-evident trail, appended to by compare-and-set on its head so
/// that any number of writers can append at once. A store given an audit
/// key seals every entry it appends, so no writer can append unsealed.
pub trait AuditLog: Send + Sync + 'static {
    /// The same store sealing every audit entry it appends with `key`
    /// (`None`: unsealed).
    fn with_audit_key(self, key: Option<SealKey>) -> Self
    where
        Self: Sized;
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
    /// Up to `limit` audit entries in stored order, skipping the first `after`
    /// (on an intact chain: the entries with seq > `after`).
    fn audit_after(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}
