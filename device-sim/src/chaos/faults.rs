//! Striking a chaos run's faults on schedule: `kill -9` of `vangnet` and a
//! new one, SIGKILL and restart of the broker or Redis, and the dispatch
//! outage. After each fault the run waits until `vangnet` is ready again and
//! a panic pressed then has its receipt (the recovery time), before the
//! next one strikes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::daemons::Daemon;
use super::schedule::{Fault, Schedule};
use super::victims::Probe;
use crate::fleet::SimOrder;
use crate::service::{ServiceConfig, Vangnet};
use crate::sink::Ledger;

/// How long `vangnet` may take to be ready again after a fault.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The faults struck, and the longest recovery after each kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Struck {
    /// `kill -9` of `vangnet`.
    pub kills: usize,
    /// Broker restarts.
    pub broker_restarts: usize,
    /// Redis restarts.
    pub redis_restarts: usize,
    /// How long the dispatch endpoint was down.
    pub outage: Duration,
    /// Longest time from a kill to a receipt again.
    pub longest_kill_recovery: Duration,
    /// Longest time from a broker kill to a receipt again.
    pub longest_broker_recovery: Duration,
    /// Longest time from a Redis kill to a receipt again.
    pub longest_redis_recovery: Duration,
}

/// What the faults act on.
pub struct Target<'a> {
    /// The running `vangnet`, replaced after each kill.
    pub vangnet: Vangnet,
    /// How to start it again.
    pub config: &'a ServiceConfig,
    /// The orders it must have loaded to be ready; their victims press the probes.
    pub orders: &'a [SimOrder],
    /// The victims' devices pressing the probes.
    pub probe: Probe,
    /// The broker.
    pub broker: Daemon,
    /// Redis.
    pub redis: Daemon,
    /// The dispatch sink's outage switch.
    pub ledger: Arc<Ledger>,
}

impl Target<'_> {
    /// Strikes `schedule`'s faults at their offsets from `started`.
    pub async fn strike(
        &mut self,
        schedule: &Schedule,
        started: Instant,
    ) -> anyhow::Result<Struck> {
        let outage = outage(self.ledger.clone(), schedule.outage, started);
        let faults = async {
            let mut struck = Struck::default();
            for (n, (at, fault)) in schedule.faults.iter().enumerate() {
                tokio::time::sleep_until((started + *at).into()).await;
                let struck_at = started.elapsed().as_secs_f64();
                let recovery = self.fault(*fault, n).await.with_context(|| {
                    format!(
                        "after fault {} of {} ({fault})",
                        n + 1,
                        schedule.faults.len()
                    )
                })?;
                println!(
                    "+{struck_at:.1} s {fault}: a receipt again after {:.2} s",
                    recovery.as_secs_f64()
                );
                let (count, longest) = match fault {
                    Fault::Kill { .. } => (&mut struck.kills, &mut struck.longest_kill_recovery),
                    Fault::BrokerRestart => (
                        &mut struck.broker_restarts,
                        &mut struck.longest_broker_recovery,
                    ),
                    Fault::RedisRestart => (
                        &mut struck.redis_restarts,
                        &mut struck.longest_redis_recovery,
                    ),
                };
                *count += 1;
                *longest = (*longest).max(recovery);
            }
            anyhow::Ok(struck)
        };
        let (struck, outage) = tokio::join!(faults, outage);
        Ok(Struck { outage, ..struck? })
    }

    /// Strikes the `n`-th fault; returns how long until a panic pressed
    /// once `vangnet` was ready again had its receipt.
    async fn fault(&mut self, fault: Fault, n: usize) -> anyhow::Result<Duration> {
        let struck = Instant::now();
        match fault {
            Fault::Kill { after_press } => {
                if let Some(order) = self.orders.get((n + 1) % self.orders.len().max(1)) {
                    self.probe.press(order)?;
                }
                tokio::time::sleep(after_press).await;
                self.vangnet.kill().await?;
                self.vangnet = Vangnet::start(self.config).await?;
            }
            Fault::BrokerRestart => self.broker.restart().await?,
            Fault::RedisRestart => self.redis.restart().await?,
        }
        self.vangnet
            .wait_until_ready(self.orders.len() as u64, RECOVERY_TIMEOUT)
            .await?;
        if let Some(order) = self.orders.get(n % self.orders.len().max(1)) {
            self.probe.press_and_await(order, RECOVERY_TIMEOUT).await?;
        }
        Ok(struck.elapsed())
    }
}

/// Takes the dispatch endpoint down for the window, if any; returns how long it was down.
async fn outage(
    ledger: Arc<Ledger>,
    window: Option<(Duration, Duration)>,
    started: Instant,
) -> Duration {
    let Some((from, length)) = window else {
        return Duration::ZERO;
    };
    tokio::time::sleep_until((started + from).into()).await;
    ledger.set_down(true);
    let down = Instant::now();
    println!("+{:.1} s dispatch down", started.elapsed().as_secs_f64());
    tokio::time::sleep(length).await;
    ledger.set_down(false);
    println!(
        "+{:.1} s dispatch up again",
        started.elapsed().as_secs_f64()
    );
    down.elapsed()
}
