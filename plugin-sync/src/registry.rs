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
use build_support::LOCK_FILE;
use build_support::manifest::Declaration;
use toml_edit::{DocumentMut, InlineTable, Item, Table};

use crate::checksum::Checksum;
use crate::{process, scratch};

/// One crate to resolve.
#[derive(Debug)]
pub struct Wanted<'a> {
    pub declaration: &'a Declaration,
    /// The requirement to resolve: the declared one for a new pin or one
    /// `update` moves, `=x.y.z` to keep a locked version.
    pub requirement: String,
    pub registry: Option<&'a str>,
    /// How this crate's pin goes.
    pub pin: Pin,
}

/// What becomes of a crate's pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Kept at its locked version.
    Kept,
    /// Not pinned yet (or its declaration no longer admits its pin).
    New,
    /// `update` moves it within its requirement.
    Moving,
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
    /// A kept version the registry has yanked since, as far as this run
    /// asked the registry (only when something made cargo go online).
    pub yanked: bool,
}

/// Resolves every wanted crate in one throwaway project (in `wanted`'s
/// order). `root` is the host's root: its `Cargo.toml`'s `[patch]` tables
/// apply, and cargo runs there, so its configuration is the host's. The
/// host's `Cargo.lock` seeds the resolution, as a build's would: a kept
/// version stays resolvable when the registry has yanked it since, and the
/// crates `update` moves are moved as `cargo update -p` moves them, the
/// rest staying put. When every crate is kept, cargo is asked offline
/// first, so a sync that changes nothing needs no network while cargo's
/// cache has the crates.
pub fn resolve(root: &Path, wanted: &[Wanted<'_>], offline: bool) -> anyhow::Result<Vec<Found>> {
    register_tokens();
    let scratch = scratch::Scratch::new("plugin-registry")?;
    let project = scratch.path();
    write_project(root, project, wanted)?;
    let seed = root.join("Cargo.lock");
    if seed.is_file() {
        std::fs::copy(&seed, project.join("Cargo.lock"))
            .with_context(|| format!("failed to copy {}", seed.display()))?;
    }
    let all_kept = wanted.iter().all(|w| w.pin == Pin::Kept);
    let mut online = !offline;
    let mut output = cargo_in(
        root,
        project,
        &["metadata", "--format-version", "1"],
        offline || all_kept,
    )?;
    if !output.status.success() && !offline && all_kept {
        output = cargo_in(root, project, &["metadata", "--format-version", "1"], false)?;
    } else if all_kept {
        online = false;
    }
    let mut found = found_all(project, wanted, &output)?;
    // The seed kept the crates `update` moves at their locked versions:
    // unlock exactly those.
    let unlock: Vec<String> = wanted
        .iter()
        .zip(&found)
        .filter(|(w, _)| w.pin == Pin::Moving)
        .map(|(w, f)| format!("{}@{}", w.declaration.package, f.version))
        .collect();
    if !unlock.is_empty() {
        let mut args = vec!["update"];
        for spec in &unlock {
            args.extend(["-p", spec.as_str()]);
        }
        let update = cargo_in(root, project, &args, offline)?;
        if !update.status.success() {
            return Err(unresolved(wanted, &update));
        }
        output = cargo_in(
            root,
            project,
            &["metadata", "--format-version", "1"],
            offline,
        )?;
        found = found_all(project, wanted, &output)?;
    }
    if online {
        for (i, yanked) in yanked_kept(root, wanted, &found)? {
            if let Some(f) = found.get_mut(i) {
                f.yanked = yanked;
            }
        }
    }
    Ok(found)
}

/// Writes the resolving project into `project`.
fn write_project(root: &Path, project: &Path, wanted: &[Wanted<'_>]) -> anyhow::Result<()> {
    std::fs::write(project.join("lib.rs"), "")
        .with_context(|| format!("failed to write {}", project.display()))?;
    std::fs::write(project.join("Cargo.toml"), manifest(root, wanted)?)
        .with_context(|| format!("failed to write {}", project.display()))
}

/// The error for a cargo run that could not resolve `wanted`.
fn unresolved(wanted: &[Wanted<'_>], output: &std::process::Output) -> anyhow::Error {
    let names: Vec<&str> = wanted.iter().map(|w| w.declaration.name.as_str()).collect();
    anyhow::anyhow!(
        "cargo could not resolve the registry plugins ({}): {}",
        names.join(", "),
        process::words(&output.stderr)
    )
}

/// Every wanted crate as the `cargo metadata` run that printed `output`
/// resolved it.
fn found_all(
    project: &Path,
    wanted: &[Wanted<'_>],
    output: &std::process::Output,
) -> anyhow::Result<Vec<Found>> {
    if !output.status.success() {
        return Err(unresolved(wanted, output));
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

/// Which kept crates the registry has yanked: cargo refuses a yanked
/// version to a project without a lock, so a second project asks for the
/// kept versions alone, unseeded (the index is fresh from the run just
/// made); each refusal naming a yanked version marks that crate and the
/// rest are asked again. Only a warning rides on this: any other failure
/// ends the probe with what it found so far.
fn yanked_kept(
    root: &Path,
    wanted: &[Wanted<'_>],
    found: &[Found],
) -> anyhow::Result<Vec<(usize, bool)>> {
    let mut asked: Vec<(usize, Wanted<'_>)> = wanted
        .iter()
        .enumerate()
        .filter(|(_, w)| w.pin == Pin::Kept)
        .filter_map(|(i, w)| {
            let version = &found.get(i)?.version;
            Some((
                i,
                Wanted {
                    declaration: w.declaration,
                    requirement: format!("={version}"),
                    registry: w.registry,
                    pin: Pin::Kept,
                },
            ))
        })
        .collect();
    let mut yanked = Vec::new();
    while !asked.is_empty() {
        let scratch = scratch::Scratch::new("plugin-registry-yanked")?;
        let project = scratch.path();
        let these: Vec<Wanted<'_>> = asked
            .iter()
            .map(|(_, w)| Wanted {
                requirement: w.requirement.clone(),
                ..*w
            })
            .collect();
        write_project(root, project, &these)?;
        let output = cargo_in(root, project, &["generate-lockfile"], false)?;
        if output.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let Some(position) = asked.iter().position(|(i, w)| {
            found.get(*i).is_some_and(|f| {
                stderr.contains(&format!(
                    "requirement `{} = \"={}\"`",
                    w.declaration.package, f.version
                )) && stderr.contains(&format!("version {} is yanked", f.version))
            })
        }) else {
            break;
        };
        let (i, _) = asked.remove(position);
        yanked.push((i, true));
    }
    Ok(yanked)
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

/// `cargo <args>` on the resolving project in `project`, run from the
/// host's root.
fn cargo_in(
    root: &Path,
    project: &Path,
    args: &[&str],
    offline: bool,
) -> anyhow::Result<std::process::Output> {
    let mut command = process::cargo();
    command
        .current_dir(root)
        .args(args)
        .arg("--manifest-path")
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
        yanked: false,
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

/// Where the host's `Cargo.lock` disagrees with plugins.lock about a
/// registry plugin, one line each: it holds the plugin's package from the
/// pinned registry but not at the pinned version, or at the pinned version
/// with another checksum. A plugin the host has not built yet (absent from
/// `Cargo.lock`, or no `Cargo.lock`) is no disagreement: cargo locks what
/// the generated crate asks for, `=x.y.z`.
pub fn cargo_lock_disagreements<'p>(
    root: &Path,
    plugins: impl IntoIterator<Item = &'p crate::lockfile::LockedPlugin>,
) -> anyhow::Result<Vec<String>> {
    let path = root.join("Cargo.lock");
    let entries = match lock_checksums(&path) {
        Ok(entries) => entries,
        Err(_) if !path.exists() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut problems = Vec::new();
    for plugin in plugins {
        let crate::lockfile::LockSource::Registry(pin) = &plugin.source else {
            continue;
        };
        let same: Vec<_> = entries
            .iter()
            .filter(|(n, _, s, _)| *n == plugin.package && *s == pin.index)
            .collect();
        let pinned = same.iter().find(|(_, v, _, _)| *v == plugin.version);
        let what = match pinned {
            Some((_, _, _, checksum)) if *checksum == pin.checksum => continue,
            Some((_, _, _, checksum)) => format!(
                "the checksum {} for that version, {LOCK_FILE} pins {}: one of the two was \
                 edited, or the registry served other bytes; find out which before building",
                checksum.as_str(),
                pin.checksum.as_str()
            ),
            None if same.is_empty() => continue,
            None => format!(
                "{} {}, not the pinned {}: build the host once without --locked (cargo \
                 locks what the generated crate asks for) and commit Cargo.lock",
                plugin.package,
                same.iter()
                    .map(|(_, v, _, _)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                plugin.version
            ),
        };
        problems.push(format!(
            "plugin `{}`: Cargo.lock disagrees with {LOCK_FILE} about {} {} from {}: it has {what}",
            plugin.name,
            plugin.package,
            plugin.version,
            crate::secret::redact(&pin.index)
        ));
    }
    Ok(problems)
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
