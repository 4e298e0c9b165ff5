//! The plugin set: what `cargo xtask sync` generated, embedded in the binary.

/// The plugins `cargo xtask sync` wrote into the generated `plugin-set`
/// crate. The host passes it to [`Registry::build`](crate::Registry::build),
/// which is also what makes the linker keep every plugin crate.
#[derive(Debug)]
pub struct PluginSet {
    /// One entry per enabled plugin of `plugins.toml`, sorted by name.
    pub entries: &'static [SetEntry],
}

/// One plugin crate the generated crate depends on.
#[derive(Debug)]
pub struct SetEntry {
    /// The key in `plugins.toml`.
    pub name: &'static str,
    /// The package name of the plugin crate.
    pub package: &'static str,
    /// The version recorded in `plugins.lock`.
    pub version: &'static str,
    /// The source recorded in `plugins.lock` (`local` for path plugins).
    pub source: &'static str,
}

impl PluginSet {
    /// The entry for a plugin crate, by package name.
    pub fn entry(&self, package: &str) -> Option<&'static SetEntry> {
        self.entries.iter().find(|e| e.package == package)
    }
}
