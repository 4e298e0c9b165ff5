//! The plugin set: what `cargo xtask sync` generated, embedded in the binary.

/// The plugins `cargo xtask sync` wrote into the generated `plugin-set`
/// crate. The host passes it to [`Registry::build`](crate::Registry::build),
/// which is also what makes the linker keep every plugin crate.
#[derive(Debug)]
pub struct PluginSet {
    /// `sha256:` of the `plugins.lock` this set was generated from.
    pub lock_digest: &'static str,
    /// The name of every plugin declared in `plugins.toml`, enabled or not.
    pub declared: &'static [&'static str],
    /// One entry per enabled plugin of `plugins.toml`, sorted by name.
    pub entries: &'static [SetEntry],
    /// The set as one text, which `cargo xtask dist` finds in the binary's
    /// bytes to check it against `plugins.lock` without running it.
    pub stamp: &'static str,
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
    /// The source recorded in `plugins.lock`: `local` for path plugins,
    /// `git+URL?tag=…#<commit>` for git plugins.
    pub source: &'static str,
    /// The commit of a git plugin; `None` for a local one.
    pub rev: Option<&'static str>,
    /// `sha256:` of a git plugin's files, as locked; `None` for a local one.
    pub checksum: Option<&'static str>,
    /// The working copy this build took the plugin from instead
    /// (`cargo xtask dev`); `None` when it is what the lock pins.
    pub overridden: Option<&'static str>,
}

impl PluginSet {
    /// A set that expects no plugin crate: for a plugin crate's own tests,
    /// where the registry holds the plugins linked into the test binary.
    pub const EMPTY: PluginSet = PluginSet {
        lock_digest: "",
        declared: &[],
        entries: &[],
        stamp: "",
    };

    /// The entry for a plugin crate, by package name.
    pub fn entry(&self, package: &str) -> Option<&'static SetEntry> {
        self.entries.iter().find(|e| e.package == package)
    }
}
