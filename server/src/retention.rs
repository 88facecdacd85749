//! Location history retention: fixes older than the configured number of
//! days are trimmed at start-up and every hour after.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_proto::TimestampMs;

use crate::store::History;

/// How often history is trimmed.
pub const TRIM_EVERY: Duration = Duration::from_secs(3600);

/// Trims history older than `retention` until `stop`.
pub fn spawn<S: History>(
    tasks: &TaskTracker,
    store: Arc<S>,
    retention: Duration,
    stop: CancellationToken,
) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(TRIM_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = interval.tick() => {}
            }
            let retention_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
            let before = TimestampMs(TimestampMs::now().millis().saturating_sub(retention_ms));
            match store.trim_history(before).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "location history past retention trimmed"),
                Err(err) => tracing::warn!(%err, "history trim postponed"),
            }
        }
    });
}
