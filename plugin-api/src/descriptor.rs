//! The const descriptor every `#[plugin]` registers with `inventory`.

use crate::plugin::Plugin;

/// The version of `plugin-api` a plugin was compiled against.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Static facts about one plugin, built at compile time by `#[plugin]`.
///
/// Everything here is const-constructible so `inventory` can collect it
/// without running code before `main`.
#[derive(Debug, Clone, Copy)]
pub struct PluginDescriptor {
    /// Unique id, `[a-z0-9][a-z0-9_.-]*`.
    pub id: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// `CARGO_PKG_VERSION` of the plugin crate.
    pub version: &'static str,
    /// `CARGO_PKG_NAME` of the plugin crate (the package name, with dashes).
    pub crate_name: &'static str,
    /// Ids of plugins that must be initialised before this one.
    pub depends_on: &'static [&'static str],
    /// [`API_VERSION`] as seen when the plugin crate was compiled.
    pub api_version: &'static str,
    /// Creates the plugin value (its `Default`).
    pub create: fn() -> Box<dyn Plugin>,
    /// The plugin's configuration type, from `#[plugin(config = T)]`.
    pub config: Option<crate::config::ConfigSpec>,
}

inventory::collect!(PluginDescriptor);

impl PluginDescriptor {
    /// Every descriptor linked into this binary, in link order (unspecified).
    pub(crate) fn linked() -> impl Iterator<Item = &'static PluginDescriptor> {
        inventory::iter::<PluginDescriptor>.into_iter()
    }
}
