//! How the Redis store spreads partitions over a cluster's hash slots.
//!
//! A commit script writes a partition's keys and appends to the event log
//! and the time index in one step, and on a Redis Cluster one script may
//! only touch one hash slot. So on a cluster every partition belongs to one
//! of [`SHARDS`] shards, and a shard's partitions, event log and time index
//! share the shard's hash tag. The tags are chosen to fall in evenly spaced
//! slots, so the shards spread over the primaries as evenly as the slots do.
//! Readers of the event log follow every shard: an event id on a cluster is
//! the position reached in each shard ([`Positions`]).

use crate::store::EventId;

/// Shards on a cluster: more than primaries in any cluster this store is
/// sized for, few enough that a reader follows them all in one round trip.
pub(super) const SHARDS: usize = 16;

/// Slots in a Redis Cluster.
const SLOTS: u16 = 16384;

/// Where partitions live.
pub(super) enum Shards {
    /// One server: every partition has its own hash tag, and there is one event log.
    One,
    /// A cluster: the hash tag of each shard, by shard.
    Spread(Vec<String>),
}

impl Shards {
    /// [`SHARDS`] shards whose tags fall in evenly spaced slots.
    pub(super) fn spread() -> Self {
        let width = usize::from(SLOTS) / SHARDS;
        let tags = (0..SHARDS)
            .map(|shard| {
                let wanted = shard * width..(shard + 1) * width;
                (0u32..)
                    .map(|n| format!("s{shard}.{n}"))
                    .find(|tag| wanted.contains(&usize::from(slot(tag))))
                    .unwrap_or_else(|| format!("s{shard}"))
            })
            .collect();
        Self::Spread(tags)
    }

    /// How many event logs there are.
    pub(super) fn count(&self) -> usize {
        match self {
            Self::One => 1,
            Self::Spread(tags) => tags.len(),
        }
    }

    /// The shard that holds `partition`.
    pub(super) fn of(&self, partition: &str) -> usize {
        match self {
            Self::One => 0,
            Self::Spread(tags) => usize::from(slot(partition)) % tags.len().max(1),
        }
    }
}

/// The hash slot of a key (CRC16-XMODEM modulo 16384, as Redis Cluster computes it).
fn slot(key: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(key.as_bytes()) % SLOTS
}

/// A reader's position in each shard's event log: Redis stream ids, `0-0`
/// before the first event. On one server it is just the one stream id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Positions(pub(super) Vec<String>);

impl Positions {
    /// Where a reader at `after` stands in each of `shards` logs; an id of
    /// a single stream (from one server, or sent by an old client) stands
    /// for the same position in every shard.
    pub(super) fn of(after: Option<&EventId>, shards: usize) -> Self {
        let Some(after) = after else {
            return Self(vec!["0-0".to_owned(); shards]);
        };
        let parts: Vec<String> = after.as_str().split('.').map(str::to_owned).collect();
        if parts.len() == shards {
            Self(parts)
        } else {
            Self(vec![parts.first().cloned().unwrap_or_default(); shards])
        }
    }

    /// The event id of these positions.
    pub(super) fn id(&self) -> EventId {
        EventId(self.0.join("."))
    }
}
