//! The registry: every linked plugin, checked, ordered and instantiated.

use std::any::{Any, TypeId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use crate::components::{Component, Components};
use crate::config::ConfigValue;
use crate::descriptor::PluginDescriptor;
use crate::plugin::{Context, Plugin, Registrar};
use crate::set::{PluginSet, SetEntry};
use crate::table::{SEED, Table, hash};

/// `source` of a plugin registered by a crate outside the plugin set, such
/// as the host binary itself.
pub const HOST_SOURCE: &str = "host";

/// Where a plugin stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Registered; once [`Registry::init`] started it, how long its `init`
    /// took.
    Loaded { init_time: Option<Duration> },
    /// Disabled by the host at start-up.
    Disabled,
    /// Left out, with the reason: its registration or `init` failed or
    /// panicked, or a plugin it depends on was left out.
    Failed { reason: String },
}

impl Status {
    /// `loaded`, `disabled` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Loaded { .. } => "loaded",
            Status::Disabled => "disabled",
            Status::Failed { .. } => "failed",
        }
    }

    pub fn is_loaded(&self) -> bool {
        matches!(self, Status::Loaded { .. })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Loaded {
                init_time: Some(time),
            } => write!(f, "loaded (init {time:.1?})"),
            Status::Loaded { init_time: None } => f.write_str("loaded"),
            Status::Disabled => f.write_str("disabled"),
            Status::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// Facts about one plugin.
#[derive(Debug, Clone, Copy)]
pub struct PluginInfo<'a> {
    /// The plugin's descriptor, as `#[plugin]` registered it.
    pub descriptor: &'static PluginDescriptor,
    /// Where its crate came from, as recorded in `plugins.lock`
    /// ([`HOST_SOURCE`] when the crate is not in the plugin set).
    pub source: &'static str,
    /// The plugin set's entry for its crate: commit and checksum.
    pub entry: Option<&'static SetEntry>,
    pub status: &'a Status,
}

impl PluginInfo<'_> {
    /// The plugin's id.
    pub fn id(&self) -> &'static str {
        self.descriptor.id
    }
}

/// A plugin in the registry, in 32 bytes: building a registry writes one
/// per plugin to fresh memory, and every fresh page costs a fault.
struct Loaded {
    descriptor: &'static PluginDescriptor,
    instance: Option<Box<dyn Plugin>>,
    /// Its crate's entry in the plugin set's `entries`, or [`NO_ENTRY`].
    entry: u32,
    /// [`LOADED`], [`DISABLED`], or where its status is in
    /// `Registry::statuses` (a failure's reason, an init time).
    status: u32,
}

const NO_ENTRY: u32 = u32::MAX;
const LOADED: u32 = u32::MAX;
const DISABLED: u32 = u32::MAX - 1;

/// The statuses most plugins have after building, not stored per plugin.
static PLAIN_LOADED: Status = Status::Loaded { init_time: None };
static PLAIN_DISABLED: Status = Status::Disabled;

/// Every plugin linked into the binary, in a deterministic order:
/// dependencies first, ties broken by id.
pub struct Registry {
    set: &'static PluginSet,
    plugins: Vec<Loaded>,
    /// The statuses `Loaded::status` points at.
    statuses: Vec<Status>,
    /// Indexes into `plugins`, by id.
    by_id: Table,
    components: Components,
    /// Parsed configurations, by plugin id (of plugins that declare one).
    configs: FastMap<&'static str, Box<dyn Any + Send + Sync>>,
    /// How many plugins, in order, `init` has gone through.
    started: usize,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field(
                "plugins",
                &self
                    .plugins
                    .iter()
                    .map(|p| (p.descriptor.id, self.status(p)))
                    .collect::<Vec<_>>(),
            )
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

/// Chooses which plugins to enable before building a [`Registry`].
#[derive(Debug)]
pub struct Builder {
    set: &'static PluginSet,
    disabled: Vec<String>,
    /// The host's config file name and its plugin sections, by plugin id.
    config: Option<(String, BTreeMap<String, ConfigValue>)>,
}

impl Builder {
    /// Hands each plugin its section of the host's config file: `sections`
    /// maps plugin ids to their values; `file` names the file in errors.
    /// Plugins without a section get an empty table.
    pub fn config(
        mut self,
        file: impl Into<String>,
        sections: BTreeMap<String, ConfigValue>,
    ) -> Builder {
        self.config = Some((file.into(), sections));
        self
    }

    /// Leaves the plugin with this id out (from the host's config or flags).
    pub fn disable(mut self, id: impl Into<String>) -> Builder {
        self.disabled.push(id.into());
        self
    }

    /// Builds the registry from every plugin linked into this binary.
    pub fn build(self) -> Result<Registry, Error> {
        // Keeps the stamp's bytes in the binary whatever the optimiser sees
        // of its uses: `dist` reads the plugin set from them.
        core::hint::black_box(self.set.stamp);
        self.build_from(PluginDescriptor::linked())
    }

    /// Builds the registry from the given descriptors instead of the linked
    /// ones (for tests and benchmarks).
    pub fn build_from(
        self,
        descriptors: impl IntoIterator<Item = &'static PluginDescriptor>,
    ) -> Result<Registry, Error> {
        // Link order is unspecified (and differs between debug and release):
        // everything below starts from id order. Sorted on the ids' first
        // eight bytes as an integer first, which decides nearly every
        // comparison without comparing strings.
        // What the later passes would look for, noted in this first one.
        let (mut depends, mut configured) = (false, false);
        let mut keyed: Vec<(u64, &'static PluginDescriptor)> = descriptors
            .into_iter()
            .map(|d| {
                depends |= !d.depends_on.is_empty();
                configured |= d.config.is_some();
                (prefix_key(d.id), d)
            })
            .collect();
        keyed.sort_unstable_by_key(|&(key, _)| key);
        // Ids that share their first eight bytes are neighbours now: order
        // each such run by id, then crate. Only there can two ids be equal.
        let mut duplicate = None;
        let mut start = 0;
        while start < keyed.len() {
            let key = keyed[start].0;
            let end = start + keyed[start..].iter().take_while(|(k, _)| *k == key).count();
            if end - start > 1 {
                let run = &mut keyed[start..end];
                run.sort_unstable_by(|(_, a), (_, b)| {
                    (a.id, a.crate_name).cmp(&(b.id, b.crate_name))
                });
                if duplicate.is_none() {
                    duplicate = run
                        .windows(2)
                        .find(|pair| pair[0].1.id == pair[1].1.id)
                        .map(|pair| (pair[0].1, pair[1].1));
                }
            }
            start = end;
        }
        // Collected in place, into the memory `keyed` had.
        let descriptors: Vec<&'static PluginDescriptor> =
            keyed.into_iter().map(|(_, d)| d).collect();

        check_expected(self.set, &descriptors)?;
        if let Some((first, second)) = duplicate {
            return Err(duplicate_id(self.set, first, second));
        }
        let by_id = Index(&descriptors);
        // When nothing depends on anything, id order is the order.
        let sorted = if depends {
            Some(dependency_order(&descriptors, &by_id)?)
        } else {
            None
        };
        let order = sorted.as_deref().unwrap_or(&descriptors);
        check_disabled(&descriptors, &by_id, &self.disabled)?;
        let configs = if configured || self.config.is_some() {
            parse_configs(&descriptors, &by_id, &self.disabled, self.config.as_ref())?
        } else {
            FastMap::default()
        };

        let mut registry = Registry {
            set: self.set,
            plugins: Vec::with_capacity(order.len()),
            statuses: Vec::new(),
            by_id: Table::with_capacity(order.len()),
            // Most plugins register one component or a few.
            components: Components::new(order.len()),
            configs,
            started: 0,
        };
        // The first entry of each package, as `PluginSet::entry` finds it.
        let set_entries = self.set.entries;
        let mut entries = Table::with_capacity(set_entries.len());
        for (i, e) in set_entries.iter().enumerate() {
            entries.insert(hash_str(e.package), i, |j| {
                set_entries[j].package == e.package
            });
        }
        for &descriptor in order {
            let index = registry.plugins.len();
            // Ids are unique: no need to compare them.
            registry.by_id.insert_unique(hash_str(descriptor.id), index);
            let entry = if set_entries.is_empty() {
                None
            } else {
                entries.get(hash_str(descriptor.crate_name), |j| {
                    set_entries[j].package == descriptor.crate_name
                })
            };
            let entry = entry.map_or(NO_ENTRY, |j| u32::try_from(j).unwrap_or(NO_ENTRY));
            let (instance, status) = if self.disabled.iter().any(|d| d == descriptor.id) {
                (None, DISABLED)
            } else if let Some(reason) = registry.failed_dependency(descriptor) {
                (None, registry.aside(Status::Failed { reason }))
            } else {
                let config = match descriptor.config {
                    Some(_) => registry.configs.get(descriptor.id).map(|c| &**c),
                    None => None,
                };
                match register(descriptor, config, &mut registry.components, index) {
                    Ok(instance) => (Some(instance), LOADED),
                    Err(reason) => (None, registry.aside(Status::Failed { reason })),
                }
            };
            registry.plugins.push(Loaded {
                descriptor,
                instance,
                entry,
                status,
            });
        }
        // Freed first, so the check's table reuses their memory.
        drop(sorted);
        drop(descriptors);
        check_components(&registry)?;
        Ok(registry)
    }
}

/// Creates a plugin and adds what it registers to `components` (tagged
/// with `index`); a panic in either is caught and becomes the plugin's
/// failure, and whatever it had added is taken back. Inlined: returned
/// through memory, its result was read back before the writes reached the
/// cache, a stall per plugin.
#[inline(always)]
fn register(
    descriptor: &'static PluginDescriptor,
    config: Option<&(dyn Any + Send + Sync)>,
    components: &mut Components,
    index: usize,
) -> Result<Box<dyn Plugin>, String> {
    let before = components.len();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let instance = (descriptor.create)();
        instance.register(&mut Registrar {
            plugin: descriptor.id,
            components: &mut *components,
            index,
            config,
        });
        instance
    }));
    result.map_err(|panic| {
        components.truncate(before);
        format!("panicked while registering: {}", panic_message(&*panic))
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

impl Registry {
    /// Starts building a registry for `set`, the generated crate's
    /// `plugin_set::SET`; naming it is what links the plugin crates.
    pub fn builder(set: &'static PluginSet) -> Builder {
        Builder {
            set,
            disabled: Vec::new(),
            config: None,
        }
    }

    /// Builds the registry from every plugin linked into this binary, all
    /// enabled. Shorthand for `Registry::builder(set).build()`.
    pub fn build(set: &'static PluginSet) -> Result<Registry, Error> {
        Registry::builder(set).build()
    }

    /// The parsed configuration of plugin `id`, if it declares one.
    pub(crate) fn config_of(&self, id: &str) -> Option<&(dyn Any + Send + Sync)> {
        self.configs.get(id).map(|c| &**c)
    }

    /// The plugin set this registry was checked against.
    pub fn set(&self) -> &'static PluginSet {
        self.set
    }

    fn info<'a>(&'a self, loaded: &Loaded) -> PluginInfo<'a> {
        let entry = self.set.entries.get(loaded.entry as usize);
        PluginInfo {
            descriptor: loaded.descriptor,
            source: entry.map_or(HOST_SOURCE, |e| e.source),
            entry,
            status: self.status(loaded),
        }
    }

    fn status(&self, loaded: &Loaded) -> &Status {
        match loaded.status {
            LOADED => &PLAIN_LOADED,
            DISABLED => &PLAIN_DISABLED,
            at => self.statuses.get(at as usize).unwrap_or(&PLAIN_DISABLED),
        }
    }

    /// Stores `status` aside; where it is.
    fn aside(&mut self, status: Status) -> u32 {
        self.statuses.push(status);
        u32::try_from(self.statuses.len() - 1)
            .ok()
            .filter(|&at| at < DISABLED)
            .expect("fewer than 2^32 - 2 plugins")
    }

    /// Every plugin in registry order, whatever its status.
    pub fn plugins(&self) -> impl ExactSizeIterator<Item = PluginInfo<'_>> + '_ {
        self.plugins.iter().map(|p| self.info(p))
    }

    /// The plugin with this id, in O(1).
    pub fn plugin(&self, id: &str) -> Option<PluginInfo<'_>> {
        self.index_of(id).map(|i| self.info(&self.plugins[i]))
    }

    /// Where the plugin with this id is in `plugins`.
    fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id
            .get(hash_str(id), |i| self.plugins[i].descriptor.id == id)
    }

    /// The plugin with this id, or an error that lists what is available and
    /// says what to do when the id is declared but not built in.
    pub fn require(&self, id: &str) -> Result<PluginInfo<'_>, Error> {
        self.plugin(id).ok_or_else(|| Error::NotInBinary {
            id: id.to_owned(),
            available: self.plugins.iter().map(|p| p.descriptor.id).collect(),
            declared: self.set.declared.contains(&id),
        })
    }

    fn is_loaded(&self, plugin: usize) -> bool {
        self.plugins
            .get(plugin)
            .is_some_and(|p| self.status(p).is_loaded())
    }

    /// Every component of extension point `T` from loaded plugins, in
    /// registry order, as `(name, value)`.
    pub fn components<T: Any>(&self) -> impl Iterator<Item = (&str, &T)> + '_ {
        self.components
            .of::<T>()
            .filter(|(plugin, _, _)| self.is_loaded(*plugin))
            .map(|(_, name, value)| (name, value))
    }

    /// Like [`Registry::components`], for a host that must know when a
    /// contribution cannot reach it: fails when a loaded plugin contributed
    /// a component whose type has `T`'s name but is not `T`. That is a
    /// plugin built against another copy of the crate that defines `T` (a
    /// second copy of the host's extension-point crate in the build), whose
    /// contributions `components` can never return.
    pub fn try_components<T: Any>(&self) -> Result<impl Iterator<Item = (&str, &T)> + '_, Error> {
        let wanted = std::any::type_name::<T>();
        let mut plugins: Vec<&'static str> = self
            .components
            .foreign(TypeId::of::<T>(), wanted)
            .into_iter()
            .filter(|&p| self.is_loaded(p))
            .map(|p| self.plugins[p].descriptor.id)
            .collect();
        plugins.dedup();
        if plugins.is_empty() {
            Ok(self.components::<T>())
        } else {
            Err(Error::ForeignType {
                type_name: wanted,
                plugins,
            })
        }
    }

    /// The component of extension point `T` named `name`.
    pub fn component<T: Any>(&self, name: &str) -> Option<&T> {
        self.components::<T>()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// Every component of loaded plugins, with the plugin that contributed it.
    pub fn all_components(&self) -> impl Iterator<Item = Component<'_>> + '_ {
        self.components
            .all(|p| self.plugins[p].descriptor.id)
            .filter(|(plugin, _)| self.is_loaded(*plugin))
            .map(|(_, component)| component)
    }

    /// Why a plugin cannot be used because of one of its dependencies.
    #[inline]
    fn failed_dependency(&self, descriptor: &PluginDescriptor) -> Option<String> {
        if descriptor.depends_on.is_empty() {
            return None;
        }
        descriptor.depends_on.iter().find_map(|dependency| {
            let index = self
                .index_of(dependency)
                .expect("dependencies come first in registry order");
            let status = self.status(&self.plugins[index]);
            (!status.is_loaded())
                .then(|| format!("depends on `{dependency}`, which {}", status.name()))
        })
    }

    /// Starts every loaded plugin in registry order, timing each `init`. A
    /// plugin whose `init` fails or panics is left out with the reason, and
    /// so are the plugins that depend on it; the others start. Returns the
    /// plugins left out, as `(id, reason)`.
    pub fn init(&mut self) -> Vec<(&'static str, String)> {
        let mut left_out = Vec::new();
        while self.started < self.plugins.len() {
            let index = self.started;
            self.started += 1;
            let descriptor = self.plugins[index].descriptor;
            if !self.is_loaded(index) {
                continue;
            }
            let outcome = match self.failed_dependency(descriptor) {
                Some(reason) => Err(reason),
                None => {
                    let instance = self.plugins[index]
                        .instance
                        .as_deref()
                        .expect("loaded plugins have an instance");
                    let context = Context {
                        plugin: descriptor.id,
                        registry: self,
                    };
                    let start = Instant::now();
                    match std::panic::catch_unwind(AssertUnwindSafe(|| instance.init(&context))) {
                        Ok(Ok(())) => Ok(start.elapsed()),
                        Ok(Err(error)) => Err(format!("init failed: {}", chain(&*error))),
                        Err(panic) => Err(format!("panicked in init: {}", panic_message(&*panic))),
                    }
                }
            };
            let status = match outcome {
                Ok(time) => Status::Loaded {
                    init_time: Some(time),
                },
                Err(reason) => {
                    left_out.push((descriptor.id, reason.clone()));
                    Status::Failed { reason }
                }
            };
            // `init` starts each plugin once: its status is stored aside
            // once, here, with its init time or its failure.
            let code = self.aside(status);
            if let Some(loaded) = self.plugins.get_mut(index) {
                loaded.status = code;
            }
        }
        left_out
    }

    /// Stops the started plugins in reverse registry order.
    pub fn shutdown(&mut self) {
        while self.started > 0 {
            self.started -= 1;
            let loaded = &self.plugins[self.started];
            if let (Status::Loaded { init_time: Some(_) }, Some(instance)) =
                (self.status(loaded), &loaded.instance)
            {
                let instance = &**instance;
                // A panicking shutdown must not stop the others.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| instance.shutdown()));
            }
        }
    }
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Parses each enabled plugin's section; every section must belong to a
/// plugin that takes configuration.
fn parse_configs(
    descriptors: &[&'static PluginDescriptor],
    by_id: &Index<'_>,
    disabled: &[String],
    config: Option<&(String, BTreeMap<String, ConfigValue>)>,
) -> Result<FastMap<&'static str, Box<dyn Any + Send + Sync>>, Error> {
    let file = config.map(|(file, _)| file.as_str());
    let error = |plugin: &str, key: String, message: String| Error::Config {
        file: file.map(str::to_owned),
        plugin: plugin.to_owned(),
        key,
        message,
    };
    if let Some((_, sections)) = config {
        for id in sections.keys() {
            match by_id.get(id).map(|i| descriptors[i]) {
                None => {
                    return Err(error(
                        id,
                        String::new(),
                        format!(
                            "there is no plugin `{id}` in this binary; available: {}",
                            list(&descriptors.iter().map(|d| d.id).collect::<Vec<_>>())
                        ),
                    ));
                }
                Some(d) if d.config.is_none() => {
                    return Err(error(
                        id,
                        String::new(),
                        "the plugin takes no configuration".into(),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let empty = ConfigValue::Table(BTreeMap::new());
    let mut parsed = FastMap::default();
    for d in descriptors {
        let Some(spec) = d.config else { continue };
        if disabled.iter().any(|x| x == d.id) {
            continue;
        }
        let section = config.and_then(|(_, s)| s.get(d.id)).unwrap_or(&empty);
        let value = (spec.parse)(section).map_err(|e| error(d.id, e.key, e.message))?;
        parsed.insert(d.id, value);
    }
    Ok(parsed)
}

/// A disabled plugin must not be needed by an enabled one, and every id to
/// disable must exist.
fn check_disabled(
    descriptors: &[&'static PluginDescriptor],
    by_id: &Index<'_>,
    disabled: &[String],
) -> Result<(), Error> {
    for id in disabled {
        if by_id.get(id).is_none() {
            return Err(Error::NotInBinary {
                id: id.clone(),
                available: descriptors.iter().map(|d| d.id).collect(),
                declared: false,
            });
        }
    }
    for id in disabled {
        let dependants: Vec<&'static str> = descriptors
            .iter()
            .filter(|d| !disabled.iter().any(|x| x == d.id))
            .filter(|d| d.depends_on.contains(&id.as_str()))
            .map(|d| d.id)
            .collect();
        if !dependants.is_empty() {
            return Err(Error::DisabledDependency {
                id: id.clone(),
                dependants,
            });
        }
    }
    Ok(())
}

/// The first eight bytes of `id`, big-endian, zero-padded: ordering these
/// integers orders the ids, except among ids that share eight bytes.
#[inline]
fn prefix_key(id: &str) -> u64 {
    match id.as_bytes().first_chunk::<8>() {
        Some(bytes) => u64::from_be_bytes(*bytes),
        // Gathered in a register, not stored byte by byte and loaded as a
        // word, which stalls until the stores land.
        None => id
            .bytes()
            .zip((0..64).step_by(8).rev())
            .fold(0, |key, (byte, shift)| key | u64::from(byte) << shift),
    }
}

/// Every crate of the plugin set must have registered at least one plugin.
fn check_expected(set: &PluginSet, descriptors: &[&PluginDescriptor]) -> Result<(), Error> {
    if set.entries.is_empty() {
        return Ok(());
    }
    let mut linked = Table::with_capacity(descriptors.len());
    for (i, d) in descriptors.iter().enumerate() {
        linked.insert(hash_str(d.crate_name), i, |j| {
            descriptors[j].crate_name == d.crate_name
        });
    }
    let missing: Vec<&'static str> = set
        .entries
        .iter()
        .filter(|entry| {
            linked
                .get(hash_str(entry.package), |j| {
                    descriptors[j].crate_name == entry.package
                })
                .is_none()
        })
        .map(|entry| entry.package)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::NotRegistered {
            crates: missing,
            linked: descriptors.len(),
        })
    }
}

/// The error for two plugins with the same id, in id order.
fn duplicate_id(
    set: &PluginSet,
    first: &'static PluginDescriptor,
    second: &'static PluginDescriptor,
) -> Error {
    let named = |d: &PluginDescriptor| {
        let source = set.entry(d.crate_name).map_or(HOST_SOURCE, |e| e.source);
        (d.crate_name, source)
    };
    Error::DuplicateId {
        id: first.id,
        first: named(first),
        second: named(second),
    }
}

/// Descriptors sorted by unique id, searched by id without hashing.
struct Index<'d>(&'d [&'static PluginDescriptor]);

impl Index<'_> {
    fn get(&self, id: &str) -> Option<usize> {
        self.0.binary_search_by(|d| d.id.cmp(id)).ok()
    }
}

/// Kahn's algorithm over `depends_on`, always taking the smallest ready id,
/// so the order depends only on ids and dependencies.
fn dependency_order(
    descriptors: &[&'static PluginDescriptor],
    by_id: &Index<'_>,
) -> Result<Vec<&'static PluginDescriptor>, Error> {
    let mut waiting_on = vec![0usize; descriptors.len()];
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); descriptors.len()];
    for (i, d) in descriptors.iter().enumerate() {
        for &dependency in d.depends_on {
            let Some(j) = by_id.get(dependency) else {
                return Err(Error::MissingDependency {
                    plugin: d.id,
                    dependency,
                });
            };
            waiting_on[i] += 1;
            dependants[j].push(i);
        }
    }
    // Descriptors are sorted by id, so index order is id order. The smallest
    // ready index is the smaller of the next initially ready one (a cursor:
    // no heap work when nothing depends on anything) and the smallest one
    // made ready later (a heap).
    let mut cursor = 0;
    let mut later: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
    let mut order = Vec::with_capacity(descriptors.len());
    loop {
        while cursor < descriptors.len() && waiting_on[cursor] != 0 {
            cursor += 1;
        }
        let from_later = later.peek().map(|Reverse(i)| *i);
        let i = match from_later {
            Some(j) if cursor >= descriptors.len() || j < cursor => {
                later.pop();
                j
            }
            _ if cursor < descriptors.len() => {
                cursor += 1;
                cursor - 1
            }
            _ => break,
        };
        order.push(descriptors[i]);
        for &k in &dependants[i] {
            waiting_on[k] -= 1;
            // Ready now; if the cursor has not passed it, the cursor takes it.
            if waiting_on[k] == 0 && k < cursor {
                later.push(Reverse(k));
            }
        }
    }
    if order.len() < descriptors.len() {
        return Err(Error::Cycle {
            plugins: find_cycle(descriptors, by_id, &waiting_on),
        });
    }
    Ok(order)
}

/// Walks `depends_on` among the plugins Kahn's algorithm could not place
/// until a plugin repeats; returns the cycle, first plugin repeated at the end.
fn find_cycle(
    descriptors: &[&'static PluginDescriptor],
    by_id: &Index<'_>,
    waiting_on: &[usize],
) -> Vec<&'static str> {
    let start = (0..descriptors.len())
        .find(|&i| waiting_on[i] > 0)
        .expect("a failed topological sort leaves a plugin waiting");
    let mut path = vec![start];
    loop {
        let current = *path.last().expect("path starts non-empty");
        let next = descriptors[current]
            .depends_on
            .iter()
            .map(|dependency| by_id.get(dependency).expect("dependencies were checked"))
            .filter(|&j| waiting_on[j] > 0)
            .min()
            .expect("a plugin left waiting depends on another one left waiting");
        if let Some(pos) = path.iter().position(|&i| i == next) {
            let mut cycle: Vec<_> = path[pos..].iter().map(|&i| descriptors[i].id).collect();
            cycle.push(descriptors[next].id);
            return cycle;
        }
        path.push(next);
    }
}

/// No two components of one type share a name: the first such pair, in
/// registry order. Every component here is a loaded plugin's: a plugin
/// that fails to register has what it added taken back.
fn check_components(registry: &Registry) -> Result<(), Error> {
    let components = &registry.components;
    let Some(duplicate) = components.first_duplicate() else {
        return Ok(());
    };
    let id = |plugin: usize| registry.plugins.get(plugin).map_or("", |p| p.descriptor.id);
    Err(Error::DuplicateComponent {
        type_name: components.type_name(duplicate.kind),
        name: duplicate.name.to_owned(),
        first: id(duplicate.first),
        second: id(duplicate.second),
    })
}

fn hash_str(text: &str) -> u64 {
    hash(text.as_bytes(), SEED)
}

/// A map keyed by ids and type ids, all fixed when the binary was built:
/// FNV-1a is several times faster than SipHash on such short keys (the
/// registry benchmark measured it against FxHash too, which was slower
/// here), and there is no untrusted key to defend against.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Why a registry could not be built or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Crates of the plugin set that registered no plugin in this binary.
    NotRegistered {
        /// Package names of the crates with no registration.
        crates: Vec<&'static str>,
        /// How many registrations were found in all.
        linked: usize,
    },
    /// Two plugins registered the same id: `(crate, source)` of each.
    DuplicateId {
        id: &'static str,
        first: (&'static str, &'static str),
        second: (&'static str, &'static str),
    },
    /// The host disabled a plugin that enabled plugins depend on.
    DisabledDependency {
        id: String,
        dependants: Vec<&'static str>,
    },
    /// A plugin's configuration section does not fit its type.
    Config {
        /// The host's config file, if one was given.
        file: Option<String>,
        plugin: String,
        /// Dotted path of the key in the plugin's section; empty for the
        /// section itself.
        key: String,
        message: String,
    },
    /// A plugin id that is not in this binary.
    NotInBinary {
        id: String,
        available: Vec<&'static str>,
        /// Whether plugins.toml declares a plugin of that name.
        declared: bool,
    },
    /// A plugin depends on an id nobody registered.
    MissingDependency {
        plugin: &'static str,
        dependency: &'static str,
    },
    /// Plugins that depend on each other in a circle, the first one repeated
    /// at the end.
    Cycle { plugins: Vec<&'static str> },
    /// Plugins contributed components of a type named like the host's
    /// extension point but defined by another copy of its crate.
    ForeignType {
        type_name: &'static str,
        plugins: Vec<&'static str>,
    },
    /// Two plugins contributed a component of the same type and name.
    DuplicateComponent {
        type_name: &'static str,
        name: String,
        first: &'static str,
        second: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotRegistered { crates, linked } => {
                let list = crates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                write!(
                    f,
                    "plugin crate{s} {list} {are} in the plugin set but registered no plugin in this binary; \
                     mark the plugin type with `#[plugin(id = \"…\")]`, or run `cargo xtask sync` and rebuild",
                    s = if crates.len() == 1 { "" } else { "s" },
                    are = if crates.len() == 1 { "is" } else { "are" },
                )?;
                if *linked == 0 {
                    write!(
                        f,
                        " (no plugin at all was found: is this platform supported by `inventory`?)"
                    )?;
                }
                Ok(())
            }
            Error::ForeignType { type_name, plugins } => write!(
                f,
                "plugin{s} {} contributed `{type_name}` from another copy of the crate that \
                 defines it, so the host never sees {them}; the build has two copies of that \
                 crate: run `cargo xtask sync`, which names them and the `[patch]` that makes \
                 them one",
                plugins
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s = if plugins.len() == 1 { "" } else { "s" },
                them = if plugins.len() == 1 { "it" } else { "them" },
            ),
            Error::DuplicateId { id, first, second } => write!(
                f,
                "plugin id `{id}` is registered by both crate `{}` ({}) and crate `{}` ({}); \
                 ids must be unique: change one of them or disable one plugin in plugins.toml",
                first.0, first.1, second.0, second.1
            ),
            Error::DisabledDependency { id, dependants } => write!(
                f,
                "plugin `{id}` cannot be disabled: {} depend{} on it; disable {} too",
                list(dependants),
                if dependants.len() == 1 { "s" } else { "" },
                if dependants.len() == 1 { "it" } else { "them" },
            ),
            Error::Config {
                file,
                plugin,
                key,
                message,
            } => {
                let file = file
                    .as_deref()
                    .unwrap_or("the host's configuration (no file given)");
                if key.is_empty() {
                    write!(f, "{file}: plugin `{plugin}`: {message}")
                } else {
                    write!(f, "{file}: plugin `{plugin}`, key `{key}`: {message}")
                }
            }
            Error::NotInBinary {
                id,
                available,
                declared,
            } => {
                write!(
                    f,
                    "no plugin `{id}` in this binary; available: {}",
                    list(available)
                )?;
                if *declared {
                    write!(
                        f,
                        "; `{id}` is declared in plugins.toml but not built in: enable it there \
                         and run `cargo xtask sync`"
                    )?;
                }
                Ok(())
            }
            Error::MissingDependency { plugin, dependency } => write!(
                f,
                "plugin `{plugin}` depends on `{dependency}`, which is not in this binary; \
                 declare it in plugins.toml and run `cargo xtask sync`"
            ),
            Error::Cycle { plugins } => {
                write!(
                    f,
                    "plugins depend on each other in a cycle: {}",
                    plugins.join(" -> ")
                )
            }
            Error::DuplicateComponent {
                type_name,
                name,
                first,
                second,
            } => write!(
                f,
                "plugins `{first}` and `{second}` both contribute `{name}` to extension point `{type_name}`"
            ),
        }
    }
}

impl std::error::Error for Error {}

fn list(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
