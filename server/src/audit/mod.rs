//! The tamper-evident audit trail (issue 6 item 5): every API change, alert
//! revision and dispatch outcome, appended to one hash chain in the store.
//!
//! Appending is a compare-and-set on the chain's head, so any number of
//! writers (handlers, the recorder, dispatch, other instances) may append at
//! once: a writer that lost the race rebuilds its entry on the new head.

pub mod chain;
pub mod command;
pub mod recorder;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vangnet_proto::TimestampMs;

use self::chain::{Draft, Entry};
use crate::store::{EventId, Store, StoreError};

/// Appends `draft` to the chain, retrying on the head another writer moved.
pub async fn append<S: Store>(store: &S, draft: Draft) -> Result<Entry, StoreError> {
    loop {
        let head = store.audit_head().await?;
        let entry = Entry::next(&head.link, draft.clone(), TimestampMs::now());
        if store.append_audit(&entry, None).await? {
            return Ok(entry);
        }
    }
}

/// Appends `draft` for store event `event` unless the chain has recorded
/// that event (or a later one) already; returns whether this call appended.
pub async fn append_for_event<S: Store>(
    store: &S,
    event: &EventId,
    draft: Draft,
) -> Result<bool, StoreError> {
    loop {
        let head = store.audit_head().await?;
        if head.event.as_ref().is_some_and(|done| done >= event) {
            return Ok(false);
        }
        let entry = Entry::next(&head.link, draft.clone(), TimestampMs::now());
        if store.append_audit(&entry, Some(event)).await? {
            return Ok(true);
        }
    }
}

/// Starts a task that appends the drafts sent to it, in order, waiting out
/// store outages, and hands back each draft's receipt once its entry is
/// stored; drafts still queued when the service stops are lost, so a caller
/// that must not lose one keeps its own record until the receipt comes.
pub fn spawn_writer<S: Store, R: Send + 'static>(
    store: Arc<S>,
    stop: CancellationToken,
) -> (
    mpsc::UnboundedSender<(Draft, R)>,
    mpsc::UnboundedReceiver<R>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Draft, R)>();
    let (receipts_tx, receipts_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((draft, receipt)) = rx.recv().await {
            while let Err(err) = append(store.as_ref(), draft.clone()).await {
                tracing::warn!(%err, "audit entry waits for the store");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            let _ = receipts_tx.send(receipt);
        }
    });
    (tx, receipts_rx)
}
