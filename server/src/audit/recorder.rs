//! Follows the store's event log and appends an `alert.revision` entry for
//! every committed alert revision, in commit order. The last event recorded
//! is kept in the chain's head, so after a crash (or with several instances
//! running) every revision is recorded exactly once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use vangnet_proto::DispatchBody;

use super::append_for_event;
use super::chain::Draft;
use crate::store::{Store, StoreError};

/// Events read per round.
const BATCH: usize = 256;
/// How often the log is read when it had nothing new.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// The entry a committed revision makes.
pub fn revision_draft(revision: &DispatchBody) -> Draft {
    Draft::new(
        "system",
        "alert.revision",
        revision.alert_id.as_str(),
        json!({
            "revision": revision.revision,
            "order_id": revision.order_id,
            "region": revision.region,
            "kind": revision.kind,
            "priority": revision.priority,
            "status": revision.status,
            "exercise": revision.exercise,
            "count": revision.count,
            "cleared": revision.cleared_at.is_some(),
        }),
    )
}

/// Starts the recorder; it runs until `stop`.
pub fn spawn<S: Store>(store: Arc<S>, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let wait = match record_pending(store.as_ref()).await {
                Ok(0) => POLL_EVERY,
                Ok(_) => Duration::ZERO,
                Err(err) => {
                    tracing::warn!(%err, "audit recorder waits for the store");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    });
}

/// Records the events after the last one audited; returns how many it read.
pub async fn record_pending<S: Store>(store: &S) -> Result<usize, StoreError> {
    let head = store.audit_head().await?;
    let events = store.events_after(head.event.as_ref(), BATCH).await?;
    for (id, revision) in &events {
        append_for_event(store, id, revision_draft(revision)).await?;
    }
    Ok(events.len())
}
