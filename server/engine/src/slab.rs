//! Values in slots that never move, found by id through a hash table, so that
//! one value can point at another by slot number instead of hashing its id.

use std::hash::BuildHasher;

use compact_str::CompactString;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Values by slot, and the slot of each id.
///
/// Each value sits beside its id (an inline string of up to 24 bytes) in one
/// vector, which grows by an eighth at a time (one entry at a time while it
/// is small) so that its spare capacity stays small: the service runs an
/// engine per order, whose slabs hold one order and two devices. The hash table holds only slot numbers (4 bytes each), so
/// that it stays small enough for the cache, and an id is compared where its
/// value lies, which the caller reads next anyway. FxHash is enough, as only
/// known orders and devices are inserted.
#[derive(Debug, Clone)]
pub(crate) struct Slab<T> {
    entries: Vec<(CompactString, T)>,
    slots: HashTable<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            slots: HashTable::new(),
        }
    }
}

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

impl<T> Slab<T> {
    /// The slot of `id`.
    pub fn slot(&self, id: &str) -> Option<u32> {
        let entries = &self.entries;
        let holds = |slot: &u32| {
            entries
                .get(*slot as usize)
                .is_some_and(|(key, _)| key == id)
        };
        self.slots.find(hash(id), holds).copied()
    }

    /// The value in `slot`.
    pub fn at(&self, slot: u32) -> Option<&T> {
        self.entries.get(slot as usize).map(|(_, value)| value)
    }

    /// The value in `slot`, to change.
    pub fn at_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.entries.get_mut(slot as usize).map(|(_, value)| value)
    }

    /// The value of `id`.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.at(self.slot(id)?)
    }

    /// The value of `id`, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.at_mut(self.slot(id)?)
    }

    /// Puts `value` in the slot of `id`, taking a new slot for a new id.
    pub fn put(&mut self, id: &str, value: T) -> u32 {
        match self.slot(id) {
            Some(slot) => {
                if let Some(old) = self.at_mut(slot) {
                    *old = value;
                }
                slot
            }
            None => self.push(id, value),
        }
    }

    /// The slot of `id`, made with `make` if it has none.
    pub fn slot_or_insert_with(&mut self, id: &str, make: impl FnOnce() -> T) -> u32 {
        match self.slot(id) {
            Some(slot) => slot,
            None => self.push(id, make()),
        }
    }

    fn push(&mut self, id: &str, value: T) -> u32 {
        let slot = self.entries.len() as u32;
        if self.entries.len() == self.entries.capacity() {
            self.entries.reserve_exact((self.entries.len() / 8).max(1));
        }
        self.entries.push((id.into(), value));
        let entries = &self.entries;
        let rehash = |slot: &u32| entries.get(*slot as usize).map_or(0, |(key, _)| hash(key));
        self.slots.insert_unique(hash(id), slot, rehash);
        slot
    }

    /// Every value.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, value)| value)
    }

    /// Every value, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|(_, value)| value)
    }

    /// Every id with its value, to change.
    pub fn ids_mut(&mut self) -> impl Iterator<Item = (&str, &mut T)> {
        self.entries
            .iter_mut()
            .map(|(id, value)| (id.as_str(), value))
    }
}
