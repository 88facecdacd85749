//! Devices' location history.

use std::future::Future;

use serde::{Deserialize, Serialize};
use vangnet_proto::{DeviceId, Fix, TimestampMs};

use super::{PartitionKey, StoreError};

/// One stored fix of a device's location history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Whose fix.
    pub device: DeviceId,
    /// The fix as accepted.
    pub fix: Fix,
}

/// Where devices have been, kept for as long as retention allows; a commit
/// appends to it (see [`super::PartitionStore::commit`]).
pub trait History: Send + Sync + 'static {
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
}
