//! Content checksums of plugin source trees: a list of every file with its
//! kind and SHA-256, and the SHA-256 of that list. Computed from the bytes on
//! disk, which `git::checkout` wrote unfiltered, so the user's git
//! configuration cannot change it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use build_support::sha256_hex;

/// Written last into each copy sync makes in `plugin-sources/`: prune
/// removes only directories that carry it.
pub const COPY_MARKER: &str = ".plugin-ok";

/// In a host copy: the stat index that lets a no-op sync prove the copy
/// unchanged without reading it.
pub const INDEX_FILE: &str = ".plugin-index";

/// Files that belong to the tool's bookkeeping, not to the plugin (a
/// repository holding one of these names at its root is refused).
pub const IGNORED: &[&str] = &[COPY_MARKER, INDEX_FILE];

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
/// missing directory does not): the one "is this copy intact" check. Reads
/// and hashes every file.
pub fn intact(dir: &Path, checksum: &Checksum) -> anyhow::Result<bool> {
    Ok(dir.is_dir() && digest(&sums(dir)?) == *checksum)
}

/// [`intact`] for a host copy made by sync, without reading its files when
/// nothing changed: the copy's index file records, when it was written, the
/// checksum and every entry's size, mtime, ctime and inode (as git's index
/// does). If the marker is for `checksum` and every entry still matches,
/// the copy is intact; on any difference, every file is hashed. `verify`
/// always hashes.
pub fn intact_fast(dir: &Path, checksum: &Checksum) -> anyhow::Result<bool> {
    Ok(intact_with_ids(dir, checksum)?.0)
}

/// [`intact_fast`], and the plugin ids the index recorded for the crate in
/// the copy when it proves the copy unchanged (so they need not be scanned
/// again).
pub fn intact_with_ids(
    dir: &Path,
    checksum: &Checksum,
) -> anyhow::Result<(bool, Option<Vec<String>>)> {
    let recorded = std::fs::read_to_string(dir.join(INDEX_FILE)).unwrap_or_default();
    if let Some(index) = recorded.strip_prefix(&format!("{checksum}\n")) {
        let (stats, ids) = match index.rsplit_once(IDS_LINE) {
            Some((stats, ids)) => (stats, serde_json::from_str(ids.trim_end()).ok()),
            None => (index, None),
        };
        if let Ok(now) = stat_index(dir)
            && now == stats
        {
            return Ok((true, ids));
        }
    }
    Ok((intact(dir, checksum)?, None))
}

/// Starts the index's last line: the plugin ids of the crate, as JSON.
const IDS_LINE: &str = "ids\t";

/// The index of a host copy that holds the files with `checksum`: the
/// checksum, then one line per entry with what `stat` says of it, then the
/// plugin ids scanned in the copy's crate.
pub fn index(dir: &Path, checksum: &Checksum, ids: &[String]) -> anyhow::Result<String> {
    let ids = serde_json::to_string(ids).context("failed to render the ids")?;
    Ok(format!("{checksum}\n{}{IDS_LINE}{ids}\n", stat_index(dir)?))
}

/// `path size mtime ctime inode` of every file and symlink under `dir`
/// (not followed), sorted by path; empty where the platform cannot say.
fn stat_index(dir: &Path) -> anyhow::Result<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && IGNORED.contains(&name.as_str()) {
                continue;
            }
            let relative = format!("{prefix}{name}");
            // The kind comes with the directory entry: a directory is not
            // stated, only walked.
            let kind = entry
                .file_type()
                .with_context(|| format!("failed to stat {}", entry.path().display()))?;
            if kind.is_dir() {
                walk(&entry.path(), &format!("{relative}/"), out)?;
                continue;
            }
            // Stated relative to the open directory (never followed): no
            // path walk from the root for each of thousands of files.
            let meta = entry
                .metadata()
                .with_context(|| format!("failed to stat {}", entry.path().display()))?;
            if meta.is_dir() {
                walk(&entry.path(), &format!("{relative}/"), out)?;
            } else {
                out.push(format!("{relative}\t{}", stat_line(&meta)));
            }
        }
        Ok(())
    }
    let mut lines = Vec::new();
    walk(dir, "", &mut lines)?;
    lines.sort();
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

#[cfg(unix)]
fn stat_line(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt as _;
    format!(
        "{} {}.{} {}.{} {} {:o}",
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino(),
        meta.mode()
    )
}

/// Without inodes and ctimes the index proves too little: always hash.
#[cfg(not(unix))]
fn stat_line(_: &std::fs::Metadata) -> String {
    "unknown".to_owned()
}

/// The checksum recorded in `plugins.lock`: `sha256:` + SHA-256 of the sums,
/// one `path kind:hash` line each, sorted by path.
pub fn digest(sums: &Sums) -> Checksum {
    let mut text = String::new();
    for (path, sum) in sums {
        writeln!(text, "{path} {sum}").expect("String write");
    }
    Checksum(format!("sha256:{}", sha256_hex(text.as_bytes())))
}

/// A plugin's content checksum: `sha256:` and 64 lowercase hex digits,
/// over the sorted `path kind:sha256` lines of its files ([`digest`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum(String);

impl Checksum {
    /// `text` if it is a checksum as the lock writes it (lowercase only:
    /// another spelling would never match what [`digest`] computes).
    pub fn parse(text: &str) -> Option<Checksum> {
        text.strip_prefix("sha256:")
            .is_some_and(|hex| {
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .then(|| Checksum(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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
