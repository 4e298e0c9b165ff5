//! The check of the resolved crate graph, with `cargo metadata`, after the
//! generated crate is written and before the lock is: exactly one
//! `plugin-api`, and every locked plugin present where sync put it and
//! depending on that `plugin-api`. The authoritative version of the checks
//! `api` makes from the manifests alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dev::Overrides;
use crate::lockfile::{LockSource, LockedPlugin, Lockfile};
use crate::secret;
use anyhow::{Context as _, bail};
use build_support::MANIFEST_FILE;
use cargo_metadata::{Metadata, Package, PackageId};

/// Resolves the host workspace (offline when asked) and checks the graph.
/// Plugins in `overrides` must be found at their working copies.
pub fn check(
    root: &Path,
    lock: &Lockfile,
    overrides: &Overrides,
    extension_crates: &[String],
    offline: bool,
) -> anyhow::Result<Metadata> {
    let mut command = crate::process::metadata();
    command.manifest_path(root.join("Cargo.toml"));
    if offline {
        command.other_options(vec!["--offline".to_owned()]);
    }
    let metadata = command.exec().map_err(|e| {
        let collision = e.to_string().contains("package collision");
        let error = anyhow::Error::new(e)
            .context("cargo could not resolve the host workspace with the plugins");
        if collision && !overrides.is_empty() {
            // A path plugin that is also a workspace member stays in the
            // graph when a working copy replaces it.
            error.context(
                "a plugin built from a working copy (`cargo xtask dev`) has the name and version \
                 of a crate cargo still sees in the host, such as a workspace member: cargo cannot \
                 hold both. Take that crate out of the workspace's members while the override \
                 lasts, or edit it in place",
            )
        } else {
            error
        }
    })?;
    let plugins = check_graph(root, lock, overrides, &metadata)?;
    check_shared(root, &metadata, &plugins, extension_crates)?;
    Ok(metadata)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// Checks plugin-api and every plugin; returns each plugin's name and
/// package id.
fn check_graph<'m>(
    root: &Path,
    lock: &Lockfile,
    overrides: &Overrides,
    metadata: &'m Metadata,
) -> anyhow::Result<Vec<(String, &'m PackageId)>> {
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata returned no resolved graph")?;
    // Indexed once: a host has thousands of packages, and each plugin is
    // looked up by node and by manifest.
    let nodes: HashMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let in_graph = |id: &PackageId| nodes.contains_key(id);
    let apis: Vec<&Package> = metadata
        .packages
        .iter()
        .filter(|p| *p.name == *build_support::API_PACKAGE && in_graph(&p.id))
        .collect();
    let api = match apis.as_slice() {
        [api] => *api,
        [] => bail!(
            "no {} in the resolved graph of the host workspace",
            build_support::API_PACKAGE
        ),
        several => {
            let copies: Vec<String> = several
                .iter()
                .map(|p| {
                    let users: Vec<String> = resolve
                        .nodes
                        .iter()
                        .filter(|n| n.deps.iter().any(|d| d.pkg == p.id))
                        .filter_map(|n| metadata.packages.iter().find(|q| q.id == n.id))
                        .map(|q| format!("`{}`", q.name))
                        .collect();
                    format!("{} (used by {})", p.id.repr, users.join(", "))
                })
                .collect();
            bail!(
                "the host's crate graph has {} copies of static-plugins-api: {}; a plugin built against \
                 a copy the host does not use registers into a registry nobody reads. Patch each \
                 source to the host's static-plugins-api in the root Cargo.toml",
                several.len(),
                copies.join("; ")
            );
        }
    };
    let by_manifest = by_manifest(metadata);
    let mut plugins = Vec::with_capacity(lock.plugins.len());
    for plugin in &lock.plugins {
        let Some(package) = locate(root, overrides, metadata, &by_manifest, plugin) else {
            bail!(
                "plugin `{}` in {MANIFEST_FILE}: cargo did not resolve the crate sync put in \
                 the generated crate ({})",
                plugin.name,
                where_pinned(root, overrides, plugin)
            );
        };
        let node = nodes
            .get(&package.id)
            .with_context(|| format!("plugin `{}` is not in the resolved graph", plugin.name))?;
        if !node.deps.iter().any(|d| d.pkg == api.id) {
            bail!(
                "plugin `{}` in {MANIFEST_FILE}: crate `{}` does not depend on the host's \
                 static-plugins-api ({}), so it is not a plugin of this host",
                plugin.name,
                package.name,
                api.id.repr
            );
        }
        plugins.push((plugin.name.clone(), &package.id));
    }
    Ok(plugins)
}

/// Whether cargo would unify versions `a` and `b` of a crate from one
/// source: the same leftmost non-zero component.
fn compatible(a: &semver::Version, b: &semver::Version) -> bool {
    match (a.major, b.major) {
        (0, 0) if a.minor == 0 && b.minor == 0 => a.patch == b.patch,
        (0, 0) => a.minor == b.minor,
        (x, y) => x == y,
    }
}

/// How a copy of a crate is named in an error: version and source.
fn describe(package: &Package, root: &Path) -> String {
    match &package.source {
        Some(source) => format!("{} {} ({source})", package.name, package.version),
        None => format!(
            "{} {} (path {})",
            package.name,
            package.version,
            package
                .manifest_path
                .parent()
                .map_or_else(String::new, |dir| crate::host::relative_path(
                    root,
                    dir.as_std_path()
                ))
        ),
    }
}

/// The `[patch]` lines that make `plugin_copy`'s source resolve to
/// `host_copy`, for the root `Cargo.toml`.
fn patch_lines(host_copy: &Package, plugin_copy: &Package, root: &Path) -> String {
    let table = match plugin_copy.source.as_ref().map(|s| s.repr.as_str()) {
        Some(repr) if repr.starts_with("git+") => {
            let url = repr.trim_start_matches("git+");
            let url = url.split(['?', '#']).next().unwrap_or(url);
            format!("[patch.\"{url}\"]")
        }
        Some(repr)
            if repr.contains("crates.io-index") || repr == "sparse+https://index.crates.io/" =>
        {
            "[patch.crates-io]".to_owned()
        }
        Some(repr) => format!(
            "[patch.\"{}\"]",
            repr.trim_start_matches("registry+")
                .trim_start_matches("sparse+")
        ),
        // A path dependency cannot be patched: the plugin must depend on
        // the crate by version or git instead.
        None => "[patch.<the plugin's source>]".to_owned(),
    };
    let value = match host_copy.source.as_ref().map(|s| s.repr.as_str()) {
        None => format!(
            "{{ path = \"{}\" }}",
            host_copy
                .manifest_path
                .parent()
                .map_or_else(String::new, |dir| crate::host::relative_path(
                    root,
                    dir.as_std_path()
                ))
        ),
        Some(repr) if repr.starts_with("git+") => {
            let url = repr.trim_start_matches("git+");
            let (url, commit) = url.split_once('#').unwrap_or((url, ""));
            let url = url.split('?').next().unwrap_or(url);
            format!("{{ git = \"{url}\", rev = \"{commit}\" }}")
        }
        Some(_) => format!("{{ version = \"={}\" }}", host_copy.version),
    };
    format!("{table}\n    {} = {value}", host_copy.name)
}

/// What the code of `from` links: normal dependencies, transitively, never
/// entering a package `stop` says.
fn reach<'m>(
    nodes: &std::collections::BTreeMap<&'m PackageId, &'m cargo_metadata::Node>,
    from: Vec<&'m PackageId>,
    stop: &dyn Fn(&PackageId) -> bool,
) -> std::collections::BTreeSet<&'m PackageId> {
    let mut seen = std::collections::BTreeSet::new();
    let mut next = from;
    while let Some(id) = next.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(node) = nodes.get(id) {
            for dep in &node.deps {
                let normal = dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == cargo_metadata::DependencyKind::Normal);
                if normal && !stop(&dep.pkg) {
                    next.push(&dep.pkg);
                }
            }
        }
    }
    seen
}

/// One copy of every crate the host's binary shares with a plugin: a crate
/// that is in the graph twice, once reachable from the binary (not through
/// the plugins) and once from a plugin, is refused when the two versions
/// are semver-compatible (cargo would have unified them from one source) or
/// when the host declares the crate one of its `extension-crates`. Types of
/// one copy are not the other's: what a plugin registers for the host's
/// extension point would never be found.
fn check_shared(
    root: &Path,
    metadata: &Metadata,
    plugins: &[(String, &PackageId)],
    extension_crates: &[String],
) -> anyhow::Result<()> {
    use std::collections::{BTreeMap, BTreeSet};
    let Some(resolve) = metadata.resolve.as_ref() else {
        return Ok(());
    };
    let packages: BTreeMap<&PackageId, &Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: BTreeMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let plugin_ids: BTreeSet<&PackageId> = plugins.iter().map(|(_, id)| *id).collect();
    let members: BTreeSet<&PackageId> = metadata.workspace_members.iter().collect();
    let set = metadata
        .packages
        .iter()
        .find(|p| *p.name == *build_support::PLUGIN_SET_PACKAGE && members.contains(&p.id))
        .map(|p| &p.id);
    // The host's side: the members that depend on the generated crate (its
    // binaries), without what they reach through it.
    let host_roots: Vec<&PackageId> = metadata
        .workspace_members
        .iter()
        .filter(|id| !plugin_ids.contains(id) && Some(*id) != set)
        .filter(|id| {
            packages.get(id).is_some_and(|p| {
                p.dependencies
                    .iter()
                    .any(|d| d.name == build_support::PLUGIN_SET_PACKAGE)
            })
        })
        .collect();
    let host = reach(&nodes, host_roots, &|id| {
        Some(id) == set || plugin_ids.contains(id)
    });
    let mut problems = Vec::new();
    let mut users: BTreeMap<&PackageId, Vec<&str>> = BTreeMap::new();
    for (name, id) in plugins {
        for other in reach(&nodes, vec![*id], &|_| false) {
            if !host.contains(other) {
                users.entry(other).or_default().push(name.as_str());
            }
        }
    }
    for (copy, names) in &users {
        let Some(theirs) = packages.get(copy) else {
            continue;
        };
        let declared = extension_crates.iter().any(|c| *c == *theirs.name);
        for ours in host.iter().filter_map(|id| packages.get(id)) {
            if ours.name == theirs.name
                && ours.id != theirs.id
                && (declared || compatible(&ours.version, &theirs.version))
            {
                let users: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                problems.push(format!(
                    "crate `{}` is in the build twice: the host's binary uses {}, and plugin {} \
                     uses {}. A type of one copy is not the other's, so what the plugin \
                     registers for the host's extension points would never be found. Make them \
                     one copy; add to the root Cargo.toml:\n\n    {}\n",
                    theirs.name,
                    describe(ours, root),
                    users.join(", "),
                    describe(theirs, root),
                    patch_lines(ours, theirs, root),
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// Where the generated crate points for `plugin`: a working copy, the
/// crate's directory, or `None` for a registry plugin.
fn plugin_dir(root: &Path, overrides: &Overrides, plugin: &LockedPlugin) -> Option<PathBuf> {
    match (overrides.get(&plugin.name), plugin.crate_dir()) {
        (Some(dir), _) => Some(dir.clone()),
        (None, dir) => dir.map(|dir| root.join(build_support::PLUGIN_SET_DIR).join(dir)),
    }
}

/// The package cargo resolved for `plugin`: the crate at its directory, or
/// the locked version from its registry.
fn locate<'m>(
    root: &Path,
    overrides: &Overrides,
    metadata: &'m Metadata,
    by_manifest: &HashMap<PathBuf, &'m Package>,
    plugin: &LockedPlugin,
) -> Option<&'m Package> {
    match plugin_dir(root, overrides, plugin) {
        Some(dir) => by_manifest
            .get(&canonical(&dir.join("Cargo.toml")))
            .copied(),
        None => registry_package(metadata, plugin),
    }
}

/// The path packages of `metadata` (what a plugin directory or working
/// copy is to cargo: no registry or git source) by canonical manifest path:
/// each path resolved once, not once per plugin looked up, and none of a
/// large host's registry crates.
fn by_manifest(metadata: &Metadata) -> HashMap<PathBuf, &Package> {
    metadata
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .map(|p| (canonical(p.manifest_path.as_std_path()), p))
        .collect()
}

/// Where sync put `plugin`, for an error.
fn where_pinned(root: &Path, overrides: &Overrides, plugin: &LockedPlugin) -> String {
    match plugin_dir(root, overrides, plugin) {
        Some(dir) => dir.display().to_string(),
        None => format!(
            "{} {} from {}",
            plugin.package,
            plugin.version,
            secret::redact(&plugin.source_field())
        ),
    }
}

/// The package of a registry plugin in `metadata`: its locked version from
/// its registry. `None` for other plugins.
pub fn registry_package<'m>(metadata: &'m Metadata, plugin: &LockedPlugin) -> Option<&'m Package> {
    let LockSource::Registry(pin) = &plugin.source else {
        return None;
    };
    metadata.packages.iter().find(|p| {
        *p.name == *plugin.package
            && p.version == plugin.version
            && p.source.as_ref().is_some_and(|s| s.repr == pin.index)
    })
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn compatible_versions_are_those_cargo_would_unify() {
        let v = |s: &str| semver::Version::parse(s).unwrap();
        for (a, b, same) in [
            ("1.2.3", "1.9.0", true),
            ("1.2.3", "2.0.0", false),
            ("0.3.1", "0.3.9", true),
            ("0.3.1", "0.4.0", false),
            ("0.0.3", "0.0.3", true),
            ("0.0.3", "0.0.4", false),
            ("0.0.3", "0.1.0", false),
        ] {
            assert_eq!(compatible(&v(a), &v(b)), same, "{a} {b}");
            assert_eq!(compatible(&v(b), &v(a)), same, "{b} {a}");
        }
    }
}
