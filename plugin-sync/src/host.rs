//! The host workspace: where it is, and whether it can hold the generated
//! `plugin-set` crate.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};
use build_support::{MANIFEST_FILE, PLUGIN_SET_DIR, PLUGIN_SET_PACKAGE, SOURCES_DIR};
use toml_edit::{Document, Item};

/// The host workspace root: the directory of `--manifest-path`, else the
/// nearest directory at or above the current one that holds `plugins.toml`.
/// Returned canonical, so relative paths computed from it are stable.
pub fn locate(manifest_path: Option<&Path>) -> anyhow::Result<PathBuf> {
    let root = match manifest_path {
        Some(path) => {
            if path.file_name() != Some("Cargo.toml".as_ref()) {
                bail!(
                    "--manifest-path must point at a Cargo.toml, got {}",
                    path.display()
                );
            }
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = dir.unwrap_or(Path::new("."));
            if !path.is_file() {
                bail!("manifest path {} does not exist", path.display());
            }
            dir.to_owned()
        }
        None => {
            let cwd = std::env::current_dir().context("failed to read the current directory")?;
            match cwd
                .ancestors()
                .find(|dir| dir.join(MANIFEST_FILE).is_file())
            {
                Some(dir) => dir.to_owned(),
                None => bail!(
                    "could not find {MANIFEST_FILE} in {} or any parent directory; \
                     create one with a `[plugins]` table, or pass --manifest-path",
                    cwd.display()
                ),
            }
        }
    };
    root.canonicalize()
        .with_context(|| format!("failed to resolve {}", root.display()))
}

/// Checks that the host's root `Cargo.toml` is a workspace that lists the
/// generated crate as a member and says where `plugin-api` and
/// `build-support` come from.
pub fn check_workspace(root: &Path, has_git_plugins: bool) -> anyhow::Result<()> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let document = Document::parse(text.as_str())
        .with_context(|| format!("failed to parse {}", path.display()))?;
    let Some(workspace) = document.get("workspace").and_then(Item::as_table_like) else {
        bail!(
            "{} has no `[workspace]`: the host must be a workspace so the generated \
             `{PLUGIN_SET_DIR}` crate can be a member of it",
            path.display()
        );
    };
    let members: Vec<&str> = workspace
        .get("members")
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if !members.iter().any(|m| glob_matches(m, PLUGIN_SET_DIR)) {
        bail!(
            "{} does not list the generated crate as a workspace member; \
             add \"{PLUGIN_SET_DIR}\" to `[workspace] members`",
            path.display()
        );
    }
    let sources = SOURCES_DIR;
    let excluded = workspace
        .get("exclude")
        .and_then(Item::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|v| v.as_str().map(|s| s.trim_end_matches('/')) == Some(sources))
        });
    if has_git_plugins && !excluded {
        bail!(
            "{} does not exclude the git plugins' sources from the workspace; \
             add \"{sources}\" to `[workspace] exclude` (a plugin repository with its own \
             `[workspace]` would otherwise break the build)",
            path.display()
        );
    }
    let dependencies = workspace.get("dependencies").and_then(Item::as_table_like);
    for needed in [build_support::API_PACKAGE, build_support::BUILD_PACKAGE] {
        if dependencies.and_then(|d| d.get(needed)).is_none() {
            bail!(
                "{} has no `{needed}` in `[workspace.dependencies]`; the generated crate \
                 inherits it from there: add e.g. `{needed} = {{ git = \"…\" }}` or a path",
                path.display()
            );
        }
    }
    Ok(())
}

/// Cargo's member globs, as far as one path component: `*` matches any run.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            !suffix.contains('*')
                && !pattern.contains('/')
                && name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}

/// The host's binary: a `[[bin]]` target (named after its package unless
/// the manifest says otherwise) of a workspace package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The package that has the target (`--package`).
    pub package: String,
    /// The target's name: the executable's file name (`--bin`).
    pub name: String,
}

/// The binary to build or run: `--package` and `--bin` as given, else the
/// one workspace package with a binary that depends on the generated crate,
/// and in it the one binary target, or its `default-run`. An ambiguous
/// choice is an error that lists what exists.
pub fn binary(root: &Path, package: Option<&str>, bin: Option<&str>) -> anyhow::Result<Binary> {
    let metadata = crate::process::metadata()
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .context("failed to list the host's packages (`cargo metadata`)")?;
    let members = metadata.workspace_packages();
    let bins = |p: &cargo_metadata::Package| -> Vec<String> {
        let mut names: Vec<String> = p
            .targets
            .iter()
            .filter(|t| t.is_bin())
            .map(|t| t.name.clone())
            .collect();
        names.sort_unstable();
        names
    };
    let candidates: Vec<&cargo_metadata::Package> = match (package, bin) {
        (Some(name), _) => {
            let found: Vec<_> = members
                .iter()
                .copied()
                .filter(|p| *p.name == *name)
                .collect();
            if found.is_empty() {
                bail!("the host workspace has no package `{name}`");
            }
            found
        }
        // `--bin` alone: the packages that have such a binary.
        (None, Some(name)) => members
            .iter()
            .copied()
            .filter(|p| bins(p).iter().any(|b| b == name))
            .collect(),
        (None, None) => members
            .iter()
            .copied()
            .filter(|p| !bins(p).is_empty())
            .filter(|p| p.dependencies.iter().any(|d| d.name == PLUGIN_SET_PACKAGE))
            .collect(),
    };
    let package = match candidates.as_slice() {
        [one] => *one,
        [] => match bin {
            Some(name) => bail!("no package of the host workspace has a binary `{name}`"),
            None => bail!(
                "no package of the host has a binary that depends on `{PLUGIN_SET_PACKAGE}`; \
                 pass --package, or add `{PLUGIN_SET_PACKAGE}` to the dependencies of your binary"
            ),
        },
        several => {
            let mut names: Vec<&str> = several.iter().map(|p| p.name.as_str()).collect();
            names.sort_unstable();
            bail!(
                "several host packages have {} ({}); choose one with --package",
                bin.map_or_else(
                    || format!("a binary that depends on `{PLUGIN_SET_PACKAGE}`"),
                    |b| format!("a binary `{b}`")
                ),
                names.join(", ")
            )
        }
    };
    let names = bins(package);
    let name = match (bin, names.as_slice()) {
        (Some(name), names) if names.iter().any(|n| n == name) => name.to_owned(),
        (Some(name), []) => bail!("package `{}` has no binary `{name}`", package.name),
        (Some(name), names) => bail!(
            "package `{}` has no binary `{name}`; its binaries: {}",
            package.name,
            names.join(", ")
        ),
        (None, [one]) => one.clone(),
        (None, []) => bail!("package `{}` has no binary target", package.name),
        (None, names) => match &package.default_run {
            Some(default) if names.contains(default) => default.clone(),
            _ => bail!(
                "package `{}` has several binaries ({}); choose one with --bin",
                package.name,
                names.join(", ")
            ),
        },
    };
    Ok(Binary {
        package: package.name.to_string(),
        name,
    })
}

/// Name and version of the package whose manifest is `dir/Cargo.toml`.
/// `version.workspace = true` is read from the nearest workspace root above
/// `dir` that is still inside `top` (the repository or tree it came from).
pub fn read_package(dir: &Path, top: &Path) -> anyhow::Result<(String, String)> {
    read_manifest(dir, top).map(|(name, version, _)| (name, version))
}

/// [`read_package`] for a plugin crate: also fails unless it is a library a
/// host can link (not a proc-macro crate, not only a `cdylib`).
pub fn read_plugin(dir: &Path, top: &Path) -> anyhow::Result<(String, String)> {
    let (name, version, library) = read_manifest(dir, top)?;
    if let Err(why) = library {
        bail!(
            "crate `{name}` ({}) {why}",
            dir.join("Cargo.toml").display()
        );
    }
    Ok((name, version))
}

/// Whether the crate whose manifest is `manifest` (in `dir`) is a library a
/// host can link; what it is, or why not.
pub fn check_library(dir: &Path, manifest: &toml_edit::Table) -> Result<String, String> {
    let lib = manifest.get("lib");
    if lib
        .and_then(|l| l.get("proc-macro").or_else(|| l.get("proc_macro")))
        .and_then(Item::as_bool)
        == Some(true)
    {
        return Err("is a proc-macro crate, not a library a host can link".to_owned());
    }
    if let Some(types) = lib
        .and_then(|l| l.get("crate-type").or_else(|| l.get("crate_type")))
        .and_then(Item::as_array)
        && !types
            .iter()
            .any(|t| matches!(t.as_str(), Some("lib" | "rlib")))
    {
        return Err(
            "its [lib] crate-type has neither `lib` nor `rlib`: a host cannot link it".to_owned(),
        );
    }
    let has_path = lib.and_then(|l| l.get("path")).is_some();
    if has_path || dir.join("src/lib.rs").is_file() {
        Ok("a library crate".to_owned())
    } else {
        Err("is not a library crate (no src/lib.rs and no [lib] path)".to_owned())
    }
}

/// Name, version and [`check_library`]'s verdict of the crate in `dir`.
type CrateFacts = (String, String, Result<String, String>);

fn read_manifest(dir: &Path, top: &Path) -> anyhow::Result<CrateFacts> {
    let path = dir.join("Cargo.toml");
    let text = crate::files::read_limited(&path, crate::files::MAX_MANIFEST)?;
    let document = Document::parse(text.as_str())
        .with_context(|| format!("failed to parse {}", path.display()))?;
    let Some(package) = document.get("package").and_then(Item::as_table_like) else {
        bail!("{} has no `[package]`: it is not a crate", path.display());
    };
    let name = package
        .get("name")
        .and_then(Item::as_str)
        .with_context(|| format!("{} has no `package.name`", path.display()))?;
    let version = match package.get("version") {
        None => "0.0.0".to_owned(),
        Some(item) => match item.as_str() {
            Some(v) => v.to_owned(),
            None if item.get("workspace").and_then(Item::as_bool) == Some(true) => {
                workspace_version(dir, top).with_context(|| {
                    format!(
                        "{} inherits `version` from its workspace, but no workspace root \
                         above it declares `[workspace.package] version`",
                        path.display()
                    )
                })?
            }
            None => bail!("{}: `package.version` is not a string", path.display()),
        },
    };
    let library = check_library(dir, document.as_table());
    Ok((name.to_owned(), version, library))
}

/// `[workspace.package] version` of the nearest workspace root above `dir`
/// inside `top`.
fn workspace_version(dir: &Path, top: &Path) -> Option<String> {
    dir.ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(top))
        .filter_map(|d| {
            crate::files::read_limited(&d.join("Cargo.toml"), crate::files::MAX_MANIFEST).ok()
        })
        .filter_map(|text| Document::parse(text).ok())
        .find_map(|document| {
            let workspace = document.get("workspace")?;
            Some(
                workspace
                    .get("package")?
                    .get("version")?
                    .as_str()?
                    .to_owned(),
            )
        })
}

/// `path` relative to `base` (both canonical), `/`-separated.
pub fn relative_path(base: &Path, path: &Path) -> String {
    let base: Vec<Component> = base.components().collect();
    let path: Vec<Component> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); base.len() - common];
    parts.extend(
        path.iter()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// `item` with every `path = "…"` inside made absolute against `base`.
pub fn absolute_paths(mut item: toml_edit::Item, base: &Path) -> toml_edit::Item {
    fn visit(table: &mut dyn toml_edit::TableLike, base: &Path) {
        for (key, value) in table.iter_mut() {
            if key == "path"
                && let Some(path) = value.as_str()
                && Path::new(path).is_relative()
            {
                let joined = base.join(path).display().to_string();
                *value = toml_edit::value(joined);
            } else if let Some(inner) = value.as_table_like_mut() {
                visit(inner, base);
            }
        }
    }
    if let Some(table) = item.as_table_like_mut() {
        visit(table, base);
    }
    item
}

#[cfg(test)]
mod tests {
    use super::{glob_matches, relative_path};
    use std::path::Path;

    #[test]
    fn member_globs() {
        assert!(glob_matches("plugin-set", "plugin-set"));
        assert!(glob_matches("./plugin-set/", "plugin-set"));
        assert!(glob_matches("*", "plugin-set"));
        assert!(glob_matches("plugin-*", "plugin-set"));
        assert!(!glob_matches("plugins/*", "plugin-set"));
        assert!(!glob_matches("plugin-api", "plugin-set"));
    }

    #[test]
    fn relative_paths() {
        let check = |base: &str, path: &str, expected: &str| {
            assert_eq!(relative_path(Path::new(base), Path::new(path)), expected);
        };
        check("/w/host", "/w/host/plugins/a", "plugins/a");
        check("/w/host", "/w/other/a", "../other/a");
        check("/w/host", "/w/host", ".");
        check("/w/host/deep", "/x", "../../../x");
    }
}
