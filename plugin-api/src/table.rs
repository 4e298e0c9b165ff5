//! A hash table of small indexes: the registry's maps from ids and from
//! component keys, in 4 bytes a slot. The keys live in the registry's own
//! vectors; a slot holds only the index of its entry, and a probe compares
//! the key through a closure. Sized once for the entries it will hold (at
//! most half full), so it never grows, and it touches a few pages where a
//! `HashMap` of keys touches many: at start-up every fresh page costs a
//! fault.

/// FNV-1a, 64 bits: keys are ids and type names fixed when the binary was
/// built, short, and not chosen by an attacker.
pub(crate) fn hash(bytes: &[u8], mut state: u64) -> u64 {
    for &byte in bytes {
        state = (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    state
}

/// FNV-1a's offset basis: the state to start [`hash`] from.
pub(crate) const SEED: u64 = 0xcbf2_9ce4_8422_2325;

const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Table {
    slots: Box<[u32]>,
}

impl Table {
    /// A table for up to `entries` entries.
    pub(crate) fn with_capacity(entries: usize) -> Table {
        let size = entries.saturating_mul(2).max(8).next_power_of_two();
        Table {
            slots: vec![EMPTY; size].into_boxed_slice(),
        }
    }

    /// The entry whose key `is` recognises, among those stored under `hash`.
    pub(crate) fn get(&self, hash: u64, mut is: impl FnMut(usize) -> bool) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            match self.slots[slot] {
                EMPTY => return None,
                index if is(index as usize) => return Some(index as usize),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Stores `index` under `hash`, its key known to be new.
    pub(crate) fn insert_unique(&mut self, hash: u64, index: usize) {
        self.insert(hash, index, |_| false);
    }

    /// Stores `index` under `hash` unless an entry `is` recognises is there
    /// already: then that entry, and nothing is stored.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        index: usize,
        mut is: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            match self.slots[slot] {
                EMPTY => {
                    self.slots[slot] = u32::try_from(index)
                        .ok()
                        .filter(|&i| i != EMPTY)
                        .expect("fewer than u32::MAX entries");
                    return None;
                }
                existing if is(existing as usize) => return Some(existing as usize),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_stored_and_refuses_a_second_equal_key() {
        let keys = ["a", "b", "c", "a", "d"];
        // Every key hashed alike: each probe walks past the others.
        let mut table = Table::with_capacity(keys.len());
        let mut stored = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match table.insert(7, i, |j| keys[j] == *key) {
                None => stored.push(i),
                Some(first) => assert_eq!((key, first), (&"a", 0)),
            }
        }
        assert_eq!(stored, [0, 1, 2, 4]);
        for (i, key) in keys.iter().enumerate().filter(|(i, _)| *i != 3) {
            assert_eq!(table.get(7, |j| keys[j] == *key), Some(i));
        }
        assert_eq!(table.get(7, |j| keys[j] == "e"), None);
        assert_eq!(
            Table::with_capacity(1).get(hash(b"e", SEED), |_| true),
            None
        );
    }
}
