//! Runtime of the static plugin aggregator: the one crate a plugin author depends on.
//!
//! A plugin crate marks one type with [`#[plugin]`](macro@plugin) and implements
//! [`Plugin`] for it. The attribute registers a const [`PluginDescriptor`] with
//! `inventory`; the host builds a [`Registry`] from every registration that was
//! linked into its binary, checked against the [`PluginSet`] that
//! `cargo xtask sync` generated, so a plugin that was synced but not linked is
//! an error instead of a silent absence.
//!
//! This crate does no IO.

mod components;
pub mod config;
mod descriptor;
mod plugin;
pub mod registry;
mod set;
mod table;

pub use components::Component;
pub use config::{ConfigError, ConfigValue};
pub use descriptor::{API_VERSION, PluginDescriptor};
pub use plugin::{BoxError, Context, Plugin, Registrar};
pub use registry::{PluginInfo, Registry};
pub use set::{PluginSet, SetEntry};

/// Marks a type as a plugin and registers it.
///
/// Put it on a struct or enum that implements [`Plugin`] and [`Default`]:
///
/// ```
/// use plugin_api::{plugin, Plugin, Registrar};
///
/// /// Upper-cases text.
/// #[plugin(id = "upper", depends_on = ["base"])]
/// #[derive(Default)]
/// pub struct Upper;
///
/// impl Plugin for Upper {
///     fn register(&self, registrar: &mut Registrar<'_>) {
///         registrar.add::<fn(&str) -> String>("upper", |s| s.to_uppercase());
///     }
/// }
/// ```
///
/// Arguments: `id = "…"` (required; `[a-z0-9][a-z0-9_.-]*`),
/// `description = "…"` (default: the first line of the type's doc comment,
/// else the crate's `description`), `depends_on = ["…", …]`, and
/// `crate = path` when `plugin-api` is renamed in the plugin's `Cargo.toml`.
pub use plugin_macros::plugin;

/// What `#[plugin]` and the generated `plugin-set` crate expand to. Not a
/// public API: it changes with this crate's version.
#[doc(hidden)]
pub mod __private {
    pub use crate::config::{ConfigSpec, parse as parse_config};
    pub use crate::descriptor::{API_VERSION, PluginDescriptor};
    pub use crate::plugin::Plugin;
    pub use crate::set::{PluginSet, SetEntry};
    pub use inventory;

    /// The descriptor's `create` for plugin type `T`. Its bounds are where a
    /// type that is not a plugin is reported, under the type's name.
    pub fn create<T: Plugin + Default>() -> Box<dyn Plugin> {
        Box::new(T::default())
    }
}
