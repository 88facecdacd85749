//! `vangnet-sim`: simulated devices, scenarios and a fake police dispatch
//! endpoint for pilots and tests.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod bench;
mod broker;
mod chaos;
mod cleanup;
mod dispatch_latency;
mod dispatcher;
mod fleet;
mod latency;
mod load;
mod order_api;
mod panics;
mod procstat;
mod report;
mod retry;
mod scenario;
mod service;
mod sink;
mod soak;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Simulated Vangnet devices and a fake police dispatch endpoint.
#[derive(Debug, Parser)]
#[command(name = "vangnet-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
enum Command {
    /// The standard benchmark: the bare broker's ceiling, Vangnet's sustained
    /// fixes per second with N orders, panic→ack and panic→dispatch latency,
    /// resident memory.
    Bench(bench::BenchArgs),
    /// A fleet of N orders against a running Vangnet: creates them through
    /// the HTTP API, sends their fixes and random panics over MQTT, reports
    /// offered and processed rate, panic-to-dispatch latency and loss.
    Load(load::LoadArgs),
    /// A fake police dispatch endpoint: records each request as a JSON line,
    /// verifies signatures, answers according to a fault plan, prints a live
    /// summary.
    Sink(sink::SinkArgs),
    /// A memory soak: its own Vangnet with N orders takes fixes at a fixed
    /// rate for a long run while alerts are raised, cleared and resolved by a
    /// simulated dispatcher; prints its memory through the run. Exit status
    /// 1 when fixes were lost or memory was not flat (the last third of the
    /// run beyond ±5 % of its mean), as for any error.
    Soak(soak::SoakArgs),
    /// Crashes under load: its own Mosquitto, Redis, dispatch sink and
    /// Vangnet, a fleet and panicking victims, then kill -9 of Vangnet,
    /// broker and Redis restarts and a dispatch outage on a seeded schedule;
    /// checks that every receipted alarm reached dispatch, every revision
    /// its routes, and no episode has two alerts. Exit status 1 when not.
    Chaos(chaos::ChaosArgs),
    /// Plays a scenario against a running Vangnet and judges its alerts
    /// against the ground truth; exits 0 only when the expectations hold.
    Run(scenario::RunArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Load(args) => load::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Sink(args) => sink::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Soak(args) => Ok(match soak::run(args).await? {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        }),
        Command::Chaos(args) => Ok(match chaos::run(args).await? {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        }),
        Command::Run(args) => Ok(match scenario::run(args).await? {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        }),
    }
}
