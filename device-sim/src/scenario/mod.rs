//! `vangnet-sim run SCENARIO.toml`: plays a scenario of victims and
//! perpetrators against a running Vangnet and judges what it raised (and,
//! with `--sink-addr`, what reached police dispatch) against the ground
//! truth and the scenario's expectations (see [`clock`] for what `--speed`
//! does to time, and [`report`] for the verdict's rules).

mod clock;
mod dispatch;
mod downlinks;
mod model;
mod motion;
mod noise;
pub mod receipts;
mod report;
mod runner;
mod schedule;
pub mod stream;
mod truth;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use self::clock::Clock;
use self::model::Scenario;
use self::motion::Track;
use self::report::Report;
use self::runner::{Endpoint, Session, Tokens};

/// Options of `vangnet-sim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML)
    scenario: PathBuf,
    /// Scenario seconds per real second
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Also write the report as JSON to this file
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Vangnet's HTTP API
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// The MQTT broker Vangnet listens on
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    mqtt_url: String,
    /// Vangnet's topic root
    #[arg(long, default_value = "vangnet/v1")]
    mqtt_prefix: String,
    /// API token for creating orders (pilot for exercise orders, admin for real ones)
    #[arg(long, env = "VANGNET_SIM_TOKEN", requires = "stream_token")]
    token: Option<String>,
    /// API token for the alert stream (dispatcher or admin)
    #[arg(long, env = "VANGNET_SIM_STREAM_TOKEN")]
    stream_token: Option<String>,
    /// HS256 secret of the deployment, to sign the tokens here instead
    #[arg(long, env = "VANGNET_JWT_SECRET", conflicts_with = "token")]
    jwt_secret: Option<String>,
    /// Real seconds to wait after the end for alerts still on their way
    #[arg(long, default_value_t = 3.0)]
    settle_s: f64,
    /// Serve the police dispatch sink here and judge what it receives; Vangnet's VANGNET_DISPATCH_URL must point at it
    #[arg(long)]
    sink_addr: Option<SocketAddr>,
}

/// Plays the scenario; returns whether it passed.
pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    if args.speed.is_nan() || args.speed < 1.0 {
        bail!("--speed must be at least 1");
    }
    let scenario = Scenario::load(&args.scenario)?;
    let orders = scenario.order_bodies()?;
    let base = args.scenario.parent().unwrap_or(std::path::Path::new("."));
    let tracks = scenario
        .actors
        .iter()
        .map(|actor| {
            Track::of(&actor.route, base).with_context(|| format!("route of {}", actor.device))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let truth = truth::episodes(&scenario, &orders, &tracks)?;
    let messages = schedule::messages(&scenario, &tracks);
    let mut bodies = orders
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    bodies.extend(
        scenario
            .flood
            .as_ref()
            .map(schedule::flood_orders)
            .unwrap_or_default(),
    );
    let exercise: HashMap<String, bool> = bodies
        .iter()
        .filter_map(|b| Some((b["id"].as_str()?.to_owned(), b["exercise"].as_bool()?)))
        .collect();

    let tokens = match (args.token, args.stream_token, args.jwt_secret) {
        (Some(orders), Some(stream), _) => Tokens::Given { orders, stream },
        (_, _, Some(secret)) => Tokens::Signed(secret),
        _ => bail!("give --token and --stream-token, or --jwt-secret"),
    };
    let session = Session::new(Endpoint {
        api_url: args.api_url.trim_end_matches('/').to_owned(),
        mqtt_url: args.mqtt_url,
        mqtt_prefix: args.mqtt_prefix,
        tokens,
    });
    let sink = args.sink_addr.map(dispatch::listen).transpose()?;
    if let Some((sink, _)) = &sink {
        println!("dispatch sink: {} (VANGNET_DISPATCH_URL)", sink.url());
    }
    let mut received = session.listen().await?;
    session.create_orders(&bodies).await?;
    let clock = Clock::start(args.speed, scenario.duration_s);
    session.play(messages, &clock).await?;
    tokio::time::sleep(Duration::from_secs_f64(args.settle_s.max(0.0))).await;
    let seen = session.collect(&mut received, &clock, &exercise);
    let dispatched = match sink {
        Some((sink, mut bodies)) => {
            let dispatched = session.collect(&mut bodies, &clock, &exercise);
            sink.stop().await;
            Some(dispatched)
        }
        None => None,
    };

    let name = args.scenario.display().to_string();
    let report = Report::judge(
        &name,
        args.speed,
        &scenario,
        truth,
        &seen,
        dispatched.as_deref(),
    );
    print!("{}", report.text());
    if let Some(path) = &args.report_json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report.passed)
}
