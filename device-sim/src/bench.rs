//! `vangnet-sim bench`: the standard throughput benchmark in one run.
//!
//! (a) the bare broker's pass-through ceiling: the fleet's fixes at QoS 1 to
//! a subscriber that only counts; (b) Vangnet's sustained end-to-end fixes
//! per second with its own `vangnet serve` child on the Redis store; (c)
//! panic→ack and panic-to-dispatch latency (at a dispatch sink in this
//! process) idle and under the load of (b); (d) the child's
//! resident memory at the end. Both throughputs are found by stepping the
//! offered rate up until a step loses messages or falls behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use vangnet_proto::{Channel, Topics};

use crate::broker::{self, CountingSubscriber, PublisherPool};
use crate::cleanup;
use crate::dispatch_latency::PanicClock;
use crate::fleet::Fleet;
use crate::latency::{PanicLatency, PanicProber};
use crate::procstat::{self, CpuMeter, MACHINE};
use crate::report::{self, Report};
use crate::service::{Endpoints, ServiceConfig, Vangnet};
use crate::sink::InProcessSink;

/// A step whose backlog at its end exceeds this many seconds of its rate is too fast.
const MAX_LAG_S: f64 = 2.0;
/// Each step offers this many times the previous step's rate.
const STEP_FACTOR: f64 = 1.5;
/// A step achieving less than this share of its target rate shows the publishers are the limit.
const MIN_ACHIEVED_SHARE: f64 = 0.8;
/// Steps tried between the fastest clean and the slowest failed rate.
const REFINEMENTS: u32 = 4;
/// No refining once the failed rate is within this factor of the clean one.
const REFINED_ENOUGH: f64 = 1.025;
/// Seed of the fleet's homes and routes, so runs are comparable.
const FLEET_SEED: u64 = 17;
/// Time between the probe's panics.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// How long the bench's admin token is valid, beyond an hour of margin.
const BENCH_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Options of `vangnet-sim bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Protection orders (one victim and one perpetrator device each) [default: 10000, 1000 with --quick]
    #[arg(long)]
    orders: Option<usize>,
    /// Seconds each offered rate is held [default: 10, 2 with --quick]
    #[arg(long)]
    step_seconds: Option<f64>,
    /// First offered rate, fixes per second
    #[arg(long, default_value_t = 1000.0)]
    start_rate: f64,
    /// Highest offered rate, fixes per second [default: 200000, 5000 with --quick]
    #[arg(long)]
    max_rate: Option<f64>,
    /// Most fixes per second one device sends to Vangnet (it rate-limits a device above 20/s)
    #[arg(long, default_value_t = 1.0)]
    device_max_hz: f64,
    #[command(flatten)]
    endpoints: Endpoints,
    /// A small fleet and short steps: a smoke run for CI, under a minute
    #[arg(long)]
    quick: bool,
}

/// The run's settings, with the defaults of `--quick` or of a full run applied.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Orders in the fleet.
    pub orders: usize,
    /// How long each rate is offered.
    pub step: Duration,
    start_rate: f64,
    max_rate: f64,
    device_max_hz: f64,
    publishers: usize,
    /// Without progress for this long, a drain is over.
    settle: Duration,
    /// How long panic→ack is measured before any load.
    idle_probe: Duration,
}

impl Plan {
    fn new(args: &BenchArgs) -> Self {
        let quick = args.quick;
        Self {
            orders: args
                .orders
                .unwrap_or(if quick { 1_000 } else { 10_000 })
                .max(1),
            step: Duration::from_secs_f64(
                args.step_seconds
                    .unwrap_or(if quick { 2.0 } else { 10.0 })
                    .max(0.5),
            ),
            start_rate: args.start_rate.max(1.0),
            max_rate: args
                .max_rate
                .unwrap_or(if quick { 5_000.0 } else { 200_000.0 }),
            device_max_hz: args.device_max_hz,
            publishers: args.endpoints.publishers,
            settle: Duration::from_secs_f64(if quick { 1.5 } else { 3.0 }),
            idle_probe: Duration::from_secs(if quick { 1 } else { 5 }),
        }
    }

    /// The highest rate the fleet offers Vangnet without a device exceeding `device_max_hz`.
    fn fleet_ceiling(&self) -> f64 {
        (2 * self.orders) as f64 * self.device_max_hz
    }
}

/// Why a climb stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A step lost messages.
    Loss,
    /// A step ended more than 2 s behind.
    Lag,
    /// The service rejected or rate-limited fixes.
    Refused,
    /// The publishers could not offer the target rate.
    Publishers,
    /// The highest rate asked for (`--max-rate`) was reached without trouble.
    MaxRate,
    /// Every device was sending at `--device-max-hz` without trouble.
    FleetSize,
}

impl Limit {
    /// A short name for reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Loss => "loss",
            Self::Lag => "lag",
            Self::Refused => "refused",
            Self::Publishers => "publishers",
            Self::MaxRate => "max_rate",
            Self::FleetSize => "fleet_size",
        }
    }

    /// True when a setting, not the system measured, ended the climb.
    pub fn is_a_setting(self) -> bool {
        matches!(self, Self::MaxRate | Self::FleetSize)
    }
}

/// What one step of offered rate measured.
#[derive(Debug, Clone)]
pub struct Step {
    /// The rate asked for, fixes/s.
    pub target: f64,
    /// Fixes published and acknowledged by the broker.
    pub offered: u64,
    /// How long the publishing took.
    pub seconds: f64,
    /// Backlog at the end of the step, in seconds of the target rate.
    pub lag_s: f64,
    /// Offered fixes never processed.
    pub lost: u64,
    /// Fixes rejected or rate-limited by the service.
    pub refused: u64,
    /// CPU share of the watched processes, % of one core.
    pub cpu: Vec<(&'static str, Option<f64>)>,
    /// Panic latencies during the step, when measured.
    pub latency: Option<PanicLatency>,
    /// Of those, the time inside Vangnet (ms, median and 99th percentile).
    pub in_vangnet_ms: Option<(f64, f64)>,
}

impl Step {
    /// The rate actually offered, fixes/s.
    pub fn rate(&self) -> f64 {
        self.offered as f64 / self.seconds.max(1e-3)
    }

    /// CPU microseconds each watched process spent per fix offered in this
    /// step: steadier than the highest rate, so changes can be compared by it.
    pub fn cpu_us_per_fix(&self) -> Vec<(&'static str, f64)> {
        let rate = self.rate();
        self.cpu
            .iter()
            .filter(|(label, _)| *label != MACHINE)
            .filter_map(|(label, share)| Some((*label, (*share)? * 10_000.0 / rate)))
            .filter(|(_, us)| us.is_finite())
            .collect()
    }

    /// No loss, no refusals, and kept up.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.refused == 0 && self.lag_s <= MAX_LAG_S
    }
}

/// The steps of one phase and why it stopped.
#[derive(Debug, Clone)]
pub struct Climb {
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Why the climb stopped.
    pub limit: Limit,
}

impl Climb {
    /// The fastest clean step: the sustained rate.
    pub fn best(&self) -> Option<&Step> {
        self.steps
            .iter()
            .filter(|step| step.clean())
            .max_by(|a, b| a.rate().total_cmp(&b.rate()))
    }
}

/// Where processed messages are counted.
enum Sink<'a> {
    /// The bare broker's no-op subscriber.
    Subscriber(&'a CountingSubscriber),
    /// Vangnet's `/metrics`.
    Service(&'a Vangnet),
}

impl Sink<'_> {
    /// How long alarms lately spent inside Vangnet (ms, median and 99th
    /// percentile); nothing for the bare broker.
    async fn alarm_processing(&self) -> anyhow::Result<Option<(f64, f64)>> {
        match self {
            Self::Subscriber(_) => Ok(None),
            Self::Service(service) => Ok(service.counters().await?.alarm_processing_ms),
        }
    }

    /// Messages processed and messages refused so far.
    async fn counts(&self) -> anyhow::Result<(u64, u64)> {
        match self {
            Self::Subscriber(subscriber) => Ok((subscriber.received(), 0)),
            Self::Service(service) => {
                let counters = service.counters().await?;
                Ok((counters.loc, counters.refused))
            }
        }
    }
}

/// Runs the benchmark and prints its table and JSON line.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let plan = Plan::new(&args);
    let run_id = run_id();
    let fleet = Fleet::new("bench", plan.orders, FLEET_SEED);
    report::header(&plan);
    let broker_climb = broker_ceiling(&args, &plan, &fleet, &run_id).await?;

    let clock = Arc::new(PanicClock::default());
    let observed = clock.clone();
    let sink = InProcessSink::start(
        ([127, 0, 0, 1], 0).into(),
        Box::new(move |body| observed.observe(body)),
    )?;
    let config = ServiceConfig {
        mqtt_url: args.endpoints.mqtt_url.clone(),
        store_url: args.endpoints.redis_url.clone(),
        mqtt_prefix: format!("bench/{run_id}"),
        store_prefix: format!("vangnet-bench-{run_id}"),
        dispatch_url: sink.url().to_owned(),
        env: Vec::new(),
        log: None,
    };
    let measured = vangnet_throughput(&plan, &fleet, &config, &run_id, clock).await;
    sink.stop().await;
    let cleaned = cleanup::clean_up(&config).await;
    let measured = measured?;
    cleaned?;
    Report {
        plan,
        broker: broker_climb,
        vangnet: measured.climb,
        idle_latency: measured.idle_latency,
        rss_start_kib: measured.rss_start_kib,
        rss_kib: measured.rss_kib,
    }
    .print();
    Ok(())
}

/// (a): the fleet's fixes through the broker to a subscriber that does nothing.
async fn broker_ceiling(
    args: &BenchArgs,
    plan: &Plan,
    fleet: &Fleet,
    run_id: &str,
) -> anyhow::Result<Climb> {
    let topics = Topics::new(&format!("bench-bare/{run_id}")).context("topic prefix")?;
    let subscriber = CountingSubscriber::connect(
        &args.endpoints.mqtt_url,
        &format!("vangnet-sim-{run_id}-sink"),
        &topics.uplink_filter(Channel::Loc),
    )
    .await?;
    let mut pool = PublisherPool::connect(
        &args.endpoints.mqtt_url,
        &format!("vangnet-sim-{run_id}-bare"),
        plan.publishers,
        fleet.devices(&topics)?,
    )
    .await?;
    let watched = [
        watch("mosquitto", &args.endpoints.mqtt_url),
        Some(("bench", std::process::id())),
    ];
    let mut meter = CpuMeter::new(watched.into_iter().flatten().collect());
    let climb = climb(
        "broker",
        &mut pool,
        &Sink::Subscriber(&subscriber),
        plan,
        (plan.max_rate, Limit::MaxRate),
        &mut meter,
        None,
    )
    .await;
    pool.disconnect().await?;
    subscriber.disconnect().await?;
    climb
}

/// What the Vangnet phase measured.
struct VangnetMeasurement {
    climb: Climb,
    idle_latency: PanicLatency,
    rss_start_kib: Option<u64>,
    rss_kib: Option<u64>,
}

/// (b), (c) and (d): seeds the orders, starts `vangnet serve`, climbs, reads its memory, stops it.
async fn vangnet_throughput(
    plan: &Plan,
    fleet: &Fleet,
    config: &ServiceConfig,
    run_id: &str,
    clock: Arc<PanicClock>,
) -> anyhow::Result<VangnetMeasurement> {
    let service = Vangnet::start_with_orders(config, &fleet.orders, BENCH_TOKEN_LIFETIME).await?;
    let rss_start_kib = procstat::rss_kib(service.pid());
    let topics = Topics::new(&config.mqtt_prefix).context("topic prefix")?;
    let prober = PanicProber::start(
        &config.mqtt_url,
        &format!("vangnet-sim-{run_id}-probe"),
        &topics,
        &fleet
            .orders
            .iter()
            .map(|order| (order.victim.as_str(), order.id.as_str()))
            .collect::<Vec<_>>(),
        PROBE_INTERVAL,
        clock,
    )
    .await?;
    tokio::time::sleep(plan.idle_probe).await;
    let idle_latency = prober.take();
    let mut pool = PublisherPool::connect(
        &config.mqtt_url,
        &format!("vangnet-sim-{run_id}-pub"),
        plan.publishers,
        fleet.devices(&topics)?,
    )
    .await?;
    let watched = [
        Some(("vangnet", service.pid())),
        watch("mosquitto", &config.mqtt_url),
        watch("redis-server", &config.store_url),
        Some(("bench", std::process::id())),
    ];
    let mut meter = CpuMeter::new(watched.into_iter().flatten().collect());
    let ceiling = if plan.fleet_ceiling() < plan.max_rate {
        (plan.fleet_ceiling(), Limit::FleetSize)
    } else {
        (plan.max_rate, Limit::MaxRate)
    };
    let climb = climb(
        "vangnet",
        &mut pool,
        &Sink::Service(&service),
        plan,
        ceiling,
        &mut meter,
        Some(&prober),
    )
    .await;
    let rss_kib = procstat::rss_kib(service.pid());
    pool.disconnect().await?;
    drop(prober);
    service.stop().await?;
    Ok(VangnetMeasurement {
        climb: climb?,
        idle_latency,
        rss_start_kib,
        rss_kib,
    })
}

/// Steps the offered rate up from `plan.start_rate` by 1.5 until a step
/// loses, lags or is refused, or `ceiling` is reached; then narrows the gap
/// between the fastest clean step and the slowest failed one.
async fn climb(
    phase: &str,
    pool: &mut PublisherPool,
    sink: &Sink<'_>,
    plan: &Plan,
    (ceiling, ceiling_limit): (f64, Limit),
    meter: &mut CpuMeter,
    prober: Option<&PanicProber>,
) -> anyhow::Result<Climb> {
    let mut steps = Vec::new();
    let mut target = plan.start_rate.min(ceiling);
    let mut fastest_clean: Option<f64> = None;
    let mut slowest_failed: Option<(f64, Limit)> = None;
    let mut refinements = 0;
    loop {
        let step = measure_step(pool, sink, plan, target, meter, prober).await?;
        report::step(phase, &step);
        match trouble(&step) {
            None => fastest_clean = Some(fastest_clean.map_or(target, |rate| rate.max(target))),
            Some(limit) => {
                if slowest_failed.is_none_or(|(rate, _)| target < rate) {
                    slowest_failed = Some((target, limit));
                }
            }
        }
        steps.push(step);
        target = match (slowest_failed, fastest_clean) {
            (None, _) if target >= ceiling => {
                return Ok(Climb {
                    steps,
                    limit: ceiling_limit,
                });
            }
            (None, _) => (target * STEP_FACTOR).min(ceiling),
            (Some((failed, _)), Some(clean))
                if refinements < REFINEMENTS && failed / clean > REFINED_ENOUGH =>
            {
                refinements += 1;
                (failed * clean).sqrt()
            }
            (Some((_, limit)), _) => return Ok(Climb { steps, limit }),
        };
    }
}

/// What went wrong in a step, if anything.
fn trouble(step: &Step) -> Option<Limit> {
    if step.lost > 0 {
        Some(Limit::Loss)
    } else if step.refused > 0 {
        Some(Limit::Refused)
    } else if step.lag_s > MAX_LAG_S {
        Some(Limit::Lag)
    } else if step.rate() < MIN_ACHIEVED_SHARE * step.target {
        Some(Limit::Publishers)
    } else {
        None
    }
}

/// Offers `target` fixes/s for one step, then drains and counts.
async fn measure_step(
    pool: &mut PublisherPool,
    sink: &Sink<'_>,
    plan: &Plan,
    target: f64,
    meter: &mut CpuMeter,
    prober: Option<&PanicProber>,
) -> anyhow::Result<Step> {
    let (processed_before, refused_before) = sink.counts().await?;
    let acked_before = pool.acked();
    meter.restart();
    if let Some(prober) = prober {
        prober.take();
    }
    let started = Instant::now();
    let offered = pool.offer(target, plan.step).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (processed_at_end, _) = sink.counts().await?;
    let cpu = meter.percentages();
    let latency = prober.map(PanicProber::take);
    let in_vangnet_ms = match prober {
        Some(_) => sink.alarm_processing().await?,
        None => None,
    };
    let backlog = offered.saturating_sub(processed_at_end - processed_before);
    broker::wait_for_count(
        "broker PUBACKs",
        acked_before + offered,
        Duration::from_secs(60),
        || pool.acked(),
    )
    .await?;
    let processed = drain(sink, processed_before, offered, plan.settle).await?;
    let (_, refused_after) = sink.counts().await?;
    Ok(Step {
        target,
        offered,
        seconds,
        lag_s: backlog as f64 / target,
        lost: offered.saturating_sub(processed),
        refused: refused_after - refused_before,
        cpu,
        latency,
        in_vangnet_ms,
    })
}

/// Waits until `expected` messages past `from` are processed, or nothing moved for `settle`; returns how many were.
async fn drain(sink: &Sink<'_>, from: u64, expected: u64, settle: Duration) -> anyhow::Result<u64> {
    let mut processed = sink.counts().await?.0 - from;
    let mut last_progress = Instant::now();
    while processed < expected && last_progress.elapsed() < settle {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = sink.counts().await?.0 - from;
        if now > processed {
            processed = now;
            last_progress = Instant::now();
        }
    }
    Ok(processed)
}

/// The server at `url`, labelled `label`, to watch the CPU of, if it runs on this machine.
fn watch(label: &'static str, url: &str) -> Option<(&'static str, u32)> {
    let url = url::Url::parse(url).ok()?;
    let default_port = if url.scheme() == "redis" { 6379 } else { 1883 };
    procstat::listener_pid(url.port().unwrap_or(default_port)).map(|pid| (label, pid))
}

/// A name no other run uses.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_fix_divides_each_process_share_by_the_rate_and_leaves_out_the_machine() {
        let step = Step {
            target: 10_000.0,
            offered: 100_000,
            seconds: 10.0,
            lag_s: 0.0,
            lost: 0,
            refused: 0,
            cpu: vec![
                ("vangnet", Some(50.0)),
                ("redis-server", None),
                (MACHINE, Some(80.0)),
            ],
            latency: None,
            in_vangnet_ms: None,
        };
        assert_eq!(step.cpu_us_per_fix(), [("vangnet", 50.0)]);
    }
}
