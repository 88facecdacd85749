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

    /// Reads the state `devices`' messages will use, changing nothing: each
    /// pass reads every cache line the messages' handling reads at that depth.
    fn fetch(&self, devices: &[&DeviceId]) {
        let mut read = 0;
        let mut found: SmallVec<[&Device; GROUP]> = SmallVec::new();
        for device in devices {
            let Some(slot) = self.devices.likely_slot(device.as_str()) else {
                continue;
            };
            if let Some((id, device)) = self.devices.entry(slot) {
                read ^= id.len() as u64 ^ device.touch();
                found.push(device);
            }
        }
        let mut entries: SmallVec<[&Entry; GROUP]> = SmallVec::new();
        for membership in found.iter().flat_map(|device| device.orders.iter()) {
            if let Some(entry) = self.orders.at(membership.order) {
                read ^= entry.touch();
                entries.push(entry);
            }
        }
        for entry in entries {
            let id = entry.order.id.as_str().as_bytes();
            read ^= id.first().copied().map_or(0, u64::from);
            read ^= entry.order.zones.iter().fold(0, |read, zone| {
                read ^ zone.shape.touch() ^ zone.thresholds.prealarm_m.to_bits()
            });
            read ^= entry
                .keys
                .all()
                .filter_map(|slot| self.devices.at(slot))
                .fold(0, |read, device| read ^ device.touch_latest());
        }
        black_box(read);
    }
}

impl Device {
    /// Reads what handling a message of this device reads.
    fn touch(&self) -> u64 {
        self.orders.first().map_or(0, |m| u64::from(m.order))
            ^ self.state.dedup.touch()
            ^ self.state.track.touch()
            ^ self.touch_latest()
            ^ self.state.last_heard.map_or(0, |t| t.millis())
    }

    /// Reads what another party's message reads of this device.
    fn touch_latest(&self) -> u64 {
        let latest = self.state.track.latest();
        latest.map_or(0, |l| l.position.ts.millis())
    }
}

impl Entry {
    /// Reads what evaluating a message against this order reads first.
    fn touch(&self) -> u64 {
        let (order, state) = (&self.order, &self.state);
        state.ended.map_or(0, |t| t.millis())
            ^ order.valid_from.map_or(0, |t| t.millis())
            ^ order.valid_until.map_or(0, |t| t.millis())
            ^ order.proximity.map_or(0, |p| p.prealarm_m.to_bits())
            ^ (order.victims.len() ^ order.perpetrators.len()) as u64
            ^ state.zone_levels.len() as u64
            ^ state.pairs.first().map_or(0, |p| p.level as u64)
            ^ state.alerts.len() as u64
            ^ order.zones.len() as u64
            ^ self.keys.all().fold(0, |read, slot| read ^ u64::from(slot))
    }
}
