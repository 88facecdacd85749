//! Police dispatch (docs/api.md#police-dispatch): every alert revision in the store's
//! outbox is delivered to every route that takes it, most urgent first,
//! retried until the route answers 2xx — across restarts too, since a
//! revision leaves the outbox only once every route has it and each of
//! those deliveries is in the audit trail. Each route has its own queue and
//! worker, so no route's backlog or silence holds up another.

pub mod cap;
mod coalesce;
pub mod eido;
mod outbox;
mod request;
mod route;
mod worker;

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use self::request::TIMEOUT;
pub use self::route::{Format, Route, RouteConfig, check_transport};
pub use self::worker::Timing;
use crate::health::Health;
use crate::store::Store;

/// Starts one worker per route and the outbox reader on `tasks`; they run
/// until `stop`. `committed` wakes the reader as soon as a step commits a
/// revision.
pub fn spawn<S: Store>(
    tasks: &TaskTracker,
    store: Arc<S>,
    routes: Vec<Route>,
    committed: Arc<Notify>,
    health: Arc<Health>,
    timing: Timing,
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
        let worker = worker::RouteWorker {
            index,
            route: route.clone(),
            client: client.clone(),
            timing,
        };
        tasks.spawn(worker::run(
            worker,
            rx,
            reports_tx.clone(),
            health.clone(),
            stop.clone(),
        ));
    }
    let reader = outbox::Reader::new(store, routes, queues, health);
    tasks.spawn(outbox::run(
        tasks.clone(),
        reader,
        reports_rx,
        committed,
        stop,
    ));
    Ok(())
}
