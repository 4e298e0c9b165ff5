//! The stale-sync check, run by the generated crate's build script: the build
//! fails when `plugins.toml` declares something other than what the last sync
//! locked, instead of silently building the old plugin set.

use std::path::{Path, PathBuf};

use crate::manifest::{self, Manifest};
use crate::{LOCK_FILE, MANIFEST_FILE, PLUGIN_SET_DIR};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{MANIFEST_FILE} changed since the last sync; run cargo xtask sync")]
    Stale { manifest: PathBuf },
    #[error("{} is missing; run cargo xtask sync", path.display())]
    NoLock { path: PathBuf },
    #[error(
        "{PLUGIN_SET_DIR}/ was generated from another {LOCK_FILE} (an interrupted or partial sync?); run cargo xtask sync"
    )]
    Mismatch,
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    #[error("failed to read {}", path.display())]
    ReadLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has no valid `manifest-digest`; run cargo xtask sync", path.display())]
    BadLock { path: PathBuf },
    #[error("CARGO_MANIFEST_DIR is not set: `check_sync` must run from a build script")]
    NotBuildScript,
}

/// Entry point for the generated build script. `root` is the host workspace
/// root relative to the generated crate's directory; `lock_digest` is the
/// digest of the lock the crate was generated from.
///
/// Prints `rerun-if-changed` for both files. On failure prints `error: …`
/// with its causes and exits with status 1 — never a panic and backtrace.
pub fn check_sync(root: &str, lock_digest: &str) {
    let result = std::env::var_os("CARGO_MANIFEST_DIR")
        .ok_or(Error::NotBuildScript)
        .and_then(|dir| check(&Path::new(&dir).join(root), lock_digest, true));
    if let Err(error) = result {
        // plugins.toml may hold credentials in a URL, and a parse error
        // quotes the line: printed bare and escaped.
        let redact = |text: String| crate::url::redact(&text).into_owned();
        eprintln!("error: {}", redact(error.to_string()));
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            eprintln!("\nCaused by:\n  {}", redact(cause.to_string()));
            source = cause.source();
        }
        std::process::exit(1);
    }
}

/// Checks that the lock in `root` is the one the generated crate was made
/// from (`lock_digest`), and was synced from the manifest in `root`.
pub fn check(root: &Path, lock_digest: &str, emit_rerun: bool) -> Result<(), Error> {
    let manifest_path = root.join(MANIFEST_FILE);
    let lock_path = root.join(LOCK_FILE);
    if emit_rerun {
        println!("cargo::rerun-if-changed={}", manifest_path.display());
        println!("cargo::rerun-if-changed={}", lock_path.display());
    }
    let manifest = Manifest::load(&manifest_path)?;
    if !lock_path.exists() {
        return Err(Error::NoLock { path: lock_path });
    }
    let text = crate::read_bounded(&lock_path, crate::MAX_LOCK_BYTES).map_err(|source| {
        Error::ReadLock {
            path: lock_path.clone(),
            source,
        }
    })?;
    // The lock's own digest, as the engine computes it: `sha256:` of its text.
    if format!("sha256:{}", crate::sha256_hex(text.as_bytes())) != lock_digest {
        return Err(Error::Mismatch);
    }
    // The engine validates the whole lock; the build needs one field of it.
    let manifest_digest = toml_edit::Document::parse(text.as_str())
        .ok()
        .and_then(|d| d.get("manifest-digest")?.as_str().map(str::to_owned))
        .ok_or_else(|| Error::BadLock {
            path: lock_path.clone(),
        })?;
    if manifest_digest != manifest.digest() {
        return Err(Error::Stale {
            manifest: manifest_path,
        });
    }
    Ok(())
}
