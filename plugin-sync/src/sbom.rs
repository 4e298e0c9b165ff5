//! A CycloneDX 1.5 JSON bill of materials of a host binary: every crate in
//! its build graph (normal and build dependencies, for the host target, from
//! `cargo metadata`) with its version, package URL and license, the
//! registry's checksum from `Cargo.lock`, and for plugins the plugin's name,
//! its git source, commit and the lock's checksum.
//!
//! Deterministic: no serial number, no wall-clock time (the timestamp is
//! `SOURCE_DATE_EPOCH` when set, else absent), no absolute path (a path
//! crate inside the host is named by its relative path; one outside by name
//! and version only), everything sorted. Two runs over the same lock give
//! the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, bail};
use build_support::LOCK_FILE;
use cargo_metadata::{DependencyKind, Metadata, Package, PackageId};
use serde_json::{Map, Value, json};

use crate::lockfile::{LockSource, LockedPlugin, Lockfile, digest_text};

/// Prefix of the properties this tool adds.
const PROPERTY: &str = "static-plugins";

/// The bill of materials of binary package `package` of the host at
/// `root`, as JSON text (with a final newline).
pub fn render(root: &Path, package: &str, offline: bool, target: &str) -> anyhow::Result<String> {
    let lock_path = root.join(LOCK_FILE);
    let lock_text = build_support::read_bounded(&lock_path, build_support::MAX_LOCK_BYTES)
        .with_context(|| {
            format!(
                "failed to read {}; run `cargo xtask sync`",
                lock_path.display()
            )
        })?;
    let lock = Lockfile::parse(&lock_text, &lock_path)?;
    let mut command = crate::process::metadata();
    command.manifest_path(root.join("Cargo.toml"));
    let mut options = vec!["--filter-platform".to_owned(), target.to_owned()];
    if offline {
        options.push("--offline".to_owned());
    }
    command.other_options(options);
    let metadata = command
        .exec()
        .context("cargo could not resolve the host workspace")?;
    let checksums = registry_checksums(root)?;
    let bom = document(
        root,
        package,
        &lock,
        &digest_text(&lock_text),
        &metadata,
        &checksums,
    )?;
    Ok(serde_json::to_string_pretty(&bom).context("failed to render the SBOM")? + "\n")
}

/// `(name, version, source) → checksum` of registry packages in the host's
/// `Cargo.lock`.
type Checksums = BTreeMap<(String, String, String), String>;

fn registry_checksums(root: &Path) -> anyhow::Result<Checksums> {
    let path = root.join("Cargo.lock");
    let text = crate::files::read_limited(&path, 64 << 20)?;
    let doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("failed to parse {}", path.display()))?;
    let mut out = Checksums::new();
    let Some(packages) = doc.get("package").and_then(|p| p.as_array_of_tables()) else {
        return Ok(out);
    };
    for package in packages {
        let field = |key: &str| package.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        if let (Some(name), Some(version), Some(source), Some(checksum)) = (
            field("name"),
            field("version"),
            field("source"),
            field("checksum"),
        ) {
            out.insert((name, version, source), checksum);
        }
    }
    Ok(out)
}

/// How a component is named in the document.
struct Named<'a> {
    package: &'a Package,
    bom_ref: String,
    purl: String,
    plugin: Option<&'a LockedPlugin>,
}

fn document(
    root: &Path,
    package: &str,
    lock: &Lockfile,
    lock_digest: &str,
    metadata: &Metadata,
    checksums: &Checksums,
) -> anyhow::Result<Value> {
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata returned no resolved graph")?;
    let members: BTreeSet<&PackageId> = metadata.workspace_members.iter().collect();
    let binary = metadata
        .packages
        .iter()
        .find(|p| *p.name == *package && members.contains(&p.id))
        .with_context(|| format!("the host workspace has no package `{package}`"))?;
    let nodes: BTreeMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    // What goes into the binary's build: normal and build dependencies,
    // transitively (dev-dependencies do not).
    let edges = |id: &PackageId| -> Vec<&PackageId> {
        nodes.get(id).map_or_else(Vec::new, |node| {
            node.deps
                .iter()
                .filter(|d| {
                    d.dep_kinds
                        .iter()
                        .any(|k| matches!(k.kind, DependencyKind::Normal | DependencyKind::Build))
                })
                .map(|d| &d.pkg)
                .collect()
        })
    };
    let mut reached: BTreeSet<&PackageId> = BTreeSet::new();
    let mut stack = vec![&binary.id];
    while let Some(id) = stack.pop() {
        if reached.insert(id) {
            stack.extend(edges(id));
        }
    }
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let plugin_of = |p: &Package| {
        let manifest = canonical(p.manifest_path.as_std_path());
        lock.plugins.iter().find(|plugin| match plugin.crate_dir() {
            Some(dir) => {
                let dir = root.join(build_support::PLUGIN_SET_DIR).join(dir);
                canonical(&dir.join("Cargo.toml")) == manifest
            }
            None => crate::graph::registry_package(metadata, plugin).is_some_and(|r| r.id == p.id),
        })
    };
    let named = named_packages(&root, metadata, &reached, &plugin_of)?;
    check_unique(&named)?;
    let mut components: Vec<Value> = named
        .iter()
        .filter(|(id, _)| **id != &binary.id)
        .map(|(_, n)| component(n, checksums))
        .collect();
    components.sort_by_key(|c| text_of(c, "bom-ref"));
    let mut dependencies: Vec<Value> = named
        .iter()
        .map(|(id, n)| {
            let mut on: Vec<&str> = edges(id)
                .into_iter()
                .filter_map(|d| named.get(d).map(|d| d.bom_ref.as_str()))
                .collect();
            on.sort_unstable();
            on.dedup();
            json!({ "ref": n.bom_ref, "dependsOn": on })
        })
        .collect();
    dependencies.sort_by_key(|d| text_of(d, "ref"));
    let top = named
        .get(&binary.id)
        .context("the binary is in its own graph")?;
    let meta = bom_metadata(binary, top, lock, lock_digest)?;
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": meta,
        "components": components,
        "dependencies": dependencies,
    }))
}

/// Each package of the graph with its SBOM names and, for a plugin, its
/// lock entry.
fn named_packages<'a>(
    root: &Path,
    metadata: &'a Metadata,
    reached: &BTreeSet<&'a PackageId>,
    plugin_of: &dyn Fn(&Package) -> Option<&'a LockedPlugin>,
) -> anyhow::Result<BTreeMap<&'a PackageId, Named<'a>>> {
    let mut named: BTreeMap<&PackageId, Named<'_>> = BTreeMap::new();
    for id in reached {
        let Some(package) = metadata.packages.iter().find(|p| &p.id == *id) else {
            bail!(
                "cargo metadata lists {} in the graph but not as a package",
                id.repr
            );
        };
        let plugin = plugin_of(package);
        let (bom_ref, purl) = names(root, package, plugin);
        named.insert(
            *id,
            Named {
                package,
                bom_ref,
                purl,
                plugin,
            },
        );
    }
    Ok(named)
}

/// The BOM's `metadata`: the tool, the binary as the top component, the
/// lock's digest and the number of plugins, and `SOURCE_DATE_EPOCH`'s
/// timestamp when it is set.
fn bom_metadata(
    binary: &Package,
    top: &Named<'_>,
    lock: &Lockfile,
    lock_digest: &str,
) -> anyhow::Result<Map<String, Value>> {
    let mut meta = Map::new();
    if let Some(timestamp) = source_date()? {
        meta.insert("timestamp".into(), Value::String(timestamp));
    }
    let Value::Object(rest) = json!({
        "tools": {
            "components": [{
                "type": "application",
                "name": build_support::ENGINE_PACKAGE,
                "version": env!("CARGO_PKG_VERSION"),
            }]
        },
        "component": {
            "type": "application",
            "bom-ref": top.bom_ref,
            "name": binary.name.to_string(),
            "version": binary.version.to_string(),
            "purl": top.purl,
        },
        "properties": [
            { "name": format!("{PROPERTY}:lock-digest"), "value": lock_digest },
            { "name": format!("{PROPERTY}:plugins"), "value": lock.plugins.len().to_string() },
        ],
    }) else {
        bail!("the SBOM's metadata is not an object");
    };
    meta.extend(rest);
    Ok(meta)
}

/// No two crates of the graph may share a `bom-ref`.
fn check_unique(named: &BTreeMap<&PackageId, Named<'_>>) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for n in named.values() {
        if !seen.insert(n.bom_ref.as_str()) {
            bail!(
                "two crates of the build graph would have the same name in the SBOM: {}",
                n.bom_ref
            );
        }
    }
    Ok(())
}

/// A string field of a JSON object, for sorting.
fn text_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn canonical(path: &Path) -> std::path::PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// Whether a source id is crates.io's index (git or sparse protocol).
fn is_crates_io(source: &str) -> bool {
    matches!(
        source,
        "registry+https://github.com/rust-lang/crates.io-index" | "sparse+https://index.crates.io/"
    )
}

/// A package's `bom-ref` (unique in the document) and package URL.
fn names(root: &Path, package: &Package, plugin: Option<&LockedPlugin>) -> (String, String) {
    let purl = format!(
        "pkg:cargo/{}@{}",
        percent(&package.name),
        percent(&package.version.to_string())
    );
    let source = package.source.as_ref().map(|s| s.repr.as_str());
    let bom_ref = match (plugin.map(|p| &p.source), source) {
        // A plugin from git: its package URL names the repository and
        // commit, and is its reference.
        (Some(LockSource::Git(pin)), _) => {
            let vcs = format!("git+{}@{}", pin.url, pin.commit.as_str());
            let purl = format!("{purl}?vcs_url={}", percent(&vcs));
            return (purl.clone(), purl);
        }
        // From a registry: crates.io is the package URL's default; another
        // registry is named by its index.
        (_, Some(source)) if crate::lockfile::RegistryPin::is_source(source) => {
            if is_crates_io(source) {
                purl.clone()
            } else {
                let index = source.split_once('+').map_or(source, |(_, url)| url);
                let purl = format!(
                    "{purl}?repository_url={}",
                    percent(&crate::secret::bare(index))
                );
                return (purl.clone(), purl);
            }
        }
        (_, Some(source)) => {
            let bare = crate::secret::bare(source);
            format!("{purl}?vcs_url={}", percent(&bare))
        }
        (_, None) => {
            let dir = package
                .manifest_path
                .as_std_path()
                .parent()
                .map(canonical)
                .unwrap_or_default();
            match dir.strip_prefix(root) {
                Ok(relative) => format!(
                    "path+{}#{}@{}",
                    relative.display(),
                    package.name,
                    package.version
                ),
                Err(_) => format!("path+{}@{}", package.name, package.version),
            }
        }
    };
    (bom_ref, purl)
}

fn component(n: &Named<'_>, checksums: &Checksums) -> Value {
    let package = n.package;
    let mut out = Map::new();
    let mut set = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    set("type", "library".into());
    set("bom-ref", n.bom_ref.clone().into());
    set("name", package.name.to_string().into());
    set("version", package.version.to_string().into());
    set("purl", n.purl.clone().into());
    set("scope", "required".into());
    if let Some(license) = package.license.as_deref().filter(|l| !l.is_empty()) {
        set("licenses", json!([{ "expression": license }]));
    }
    if let Some(source) = &package.source
        && let Some(checksum) = checksums.get(&(
            package.name.to_string(),
            package.version.to_string(),
            source.repr.clone(),
        ))
    {
        set("hashes", json!([{ "alg": "SHA-256", "content": checksum }]));
    }
    if let Some(plugin) = n.plugin {
        let property = |name: &str, value: &str| json!({ "name": format!("{PROPERTY}:{name}"), "value": value });
        let mut properties = vec![property("plugin", &plugin.name)];
        if let Some(pin) = plugin.git() {
            properties.push(property("commit", pin.commit.as_str()));
            properties.push(property("reference", &pin.reference.to_string()));
            properties.push(property("checksum", pin.checksum.as_str()));
            set(
                "externalReferences",
                json!([{
                    "type": "vcs",
                    "url": pin.url,
                    "comment": format!("commit {}", pin.commit.as_str()),
                }]),
            );
            if let Some(hex) = pin.checksum.as_str().strip_prefix("sha256:") {
                set("hashes", json!([{ "alg": "SHA-256", "content": hex }]));
            }
        } else if let LockSource::Registry(pin) = &plugin.source {
            properties.push(property("source", &crate::secret::bare(&pin.index)));
            properties.push(property("checksum", pin.checksum.as_str()));
        } else {
            properties.push(property("source", "local"));
        }
        set("properties", Value::Array(properties));
    }
    Value::Object(out)
}

/// Percent-encodes what a package URL may not hold literally (`+` too: a
/// qualifier value such as `git+https://…` must encode it).
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `SOURCE_DATE_EPOCH` as an RFC 3339 UTC time, when set.
fn source_date() -> anyhow::Result<Option<String>> {
    let Some(text) = std::env::var_os("SOURCE_DATE_EPOCH") else {
        return Ok(None);
    };
    let text = text.to_string_lossy();
    let seconds: i64 = text
        .trim()
        .parse()
        .with_context(|| format!("SOURCE_DATE_EPOCH is `{text}`, not a number of seconds"))?;
    Ok(Some(rfc3339(seconds)))
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic
/// Gregorian, Howard Hinnant's days-to-civil).
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let time = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{percent, rfc3339};

    #[test]
    fn epoch_seconds_become_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn package_urls_encode_what_they_must() {
        assert_eq!(percent("serde_json"), "serde_json");
        assert_eq!(percent("1.0.0+build"), "1.0.0%2Bbuild");
        assert_eq!(
            percent("git+file:///a b@c"),
            "git%2Bfile%3A%2F%2F%2Fa%20b%40c"
        );
    }
}
