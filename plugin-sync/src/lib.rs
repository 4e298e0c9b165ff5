//! The plugin aggregator's engine: resolves `plugins.toml`, fetches git
//! plugins into a shared cache, writes `plugins.lock` and the generated
//! `plugin-set` crate, and the command line over all of it.
//!
//! A host's `xtask/src/main.rs` is three lines:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     plugin_sync::cli::main()
//! }
//! ```
//!
//! The only crate of the project that touches the network, and the only
//! writer of `plugins.lock` and `plugin-set/`.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::string_slice)
)]

/// Every source file of the engine with its text, for the tidy tests that
/// keep a rule over all of them (processes, printing).
#[cfg(test)]
fn engine_sources() -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).expect("read source");
                out.push((path, text));
            }
        }
    }
    out
}

#[macro_use]
mod shell;
mod api;
mod cache;
mod checksum;
pub mod cli;
mod codegen;
mod confine;
mod crash;
mod credential;
mod dev;
mod dist;
mod edit;
mod embedded;
mod files;
mod git;
mod git_cli;
mod graph;
mod host;
mod init;
mod lint;
mod list;
mod lockfile;
mod process;
mod progress;
#[cfg(test)]
mod proptests;
mod registry;
mod sbom;
mod scaffold;
mod scan;
mod scratch;
mod secret;
mod sync;
mod tree;
mod vendor;
mod verify;
