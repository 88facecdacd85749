//! Police dispatch (SPEC section 6): every alert revision in the store's
//! outbox is delivered to every route that takes it, most urgent first,
//! retried until the route answers 2xx — across restarts too, since a
//! revision leaves the outbox only once every route has it and each of
//! those deliveries is in the audit trail.

pub mod cap;
pub mod eido;
mod request;
mod route;
mod worker;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

pub use self::request::{TIMEOUT, signature};
pub use self::route::{Format, Route, RouteConfig, check_transport};
pub use self::worker::DEGRADED_AFTER;
use self::worker::Outcome;
use crate::audit::{self, chain::Draft};
use crate::health::Health;
use crate::store::{OutboxEntry, Store};

/// Revisions read from the outbox per poll.
const POLL_BATCH: usize = 1000;
/// How often the outbox is read when no commit wakes the dispatcher.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Which routes still owe one revision (its delivery, or the audit entry of it).
struct Tracking {
    entry: Arc<OutboxEntry>,
    remaining: BTreeSet<usize>,
}

/// Starts one worker per route and the outbox reader; runs until `stop`.
/// `committed` wakes the reader as soon as a step commits a revision.
pub fn spawn<S: Store>(
    store: Arc<S>,
    routes: Vec<Route>,
    committed: Arc<Notify>,
    health: Arc<Health>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let client =
        request::client().map_err(|e| anyhow::anyhow!("building the dispatch HTTP client: {e}"))?;
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let mut queues = Vec::with_capacity(routes.len());
    let routes: Vec<Arc<Route>> = routes.into_iter().map(Arc::new).collect();
    for (index, route) in routes.iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        queues.push(tx);
        tokio::spawn(worker::run(
            index,
            route.clone(),
            client.clone(),
            rx,
            reports_tx.clone(),
            health.clone(),
            stop.clone(),
        ));
    }
    tokio::spawn(read_outbox(
        store, routes, queues, reports_rx, committed, stop,
    ));
    Ok(())
}

async fn read_outbox<S: Store>(
    store: Arc<S>,
    routes: Vec<Arc<Route>>,
    queues: Vec<mpsc::UnboundedSender<Arc<OutboxEntry>>>,
    mut reports: mpsc::UnboundedReceiver<(usize, Arc<OutboxEntry>, Outcome)>,
    committed: Arc<Notify>,
    stop: CancellationToken,
) {
    let (audit, mut audited) = audit::spawn_writer(store.clone(), stop.clone());
    let mut tracking: HashMap<String, Tracking> = HashMap::new();
    let mut poll = tokio::time::interval(POLL_EVERY);
    let mut depth = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some((route, entry, outcome)) = reports.recv() => {
                let delivery = matches!(outcome, Outcome::Delivered).then(|| Delivery {
                    route,
                    key: entry.key(),
                });
                let _ = audit.send((outcome_draft(&routes[route], &entry, &outcome), delivery));
                continue;
            }
            Some(Some(Delivery { route, key })) = audited.recv() => {
                if let Some(tracked) = tracking.get_mut(&key) {
                    tracked.remaining.remove(&route);
                }
                finish_delivered(store.as_ref(), &mut tracking).await;
                continue;
            }
            () = committed.notified() => {}
            _ = poll.tick() => {}
            _ = depth.tick() => {
                if let Ok(depths) = store.outbox_depth().await {
                    for (priority, count) in depths {
                        metrics::gauge!("vangnet_outbox_depth", "priority" => format!("{priority:?}")).set(count as f64);
                    }
                }
                continue;
            }
        }
        let entries = match store.outbox(POLL_BATCH).await {
            Ok(entries) => entries,
            Err(err) => {
                tracing::warn!(%err, "outbox unreadable; dispatch waits for the store");
                continue;
            }
        };
        for entry in entries {
            let key = entry.key();
            if tracking.contains_key(&key) {
                continue;
            }
            let entry = Arc::new(entry);
            let remaining: BTreeSet<usize> = routes
                .iter()
                .enumerate()
                .filter(|(_, route)| route.wants(&entry.body))
                .map(|(index, _)| index)
                .collect();
            if remaining.is_empty() {
                metrics::counter!("vangnet_dispatch_unrouted_total").increment(1);
            }
            for index in &remaining {
                let _ = queues[*index].send(entry.clone());
            }
            tracking.insert(key, Tracking { entry, remaining });
        }
        finish_delivered(store.as_ref(), &mut tracking).await;
    }
}

/// A revision's delivery to one route, done once its audit entry is stored.
struct Delivery {
    route: usize,
    key: String,
}

/// The audit entry of a delivery or a first failure.
fn outcome_draft(route: &Route, entry: &OutboxEntry, outcome: &Outcome) -> Draft {
    let actor = format!("dispatch:{}", route.name);
    let subject = entry.body.alert_id.as_str();
    match outcome {
        Outcome::Delivered => Draft::new(
            &actor,
            "dispatch.delivered",
            subject,
            json!({ "revision": entry.body.revision }),
        ),
        Outcome::Failed(error) => Draft::new(
            &actor,
            "dispatch.failed",
            subject,
            json!({ "revision": entry.body.revision, "error": error }),
        ),
    }
}

/// Takes revisions that every route has (or that no route wants) out of the outbox.
async fn finish_delivered<S: Store>(store: &S, tracking: &mut HashMap<String, Tracking>) {
    let done: Vec<String> = tracking
        .iter()
        .filter(|(_, tracked)| tracked.remaining.is_empty())
        .map(|(key, _)| key.clone())
        .collect();
    for key in done {
        let Some(tracked) = tracking.get(&key) else {
            continue;
        };
        match store.delivered(&tracked.entry.partition, &key).await {
            Ok(_) => {
                tracking.remove(&key);
            }
            Err(err) => {
                tracing::warn!(%err, "could not mark a revision delivered; will retry");
                return;
            }
        }
    }
}
