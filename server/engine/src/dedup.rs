//! Recognising repeated messages (QoS 1 redelivery, device retries) by
//! `(device, seq, ts)`, in bounded memory.
//!
//! Memory bound per device: the keys of the last [`RECENT`] messages of any
//! kind, 8 bytes each (128 bytes inline; each key is stored exactly, as its
//! offset from a base key in two `u32`s), plus the keys and acknowledged alert ids
//! of the alarms of the last 24 hours of device time, at most [`ALARMS`].
//!
//! Deviation from the contract, which recognises repeats within 24 hours
//! (docs/protocol.md#repeats): a fix or status repeated after more than
//! [`RECENT`] newer messages is not recognised here. Such a fix is older
//! than the device's newest fix, so it changes no state
//! (docs/detection.md#time-and-order-of-events); only its history effect
//! repeats, and history is keyed by `(device, seq, ts)`, so storing it twice
//! is harmless.
//! A status repeated that late only refreshes the battery level it already
//! reported. Alarms, whose repeats must not count as new presses, are
//! remembered for the full 24 hours.

use serde::{Deserialize, Serialize};
use vangnet_proto::{AlertId, TimestampMs};

/// How many recent message keys each device keeps.
pub const RECENT: usize = 16;
/// At most this many alarms per device are remembered for 24 hours.
pub const ALARMS: usize = 64;
const ALARM_MEMORY_MS: u64 = 24 * 3600 * 1000;

/// What identifies one uplink message of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageKey {
    /// The device's counter.
    pub seq: u64,
    /// The device's time; differs after a counter restart.
    pub ts: TimestampMs,
}

/// An alarm already accepted, with the alerts its receipt named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenAlarm {
    /// The alarm's key.
    pub key: MessageKey,
    /// The ids its ack carried, sent again when it is repeated.
    pub alert_ids: Vec<AlertId>,
}

/// The bounded memory of one device's recent messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupWindow {
    /// Every remembered key is at or after this one in both `seq` and `ts`.
    base: MessageKey,
    /// A ring of recent keys as offsets from `base`, kept inline.
    recent: [[u32; 2]; RECENT],
    /// How many slots of `recent` hold keys.
    len: u8,
    /// The slot the next key goes to (the oldest, once the ring is full).
    next: u8,
    alarms: Vec<SeenAlarm>,
}

impl Default for DedupWindow {
    fn default() -> Self {
        Self {
            base: MessageKey {
                seq: 0,
                ts: TimestampMs(0),
            },
            recent: [[0; 2]; RECENT],
            len: 0,
            next: 0,
            alarms: Vec::new(),
        }
    }
}

/// Whether two keys are close enough to share a base.
fn near(a: MessageKey, b: MessageKey) -> bool {
    const HALF: u64 = 1 << 31;
    a.seq.abs_diff(b.seq) < HALF && a.ts.abs_diff(b.ts) < HALF
}

impl DedupWindow {
    /// Records `key`; `false` when it was seen already (a repeat).
    pub fn first_sight(&mut self, key: MessageKey) -> bool {
        if let Some(code) = self.encode(key) {
            if self.recent[..usize::from(self.len)].contains(&code) {
                return false;
            }
            self.push(code);
            return true;
        }
        // An equal key would have been expressible: this one is new. Rebase
        // around it, forgetting the keys too far from it to share a base.
        let mut keys: Vec<MessageKey> = self
            .oldest_first()
            .map(|code| self.decode(code))
            .filter(|old| near(*old, key))
            .collect();
        keys.push(key);
        self.base = MessageKey {
            seq: keys.iter().map(|k| k.seq).min().unwrap_or(key.seq),
            ts: keys.iter().map(|k| k.ts).min().unwrap_or(key.ts),
        };
        (self.len, self.next) = (0, 0);
        let codes: Vec<[u32; 2]> = keys.into_iter().filter_map(|k| self.encode(k)).collect();
        for code in codes {
            self.push(code);
        }
        true
    }

    fn push(&mut self, code: [u32; 2]) {
        self.recent[usize::from(self.next)] = code;
        self.next = (self.next + 1) % RECENT as u8;
        self.len = (self.len + 1).min(RECENT as u8);
    }

    fn oldest_first(&self) -> impl Iterator<Item = [u32; 2]> + '_ {
        let start = if usize::from(self.len) == RECENT {
            usize::from(self.next)
        } else {
            0
        };
        (0..usize::from(self.len)).map(move |i| self.recent[(start + i) % RECENT])
    }

    fn encode(&self, key: MessageKey) -> Option<[u32; 2]> {
        let seq = key.seq.checked_sub(self.base.seq)?;
        let ts = key.ts.millis().checked_sub(self.base.ts.millis())?;
        Some([u32::try_from(seq).ok()?, u32::try_from(ts).ok()?])
    }

    fn decode(&self, [seq, ts]: [u32; 2]) -> MessageKey {
        MessageKey {
            seq: self.base.seq + u64::from(seq),
            ts: self.base.ts.plus_ms(u64::from(ts)),
        }
    }

    /// The alert ids acknowledged for the alarm `key`, if it was seen already.
    pub fn seen_alarm(&self, key: MessageKey) -> Option<&[AlertId]> {
        self.alarms
            .iter()
            .find(|seen| seen.key == key)
            .map(|seen| seen.alert_ids.as_slice())
    }

    /// Remembers an accepted alarm and the alerts its ack named, for 24 hours.
    pub fn remember_alarm(&mut self, key: MessageKey, alert_ids: Vec<AlertId>) {
        let horizon = key.ts.millis().saturating_sub(ALARM_MEMORY_MS);
        self.alarms.retain(|seen| seen.key.ts.millis() >= horizon);
        if self.alarms.len() == ALARMS {
            self.alarms.remove(0);
        }
        self.alarms.push(SeenAlarm { key, alert_ids });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seq: u64, ts: u64) -> MessageKey {
        MessageKey {
            seq,
            ts: TimestampMs(ts),
        }
    }

    #[test]
    fn a_repeat_is_recognised_and_a_counter_restart_is_not() {
        let mut window = DedupWindow::default();
        assert!(window.first_sight(key(5, 1_000)));
        assert!(!window.first_sight(key(5, 1_000)));
        assert!(window.first_sight(key(5, 9_000)));
    }

    #[test]
    fn the_window_forgets_beyond_its_bound() {
        let mut window = DedupWindow::default();
        for seq in 0..=RECENT as u64 {
            assert!(window.first_sight(key(seq, seq)));
        }
        assert!(window.first_sight(key(0, 0)));
        assert!(!window.first_sight(key(RECENT as u64, RECENT as u64)));
    }

    #[test]
    fn keys_far_apart_are_never_taken_for_each_other() {
        let mut window = DedupWindow::default();
        assert!(window.first_sight(key(1 << 40, 1_764_331_200_000)));
        assert!(window.first_sight(key(3, 1_764_331_200_000)));
        assert!(!window.first_sight(key(3, 1_764_331_200_000)));
        assert!(window.first_sight(key(3, 5)));
        assert!(!window.first_sight(key(3, 5)));
        assert!(window.first_sight(key(4, 5)));
    }

    #[test]
    fn alarms_are_remembered_for_a_day_of_device_time() {
        let mut window = DedupWindow::default();
        window.remember_alarm(key(1, 0), vec![AlertId::new("a")]);
        assert_eq!(window.seen_alarm(key(1, 0)), Some(&[AlertId::new("a")][..]));
        window.remember_alarm(key(2, ALARM_MEMORY_MS + 1), Vec::new());
        assert_eq!(window.seen_alarm(key(1, 0)), None);
    }
}
