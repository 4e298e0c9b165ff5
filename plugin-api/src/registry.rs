//! The registry: every linked plugin, checked, ordered and instantiated.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::descriptor::PluginDescriptor;
use crate::plugin::{BoxError, Component, Context, Plugin, Registrar};
use crate::set::PluginSet;

/// `source` of a plugin registered by a crate outside the plugin set, such
/// as the host binary itself.
pub const HOST_SOURCE: &str = "host";

/// Facts about one registered plugin.
#[derive(Debug, Clone, Copy)]
pub struct PluginInfo {
    /// The plugin's descriptor, as `#[plugin]` registered it.
    pub descriptor: &'static PluginDescriptor,
    /// Where its crate came from, as recorded in `plugins.lock`
    /// ([`HOST_SOURCE`] when the crate is not in the plugin set).
    pub source: &'static str,
}

impl PluginInfo {
    /// The plugin's id.
    pub fn id(&self) -> &'static str {
        self.descriptor.id
    }
}

struct Loaded {
    info: PluginInfo,
    instance: Box<dyn Plugin>,
}

/// Every plugin linked into the binary, in a deterministic order:
/// dependencies first, ties broken by id.
pub struct Registry {
    plugins: Vec<Loaded>,
    by_id: HashMap<&'static str, usize>,
    components: Vec<Component>,
    started: usize,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.info.id()).collect::<Vec<_>>(),
            )
            .field("components", &self.components)
            .field("started", &self.started)
            .finish()
    }
}

impl Registry {
    /// Builds the registry from every plugin linked into this binary.
    ///
    /// `set` is the generated crate's `plugin_set::SET`; naming it is what
    /// links the plugin crates, and it lists the crates that must have
    /// registered a plugin.
    pub fn build(set: &'static PluginSet) -> Result<Registry, Error> {
        Registry::from_descriptors(set, PluginDescriptor::linked())
    }

    /// Builds the registry from the given descriptors instead of the linked
    /// ones. [`Registry::build`] is this with `inventory`'s registrations.
    pub fn from_descriptors(
        set: &'static PluginSet,
        descriptors: impl IntoIterator<Item = &'static PluginDescriptor>,
    ) -> Result<Registry, Error> {
        let mut descriptors: Vec<&'static PluginDescriptor> = descriptors.into_iter().collect();
        // Link order is unspecified (and differs between debug and release):
        // everything below starts from id order.
        descriptors.sort_by(|a, b| a.id.cmp(b.id).then(a.crate_name.cmp(b.crate_name)));

        check_expected(set, &descriptors)?;
        let by_id = index_unique(&descriptors)?;
        let order = dependency_order(&descriptors, &by_id)?;

        let mut components = Vec::new();
        let mut plugins = Vec::with_capacity(order.len());
        for descriptor in order {
            let instance = (descriptor.create)();
            instance.register(&mut Registrar {
                plugin: descriptor.id,
                components: &mut components,
            });
            let source = set
                .entry(descriptor.crate_name)
                .map_or(HOST_SOURCE, |entry| entry.source);
            plugins.push(Loaded {
                info: PluginInfo { descriptor, source },
                instance,
            });
        }
        check_components(&components)?;
        let by_id = plugins
            .iter()
            .enumerate()
            .map(|(i, p)| (p.info.id(), i))
            .collect();
        Ok(Registry {
            plugins,
            by_id,
            components,
            started: 0,
        })
    }

    /// The plugins in registry order.
    pub fn plugins(&self) -> impl ExactSizeIterator<Item = PluginInfo> + '_ {
        self.plugins.iter().map(|p| p.info)
    }

    /// The plugin with this id.
    pub fn plugin(&self, id: &str) -> Option<PluginInfo> {
        self.by_id.get(id).map(|&i| self.plugins[i].info)
    }

    /// Every component of extension point `T`, in registry order, as
    /// `(name, value)`.
    pub fn components<T: Any>(&self) -> impl Iterator<Item = (&str, &T)> + '_ {
        self.components
            .iter()
            .filter(|c| c.type_id == TypeId::of::<T>())
            .filter_map(|c| Some((c.name(), c.downcast::<T>()?)))
    }

    /// The component of extension point `T` named `name`.
    pub fn component<T: Any>(&self, name: &str) -> Option<&T> {
        self.components::<T>()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// Every component, with the plugin that contributed it.
    pub fn all_components(&self) -> &[Component] {
        &self.components
    }

    /// Starts every plugin in registry order. If one fails, the ones already
    /// started are shut down in reverse order and the error names the plugin.
    pub fn init(&mut self) -> Result<(), Error> {
        while self.started < self.plugins.len() {
            let loaded = &self.plugins[self.started];
            let context = Context {
                plugin: loaded.info.id(),
                registry: self,
            };
            if let Err(source) = loaded.instance.init(&context) {
                let plugin = loaded.info.id();
                self.shutdown();
                return Err(Error::Init { plugin, source });
            }
            self.started += 1;
        }
        Ok(())
    }

    /// Stops the started plugins in reverse registry order.
    pub fn shutdown(&mut self) {
        while self.started > 0 {
            self.started -= 1;
            self.plugins[self.started].instance.shutdown();
        }
    }
}

/// Every crate of the plugin set must have registered at least one plugin.
fn check_expected(set: &PluginSet, descriptors: &[&PluginDescriptor]) -> Result<(), Error> {
    let missing: Vec<&'static str> = set
        .entries
        .iter()
        .filter(|entry| !descriptors.iter().any(|d| d.crate_name == entry.package))
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

fn index_unique(
    descriptors: &[&'static PluginDescriptor],
) -> Result<HashMap<&'static str, usize>, Error> {
    let mut by_id = HashMap::with_capacity(descriptors.len());
    for (i, d) in descriptors.iter().enumerate() {
        if let Some(&first) = by_id.get(d.id) {
            let first: &PluginDescriptor = descriptors[first];
            return Err(Error::DuplicateId {
                id: d.id,
                first: first.crate_name,
                second: d.crate_name,
            });
        }
        by_id.insert(d.id, i);
    }
    Ok(by_id)
}

/// Kahn's algorithm over `depends_on`, always taking the smallest ready id,
/// so the order depends only on ids and dependencies.
fn dependency_order(
    descriptors: &[&'static PluginDescriptor],
    by_id: &HashMap<&'static str, usize>,
) -> Result<Vec<&'static PluginDescriptor>, Error> {
    let mut waiting_on = vec![0usize; descriptors.len()];
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); descriptors.len()];
    for (i, d) in descriptors.iter().enumerate() {
        for &dependency in d.depends_on {
            let Some(&j) = by_id.get(dependency) else {
                return Err(Error::MissingDependency {
                    plugin: d.id,
                    dependency,
                });
            };
            waiting_on[i] += 1;
            dependants[j].push(i);
        }
    }
    // Descriptors are sorted by id, so index order is id order.
    let mut ready: BTreeSet<usize> = (0..descriptors.len())
        .filter(|&i| waiting_on[i] == 0)
        .collect();
    let mut order = Vec::with_capacity(descriptors.len());
    while let Some(i) = ready.pop_first() {
        order.push(descriptors[i]);
        for &k in &dependants[i] {
            waiting_on[k] -= 1;
            if waiting_on[k] == 0 {
                ready.insert(k);
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
    by_id: &HashMap<&'static str, usize>,
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
            .map(|dependency| by_id[dependency])
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

fn check_components(components: &[Component]) -> Result<(), Error> {
    let mut seen: HashMap<(TypeId, &str), &Component> = HashMap::with_capacity(components.len());
    for c in components {
        if let Some(first) = seen.insert((c.type_id, c.name()), c) {
            return Err(Error::DuplicateComponent {
                type_name: c.type_name,
                name: c.name.clone(),
                first: first.plugin,
                second: c.plugin,
            });
        }
    }
    Ok(())
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
    /// Two plugins registered the same id.
    DuplicateId {
        id: &'static str,
        first: &'static str,
        second: &'static str,
    },
    /// A plugin depends on an id nobody registered.
    MissingDependency {
        plugin: &'static str,
        dependency: &'static str,
    },
    /// Plugins that depend on each other in a circle, the first one repeated
    /// at the end.
    Cycle { plugins: Vec<&'static str> },
    /// Two plugins contributed a component of the same type and name.
    DuplicateComponent {
        type_name: &'static str,
        name: String,
        first: &'static str,
        second: &'static str,
    },
    /// A plugin's `init` failed.
    Init {
        plugin: &'static str,
        source: BoxError,
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
            Error::DuplicateId { id, first, second } => write!(
                f,
                "plugin id `{id}` is registered by both crate `{first}` and crate `{second}`; \
                 ids must be unique: change one of them or disable one plugin in plugins.toml"
            ),
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
            Error::Init { plugin, .. } => {
                write!(f, "plugin `{plugin}` failed to start")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Init { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
