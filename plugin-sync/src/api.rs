//! How each plugin crate depends on `plugin-api`, checked against the host's
//! own `plugin-api` before anything is written: a plugin that would get a
//! second copy of `plugin-api` (and so register into a registry the host
//! never reads) is an error that says what to add, a plugin built for an
//! incompatible version is an error that says so, and a crate that does not
//! depend on `plugin-api` is not a plugin.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use build_support::{API_PACKAGE, OLD_API_PACKAGE};
use toml_edit::{Document, Item, TableLike};

/// A `plugin-api` dependency, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiSource {
    /// From the registry, with this requirement.
    Registry { req: String },
    /// From a git repository (the URL as written).
    Git { url: String },
    /// A path, resolved to a directory.
    Path { dir: PathBuf },
}

/// The host's `plugin-api`: how the host declares it, its version when
/// known, and the declaration's TOML text for fixes.
#[derive(Debug)]
pub struct HostApi {
    pub source: ApiSource,
    pub version: Option<semver::Version>,
    pub declaration: String,
    pub patches: Vec<String>,
}

fn parse(path: &Path) -> anyhow::Result<Document<String>> {
    let text = crate::files::read_limited(path, crate::files::MAX_MANIFEST)?;
    Document::parse(text).with_context(|| format!("failed to parse {}", path.display()))
}

/// Reads a dependency declaration (`"1.0"` or a table) relative to `base`.
fn source_of(item: &Item, base: &Path) -> Option<ApiSource> {
    if let Some(req) = item.as_str() {
        return Some(ApiSource::Registry {
            req: req.to_owned(),
        });
    }
    let table = item.as_table_like()?;
    let string = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_owned);
    if let Some(url) = string("git") {
        return Some(ApiSource::Git { url });
    }
    if let Some(path) = string("path") {
        let dir = base.join(path);
        return Some(ApiSource::Path {
            dir: dir.canonicalize().unwrap_or(dir),
        });
    }
    string("version").map(|req| ApiSource::Registry { req })
}

/// The entry of package `package` in a `[dependencies]` table, renamed
/// or not, with its key.
fn entry<'d>(dependencies: &'d dyn TableLike, package: &str) -> Option<(&'d str, &'d Item)> {
    dependencies.iter().find_map(|(key, item)| {
        let named = item
            .as_table_like()
            .and_then(|t| t.get("package"))
            .and_then(Item::as_str);
        (named.unwrap_or(key) == package).then_some((key, item))
    })
}

/// The host's `plugin-api`, from its root `[workspace.dependencies]`, and the
/// `[patch]` sources of its root manifest that already patch `plugin-api`.
pub fn host(root: &Path) -> anyhow::Result<HostApi> {
    let document = parse(&root.join("Cargo.toml"))?;
    let item = document
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get(API_PACKAGE))
        .with_context(|| {
            format!("the host has no `{API_PACKAGE}` in `[workspace.dependencies]`")
        })?;
    let source = source_of(item, root)
        .with_context(|| format!("the host's `{API_PACKAGE}` declaration has no source"))?;
    let version = match &source {
        ApiSource::Path { dir } => crate::host::read_package(dir, Path::new("/"))
            .ok()
            .and_then(|(_, v)| semver::Version::parse(&v).ok()),
        _ => None,
    };
    let patches = document
        .get("patch")
        .and_then(Item::as_table_like)
        .map(|patch| {
            patch
                .iter()
                .filter(|(_, table)| table.get(API_PACKAGE).is_some())
                .map(|(source, _)| source.to_owned())
                .collect()
        })
        .unwrap_or_default();
    let declaration = match item {
        Item::Value(value) => value.to_string().trim().to_owned(),
        other => other.to_string().trim().to_owned(),
    };
    Ok(HostApi {
        source,
        version,
        declaration,
        patches,
    })
}

/// How the crate in `crate_dir` depends on `plugin-api`, following
/// `plugin-api.workspace = true` to the crate's own workspace (which must be
/// inside `top`, the repository or host directory it came from).
pub fn plugin(crate_dir: &Path, top: &Path) -> anyhow::Result<Option<ApiSource>> {
    let manifest = crate_dir.join("Cargo.toml");
    let document = parse(&manifest)?;
    let dependencies = document.get("dependencies").and_then(Item::as_table_like);
    let Some((key, item)) = dependencies.and_then(|d| entry(d, API_PACKAGE)) else {
        if dependencies
            .and_then(|d| entry(d, OLD_API_PACKAGE))
            .is_some()
        {
            bail!(
                "{} depends on `{OLD_API_PACKAGE}`, the API crate's name before 0.2 (on \
                 crates.io that name is another project's); depend on `{API_PACKAGE} = \
                 \"0.2\"` instead (its library is still `plugin_api`)",
                manifest.display()
            );
        }
        return Ok(None);
    };
    let inherits = item
        .as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true);
    if !inherits {
        return Ok(source_of(item, crate_dir));
    }
    for dir in crate_dir.ancestors().skip(1) {
        if !dir.starts_with(top) {
            break;
        }
        let path = dir.join("Cargo.toml");
        if !path.is_file() {
            continue;
        }
        let root = parse(&path)?;
        if let Some(workspace) = root.get("workspace") {
            let inherited = workspace
                .get("dependencies")
                .and_then(|d| d.get(key))
                .with_context(|| {
                    format!(
                        "{} inherits `{key}` from its workspace, but {} does not declare it",
                        manifest.display(),
                        path.display()
                    )
                })?;
            return Ok(source_of(inherited, dir));
        }
    }
    bail!(
        "{} inherits `{key}` from a workspace, but no workspace root was found above it",
        manifest.display()
    )
}

/// Checks that a plugin's `plugin-api` will be the host's. `subject` names
/// it in errors: ``plugin `x` in plugins.toml``, or ``crate `x` `` for lint.
pub fn check(subject: &str, root: &Path, plugin: &ApiSource, host: &HostApi) -> anyhow::Result<()> {
    let fix = |patch_source: &str| {
        format!(
            "add to {}:\n\n    [patch.{patch_source}]\n    {API_PACKAGE} = {}\n",
            root.join("Cargo.toml").display(),
            host.declaration
        )
    };
    match plugin {
        ApiSource::Registry { req } => {
            if let (Ok(parsed), Some(version)) = (semver::VersionReq::parse(req), &host.version)
                && !parsed.matches(version)
            {
                bail!(
                    "{subject} requires static-plugins-api `{req}`, but the host \
                     has static-plugins-api {version}; use a release of the plugin built for static-plugins-api \
                     {version}, or upgrade the host"
                );
            }
            let host_is_registry = matches!(host.source, ApiSource::Registry { .. });
            if !host_is_registry && !host.patches.iter().any(|p| p == "crates-io") {
                bail!(
                    "{subject} depends on static-plugins-api `{req}` from \
                     crates.io, which would be a second copy of static-plugins-api whose registrations \
                     the host never sees; make it use the host's: {}",
                    fix("crates-io")
                );
            }
        }
        ApiSource::Git { url } => {
            let same = matches!(&host.source, ApiSource::Git { url: host_url } if host_url == url);
            if !same && !host.patches.iter().any(|p| p == url) {
                bail!(
                    "{subject} depends on static-plugins-api from {url}, which \
                     would be a second copy of static-plugins-api whose registrations the host never sees; \
                     make it use the host's: {}",
                    fix(&format!("\"{url}\""))
                );
            }
        }
        ApiSource::Path { dir } => {
            let same = matches!(&host.source, ApiSource::Path { dir: host_dir } if host_dir == dir);
            if !same {
                bail!(
                    "{subject} depends on static-plugins-api by path ({}), which \
                     is not the host's static-plugins-api and cannot be patched; the plugin should depend \
                     on static-plugins-api by version or git URL",
                    dir.display()
                );
            }
        }
    }
    Ok(())
}
