//! Temporary directories the tool makes for itself (lint's clone and
//! throwaway host, the previous tag's files): private to the user (0700,
//! since a clone of a private repository is in them), removed when dropped,
//! on failure, and on Ctrl-C or SIGTERM, whose handler removes every one
//! still registered before the process exits.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;

/// Directories alive now, for the interrupt handler.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A new, empty directory `<temp>/<prefix>-<pid>-<n>`, mode 0700.
    pub fn new(prefix: &str) -> anyhow::Result<Scratch> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        on_interrupt_remove_all();
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        // `create`, not `create_all`: a directory of that name already there
        // (someone else's, or a symlink planted to redirect the clone) is an
        // error, never reused.
        builder
            .create(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        lock().push(dir.clone());
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        lock().retain(|d| d != &self.dir);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs, once, the handler that removes every live scratch directory
/// and exits as an interrupted process does (130). Best effort: a process
/// that cannot install it still removes its directories on every other
/// way out.
fn on_interrupt_remove_all() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            for dir in lock().drain(..) {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(130);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_directory_is_private_and_removed_when_dropped() {
        let scratch = Scratch::new("plugin-scratch-test").unwrap();
        let dir = scratch.path().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        std::fs::write(dir.join("f"), "x").unwrap();
        assert!(lock().contains(&dir));
        drop(scratch);
        assert!(!dir.exists());
        assert!(!lock().contains(&dir));
    }
}
