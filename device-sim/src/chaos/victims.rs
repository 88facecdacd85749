//! The victims' devices of a chaos run: panics pressed at random victims,
//! each repeated unchanged, as a real device does, until its receipt comes,
//! and a record of every receipt and the alerts it names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::{AsyncClient, Packet, QoS};
use vangnet_proto::{Channel, DeviceId, TimestampMs, Topics};

use crate::broker;
use crate::fleet::SimOrder;
use crate::panics::PANIC_SEQ_BASE;
use crate::scenario::receipts::{Unreceipted, parse_receipt};

/// How often alarms due again are looked for.
const TICK: Duration = Duration::from_millis(100);

/// One panic pressed in the run.
#[derive(Debug, Clone)]
pub struct Alarm {
    /// The order of the victim who pressed it.
    pub order: String,
    /// The victim's device.
    pub device: String,
    /// Its `seq`.
    pub seq: u64,
    /// The `alert_ids` of its first receipt, once one came.
    pub receipt: Option<Vec<String>>,
}

/// What has been pressed and receipted.
#[derive(Default)]
struct Book {
    unreceipted: Unreceipted,
    alarms: HashMap<(String, u64), Alarm>,
    repeats: u64,
    pressed: u64,
}

/// The victims' devices on one MQTT connection, shared by the pressing and the probes.
struct Devices {
    client: AsyncClient,
    topics: Topics,
    book: Arc<Mutex<Book>>,
}

/// The victims' side of the run.
pub struct Victims {
    devices: Arc<Devices>,
    rng: fastrand::Rng,
}

/// A victim's device pressing panic to see whether Vangnet answers again after a fault.
#[derive(Clone)]
pub struct Probe {
    devices: Arc<Devices>,
}

impl Victims {
    /// Connects as `client_id` and listens for receipts under `topics`; victims are drawn from `seed`.
    pub async fn connect(
        mqtt_url: &str,
        client_id: &str,
        topics: Topics,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let book = Arc::new(Mutex::new(Book::default()));
        let (receipts, prefix) = (book.clone(), topics.prefix().to_owned());
        let filter = format!("{prefix}/devices/+/ack");
        let client = broker::connect(mqtt_url, client_id, &[filter], move |packet| {
            if let Packet::Publish(publish) = packet
                && let Some((device, seq)) =
                    parse_receipt(&prefix, &publish.topic, &publish.payload)
            {
                lock(&receipts).receipt(device, seq, alert_ids(&publish.payload));
            }
        })
        .await?;
        let devices = Arc::new(Devices {
            client,
            topics,
            book,
        });
        Ok(Self {
            devices,
            rng: fastrand::Rng::with_seed(seed ^ 0x9a41c),
        })
    }

    /// A probe on the same devices.
    pub fn probe(&self) -> Probe {
        Probe {
            devices: self.devices.clone(),
        }
    }

    /// Presses a panic at a random victim of `orders` every `every` until
    /// `end`, repeating each alarm without a receipt meanwhile.
    pub async fn press_until(&mut self, orders: &[SimOrder], every: Duration, end: Instant) {
        let mut next_press = Instant::now() + every;
        let mut ticks = tokio::time::interval(TICK);
        while Instant::now() < end {
            ticks.tick().await;
            if Instant::now() >= next_press && !orders.is_empty() {
                next_press += every;
                self.devices.press(&orders[self.rng.usize(..orders.len())]);
            }
            self.devices.repeat_due();
        }
    }

    /// Repeats the alarms without a receipt until every one has one or `timeout` passes.
    pub async fn await_receipts(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut ticks = tokio::time::interval(TICK);
        while Instant::now() < deadline && self.unreceipted() > 0 {
            ticks.tick().await;
            self.devices.repeat_due();
        }
    }

    /// Every alarm pressed so far.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.devices.book().alarms.values().cloned().collect()
    }

    /// How many times an alarm was sent again for want of its receipt.
    pub fn repeats(&self) -> u64 {
        self.devices.book().repeats
    }

    /// Alarms still without a receipt.
    pub fn unreceipted(&self) -> usize {
        self.devices
            .book()
            .alarms
            .values()
            .filter(|alarm| alarm.receipt.is_none())
            .count()
    }

    /// Disconnects.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        self.devices
            .client
            .disconnect()
            .await
            .context("MQTT disconnect")
    }
}

impl Probe {
    /// Presses a panic at `order`'s victim; the pressing repeats it until its receipt.
    pub fn press(&self, order: &SimOrder) -> anyhow::Result<()> {
        self.devices
            .press(order)
            .map(|_| ())
            .with_context(|| format!("device id {}", order.victim))
    }

    /// Presses a panic at `order`'s victim and waits, repeating it, until its receipt comes.
    pub async fn press_and_await(&self, order: &SimOrder, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let key = self
            .devices
            .press(order)
            .with_context(|| format!("device id {}", order.victim))?;
        let mut ticks = tokio::time::interval(TICK / 5);
        loop {
            ticks.tick().await;
            let receipted = self
                .devices
                .book()
                .alarms
                .get(&key)
                .is_some_and(|alarm| alarm.receipt.is_some());
            if receipted {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no receipt for a panic of {} within {timeout:?}",
                order.victim
            );
            self.devices.repeat_due();
        }
    }
}

impl Devices {
    fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    /// Presses a panic at `order`'s victim; returns the alarm's device and `seq`.
    fn press(&self, order: &SimOrder) -> Option<(String, u64)> {
        let victim = DeviceId::parse(&order.victim, "device").ok()?;
        let topic = self.topics.uplink(&victim, Channel::Alarm);
        let mut book = self.book();
        let seq = PANIC_SEQ_BASE + book.pressed;
        book.pressed += 1;
        let payload = format!(
            r#"{{"seq":{seq},"ts":{},"kind":"panic"}}"#,
            TimestampMs::now().millis()
        )
        .into_bytes();
        let device = victim.as_str().to_owned();
        book.unreceipted
            .sent(&device, seq, topic.clone(), payload.clone(), Instant::now());
        book.alarms.insert(
            (device.clone(), seq),
            Alarm {
                order: order.id.clone(),
                device: device.clone(),
                seq,
                receipt: None,
            },
        );
        // A full request queue (the broker is down) is a send that did not
        // happen; the repeat makes up for it.
        let _ = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, false, payload);
        Some((device, seq))
    }

    /// Sends again every alarm whose receipt is overdue.
    fn repeat_due(&self) {
        let mut book = self.book();
        for (topic, payload) in book.unreceipted.due(Instant::now()) {
            book.repeats += 1;
            let _ = self
                .client
                .try_publish(topic, QoS::AtLeastOnce, false, payload);
        }
    }
}

impl Book {
    /// Records the receipt of `device`'s alarm `seq`, naming `alert_ids`.
    fn receipt(&mut self, device: String, seq: u64, alert_ids: Vec<String>) {
        self.unreceipted.receipt(&device, seq);
        if let Some(alarm) = self.alarms.get_mut(&(device, seq)) {
            alarm.receipt.get_or_insert(alert_ids);
        }
    }
}

fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `alert_ids` of a receipt's payload.
fn alert_ids(payload: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|receipt| {
            receipt["alert_ids"].as_array().map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_names_the_alerts_of_its_alarm() {
        let payload = br#"{"seq":18,"alert_ids":["a-1","a-2"],"ts":1}"#;
        assert_eq!(alert_ids(payload), ["a-1", "a-2"]);
        assert!(alert_ids(b"not json").is_empty());
    }
}
