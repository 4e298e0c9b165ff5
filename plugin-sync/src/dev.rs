//! `cargo xtask dev`: build a declared plugin from a working copy instead
//! of what plugins.lock pins, without touching plugins.toml or plugins.lock.
//!
//! Overrides live in `.plugin-dev/overrides.toml` in the host root, a file
//! of this machine that is never committed: the directory holds a
//! `.gitignore` of `*`, which git applies to the directory itself, so
//! nothing in it ever shows in `git status`. With no override left, the
//! directory is removed (only the two files the tool wrote; anything else
//! there is left alone).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::files::{read_limited, write_if_changed};

/// The directory, relative to the host root.
pub const DIR: &str = ".plugin-dev";
const FILE: &str = "overrides.toml";
const IGNORE: &str = ".gitignore";

const HEADER: &str = "# Written by `cargo xtask dev`: plugins built from a working copy instead of\n\
                      # what plugins.lock pins. This machine's; git ignores this directory.\n\
                      # `cargo xtask dev --clear` ends them.\n";

/// Plugin name → the absolute path of the working copy it is built from.
pub type Overrides = BTreeMap<String, PathBuf>;

/// The overrides in effect in the host at `root` (none without the file).
pub fn load(root: &Path) -> anyhow::Result<Overrides> {
    let path = root.join(DIR).join(FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(Overrides::new());
    }
    let text = read_limited(&path, 1 << 20)?;
    parse(&text).with_context(|| {
        format!(
            "{} is damaged; run `cargo xtask dev --clear` and set the overrides again",
            path.display()
        )
    })
}

fn parse(text: &str) -> anyhow::Result<Overrides> {
    let document: toml_edit::DocumentMut = text.parse()?;
    let mut out = Overrides::new();
    let Some(item) = document.get("overrides") else {
        return Ok(out);
    };
    let table = item
        .as_table_like()
        .context("`overrides` must be a table")?;
    for (name, value) in table.iter() {
        build_support::manifest::check_name(name)
            .map_err(|e| anyhow::anyhow!("bad plugin name `{name}`: {e}"))?;
        let path = value
            .as_str()
            .with_context(|| format!("the override of `{name}` must be a path string"))?;
        if !Path::new(path).is_absolute() || path.chars().any(char::is_control) {
            bail!("the override of `{name}` must be an absolute path");
        }
        out.insert(name.to_owned(), PathBuf::from(path));
    }
    Ok(out)
}

fn render(overrides: &Overrides) -> anyhow::Result<String> {
    let mut table = toml_edit::Table::new();
    for (name, path) in overrides {
        let path = path
            .to_str()
            .with_context(|| format!("the path of `{name}` is not UTF-8"))?;
        table.insert(name, toml_edit::value(path));
    }
    let mut document = toml_edit::DocumentMut::new();
    document.insert("overrides", toml_edit::Item::Table(table));
    Ok(format!("{HEADER}\n{document}"))
}

/// Records `overrides` (removing the directory when there are none).
pub fn save(root: &Path, overrides: &Overrides) -> anyhow::Result<()> {
    let dir = root.join(DIR);
    if overrides.is_empty() {
        for name in [FILE, IGNORE] {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("failed to remove {}", path.display()));
                }
            }
        }
        // Only if empty: whatever else is there is not the tool's.
        let _ = std::fs::remove_dir(&dir);
        return Ok(());
    }
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if !meta.is_dir() => bail!(
            "{} is not a directory (a symlink or a file); remove it",
            dir.display()
        ),
        Ok(_) => {}
        Err(_) => std::fs::create_dir(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?,
    }
    write_if_changed(
        &dir.join(IGNORE),
        "# `cargo xtask dev`'s: never committed.\n*\n",
    )?;
    write_if_changed(&dir.join(FILE), render(overrides)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Overrides, parse, render};

    #[test]
    fn overrides_round_trip_and_bad_ones_are_refused() {
        let mut overrides = Overrides::new();
        overrides.insert("upper".into(), "/work/upper copy".into());
        overrides.insert("b-2".into(), "/x".into());
        let text = render(&overrides).unwrap();
        assert!(text.starts_with("# Written by `cargo xtask dev`"));
        assert_eq!(parse(&text).unwrap(), overrides);
        for bad in [
            "overrides = 3",
            "[overrides]\nupper = 3",
            "[overrides]\nupper = \"relative/path\"",
            "[overrides]\n\"a b\" = \"/x\"",
            "[overrides\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("").unwrap(), Overrides::new());
    }
}
