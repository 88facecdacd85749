//! Messages to devices (`ack`, `cmd`), published with QoS 1 once the step
//! that made them is committed; a `cmd` is also pushed to the device's
//! phone when it subscribed to Web Push (docs/app.md).

use std::sync::{Arc, OnceLock};

use vangnet_proto::{Ack, DeviceId, Topics};

use crate::mqtt::connection::Lane;
use crate::partitions::Downlink;
use crate::push::Warnings;

/// Publishes device messages on the panic lane's connection.
#[derive(Clone)]
pub struct DeviceMessages {
    topics: Topics,
    lane: Lane,
    warnings: Option<Warnings>,
}

impl DeviceMessages {
    /// Device messages under `topics`, sent through `lane`, warnings also
    /// handed to `warnings` to push to phones.
    pub fn new(topics: Topics, lane: Lane, warnings: Option<Warnings>) -> Self {
        Self {
            topics,
            lane,
            warnings,
        }
    }

    /// Publishes every message, one receipt per alarm (see [`merge_acks`]).
    pub async fn publish(&self, downlink: Vec<Downlink>) {
        for message in merge_acks(downlink) {
            let (topic, payload) = match &message {
                Downlink::Ack { device, ack } => (self.topics.ack(device), serde_json::to_vec(ack)),
                Downlink::Command { device, command } => {
                    if let Some(warnings) = &self.warnings {
                        warnings.offer(device, command);
                    }
                    (self.topics.cmd(device), serde_json::to_vec(command))
                }
            };
            match payload {
                Ok(payload) => self.lane.publish(topic, payload).await,
                Err(err) => tracing::error!(%err, "could not encode a device message"),
            }
        }
    }
}

/// Device messages for the HTTP API: the MQTT lane they go through is
/// connected after the HTTP server starts, so it is set once it exists.
#[derive(Clone, Default)]
pub struct DeviceLink(Arc<OnceLock<DeviceMessages>>);

impl DeviceLink {
    /// Sets the publisher; later calls are ignored.
    pub fn set(&self, messages: DeviceMessages) {
        let _ = self.0.set(messages);
    }

    /// Publishes every message, or logs that none could be sent yet.
    pub async fn publish(&self, downlink: Vec<Downlink>) {
        match self.0.get() {
            Some(messages) => messages.publish(downlink).await,
            None if downlink.is_empty() => {}
            None => tracing::warn!(
                count = downlink.len(),
                "device messages dropped: the MQTT lane is not connected yet"
            ),
        }
    }
}

/// Merges the receipts of one alarm from each of the device's orders into
/// one receipt naming every alert (one id per order: docs/protocol.md#receipts).
pub fn merge_acks(downlink: Vec<Downlink>) -> Vec<Downlink> {
    let mut merged: Vec<Downlink> = Vec::with_capacity(downlink.len());
    for message in downlink {
        if let Downlink::Ack { device, ack } = &message
            && let Some(first) = merged.iter_mut().find_map(|m| match m {
                Downlink::Ack { device: d, ack: a } if d == device && a.seq == ack.seq => Some(a),
                _ => None,
            })
        {
            merge_into(first, ack);
            continue;
        }
        merged.push(message);
    }
    merged
}

/// The receipt `device` gets among `downlink`, its orders' receipts merged
/// as [`merge_acks`] merges them; for the answer to an alarm sent over HTTP.
pub fn receipt_for(device: &DeviceId, downlink: &[Downlink]) -> Option<Ack> {
    let mut receipt: Option<Ack> = None;
    for message in downlink {
        if let Downlink::Ack { device: d, ack } = message
            && d == device
        {
            match &mut receipt {
                Some(first) => merge_into(first, ack),
                None => receipt = Some(ack.clone()),
            }
        }
    }
    receipt
}

fn merge_into(first: &mut Ack, other: &Ack) {
    for id in &other.alert_ids {
        if !first.alert_ids.contains(id) {
            first.alert_ids.push(id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{AlertId, TimestampMs};

    use super::*;

    fn ack(device: &str, seq: u64, id: &str) -> Downlink {
        Downlink::Ack {
            device: DeviceId::parse(device, "device").unwrap(),
            ack: Ack {
                seq: Some(seq),
                alert_ids: vec![AlertId::new(id)],
                ts: TimestampMs(1),
            },
        }
    }

    #[test]
    fn receipts_of_one_alarm_from_two_orders_become_one_naming_both_alerts() {
        let merged = merge_acks(vec![ack("v-1", 7, "A"), ack("v-1", 7, "B")]);
        assert_eq!(merged.len(), 1);
        let Downlink::Ack { ack, .. } = &merged[0] else {
            panic!()
        };
        assert_eq!(ack.alert_ids, [AlertId::new("A"), AlertId::new("B")]);
    }

    #[test]
    fn the_receipt_for_a_device_names_every_order_and_leaves_others_out() {
        let device = DeviceId::parse("v-1", "device").unwrap();
        let downlink = vec![ack("v-2", 7, "X"), ack("v-1", 7, "A"), ack("v-1", 7, "B")];
        let receipt = receipt_for(&device, &downlink).unwrap();
        assert_eq!(receipt.alert_ids, [AlertId::new("A"), AlertId::new("B")]);
    }

    #[test]
    fn receipts_of_different_alarms_stay_apart() {
        assert_eq!(
            merge_acks(vec![ack("v-1", 7, "A"), ack("v-1", 8, "B")]).len(),
            2
        );
    }
}
