//! Content checksums of plugin source trees: a list of every file with its
//! kind and SHA-256, and the SHA-256 of that list. Computed from the bytes on
//! disk, which `git::checkout` wrote unfiltered, so the user's git
//! configuration cannot change it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use build_support::sha256_hex;

/// Written last into a cache checkout; a checkout without it is never used.
pub const CHECKOUT_MARKER: &str = ".plugin-ok";

/// Files that belong to the cache's bookkeeping, not to the plugin.
pub const IGNORED: &[&str] = &[CHECKOUT_MARKER];

/// Every file of a tree: relative `/`-separated path → `kind:sha256`, where
/// kind is `f` (file), `x` (executable) or `l` (symlink, hashing its target).
pub type Sums = BTreeMap<String, String>;

/// The sums of every file under `dir`.
pub fn sums(dir: &Path) -> anyhow::Result<Sums> {
    let mut out = Sums::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Sums) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        if prefix.is_empty() && IGNORED.contains(&name.as_str()) {
            continue;
        }
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("failed to stat {}", path.display()))?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&path)
                .with_context(|| format!("failed to read link {}", path.display()))?;
            let target = target.to_string_lossy();
            out.insert(relative, format!("l:{}", sha256_hex(target.as_bytes())));
        } else if kind.is_dir() {
            walk(&path, &format!("{relative}/"), out)?;
        } else {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let tag = if is_executable(&entry)? { "x" } else { "f" };
            out.insert(relative, format!("{tag}:{}", sha256_hex(&bytes)));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(entry: &std::fs::DirEntry) -> anyhow::Result<bool> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = entry
        .metadata()
        .context("failed to stat")?
        .permissions()
        .mode();
    Ok(mode & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::DirEntry) -> anyhow::Result<bool> {
    Ok(false)
}

/// Whether `dir` holds exactly the files whose checksum is `checksum` (a
/// missing directory does not): the one "is this copy intact" check.
pub fn intact(dir: &Path, checksum: &str) -> anyhow::Result<bool> {
    Ok(dir.is_dir() && digest(&sums(dir)?) == checksum)
}

/// The checksum recorded in `plugins.lock`: `sha256:` + SHA-256 of the sums,
/// one `path kind:hash` line each, sorted by path.
pub fn digest(sums: &Sums) -> String {
    let mut text = String::new();
    for (path, sum) in sums {
        writeln!(text, "{path} {sum}").expect("String write");
    }
    format!("sha256:{}", sha256_hex(text.as_bytes()))
}

/// The paths whose sums differ between `expected` and `actual`, each with
/// what happened to it.
pub fn differences(expected: &Sums, actual: &Sums) -> Vec<String> {
    let mut out = Vec::new();
    for (path, sum) in expected {
        match actual.get(path) {
            None => out.push(format!("{path} (missing)")),
            Some(other) if other != sum => out.push(format!("{path} (modified)")),
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        out.push(format!("{path} (added)"));
    }
    out
}
