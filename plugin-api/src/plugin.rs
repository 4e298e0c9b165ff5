//! The `Plugin` trait and what a plugin sees while registering and starting.

use std::any::{Any, TypeId};
use std::fmt;

/// Error type returned by plugin lifecycle hooks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A plugin: contributes components to the host's extension points and may
/// take part in the host's start-up and shutdown.
///
/// Implement it on the type that carries `#[plugin]`; that type must also
/// implement [`Default`], which is how the registry creates it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is marked `#[plugin]` but does not implement `plugin_api::Plugin`",
    label = "add `impl plugin_api::Plugin for {Self}`"
)]
pub trait Plugin: Send + Sync + 'static {
    /// Adds this plugin's components to the host's extension points.
    ///
    /// Called once, in registry order, while the registry is built.
    fn register(&self, registrar: &mut Registrar<'_>);

    /// Starts the plugin. Called in registry order (dependencies first) by
    /// [`Registry::init`](crate::Registry::init).
    fn init(&self, _context: &Context<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Stops the plugin. Called in reverse registry order by
    /// [`Registry::shutdown`](crate::Registry::shutdown), only for plugins
    /// whose `init` succeeded.
    fn shutdown(&self) {}
}

/// One thing a plugin contributed to an extension point.
pub struct Component {
    pub(crate) plugin: &'static str,
    pub(crate) name: String,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) value: Box<dyn Any + Send + Sync>,
}

impl Component {
    /// Id of the plugin that contributed it.
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// Its name, unique among the components of its type.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, if it is of type `T`.
    pub fn downcast<T: Any>(&self) -> Option<&T> {
        self.value.downcast_ref()
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("plugin", &self.plugin)
            .field("name", &self.name)
            .field("type", &self.type_name)
            .finish_non_exhaustive()
    }
}

/// Collects what one plugin contributes.
///
/// An extension point is any `'static` type the host chooses: a trait object
/// such as `Box<dyn Filter>`, a function pointer, or a plain struct. The host
/// queries them back with [`Registry::components`](crate::Registry::components).
pub struct Registrar<'a> {
    pub(crate) plugin: &'static str,
    /// The registry's components, each with the index of its plugin.
    pub(crate) components: &'a mut Vec<(usize, Component)>,
    /// This plugin's index in the registry.
    pub(crate) index: usize,
    pub(crate) config: Option<&'a (dyn Any + Send + Sync)>,
}

impl fmt::Debug for Registrar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("plugin", &self.plugin)
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

impl Registrar<'_> {
    /// Id of the plugin being registered.
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// The plugin's configuration, parsed from its section of the host's
    /// config file: `Some` when the plugin declares `#[plugin(config = T)]`.
    pub fn config<T: Any>(&self) -> Option<&T> {
        self.config.and_then(|c| c.downcast_ref())
    }

    /// Contributes `value` under `name` to the extension point `T`.
    pub fn add<T: Any + Send + Sync>(&mut self, name: impl Into<String>, value: T) {
        self.components.push((
            self.index,
            Component {
                plugin: self.plugin,
                name: name.into(),
                type_id: TypeId::of::<T>(),
                type_name: std::any::type_name::<T>(),
                value: Box::new(value),
            },
        ));
    }
}

/// What a plugin sees during [`Plugin::init`].
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) plugin: &'static str,
    pub(crate) registry: &'a crate::Registry,
}

impl<'a> Context<'a> {
    /// Id of the plugin being started.
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// The plugin's configuration, as [`Registrar::config`] gives it.
    pub fn config<T: Any>(&self) -> Option<&'a T> {
        self.registry.config_of(self.plugin)?.downcast_ref()
    }

    /// The registry, for looking up components of other plugins.
    pub fn registry(&self) -> &'a crate::Registry {
        self.registry
    }
}
