//! `vangnet serve`: an [`Application`] built from the configuration with its
//! HTTP listener bound, which wires the adapters around the engine and runs
//! until the shutdown future it is given completes; then it stops taking
//! messages, finishes what it took, leaves the rest to the broker's
//! persistent session, and waits for every task it started.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backon::{BackoffBuilder, Retryable};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;
use vangnet_engine::EngineConfig;
use vangnet_proto::{Channel, RejectReason, Topics};

use crate::api::Authenticator;
use crate::api::orders::OrderLimits;
use crate::config::{Config, DetectionSettings, StoreSetting};
use crate::device_http::{Credentials, DeviceEndpoint, Intake};
use crate::downlink::{DeviceLink, DeviceMessages};
use crate::health::Health;
use crate::http::{self, ApiContext};
use crate::ingest::{self, Ingest};
use crate::mqtt::connection::{self, Deliveries, LaneSpec, Shutdown};
use crate::mqtt::progress::{LaneProgress, StallWatch};
use crate::orders::OrderIndex;
use crate::partitions::Partitions;
use crate::probes::AppState;
use crate::store::{AuditLog, EmbeddedStore, RedisStore, Store};

/// Workers per lane; a device's messages always go to the same one. Each
/// handles what has queued for it as one batch, its devices concurrently.
const ALARM_WORKERS: usize = 4;
const LOC_WORKERS: usize = 16;
/// How often the rate limits of devices that went quiet are forgotten.
const FORGET_QUIET_DEVICES_EVERY: Duration = Duration::from_secs(60);
/// How often histogram samples are folded into their summaries: until a
/// scrape or this upkeep, the recorder keeps every sample, so with nobody
/// scraping `/metrics` memory would grow with every message.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// How long shutdown waits for in-flight messages.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured Vangnet with its HTTP listener bound: build it, read the
/// address it serves on, then run it until a shutdown future completes.
pub struct Application {
    config: Config,
    broker: Url,
    demo: bool,
    metrics: PrometheusHandle,
    http: TcpListener,
}

impl Application {
    /// Binds `config`'s HTTP address; `metrics` renders `/metrics` from the
    /// process's recorder, and `demo` plays the demo once it runs.
    pub fn build(
        config: Config,
        broker: Url,
        demo: bool,
        metrics: PrometheusHandle,
    ) -> anyhow::Result<Self> {
        let http = TcpListener::bind(config.http_addr)
            .with_context(|| format!("binding the HTTP address {}", config.http_addr))?;
        Ok(Self::with_http_listener(
            config, broker, demo, metrics, http,
        ))
    }

    /// As [`Application::build`], with an HTTP listener the caller bound
    /// (on port 0, say, to let the system choose a free port).
    pub fn with_http_listener(
        config: Config,
        broker: Url,
        demo: bool,
        metrics: PrometheusHandle,
        http: TcpListener,
    ) -> Self {
        Self {
            config,
            broker,
            demo,
            metrics,
            http,
        }
    }

    /// Where HTTP is served.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Runs until `shutdown` completes, then stops taking messages, finishes
    /// what it took, stops every background task and waits for them.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        describe_metrics();
        let tasks = TaskTracker::new();
        let background = CancellationToken::new();
        let audit_key = self.config.audit_key.clone();
        if audit_key.is_none() {
            tracing::warn!(
                "VANGNET_AUDIT_KEY_FILE is not set: the audit chain is not sealed, so anyone who can write to the store can rewrite it unnoticed"
            );
        }
        match &self.config.store {
            StoreSetting::Redis(address) => {
                let store = RedisStore::connect(
                    address,
                    &self.config.store_prefix,
                    self.config.store_ca_pem.as_deref(),
                )
                .context("opening the Redis store")?
                .with_audit_key(audit_key)
                .waiting_for_replicas(self.config.store_wait_replicas);
                tasks.spawn(report_redis_durability(store.clone(), background.clone()));
                run_with(self, Arc::new(store), tasks, background, shutdown).await
            }
            StoreSetting::File(path) => {
                let store = EmbeddedStore::open(path)
                    .with_context(|| format!("opening the embedded store {}", path.display()))?
                    .with_audit_key(audit_key);
                run_with(self, Arc::new(store), tasks, background, shutdown).await
            }
        }
    }
}

/// Runs `app` on `store`; `tasks` are the background tasks, stopped by `background`.
async fn run_with<S: Store>(
    app: Application,
    store: Arc<S>,
    tasks: TaskTracker,
    background: CancellationToken,
    stop_requested: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let Application {
        config,
        broker,
        demo,
        metrics,
        http,
    } = app;
    let upkeep = metrics.clone();
    spawn_every(
        &tasks,
        METRICS_UPKEEP_EVERY,
        background.clone(),
        move || upkeep.run_upkeep(),
    );
    let health = Arc::new(Health::default());
    health.set_broker(false);
    health.set_store(false);
    let shutdown = Shutdown::default();
    let workers = TaskTracker::new();
    let lanes = TaskTracker::new();

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
        config.partition_cache,
    ));
    let api_devices = DeviceLink::default();
    let intake = Intake::default();
    let credentials = config
        .device_password_file
        .clone()
        .map(|path| Arc::new(Credentials::new(path)));
    if credentials.is_none() {
        tracing::info!("no VANGNET_DEVICE_PASSWORD_FILE: the HTTP device endpoint is off");
    }
    let http_addr = http.local_addr().context("the HTTP listener's address")?;
    let server = http::start(
        http,
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
            alert_window: config.alert_window,
            push: config.push.clone(),
            console: config.console.clone(),
            device_endpoint: DeviceEndpoint::new(credentials.clone(), intake.clone()),
        },
    )
    .with_context(|| format!("serving HTTP on {http_addr}"))?;
    let http_handle = server.handle();
    let http_task = tokio::spawn(server);
    tracing::info!(addr = %http_addr, "vangnet is serving HTTP");

    load_orders(store.as_ref(), &orders).await;
    spawn_store_monitor(
        &tasks,
        store.clone(),
        orders.clone(),
        health.clone(),
        background.clone(),
    );
    crate::retention::spawn(
        &tasks,
        store.clone(),
        config.history_retention,
        background.clone(),
    );
    crate::audit::recorder::spawn(&tasks, store.clone(), background.clone());
    if config.routes.is_empty() {
        tracing::warn!("no dispatch route configured: alerts are kept and shown, not sent");
    }
    crate::dispatch::spawn(
        &tasks,
        store.clone(),
        config.routes.clone(),
        partitions.committed(),
        health.clone(),
        config.dispatch_timing,
        background.clone(),
    )?;

    let warnings = match config.push.clone() {
        Some(push) => {
            crate::push::spawn(&tasks, store.clone(), push, credentials, background.clone())?
        }
        None => {
            tracing::info!("no VAPID key configured: Web Push is off");
            None
        }
    };

    let (alarm_tx, alarm_rx) = Deliveries::new(ALARM_WORKERS);
    let (loc_tx, loc_rx) = Deliveries::new(LOC_WORKERS);
    let progress = [alarm_tx.progress(), loc_tx.progress()];
    let topics = &config.topics;
    let mut loc_filters = vec![subscription(&config, topics.uplink_filter(Channel::Loc))];
    if config.owntracks {
        loc_filters.push(subscription(&config, Topics::OWNTRACKS_FILTER.to_owned()));
    }
    let alarm_lane = connection::spawn(
        &lanes,
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
        &lanes,
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
    spawn_lane_monitor(
        &tasks,
        [alarm_lane.clone(), loc_lane.clone()],
        progress,
        config.lane_stall,
        health.clone(),
        background.clone(),
    );

    let downlink = DeviceMessages::new(config.topics.clone(), alarm_lane.clone(), warnings);
    api_devices.set(downlink.clone());
    let ingest = Arc::new(Ingest::new(
        partitions.clone(),
        orders.clone(),
        config.topics.clone(),
        config.owntracks,
        downlink.clone(),
        shutdown.stop.clone(),
    ));
    intake.set(ingest.clone());
    let quiet = ingest.clone();
    spawn_every(
        &tasks,
        FORGET_QUIET_DEVICES_EVERY,
        background.clone(),
        move || quiet.forget_quiet_devices(),
    );
    ingest::spawn_workers(&workers, ingest.clone(), alarm_lane.clone(), alarm_rx);
    ingest::spawn_workers(&workers, ingest, loc_lane.clone(), loc_rx);
    workers.close();
    crate::watchdog::spawn(
        &tasks,
        partitions,
        orders.clone(),
        downlink,
        background.clone(),
    );
    tracing::info!("vangnet is taking device messages");
    if demo {
        let (alarm_lane, loc_lane) = (alarm_lane.clone(), loc_lane.clone());
        let (topics, broker) = (config.topics.clone(), broker.clone());
        let stop = background.clone();
        tasks.spawn(async move {
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
        });
    }
    tasks.close();

    stop_requested.await;
    tracing::info!("shutting down: no new messages, finishing those in hand");
    shutdown.intake.cancel();
    if tokio::time::timeout(DRAIN_TIMEOUT, workers.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight messages did not finish in time; the broker will redeliver them");
    }
    background.cancel();
    if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop in time");
    }
    alarm_lane.disconnect().await;
    loc_lane.disconnect().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.stop.cancel();
    lanes.close();
    lanes.wait().await;
    http_handle.stop(true).await;
    http_task.await.context("HTTP server task")??;
    tracing::info!("stopped");
    Ok(())
}

/// Says once Redis answers whether it writes each commit to disk before it
/// answers: only then is an alarm whose receipt a device got safe from a
/// crash of Redis (`appendfsync always`, as `deploy/redis` sets it).
async fn report_redis_durability(store: RedisStore, stop: CancellationToken) {
    let checked = (|| store.fsyncs_every_commit()).retry(crate::backoff::store());
    let fsyncs = tokio::select! {
        () = stop.cancelled() => return,
        checked = checked => match checked {
            Ok(fsyncs) => fsyncs,
            Err(_) => return,
        },
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
    format!(
        "{}-{}-{lane}",
        config.instance_id,
        config.topics.client_id_part()
    )
}

fn subscription(config: &Config, filter: String) -> String {
    match &config.mqtt_shared_group {
        Some(group) => format!("$share/{group}/{filter}"),
        None => filter,
    }
}

fn spawn_store_monitor<S: Store>(
    tasks: &TaskTracker,
    store: Arc<S>,
    orders: Arc<OrderIndex>,
    health: Arc<Health>,
    stop: CancellationToken,
) {
    tasks.spawn(async move {
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
    });
}

/// Runs `work` every `period` until `stop`: upkeep that keeps memory bounded.
fn spawn_every(
    tasks: &TaskTracker,
    period: Duration,
    stop: CancellationToken,
    mut work: impl FnMut() + Send + 'static,
) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(period);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = interval.tick() => work(),
            }
        }
    });
}

/// Keeps `/readyz` told whether both lanes are subscribed and taking the
/// messages they are given.
fn spawn_lane_monitor(
    tasks: &TaskTracker,
    lanes: [connection::Lane; 2],
    progress: [Vec<Arc<LaneProgress>>; 2],
    stall: Duration,
    health: Arc<Health>,
    stop: CancellationToken,
) {
    tasks.spawn(async move {
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
    });
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
    metrics::describe_counter!(
        "vangnet_push_total",
        "Web Push requests to dispatchers' browsers, by outcome"
    );
    metrics::describe_counter!(
        "vangnet_device_push_total",
        "Warnings pushed to devices' phones, by outcome"
    );
    metrics::describe_gauge!(
        "vangnet_push_subscriptions",
        "Web Push subscriptions whose token has not expired"
    );
    metrics::describe_counter!(
        "vangnet_push_subscriptions_refused_total",
        "Web Push subscriptions refused for a bad body, endpoint or key"
    );
    metrics::describe_counter!(
        "vangnet_device_auth_failures_total",
        "Device requests over HTTP refused for their credentials: missing, wrong or throttled"
    );
    for reason in RejectReason::ALL {
        metrics::counter!("vangnet_rejected_messages_total", "reason" => reason.label())
            .increment(0);
    }
}
