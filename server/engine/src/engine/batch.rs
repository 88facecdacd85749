//! Many messages at once. A message's state lies in a few places far apart in
//! memory (its device, its orders, their zones, the other party's device), and
//! with many orders each is a cache miss. Before each group of messages runs,
//! the engine reads, as a pipeline, the devices of the group two ahead, the
//! orders of the next group (whose devices are by then in the cache) and the
//! zones and other parties of this group: none of these reads waits for
//! another, so that their misses overlap instead of following one another.

use std::hint::black_box;

use smallvec::SmallVec;
use vangnet_proto::{DeviceId, TimestampMs};

use super::{Device, Engine, Entry, Event};
use crate::effect::Effect;

/// Messages whose state is fetched together.
const GROUP: usize = 16;
/// What a fix usually yields (history, the device's and the order's state),
/// so that the effects of a batch are rarely moved while it grows.
const EFFECTS_PER_MESSAGE: usize = 3;
/// Batches of up to this many messages keep their devices' slots inline.
const INLINE_SLOTS: usize = 64;

impl Engine {
    /// Handles `messages` in the order given: the same changes and effects,
    /// in the same order, as [`Engine::handle`] on each, but faster when
    /// many devices report.
    pub fn handle_batch<'d>(
        &mut self,
        messages: impl IntoIterator<Item = (&'d DeviceId, Event, TimestampMs)>,
    ) -> Vec<Effect> {
        let messages: Vec<_> = messages.into_iter().collect();
        let slots: SmallVec<[Option<u32>; INLINE_SLOTS]> = messages
            .iter()
            .map(|(device, ..)| self.devices.likely_slot(device.as_str()))
            .collect();
        let group = |k: usize| {
            let start = (k * GROUP).min(slots.len());
            &slots[start..slots.len().min(start + GROUP)]
        };
        black_box(self.read_devices(group(0)) ^ self.read_devices(group(1)));
        black_box(self.read_orders(group(0)));
        let mut effects = Vec::with_capacity(EFFECTS_PER_MESSAGE * messages.len());
        for (i, ((device, event, now), hint)) in messages.into_iter().zip(&slots).enumerate() {
            if i % GROUP == 0 {
                let k = i / GROUP;
                let read = self.read_devices(group(k + 2))
                    ^ self.read_orders(group(k + 1))
                    ^ self.read_rest(group(k));
                black_box(read);
            }
            self.handle_into((device, *hint), event, now, &mut effects);
        }
        effects
    }

    /// The devices in `slots`.
    fn found<'a>(&'a self, slots: &'a [Option<u32>]) -> impl Iterator<Item = &'a Device> {
        slots.iter().filter_map(|&slot| self.devices.at(slot?))
    }

    /// The orders of the devices in `slots`.
    fn entries<'a>(&'a self, slots: &'a [Option<u32>]) -> impl Iterator<Item = &'a Entry> {
        self.found(slots)
            .flat_map(|device| device.orders.iter())
            .filter_map(|m| self.orders.at(m.order))
    }

    /// First stage: the devices in `slots`, with their ids.
    fn read_devices(&self, slots: &[Option<u32>]) -> u64 {
        let entries = slots.iter().filter_map(|&slot| self.devices.entry(slot?));
        entries.fold(0, |read, (id, device)| {
            read ^ id.len() as u64 ^ device.touch()
        })
    }

    /// Second stage, once the devices are in the cache: their orders.
    fn read_orders(&self, slots: &[Option<u32>]) -> u64 {
        self.entries(slots)
            .fold(0, |read, entry| read ^ entry.touch())
    }

    /// Last stage, once the orders are in the cache: their ids, their zones
    /// and the other parties' devices.
    fn read_rest(&self, slots: &[Option<u32>]) -> u64 {
        self.entries(slots).fold(0, |mut read, entry| {
            let order = &entry.order;
            read ^= order
                .id
                .as_str()
                .as_bytes()
                .first()
                .copied()
                .map_or(0, u64::from);
            read ^= order.zones.iter().fold(0, |read, zone| {
                read ^ zone.shape.touch() ^ zone.thresholds.prealarm_m.to_bits()
            });
            entry
                .keys
                .all()
                .filter_map(|slot| self.devices.at(slot))
                .fold(read, |read, device| read ^ device.touch_latest())
        })
    }
}

impl Device {
    /// Reads every cache line handling a message of this device reads.
    fn touch(&self) -> u64 {
        let state = &self.state;
        self.orders.first().map_or(0, |m| u64::from(m.order))
            ^ state.dedup.touch()
            ^ state.track.touch()
            ^ u64::from(state.last_heard.is_some())
    }

    /// Reads what another party's message reads of this device.
    fn touch_latest(&self) -> u64 {
        self.state.track.touch_latest()
    }
}

impl Entry {
    /// Reads every cache line evaluating a message against this order reads.
    fn touch(&self) -> u64 {
        let (order, state, keys) = (&self.order, &self.state, &self.keys);
        let lengths = order.perpetrators.len() ^ order.zones.len() ^ order.id.as_str().len();
        let options = [
            order.proximity.is_some(),
            order.valid_from.is_some(),
            order.valid_until.is_some(),
            state.ended.is_some(),
            state.zone_levels.spilled(),
            state.pairs.spilled(),
            keys.victims.spilled(),
            keys.perpetrators.spilled(),
        ];
        let flags = options
            .into_iter()
            .fold(0, |flags, option| flags << 1 | u64::from(option));
        lengths as u64 ^ flags ^ state.since.millis() ^ state.alerts.len() as u64
    }
}
