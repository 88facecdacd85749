//! Panic presses at random victims of a fleet, for the load and soak runs:
//! one press every interval on an MQTT connection of its own.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::{AsyncClient, QoS};
use vangnet_proto::{Channel, DeviceId, TimestampMs, Topics};

use crate::broker;
use crate::fleet::{Fleet, SimOrder};

/// Panic sequence numbers start here, so they never repeat a fix's `(seq, ts)`.
pub const PANIC_SEQ_BASE: u64 = 1 << 40;

/// Told of each press as it is sent: the order, and how many presses that order has had in this run.
pub type OnPress = Box<dyn Fn(&SimOrder, u64) + Send + Sync>;

/// Presses panic at random victims of the fleet on a connection of its own.
pub struct Panics<'a> {
    /// The connection and the time between presses; none without an interval.
    pressing: Option<(AsyncClient, Duration)>,
    fleet: &'a Fleet,
    topics: &'a Topics,
    on_press: OnPress,
    rng: fastrand::Rng,
}

impl<'a> Panics<'a> {
    /// Connects as `client_id` when presses are wanted (`every` is given);
    /// the victims are drawn reproducibly from `seed`.
    pub async fn connect(
        mqtt_url: &str,
        client_id: &str,
        every: Option<Duration>,
        (fleet, topics): (&'a Fleet, &'a Topics),
        seed: u64,
        on_press: OnPress,
    ) -> anyhow::Result<Self> {
        let pressing = match every {
            Some(every) => {
                let client = broker::connect(mqtt_url, client_id, &[], |_| {}).await?;
                Some((client, every))
            }
            None => None,
        };
        Ok(Self {
            pressing,
            fleet,
            topics,
            on_press,
            rng: fastrand::Rng::with_seed(seed ^ 0x9a41c),
        })
    }

    /// Presses one panic every interval until `end`; a failed publish ends the pressing.
    pub async fn press_until(&mut self, end: Instant) {
        let Some((client, every)) = self.pressing.clone() else {
            return;
        };
        let mut presses: HashMap<usize, u64> = HashMap::new();
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        for n in 0u64.. {
            ticks.tick().await;
            if Instant::now() >= end {
                return;
            }
            let index = self.rng.usize(..self.fleet.orders.len());
            let order = &self.fleet.orders[index];
            let Ok(victim) = DeviceId::parse(&order.victim, "device") else {
                return;
            };
            let count = presses.entry(index).or_default();
            *count += 1;
            let payload = format!(
                r#"{{"seq":{},"ts":{},"kind":"panic"}}"#,
                PANIC_SEQ_BASE + n,
                TimestampMs::now().millis()
            );
            (self.on_press)(order, *count);
            let topic = self.topics.uplink(&victim, Channel::Alarm);
            if client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Disconnects, if connected.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        if let Some((client, _)) = &self.pressing {
            client.disconnect().await.context("MQTT disconnect")?;
        }
        Ok(())
    }
}
