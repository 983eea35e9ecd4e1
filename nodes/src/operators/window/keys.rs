//! The keys of a window node: each key's state in a numbered slot, found by the key's
//! canonical text.
//!
//! One hash of the text finds a key (SipHash with per-table random keys, so input cannot
//! flood it), and the slot number then names the key everywhere else (the firing and
//! clean-up queues) at the cost of an index. Texts are compared without `memcmp`
//! ([`crate::field_lookup::same`]). A removed key's slot is reused, so the table's size
//! follows the keys that have state, not the keys ever seen.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::field_lookup::same;

/// A key's text and state.
struct Slot<T> {
    text: String,
    state: T,
}

/// Keys by text, their states by slot.
pub struct KeyTable<T> {
    slots: Vec<Option<Slot<T>>>,
    free: Vec<usize>,
    index: HashTable<usize>,
    hasher: RandomState,
    text_bytes: usize,
}

impl<T> Default for KeyTable<T> {
    fn default() -> Self {
        KeyTable {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
            text_bytes: 0,
        }
    }
}

impl<T> KeyTable<T> {
    /// The slot of the key with this text, if it has state.
    pub fn find(&self, text: &str) -> Option<usize> {
        let slots = &self.slots;
        let hash = self.hasher.hash_one(text);
        self.index.find(hash, |&s| slots[s].as_ref().is_some_and(|k| same(&k.text, text))).copied()
    }

    /// Adds a key that [`KeyTable::find`] did not find; returns its slot.
    pub fn insert(&mut self, text: String, state: T) -> usize {
        let hash = self.hasher.hash_one(text.as_str());
        self.text_bytes += text.len();
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.slots[slot] = Some(Slot { text, state });
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, slot, |&s| slots[s].as_ref().map_or(0, |k| hasher.hash_one(k.text.as_str())));
        slot
    }

    /// The state in `slot`.
    pub fn get(&self, slot: usize) -> Option<&T> {
        self.slots.get(slot)?.as_ref().map(|k| &k.state)
    }

    /// The state in `slot`, to change.
    pub fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.slots.get_mut(slot)?.as_mut().map(|k| &mut k.state)
    }

    /// Forgets the key in `slot`; returns its state.
    pub fn remove(&mut self, slot: usize) -> Option<T> {
        let removed = self.slots.get_mut(slot)?.take()?;
        let hash = self.hasher.hash_one(removed.text.as_str());
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.text_bytes -= removed.text.len();
        self.free.push(slot);
        Some(removed.state)
    }

    /// Keys with state.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Bytes of the keys' texts.
    pub fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    /// Every key's state.
    pub fn states(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten().map(|k| &k.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_until_removed_and_reuses_slots() {
        let mut t = KeyTable::default();
        let a = t.insert("a".into(), 1);
        let b = t.insert("bb".into(), 2);
        assert_eq!((t.find("a"), t.find("bb"), t.find("c"), t.find("")), (Some(a), Some(b), None, None));
        assert_eq!((t.len(), t.text_bytes()), (2, 3));
        *t.get_mut(a).expect("a") += 10;
        assert_eq!(t.remove(a), Some(11));
        assert_eq!(t.remove(a), None, "removed already");
        assert_eq!((t.find("a"), t.get(a), t.len(), t.text_bytes()), (None, None, 1, 2));
        let c = t.insert("c".into(), 3);
        assert_eq!(c, a, "a freed slot is reused");
        assert_eq!((t.find("c"), t.find("a"), t.get(b)), (Some(c), None, Some(&2)));
        let mut states: Vec<_> = t.states().copied().collect();
        states.sort();
        assert_eq!(states, [2, 3]);
        // Many keys: the index grows and rehashes by the texts in the slots.
        for i in 0..1000 {
            t.insert(format!("k{i}"), i);
        }
        assert!((0..1000).all(|i| t.find(&format!("k{i}")).and_then(|s| t.get(s)) == Some(&i)));
    }
}
