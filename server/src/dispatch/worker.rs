//! One route's delivery worker: most urgent revision first, a few requests
//! in flight, and after a failure exponential backoff with jitter (capped at
//! 30 s) with one probe at a time, retrying forever. Each route has its own
//! worker and its own queue, so a slow or dead route delays no other route
//! and no ingest. Press floods are thinned per route ([`super::coalesce`]).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vangnet_proto::{Priority, TimestampMs};

use super::coalesce::Coalescer;
use super::request::{self, AttemptError};
use super::route::Route;
use crate::health::Health;
use crate::store::OutboxEntry;

/// Requests one healthy route may have in flight.
const CONCURRENCY: usize = 4;

/// What became of one revision on one route, as told to the outbox reader.
pub enum Outcome {
    /// The route answered 2xx.
    Delivered,
    /// The first failure since the revision was queued or last delivered.
    Failed(String),
    /// Never to be sent on this route: revision `by` of the same alert
    /// carries its presses.
    Superseded {
        /// The revision that replaced it.
        by: u32,
    },
}

/// A revision waiting for this route, ordered most urgent, then oldest, first.
struct Pending(Arc<OutboxEntry>);

impl Pending {
    fn rank(&self) -> (Priority, std::cmp::Reverse<TimestampMs>) {
        (self.0.body.priority, std::cmp::Reverse(self.0.enqueued_at))
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// How a route's worker paces its retries and when it calls itself degraded.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Longest wait between two tries (at most 30 s).
    pub max_backoff: Duration,
    /// A route whose oldest undelivered P1 is older than this is degraded.
    pub degraded_after: Duration,
    /// A revision that changes only an alert's press count waits this long after the last one sent.
    pub count_only_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            max_backoff: Duration::from_secs(30),
            degraded_after: Duration::from_secs(30),
            count_only_every: super::coalesce::COUNT_ONLY_EVERY,
        }
    }
}

/// One route's place among the routes, and what its worker sends with.
pub struct RouteWorker {
    /// The route's index, by which its reports name it.
    pub index: usize,
    /// The route.
    pub route: Arc<Route>,
    /// The HTTP client, shared by all routes.
    pub client: reqwest::Client,
    /// Its retry pacing and degraded allowance.
    pub timing: Timing,
}

/// Runs the route's worker until `stop`; reports each delivery and the first
/// failure of each revision on `reports`.
pub async fn run(
    worker: RouteWorker,
    mut incoming: mpsc::UnboundedReceiver<Arc<OutboxEntry>>,
    reports: mpsc::UnboundedSender<(usize, Arc<OutboxEntry>, Outcome)>,
    health: Arc<Health>,
    stop: CancellationToken,
) {
    let RouteWorker {
        index,
        route,
        client,
        timing,
    } = worker;
    let mut queue = BinaryHeap::new();
    let mut coalescer = Coalescer::new(timing.count_only_every);
    let mut undelivered: BTreeMap<String, (Priority, TimestampMs)> = BTreeMap::new();
    let mut failing: HashSet<String> = HashSet::new();
    let mut in_flight = JoinSet::new();
    let mut failures = 0u32;
    let mut retries = crate::backoff::dispatch(timing.max_backoff).build();
    let mut retry_at: Option<Instant> = None;
    let mut gauges = tokio::time::interval(Duration::from_secs(1));
    loop {
        let limit = if failures == 0 { CONCURRENCY } else { 1 };
        let may_send = retry_at.is_none_or(|at| Instant::now() >= at);
        while may_send && in_flight.len() < limit {
            let Some(Pending(entry)) = queue.pop() else {
                break;
            };
            let (client, route) = (client.clone(), route.clone());
            in_flight.spawn(async move {
                let result = request::deliver(&client, &route, &entry.body).await;
                (entry, result)
            });
        }
        let retry = retry_at.filter(|at| *at > Instant::now());
        let wake = [retry, coalescer.next_due()].into_iter().flatten().min();
        tokio::select! {
            () = stop.cancelled() => return,
            received = incoming.recv() => match received {
                Some(entry) => {
                    undelivered.insert(entry.key(), (entry.body.priority, entry.enqueued_at));
                    let admitted = coalescer.admit(entry, Instant::now());
                    if let Some((superseded, by)) = admitted.superseded {
                        undelivered.remove(&superseded.key());
                        let _ = reports.send((index, superseded, Outcome::Superseded { by }));
                    }
                    queue.extend(admitted.send.map(Pending));
                }
                None => return,
            },
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                let Ok((entry, result)) = joined else { continue };
                match result {
                    Ok(()) => {
                        metrics::counter!("vangnet_dispatch_attempts_total", "route" => route.name.clone(), "outcome" => "delivered").increment(1);
                        failures = 0;
                        retries = crate::backoff::dispatch(timing.max_backoff).build();
                        retry_at = None;
                        undelivered.remove(&entry.key());
                        failing.remove(&entry.key());
                        let _ = reports.send((index, entry, Outcome::Delivered));
                    }
                    Err(err) => {
                        metrics::counter!("vangnet_dispatch_attempts_total", "route" => route.name.clone(), "outcome" => err.outcome()).increment(1);
                        log_failure(&route, &err, failures);
                        failures = failures.saturating_add(1);
                        let wait = retries.next().unwrap_or(timing.max_backoff);
                        retry_at = Some(Instant::now() + wait);
                        if failing.insert(entry.key()) {
                            let _ = reports.send((index, entry.clone(), Outcome::Failed(err.to_string())));
                        }
                        queue.push(Pending(entry));
                    }
                }
            }
            () = sleep_until(wake), if wake.is_some() => {
                queue.extend(coalescer.due(Instant::now()).into_iter().map(Pending));
            }
            _ = gauges.tick() => {
                coalescer.forget_quiet(Instant::now());
                report(&route, &undelivered, &health, timing.degraded_after);
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn log_failure(route: &Route, err: &AttemptError, failures: u32) {
    if failures == 0 {
        tracing::warn!(route = %route.name, %err, "dispatch failed; retrying with backoff until delivered");
    } else {
        tracing::debug!(route = %route.name, %err, failures, "dispatch retry failed");
    }
}

/// Publishes the route's backlog and age gauges, and whether it is degraded.
fn report(
    route: &Route,
    undelivered: &BTreeMap<String, (Priority, TimestampMs)>,
    health: &Health,
    degraded_after: Duration,
) {
    let now = TimestampMs::now().millis();
    let age = |only_p1: bool| {
        let oldest = undelivered
            .values()
            .filter(|(priority, _)| !only_p1 || *priority == Priority::P1)
            .map(|(_, at)| at.millis())
            .min();
        Duration::from_millis(oldest.map_or(0, |at| now.saturating_sub(at)))
    };
    let name = route.name.clone();
    metrics::gauge!("vangnet_dispatch_undelivered", "route" => name.clone())
        .set(undelivered.len() as f64);
    metrics::gauge!("vangnet_dispatch_oldest_undelivered_seconds", "route" => name.clone())
        .set(age(false).as_secs_f64());
    let oldest_p1 = age(true);
    metrics::gauge!("vangnet_dispatch_oldest_undelivered_p1_seconds", "route" => name.clone())
        .set(oldest_p1.as_secs_f64());
    let degraded = oldest_p1 > degraded_after;
    metrics::gauge!("vangnet_dispatch_route_degraded", "route" => name)
        .set(f64::from(u8::from(degraded)));
    health.set_route_degraded(&route.name, degraded);
}
