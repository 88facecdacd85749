//! Device messages that could not be handled, kept for an operator.

use std::future::Future;

use serde::{Deserialize, Serialize};
use vangnet_proto::TimestampMs;

use super::StoreError;

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

/// Where ingest puts a message it cannot handle, so it neither loses it nor
/// stalls on it, and where `vangnet set-aside` reads it back.
pub trait SetAsideLog: Send + Sync + 'static {
    /// Keeps a message that could not be handled, dropping the oldest beyond [`SET_ASIDE_KEPT`].
    fn set_aside(&self, message: &SetAside) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Up to `limit` set-aside messages, newest first.
    fn set_aside_messages(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SetAside>, StoreError>> + Send;
}
