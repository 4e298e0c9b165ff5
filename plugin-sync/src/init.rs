//! `init`: makes an existing Cargo project a host. Edits its manifests with
//! `toml_edit` (keeping comments and layout), adds `plugins.toml`, the
//! `xtask` crate and the alias, then syncs the (empty) plugin set. Every
//! conflict is found before the first write; if the sync fails, every file is
//! put back.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use build_support::{
    API_PACKAGE, BUILD_PACKAGE, ENGINE_PACKAGE, MANIFEST_FILE, PLUGIN_SET_DIR, PLUGIN_SET_PACKAGE,
    SOURCES_DIR,
};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use crate::files::{Backup, Written, write_if_changed};
use crate::{host, sync};

/// Where the host gets `plugin-api`, `build-support` and the engine from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolSource {
    /// A checkout of the tool's repository.
    Path(PathBuf),
    /// The tool's git repository, pinned.
    Git { url: String, pin: Pin },
    /// The published crates, by version requirement, from crates.io (or
    /// whatever the host's cargo configuration replaces it with).
    Published { requirement: String },
}

/// How a git [`ToolSource`] is pinned (cargo's keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    Rev(String),
    Tag(String),
    Branch(String),
}

/// The directory of the tool's package `package` in its checkout.
fn directory_of(package: &str) -> &str {
    match package {
        API_PACKAGE => "plugin-api",
        BUILD_PACKAGE => "build-support",
        ENGINE_PACKAGE => "plugin-sync",
        other => other,
    }
}

impl ToolSource {
    /// The dependency on the tool's package `package`, for a manifest in
    /// `dir` (a path to its directory in the checkout, or the git source
    /// cargo finds it in by name).
    fn dependency(&self, package: &str, dir: &Path) -> InlineTable {
        let mut table = InlineTable::new();
        match self {
            ToolSource::Path(root) => {
                let path = host::relative_path(dir, &root.join(directory_of(package)));
                table.insert("path", path.into());
            }
            ToolSource::Git { url, pin } => {
                table.insert("git", url.as_str().into());
                let (key, value) = match pin {
                    Pin::Rev(v) => ("rev", v),
                    Pin::Tag(v) => ("tag", v),
                    Pin::Branch(v) => ("branch", v),
                };
                table.insert(key, value.as_str().into());
            }
            ToolSource::Published { requirement } => {
                table.insert("version", requirement.as_str().into());
            }
        }
        table
    }

    /// The published release of the running tool, when it was built from a
    /// registry's package (`cargo install static-plugins-sync`): cargo's
    /// packages, and only they, carry `Cargo.toml.orig`.
    pub fn running_release() -> Option<ToolSource> {
        Self::release_of(Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    fn release_of(manifest_dir: &Path) -> Option<ToolSource> {
        manifest_dir
            .join("Cargo.toml.orig")
            .is_file()
            .then(|| ToolSource::Published {
                requirement: env!("CARGO_PKG_VERSION").to_owned(),
            })
    }

    /// The running tool's own repository, when this binary was built from a
    /// checkout that still exists (not from cargo's git cache, whose URL
    /// this binary cannot know).
    pub fn running_tool() -> Option<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()?
            .canonicalize()
            .ok()?;
        let is_checkout = root.join("plugin-api/Cargo.toml").is_file()
            && root.join("build-support/Cargo.toml").is_file();
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
        (is_checkout && !in_cargo_home(&root, cargo_home.as_deref())).then_some(root)
    }
}

/// Whether `dir` is inside cargo's own home (its git checkouts or registry
/// sources: where `cargo install` builds from), whose path says nothing of
/// the URL the sources came from.
fn in_cargo_home(dir: &Path, cargo_home: Option<&Path>) -> bool {
    cargo_home
        .map(|home| home.canonicalize().unwrap_or_else(|_| home.to_owned()))
        .is_some_and(|home| dir.starts_with(home))
}

#[derive(Debug)]
pub struct Options {
    /// The project's root `Cargo.toml`.
    pub manifest: PathBuf,
    /// The binary target, when the package has several.
    pub bin: Option<String>,
    /// The binary to build plugins into; inferred when the project has one.
    pub package: Option<String>,
    pub source: ToolSource,
    pub offline: bool,
    pub cache: crate::cache::Cache,
}

/// What the host's `main` needs (init prints it; the README shows it).
pub const MAIN_LINES: [&str; 2] = [
    // Compiles in a `main` that returns `()`, `ExitCode` or a `Result`.
    r#"let mut registry = plugin_api::Registry::build(&plugin_set::SET).unwrap_or_else(|e| { eprintln!("error: {e}"); std::process::exit(1) });"#,
    r#"for (id, error) in registry.init() { eprintln!("plugin {id}: {error}"); }"#,
];

/// The alias an adopted host gets: its xtask is a workspace of its own.
pub const ALIAS: &str = "run --quiet --manifest-path xtask/Cargo.toml --";

const PLUGINS_TOML: &str = "\
# The plugins built into this host. Edit, then run `cargo xtask sync`
# (or use `cargo xtask add` / `cargo xtask remove`).
# Syntax: Cargo's dependency syntax, one entry per plugin, e.g.
#   auth = { git = \"https://github.com/acme/auth-plugin\", tag = \"v1.2.0\" }
#   local = { path = \"plugins/local\" }
#   off = { git = \"https://github.com/acme/off\", branch = \"main\", enabled = false }
[plugins]
";

const XTASK_MAIN: &str = "\
//! This host's `cargo xtask`: the plugin tool's command line.
fn main() -> std::process::ExitCode {
    plugin_sync::cli::main()
}
";

/// What `init` did.
#[derive(Debug)]
pub struct Report {
    /// The binary package plugins are built into.
    pub package: String,
    /// The binary target whose `main` gets the lines.
    pub bin: String,
    /// Its main source file, relative to the root.
    pub main: String,
    /// Files written, relative to the root.
    pub changed: Vec<String>,
}

fn parse(path: &Path) -> anyhow::Result<(String, DocumentMut)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let document = text
        .parse::<DocumentMut>()
        .with_context(|| format!("failed to parse {}", path.display()))?;
    Ok((text, document))
}

/// `table[key]` as a table, created (implicit when `implicit`) if missing.
fn table<'a>(
    parent: &'a mut Table,
    key: &str,
    implicit: bool,
    file: &Path,
) -> anyhow::Result<&'a mut Table> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(implicit);
        Item::Table(t)
    });
    if let Some(inline) = item.as_inline_table() {
        let converted = inline.clone().into_table();
        *item = Item::Table(converted);
    }
    item.as_table_mut()
        .with_context(|| format!("`{key}` in {} is not a table", file.display()))
}

/// Appends `value` to the string array `table[key]` unless `present` says an
/// element already covers it.
fn push_unless(
    table: &mut Table,
    key: &str,
    value: &str,
    present: impl Fn(&str) -> bool,
    file: &Path,
) -> anyhow::Result<()> {
    let item = table
        .entry(key)
        .or_insert_with(|| Item::Value(Value::Array(Array::new())));
    let array = item
        .as_array_mut()
        .with_context(|| format!("`workspace.{key}` in {} is not an array", file.display()))?;
    if !array.iter().filter_map(Value::as_str).any(present) {
        array.push(value);
    }
    Ok(())
}

/// A binary package of the project, from `cargo metadata`.
struct Binary {
    /// The package's name.
    name: String,
    /// The binary target's name.
    bin: String,
    manifest: PathBuf,
    main: PathBuf,
}

/// The project's members with binaries; fails if a package other than the
/// generated crate is named `plugin-set`.
fn members(manifest: &Path, root: &Path) -> anyhow::Result<Vec<Binary>> {
    let metadata = crate::process::metadata()
        .manifest_path(manifest)
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .with_context(|| format!("failed to read the project at {}", manifest.display()))?;
    let mut binaries = Vec::new();
    for package in metadata.workspace_packages() {
        let dir = package.manifest_path.parent().map(|p| p.as_std_path());
        if package.name.as_str() == PLUGIN_SET_PACKAGE && dir != Some(&root.join(PLUGIN_SET_DIR)) {
            bail!(
                "the project already has a package named `{PLUGIN_SET_PACKAGE}` ({}); the \
                 generated crate needs that name: rename that package, then run init again",
                package.manifest_path
            );
        }
        for bin in package.targets.iter().filter(|t| t.is_bin()) {
            binaries.push(Binary {
                name: package.name.to_string(),
                bin: bin.name.clone(),
                manifest: package.manifest_path.clone().into_std_path_buf(),
                main: bin.src_path.clone().into_std_path_buf(),
            });
        }
    }
    Ok(binaries)
}

/// The binary `--package` and `--bin` choose, or the project's only one.
fn choose(binaries: Vec<Binary>, options: &Options) -> anyhow::Result<Binary> {
    let package = options.package.as_deref();
    let bin = options.bin.as_deref();
    let all: Vec<String> = binaries
        .iter()
        .map(|b| format!("{} (package {})", b.bin, b.name))
        .collect();
    let mut chosen: Vec<Binary> = binaries
        .into_iter()
        .filter(|b| package.is_none_or(|p| b.name == p) && bin.is_none_or(|n| b.bin == n))
        .collect();
    if chosen.len() == 1
        && let Some(one) = chosen.pop()
    {
        return Ok(one);
    }
    let listed = if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    };
    match (chosen.len(), package, bin) {
        (0, None, None) => bail!(
            "the project has no binary to build plugins into; add one (`cargo new --bin app`) \
             and run init again"
        ),
        (0, _, _) => {
            let which: Vec<String> = [
                bin.map(|b| format!("named `{b}`")),
                package.map(|p| format!("in package `{p}`")),
            ]
            .into_iter()
            .flatten()
            .collect();
            bail!(
                "the project has no binary {}; its binaries: {listed}",
                which.join(" ")
            )
        }
        _ => {
            let which: Vec<String> = chosen
                .iter()
                .map(|b| format!("{} (package {})", b.bin, b.name))
                .collect();
            bail!(
                "the project has several binaries ({}); choose one with --package and --bin",
                which.join(", ")
            )
        }
    }
}

/// Makes the binary's manifest depend on the runtime and the generated crate.
fn add_dependencies(
    doc: &mut DocumentMut,
    file: &Path,
    binary_dir: &Path,
    root: &Path,
) -> anyhow::Result<()> {
    let wanted = host::relative_path(binary_dir, &root.join(PLUGIN_SET_DIR));
    let dependencies = table(doc.as_table_mut(), "dependencies", false, file)?;
    if let Some(existing) = dependencies.get(PLUGIN_SET_PACKAGE) {
        let path = existing
            .as_table_like()
            .and_then(|t| t.get("path"))
            .and_then(Item::as_str);
        if path != Some(wanted.as_str()) {
            bail!(
                "{} already depends on a `{PLUGIN_SET_PACKAGE}` that is not the generated crate \
                 ({}); remove that dependency, then run init again",
                file.display(),
                existing.to_string().trim()
            );
        }
    } else {
        let mut set = InlineTable::new();
        set.insert("path", wanted.into());
        dependencies.insert(PLUGIN_SET_PACKAGE, Item::Value(Value::InlineTable(set)));
    }
    if !dependencies.contains_key(API_PACKAGE) {
        let mut api = InlineTable::new();
        api.insert("workspace", true.into());
        dependencies.insert(API_PACKAGE, Item::Value(Value::InlineTable(api)));
    }
    Ok(())
}

/// Adopts the project; returns what it did.
pub fn init(options: &Options) -> anyhow::Result<Report> {
    let manifest = options
        .manifest
        .canonicalize()
        .with_context(|| format!("{} does not exist", options.manifest.display()))?;
    let root = manifest
        .parent()
        .context("a Cargo.toml has a directory")?
        .to_owned();
    let (_, mut root_doc) = parse(&manifest)?;
    if root_doc.get("workspace").is_none() && root_doc.get("package").is_none() {
        bail!(
            "{} has neither `[package]` nor `[workspace]`: it is not a Cargo project",
            manifest.display()
        );
    }
    let binary = choose(members(&manifest, &root)?, options)?;

    // The generated crate's directory is the tool's, or nobody's.
    let set_manifest = root.join(PLUGIN_SET_DIR).join("Cargo.toml");
    if let Ok(text) = std::fs::read_to_string(&set_manifest)
        && !text.starts_with("# Generated by `cargo xtask sync`")
    {
        bail!(
            "{} exists and was not generated by this tool; the generated crate needs that \
             directory: move it, then run init again",
            set_manifest.display()
        );
    } else if root.join(PLUGIN_SET_DIR).exists() && !set_manifest.is_file() {
        bail!(
            "{} exists; the generated crate needs that directory: move it, then run init again",
            root.join(PLUGIN_SET_DIR).display()
        );
    }

    // Root manifest: a workspace with the generated member, the excludes,
    // the runtime's dependencies and the patch third-party plugins need.
    edit_root(&mut root_doc, &manifest, &root, options)?;

    // The binary: depends on the runtime and the generated crate.
    let binary_dir = binary
        .manifest
        .parent()
        .context("a Cargo.toml has a directory")?
        .to_owned();
    let mut binary_edit = None;
    if binary.manifest == manifest {
        add_dependencies(&mut root_doc, &binary.manifest, &binary_dir, &root)?;
    } else {
        let (_, mut doc) = parse(&binary.manifest)?;
        add_dependencies(&mut doc, &binary.manifest, &binary_dir, &root)?;
        binary_edit = Some((binary.manifest.clone(), doc.to_string()));
    }

    // The alias.
    let (config_path, config) = alias_config(&root)?;

    // The xtask crate: its own workspace, so it runs even when the host's
    // workspace cannot load.
    let xtask_dir = root.join("xtask");
    let (xtask_manifest, xtask_text) = xtask_crate(&xtask_dir, options)?;

    let mut writes: Vec<(PathBuf, String)> = vec![
        (manifest.clone(), root_doc.to_string()),
        (config_path.clone(), config.to_string()),
        (xtask_manifest, xtask_text),
        (xtask_dir.join("src/main.rs"), XTASK_MAIN.to_owned()),
    ];
    if let Some((path, text)) = &binary_edit {
        writes.push((path.clone(), text.clone()));
    }
    // The engine's dependencies at the versions the tool was built and
    // tested with (cargo drops what this xtask does not use on its first
    // build), rather than whatever is newest the day the host adopts it.
    let tool_checkout = match &options.source {
        ToolSource::Path(dir) => Some(dir.clone()),
        ToolSource::Git { .. } | ToolSource::Published { .. } => ToolSource::running_tool(),
    };
    let xtask_lock = xtask_dir.join("Cargo.lock");
    if !xtask_lock.exists()
        && let Some(text) =
            tool_checkout.and_then(|dir| std::fs::read_to_string(dir.join("xtask/Cargo.lock")).ok())
    {
        writes.push((xtask_lock, text));
    }
    let plugins = root.join(MANIFEST_FILE);
    if !plugins.exists() {
        writes.push((plugins, PLUGINS_TOML.to_owned()));
    }

    // Validation is over: write, then sync; put everything back if that fails.
    let changed = write_and_sync(&root, &xtask_dir, &writes, options)?;
    Ok(Report {
        package: binary.name,
        bin: binary.bin,
        main: host::relative_path(&root, &binary.main),
        changed,
    })
}

/// Writes `writes` and syncs the new host; if anything fails, every file
/// is put back as it was. The paths changed, relative to `root`.
fn write_and_sync(
    root: &Path,
    xtask_dir: &Path,
    writes: &[(PathBuf, String)],
    options: &Options,
) -> anyhow::Result<Vec<String>> {
    let mut saved: Vec<PathBuf> = writes.iter().map(|(p, _)| p.clone()).collect();
    saved.push(root.join(build_support::LOCK_FILE));
    saved.push(root.join("Cargo.lock"));
    let backup = Backup::take(
        &saved,
        &[
            root.join(".cargo"),
            xtask_dir.to_owned(),
            root.join(PLUGIN_SET_DIR),
        ],
    )?;
    let mut changed = Vec::new();
    let result = (|| {
        for (path, text) in writes {
            if write_if_changed(path, text)? == Written::Changed {
                changed.push(host::relative_path(root, path));
            }
        }
        let config = sync::Config {
            root: root.to_owned(),
            locked: false,
            offline: options.offline,
            progress: crate::progress::Progress::new(true),
            cache: options.cache.clone(),
            jobs: None,
            git_fetch_with_cli: crate::git_cli::from_env()?,
        };
        let report = sync::sync(&config, &sync::Mode::Sync)?;
        changed.extend(report.changed);
        anyhow::Ok(())
    })();
    if let Err(error) = result {
        backup.restore();
        return Err(error.context("init failed; every file was put back as it was"));
    }
    Ok(changed)
}

/// The root manifest as a host's: a workspace with the generated member,
/// the excludes, the runtime's dependencies and the patch third-party
/// plugins need.
fn edit_root(
    root_doc: &mut DocumentMut,
    manifest: &Path,
    root: &Path,
    options: &Options,
) -> anyhow::Result<()> {
    let doc = root_doc.as_table_mut();
    let workspace = table(doc, "workspace", false, manifest)?;
    push_unless(
        workspace,
        "members",
        PLUGIN_SET_DIR,
        |m| host::glob_matches(m, PLUGIN_SET_DIR),
        manifest,
    )?;
    for excluded in [SOURCES_DIR, "xtask"] {
        push_unless(
            workspace,
            "exclude",
            excluded,
            |e| e.trim_end_matches('/') == excluded,
            manifest,
        )?;
    }
    let dependencies = table(workspace, "dependencies", false, manifest)?;
    for name in [API_PACKAGE, BUILD_PACKAGE] {
        if !dependencies.contains_key(name) {
            dependencies.insert(
                name,
                Item::Value(Value::InlineTable(options.source.dependency(name, root))),
            );
        }
    }
    if matches!(options.source, ToolSource::Published { .. }) {
        // Plugins' `static-plugins-api = "0.x"` is already the host's.
        return Ok(());
    }
    let patch = table(doc, "patch", true, manifest)?;
    let crates_io = table(patch, "crates-io", false, manifest)?;
    if !crates_io.contains_key(API_PACKAGE) {
        crates_io.insert(
            API_PACKAGE,
            Item::Value(Value::InlineTable(
                options.source.dependency(API_PACKAGE, root),
            )),
        );
    }
    Ok(())
}

/// `.cargo/config.toml` with the `xtask` alias and a target directory: its
/// path and new text. Another `xtask` alias is an error.
fn alias_config(root: &Path) -> anyhow::Result<(PathBuf, DocumentMut)> {
    let config_path = root.join(".cargo/config.toml");
    let mut config = if config_path.exists() {
        parse(&config_path)?.1
    } else {
        DocumentMut::new()
    };
    {
        let alias = table(config.as_table_mut(), "alias", false, &config_path)?;
        match alias.get("xtask") {
            None => {
                alias.insert("xtask", toml_edit::value(ALIAS));
            }
            Some(item) if item.as_str() == Some(ALIAS) => {}
            Some(item) => bail!(
                "{} already defines the alias `xtask` ({}); the host's tool needs it: remove or \
                 rename that alias, then run init again",
                config_path.display(),
                item.to_string().trim()
            ),
        }
        let build = table(config.as_table_mut(), "build", false, &config_path)?;
        if !build.contains_key("target-dir") {
            // Relative to the directory holding `.cargo/`: the xtask's own
            // workspace then builds into the host's target directory.
            build.insert("target-dir", toml_edit::value("target"));
        }
        not_incremental(&mut config, &config_path)?;
    }
    Ok((config_path, config))
}

/// `[profile.dev.package."*"] incremental = false`, unless the config sets
/// it: every package that is not a workspace member — git and path plugins
/// (path dependencies outside the workspace, which cargo would compile
/// incrementally), registry crates (already not incremental) — compiles
/// whole in dev builds, so a compiler cache (sccache) can cache it; the
/// host's own members keep incremental compilation for the edit loop.
fn not_incremental(config: &mut DocumentMut, path: &Path) -> anyhow::Result<()> {
    let profile = table(config.as_table_mut(), "profile", true, path)?;
    let dev = table(profile, "dev", true, path)?;
    let package = table(dev, "package", true, path)?;
    let fresh = !package.contains_key("*");
    let all = table(package, "*", false, path)?;
    if fresh {
        all.decor_mut().set_prefix(
            "\n# Written by init: plugins (path dependencies outside the workspace) compile\n\
             # without incremental compilation in dev builds, so sccache can cache them.\n",
        );
    }
    if !all.contains_key("incremental") {
        all.insert("incremental", toml_edit::value(false));
    }
    Ok(())
}

/// The host's xtask crate, a workspace of its own: its manifest's path and
/// text. One that exists and is not this tool's is an error.
fn xtask_crate(xtask_dir: &Path, options: &Options) -> anyhow::Result<(PathBuf, String)> {
    let mut xtask = DocumentMut::new();
    {
        let package = table(xtask.as_table_mut(), "package", false, xtask_dir)?;
        package.insert("name", toml_edit::value("xtask"));
        package.insert("version", toml_edit::value("0.0.0"));
        package.insert("edition", toml_edit::value("2024"));
        package.insert("publish", toml_edit::value(false));
        let mut workspace = Table::new();
        workspace.decor_mut().set_prefix(
            "\n# A workspace of its own, so `cargo xtask` runs even when the host's\n\
             # workspace cannot load (e.g. a deleted plugin-sources/).\n",
        );
        xtask.insert("workspace", Item::Table(workspace));
        let dependencies = table(xtask.as_table_mut(), "dependencies", false, xtask_dir)?;
        dependencies.insert(
            ENGINE_PACKAGE,
            Item::Value(Value::InlineTable(
                options.source.dependency(ENGINE_PACKAGE, xtask_dir),
            )),
        );
    }
    let xtask_text =
        format!("# Written by `init`: this host's `cargo xtask`, the plugin tool.\n{xtask}");
    let xtask_manifest = xtask_dir.join("Cargo.toml");
    if let Ok(existing) = std::fs::read_to_string(&xtask_manifest)
        && existing != xtask_text
    {
        bail!(
            "{} exists and is not the xtask this tool writes; move it (the host's `cargo xtask` \
             will be the plugin tool), then run init again",
            xtask_manifest.display()
        );
    }
    Ok((xtask_manifest, xtask_text))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{ToolSource, in_cargo_home};

    #[test]
    fn cargo_homes_sources_are_not_a_tool_checkout() {
        let home = Some(Path::new("/nonexistent/.cargo"));
        assert!(in_cargo_home(
            Path::new("/nonexistent/.cargo/git/checkouts/static-plugins-1/abc"),
            home
        ));
        assert!(!in_cargo_home(
            Path::new("/work/registry/static-plugins"),
            home
        ));
        assert!(!in_cargo_home(Path::new("/work/static-plugins"), None));
    }

    #[test]
    fn a_tool_built_from_a_registry_package_defaults_to_its_release() {
        let scratch = crate::scratch::Scratch::new("init-release").expect("scratch");
        let dir = scratch.path();
        // A checkout (or a git source): no release to name.
        std::fs::write(dir.join("Cargo.toml"), "").expect("write");
        assert_eq!(ToolSource::release_of(dir), None);
        // What `cargo package` writes beside the normalized manifest.
        std::fs::write(dir.join("Cargo.toml.orig"), "").expect("write");
        let release = ToolSource::release_of(dir).expect("a release");
        assert_eq!(
            release,
            ToolSource::Published {
                requirement: env!("CARGO_PKG_VERSION").to_owned()
            }
        );
        assert_eq!(
            release.dependency("static-plugins-api", dir).to_string(),
            format!("{{ version = \"{}\" }}", env!("CARGO_PKG_VERSION"))
        );
    }
}
