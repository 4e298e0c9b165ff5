//! `cargo xtask new-plugin NAME [--path DIR]`: a plugin crate that builds
//! into the host once declared, with a unit test, depending on plugin-api
//! the way the plugin-author guide recommends: by version, with a `[patch]`
//! (taken from the host) that lets it build and test in its own repository.

use std::path::Path;

use anyhow::{Context as _, bail};
use toml_edit::{DocumentMut, InlineTable, Item};

use build_support::API_PACKAGE;

use crate::files::write_if_changed;

/// Where the new crate's own builds take plugin-api from: the host's
/// `[workspace.dependencies] plugin-api` (git as is, a path rebased onto
/// `dir`), or `None` when the host takes it from a registry.
pub fn api_patch(host_root: &Path, dir: &Path) -> anyhow::Result<Option<InlineTable>> {
    let manifest = host_root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("failed to read {}", manifest.display()))?;
    let document = text
        .parse::<DocumentMut>()
        .with_context(|| format!("failed to parse {}", manifest.display()))?;
    let Some(declared) = document
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get(API_PACKAGE))
        .and_then(Item::as_table_like)
    else {
        return Ok(None);
    };
    let string = |key: &str| declared.get(key).and_then(Item::as_str);
    let mut patch = InlineTable::new();
    if let Some(url) = string("git") {
        patch.insert("git", url.into());
        for key in ["rev", "tag", "branch"] {
            if let Some(value) = string(key) {
                patch.insert(key, value.into());
            }
        }
    } else if let Some(path) = string("path") {
        let api = host_root.join(path);
        let api = api.canonicalize().with_context(|| {
            format!(
                "the host's static-plugins-api ({}) does not exist",
                api.display()
            )
        })?;
        // `dir` need not exist yet: absolute, without `.`/`..` (the current
        // directory is physical, as getcwd returns it).
        let cwd = std::env::current_dir().context("failed to read the current directory")?;
        let base = crate::cache::lexical_normal(&cwd.join(dir));
        patch.insert("path", crate::host::relative_path(&base, &api).into());
    } else {
        return Ok(None);
    }
    Ok(Some(patch))
}

/// Writes the crate; refuses a directory that exists and is not empty.
/// `patch` is where its own builds take plugin-api from (see [`api_patch`]).
pub fn new_plugin(name: &str, dir: &Path, patch: Option<&InlineTable>) -> anyhow::Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "invalid plugin name `{name}`: use lowercase ASCII letters, digits, `-` and `_`, \
             starting with a letter (it is both the crate name and the plugin id)"
        );
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("failed to read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty; choose another --path",
            dir.display()
        );
    }
    let api_version = env!("CARGO_PKG_VERSION");
    let major_minor: Vec<&str> = api_version.split('.').take(2).collect();
    let requirement = major_minor.join(".");
    let rust_name = name.replace('-', "_");
    let patch = patch.map_or_else(String::new, |source| {
        format!(
            "\n# Where this crate's own builds and tests take static-plugins-api from. Cargo honours\n\
             # [patch] only in the workspace being built: a host ignores it and uses its own.\n\
             [patch.crates-io]\n{API_PACKAGE} = {source}\n"
        )
    });
    let files = [
        (
            "Cargo.toml",
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                 description = \"A plugin for hosts built with static-plugins\"\n\
                 # Your choice; `cargo xtask lint` wants one.\n\
                 license = \"MIT OR Apache-2.0\"\n\n\
                 [dependencies]\n\
                 # A version requirement, as for any crates.io dependency: the host replaces it\n\
                 # with its own copy (a [patch]), and sync checks the requirement matches. The\n\
                 # library is `plugin_api`.\n\
                 {API_PACKAGE} = \"{requirement}\"\n{patch}\n\
                 # A workspace of its own: the crate builds and tests alone wherever it lives.\n\
                 [workspace]\n"
            ),
        ),
        (
            "src/lib.rs",
            format!(
                "//! The `{name}` plugin.\n\
                 \n\
                 use plugin_api::{{Plugin, Registrar, plugin}};\n\
                 \n\
                 /// The host's extension point this plugin contributes to: example-app's text\n\
                 /// filters. Use the types your host documents.\n\
                 pub type Filter = fn(&str) -> String;\n\
                 \n\
                 /// Wraps text in brackets.\n\
                 #[plugin(id = \"{name}\")]\n\
                 #[derive(Debug, Default)]\n\
                 pub struct Plugin{camel};\n\
                 \n\
                 impl Plugin for Plugin{camel} {{\n    \
                     fn register(&self, registrar: &mut Registrar<'_>) {{\n        \
                         registrar.add::<Filter>(\"{name}\", |s| format!(\"[{{s}}]\"));\n    \
                     }}\n\
                 }}\n\
                 \n\
                 #[cfg(test)]\n\
                 mod tests {{\n    \
                     use plugin_api::{{PluginSet, Registry}};\n\
                     \n    \
                     #[test]\n    \
                     fn registers_its_filter() {{\n        \
                         // The registry of this test binary holds exactly this plugin.\n        \
                         let registry = Registry::build(&PluginSet::EMPTY).expect(\"registry builds\");\n        \
                         let filter = registry\n            \
                             .component::<super::Filter>(\"{name}\")\n            \
                             .expect(\"the filter is registered\");\n        \
                         assert_eq!(filter(\"hi\"), \"[hi]\");\n    \
                     }}\n\
                 }}\n",
                camel = camel_case(&rust_name)
            ),
        ),
    ];
    for (relative, contents) in files {
        write_if_changed(&dir.join(relative), contents)?;
    }
    errln!("{:>12} plugin `{name}` in {}", "Created", dir.display());
    Ok(())
}

fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}
