//! Follows the store's event log and appends an `alert.revision` entry for
//! every committed alert revision, in commit order, preceded by the person's
//! `alert.acknowledge` or `alert.resolve` when one acted. An act is committed
//! with its revision in one step, so the trail gets every act that changed
//! an alert, even when the instance that took it died right after. The last
//! event recorded is kept in the chain's head, so after a crash (or with
//! several instances running) every revision is recorded exactly once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_proto::{AlertStatus, DispatchBody, TimestampMs};

use crate::audit_chain::{Draft, Run};
use crate::store::{EventId, Store, StoreError, TimelineEntry};

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

/// The entry of the person's act behind a revision, if one acted.
fn act_draft(entry: &TimelineEntry) -> Option<Draft> {
    let act = entry.act.as_ref()?;
    let action = match entry.revision.status {
        AlertStatus::Acknowledged => "alert.acknowledge",
        AlertStatus::Resolved => "alert.resolve",
        AlertStatus::Open => "alert.act",
    };
    let detail = json!({ "revision": entry.revision.revision, "note": act.note });
    Some(Draft::new(
        &act.actor,
        action,
        entry.revision.alert_id.as_str(),
        detail,
    ))
}

/// Starts the recorder; it runs until `stop`.
pub fn spawn<S: Store>(tasks: &TaskTracker, store: Arc<S>, stop: CancellationToken) {
    tasks.spawn(async move {
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

/// The entry that says revisions may be missing from the trail: the event
/// log dropped events after `after` (the last event recorded) before they
/// were recorded; recording goes on at `resumed_at`.
fn gap_draft(after: Option<&EventId>, resumed_at: &EventId) -> Draft {
    Draft::new(
        "system",
        "audit.gap",
        "",
        json!({
            "after": after.map(EventId::as_str),
            "resumed_at": resumed_at.as_str(),
        }),
    )
}

/// Records the events after the last one audited, in one append with the
/// last of them as the head's event, preceded by an `audit.gap` entry when
/// the log dropped events before they were recorded; returns how many
/// revisions it recorded. Another writer appending first makes it read the
/// head and the events again.
pub async fn record_pending<S: Store>(store: &S) -> Result<usize, StoreError> {
    loop {
        let head = store.audit_head().await?;
        let gap = store.log_gap_after(head.event.as_ref()).await?;
        let events = store.events_after(head.event.as_ref(), BATCH).await?;
        let Some(last) = events.last().map(|(id, _)| id).or(gap.as_ref()) else {
            return Ok(0);
        };
        if gap.is_some() {
            tracing::error!(
                "the event log dropped alert revisions before they were audited; recording a gap"
            );
        }
        let gap = gap
            .as_ref()
            .map(|resumed_at| gap_draft(head.event.as_ref(), resumed_at));
        let revisions = events.iter().flat_map(|(_, entry)| {
            act_draft(entry)
                .into_iter()
                .chain([revision_draft(&entry.revision)])
        });
        let run = Run::after(
            &head.link,
            gap.into_iter().chain(revisions),
            TimestampMs::now(),
        );
        if store.append_audit(&run, Some(last)).await? {
            return Ok(events.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{
        AlertId, AlertKind, AlertStatus, IncidentId, OrderId, Priority, TimestampMs, UtcTime,
    };

    use super::*;
    use crate::audit_chain as chain;
    use crate::store::{
        Act, AuditLog, Commit, EmbeddedStore, PartitionKey, PartitionStore, TimelineEntry,
    };

    fn revision(alert: &str, revision: u32) -> TimelineEntry {
        let at = UtcTime(TimestampMs(1_764_331_200_000));
        TimelineEntry {
            revision: DispatchBody {
                alert_id: AlertId::new(alert),
                incident_id: IncidentId::new(alert),
                revision,
                order_id: Some(OrderId::new("order-17")),
                region: Some("utrecht".into()),
                priority: Priority::P1,
                kind: AlertKind::Panic,
                confidence: None,
                status: AlertStatus::Open,
                exercise: false,
                late: false,
                count: revision,
                created_at: at,
                updated_at: at,
                cleared_at: None,
                victim: None,
                perpetrator: None,
                zone: None,
                distance_m: None,
                summary: String::new(),
            },
            act: None,
        }
    }

    async fn commit(store: &EmbeddedStore, version: u64, revisions: Vec<TimelineEntry>) {
        let partition = PartitionKey::Order(OrderId::new("order-17"));
        let commit = Commit {
            revisions,
            ..Commit::default()
        };
        store.commit(&partition, version, commit).await.unwrap();
    }

    #[tokio::test]
    async fn each_committed_revision_is_recorded_once_in_commit_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
        commit(
            &store,
            0,
            vec![revision("alert-1", 1), revision("alert-2", 1)],
        )
        .await;
        assert_eq!(record_pending(&store).await.unwrap(), 2);
        commit(&store, 1, vec![revision("alert-1", 2)]).await;
        record_pending(&store).await.unwrap();
        assert_eq!(record_pending(&store).await.unwrap(), 0);

        let entries = store.audit_after(0, 10).await.unwrap();
        let recorded: Vec<(&str, &serde_json::Value)> = entries
            .iter()
            .map(|e| (e.subject.as_str(), &e.detail["revision"]))
            .collect();
        assert_eq!(
            recorded,
            [
                ("alert-1", &json!(1)),
                ("alert-2", &json!(1)),
                ("alert-1", &json!(2))
            ]
        );
        assert!(
            entries
                .iter()
                .all(|e| e.actor == "system" && e.action == "alert.revision")
        );
        assert_eq!(chain::verify(&entries), Ok(3));
    }

    #[tokio::test]
    async fn an_act_is_recorded_with_its_actor_and_note_before_the_revision_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
        let mut acked = revision("alert-1", 2);
        acked.revision.status = AlertStatus::Acknowledged;
        acked.act = Some(Act {
            actor: "dispatcher-1".into(),
            note: "on it".into(),
        });
        commit(&store, 0, vec![revision("alert-1", 1), acked]).await;
        record_pending(&store).await.unwrap();

        let entries = store.audit_after(0, 10).await.unwrap();
        let recorded: Vec<(&str, &str, &serde_json::Value)> = entries
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str(), &e.detail["revision"]))
            .collect();
        assert_eq!(
            recorded,
            [
                ("system", "alert.revision", &json!(1)),
                ("dispatcher-1", "alert.acknowledge", &json!(2)),
                ("system", "alert.revision", &json!(2)),
            ]
        );
        assert_eq!(entries[1].detail["note"], "on it");
    }

    #[tokio::test]
    async fn two_recorders_racing_record_each_revision_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
        for version in 0..20 {
            let alert = format!("alert-{version}");
            commit(&store, version, vec![revision(&alert, 1)]).await;
        }
        let recorders = [store.clone(), store.clone()]
            .map(|store| tokio::spawn(async move { record_pending(&store).await }));
        for recorder in recorders {
            recorder.await.unwrap().unwrap();
        }

        let entries = store.audit_after(0, 100).await.unwrap();
        assert_eq!(entries.len(), 20);
        assert_eq!(chain::verify(&entries), Ok(20));
        assert_eq!(record_pending(&store).await.unwrap(), 0);
    }
}
