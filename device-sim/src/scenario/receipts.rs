//! What a real device does with its alarms: it repeats each one, unchanged,
//! until Vangnet's receipt (`ack`) for it arrives, since the receipt is the
//! only sign that the alarm is stored. A broker that loses a message (the
//! embedded one keeps nothing across a restart) then loses no alarm.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a device waits for a receipt before it sends the alarm again.
pub const REPEAT_AFTER: Duration = Duration::from_secs(2);

/// One alarm waiting for its receipt.
#[derive(Debug, Clone)]
struct Waiting {
    topic: String,
    payload: Vec<u8>,
    due: Instant,
}

/// Alarms sent and not yet acknowledged, by device and `seq`.
#[derive(Debug, Default)]
pub struct Unreceipted {
    waiting: HashMap<(String, u64), Waiting>,
}

impl Unreceipted {
    /// Records an alarm `device` sent on `topic` at `now`.
    pub fn sent(&mut self, device: &str, seq: u64, topic: String, payload: Vec<u8>, now: Instant) {
        let due = now + REPEAT_AFTER;
        self.waiting.insert(
            (device.to_owned(), seq),
            Waiting {
                topic,
                payload,
                due,
            },
        );
    }

    /// Records the receipt of `device`'s alarm `seq`.
    pub fn receipt(&mut self, device: &str, seq: u64) {
        self.waiting.remove(&(device.to_owned(), seq));
    }

    /// The alarms to send again at `now` (topic and unchanged payload); each is due again later.
    pub fn due(&mut self, now: Instant) -> Vec<(String, Vec<u8>)> {
        self.waiting
            .values_mut()
            .filter(|waiting| waiting.due <= now)
            .map(|waiting| {
                waiting.due = now + REPEAT_AFTER;
                (waiting.topic.clone(), waiting.payload.clone())
            })
            .collect()
    }
}

/// The device and `seq` of a receipt on `topic` (`{prefix}/devices/{id}/ack`).
pub fn parse_receipt(prefix: &str, topic: &str, payload: &[u8]) -> Option<(String, u64)> {
    let device = topic
        .strip_prefix(prefix)?
        .strip_prefix("/devices/")?
        .strip_suffix("/ack")?;
    let receipt: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Some((device.to_owned(), receipt["seq"].as_u64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_without_a_receipt_is_sent_again_unchanged() {
        let start = Instant::now();
        let mut unreceipted = Unreceipted::default();
        unreceipted.sent("v-1", 3, "t".into(), b"alarm".to_vec(), start);

        assert!(unreceipted.due(start).is_empty());
        let again = unreceipted.due(start + REPEAT_AFTER);
        assert_eq!(again, [("t".to_owned(), b"alarm".to_vec())]);
        assert!(unreceipted.due(start + REPEAT_AFTER).is_empty());
        assert_eq!(unreceipted.due(start + REPEAT_AFTER * 2).len(), 1);
    }

    #[test]
    fn an_alarm_with_its_receipt_is_not_sent_again() {
        let start = Instant::now();
        let mut unreceipted = Unreceipted::default();
        unreceipted.sent("v-1", 3, "t".into(), b"alarm".to_vec(), start);
        unreceipted.receipt("v-1", 3);

        assert!(unreceipted.due(start + REPEAT_AFTER * 5).is_empty());
    }

    #[test]
    fn a_receipt_names_its_device_and_seq() {
        let parsed = parse_receipt(
            "vangnet/v1",
            "vangnet/v1/devices/v-1/ack",
            br#"{"seq":18,"alert_ids":["a"],"ts":1}"#,
        );
        assert_eq!(parsed, Some(("v-1".to_owned(), 18)));
        assert_eq!(
            parse_receipt("vangnet/v1", "vangnet/v1/devices/v-1/cmd", b"{}"),
            None
        );
    }
}
