//! `cargo xtask list [--json]`: the release engineer's audit view. Each
//! plugin as declared (plugins.toml), locked (plugins.lock) and present
//! (its files where sync put them), with its source and commit, and the code
//! it runs at build time: a build script, or proc-macro crates among its own
//! dependencies (read from `cargo metadata`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;
use build_support::manifest::Manifest;
use build_support::{LOCK_FILE, MANIFEST_FILE, PLUGIN_SET_DIR};
use cargo_metadata::{Metadata, PackageId, TargetKind};

use crate::checksum;
use crate::lockfile::{LockedPlugin, Lockfile};

#[derive(Debug, serde::Serialize)]
struct Row {
    name: String,
    package: String,
    declared: bool,
    enabled: bool,
    locked: bool,
    present: bool,
    version: Option<String>,
    source: Option<String>,
    rev: Option<String>,
    checksum: Option<String>,
    /// `None` when cargo could not tell (not synced, or resolution failed).
    build_script: Option<bool>,
    proc_macros: Option<Vec<String>>,
    /// The crates it brings (not the host's plugin-api's) that have a build
    /// script of their own.
    dependency_build_scripts: Option<Vec<String>>,
}

pub fn list(root: &Path, json: bool) -> anyhow::Result<()> {
    let manifest = Manifest::load(&root.join(MANIFEST_FILE))?;
    let lock_path = root.join(LOCK_FILE);
    let lock = if lock_path.exists() {
        Some(Lockfile::load(&lock_path)?)
    } else {
        None
    };
    let metadata = crate::process::metadata()
        .manifest_path(root.join("Cargo.toml"))
        .other_options(vec!["--offline".to_owned()])
        .exec();
    let metadata = match metadata {
        Ok(metadata) => Some(metadata),
        Err(error) => {
            errln!("warning: cannot tell what runs at build time: {error}");
            None
        }
    };
    let locked: BTreeMap<&str, &LockedPlugin> = lock
        .iter()
        .flat_map(|l| &l.plugins)
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut rows = Vec::new();
    for declaration in &manifest.plugins {
        let entry = locked.get(declaration.name.as_str()).copied();
        rows.push(declared_row(root, declaration, entry, metadata.as_ref()));
    }
    // Locked but no longer declared: the lock is stale.
    let declared: std::collections::HashSet<&str> =
        manifest.plugins.iter().map(|d| d.name.as_str()).collect();
    for (name, entry) in &locked {
        if !declared.contains(*name) {
            rows.push(Row {
                name: (*name).to_owned(),
                package: entry.package.clone(),
                declared: false,
                enabled: false,
                locked: true,
                present: false,
                version: Some(entry.version.to_string()),
                source: Some(entry.source_field()),
                rev: entry.git().map(|g| g.commit.to_string()),
                checksum: entry.checksum().map(ToString::to_string),
                build_script: None,
                proc_macros: None,
                dependency_build_scripts: None,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    if json {
        let document = serde_json::json!({ "plugins": rows });
        outln!(
            "{}",
            serde_json::to_string_pretty(&document).context("failed to render JSON")?
        );
    } else {
        print_table(&rows);
    }
    Ok(())
}

/// The row of a declared plugin: locked or not, present or not, and what
/// of it runs at build time when cargo can tell.
fn declared_row(
    root: &Path,
    declaration: &build_support::manifest::Declaration,
    entry: Option<&LockedPlugin>,
    metadata: Option<&Metadata>,
) -> Row {
    let crate_dir = entry.and_then(|e| match e.crate_dir() {
        Some(dir) => Some(root.join(PLUGIN_SET_DIR).join(dir)),
        // A registry plugin is where cargo downloaded it.
        None => metadata
            .and_then(|m| crate::graph::registry_package(m, e))
            .and_then(|p| p.manifest_path.parent())
            .map(|d| d.as_std_path().to_owned()),
    });
    let present = match entry {
        None => false,
        Some(e) => match e.git() {
            Some(pin) => checksum::intact_fast(&root.join(pin.host_dir(&e.name)), &pin.checksum)
                .unwrap_or(false),
            None => crate_dir
                .as_ref()
                .is_some_and(|d| d.join("Cargo.toml").is_file()),
        },
    };
    let code = match (metadata, &crate_dir) {
        (Some(metadata), Some(dir)) if present => build_time_code(metadata, dir),
        _ => None,
    };
    let (build_script, proc_macros, dependency_build_scripts) = match code {
        Some(code) => (
            Some(code.build_script),
            Some(code.proc_macros),
            Some(code.dependency_build_scripts),
        ),
        None => (None, None, None),
    };
    Row {
        name: declaration.name.clone(),
        package: declaration.package.clone(),
        declared: true,
        enabled: declaration.enabled,
        locked: entry.is_some(),
        present,
        version: entry.map(|e| e.version.to_string()),
        source: entry.map(LockedPlugin::source_field),
        rev: entry.and_then(|e| e.git()).map(|g| g.commit.to_string()),
        checksum: entry
            .and_then(LockedPlugin::checksum)
            .map(ToString::to_string),
        build_script,
        proc_macros,
        dependency_build_scripts,
    }
}

/// What of a plugin runs at build time.
struct BuildTimeCode {
    /// Its own build script.
    build_script: bool,
    /// Proc-macro crates in its dependency tree.
    proc_macros: Vec<String>,
    /// Crates in its dependency tree with a build script.
    dependency_build_scripts: Vec<String>,
}

/// What of the crate at `dir` and of every crate it brings (without
/// plugin-api's own, which come with the host) runs at build time.
fn build_time_code(metadata: &Metadata, dir: &Path) -> Option<BuildTimeCode> {
    let manifest = dir.join("Cargo.toml").canonicalize().ok()?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path().canonicalize().ok().as_ref() == Some(&manifest))?;
    let build_script = package
        .targets
        .iter()
        .any(|t| t.kind.contains(&TargetKind::CustomBuild));
    let resolve = metadata.resolve.as_ref()?;
    let deps_of = |id: &PackageId| -> Vec<PackageId> {
        resolve
            .nodes
            .iter()
            .find(|n| &n.id == id)
            .map(|n| n.deps.iter().map(|d| d.pkg.clone()).collect())
            .unwrap_or_default()
    };
    let reachable = |start: Vec<PackageId>| -> BTreeSet<PackageId> {
        let mut seen = BTreeSet::new();
        let mut stack = start;
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone()) {
                stack.extend(deps_of(&id));
            }
        }
        seen
    };
    let host_api: Vec<PackageId> = metadata
        .packages
        .iter()
        .filter(|p| *p.name == *build_support::API_PACKAGE)
        .map(|p| p.id.clone())
        .collect();
    let from_host = reachable(host_api);
    let brought: Vec<&cargo_metadata::Package> = reachable(deps_of(&package.id))
        .iter()
        .filter(|id| !from_host.contains(*id))
        .filter_map(|id| metadata.packages.iter().find(|p| &p.id == id))
        .collect();
    let having = |kind: TargetKind| -> Vec<String> {
        let mut names: Vec<String> = brought
            .iter()
            .filter(|p| p.targets.iter().any(|t| t.kind.contains(&kind)))
            .map(|p| p.name.to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    Some(BuildTimeCode {
        build_script,
        proc_macros: having(TargetKind::ProcMacro),
        dependency_build_scripts: having(TargetKind::CustomBuild),
    })
}

fn print_table(rows: &[Row]) {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let state = if !r.declared {
                "locked, not declared (run sync)".to_owned()
            } else if !r.enabled {
                "disabled".to_owned()
            } else if !r.locked {
                "declared, not locked (run sync)".to_owned()
            } else if !r.present {
                "locked, files missing (run sync)".to_owned()
            } else {
                "present".to_owned()
            };
            let build = match (&r.build_script, &r.proc_macros, &r.dependency_build_scripts) {
                (Some(script), Some(macros), Some(scripts)) => {
                    let mut parts = Vec::new();
                    if *script {
                        parts.push("build.rs".to_owned());
                    }
                    parts.extend(macros.iter().map(|m| format!("proc-macro {m}")));
                    parts.extend(scripts.iter().map(|s| format!("build.rs of {s}")));
                    if parts.is_empty() {
                        "-".to_owned()
                    } else {
                        parts.join(", ")
                    }
                }
                _ => "?".to_owned(),
            };
            [
                r.name.clone(),
                state,
                r.source.clone().unwrap_or_else(|| "-".to_owned()),
                r.rev
                    .as_deref()
                    .map_or("-".to_owned(), |c| c.get(..12).unwrap_or(c).to_owned()),
                build,
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "SOURCE", "COMMIT", "BUILD-TIME CODE"].map(str::to_owned);
    let mut widths = header.each_ref().map(|h| h.len());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        // Sources and names come from the lock: the shell shows them escaped.
        outln!("{}", line.join("  ").trim_end());
    }
}
