//! The `Plugin` trait and what a plugin sees while registering and starting.

use std::any::Any;
use std::borrow::Cow;
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

/// Collects what one plugin contributes.
///
/// An extension point is any `'static` type the host chooses: a trait object
/// such as `Box<dyn Filter>`, a function pointer, or a plain struct. The host
/// queries them back with [`Registry::components`](crate::Registry::components).
pub struct Registrar<'a> {
    pub(crate) plugin: &'static str,
    /// The registry's components.
    pub(crate) components: &'a mut crate::components::Components,
    /// This plugin's index in the registry.
    pub(crate) index: usize,
    pub(crate) config: Option<&'a (dyn Any + Send + Sync)>,
}

impl fmt::Debug for Registrar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("plugin", &self.plugin)
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

    /// Contributes `value` under `name` to the extension point `T`. A
    /// `&'static str` name (the usual literal) is stored as it is; a
    /// `String` is taken.
    pub fn add<T: Any + Send + Sync>(&mut self, name: impl Into<Cow<'static, str>>, value: T) {
        self.components.push(self.index, name.into(), value);
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
