//! What the generated `plugin-set` crate's build script needs: `plugins.toml`
//! (its types, parsing and canonical digest) and the stale-sync check. The
//! engine (`plugin-sync`) reuses the manifest parser.
//!
//! Offline and deterministic: reads files, never fetches, never writes.

pub mod fresh;
pub mod manifest;
mod text;
pub mod url;

pub use fresh::check_sync;
pub use text::{line_col, sha256_hex};

/// File name of the manifest, at the host workspace root.
pub const MANIFEST_FILE: &str = "plugins.toml";
/// File name of the lockfile, next to the manifest.
pub const LOCK_FILE: &str = "plugins.lock";
/// Directory of the generated crate, under the host workspace root.
pub const PLUGIN_SET_DIR: &str = "plugin-set";
/// Directory, under the host workspace root, of the git plugins' files. Not
/// inside the generated crate's directory: cargo treats everything under a
/// member's directory as that member's, and a plugin repository with its own
/// workspace would then inherit from the host's.
pub const SOURCES_DIR: &str = "plugin-sources";
/// Package name of the generated crate.
pub const PLUGIN_SET_PACKAGE: &str = "plugin-set";
