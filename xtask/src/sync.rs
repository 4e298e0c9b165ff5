//! `cargo xtask sync`: plugins.toml → plugins.lock + the generated crate.
//!
//! Everything is validated before the first byte is written; files are then
//! written atomically and only when they change, lockfile last, so a sync
//! interrupted half-way leaves a lock that the build recognises as stale.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};
use build_support::codegen;
use build_support::lockfile::{LOCAL_SOURCE, LockedPlugin, Lockfile};
use build_support::manifest::{Declaration, Manifest, Source};
use build_support::{LOCK_FILE, MANIFEST_FILE, PLUGIN_SET_DIR};

use crate::files::{Written, write_if_changed};
use crate::host;

#[derive(Debug)]
pub struct Options {
    /// Canonical host workspace root.
    pub root: PathBuf,
    /// Fail rather than change `plugins.lock`.
    pub locked: bool,
    /// Never touch the network. Path plugins never do; `run` passes it on to cargo.
    pub offline: bool,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// Runs a sync; returns the paths it changed, relative to the root.
pub fn sync(options: &Options) -> anyhow::Result<Vec<String>> {
    let root = &options.root;
    let manifest = Manifest::load(&root.join(MANIFEST_FILE))?;
    host::check_workspace(root)?;

    let mut resolved: Vec<(LockedPlugin, PathBuf)> = Vec::new();
    for declaration in manifest.enabled() {
        let (locked, dir) = resolve(root, declaration)?;
        if let Some((other, _)) = resolved.iter().find(|(_, d)| *d == dir) {
            bail!(
                "plugins `{}` and `{}` in {MANIFEST_FILE} both point at {}; declare it once",
                other.name,
                locked.name,
                dir.display()
            );
        }
        resolved.push((locked, dir));
    }
    let lock = Lockfile {
        manifest_digest: manifest.digest(),
        plugins: resolved.into_iter().map(|(locked, _)| locked).collect(),
    };
    let lock_text = lock.render();
    let lock_path = root.join(LOCK_FILE);
    if options.locked {
        match std::fs::read_to_string(&lock_path) {
            Ok(existing) if existing == lock_text => {}
            Ok(_) => bail!(
                "{LOCK_FILE} needs to be updated but --locked was passed to prevent this; \
                 run `cargo xtask sync` without --locked"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{LOCK_FILE} is missing and --locked was passed; run `cargo xtask sync` without --locked"
            ),
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read {}", lock_path.display()));
            }
        }
    }

    let mut writes: Vec<(String, String)> = codegen::plugin_set(&manifest, &lock)
        .into_iter()
        .map(|file| (format!("{PLUGIN_SET_DIR}/{}", file.path), file.contents))
        .collect();
    // Last: a lock that matches the manifest means the whole sync completed.
    writes.push((LOCK_FILE.to_owned(), lock_text));
    let mut changed = Vec::new();
    for (relative, contents) in &writes {
        if write_if_changed(&root.join(relative), contents)? == Written::Changed {
            changed.push(relative.clone());
        }
    }
    if !options.quiet {
        let disabled = manifest.plugins.len() - lock.plugins.len();
        let disabled = if disabled > 0 {
            format!(" ({disabled} disabled)")
        } else {
            String::new()
        };
        eprintln!(
            "{:>12} {} plugin{} from {MANIFEST_FILE}{disabled}",
            "Synced",
            lock.plugins.len(),
            if lock.plugins.len() == 1 { "" } else { "s" },
        );
        if changed.is_empty() {
            eprintln!(
                "{:>12} {LOCK_FILE} and {PLUGIN_SET_DIR}/ unchanged",
                "Fresh"
            );
        } else {
            eprintln!("{:>12} {}", "Wrote", changed.join(", "));
        }
    }
    Ok(changed)
}

/// Finds a path plugin's crate and reads its package name and version.
fn resolve(root: &Path, declaration: &Declaration) -> anyhow::Result<(LockedPlugin, PathBuf)> {
    let name = &declaration.name;
    let Source::Path(declared) = &declaration.source;
    let joined = root.join(declared);
    let dir = joined.canonicalize().with_context(|| {
        format!(
            "plugin `{name}` in {MANIFEST_FILE}: path `{declared}` does not exist ({})",
            joined.display()
        )
    })?;
    let (package, version) =
        host::read_package(&dir).with_context(|| format!("plugin `{name}` in {MANIFEST_FILE}"))?;
    if package != declaration.package {
        let fix = if package == *name {
            "remove `package = …`".to_owned()
        } else {
            format!("set `package = \"{package}\"`")
        };
        bail!(
            "plugin `{name}` in {MANIFEST_FILE}: {} is package `{package}`, not `{}`; {fix}",
            dir.join("Cargo.toml").display(),
            declaration.package,
        );
    }
    let locked = LockedPlugin {
        name: name.clone(),
        package,
        version,
        source: LOCAL_SOURCE.to_owned(),
        path: Some(relative_path(root, &dir)),
    };
    Ok((locked, dir))
}

/// `path` relative to `base` (both canonical), `/`-separated.
fn relative_path(base: &Path, path: &Path) -> String {
    let base: Vec<Component> = base.components().collect();
    let path: Vec<Component> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); base.len() - common];
    parts.extend(
        path[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::relative_path;
    use std::path::Path;

    #[test]
    fn relative_paths() {
        let check = |base: &str, path: &str, expected: &str| {
            assert_eq!(relative_path(Path::new(base), Path::new(path)), expected);
        };
        check("/w/host", "/w/host/plugins/a", "plugins/a");
        check("/w/host", "/w/other/a", "../other/a");
        check("/w/host", "/w/host", ".");
        check("/w/host/deep", "/x", "../../../x");
    }
}
