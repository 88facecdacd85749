//! Values in slots that never move, found by id through a hash map, so that
//! one value can point at another by slot number instead of hashing its id.

use compact_str::CompactString;
use rustc_hash::FxHashMap;

/// Values by slot, and the slot of each id.
///
/// Values sit in one vector, which grows by an eighth at a time so that its
/// spare capacity stays small. The ids are inline strings (up to 24 bytes),
/// so finding a slot reads no other memory; FxHash is enough, as only known
/// orders and devices are inserted.
#[derive(Debug, Clone)]
pub(crate) struct Slab<T> {
    values: Vec<T>,
    slots: FxHashMap<CompactString, u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            slots: FxHashMap::default(),
        }
    }
}

impl<T> Slab<T> {
    /// The slot of `id`.
    pub fn slot(&self, id: &str) -> Option<u32> {
        self.slots.get(id).copied()
    }

    /// The value in `slot`.
    pub fn at(&self, slot: u32) -> Option<&T> {
        self.values.get(slot as usize)
    }

    /// The value in `slot`, to change.
    pub fn at_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.values.get_mut(slot as usize)
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
                self.values[slot as usize] = value;
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
        let slot = self.values.len() as u32;
        if self.values.len() == self.values.capacity() {
            self.values.reserve_exact(self.values.len() / 8 + 16);
        }
        self.values.push(value);
        self.slots.insert(id.into(), slot);
        slot
    }

    /// Every value.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.values.iter()
    }

    /// Every value, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.values.iter_mut()
    }

    /// Every id with its value, to change.
    pub fn ids_mut(&mut self) -> impl Iterator<Item = (&str, &mut T)> {
        let values = &mut self.values;
        let mut by_slot: Vec<(&str, u32)> =
            self.slots.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        by_slot.sort_unstable_by_key(|(_, s)| *s);
        by_slot.into_iter().map(|(id, _)| id).zip(values.iter_mut())
    }
}
