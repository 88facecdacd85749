//! `vangnet serve`: wires the adapters around the engine and runs until the
//! shutdown future it is given completes, then stops taking messages,
//! finishes what it took, and leaves the rest to the broker's persistent session.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backon::{BackoffBuilder, Retryable};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;
use vangnet_engine::EngineConfig;
use vangnet_proto::{Channel, RejectReason, Topics};

use crate::api::Authenticator;
use crate::api::orders::OrderLimits;
use crate::config::{Config, DetectionSettings, StoreSetting};
use crate::downlink::{DeviceLink, DeviceMessages};
use crate::health::Health;
use crate::http::{self, ApiContext};
use crate::ingest::{self, Ingest};
use crate::mqtt::connection::{self, Deliveries, LaneSpec, Shutdown};
use crate::mqtt::progress::{LaneProgress, StallWatch};
use crate::orders::OrderIndex;
use crate::partitions::Partitions;
use crate::probes::AppState;
use crate::store::{EmbeddedStore, RedisStore, Store};
use crate::watchdog;

/// Workers per lane; a device's messages always go to the same one. Each
/// handles what has queued for it as one batch, its devices concurrently.
const ALARM_WORKERS: usize = 4;
const LOC_WORKERS: usize = 16;
/// How long shutdown waits for in-flight messages.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the service against `broker` until `stop_requested` completes, serving
/// `/metrics` from the process's recorder, `metrics`.
pub async fn run(
    config: Config,
    broker: Url,
    demo: bool,
    metrics: PrometheusHandle,
    stop_requested: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    describe_metrics();
    match &config.store {
        StoreSetting::Redis(url) => {
            let store = RedisStore::connect_with_ca(
                url,
                &config.store_prefix,
                config.store_ca_pem.as_deref(),
            )
            .context("opening the Redis store")?;
            tokio::spawn(report_redis_durability(store.clone()));
            run_with(
                config,
                broker,
                Arc::new(store),
                metrics,
                demo,
                stop_requested,
            )
            .await
        }
        StoreSetting::File(path) => {
            let store = EmbeddedStore::open(path)
                .with_context(|| format!("opening the embedded store {}", path.display()))?;
            run_with(
                config,
                broker,
                Arc::new(store),
                metrics,
                demo,
                stop_requested,
            )
            .await
        }
    }
}

async fn run_with<S: Store>(
    config: Config,
    broker: Url,
    store: Arc<S>,
    metrics: PrometheusHandle,
    demo: bool,
    stop_requested: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let health = Arc::new(Health::default());
    health.set_broker(false);
    health.set_store(false);
    let background = CancellationToken::new();
    let shutdown = Shutdown::default();
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();

    let verifier = config.verifier()?;
    if config.jwt_secret.is_some() && config.jwt_public_key.is_none() {
        tracing::warn!(
            "API tokens are checked with the HS256 secret: for development and tests only"
        );
    }
    let orders = Arc::new(OrderIndex::default());
    let partitions = Arc::new(Partitions::new(
        store.clone(),
        engine_config(&config.detection),
    ));
    let api_devices = DeviceLink::default();
    let server = http::start(
        config.http_addr,
        AppState {
            health: health.clone(),
            metrics,
        },
        ApiContext {
            store: store.clone(),
            authenticator: Authenticator::new(verifier, config.api_changes_per_minute),
            partitions: partitions.clone(),
            orders: orders.clone(),
            devices: api_devices.clone(),
            order_limits: OrderLimits {
                max_per_device: config.max_orders_per_device,
            },
        },
    )
    .with_context(|| format!("binding the HTTP address {}", config.http_addr))?;
    let http_handle = server.handle();
    let http_task = tokio::spawn(server);
    tracing::info!(addr = %config.http_addr, "vangnet is serving HTTP");

    load_orders(store.as_ref(), &orders).await;
    tasks.push(spawn_store_monitor(
        store.clone(),
        orders.clone(),
        health.clone(),
        background.clone(),
    ));
    tasks.push(crate::retention::spawn(
        store.clone(),
        config.history_retention,
        background.clone(),
    ));
    tasks.push(crate::audit::recorder::spawn(
        store.clone(),
        background.clone(),
    ));
    if config.routes.is_empty() {
        tracing::warn!("no dispatch route configured: alerts are kept and shown, not sent");
    }
    tasks.push(crate::dispatch::spawn(
        store.clone(),
        config.routes.clone(),
        partitions.committed(),
        health.clone(),
        config.dispatch_timing,
        background.clone(),
    )?);

    let (alarm_tx, alarm_rx) = Deliveries::new(ALARM_WORKERS);
    let (loc_tx, loc_rx) = Deliveries::new(LOC_WORKERS);
    let progress = [alarm_tx.progress(), loc_tx.progress()];
    let topics = &config.topics;
    let mut loc_filters = vec![subscription(&config, topics.uplink_filter(Channel::Loc))];
    if config.owntracks {
        loc_filters.push(subscription(&config, Topics::OWNTRACKS_FILTER.to_owned()));
    }
    let alarm_lane = connection::spawn(
        LaneSpec {
            name: "alarm",
            broker: broker.clone(),
            auth: config.broker_auth.clone(),
            client_id: client_id(&config, "alarm"),
            filters: vec![
                subscription(&config, topics.uplink_filter(Channel::Alarm)),
                subscription(&config, topics.uplink_filter(Channel::Status)),
            ],
            nodelay: true,
        },
        alarm_tx,
        shutdown.clone(),
    )
    .context("the MQTT broker URL")?;
    let loc_lane = connection::spawn(
        LaneSpec {
            name: "loc",
            broker: broker.clone(),
            auth: config.broker_auth.clone(),
            client_id: client_id(&config, "loc"),
            filters: loc_filters,
            nodelay: false,
        },
        loc_tx,
        shutdown.clone(),
    )
    .context("the MQTT broker URL")?;
    tasks.push(spawn_lane_monitor(
        [alarm_lane.clone(), loc_lane.clone()],
        progress,
        config.lane_stall,
        health.clone(),
        background.clone(),
    ));

    let downlink = DeviceMessages::new(config.topics.clone(), alarm_lane.clone());
    api_devices.set(downlink.clone());
    let ingest = Arc::new(Ingest::new(
        partitions.clone(),
        orders.clone(),
        config.topics.clone(),
        config.owntracks,
        downlink.clone(),
        shutdown.stop.clone(),
    ));
    let alarm_workers = ingest::spawn_workers(ingest.clone(), alarm_lane.clone(), alarm_rx);
    let loc_workers = ingest::spawn_workers(ingest, loc_lane.clone(), loc_rx);
    tasks.push(watchdog::spawn(
        partitions,
        orders.clone(),
        downlink,
        background.clone(),
    ));
    tracing::info!("vangnet is taking device messages");
    if demo {
        let (alarm_lane, loc_lane) = (alarm_lane.clone(), loc_lane.clone());
        let (topics, broker) = (config.topics.clone(), broker.clone());
        let stop = background.clone();
        tasks.push(tokio::spawn(async move {
            let play = async {
                alarm_lane.until_subscribed().await;
                loc_lane.until_subscribed().await;
                crate::demo::play(store.as_ref(), &orders, &topics, &broker).await
            };
            tokio::select! {
                () = stop.cancelled() => {}
                played = play => if let Err(err) = played {
                    tracing::error!("demo failed: {err:#}");
                }
            }
        }));
    }

    stop_requested.await;
    tracing::info!("shutting down: no new messages, finishing those in hand");
    shutdown.intake.cancel();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let _ = alarm_workers.await;
        let _ = loc_workers.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("in-flight messages did not finish in time; the broker will redeliver them");
    }
    background.cancel();
    let joined = tokio::time::timeout(DRAIN_TIMEOUT, async {
        for task in tasks {
            let _ = task.await;
        }
    })
    .await;
    if joined.is_err() {
        tracing::warn!("background tasks did not stop in time");
    }
    alarm_lane.disconnect().await;
    loc_lane.disconnect().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.stop.cancel();
    http_handle.stop(true).await;
    http_task.await.context("HTTP server task")??;
    tracing::info!("stopped");
    Ok(())
}

/// Says once Redis answers whether it writes each commit to disk before it
/// answers: only then is an alarm whose receipt a device got safe from a
/// crash of Redis (`appendfsync always`, as `deploy/redis` sets it).
async fn report_redis_durability(store: RedisStore) {
    let Ok(fsyncs) = (|| store.fsyncs_every_commit())
        .retry(crate::backoff::store())
        .await
    else {
        return;
    };
    metrics::gauge!("vangnet_store_fsync_every_commit")
        .set(f64::from(u8::from(fsyncs == Some(true))));
    match fsyncs {
        Some(true) => tracing::info!("Redis writes every commit to disk before it answers"),
        Some(false) => tracing::warn!(
            "Redis does not write every commit to disk before it answers (appendonly yes, \
             appendfsync always): an alarm already acknowledged to its device can be lost \
             if Redis crashes"
        ),
        None => tracing::warn!(
            "Redis does not let its configuration be read: make sure it runs with appendonly \
             yes and appendfsync always, or an acknowledged alarm can be lost if it crashes"
        ),
    }
}

/// Waits until the orders are loaded: a message taken before would find its
/// device in no order.
async fn load_orders<S: Store>(store: &S, orders: &OrderIndex) {
    let mut retries = crate::backoff::store().build();
    while let Err(err) = orders.refresh(store).await {
        let wait = retries.next().unwrap_or(crate::backoff::STORE_LONGEST);
        tracing::warn!(%err, retry_in_ms = wait.as_millis() as u64, "store unavailable; waiting for it before taking messages");
        tokio::time::sleep(wait).await;
    }
}

fn engine_config(detection: &DetectionSettings) -> EngineConfig {
    EngineConfig {
        drift_mps: detection.drift_mps,
        stale_after_s: detection.stale_after.as_secs(),
        approach_horizon_s: detection.approach_horizon.as_secs(),
        perp_silence_s: detection.perp_silence.as_secs(),
        victim_silence_s: detection.victim_silence.as_secs(),
        ..EngineConfig::default()
    }
}

/// The MQTT client id of one lane: stable across restarts (persistent
/// session) and distinct per instance and topic prefix.
fn client_id(config: &Config, lane: &str) -> String {
    let prefix: String = config
        .topics
        .prefix()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}-{prefix}-{lane}", config.instance_id)
}

fn subscription(config: &Config, filter: String) -> String {
    match &config.mqtt_shared_group {
        Some(group) => format!("$share/{group}/{filter}"),
        None => filter,
    }
}

fn spawn_store_monitor<S: Store>(
    store: Arc<S>,
    orders: Arc<OrderIndex>,
    health: Arc<Health>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = interval.tick() => {}
            }
            let up = store.ping().await.is_ok() && orders.refresh(store.as_ref()).await.is_ok();
            if up != health.store() {
                tracing::info!(up, "store availability changed");
            }
            health.set_store(up);
        }
    })
}

/// Keeps `/readyz` told whether both lanes are subscribed and taking the
/// messages they are given.
fn spawn_lane_monitor(
    lanes: [connection::Lane; 2],
    progress: [Vec<Arc<LaneProgress>>; 2],
    stall: Duration,
    health: Arc<Health>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(100));
        let started = std::time::Instant::now();
        let mut watches = progress.each_ref().map(|queues| {
            queues
                .iter()
                .map(|_| StallWatch::new(stall, started))
                .collect::<Vec<_>>()
        });
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = interval.tick() => {}
            }
            health.set_broker(lanes.iter().all(connection::Lane::is_subscribed));
            let now = std::time::Instant::now();
            for ((lane, queues), watches) in lanes.iter().zip(&progress).zip(&mut watches) {
                let mut stalled = false;
                for (queue, watch) in queues.iter().zip(watches.iter_mut()) {
                    stalled |= watch.stalled(queue, now);
                }
                health.set_lane_stalled(lane.name(), stalled);
            }
        }
    })
}

fn describe_metrics() {
    metrics::describe_counter!(
        "vangnet_rejected_messages_total",
        "Device messages rejected, by reason"
    );
    metrics::describe_counter!(
        "vangnet_messages_total",
        "Device messages accepted, by kind"
    );
    metrics::describe_histogram!(
        "vangnet_processing_seconds",
        "From decoding a message to having its effects stored and its device messages queued"
    );
    metrics::describe_gauge!(
        "vangnet_broker_connected",
        "1 while both MQTT lanes are subscribed"
    );
    metrics::describe_gauge!("vangnet_store_up", "1 while the store answers");
    metrics::describe_histogram!(
        "vangnet_store_commit_seconds",
        "One atomic commit of a partition's state, alerts, outbox and history"
    );
    metrics::describe_counter!(
        "vangnet_rate_limited_messages_total",
        "Location and status messages dropped because their device sent too many"
    );
    for reason in RejectReason::ALL {
        metrics::counter!("vangnet_rejected_messages_total", "reason" => reason.label())
            .increment(0);
    }
}
