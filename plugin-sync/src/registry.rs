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

/// How the resolving project is read back.
const METADATA: &[&str] = &["metadata", "--format-version", "1"];

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
    let mut output = cargo_in(root, project, METADATA, offline || all_kept)?;
    if !output.status.success() && !offline && all_kept {
        output = cargo_in(root, project, METADATA, false)?;
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
        output = cargo_in(root, project, METADATA, offline)?;
        found = found_all(project, wanted, &output)?;
    }
    if online {
        for i in yanked_kept(root, wanted, &found)? {
            if let Some(f) = found.get_mut(i) {
                f.yanked = true;
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
    let entries = lock_entries(&project.join("Cargo.lock"))?;
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
        .map(|w| found(w, node, &metadata, &entries))
        .collect()
}

/// Which kept crates the registry has yanked: cargo refuses a yanked
/// version to a project without a lock, so a second project asks for the
/// kept versions alone, unseeded (the index is fresh from the run just
/// made); each refusal naming a yanked version marks that crate and the
/// rest are asked again. Only a warning rides on this: any other failure
/// ends the probe with what it found so far.
fn yanked_kept(root: &Path, wanted: &[Wanted<'_>], found: &[Found]) -> anyhow::Result<Vec<usize>> {
    let mut asked: Vec<usize> = (0..wanted.len())
        .filter(|&i| wanted.get(i).is_some_and(|w| w.pin == Pin::Kept))
        .collect();
    let mut yanked = Vec::new();
    while !asked.is_empty() {
        let these: Vec<Wanted<'_>> = asked
            .iter()
            .filter_map(|&i| {
                Some(Wanted {
                    requirement: format!("={}", found.get(i)?.version),
                    ..*wanted.get(i)?
                })
            })
            .collect();
        let scratch = scratch::Scratch::new("plugin-registry-yanked")?;
        let project = scratch.path();
        write_project(root, project, &these)?;
        let output = cargo_in(root, project, &["generate-lockfile"], false)?;
        if output.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let refused = |i: usize| {
            wanted.get(i).zip(found.get(i)).is_some_and(|(w, f)| {
                stderr.contains(&format!(
                    "requirement `{} = \"={}\"`",
                    w.declaration.package, f.version
                )) && stderr.contains(&format!("version {} is yanked", f.version))
            })
        };
        let Some(position) = asked.iter().position(|&i| refused(i)) else {
            break;
        };
        yanked.push(asked.remove(position));
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
    entries: &[LockEntry],
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
    let checksum = entries
        .iter()
        .find(|e| e.name == *package.name && e.version == version && e.source == index)
        .and_then(|e| e.checksum.clone())
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
    let entries = match lock_entries(&path) {
        Ok(entries) => entries,
        Err(_) if !path.exists() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut problems = Vec::new();
    for plugin in plugins {
        let crate::lockfile::LockSource::Registry(pin) = &plugin.source else {
            continue;
        };
        let same: Vec<&LockEntry> = entries
            .iter()
            .filter(|e| e.name == plugin.package && e.source == pin.index)
            .collect();
        let pinned = same.iter().find(|e| e.version == plugin.version);
        let what = match pinned.map(|e| e.checksum.as_ref()) {
            Some(Some(checksum)) if *checksum == pin.checksum => continue,
            Some(checksum) => format!(
                "{} for that version, {LOCK_FILE} pins {}: one of the two was edited, or the \
                 registry served other bytes; find out which before building",
                checksum.map_or_else(
                    || "no valid checksum".to_owned(),
                    |c| format!("the checksum {}", c.as_str())
                ),
                pin.checksum.as_str()
            ),
            None if same.is_empty() => continue,
            None => format!(
                "{} {}, not the pinned {}: build the host once without --locked (cargo \
                 locks what the generated crate asks for) and commit Cargo.lock",
                plugin.package,
                same.iter()
                    .map(|e| e.version.to_string())
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

/// A registry package of a `Cargo.lock`.
#[derive(Debug)]
struct LockEntry {
    name: String,
    version: semver::Version,
    /// Cargo's source id.
    source: String,
    /// `None` when the entry has no checksum or a malformed one.
    checksum: Option<Checksum>,
}

/// Every registry package of a `Cargo.lock` (entries without a name, a
/// version or a source are not packages of a registry).
fn lock_entries(path: &Path) -> anyhow::Result<Vec<LockEntry>> {
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
            Some(LockEntry {
                name: field("name")?.to_owned(),
                version: semver::Version::parse(field("version")?).ok()?,
                source: field("source")?.to_owned(),
                checksum: field("checksum")
                    .and_then(|hex| Checksum::parse(&format!("sha256:{hex}"))),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::cargo_lock_disagreements;
    use crate::checksum::Checksum;
    use crate::lockfile::{LockSource, LockedPlugin, RegistryPin};

    const SOURCE: &str = "sparse+http://127.0.0.1:1/index/";

    fn pinned(hex: char) -> LockedPlugin {
        LockedPlugin {
            name: "toy".into(),
            package: "toy".into(),
            version: semver::Version::new(0, 1, 0),
            source: LockSource::Registry(RegistryPin {
                index: SOURCE.into(),
                registry: Some("testreg".into()),
                checksum: Checksum::parse(&format!("sha256:{}", hex.to_string().repeat(64)))
                    .expect("a checksum"),
            }),
        }
    }

    fn entry(version: &str, checksum: &str) -> String {
        format!(
            "[[package]]\nname = \"toy\"\nversion = \"{version}\"\nsource = \"{SOURCE}\"\n\
             checksum = \"{checksum}\"\n"
        )
    }

    /// What `cargo_lock_disagreements` says of `Cargo.lock` holding `text`
    /// (none: no Cargo.lock).
    fn said(text: Option<&str>) -> anyhow::Result<Vec<String>> {
        let scratch = crate::scratch::Scratch::new("registry-lock-test")?;
        if let Some(text) = text {
            std::fs::write(scratch.path().join("Cargo.lock"), text)?;
        }
        cargo_lock_disagreements(scratch.path(), [&pinned('a')])
    }

    #[test]
    fn cargo_lock_agrees_or_says_how_it_does_not() {
        let agreed = entry("0.1.0", &"a".repeat(64));
        assert!(said(None).expect("no lock").is_empty());
        assert!(said(Some(&agreed)).expect("agrees").is_empty());
        // Never built, or only other packages: no disagreement.
        assert!(said(Some("version = 4\n")).expect("empty").is_empty());
        let cases = [
            (entry("0.1.0", &"b".repeat(64)), "the checksum sha256:bbbb"),
            (
                entry("0.1.0", "not hex"),
                "no valid checksum for that version",
            ),
            (
                "[[package]]\nname = \"toy\"\nversion = \"0.1.0\"\nsource = \"".to_owned()
                    + SOURCE
                    + "\"\n",
                "no valid checksum for that version",
            ),
            (
                entry("0.2.0", &"a".repeat(64)),
                "toy 0.2.0, not the pinned 0.1.0",
            ),
        ];
        for (text, expected) in cases {
            let problems = said(Some(&text)).expect("read");
            assert!(
                problems.len() == 1
                    && problems.iter().all(|p| p.starts_with(
                        "plugin `toy`: Cargo.lock disagrees with plugins.lock about toy 0.1.0"
                    ) && p.contains(expected)),
                "{text}: {problems:?}"
            );
        }
        // A lock that is not TOML is an error naming it, not an agreement.
        let error = said(Some("[[package]\nname = ")).expect_err("broken");
        assert!(
            format!("{error:#}").contains("failed to parse"),
            "{error:#}"
        );
    }
}
