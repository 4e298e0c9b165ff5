//! The apply phase: carries out a [`Plan`] — backup, copy the git plugins'
//! files, write the generated files, check the graph with cargo, write the
//! lock last, prune what the new lock no longer uses. Every file is written
//! beside and renamed; if cargo refuses the new graph, every file is put
//! back.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use build_support::{LOCK_FILE, MANIFEST_FILE, PLUGIN_SET_DIR, SOURCES_DIR};

use super::plan::{HostCopy, Plan};
use super::{Config, Report};
use crate::checksum::{COPY_MARKER, INDEX_FILE};
use crate::files::{Backup, Written, write_if_changed};
use crate::lockfile::Lockfile;
use crate::{checksum, crash, dev, graph};

pub fn run(config: &Config, plan: Plan) -> anyhow::Result<Report> {
    let root = &config.root;
    crash::point("validated");
    // plugins.toml is the user's: written through a symlink to its target
    // (the others are the tool's, and a symlink there is replaced, never
    // followed).
    let target = |relative: &str| -> anyhow::Result<PathBuf> {
        let path = root.join(relative);
        if relative == MANIFEST_FILE {
            path.canonicalize()
                .with_context(|| format!("failed to resolve {}", path.display()))
        } else {
            Ok(path)
        }
    };
    let mut writes = Vec::with_capacity(plan.writes.len());
    for (relative, contents) in &plan.writes {
        writes.push((relative, target(relative)?, contents));
    }
    // cargo metadata below may rewrite Cargo.lock: it is put back too if
    // the check fails.
    let mut backed_up: Vec<PathBuf> = writes.iter().map(|(_, path, _)| path.clone()).collect();
    backed_up.push(root.join("Cargo.lock"));
    let mut new_dirs = vec![root.join(PLUGIN_SET_DIR), root.join(SOURCES_DIR)];
    new_dirs.extend(plan.copies.iter().map(|copy| root.join(&copy.to)));
    let backup = Backup::take(&backed_up, &new_dirs)?;

    let mut changed = Vec::new();
    for copy in &plan.copies {
        replace_dir(copy, &root.join(&copy.to))?;
        changed.push(format!("{}/", copy.to));
        crash::point("copied");
    }
    for (relative, path, contents) in &writes {
        if write_if_changed(path, contents)? == Written::Changed {
            changed.push((*relative).clone());
        }
    }
    // What cargo resolves is the last word, checked before the lock makes
    // the new state official; a no-op sync does not need to ask.
    if !changed.is_empty()
        && let Err(error) = graph::check(
            root,
            &plan.lock,
            &plan.overrides,
            &plan.extension_crates,
            config.offline,
        )
    {
        backup.restore();
        return Err(error);
    }
    crash::point("generated");
    if let Some(overrides) = &plan.record_overrides
        && let Err(error) = dev::save(root, overrides)
    {
        backup.restore();
        return Err(error);
    }
    if write_if_changed(&root.join(LOCK_FILE), &plan.lock_text)? == Written::Changed {
        changed.push(LOCK_FILE.to_owned());
    }
    crash::point("locked");
    for copy in &plan.reindex {
        reindex(&root.join(&copy.to), copy);
    }
    let mut report = plan.report;
    report
        .warnings
        .extend(remove_stale_sources(root, &plan.lock)?);
    Ok(Report { changed, ..report })
}

/// Writes the index of the intact copy `dir` afresh (beside, then
/// renamed), so the next sync proves it by stating instead of hashing, as
/// `git status` refreshes git's index. Only in a real directory (a
/// symlink is not written through), and only a cache: if it cannot be
/// written (a read-only host), the next sync hashes again.
fn reindex(dir: &Path, copy: &super::plan::Reindex) {
    let is_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    let Ok(index) = checksum::index(dir, &copy.checksum, &copy.ids) else {
        return;
    };
    let temp = dir.join(format!("{INDEX_FILE}.new-{}", std::process::id()));
    // `create_new` never follows (nor removes) what was planted at the
    // temporary name; what it created is removed if it is not renamed.
    let Some(mut file) = is_dir
        .then(|| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
                .ok()
        })
        .flatten()
    else {
        return;
    };
    let written = std::io::Write::write_all(&mut file, index.as_bytes());
    drop(file);
    if written.is_err() || std::fs::rename(&temp, dir.join(INDEX_FILE)).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

/// Replaces directory `dest` with a copy of `from` (without the cache's
/// marker): copy beside, then swap with renames. A staged checkout (`take`)
/// is moved beside instead, so its files are written once; across
/// filesystems, where a rename cannot, it is copied and then removed.
fn replace_dir(copy: &HostCopy, dest: &Path) -> anyhow::Result<()> {
    let (from, take) = (copy.from.as_path(), copy.stage.is_some());
    let parent = dest.parent().context("sources live in a directory")?;
    let name = dest
        .file_name()
        .context("a source directory has a name")?
        .to_string_lossy()
        .into_owned();
    let temp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    // A copy that fails half-way (a full disk) is removed at once, its
    // cause kept in the error.
    let filled = fill_copy(copy, from, take, &temp);
    if filled.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    filled?;
    if dest.exists() {
        std::fs::rename(dest, &old)
            .with_context(|| format!("failed to move {} aside", dest.display()))?;
    }
    std::fs::rename(&temp, dest)
        .with_context(|| format!("failed to move {} into place", dest.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Writes the copy of `from` into `temp`: moved when it is a staged
/// checkout on the same filesystem, else copied; then its index and marker.
fn fill_copy(copy: &HostCopy, from: &Path, take: bool, temp: &Path) -> anyhow::Result<()> {
    if !(take && std::fs::rename(from, temp).is_ok()) {
        copy_tree(from, temp, true)
            .with_context(|| format!("failed to copy {} to {}", from.display(), temp.display()))?;
        if take {
            let _ = std::fs::remove_dir_all(from);
        }
    }
    // The index lets a no-op sync prove the copy unchanged without reading
    // it; the marker, written last, says sync made the copy (prune removes
    // only what carries it).
    let index = checksum::index(temp, &copy.checksum, &copy.ids)?;
    std::fs::write(temp.join(INDEX_FILE), index)
        .with_context(|| format!("failed to write the index in {}", temp.display()))?;
    std::fs::write(temp.join(COPY_MARKER), "")
        .with_context(|| format!("failed to write the marker in {}", temp.display()))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, top: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if top && checksum::IGNORED.iter().any(|i| name == *i) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&src)?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &dst)?;
            #[cfg(not(unix))]
            anyhow::bail!(
                "symlink {} -> {}: symlinks are only supported on Unix",
                src.display(),
                target.display()
            );
        } else if kind.is_dir() {
            copy_tree(&src, &dst, false)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Removes what sync made under `plugin-sources/` and the new lock no
/// longer uses: copies of removed plugins or older commits (recognised by
/// their marker) and interrupted copies (recognised by their temporary
/// names). Anything else there is not sync's: it is left in place, with a
/// warning. Runs after the lock is written, so until then the previous lock's
/// files stay in place. Never follows a symlink.
fn remove_stale_sources(root: &Path, lock: &Lockfile) -> anyhow::Result<Vec<String>> {
    let dir = root.join(SOURCES_DIR);
    let mut warnings = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(warnings);
    };
    let current_dirs: std::collections::HashSet<String> = lock
        .plugins
        .iter()
        .filter_map(|p| p.git().map(|pin| pin.host_dir(&p.name)))
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let current =
            name == ".gitignore" || current_dirs.contains(&format!("{SOURCES_DIR}/{name}"));
        if current {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let ours = is_dir && (is_temporary(&name) || path.join(COPY_MARKER).is_file());
        if ours {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("failed to remove the stale {}", path.display()))?;
        } else {
            warnings.push(format!(
                "{SOURCES_DIR}/{name} was not made by sync, so it was left in place; sync owns \
                 the rest of {SOURCES_DIR}/: keep your own files elsewhere"
            ));
        }
    }
    Ok(warnings)
}

/// `.<dir>.new-<pid>` or `.<dir>.old-<pid>`, as [`replace_dir`] names them,
/// or `.<commit>.stage-<pid>-<n>`, a checkout staged here from a read-only
/// cache ([`crate::cache::CachedRepo::stage_checkout`]).
fn is_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let stage = rest
        .split_once(".stage-")
        .and_then(|(commit, n)| Some((commit, n.split_once('-')?)))
        .is_some_and(|(commit, (pid, n))| {
            crate::lockfile::Commit::parse(commit).is_some() && digits(pid) && digits(n)
        });
    stage
        || [".new-", ".old-"]
            .iter()
            .any(|infix| rest.rsplit_once(infix).is_some_and(|(_, pid)| digits(pid)))
}

#[cfg(test)]
mod tests {
    use super::is_temporary;

    #[test]
    fn sync_recognises_its_own_temporary_names_only() {
        let commit = "a".repeat(40);
        for ours in [
            format!(".rot-{commit}.new-12"),
            format!(".rot-{commit}.old-7"),
            format!(".{commit}.stage-123-0"),
        ] {
            assert!(is_temporary(&ours), "{ours}");
        }
        for theirs in [
            "notes".to_owned(),
            ".rot.new-".to_owned(),
            format!(".{commit}.stage-123"),
            ".abc.stage-1-2".to_owned(),
            format!("{commit}.stage-1-2"),
        ] {
            assert!(!is_temporary(&theirs), "{theirs}");
        }
    }
}
