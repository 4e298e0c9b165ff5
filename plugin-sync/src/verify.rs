//! `cargo xtask verify`: re-checks every git plugin's files against the
//! checksum in plugins.lock, naming the files that differ, and that the
//! host's `Cargo.lock` pins every registry plugin as plugins.lock does.

use std::path::Path;

use anyhow::bail;
use build_support::LOCK_FILE;

use crate::cache::{Cache, RepoUrl};
use crate::checksum;
use crate::lockfile::Lockfile;

/// Returns the problems found, one line each; empty means verified.
pub fn verify(root: &Path, cache: &Cache, quiet: bool) -> anyhow::Result<Vec<String>> {
    let path = root.join(LOCK_FILE);
    if !path.exists() {
        bail!(
            "{} is missing: nothing to verify; run `cargo xtask sync` first",
            path.display()
        );
    }
    let lock = Lockfile::load(&path)?;
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut unreached_unknown = Vec::new();
    for plugin in &lock.plugins {
        let Some(pin) = plugin.git() else {
            continue;
        };
        checked += 1;
        let name = &plugin.name;
        let expected = &pin.checksum;
        let commit = pin.commit.as_str();
        // The lock's commit must be what the declaration reaches, as the
        // cache last saw it.
        let db = cache
            .repo(&RepoUrl::parse(&pin.url, root))
            .ok()
            .map(|r| r.db);
        let reached = match &db {
            Some(db) => crate::git::reached(db, &pin.reference, commit)?,
            None => None,
        };
        match reached {
            Some(Ok(())) => {}
            Some(Err(tip)) => problems.push(format!(
                "plugin `{name}`: {LOCK_FILE} pins {commit}, which its {} does not reach (it \
                 names {tip} in the cache): the tag was moved, the branch rewritten, or the lock \
                 edited; `cargo xtask sync` pins what it reaches, after a warning",
                pin.reference
            )),
            None => unreached_unknown.push(name.as_str()),
        }
        let dir = root.join(pin.host_dir(name));
        if !dir.is_dir() {
            problems.push(format!(
                "plugin `{name}`: {} is missing; run `cargo xtask sync` to restore it",
                dir.display()
            ));
            continue;
        }
        let actual = checksum::sums(&dir)?;
        if checksum::digest(&actual) == *expected {
            continue;
        }
        // Name the files, from the commit's objects in the cache when it has
        // them.
        let pristine = db
            .filter(|db| crate::git::has_commit(db, commit))
            .and_then(|db| crate::git::sums(&db, commit).ok())
            .filter(|sums| checksum::digest(sums) == *expected);
        let detail = match pristine {
            Some(sums) => checksum::differences(&sums, &actual).join(", "),
            None => "(the cache does not have the commit, so the files cannot be named)".to_owned(),
        };
        problems.push(format!(
            "plugin `{name}`: files in {} differ from {LOCK_FILE}: {detail}",
            dir.display()
        ));
    }
    let registry = registry_problems(root, &lock, &mut problems)?;
    if !quiet && problems.is_empty() {
        errln!(
            "{:>12} {checked} git plugin{} match {LOCK_FILE}",
            "Verified",
            if checked == 1 { "" } else { "s" }
        );
        if registry > 0 {
            errln!(
                "{:>12} {registry} registry plugin{} agree with Cargo.lock (cargo checks their \
                 crates against it)",
                "Verified",
                if registry == 1 { "" } else { "s" }
            );
        }
    }
    if !quiet && !unreached_unknown.is_empty() {
        errln!(
            "{:>12} the cache cannot tell whether the declarations of {} reach their locked \
             commits (a sync that fetches them checks it)",
            "Note",
            unreached_unknown.join(", ")
        );
    }
    Ok(problems)
}

/// Registry plugins: cargo checks their crates against Cargo.lock's
/// checksums, so Cargo.lock must say what plugins.lock pins. Returns how
/// many there are.
fn registry_problems(
    root: &Path,
    lock: &Lockfile,
    problems: &mut Vec<String>,
) -> anyhow::Result<usize> {
    problems.extend(crate::registry::cargo_lock_disagreements(
        root,
        &lock.plugins,
    )?);
    Ok(lock
        .plugins
        .iter()
        .filter(|p| matches!(p.source, crate::lockfile::LockSource::Registry(_)))
        .count())
}
