//! `vangnet-sim soak`: whether Vangnet's memory stays flat over a long run.
//!
//! Like the bench it starts its own `vangnet serve` on Redis under a key and
//! topic prefix of its own, with N orders created through the API. It then
//! offers fixes at one fixed rate for the whole run (the target is half the
//! sustained rate `bench` measures), while visitors drive through their
//! victim's home and out again, so zone and proximity alerts are raised and
//! clear, panics are pressed at random victims, and a simulated dispatcher
//! resolves them through the API. Vangnet's resident memory is sampled
//! throughout; memory is flat when every sample of the last third of the
//! run lies within ±5 % of their mean.

mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{mpsc, oneshot};
use vangnet_proto::Topics;
use vangnet_proto::token::{DEVELOPMENT_JWT_SECRET, Role};

use self::report::{Sample, SoakReport};
use crate::bench::run_id;
use crate::broker::{self, PublisherPool};
use crate::cleanup;
use crate::dispatcher::{self, Dispatcher, Tally};
use crate::fleet::Fleet;
use crate::load::{self, duration};
use crate::order_api;
use crate::panics::Panics;
use crate::procstat;
use crate::service::{Endpoints, ServiceConfig, Vangnet};
use crate::sink::InProcessSink;

/// Seed of the fleet's homes, routes, visits and panic victims, so runs are comparable.
const SEED: u64 = 23;
/// The most fixes per second Vangnet takes from one device before rate-limiting it.
const DEVICE_MAX_HZ: f64 = 20.0;
/// The last third of the run must hold at least this many samples.
const MIN_LAST_THIRD_SAMPLES: usize = 3;

/// Options of `vangnet-sim soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Protection orders (one victim and one perpetrator device each) [default: 10000, 200 with --quick]
    #[arg(long)]
    orders: Option<usize>,
    /// Fixes per second offered for the whole run; the target is half the sustained rate `bench` measures on the same machine [default: 15000, 400 with --quick]
    #[arg(long)]
    rate: Option<f64>,
    /// How long the fixes are offered: `30m`, `90s`, `180` [default: 30m, 15s with --quick]
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Time between two samples of Vangnet's memory [default: 30s, 1s with --quick]
    #[arg(long, value_parser = duration)]
    sample_every: Option<Duration>,
    /// Orders whose perpetrator drives through the victim's home and out again, about every 7 minutes [default: 1% of the orders, all with --quick]
    #[arg(long)]
    visitors: Option<usize>,
    /// Press panic at a random victim this often [default: 5s, 1s with --quick]
    #[arg(long, value_parser = duration)]
    panic_every: Option<Duration>,
    #[command(flatten)]
    endpoints: Endpoints,
    /// A small fleet for a short run: a smoke run for CI
    #[arg(long)]
    quick: bool,
}

/// The run's settings, with the defaults of `--quick` or of a full run applied.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Orders in the fleet.
    pub orders: usize,
    /// Orders whose perpetrator visits.
    pub visitors: usize,
    /// Fixes per second offered.
    pub rate: f64,
    /// How long they are offered.
    pub duration: Duration,
    /// Time between memory samples.
    pub sample_every: Duration,
    /// Time between panics.
    pub panic_every: Duration,
    publishers: usize,
}

impl Plan {
    fn new(args: &SoakArgs) -> anyhow::Result<Self> {
        let quick = args.quick;
        let orders = args
            .orders
            .unwrap_or(if quick { 200 } else { 10_000 })
            .max(1);
        let plan = Self {
            orders,
            visitors: args
                .visitors
                .unwrap_or(if quick { orders } else { orders / 100 })
                .min(orders),
            rate: args.rate.unwrap_or(if quick { 400.0 } else { 15_000.0 }),
            duration: args
                .duration
                .unwrap_or(Duration::from_secs(if quick { 15 } else { 1800 })),
            sample_every: args.sample_every.unwrap_or(Duration::from_secs(if quick {
                1
            } else {
                30
            })),
            panic_every: args
                .panic_every
                .unwrap_or(Duration::from_secs(if quick { 1 } else { 5 })),
            publishers: args.endpoints.publishers,
        };
        if !(plan.rate > 0.0 && plan.rate <= (2 * orders) as f64 * DEVICE_MAX_HZ) {
            bail!(
                "--rate must be above 0 and at most {DEVICE_MAX_HZ} fixes/s per device ({} for {orders} orders)",
                (2 * orders) as f64 * DEVICE_MAX_HZ
            );
        }
        let last_third = plan.duration.as_secs_f64() / 3.0;
        if last_third / plan.sample_every.as_secs_f64() < MIN_LAST_THIRD_SAMPLES as f64 {
            bail!(
                "--sample-every must leave at least {MIN_LAST_THIRD_SAMPLES} samples in the last third of --duration"
            );
        }
        Ok(plan)
    }
}

/// Runs the soak and prints its table and JSON line; true when no fix was
/// lost and memory stayed flat.
pub async fn run(args: SoakArgs) -> anyhow::Result<bool> {
    let plan = Plan::new(&args)?;
    let run_id = run_id();
    let fleet = Fleet::new("soak", plan.orders, SEED).with_visitors(plan.visitors);
    report::header(&plan);
    let (revisions, dispatched) = mpsc::unbounded_channel();
    let sink = InProcessSink::start(([127, 0, 0, 1], 0).into(), dispatcher::observer(revisions))?;
    let config = ServiceConfig {
        mqtt_url: args.endpoints.mqtt_url.clone(),
        store_url: args.endpoints.redis_url.clone(),
        mqtt_prefix: format!("soak/{run_id}"),
        store_prefix: format!("vangnet-soak-{run_id}"),
        dispatch_url: sink.url().to_owned(),
        env: Vec::new(),
        log: None,
    };
    let measured = soak(&plan, &fleet, &config, &run_id, dispatched).await;
    sink.stop().await;
    let cleaned = cleanup::clean_up(&config).await;
    let report = measured?;
    cleaned?;
    Ok(report.print())
}

/// Starts Vangnet with the fleet's orders, drives the traffic while sampling, then winds down.
async fn soak(
    plan: &Plan,
    fleet: &Fleet,
    config: &ServiceConfig,
    run_id: &str,
    dispatched: mpsc::UnboundedReceiver<dispatcher::Revision>,
) -> anyhow::Result<SoakReport> {
    let service = Vangnet::start_with_orders(config, &fleet.orders, plan.duration).await?;
    let http = reqwest::Client::new();
    let tally = Arc::new(Tally::default());
    let token = order_api::token(
        DEVELOPMENT_JWT_SECRET,
        Role::Dispatcher,
        "vangnet-sim-dispatcher",
        plan.duration.as_secs(),
    )?;
    let (finish, finished) = oneshot::channel();
    let dispatcher = tokio::spawn(
        Dispatcher::new(http.clone(), service.base_url(), token, tally.clone())
            .run(dispatched, finished),
    );
    let topics = Topics::new(&config.mqtt_prefix).context("topic prefix")?;
    let mut pool = PublisherPool::connect(
        &config.mqtt_url,
        &format!("vangnet-sim-{run_id}-pub"),
        plan.publishers,
        fleet.devices(&topics)?,
    )
    .await?;
    let pressed = Arc::new(AtomicU64::new(0));
    let presses = pressed.clone();
    let mut panics = Panics::connect(
        &config.mqtt_url,
        &format!("vangnet-sim-{run_id}-panic"),
        Some(plan.panic_every),
        (fleet, &topics),
        SEED,
        Box::new(move |_, _| {
            presses.fetch_add(1, Ordering::Relaxed);
        }),
    )
    .await?;
    let before = service.counters().await?;
    let acked_before = pool.acked();
    let started = Instant::now();
    let (offered, (), samples) = tokio::try_join!(
        pool.offer(plan.rate, plan.duration),
        async {
            panics.press_until(started + plan.duration).await;
            anyhow::Ok(())
        },
        sample_until(plan, &service, &tally, started),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    broker::wait_for_count(
        "broker PUBACKs",
        acked_before + offered,
        Duration::from_secs(60),
        || pool.acked(),
    )
    .await?;
    let processed = load::drain(&http, service.base_url(), before.loc, offered).await?;
    let after = service.counters().await?;
    pool.disconnect().await?;
    panics.disconnect().await?;
    let _ = finish.send(());
    dispatcher.await.context("dispatcher task")?;
    service.stop().await?;
    Ok(SoakReport {
        plan: plan.clone(),
        seconds,
        offered,
        processed,
        refused: after.refused.saturating_sub(before.refused),
        panics: pressed.load(Ordering::Relaxed),
        alerts: tally.get(),
        samples,
    })
}

/// Samples Vangnet every `plan.sample_every` from `started`, and once more at the end of the run.
async fn sample_until(
    plan: &Plan,
    service: &Vangnet,
    tally: &Tally,
    started: Instant,
) -> anyhow::Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for n in 0u32.. {
        let offset = (plan.sample_every * n).min(plan.duration);
        tokio::time::sleep_until((started + offset).into()).await;
        let (raised, _, resolved, _) = tally.get();
        samples.push(Sample {
            at_s: started.elapsed().as_secs_f64(),
            rss_kib: procstat::rss_kib(service.pid()).context("reading vangnet's memory")?,
            processed: service.counters().await?.loc,
            raised,
            resolved,
        });
        if offset >= plan.duration {
            break;
        }
    }
    Ok(samples)
}
