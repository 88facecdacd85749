//! Hands every outbox revision to each route that takes it, and takes a
//! revision out of the outbox once every one of those routes has it (or
//! superseded it) and the audit trail says so.
//!
//! New revisions are found by following the store's event log, which holds
//! every committed revision once, in commit order: what is found does not
//! depend on what is still undelivered, so no backlog of one route, however
//! large, hides a newer revision from another. At start, and if the log
//! dropped events before they were read, the whole outbox is read again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_proto::{AlertStatus, DispatchBody, Priority, TimestampMs};

use super::route::Route;
use super::worker::Outcome;
use crate::audit;
use crate::audit_chain::Draft;
use crate::health::Health;
use crate::store::{EventId, OutboxEntry, PartitionKey, Store, StoreError};

/// Events read from the log per round trip.
const EVENT_BATCH: usize = 1000;
/// How often the log is read when no commit wakes the reader.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How often gauges are published and the log is checked for a gap.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Which routes still owe one revision (its delivery, or the audit entry of it).
struct Tracking {
    entry: Arc<OutboxEntry>,
    remaining: BTreeSet<usize>,
}

/// A route's receipt for a revision, settled once its audit entry is stored.
struct Settled {
    route: usize,
    key: String,
}

/// The reader's state: where it is in the log and what each route owes.
pub struct Reader<S> {
    store: Arc<S>,
    routes: Vec<Arc<Route>>,
    queues: Vec<mpsc::UnboundedSender<Arc<OutboxEntry>>>,
    health: Arc<Health>,
    cursor: Option<EventId>,
    tracking: HashMap<String, Tracking>,
    done: Vec<String>,
}

impl<S: Store> Reader<S> {
    /// A reader handing `store`'s outbox to `routes` through their `queues`.
    pub fn new(
        store: Arc<S>,
        routes: Vec<Arc<Route>>,
        queues: Vec<mpsc::UnboundedSender<Arc<OutboxEntry>>>,
        health: Arc<Health>,
    ) -> Self {
        Self {
            store,
            routes,
            queues,
            health,
            cursor: None,
            tracking: HashMap::new(),
            done: Vec::new(),
        }
    }
}

/// Runs `reader` until `stop`, its audit writer on `tasks`. `committed`
/// wakes it as soon as a step commits a revision; `reports` carries the
/// workers' outcomes.
pub async fn run<S: Store>(
    tasks: TaskTracker,
    mut reader: Reader<S>,
    mut reports: mpsc::UnboundedReceiver<(usize, Arc<OutboxEntry>, Outcome)>,
    committed: Arc<Notify>,
    stop: CancellationToken,
) {
    while let Err(err) = reader.start().await {
        tracing::warn!(%err, "outbox unreadable; dispatch waits for the store");
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    let (audit, mut audited) = audit::spawn_writer(&tasks, reader.store.clone(), stop.clone());
    let mut poll = tokio::time::interval(POLL_EVERY);
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some((route, entry, outcome)) = reports.recv() => {
                let settled = (!matches!(outcome, Outcome::Failed(_))).then(|| Settled {
                    route,
                    key: entry.key(),
                });
                let _ = audit.send((outcome_draft(&reader.routes[route], &entry, &outcome), settled));
            }
            Some(Some(Settled { route, key })) = audited.recv() => {
                reader.settle(route, key);
                reader.finish().await;
            }
            () = committed.notified() => reader.read_new().await,
            _ = poll.tick() => reader.read_new().await,
            _ = check.tick() => reader.check().await,
        }
    }
}

impl<S: Store> Reader<S> {
    /// Reads the whole outbox, from where the log is now, and recovers which
    /// open alerts no route takes.
    async fn start(&mut self) -> Result<(), StoreError> {
        self.reload().await?;
        if !self.routes.is_empty() {
            for partition in self.store.partitions().await? {
                for alert in self.store.alerts(&partition).await? {
                    let unrouted = self.routes.iter().all(|r| !r.wants(&alert));
                    self.mark_unrouted(&alert, unrouted);
                }
            }
        }
        self.finish().await;
        Ok(())
    }

    /// Takes every outbox entry not yet tracked, and goes on reading the log
    /// from where it ended before the outbox was read.
    async fn reload(&mut self) -> Result<(), StoreError> {
        let last = self.store.last_event_id().await?;
        for entry in self.store.outbox(usize::MAX).await? {
            self.admit(entry);
        }
        self.cursor = last;
        Ok(())
    }

    /// Takes the revisions committed since the last read.
    async fn read_new(&mut self) {
        loop {
            let events = match self
                .store
                .events_after(self.cursor.as_ref(), EVENT_BATCH)
                .await
            {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(%err, "event log unreadable; dispatch waits for the store");
                    return;
                }
            };
            let full = events.len() == EVENT_BATCH;
            for (id, entry) in events {
                let body = entry.revision;
                let partition = body
                    .order_id
                    .clone()
                    .map_or(PartitionKey::Unassigned, PartitionKey::Order);
                self.admit(OutboxEntry {
                    partition,
                    body,
                    enqueued_at: TimestampMs::now(),
                });
                self.cursor = Some(id);
            }
            if !full {
                break;
            }
        }
        self.finish().await;
    }

    /// Publishes the outbox depth, takes any untracked entry at the head of
    /// the outbox (reading it also lets the store drop stale index entries),
    /// and reads the whole outbox again if the log dropped events this
    /// reader had not read.
    async fn check(&mut self) {
        self.read_new().await;
        match self.store.outbox(EVENT_BATCH).await {
            Ok(entries) => entries.into_iter().for_each(|entry| self.admit(entry)),
            Err(err) => tracing::warn!(%err, "outbox unreadable; dispatch waits for the store"),
        }
        if let Ok(depths) = self.store.outbox_depth().await {
            for (priority, count) in depths {
                metrics::gauge!("vangnet_outbox_depth", "priority" => format!("{priority:?}"))
                    .set(count as f64);
            }
        }
        if let Ok(Some(_)) = self.store.log_gap_after(self.cursor.as_ref()).await {
            tracing::error!(
                "the event log dropped revisions before dispatch read them; reading the whole outbox"
            );
            if let Err(err) = self.reload().await {
                tracing::warn!(%err, "outbox unreadable; dispatch waits for the store");
            }
        }
        self.finish().await;
    }

    /// Hands a revision to every route that takes it, once.
    fn admit(&mut self, entry: OutboxEntry) {
        let key = entry.key();
        if self.tracking.contains_key(&key) {
            return;
        }
        let entry = Arc::new(entry);
        let remaining: BTreeSet<usize> = self
            .routes
            .iter()
            .enumerate()
            .filter(|(_, route)| route.wants(&entry.body))
            .map(|(index, _)| index)
            .collect();
        if !self.routes.is_empty() {
            let body = &entry.body;
            if remaining.is_empty() && needs_a_route(body) {
                metrics::counter!("vangnet_dispatch_unrouted_total", "priority" => format!("{:?}", body.priority))
                    .increment(1);
            }
            self.mark_unrouted(body, remaining.is_empty());
        }
        for index in &remaining {
            let _ = self.queues[*index].send(entry.clone());
        }
        if remaining.is_empty() {
            self.done.push(key.clone());
        }
        self.tracking.insert(key, Tracking { entry, remaining });
    }

    /// Keeps `/healthz` degraded from an open P1 or P2 revision no route
    /// takes until a revision acknowledging or resolving its alert.
    fn mark_unrouted(&self, body: &DispatchBody, unrouted: bool) {
        let id = body.alert_id.as_str();
        if body.status != AlertStatus::Open {
            self.health.set_unrouted(id, false);
        } else if unrouted && needs_a_route(body) && self.health.set_unrouted(id, true) {
            tracing::error!(
                alert_id = id,
                priority = ?body.priority,
                kind = ?body.kind,
                "no dispatch route takes this alert; healthz is degraded until a dispatcher acknowledges or resolves it"
            );
        }
    }

    /// Notes that `route` has the revision `key` or will never need it.
    fn settle(&mut self, route: usize, key: String) {
        if let Some(tracked) = self.tracking.get_mut(&key)
            && tracked.remaining.remove(&route)
            && tracked.remaining.is_empty()
        {
            self.done.push(key);
        }
    }

    /// Takes revisions that every route has (or that no route wants) out of the outbox.
    async fn finish(&mut self) {
        while let Some(key) = self.done.pop() {
            let Some(tracked) = self.tracking.get(&key) else {
                continue;
            };
            match self.store.delivered(&tracked.entry.partition, &key).await {
                Ok(_) => {
                    self.tracking.remove(&key);
                }
                Err(err) => {
                    tracing::warn!(%err, "could not mark a revision delivered; will retry");
                    self.done.push(key);
                    return;
                }
            }
        }
    }
}

/// An open P1 or P2 revision: one that some route must take.
fn needs_a_route(body: &DispatchBody) -> bool {
    body.status == AlertStatus::Open && body.priority >= Priority::P2
}

/// The audit entry of a delivery, a first failure or a superseded revision.
fn outcome_draft(route: &Route, entry: &OutboxEntry, outcome: &Outcome) -> Draft {
    let actor = format!("dispatch:{}", route.name);
    let subject = entry.body.alert_id.as_str();
    let revision = entry.body.revision;
    match outcome {
        Outcome::Delivered => Draft::new(
            &actor,
            "dispatch.delivered",
            subject,
            json!({ "revision": revision }),
        ),
        Outcome::Failed(error) => Draft::new(
            &actor,
            "dispatch.failed",
            subject,
            json!({ "revision": revision, "error": error }),
        ),
        Outcome::Superseded { by } => Draft::new(
            &actor,
            "dispatch.superseded",
            subject,
            json!({ "revision": revision, "superseded_by": by }),
        ),
    }
}
