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

/// Package names of the published crates, free on crates.io and clearly
/// this project's (`plugin_api` and `plugin_macros` there belong to other
/// projects). Each library keeps its short name: a plugin depending on
/// `static-plugins-api = "0.2"` writes `plugin_api::…`. A host or a plugin
/// names each by its package name, never renamed.
pub const API_PACKAGE: &str = "static-plugins-api";
/// The generated build script's crate: this one.
pub const BUILD_PACKAGE: &str = "static-plugins-build";
/// The `#[plugin]` macro, re-exported by the API crate.
pub const MACROS_PACKAGE: &str = "static-plugins-macros";
/// The rule plugin ids follow, below the macro and the engine.
pub const ID_PACKAGE: &str = "static-plugins-id";
/// The engine, which every host's xtask runs.
pub const ENGINE_PACKAGE: &str = "static-plugins-sync";
/// The API crate's name before 0.2: a plugin that still depends on it is
/// told the new one.
pub const OLD_API_PACKAGE: &str = "plugin-api";

/// The largest `plugins.toml` read: far above any real one (a declaration
/// is a line: over 10,000 of them), far below what would exhaust memory
/// (a parsed TOML document takes some 60 times its text).
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The largest `plugins.lock` read (a few hundred bytes per plugin: some
/// 7,000 plugins), parsed within 256 MiB of memory.
pub const MAX_LOCK_BYTES: u64 = 2 << 20;

/// Reads `path` as UTF-8 text, refusing a file larger than `max` bytes
/// before reading more than `max + 1` of them.
pub fn read_bounded(path: &std::path::Path, max: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it is larger than {} MiB, the most read", max >> 20),
        ));
    }
    Ok(text)
}
