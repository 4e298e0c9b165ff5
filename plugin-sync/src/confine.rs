//! A git plugin builds only from its pinned tree: every path its manifest
//! names — build script, targets, path dependencies — and those of the
//! workspace it belongs to inside the repository — members, inherited
//! dependencies — must resolve inside the repository's copy. Otherwise cargo
//! would compile code the lock does not pin (`[lib] path = "/etc/x.rs"`,
//! `build = "../../x.rs"`, a path dependency on a directory of the host),
//! the hole the symlink checks close, reopened through cargo.

use std::path::Path;

use anyhow::{Context as _, bail};
use toml_edit::{Document, Item, TableLike};

use crate::cache::lexical_normal;

/// Fails, naming the manifest and the key, unless every path the manifest
/// in `crate_dir` and its workspace root (the nearest manifest above it
/// inside `top` with `[workspace]`) name stays inside `top`.
pub fn check(crate_dir: &Path, top: &Path) -> anyhow::Result<()> {
    let top = lexical_normal(top);
    let manifest = crate_dir.join("Cargo.toml");
    check_manifest(&manifest, &top, Part::Package)?;
    let root = crate_dir
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(&top))
        .map(|d| d.join("Cargo.toml"))
        .find(|m| {
            crate::files::read_limited(m, crate::files::MAX_MANIFEST).is_ok_and(|text| {
                text.lines()
                    .any(|l| l.trim_start().starts_with("[workspace"))
            })
        });
    if let Some(root) = root {
        check_manifest(&root, &top, Part::Workspace)?;
    }
    Ok(())
}

/// Which part of a manifest cargo uses: the package's own keys, or the
/// workspace's (for a root above the plugin's crate).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Package,
    Workspace,
}

fn check_manifest(manifest: &Path, top: &Path, part: Part) -> anyhow::Result<()> {
    let text = crate::files::read_limited(manifest, crate::files::MAX_MANIFEST)?;
    let document = Document::parse(text.as_str())
        .with_context(|| format!("failed to parse {}", manifest.display()))?;
    let base = manifest.parent().context("a manifest has a directory")?;
    let mut paths: Vec<(String, &str)> = Vec::new();
    let table = document.as_table();
    match part {
        Part::Package => {
            if let Some(package) = table.get("package").and_then(Item::as_table_like) {
                for key in ["build", "workspace"] {
                    if let Some(path) = package.get(key).and_then(Item::as_str) {
                        paths.push((format!("package.{key}"), path));
                    }
                }
            }
            if let Some(path) = table
                .get("lib")
                .and_then(|l| l.get("path"))
                .and_then(Item::as_str)
            {
                paths.push(("lib.path".to_owned(), path));
            }
            for kind in ["bin", "example", "test", "bench"] {
                if let Some(targets) = table.get(kind).and_then(Item::as_array_of_tables) {
                    for (i, target) in targets.iter().enumerate() {
                        if let Some(path) = target.get("path").and_then(Item::as_str) {
                            paths.push((format!("{kind}[{i}].path"), path));
                        }
                    }
                }
            }
            dependency_paths(table, "", &mut paths);
            if let Some(targets) = table.get("target").and_then(Item::as_table_like) {
                for (cfg, item) in targets.iter() {
                    if let Some(target) = item.as_table_like() {
                        dependency_paths(target, &format!("target.{cfg}."), &mut paths);
                    }
                }
            }
        }
        Part::Workspace => {
            if let Some(workspace) = table.get("workspace").and_then(Item::as_table_like) {
                for key in ["members", "default-members"] {
                    if let Some(members) = workspace.get(key).and_then(Item::as_array) {
                        for member in members.iter().filter_map(|m| m.as_str()) {
                            // A glob's literal part is a directory it
                            // cannot leave.
                            let literal = member.split(['*', '?', '[']).next().unwrap_or(member);
                            paths.push((format!("workspace.{key}"), literal));
                        }
                    }
                }
                if let Some(dependencies) =
                    workspace.get("dependencies").and_then(Item::as_table_like)
                {
                    table_paths(dependencies, "workspace.dependencies", &mut paths);
                }
            }
        }
    }
    for (key, path) in paths {
        let resolved = lexical_normal(&base.join(path));
        if !resolved.starts_with(top) {
            bail!(
                "{}: `{key}` is `{path}`, which leaves the plugin's repository; a plugin builds \
                 only from the files its lock pins",
                manifest.display()
            );
        }
    }
    Ok(())
}

/// `path` of every dependency in the dependency tables of `table`.
fn dependency_paths<'a>(table: &'a dyn TableLike, prefix: &str, out: &mut Vec<(String, &'a str)>) {
    for kind in [
        "dependencies",
        "dev-dependencies",
        "dev_dependencies",
        "build-dependencies",
        "build_dependencies",
    ] {
        if let Some(dependencies) = table.get(kind).and_then(Item::as_table_like) {
            table_paths(dependencies, &format!("{prefix}{kind}"), out);
        }
    }
}

fn table_paths<'a>(
    dependencies: &'a dyn TableLike,
    prefix: &str,
    out: &mut Vec<(String, &'a str)>,
) {
    for (name, item) in dependencies.iter() {
        // The API crate by path is checked to be the host's own by `api`
        // before anything is written; any other path stays inside.
        let package = item.get("package").and_then(Item::as_str).unwrap_or(name);
        if package == build_support::API_PACKAGE {
            continue;
        }
        if let Some(path) = item.get("path").and_then(Item::as_str) {
            out.push((format!("{prefix}.{name}.path"), path));
        }
    }
}

/// A test helper's view: the checked paths of one manifest text.
#[cfg(test)]
fn check_text(text: &str, crate_rel: &str) -> anyhow::Result<()> {
    // One directory per call: tests run on several threads at once.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let top = std::env::temp_dir().join(format!(
        "plugin-confine-{}-{call}-{}",
        std::process::id(),
        crate_rel.replace('/', "_")
    ));
    let _ = std::fs::remove_dir_all(&top);
    let dir = top.join(crate_rel);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("Cargo.toml"), text)?;
    let result = check(&dir, &top);
    let _ = std::fs::remove_dir_all(&top);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n";

    #[test]
    fn paths_inside_the_repository_pass() {
        let text = format!(
            "{HEAD}build = \"build/main.rs\"\n[lib]\npath = \"src/../src/lib.rs\"\n\
             [dependencies]\nsibling = {{ path = \"../sibling\" }}\nreg = \"1\"\n\
             api = {{ path = \"/host/plugin-api\", package = \"static-plugins-api\" }}\n\
             [[bin]]\nname = \"b\"\npath = \"src/bin/b.rs\"\n"
        );
        check_text(&text, "crates/p").unwrap();
    }

    #[test]
    fn every_key_that_leaves_is_named() {
        for (extra, key) in [
            ("[lib]\npath = \"/etc/passwd.rs\"\n", "lib.path"),
            ("[lib]\npath = \"../../../x.rs\"\n", "lib.path"),
            (
                "[dependencies]\nx = { path = \"../../../host\" }\n",
                "dependencies.x.path",
            ),
            (
                "[target.'cfg(unix)'.build-dependencies]\nx = { path = \"/tmp/x\" }\n",
                "target.cfg(unix).build-dependencies.x.path",
            ),
            (
                "[dev-dependencies.x]\npath = \"../../..\"\n",
                "dev-dependencies.x.path",
            ),
            (
                "[[bin]]\nname = \"b\"\npath = \"../../../b.rs\"\n",
                "bin[0].path",
            ),
        ] {
            let error = check_text(&format!("{HEAD}{extra}"), "crates/p")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(&format!("`{key}` is `"))
                    && error.contains("leaves the plugin's repository"),
                "{key}: {error}"
            );
        }
        let build = check_text(&format!("{HEAD}build = \"../../../x.rs\"\n"), "crates/p")
            .unwrap_err()
            .to_string();
        assert!(
            build.contains("`package.build` is `../../../x.rs`"),
            "{build}"
        );
    }

    #[test]
    fn the_workspace_above_the_crate_is_checked_too() {
        let top = std::env::temp_dir().join(format!("plugin-confine-ws-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        std::fs::create_dir_all(top.join("crates/p")).unwrap();
        std::fs::write(
            top.join("crates/p/Cargo.toml"),
            format!("{HEAD}[dependencies]\nx.workspace = true\n"),
        )
        .unwrap();
        std::fs::write(
            top.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nx = { path = \"/opt/x\" }\n",
        )
        .unwrap();
        let error = check(&top.join("crates/p"), &top).unwrap_err().to_string();
        assert!(
            error.contains("`workspace.dependencies.x.path` is `/opt/x`"),
            "{error}"
        );
        std::fs::write(
            top.join("Cargo.toml"),
            "[workspace]\nmembers = [\"../../*\"]\n",
        )
        .unwrap();
        let error = check(&top.join("crates/p"), &top).unwrap_err().to_string();
        assert!(error.contains("`workspace.members` is `../../`"), "{error}");
        let _ = std::fs::remove_dir_all(&top);
    }
}
