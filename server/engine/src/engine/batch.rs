//! Many messages at once. A message's state lies in a few places far apart in
//! memory (its device, its orders, their zones, the other party's device), and
//! with many orders each is a cache miss. Before a group of messages runs,
//! their state is read in passes whose reads do not depend on each other, so
//! that the misses of the whole group overlap instead of following one another.

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

impl Engine {
    /// Handles `messages` in the order given: the same changes and effects,
    /// in the same order, as [`Engine::handle`] on each, but faster when
    /// many devices report.
    pub fn handle_batch<'d>(
        &mut self,
        messages: impl IntoIterator<Item = (&'d DeviceId, Event, TimestampMs)>,
    ) -> Vec<Effect> {
        let messages: Vec<_> = messages.into_iter().collect();
        let devices: Vec<&DeviceId> = messages.iter().map(|(device, ..)| *device).collect();
        let mut effects = Vec::with_capacity(EFFECTS_PER_MESSAGE * messages.len());
        for (i, (device, event, now)) in messages.into_iter().enumerate() {
            if i % GROUP == 0 {
                self.fetch(&devices[i..devices.len().min(i + GROUP)]);
            }
            self.handle_into(device, event, now, &mut effects);
        }
        effects
    }

    /// Reads the state `devices`' messages will use, changing nothing.
    fn fetch(&self, devices: &[&DeviceId]) {
        let slots: SmallVec<[u32; GROUP]> = devices
            .iter()
            .filter_map(|d| self.devices.likely_slot(d.as_str()))
            .collect();
        let found = || slots.iter().filter_map(|&slot| self.devices.entry(slot));
        let mut read = found().fold(0, |read, (id, device)| {
            read ^ id.len() as u64 ^ device.touch()
        });
        let entries = || {
            found()
                .flat_map(|(_, device)| device.orders.iter())
                .filter_map(|m| self.orders.at(m.order))
        };
        read = entries().fold(read, |read, entry| read ^ entry.touch());
        for entry in entries() {
            read ^= entry
                .order
                .zones
                .iter()
                .fold(0, |read, zone| read ^ zone.thresholds.prealarm_m.to_bits());
            read ^= entry
                .keys
                .all()
                .filter_map(|slot| self.devices.at(slot))
                .fold(0, |read, device| read ^ device.touch());
        }
        black_box(read);
    }
}

impl Device {
    /// Reads what handling a message of this device reads first.
    fn touch(&self) -> u64 {
        let latest = self.state.track.latest();
        self.orders.len() as u64
            ^ self.state.dedup.touch()
            ^ self.state.track.touch()
            ^ latest.map_or(0, |l| l.position.ts.millis())
            ^ self.state.last_heard.map_or(0, |t| t.millis())
    }
}

impl Entry {
    /// Reads what evaluating a message against this order reads first.
    fn touch(&self) -> u64 {
        let state = &self.state;
        state.ended.map_or(0, |t| t.millis())
            ^ self.order.valid_until.map_or(0, |t| t.millis())
            ^ state.zone_levels.len() as u64
            ^ state.pairs.first().map_or(0, |p| p.level as u64)
            ^ state.alerts.len() as u64
            ^ self.order.zones.len() as u64
            ^ self.keys.victims.first().copied().map_or(0, u64::from)
    }
}
