//! What plugins contribute, stored by extension point: one vector per
//! contributed type, holding the values alone, so contributing allocates no
//! box per component. Every component's name, plugin and type are kept
//! apart, in one vector in the order contributed: the checks walk it
//! without reaching into the typed vectors, and the `n`th slot of a type is
//! the `n`th value in its vector, so a value needs no index back to its
//! slot.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;

use crate::table::{SEED, Table, hash};

/// One contribution, in the order contributed (registry order): 24 bytes.
struct Slot {
    name: Name,
    /// The contributing plugin's index in the registry.
    plugin: u32,
    /// Its type's place in `Components::kinds`.
    kind: u32,
}

/// A component's name: a literal as it is, or a `String` a plugin computed,
/// kept in `Components::owned`. 16 bytes where a `Cow` takes 24: a registry
/// writes one per component to fresh memory.
enum Name {
    Static(&'static str),
    Owned(u32),
}

/// The values of one type, in the order contributed.
struct Values<T>(Vec<T>);

/// A vector of values of one type, its type erased.
trait Store: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn pop(&mut self);
    /// The `i`th value.
    fn value(&self, i: usize) -> Option<&(dyn Any + Send + Sync)>;
}

impl<T: Any + Send + Sync> Store for Values<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn pop(&mut self) {
        self.0.pop();
    }

    fn value(&self, i: usize) -> Option<&(dyn Any + Send + Sync)> {
        Some(self.0.get(i)?)
    }
}

/// The components of one type.
struct Kind {
    type_id: TypeId,
    type_name: &'static str,
    store: Box<dyn Store>,
}

/// Every component of a registry.
#[derive(Default)]
pub(crate) struct Components {
    /// How many plugins register: the capacity a new kind starts with, so
    /// its vector never moves (capacity no plugin fills is never touched,
    /// so it costs no memory).
    plugins: usize,
    /// One per contributed type, in the order first contributed.
    kinds: Vec<Kind>,
    /// Every component in the order contributed (registry order).
    slots: Vec<Slot>,
    /// The names plugins computed, in the order contributed.
    owned: Vec<Box<str>>,
}

/// One component as a host sees it: the plugin that contributed it, its
/// name, and its value.
#[derive(Clone, Copy)]
pub struct Component<'a> {
    pub(crate) plugin: &'static str,
    pub(crate) name: &'a str,
    pub(crate) type_name: &'static str,
    pub(crate) value: &'a (dyn Any + Send + Sync),
}

impl<'a> Component<'a> {
    /// Id of the plugin that contributed it.
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// Its name, unique among the components of its type.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name of its type (the extension point).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The value, if it is of type `T`.
    pub fn downcast<T: Any>(&self) -> Option<&'a T> {
        self.value.downcast_ref()
    }
}

impl fmt::Debug for Component<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("plugin", &self.plugin)
            .field("name", &self.name)
            .field("type", &self.type_name)
            .finish_non_exhaustive()
    }
}

/// A component by position: `(plugin index, kind, name)`, for the checks.
pub(crate) struct Key<'a> {
    pub plugin: usize,
    pub kind: usize,
    pub name: &'a str,
}

/// Two components of one type under one name: the type's place in
/// `kinds`, the name, and the plugins that contributed them, in registry
/// order.
pub(crate) struct Duplicate<'a> {
    pub kind: usize,
    pub name: &'a str,
    pub first: usize,
    pub second: usize,
}

impl Components {
    /// Components for `plugins` plugins.
    pub(crate) fn new(plugins: usize) -> Components {
        Components {
            plugins,
            kinds: Vec::new(),
            slots: Vec::with_capacity(plugins),
            owned: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Adds `value`, contributed by plugin `plugin` under `name`.
    #[inline]
    pub(crate) fn push<T: Any + Send + Sync>(
        &mut self,
        plugin: usize,
        name: Cow<'static, str>,
        value: T,
    ) {
        let type_id = TypeId::of::<T>();
        // Hosts have a few extension points: a short walk, most recent first.
        let kind = match self.kinds.iter().rposition(|k| k.type_id == type_id) {
            Some(kind) => kind,
            None => {
                self.kinds.push(Kind {
                    type_id,
                    type_name: std::any::type_name::<T>(),
                    store: Box::new(Values::<T>(Vec::with_capacity(self.plugins))),
                });
                self.kinds.len() - 1
            }
        };
        self.kinds[kind]
            .store
            .as_any_mut()
            .downcast_mut::<Values<T>>()
            .expect("a kind stores values of its own type")
            .0
            .push(value);
        let name = match name {
            Cow::Borrowed(name) => Name::Static(name),
            Cow::Owned(name) => {
                self.owned.push(name.into_boxed_str());
                Name::Owned(index(self.owned.len() - 1))
            }
        };
        self.slots.push(Slot {
            name,
            plugin: index(plugin),
            kind: index(kind),
        });
    }

    /// Takes back every component added after the first `len`.
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.slots.len() > len {
            // The last component of a kind is the last entry of its vector.
            if let Some(slot) = self.slots.pop() {
                if let Some(kind) = self.kinds.get_mut(slot.kind as usize) {
                    kind.store.pop();
                }
                if let Name::Owned(_) = slot.name {
                    self.owned.pop();
                }
            }
        }
    }

    /// The components of type `T`, in registry order, as `(plugin index,
    /// name, value)`: `T`'s slots, in order, beside its values.
    pub(crate) fn of<T: Any>(&self) -> impl Iterator<Item = (usize, &str, &T)> + '_ {
        let type_id = TypeId::of::<T>();
        let kind = self.kinds.iter().position(|k| k.type_id == type_id);
        let values = kind
            .and_then(|k| self.kinds.get(k))
            .and_then(|k| k.store.as_any().downcast_ref::<Values<T>>());
        self.slots
            .iter()
            .filter(move |slot| Some(slot.kind as usize) == kind)
            .zip(values.into_iter().flat_map(|values| &values.0))
            .map(|(slot, value)| (slot.plugin as usize, self.name(slot), value))
    }

    /// Plugin indexes of the components whose type is named `type_name`
    /// but is not `type_id`, in registry order.
    pub(crate) fn foreign(&self, type_id: TypeId, type_name: &str) -> Vec<usize> {
        let foreign: Vec<usize> = (0..self.kinds.len())
            .filter(|&k| self.kinds[k].type_name == type_name && self.kinds[k].type_id != type_id)
            .collect();
        if foreign.is_empty() {
            return Vec::new();
        }
        self.keys()
            .filter(|key| foreign.contains(&key.kind))
            .map(|key| key.plugin)
            .collect()
    }

    /// Every component by position, in registry order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = Key<'_>> + '_ {
        self.slots.iter().map(|slot| self.key_of(slot))
    }

    /// The first component, in registry order, whose type and name an
    /// earlier one has.
    pub(crate) fn first_duplicate(&self) -> Option<Duplicate<'_>> {
        let mut seen = Table::with_capacity(self.slots.len());
        for (i, slot) in self.slots.iter().enumerate() {
            let name = self.name(slot);
            let hash = hash(name.as_bytes(), SEED ^ u64::from(slot.kind));
            let same = |j: usize| {
                self.slots
                    .get(j)
                    .is_some_and(|other| other.kind == slot.kind && self.name(other) == name)
            };
            if let Some(first) = seen.insert(hash, i, same) {
                let second = slot.plugin as usize;
                return Some(Duplicate {
                    kind: slot.kind as usize,
                    name,
                    // The table holds only indexes of slots.
                    first: self.slots.get(first).map_or(second, |s| s.plugin as usize),
                    second,
                });
            }
        }
        None
    }

    /// Every component in registry order, with its plugin's index; `id`
    /// names the plugin at an index.
    pub(crate) fn all<'a>(
        &'a self,
        id: impl Fn(usize) -> &'static str + 'a,
    ) -> impl Iterator<Item = (usize, Component<'a>)> + 'a {
        // Where each kind's next component is in its vector.
        let mut next = vec![0usize; self.kinds.len()];
        self.slots.iter().filter_map(move |slot| {
            let at = next.get_mut(slot.kind as usize)?;
            let kind = self.kinds.get(slot.kind as usize)?;
            let value = kind.store.value(*at)?;
            *at += 1;
            let plugin = slot.plugin as usize;
            Some((
                plugin,
                Component {
                    plugin: id(plugin),
                    name: self.name(slot),
                    type_name: kind.type_name,
                    value,
                },
            ))
        })
    }

    /// The name of kind `kind`'s type.
    pub(crate) fn type_name(&self, kind: usize) -> &'static str {
        self.kinds.get(kind).map_or("", |k| k.type_name)
    }
}

impl Components {
    fn name(&self, slot: &Slot) -> &str {
        match slot.name {
            Name::Static(name) => name,
            Name::Owned(at) => self.owned.get(at as usize).map_or("", |name| name),
        }
    }

    fn key_of<'a>(&'a self, slot: &'a Slot) -> Key<'a> {
        Key {
            plugin: slot.plugin as usize,
            kind: slot.kind as usize,
            name: self.name(slot),
        }
    }
}

impl fmt::Debug for Components {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.keys()
                    .map(|key| (key.plugin, self.type_name(key.kind), key.name)),
            )
            .finish()
    }
}

/// An index stored in 32 bits: a registry of four billion components is
/// not a thing.
#[inline]
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 plugins and components")
}
