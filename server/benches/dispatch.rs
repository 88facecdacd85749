//! Dispatch throughput and priority under backlog, against a local sink:
//! (1) revisions per second drained from the outbox to a sink that answers
//! at once; (2) how long a new P1 takes to reach a slow sink while 10,000
//! P3 revisions are queued before it. Run: `cargo bench -p vangnet-server --bench dispatch`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;
use vangnet_proto::{
    AlertId, AlertKind, AlertStatus, DispatchBody, IncidentId, Priority, TimestampMs, UtcTime,
};
use vangnet_server::dispatch::{self, Route};
use vangnet_server::health::Health;
use vangnet_server::store::{Commit, EmbeddedStore, PartitionKey, PartitionStore, TimelineEntry};

const BACKLOG: usize = 10_000;

struct SinkState {
    received: AtomicUsize,
    delay_ms: AtomicU64,
    first_p1: Mutex<Option<Instant>>,
}

async fn receive(body: web::Bytes, state: web::Data<SinkState>) -> HttpResponse {
    let delay = state.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if body.windows(5).any(|w| w == b"\"P1\",") {
        let mut first = state.first_p1.lock().unwrap();
        first.get_or_insert_with(Instant::now);
    }
    state.received.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().finish()
}

fn revision(index: usize, priority: Priority) -> TimelineEntry {
    let at = UtcTime(TimestampMs::now());
    TimelineEntry {
        revision: DispatchBody {
            alert_id: AlertId::new(format!("bench-{index}")),
            incident_id: IncidentId::new(format!("bench-{index}")),
            revision: 1,
            order_id: None,
            region: Some("bench".into()),
            priority,
            kind: if priority == Priority::P1 {
                AlertKind::Panic
            } else {
                AlertKind::BatteryLow
            },
            confidence: None,
            status: AlertStatus::Open,
            exercise: false,
            late: false,
            count: 1,
            created_at: at,
            updated_at: at,
            cleared_at: None,
            victim: None,
            perpetrator: None,
            zone: None,
            distance_m: None,
            summary: "benchmark".into(),
        },
        act: None,
    }
}

async fn enqueue(store: &EmbeddedStore, version: &mut u64, revisions: Vec<TimelineEntry>) {
    let commit = Commit {
        revisions,
        at: TimestampMs::now(),
        ..Commit::default()
    };
    store
        .commit(&PartitionKey::Unassigned, *version, commit)
        .await
        .unwrap();
    *version += 1;
}

async fn run(delay_ms: u64, with_p1: bool) -> (Duration, Option<Duration>) {
    let state = web::Data::new(SinkState {
        received: AtomicUsize::new(0),
        delay_ms: AtomicU64::new(delay_ms),
        first_p1: Mutex::new(None),
    });
    let sink_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sink_state.clone())
            .default_service(web::to(receive))
    })
    .workers(2)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("bench.redb")).unwrap());
    let mut version = 0;
    enqueue(
        &store,
        &mut version,
        (0..BACKLOG).map(|i| revision(i, Priority::P3)).collect(),
    )
    .await;
    let route = Route {
        min_priority: Priority::P3,
        ..Route::default_route(
            Url::parse(&format!("http://127.0.0.1:{port}/alerts")).unwrap(),
            None,
        )
    };
    let committed = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    let started = Instant::now();
    dispatch::spawn(
        &TaskTracker::new(),
        store.clone(),
        vec![route],
        committed.clone(),
        Arc::new(Health::default()),
        dispatch::Timing::default(),
        stop.clone(),
    )
    .unwrap();

    let mut p1_latency = None;
    let expected = BACKLOG;
    if with_p1 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent = Instant::now();
        enqueue(&store, &mut version, vec![revision(BACKLOG, Priority::P1)]).await;
        committed.notify_one();
        while state.first_p1.lock().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        p1_latency = state.first_p1.lock().unwrap().map(|at| at - sent);
    } else {
        while state.received.load(Ordering::Relaxed) < expected {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let drained = started.elapsed();
    stop.cancel();
    handle.stop(false).await;
    (drained, p1_latency)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (drained, _) = run(0, false).await;
        println!(
            "dispatch: {BACKLOG} revisions drained to a local sink in {:.2} s = {:.0} revisions/s",
            drained.as_secs_f64(),
            BACKLOG as f64 / drained.as_secs_f64()
        );
        let (_, p1) = run(20, true).await;
        if let Some(p1) = p1 {
            println!(
                "dispatch: a P1 behind {BACKLOG} queued P3 (sink answering in 20 ms) reached the sink in {:.1} ms",
                p1.as_secs_f64() * 1000.0
            );
        }
    });
}
