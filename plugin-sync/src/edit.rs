//! `cargo xtask add` and `remove`: edit plugins.toml as `cargo add` edits
//! Cargo.toml, keeping its comments, formatting, line endings and BOM
//! (toml_edit), then sync. The edit is applied under the workspace lock to
//! the file as it is then, and written only if the sync it describes
//! succeeds.

use std::path::Path;

use anyhow::{Context as _, bail};
use build_support::MANIFEST_FILE;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

/// What `add` declares.
#[derive(Debug, Default)]
pub struct Declaration {
    pub name: String,
    pub path: Option<String>,
    pub git: Option<String>,
    pub version: Option<String>,
    pub registry: Option<String>,
    pub tag: Option<String>,
    pub branch: Option<String>,
    pub rev: Option<String>,
    pub subdir: Option<String>,
    pub package: Option<String>,
    pub features: Vec<String>,
    pub no_default_features: bool,
}

/// An edit of plugins.toml, applied by sync to the file's text as it is
/// under the workspace lock (two concurrent `add`s both land).
#[derive(Debug, Clone)]
pub enum Edit {
    /// Declare a plugin (replacing the one of the same name, in its place).
    Add(InlineTable, String),
    /// Remove these plugins.
    Remove(Vec<String>),
}

/// The `[plugins]` table, created at the end if missing.
fn plugins_table(document: &mut DocumentMut) -> anyhow::Result<&mut Table> {
    let item = document
        .entry("plugins")
        .or_insert_with(|| Item::Table(Table::new()));
    item.as_table_mut()
        .context("`plugins` in plugins.toml is not a table")
}

/// A local path given on the command line is relative to the current
/// directory; plugins.toml wants it relative to itself, as `cargo add` does.
fn from_cwd(root: &Path, path: &str) -> anyhow::Result<String> {
    if Path::new(path).is_absolute() {
        return Ok(path.to_owned());
    }
    let cwd = std::env::current_dir().context("failed to read the current directory")?;
    let full = cwd.join(path);
    let full = full
        .canonicalize()
        .with_context(|| format!("{} does not exist", full.display()))?;
    Ok(crate::host::relative_path(root, &full))
}

/// The edit that declares `declaration`; local paths given on the command
/// line are made relative to plugins.toml.
pub fn add(root: &Path, declaration: &Declaration) -> anyhow::Result<Edit> {
    let path = declaration
        .path
        .as_deref()
        .map(|p| from_cwd(root, p))
        .transpose()?;
    let git = match declaration.git.as_deref() {
        // A local repository, as a path: relative to plugins.toml too.
        Some(url) if !url.contains("://") && Path::new(url).exists() => Some(from_cwd(root, url)?),
        other => other.map(str::to_owned),
    };
    let mut entry = InlineTable::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            entry.insert(key, Value::from(value.as_str()));
        }
    };
    put("version", &declaration.version);
    put("registry", &declaration.registry);
    put("path", &path);
    put("git", &git);
    put("tag", &declaration.tag);
    put("branch", &declaration.branch);
    put("rev", &declaration.rev);
    put("subdir", &declaration.subdir);
    put("package", &declaration.package);
    if !declaration.features.is_empty() {
        let features: Array = declaration.features.iter().map(String::as_str).collect();
        entry.insert("features", Value::Array(features));
    }
    if declaration.no_default_features {
        entry.insert("default-features", Value::from(false));
    }
    Ok(Edit::Add(entry, declaration.name.clone()))
}

/// `text` (plugins.toml's bytes as text) with `edit` applied, keeping its
/// comments, layout, line endings and byte-order mark.
pub fn apply(text: &str, edit: &Edit) -> anyhow::Result<String> {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(body) => ("\u{feff}", body),
        None => ("", text),
    };
    let crlf = body.contains("\r\n");
    let normalized = if crlf {
        body.replace("\r\n", "\n")
    } else {
        body.to_owned()
    };
    let mut document = normalized
        .parse::<DocumentMut>()
        .with_context(|| format!("failed to parse {MANIFEST_FILE}"))?;
    let plugins = plugins_table(&mut document)?;
    match edit {
        Edit::Add(entry, name) => match plugins.get_mut(name) {
            // Declared already, inline or as a `[plugins.NAME]` table: its
            // keys are updated in place, so its comments, layout and the
            // keys `add` does not set (`enabled`) stay.
            Some(existing) if existing.is_table_like() => {
                if let Some(table) = existing.as_table_like_mut() {
                    update(table, entry);
                }
            }
            Some(existing) => {
                // Keep the comment after the old value, and its spacing.
                let mut value = Value::InlineTable(entry.clone());
                if let Some(old) = existing.as_value() {
                    *value.decor_mut() = old.decor().clone();
                }
                *existing = Item::Value(value);
            }
            None => {
                plugins.insert(name, Item::Value(Value::InlineTable(entry.clone())));
            }
        },
        Edit::Remove(names) => {
            for name in names {
                if plugins.remove(name).is_none() {
                    bail!("`{name}` is not declared in {MANIFEST_FILE}; nothing to remove");
                }
            }
        }
    }
    let rendered = document.to_string();
    let rendered = if crlf {
        rendered.replace('\n', "\r\n")
    } else {
        rendered
    };
    Ok(format!("{bom}{rendered}"))
}

/// Whether `add` sets `key`: every key of a declaration but `enabled`,
/// which stays as the user left it.
fn is_added_key(key: &str) -> bool {
    key != "enabled" && build_support::manifest::DECLARATION_KEYS.contains(&key)
}

/// Sets `entry`'s keys in `existing`, each value keeping the comments and
/// spacing around the one it replaces; removes the keys `add` sets that
/// `entry` has not (a `tag` when a `branch` is added).
fn update(existing: &mut dyn toml_edit::TableLike, entry: &InlineTable) {
    for key in build_support::manifest::DECLARATION_KEYS {
        if is_added_key(key) && !entry.contains_key(key) {
            existing.remove(key);
        }
    }
    for (key, value) in entry.iter() {
        match existing.get_mut(key).and_then(Item::as_value_mut) {
            Some(old) => {
                let decor = old.decor().clone();
                *old = value.clone();
                *old.decor_mut() = decor;
            }
            None => {
                existing.insert(key, Item::Value(value.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(name: &str, path: &str) -> Edit {
        let mut entry = InlineTable::new();
        entry.insert("path", path.into());
        Edit::Add(entry, name.to_owned())
    }

    #[test]
    fn keeps_comments_line_endings_and_bom() {
        let text = "\u{feff}# top\r\n[plugins]\r\n# about a\r\na = { path = \"x\" } # why a\r\nb = { path = \"y\" }\r\n";
        let edited = apply(text, &added("a", "z")).unwrap();
        assert_eq!(
            edited,
            "\u{feff}# top\r\n[plugins]\r\n# about a\r\na = { path = \"z\" } # why a\r\nb = { path = \"y\" }\r\n"
        );
        let edited = apply(&edited, &added("c", "w")).unwrap();
        assert!(edited.ends_with("c = { path = \"w\" }\r\n"), "{edited:?}");
        assert!(!edited.replace("\r\n", "").contains('\n'), "{edited:?}");
        let removed = apply(&edited, &Edit::Remove(vec!["b".into()])).unwrap();
        assert!(
            removed.starts_with('\u{feff}') && !removed.contains("b = "),
            "{removed:?}"
        );
        let error = apply(text, &Edit::Remove(vec!["nope".into()])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`nope` is not declared in plugins.toml; nothing to remove"
        );
    }

    #[test]
    fn a_declaration_as_a_table_is_updated_in_place_with_its_comments() {
        let text = "[plugins.a]\n# where it comes from\ngit = \"https://h/a\" # upstream\n\
                    tag = \"v1\"\n# off for now\nenabled = false\n\n[plugins.b]\npath = \"b\"\n";
        let mut entry = InlineTable::new();
        entry.insert("git", "https://h/a2".into());
        entry.insert("branch", "main".into());
        let edited = apply(text, &Edit::Add(entry, "a".to_owned())).unwrap();
        assert_eq!(
            edited,
            "[plugins.a]\n# where it comes from\ngit = \"https://h/a2\" # upstream\n\
             # off for now\nenabled = false\nbranch = \"main\"\n\n[plugins.b]\npath = \"b\"\n"
        );
        // Inline declarations keep their other keys too.
        let edited = apply(
            "[plugins]\na = { path = \"x\", enabled = false } # why\n",
            &added("a", "z"),
        )
        .unwrap();
        assert_eq!(
            edited,
            "[plugins]\na = { path = \"z\", enabled = false } # why\n"
        );
    }

    #[test]
    fn removing_an_undeclared_plugin_is_an_error() {
        let error = apply("[plugins]\n", &Edit::Remove(vec!["nope".into()])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`nope` is not declared in plugins.toml; nothing to remove"
        );
    }
}
