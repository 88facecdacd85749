//! Panic latency: a victim's device publishes a panic and times how long the
//! service takes to acknowledge it on the device's `ack` topic, and to
//! dispatch it to the sink.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::{AsyncClient, Packet, QoS};
use tokio::sync::mpsc;
use vangnet_proto::{Channel, DeviceId, TimestampMs, Topics};

use crate::broker;
use crate::dispatch_latency::PanicClock;

/// How long a panic may wait for its ack or dispatch before it counts as missed.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Latencies measured so far, and panics never acknowledged.
#[derive(Debug, Default)]
struct Samples {
    latencies: Vec<Duration>,
    missed: u64,
}

/// A summary of panic latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Panics answered (acknowledged or dispatched).
    pub count: usize,
    /// Panics not answered within the timeout.
    pub missed: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Nearest-rank percentiles of `latencies`.
    pub fn of(mut latencies: Vec<Duration>, missed: u64) -> Self {
        latencies.sort();
        let at = |share: f64| {
            let rank = (share * latencies.len() as f64).ceil() as usize;
            latencies
                .get(rank.saturating_sub(1))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Self {
            count: latencies.len(),
            missed,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// Panic→ack and panic-to-dispatch latencies of the same panics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanicLatency {
    /// Until the ack on the device's topic.
    pub ack: LatencySummary,
    /// Until the dispatch reached the sink.
    pub dispatch: LatencySummary,
}

/// Sends a panic every interval, each from the next victim of the fleet so
/// that each raises an alert of its own (a press on an open alert only
/// raises its count, which dispatch may hold back), and times each ack and
/// dispatch; runs until dropped.
pub struct PanicProber {
    samples: Arc<Mutex<Samples>>,
    clock: Arc<PanicClock>,
    task: tokio::task::JoinHandle<()>,
}

impl PanicProber {
    /// Connects as one client speaking for every victim of `victims`
    /// (device, its order), and starts probing every `every`, one victim
    /// after the other, round again after the last.
    pub async fn start(
        broker_url: &str,
        client_id: &str,
        topics: &Topics,
        victims: &[(&str, &str)],
        every: Duration,
        clock: Arc<PanicClock>,
    ) -> anyhow::Result<Self> {
        let presses = victims
            .iter()
            .map(|&(device, order)| {
                let device = DeviceId::parse(device, "device").context("probe device id")?;
                Ok(Press {
                    topic: topics.uplink(&device, Channel::Alarm),
                    order: order.to_owned(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!presses.is_empty(), "no victim to probe with");
        let (acks_tx, acks) = mpsc::unbounded_channel();
        let client = broker::connect(
            broker_url,
            client_id,
            &[format!("{}/devices/+/ack", topics.prefix())],
            move |packet| {
                if let Packet::Publish(publish) = packet
                    && let Ok(ack) = serde_json::from_slice::<serde_json::Value>(&publish.payload)
                    && let Some(seq) = ack["seq"].as_u64()
                {
                    let _ = acks_tx.send(seq);
                }
            },
        )
        .await?;
        let samples = Arc::new(Mutex::new(Samples::default()));
        let prober = Prober {
            client,
            presses,
            clock: clock.clone(),
            samples: samples.clone(),
        };
        let task = tokio::spawn(prober.run(acks, every));
        Ok(Self {
            samples,
            clock,
            task,
        })
    }

    /// The summaries of the samples since the last call, which starts a new set.
    pub fn take(&self) -> PanicLatency {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::take(&mut *samples);
        PanicLatency {
            ack: LatencySummary::of(taken.latencies, taken.missed),
            dispatch: self.clock.take(ANSWER_TIMEOUT),
        }
    }
}

impl Drop for PanicProber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where a probe's panic goes, and whose dispatch it awaits.
struct Press {
    topic: String,
    order: String,
}

/// The probing task's parts.
struct Prober {
    client: AsyncClient,
    presses: Vec<Press>,
    clock: Arc<PanicClock>,
    samples: Arc<Mutex<Samples>>,
}

impl Prober {
    /// Presses panic at each victim in turn, numbering presses from 1 over
    /// all of them, so an ack's `seq` names its press. A victim's first
    /// press raises its order's panic alert to count 1, its n-th round to n.
    async fn run(self, mut acks: mpsc::UnboundedReceiver<u64>, every: Duration) {
        let victims = self.presses.len() as u64;
        for seq in 1u64.. {
            let press = &self.presses[((seq - 1) % victims) as usize];
            let payload = format!(
                r#"{{"seq":{seq},"ts":{},"kind":"panic"}}"#,
                TimestampMs::now().millis()
            );
            let sent = Instant::now();
            self.clock.sent(&press.order, (seq - 1) / victims + 1, sent);
            if self
                .client
                .publish(press.topic.as_str(), QoS::AtLeastOnce, false, payload)
                .await
                .is_err()
            {
                return;
            }
            let acked = tokio::time::timeout(ANSWER_TIMEOUT, async {
                while let Some(acked) = acks.recv().await {
                    if acked == seq {
                        return true;
                    }
                }
                false
            })
            .await;
            let latency = sent.elapsed();
            {
                let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
                match acked {
                    Ok(true) => samples.latencies.push(latency),
                    _ => samples.missed += 1,
                }
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let latencies = (1..=100).map(Duration::from_millis).collect();
        let summary = LatencySummary::of(latencies, 2);
        assert_eq!(
            (
                summary.count,
                summary.p50_ms,
                summary.p99_ms,
                summary.max_ms
            ),
            (100, 50.0, 99.0, 100.0)
        );
        assert_eq!(LatencySummary::of(Vec::new(), 0).max_ms, 0.0);
    }
}
