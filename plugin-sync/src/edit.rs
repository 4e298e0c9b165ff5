//! `cargo xtask add` and `remove`: edit plugins.toml as `cargo add` edits
//! Cargo.toml, keeping its comments and formatting (toml_edit), then sync.
//! The edited text is written only if the sync it describes succeeds.

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
    pub tag: Option<String>,
    pub branch: Option<String>,
    pub rev: Option<String>,
    pub subdir: Option<String>,
    pub package: Option<String>,
    pub features: Vec<String>,
    pub no_default_features: bool,
}

fn read(root: &Path) -> anyhow::Result<DocumentMut> {
    let path = root.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    text.parse::<DocumentMut>()
        .with_context(|| format!("failed to parse {}", path.display()))
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

/// The text of plugins.toml with `declaration` added (or replacing the
/// plugin of the same name, keeping its place).
pub fn add(root: &Path, declaration: &Declaration) -> anyhow::Result<String> {
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
    let mut document = read(root)?;
    let plugins = plugins_table(&mut document)?;
    match plugins.get_mut(&declaration.name) {
        Some(existing) => *existing = Item::Value(Value::InlineTable(entry)),
        None => {
            plugins.insert(&declaration.name, Item::Value(Value::InlineTable(entry)));
        }
    }
    Ok(document.to_string())
}

/// The text of plugins.toml without the plugins `names`.
pub fn remove(root: &Path, names: &[String]) -> anyhow::Result<String> {
    let mut document = read(root)?;
    let plugins = plugins_table(&mut document)?;
    for name in names {
        if plugins.remove(name).is_none() {
            bail!("`{name}` is not declared in {MANIFEST_FILE}; nothing to remove");
        }
    }
    Ok(document.to_string())
}
