//! The check of the resolved crate graph, with `cargo metadata`, after the
//! generated crate is written and before the lock is: exactly one
//! `plugin-api`, and every locked plugin present where sync put it and
//! depending on that `plugin-api`. The authoritative version of the checks
//! `api` makes from the manifests alone.

use std::path::{Path, PathBuf};

use crate::dev::Overrides;
use crate::lockfile::Lockfile;
use anyhow::{Context as _, bail};
use build_support::MANIFEST_FILE;
use cargo_metadata::{Metadata, MetadataCommand, Package, PackageId};

/// Resolves the host workspace (offline when asked) and checks the graph.
/// Plugins in `overrides` must be found at their working copies.
pub fn check(
    root: &Path,
    lock: &Lockfile,
    overrides: &Overrides,
    offline: bool,
) -> anyhow::Result<Metadata> {
    let mut command = MetadataCommand::new();
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
    check_graph(root, lock, overrides, &metadata)?;
    Ok(metadata)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

fn check_graph(
    root: &Path,
    lock: &Lockfile,
    overrides: &Overrides,
    metadata: &Metadata,
) -> anyhow::Result<()> {
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata returned no resolved graph")?;
    let in_graph = |id: &PackageId| resolve.nodes.iter().any(|n| &n.id == id);
    let apis: Vec<&Package> = metadata
        .packages
        .iter()
        .filter(|p| *p.name == *"plugin-api" && in_graph(&p.id))
        .collect();
    let api = match apis.as_slice() {
        [api] => *api,
        [] => bail!("no plugin-api in the resolved graph of the host workspace"),
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
                "the host's crate graph has {} copies of plugin-api: {}; a plugin built against \
                 a copy the host does not use registers into a registry nobody reads. Patch each \
                 source to the host's plugin-api in the root Cargo.toml",
                several.len(),
                copies.join("; ")
            );
        }
    };
    for plugin in &lock.plugins {
        let dir = match overrides.get(&plugin.name) {
            Some(dir) => dir.clone(),
            None => root
                .join(build_support::PLUGIN_SET_DIR)
                .join(plugin.crate_dir()),
        };
        let manifest = canonical(&dir.join("Cargo.toml"));
        let Some(package) = metadata
            .packages
            .iter()
            .find(|p| canonical(p.manifest_path.as_std_path()) == manifest)
        else {
            bail!(
                "plugin `{}` in {MANIFEST_FILE}: cargo did not resolve the crate at {}",
                plugin.name,
                manifest.display()
            );
        };
        let node = resolve
            .nodes
            .iter()
            .find(|n| n.id == package.id)
            .with_context(|| format!("plugin `{}` is not in the resolved graph", plugin.name))?;
        if !node.deps.iter().any(|d| d.pkg == api.id) {
            bail!(
                "plugin `{}` in {MANIFEST_FILE}: crate `{}` does not depend on the host's \
                 plugin-api ({}), so it is not a plugin of this host",
                plugin.name,
                package.name,
                api.id.repr
            );
        }
    }
    Ok(())
}
