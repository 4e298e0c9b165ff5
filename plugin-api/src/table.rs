//! A hash table of small indexes: the registry's maps from ids and from
//! component keys, in 2 bytes a slot (4 in tables of more than 65,536
//! slots). The keys live in the registry's own vectors; a slot holds the
//! index of its entry and, in the bits the index leaves free, some of its
//! hash: a probe compares the key, through a closure, only where those bits
//! match. Sized once for the entries it will hold (at most half full), so
//! it never grows, and it touches a few pages where a `HashMap` of keys
//! touches many: at start-up every fresh page costs a fault.

/// FNV-1a, 64 bits: keys are ids and type names fixed when the binary was
/// built, short, and not chosen by an attacker.
#[inline]
pub(crate) fn hash(bytes: &[u8], mut state: u64) -> u64 {
    for &byte in bytes {
        state = (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    state
}

/// FNV-1a's offset basis: the state to start [`hash`] from.
pub(crate) const SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// A slot no entry holds. A stored slot is never 0: it holds the entry's
/// index plus one.
const EMPTY: u32 = 0;

#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// Each slot: the entry's index plus one in the low `bits` bits, and
    /// the top bits of its hash above them (`tags`), so a probe passes over
    /// another key without comparing it. At most half full, so an index
    /// plus one always fits in `bits`.
    slots: Slots,
    bits: u32,
    tags: u32,
}

/// Two bytes a slot while the indexes fit (tables of up to 65,536 slots),
/// four beyond: half the fresh pages for a registry's tables.
#[derive(Debug, Clone)]
enum Slots {
    Narrow(Box<[u16]>),
    Wide(Box<[u32]>),
}

impl Slots {
    #[inline]
    fn len(&self) -> usize {
        match self {
            Slots::Narrow(slots) => slots.len(),
            Slots::Wide(slots) => slots.len(),
        }
    }

    #[inline]
    fn get(&self, slot: usize) -> u32 {
        match self {
            Slots::Narrow(slots) => u32::from(slots[slot]),
            Slots::Wide(slots) => slots[slot],
        }
    }

    /// Stores `value`, which fits the slot's width (`Table::tags` keeps
    /// every bit above it clear).
    #[inline]
    fn set(&mut self, slot: usize, value: u32) {
        match self {
            Slots::Narrow(slots) => slots[slot] = value as u16,
            Slots::Wide(slots) => slots[slot] = value,
        }
    }
}

impl Table {
    /// A table for up to `entries` entries.
    pub(crate) fn with_capacity(entries: usize) -> Table {
        let size = entries.saturating_mul(2).max(8).next_power_of_two();
        assert!(u32::try_from(size).is_ok(), "fewer than 2^31 entries");
        let bits = size.trailing_zeros();
        let index_bits = (1u32 << bits) - 1;
        // Written, not `calloc`ed: glibc's calloc left the benchmark more
        // fresh pages to fault in.
        let (slots, width) = if bits <= 16 {
            let slots = std::iter::repeat_n(EMPTY as u16, size).collect();
            (Slots::Narrow(slots), u32::from(u16::MAX))
        } else {
            (
                Slots::Wide(std::iter::repeat_n(EMPTY, size).collect()),
                u32::MAX,
            )
        };
        Table {
            slots,
            bits,
            tags: width & !index_bits,
        }
    }

    /// The slot for the entry at `index` under `hash`.
    #[inline]
    fn encode(&self, hash: u64, index: usize) -> u32 {
        let index = u32::try_from(index)
            .ok()
            .filter(|&i| i < (1 << self.bits) - 1)
            .expect("no more entries than the table was sized for");
        self.tag(hash) | (index + 1)
    }

    /// The bits of a slot that come from its entry's hash.
    #[inline]
    fn tag(&self, hash: u64) -> u32 {
        // The hash's top bits, above the index; its low bits chose the
        // slot.
        let top = (hash >> 32) as u32;
        top.checked_shl(self.bits).unwrap_or(0) & self.tags
    }

    /// The entry's index in a stored slot.
    #[inline]
    fn index(&self, slot: u32) -> usize {
        ((slot & !self.tags) - 1) as usize
    }

    /// The entry whose key `is` recognises, among those stored under `hash`.
    #[inline]
    pub(crate) fn get(&self, hash: u64, mut is: impl FnMut(usize) -> bool) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let tag = self.tag(hash);
        let mut slot = (hash as usize) & mask;
        loop {
            match self.slots.get(slot) {
                EMPTY => return None,
                stored if stored & self.tags == tag && is(self.index(stored)) => {
                    return Some(self.index(stored));
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Stores `index` under `hash`, its key known to be new.
    #[inline]
    pub(crate) fn insert_unique(&mut self, hash: u64, index: usize) {
        self.insert(hash, index, |_| false);
    }

    /// Stores `index` under `hash` unless an entry `is` recognises is there
    /// already: then that entry, and nothing is stored.
    #[inline]
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        index: usize,
        mut is: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let new = self.encode(hash, index);
        let tag = new & self.tags;
        let mut slot = (hash as usize) & mask;
        loop {
            match self.slots.get(slot) {
                EMPTY => {
                    self.slots.set(slot, new);
                    return None;
                }
                stored if stored & self.tags == tag && is(self.index(stored)) => {
                    return Some(self.index(stored));
                }
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

    /// Keys in tables of both widths: the largest two-byte table (32,768
    /// entries in 65,536 slots) and the smallest four-byte one.
    #[test]
    fn finds_every_key_in_narrow_and_wide_tables() {
        for entries in [32_768, 32_769] {
            let keys: Vec<String> = (0..entries).map(|i| format!("key-{i}")).collect();
            let mut table = Table::with_capacity(entries);
            assert_eq!(
                matches!(table.slots, Slots::Wide(_)),
                entries > 32_768,
                "{entries} entries"
            );
            for (i, key) in keys.iter().enumerate() {
                let found = table.insert(hash(key.as_bytes(), SEED), i, |j| keys[j] == *key);
                assert_eq!(found, None, "{key} is new");
            }
            for (i, key) in keys.iter().enumerate() {
                let hash = hash(key.as_bytes(), SEED);
                assert_eq!(table.get(hash, |j| keys[j] == *key), Some(i));
                assert_eq!(table.insert(hash, entries, |j| keys[j] == *key), Some(i));
            }
            let missing = hash(b"key-missing", SEED);
            assert_eq!(table.get(missing, |j| keys[j] == "key-missing"), None);
        }
    }

    /// Keys whose hashes pick the same slot but differ above it are told
    /// apart by the bits kept in the slot: the key is compared only once,
    /// for the entry that is the one looked for.
    #[test]
    fn a_probe_compares_only_keys_whose_stored_hash_bits_match() {
        let hashes = [
            0x0000_0001_0000_0005_u64,
            0x0000_0002_0000_0005,
            0x0000_0003_0000_0005,
        ];
        let mut table = Table::with_capacity(hashes.len());
        for (i, &hash) in hashes.iter().enumerate() {
            assert_eq!(
                table.insert(hash, i, |_| panic!("no other key has these bits")),
                None
            );
        }
        let mut compared = Vec::new();
        let found = table.get(hashes[2], |j| {
            compared.push(j);
            true
        });
        assert_eq!((found, compared), (Some(2), vec![2]));
    }
}
