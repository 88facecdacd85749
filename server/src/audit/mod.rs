//! The tamper-evident audit trail: every API change, alert
//! revision and dispatch outcome, appended to one hash chain in the store.
//! An order change is written with its entry in one store step
//! ([`crate::store::OrderStore`]); an act on an alert is committed with its
//! revision and recorded from the event log ([`recorder`]).
//!
//! Appending is a compare-and-set on the chain's head, so any number of
//! writers (handlers, the recorder, dispatch, other instances) may append at
//! once: a writer that lost the race rebuilds its entry on the new head.

pub mod command;
pub mod recorder;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_proto::TimestampMs;

use crate::audit_chain::{Draft, Run};
use crate::store::{AuditLog, StoreError};

/// Drafts the writer appends in one step at most.
const WRITER_BATCH: usize = 256;

/// Appends `drafts` to the chain in order and in one step, retrying on the
/// head another writer moved.
pub async fn append_all<S: AuditLog>(store: &S, drafts: &[Draft]) -> Result<(), StoreError> {
    loop {
        let head = store.audit_head().await?;
        let run = Run::after(&head.link, drafts.iter().cloned(), TimestampMs::now());
        if store.append_audit(&run, None).await? {
            return Ok(());
        }
    }
}

/// Starts a task that appends the drafts sent to it, in order and those
/// queued together in one step, waiting out store outages, and hands back
/// each draft's receipt once its entry is stored; drafts still queued when
/// the service stops are lost, so a caller that must not lose one keeps its
/// own record until the receipt comes.
pub fn spawn_writer<S: AuditLog, R: Send + 'static>(
    tasks: &TaskTracker,
    store: Arc<S>,
    stop: CancellationToken,
) -> (
    mpsc::UnboundedSender<(Draft, R)>,
    mpsc::UnboundedReceiver<R>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Draft, R)>();
    let (receipts_tx, receipts_rx) = mpsc::unbounded_channel();
    tasks.spawn(async move {
        let mut queued = Vec::with_capacity(WRITER_BATCH);
        while rx.recv_many(&mut queued, WRITER_BATCH).await > 0 {
            let (drafts, receipts): (Vec<Draft>, Vec<R>) = queued.drain(..).unzip();
            while let Err(err) = append_all(store.as_ref(), &drafts).await {
                tracing::warn!(%err, "audit entries wait for the store");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            for receipt in receipts {
                let _ = receipts_tx.send(receipt);
            }
        }
    });
    (tx, receipts_rx)
}
