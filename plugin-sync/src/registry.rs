//! Registry plugins, resolved and downloaded by cargo itself: a throwaway
//! project depending on each wanted crate (with the host's `[patch]`
//! tables) is resolved with `cargo metadata`, run from the host's root so
//! cargo reads the host's configuration — `[registries]`,
//! `CARGO_REGISTRIES_<NAME>_*`, source replacement, credential providers —
//! exactly as the host's own build will. The engine reads back the version
//! cargo chose, its source id, the registry's checksum (from the project's
//! `Cargo.lock`) and where cargo unpacked the crate; it never talks to a
//! registry, and a registry's credentials stay cargo's.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use build_support::manifest::Declaration;
use toml_edit::{DocumentMut, InlineTable, Item, Table};

use crate::checksum::Checksum;
use crate::{process, scratch};

/// One crate to resolve.
#[derive(Debug)]
pub struct Wanted<'a> {
    pub declaration: &'a Declaration,
    /// The requirement to resolve: the declared one for a new pin,
    /// `=x.y.z` to keep a locked version.
    pub requirement: String,
    pub registry: Option<&'a str>,
}

/// What cargo resolved for one [`Wanted`].
#[derive(Debug, Clone)]
pub struct Found {
    pub version: semver::Version,
    /// Cargo's source id of the registry (`registry+…`, `sparse+…`).
    pub index: String,
    /// The registry's checksum of the `.crate` file.
    pub checksum: Checksum,
    /// Where cargo unpacked the crate.
    pub dir: PathBuf,
}

/// Resolves every wanted crate in one cargo run (in `wanted`'s order).
/// `root` is the host's root: its `Cargo.toml`'s `[patch]` tables apply,
/// and cargo runs there, so its configuration is the host's. When every
/// wanted crate is pinned (`all_pinned`), the host's `Cargo.lock` seeds the
/// resolution (a pinned version stays resolvable when the registry has
/// yanked it since) and cargo is asked offline first, so a sync that
/// changes nothing needs no network while cargo's cache has the crates.
pub fn resolve(
    root: &Path,
    wanted: &[Wanted<'_>],
    offline: bool,
    all_pinned: bool,
) -> anyhow::Result<Vec<Found>> {
    register_tokens();
    let scratch = scratch::Scratch::new("plugin-registry")?;
    let project = scratch.path();
    std::fs::write(project.join("lib.rs"), "")
        .with_context(|| format!("failed to write {}", project.display()))?;
    std::fs::write(project.join("Cargo.toml"), manifest(root, wanted)?)
        .with_context(|| format!("failed to write {}", project.display()))?;
    // Only when nothing moves: the lock would keep a crate `update` moves.
    let seed = root.join("Cargo.lock");
    if all_pinned && seed.is_file() {
        std::fs::copy(&seed, project.join("Cargo.lock"))
            .with_context(|| format!("failed to copy {}", seed.display()))?;
    }
    let mut output = cargo_metadata_of(root, project, offline || all_pinned)?;
    if !output.status.success() && !offline && all_pinned {
        output = cargo_metadata_of(root, project, false)?;
    }
    if !output.status.success() {
        let names: Vec<&str> = wanted.iter().map(|w| w.declaration.name.as_str()).collect();
        bail!(
            "cargo could not resolve the registry plugins ({}): {}",
            names.join(", "),
            process::words(&output.stderr)
        );
    }
    let metadata = cargo_metadata::MetadataCommand::parse(String::from_utf8_lossy(&output.stdout))
        .context("cargo metadata printed something that is not its JSON")?;
    let checksums = lock_checksums(&project.join("Cargo.lock"))?;
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata returned no resolved graph")?;
    let root_id = resolve
        .root
        .as_ref()
        .context("cargo metadata returned no root package")?;
    let node = resolve
        .nodes
        .iter()
        .find(|n| &n.id == root_id)
        .context("cargo metadata has no node for the resolving project")?;
    wanted
        .iter()
        .map(|w| found(w, node, &metadata, &checksums))
        .collect()
}

/// Cargo reads registry tokens itself; whatever it might echo, the tool's
/// output hides them.
fn register_tokens() {
    for (name, value) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CARGO_REGISTRY_TOKEN"
            || (name.starts_with("CARGO_REGISTRIES_") && name.ends_with("_TOKEN"))
        {
            crate::secret::register(&value.to_string_lossy());
        }
    }
}

/// `cargo metadata` of the resolving project in `project`, run from the
/// host's root.
fn cargo_metadata_of(
    root: &Path,
    project: &Path,
    offline: bool,
) -> anyhow::Result<std::process::Output> {
    let mut command = process::cargo();
    command
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .stdin(std::process::Stdio::null());
    if offline {
        command.arg("--offline");
    }
    command
        .output()
        .context("failed to run cargo to resolve the registry plugins")
}

/// What cargo resolved for `wanted`: the package the resolving project's
/// dependency of that name points at, which must come from a registry.
fn found(
    wanted: &Wanted<'_>,
    node: &cargo_metadata::Node,
    metadata: &cargo_metadata::Metadata,
    checksums: &[(String, semver::Version, String, Checksum)],
) -> anyhow::Result<Found> {
    let name = &wanted.declaration.name;
    let id = node
        .deps
        .iter()
        .find(|d| d.name == wanted.declaration.rust_name())
        .map(|d| &d.pkg)
        .with_context(|| format!("cargo resolved no crate for plugin `{name}`"))?;
    let package = metadata
        .packages
        .iter()
        .find(|p| &p.id == id)
        .with_context(|| format!("cargo metadata lists no package for plugin `{name}`"))?;
    let index = package
        .source
        .as_ref()
        .map(|s| s.repr.clone())
        .filter(|s| crate::lockfile::RegistryPin::is_source(s))
        .with_context(|| {
            format!(
                "plugin `{name}`: cargo took `{}` from somewhere else than a registry (a \
                 [patch] of the host's?); a registry plugin must come from its registry",
                package.name
            )
        })?;
    if build_support::url::split(&index).had_secret {
        bail!(
            "plugin `{name}`: the index URL of its registry ({}) carries credentials, which \
             plugins.lock, the binary and the bill of materials would then hold; give cargo the \
             token through a credential provider (`CARGO_REGISTRIES_<NAME>_TOKEN`) instead",
            crate::secret::bare(&index)
        );
    }
    let version = package.version.clone();
    let checksum = checksums
        .iter()
        .find(|(n, v, s, _)| *n == *package.name && *v == version && *s == index)
        .map(|(_, _, _, c)| c.clone())
        .with_context(|| {
            format!(
                "plugin `{name}`: the registry gave no checksum for {} {version}",
                package.name
            )
        })?;
    let dir = package
        .manifest_path
        .parent()
        .map(|d| d.as_std_path().to_owned())
        .context("a crate's manifest is in a directory")?;
    Ok(Found {
        version,
        index,
        checksum,
        dir,
    })
}

/// The resolving project's manifest: one dependency per wanted crate, as
/// the generated crate will declare it, and the host's `[patch]` tables
/// with their paths made absolute.
fn manifest(root: &Path, wanted: &[Wanted<'_>]) -> anyhow::Result<String> {
    let mut document = DocumentMut::new();
    let mut package = Table::new();
    package.insert("name", toml_edit::value("plugin-registry-resolve"));
    package.insert("version", toml_edit::value("0.0.0"));
    package.insert("edition", toml_edit::value("2024"));
    package.insert("publish", toml_edit::value(false));
    document.insert("package", Item::Table(package));
    let mut lib = Table::new();
    lib.insert("path", toml_edit::value("lib.rs"));
    document.insert("lib", Item::Table(lib));
    document.insert("workspace", Item::Table(Table::new()));
    let mut dependencies = Table::new();
    for w in wanted {
        let d = w.declaration;
        let mut dependency = InlineTable::new();
        dependency.insert("version", w.requirement.as_str().into());
        if let Some(registry) = w.registry {
            dependency.insert("registry", registry.into());
        }
        if d.package != d.name {
            dependency.insert("package", d.package.as_str().into());
        }
        if !d.features.is_empty() {
            let features: toml_edit::Array = d.features.iter().map(String::as_str).collect();
            dependency.insert("features", features.into());
        }
        if !d.default_features {
            dependency.insert("default-features", false.into());
        }
        dependencies.insert(&d.name, toml_edit::value(dependency));
    }
    document.insert("dependencies", Item::Table(dependencies));
    let host = root.join("Cargo.toml");
    let text = build_support::read_bounded(&host, 4 << 20)
        .with_context(|| format!("failed to read {}", host.display()))?;
    let host: DocumentMut = text
        .parse()
        .with_context(|| format!("failed to parse {}", root.join("Cargo.toml").display()))?;
    if let Some(patch) = host.get("patch") {
        document.insert("patch", crate::host::absolute_paths(patch.clone(), root));
    }
    Ok(document.to_string())
}

/// `(name, version, source, checksum)` of every registry package of a
/// `Cargo.lock`.
fn lock_checksums(path: &Path) -> anyhow::Result<Vec<(String, semver::Version, String, Checksum)>> {
    let text = build_support::read_bounded(path, 16 << 20)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let document: DocumentMut = text
        .parse()
        .with_context(|| format!("failed to parse {}", path.display()))?;
    let Some(packages) = document.get("package").and_then(Item::as_array_of_tables) else {
        return Ok(Vec::new());
    };
    Ok(packages
        .iter()
        .filter_map(|p| {
            let field = |key: &str| p.get(key).and_then(Item::as_str);
            let checksum = Checksum::parse(&format!("sha256:{}", field("checksum")?))?;
            Some((
                field("name")?.to_owned(),
                semver::Version::parse(field("version")?).ok()?,
                field("source")?.to_owned(),
                checksum,
            ))
        })
        .collect())
}
