//! PUBACKs in the order their PUBLISHes arrived, as MQTT 3.1.1 (section 4.6)
//! requires of a client. Workers finish messages out of order; an ack waits
//! here until every earlier message of its connection has been handled.
//! Mosquitto forgives out-of-order acks, but rumqttd (the embedded broker)
//! drops the connection on one.

use std::collections::BTreeMap;

/// Where a delivery stands among its connection's QoS 1 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Which connection of the lane delivered it.
    pub epoch: u64,
    /// Its place among that connection's QoS 1 deliveries, from 0.
    pub seq: u64,
}

/// Handled deliveries of the current connection waiting for earlier ones.
#[derive(Debug)]
pub struct AckOrder<T> {
    epoch: u64,
    next: u64,
    waiting: BTreeMap<u64, T>,
}

impl<T> Default for AckOrder<T> {
    fn default() -> Self {
        Self {
            epoch: 0,
            next: 0,
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> AckOrder<T> {
    /// Records that the delivery at `position` (of connection `current` or
    /// an older one) is handled; returns what may be acked now, in order.
    /// A delivery of an older connection is never acked: the broker
    /// redelivers it on the new one.
    pub fn handled(&mut self, position: Position, current: u64, ack: T) -> Vec<T> {
        if position.epoch != current {
            return Vec::new();
        }
        if self.epoch != current {
            *self = Self {
                epoch: current,
                ..Self::default()
            };
        }
        self.waiting.insert(position.seq, ack);
        let mut ready = Vec::new();
        while let Some(ack) = self.waiting.remove(&self.next) {
            ready.push(ack);
            self.next += 1;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: u64, seq: u64) -> Position {
        Position { epoch, seq }
    }

    #[test]
    fn an_ack_waits_for_every_earlier_delivery() {
        let mut order = AckOrder::default();
        assert!(order.handled(at(1, 1), 1, "b").is_empty());
        assert!(order.handled(at(1, 2), 1, "c").is_empty());
        assert_eq!(order.handled(at(1, 0), 1, "a"), ["a", "b", "c"]);
        assert_eq!(order.handled(at(1, 3), 1, "d"), ["d"]);
    }

    #[test]
    fn a_delivery_of_an_older_connection_is_never_acked() {
        let mut order = AckOrder::default();
        assert!(order.handled(at(1, 0), 2, "old").is_empty());
    }

    #[test]
    fn a_new_connection_starts_counting_again() {
        let mut order = AckOrder::default();
        assert!(order.handled(at(1, 1), 1, "waits forever").is_empty());
        assert_eq!(
            order.handled(at(2, 0), 2, "first of the new"),
            ["first of the new"]
        );
    }
}
