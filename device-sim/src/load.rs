//! `vangnet-sim load`: a fleet of N orders against a running Vangnet. It
//! creates the orders through the HTTP API, sends one fix per device every
//! interval over MQTT, presses panic at random victims, and measures what
//! Vangnet processed (its `/metrics`) and how long each panic took to reach
//! the dispatch sink this process serves (Vangnet's `VANGNET_DISPATCH_URL`
//! must point at it). The orders are ended afterwards.

mod report;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vangnet_proto::Topics;

use self::report::LoadReport;
use crate::bench::run_id;
use crate::broker::{self, PublisherPool};
use crate::dispatch_latency::PanicClock;
use crate::fleet::Fleet;
use crate::latency::LatencySummary;
use crate::order_api::{OrderApi, admin_token};
use crate::panics::Panics;
use crate::service::Counters;
use crate::sink::InProcessSink;

/// Without progress for this long, the fixes still in flight are lost.
const SETTLE: Duration = Duration::from_secs(3);
/// How long the panics still in flight at the end may take to be dispatched.
const DISPATCH_GRACE: Duration = Duration::from_secs(10);
/// How long Vangnet may take to load the created orders.
const ORDERS_LOADED_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of `vangnet-sim load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Protection orders to create (one victim and one perpetrator device each)
    #[arg(long, default_value_t = 1000)]
    orders: usize,
    /// Time between two fixes of one device: `5`, `5s`, `500ms`
    #[arg(long, default_value = "5", value_parser = duration)]
    interval: Duration,
    /// How long the fixes are sent: `60`, `60s`, `10m`
    #[arg(long, default_value = "60", value_parser = duration)]
    duration: Duration,
    /// Press panic at a random victim this often [default: never]
    #[arg(long, value_parser = duration)]
    panic_every: Option<Duration>,
    /// Vangnet's HTTP address (API and /metrics)
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// An admin API token
    #[arg(long, env = "VANGNET_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Vangnet's HS256 secret, to sign an admin token with instead of --token
    #[arg(
        long,
        env = "VANGNET_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "token"
    )]
    jwt_secret: Option<String>,
    /// The MQTT broker Vangnet listens to
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    mqtt_url: String,
    /// Vangnet's topic root (`VANGNET_MQTT_PREFIX`)
    #[arg(long, default_value = "vangnet/v1")]
    mqtt_prefix: String,
    /// Where the dispatch sink listens; Vangnet's VANGNET_DISPATCH_URL must point here
    #[arg(long, default_value = "127.0.0.1:9090")]
    sink_addr: SocketAddr,
    /// Publishing MQTT connections
    #[arg(long, default_value_t = 8)]
    publishers: usize,
    /// Seed of the homes, routes and panic victims, so runs are comparable
    #[arg(long, default_value_t = 17)]
    seed: u64,
}

/// `60`, `2.5` (seconds) or a humantime duration like `60s`, `500ms`, `10m`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let parsed = match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())?,
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string())?,
    };
    if parsed.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(parsed)
}

/// Runs the load and prints its table and JSON line.
pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let token = match (&args.token, &args.jwt_secret) {
        (Some(token), _) => token.clone(),
        (None, Some(secret)) => admin_token(secret, args.duration.as_secs())?,
        (None, None) => bail!("an admin token is needed: give --token or --jwt-secret"),
    };
    let topics = Topics::new(&args.mqtt_prefix).context("--mqtt-prefix")?;
    let http = reqwest::Client::new();
    let api_url = args.api_url.trim_end_matches('/');
    let run = run_id();
    let fleet = Fleet::new(&format!("load-{run}"), args.orders.max(1), args.seed);
    let clock = Arc::new(PanicClock::default());
    let observed = clock.clone();
    let sink = InProcessSink::start(args.sink_addr, Box::new(move |body| observed.observe(body)))?;
    report::header(&args, fleet.orders.len(), sink.url());

    let api = OrderApi::new(http.clone(), api_url, token);
    let loaded_before = Counters::read(&http, api_url).await?.orders;
    let measured = async {
        let creating = Instant::now();
        api.import_all(&fleet.orders).await?;
        let creation_s = creating.elapsed().as_secs_f64();
        wait_for_orders(&http, api_url, loaded_before + fleet.orders.len() as u64).await?;
        let traffic = drive(&args, &fleet, &topics, &clock, &http, &run).await?;
        anyhow::Ok((creation_s, traffic))
    }
    .await;
    let ended = api.end_all(&fleet.orders).await;
    sink.stop().await;
    let (creation_s, traffic) = measured?;
    ended.context("ending the run's orders")?;
    LoadReport {
        orders: fleet.orders.len(),
        interval: args.interval,
        creation_s,
        traffic,
    }
    .print();
    Ok(())
}

/// Waits until Vangnet has loaded `orders` orders in all.
async fn wait_for_orders(http: &reqwest::Client, api_url: &str, orders: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + ORDERS_LOADED_TIMEOUT;
    while Counters::read(http, api_url).await?.orders < orders {
        if Instant::now() > deadline {
            bail!("vangnet_orders did not reach {orders} within {ORDERS_LOADED_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// What the traffic phase measured.
#[derive(Debug)]
pub struct Traffic {
    /// Fixes published and acknowledged by the broker.
    pub offered: u64,
    /// How long the publishing took, s.
    pub seconds: f64,
    /// Fixes Vangnet took in while they were offered.
    pub processed_in_window: u64,
    /// Fixes Vangnet took in, once the backlog drained.
    pub processed: u64,
    /// Messages Vangnet rejected or rate-limited meanwhile.
    pub refused: u64,
    /// Panics pressed and how long each took to be dispatched.
    pub panics: LatencySummary,
}

/// Sends the fixes and panics for `--duration`, then waits for the backlog.
async fn drive(
    args: &LoadArgs,
    fleet: &Fleet,
    topics: &Topics,
    clock: &Arc<PanicClock>,
    http: &reqwest::Client,
    run: &str,
) -> anyhow::Result<Traffic> {
    let api_url = args.api_url.trim_end_matches('/');
    let mut pool = PublisherPool::connect(
        &args.mqtt_url,
        &format!("vangnet-sim-{run}-pub"),
        args.publishers,
        fleet.devices(topics)?,
    )
    .await?;
    let sent = clock.clone();
    let mut panics = Panics::connect(
        &args.mqtt_url,
        &format!("vangnet-sim-{run}-panic"),
        args.panic_every,
        (fleet, topics),
        args.seed,
        Box::new(move |order, count| sent.sent(&order.id, count, Instant::now())),
    )
    .await?;
    let before = Counters::read(http, api_url).await?;
    let acked_before = pool.acked();
    let rate = (2 * fleet.orders.len()) as f64 / args.interval.as_secs_f64();
    let started = Instant::now();
    let (offered, ()) = tokio::join!(
        pool.offer(rate, args.duration),
        panics.press_until(started + args.duration)
    );
    let offered = offered?;
    let seconds = started.elapsed().as_secs_f64();
    let in_window = Counters::read(http, api_url)
        .await?
        .loc
        .saturating_sub(before.loc);
    broker::wait_for_count(
        "broker PUBACKs",
        acked_before + offered,
        Duration::from_secs(60),
        || pool.acked(),
    )
    .await?;
    let processed = drain(http, api_url, before.loc, offered).await?;
    let grace = Instant::now() + DISPATCH_GRACE;
    while clock.waiting() > 0 && Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = Counters::read(http, api_url).await?;
    pool.disconnect().await?;
    panics.disconnect().await?;
    Ok(Traffic {
        offered,
        seconds,
        processed_in_window: in_window,
        processed,
        refused: after.refused.saturating_sub(before.refused),
        panics: clock.take(Duration::ZERO),
    })
}

/// Waits until `expected` fixes past `from` are taken in, or nothing moved for a while; returns how many were.
pub async fn drain(
    http: &reqwest::Client,
    api_url: &str,
    from: u64,
    expected: u64,
) -> anyhow::Result<u64> {
    let mut processed = Counters::read(http, api_url)
        .await?
        .loc
        .saturating_sub(from);
    let mut last_progress = Instant::now();
    while processed < expected && last_progress.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Counters::read(http, api_url)
            .await?
            .loc
            .saturating_sub(from);
        if now > processed {
            processed = now;
            last_progress = Instant::now();
        }
    }
    Ok(processed)
}
