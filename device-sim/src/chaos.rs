//! `vangnet-sim chaos`: whether Vangnet keeps its promises through crashes.
//!
//! It starts its own Mosquitto, Redis (append-only file, fsync at every
//! write), dispatch sink and `vangnet serve` on free ports in a temporary
//! directory, loads a fleet, and while the fleet sends fixes and victims
//! press panic (each repeated until its receipt comes, as a device does) it
//! kills `vangnet` with SIGKILL, kills and restarts the broker and Redis,
//! and takes the dispatch endpoint down, on a schedule drawn from `--seed`.
//! Then it lets everything settle and checks (see [`check`]) that every
//! receipted alarm reached the sink, every committed revision reached its
//! routes, and no episode has two alerts.
//!
//! A long dispatch outage is compressed: `--outage` is divided by
//! `--compress`, and so are Vangnet's longest wait between two dispatch
//! tries (30 s), its P1 backlog limit of `/healthz` (30 s) and its press
//! thinning interval (10 s), each to at least 1 s, so the route goes
//! through as many tries as in the real outage.

mod check;
mod daemons;
mod faults;
mod readback;
mod report;
mod schedule;
mod victims;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use vangnet_proto::Topics;
use vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

use self::check::Verdict;
use self::daemons::Daemon;
use self::faults::{Struck, Target};
use self::readback::Readback;
use self::report::{Figures, Plan};
use self::schedule::{Counts, Schedule};
use self::victims::Victims;
use crate::bench::run_id;
use crate::broker::PublisherPool;
use crate::fleet::Fleet;
use crate::load::duration;
use crate::order_api::admin_token;
use crate::service::{ServiceConfig, Vangnet};
use crate::sink::{InProcessSink, Ledger};

/// Longest wait of Vangnet between two tries of a failing route, uncompressed (s).
const MAX_BACKOFF_S: u64 = 30;
/// Age of an undelivered P1 that makes `/healthz` degraded, uncompressed (s).
const DEGRADED_AFTER_S: u64 = 30;
/// Press thinning interval, uncompressed (s).
const COUNT_EVERY_S: u64 = 10;
/// How long, after the faults, the victims may wait for their last receipts.
const RECEIPTS_TIMEOUT: Duration = Duration::from_secs(120);
/// How long, after the receipts, every revision may take to reach the sink.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the stream may take to send the log from its start.
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of `vangnet-sim chaos`; the defaults are the full run.
#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// `kill -9` of vangnet at random moments [default: 50, 5 with --quick]
    #[arg(long)]
    kills: Option<usize>,
    /// Broker kills and restarts [default: 5, 1 with --quick]
    #[arg(long)]
    broker_restarts: Option<usize>,
    /// Redis kills and restarts (it reloads its append-only file) [default: 5, 1 with --quick]
    #[arg(long)]
    redis_restarts: Option<usize>,
    /// Dispatch outage before compression: `10m`, `0` for none [default: 10m, 5m with --quick]
    #[arg(long, value_parser = outage)]
    outage: Option<Duration>,
    /// Time compression of the outage and of Vangnet's dispatch retry timing
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    compress: u32,
    /// How long the fleet sends and victims press: `10m`, `45s` [default: 10m, 40s with --quick]
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Protection orders (one victim and one perpetrator device each) [default: 200, 50 with --quick]
    #[arg(long)]
    orders: Option<usize>,
    /// Fixes per second offered by the fleet [default: 300, 100 with --quick]
    #[arg(long)]
    rate: Option<f64>,
    /// A panic at a random victim this often [default: 2s, 1s with --quick]
    #[arg(long, value_parser = duration)]
    panic_every: Option<Duration>,
    /// Seed of the fleet, the victims and the fault schedule [default: random, printed]
    #[arg(long)]
    seed: Option<u64>,
    /// Keep the temporary directory (logs, Redis's file) even when the run passes
    #[arg(long)]
    keep: bool,
    /// Small counts for a short run: the form CI runs
    #[arg(long)]
    quick: bool,
}

/// `10m`, `90s` or `0` (no outage).
fn outage(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    duration(text)
}

impl ChaosArgs {
    fn plan(&self) -> Plan {
        let quick = self.quick;
        let pick =
            |given: Option<usize>, full, short| given.unwrap_or(if quick { short } else { full });
        let outage = self
            .outage
            .unwrap_or(Duration::from_secs(if quick { 300 } else { 600 }));
        Plan {
            seed: self.seed.unwrap_or_else(|| fastrand::u64(..)),
            counts: Counts {
                kills: pick(self.kills, 50, 5),
                broker_restarts: pick(self.broker_restarts, 5, 1),
                redis_restarts: pick(self.redis_restarts, 5, 1),
            },
            outage,
            compress: self.compress,
            duration: self
                .duration
                .unwrap_or(Duration::from_secs(if quick { 40 } else { 600 })),
            orders: pick(self.orders, 200, 50).max(1),
            rate: self.rate.unwrap_or(if quick { 100.0 } else { 300.0 }),
            panic_every: self
                .panic_every
                .unwrap_or(Duration::from_secs(if quick { 1 } else { 2 })),
        }
    }
}

/// Runs the chaos and prints its report; true when every check held.
pub async fn run(args: ChaosArgs) -> anyhow::Result<bool> {
    let plan = args.plan();
    let dir = tempfile::Builder::new()
        .prefix("vangnet-chaos-")
        .tempdir()
        .context("creating the temporary directory")?;
    report::header(&plan, dir.path());
    let figures = chaos(&plan, dir.path()).await;
    let passed = matches!(&figures, Ok(figures) if figures.verdict.passed());
    if args.keep || !passed {
        let kept = dir.keep();
        println!("kept {}", kept.display());
    }
    figures?.print();
    Ok(passed)
}

/// Starts everything, drives the load through the faults, and judges.
async fn chaos(plan: &Plan, dir: &Path) -> anyhow::Result<Figures> {
    let broker = Daemon::mosquitto(dir).await?;
    let redis = Daemon::redis(dir).await?;
    let ledger = Arc::new(Ledger::default());
    let sink = InProcessSink::with_ledger(([127, 0, 0, 1], 0).into(), ledger.clone())?;
    let run = run_id();
    let config = ServiceConfig {
        mqtt_url: format!("mqtt://127.0.0.1:{}", broker.port()),
        store_url: format!("redis://127.0.0.1:{}/0", redis.port()),
        mqtt_prefix: format!("chaos/{run}"),
        store_prefix: "vangnet-chaos".into(),
        dispatch_url: sink.url().to_owned(),
        env: compressed_timing(plan.compress),
        log: Some(dir.join("vangnet.log")),
    };
    let fleet = Fleet::new("chaos", plan.orders, plan.seed).with_visitors(plan.orders / 10);
    let lifetime = plan.duration + Duration::from_secs(3600);
    let vangnet = Vangnet::start_with_orders(&config, &fleet.orders, lifetime).await?;
    let topics = Topics::new(&config.mqtt_prefix).context("topic prefix")?;
    let mut pool = PublisherPool::connect(
        &config.mqtt_url,
        &format!("vangnet-sim-{run}-pub"),
        4,
        fleet.devices(&topics)?,
    )
    .await?;
    let mut victims = Victims::connect(
        &config.mqtt_url,
        &format!("vangnet-sim-{run}-victims"),
        topics,
        plan.seed,
    )
    .await?;
    let schedule = Schedule::new(
        plan.seed,
        plan.counts,
        plan.duration,
        plan.compressed_outage(),
    );
    let mut target = Target {
        vangnet,
        config: &config,
        orders: &fleet.orders,
        probe: victims.probe(),
        broker,
        redis,
        ledger: ledger.clone(),
    };
    let started = Instant::now();
    let (offered, (), struck) = tokio::join!(
        pool.offer(plan.rate, plan.duration),
        victims.press_until(&fleet.orders, plan.panic_every, started + plan.duration),
        target.strike(&schedule, started),
    );
    let (offered, struck): (u64, Struck) = (offered?, struck?);
    victims.await_receipts(RECEIPTS_TIMEOUT).await;
    let token = admin_token(DEVELOPMENT_JWT_SECRET, lifetime.as_secs())?;
    let http = reqwest::Client::new();
    let readback = Readback {
        http: &http,
        base_url: target.vangnet.base_url(),
        token: &token,
    };
    let alarms = victims.alarms();
    let verdict = settle(&readback, &ledger, &alarms).await?;
    let figures = Figures {
        plan: plan.clone(),
        struck,
        seconds: started.elapsed().as_secs_f64(),
        offered,
        repeats: victims.repeats(),
        sink: sink.summary(),
        verdict,
    };
    pool.disconnect().await.ok();
    victims.disconnect().await.ok();
    target.vangnet.stop().await?;
    sink.stop().await;
    Ok(figures)
}

/// Judges the run until every check holds or the settling time is over;
/// returns the last verdict.
async fn settle(
    readback: &Readback<'_>,
    ledger: &Ledger,
    alarms: &[victims::Alarm],
) -> anyhow::Result<Verdict> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let alerts = readback.alerts().await?;
        let streamed = readback
            .streamed(&Verdict::expected_in_stream(&alerts), STREAM_TIMEOUT)
            .await?;
        let verdict = Verdict::of(alarms, &alerts, &ledger.delivered_keys(), &streamed);
        if verdict.passed() || Instant::now() > deadline {
            return Ok(verdict);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Vangnet's dispatch timing divided by `compress`, each at least 1 s.
fn compressed_timing(compress: u32) -> Vec<(String, String)> {
    let scaled = |seconds: u64| (seconds / u64::from(compress)).max(1).to_string();
    vec![
        (
            "VANGNET_DISPATCH_MAX_BACKOFF_S".into(),
            scaled(MAX_BACKOFF_S),
        ),
        (
            "VANGNET_DISPATCH_DEGRADED_AFTER_S".into(),
            scaled(DEGRADED_AFTER_S),
        ),
        (
            "VANGNET_DISPATCH_COUNT_EVERY_S".into(),
            scaled(COUNT_EVERY_S),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_divides_the_dispatch_timing_down_to_one_second() {
        assert_eq!(
            compressed_timing(10)
                .into_iter()
                .map(|(_, v)| v)
                .collect::<Vec<_>>(),
            ["3", "3", "1"]
        );
        assert!(compressed_timing(30).iter().all(|(_, v)| v == "1"));
    }
}
