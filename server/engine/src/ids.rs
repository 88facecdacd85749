//! Deterministic alert ids: replaying the same events at the same `now`
//! gives the same ids, so a replay or a second instance agrees with the first.
//!
//! An id is a ULID (26 Crockford base-32 characters, sortable by time): 48
//! bits of `now` in milliseconds, then 64 bits of the FNV-1a hash of the
//! alert's subject (order or device, kind, zone) and a 16-bit episode number
//! counted per order (or per device for `panic_unassigned`). Two different
//! subjects collide only if their 64-bit hashes collide within the same
//! millisecond and episode number.

use vangnet_proto::{AlertId, AlertKind, TimestampMs};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The id of episode `episode` of the alert about `subject` (e.g. order id,
/// kind and zone), created at `now`.
pub fn alert_id(now: TimestampMs, subject: &[&str], kind: AlertKind, episode: u32) -> AlertId {
    let mut hash = Fnv::default();
    for part in subject {
        hash.write(part.as_bytes());
        hash.write(&[0]);
    }
    hash.write(format!("{kind:?}").as_bytes());
    let time = u128::from(now.millis() & 0xFFFF_FFFF_FFFF);
    let value = (time << 80) | (u128::from(hash.0) << 16) | u128::from(episode & 0xFFFF);
    let text: String = (0..26)
        .rev()
        .map(|i| char::from(CROCKFORD[((value >> (i * 5)) & 31) as usize]))
        .collect();
    AlertId::new(text)
}

/// 64-bit FNV-1a: tiny, stable across Rust versions and platforms.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_distinct_and_ulid_shaped() {
        let now = TimestampMs(1_764_331_200_000);
        let a = alert_id(now, &["order-17", ""], AlertKind::Panic, 1);
        assert_eq!(a, alert_id(now, &["order-17", ""], AlertKind::Panic, 1));
        assert_ne!(a, alert_id(now, &["order-17", ""], AlertKind::Panic, 2));
        assert_ne!(a, alert_id(now, &["order-18", ""], AlertKind::Panic, 1));
        assert_eq!(a.as_str().len(), 26);
        assert!(a.as_str().starts_with("01KB"), "{a}");
    }
}
