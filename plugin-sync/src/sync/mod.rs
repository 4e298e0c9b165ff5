//! `sync`, `update`, `add`/`remove` and `vendor`: from plugins.toml to
//! plugins.lock and the generated crate (and, for git plugins, their files
//! under `plugin-sources/`), as four phases, each a function from one type to
//! the next:
//!
//! - [`load`]: the manifest, the previous lock and the host's checks → [`Input`];
//! - [`resolve::all`]: every enabled declaration → [`resolve::Resolved`]; the
//!   only phase that may touch the network (a bounded pool of workers);
//! - [`plan::make`]: pure checks (duplicates, plugin-api, `--locked`,
//!   warnings) → the [`plan::Plan`] that is apply's only input;
//! - [`apply::run`]: backup, copy, write, graph check, lock, prune → [`Report`].
//!
//! Nothing is written in the host before apply, so "validated before the
//! first write" holds by construction, not by statement order.

mod apply;
mod plan;
mod resolve;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use build_support::manifest::{Manifest, Source};
use build_support::{LOCK_FILE, MANIFEST_FILE, SOURCES_DIR};

use crate::api::{self, HostApi};
use crate::cache::Cache;
use crate::dev::{self, Overrides};
use crate::edit::Edit;
use crate::host;
use crate::lockfile::Lockfile;
use crate::progress::Progress;

/// How to sync: where, with which cache, and under which constraints.
#[derive(Debug, Clone)]
pub struct Config {
    /// Canonical host workspace root.
    pub root: PathBuf,
    pub cache: Cache,
    /// Fail rather than change `plugins.lock`.
    pub locked: bool,
    /// Never touch the network.
    pub offline: bool,
    /// What to show while syncing (see [`Progress`]).
    pub progress: Progress,
    /// Fetch with the `git` command line instead of gix.
    pub git_fetch_with_cli: bool,
    /// How many plugins resolve at once; `None` for the default (twice the
    /// cores, at most 8).
    pub jobs: Option<usize>,
}

/// What the sync is for.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Bring the lock and the generated crate in line with plugins.toml.
    Sync,
    /// Move these plugins' branches to their newest commits (all when
    /// empty) and re-check their tags.
    Update(Vec<String>),
    /// `add`/`remove`: an edit of plugins.toml, applied under the workspace
    /// lock and written only if the sync it describes succeeds.
    Edit(Edit),
    /// From now on, `plugin-sources/` is committed, not ignored.
    Vendor,
    /// `cargo xtask dev`: from now on these are the plugins built from
    /// working copies (all of them; empty ends every override).
    Dev(Overrides),
}

impl Mode {
    fn updating(&self, name: &str) -> bool {
        match self {
            Mode::Update(names) => names.is_empty() || names.iter().any(|n| n == name),
            _ => false,
        }
    }
}

/// What a sync did: data, printed by the command line as text or JSON.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Enabled plugins synced.
    pub synced: usize,
    /// Declared but disabled.
    pub disabled: usize,
    /// Git plugins whose commit changed.
    pub updates: Vec<Update>,
    /// Whether this was an `update`.
    pub update: bool,
    pub warnings: Vec<String>,
    /// Paths written, relative to the root (directories end in `/`).
    pub changed: Vec<String>,
}

/// A git plugin moved from one commit to another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Update {
    pub name: String,
    pub from: String,
    pub to: String,
    /// The declared reference, as text (`branch `main``).
    pub reference: String,
}

/// What the load phase read.
#[derive(Debug)]
pub struct Input {
    pub manifest: Manifest,
    /// For an edit: the new text of plugins.toml.
    pub edited: Option<String>,
    pub previous: Option<Lockfile>,
    /// The bytes of plugins.lock, when it exists (for `--locked`).
    pub previous_text: Option<String>,
    pub host_api: HostApi,
    pub has_git: bool,
    /// `plugin-sources/.gitignore` says the sources are committed.
    pub vendored: bool,
    /// Plugins built from working copies (`cargo xtask dev`): declared,
    /// enabled, canonical paths.
    pub overrides: Overrides,
    pub warnings: Vec<String>,
}

/// First line of `plugin-sources/.gitignore` once vendored; sync keeps it.
const VENDORED: &str = "# Vendored by `cargo xtask vendor`";

/// Runs the four phases under the workspace lock.
pub fn sync(config: &Config, mode: &Mode) -> anyhow::Result<Report> {
    // One sync per workspace at a time: the lock is taken on the workspace
    // directory itself, so taking it writes nothing.
    let _workspace = lock_exclusive(&config.root)?;
    let mut timings = crate::progress::Timings::from_env();
    let input = load(config, mode)?;
    timings.lap("load");
    // Checkouts staged for this sync that apply did not take (anything
    // failed, or the plan was refused) remove themselves when dropped
    // (`cache::Stage`): the cache keeps only databases.
    let resolved = resolve::all(config, mode, &input)?;
    timings.lap("resolve");
    let plan = plan::make(config, mode, &input, resolved)?;
    timings.lap("plan");
    let report = apply::run(config, plan)?;
    timings.lap("apply");
    timings.print();
    Ok(report)
}

/// Reads the manifest (or the edited text), the previous lock and the host's
/// workspace; checks what can be checked before resolving.
pub fn load(config: &Config, mode: &Mode) -> anyhow::Result<Input> {
    let root = &config.root;
    let manifest_path = root.join(MANIFEST_FILE);
    let edited = match mode {
        Mode::Edit(edit) => {
            let meta = std::fs::metadata(&manifest_path)
                .with_context(|| format!("failed to read {}", manifest_path.display()))?;
            crate::files::check_writable(&manifest_path, &meta)?;
            let text =
                build_support::read_bounded(&manifest_path, build_support::MAX_MANIFEST_BYTES)
                    .with_context(|| format!("failed to read {}", manifest_path.display()))?;
            Some(crate::edit::apply(&text, edit)?)
        }
        _ => None,
    };
    let manifest = match &edited {
        Some(text) => Manifest::parse(text, &manifest_path)?,
        None => Manifest::load(&manifest_path)?,
    };
    let mut warnings = Vec::new();
    for declaration in &manifest.plugins {
        if let Source::Git { url, .. } = &declaration.source
            // Also registers the secrets, so nothing printed shows them.
            && crate::secret::has_credentials(url)
            && declaration.enabled
        {
            warnings.push(format!(
                "plugin `{}`: the credentials in its URL in {MANIFEST_FILE} were used but not \
                 stored; {LOCK_FILE} and the binary record `{}`. {MANIFEST_FILE} is committed: \
                 keep secrets out of it with a git credential helper (`git config --global \
                 credential.helper …`) or GIT_ASKPASS",
                declaration.name,
                crate::secret::bare(url)
            ));
        }
    }
    let has_git = manifest
        .enabled()
        .any(|d| matches!(d.source, Source::Git { .. }));
    host::check_workspace(root, has_git)?;
    check_owned_places(config, has_git)?;
    let host_api = api::host(root)?;
    if let Mode::Update(names) = mode {
        for name in names {
            if !manifest.plugins.iter().any(|d| &d.name == name) {
                bail!("`{name}` is not declared in {MANIFEST_FILE}; nothing to update");
            }
        }
    }
    let lock_path = root.join(LOCK_FILE);
    let previous_text = match build_support::read_bounded(&lock_path, build_support::MAX_LOCK_BYTES)
    {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", lock_path.display())),
    };
    let previous = match &previous_text {
        None => None,
        Some(text) => match Lockfile::parse(text, &lock_path) {
            Ok(lock) => Some(lock),
            Err(e) if config.locked => return Err(e.into()),
            // Without --locked a broken lock is rewritten, like cargo does.
            Err(e) => {
                warnings.push(format!("ignoring {LOCK_FILE}: {e}"));
                None
            }
        },
    };
    let vendored = std::fs::read_to_string(root.join(SOURCES_DIR).join(".gitignore"))
        .is_ok_and(|t| t.starts_with(VENDORED));
    let overrides = overrides(root, mode, &manifest, &mut warnings)?;
    Ok(Input {
        manifest,
        edited,
        previous,
        previous_text,
        host_api,
        has_git,
        vendored,
        overrides,
        warnings,
    })
}

/// The overrides in effect: those `cargo xtask dev` asks for (each must
/// name a declared, enabled plugin and an existing directory), else those
/// recorded (one whose plugin is no longer declared is ignored, with a
/// warning).
fn overrides(
    root: &Path,
    mode: &Mode,
    manifest: &Manifest,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Overrides> {
    let Mode::Dev(asked) = mode else {
        let mut recorded = dev::load(root)?;
        recorded.retain(|name, path| {
            let declared = manifest.enabled().any(|d| &d.name == name);
            if !declared {
                warnings.push(format!(
                    "ignoring the override of `{name}` ({}): it is not a declared, enabled plugin \
                     in {MANIFEST_FILE}; `cargo xtask dev --clear {name}` removes it",
                    path.display()
                ));
            }
            declared
        });
        return Ok(recorded);
    };
    let mut out = Overrides::new();
    for (name, path) in asked {
        match manifest.plugins.iter().find(|d| &d.name == name) {
            None => {
                let declared: Vec<&str> =
                    manifest.plugins.iter().map(|d| d.name.as_str()).collect();
                bail!(
                    "`{name}` is not declared in {MANIFEST_FILE}; the declared plugins are: {}",
                    if declared.is_empty() {
                        "none".to_owned()
                    } else {
                        declared.join(", ")
                    }
                );
            }
            Some(d) if !d.enabled => bail!(
                "plugin `{name}` is disabled in {MANIFEST_FILE} (`enabled = false`): there is \
                 nothing to build it from a working copy for"
            ),
            Some(_) => {}
        }
        let dir = path.canonicalize().with_context(|| {
            format!(
                "the working copy for `{name}` ({}) does not exist",
                path.display()
            )
        })?;
        if !dir.join("Cargo.toml").is_file() {
            bail!(
                "the working copy for `{name}` ({}) has no Cargo.toml; give the directory of \
                 the plugin crate",
                dir.display()
            );
        }
        out.insert(name.clone(), dir);
    }
    Ok(out)
}

/// `plugin-sources/` must be a real directory (sync writes there and never
/// follows a symlink), the cache must not be inside the host (sync rewrites
/// the host's directories; the cache is shared), and the files sync may
/// change must be writable: all found before anything is written.
fn check_owned_places(config: &Config, has_git: bool) -> anyhow::Result<()> {
    let lock = config.root.join(LOCK_FILE);
    if let Ok(meta) = std::fs::metadata(&lock) {
        crate::files::check_writable(&lock, &meta)?;
    }
    // Every directory sync writes into is real or absent: a symlink at any
    // of them would send the writes elsewhere.
    let set = build_support::PLUGIN_SET_DIR;
    for (dir, what) in [
        (SOURCES_DIR.to_owned(), "the git plugins' files"),
        (set.to_owned(), "the generated crate"),
        (format!("{set}/src"), "the generated crate's sources"),
    ] {
        let path = config.root.join(&dir);
        if let Ok(meta) = std::fs::symlink_metadata(&path)
            && !meta.is_dir()
        {
            bail!(
                "{} is {}; sync writes {what} there and will not follow or replace it: move it \
                 away and sync again",
                path.display(),
                if meta.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "not a directory"
                }
            );
        }
    }
    let cache = physical(&config.cache.root);
    // Only git plugins use the cache: a host of path plugins does not care
    // where it would be.
    if has_git && config.cache.is_located() && cache.starts_with(&config.root) {
        bail!(
            "the cache directory {} is inside the host workspace {}; sync would copy from and \
             prune around it: choose one outside with --cache-dir or PLUGIN_CACHE_DIR",
            config.cache.root.display(),
            config.root.display()
        );
    }
    Ok(())
}

/// `path` made absolute with its longest existing prefix resolved (the rest
/// may not exist yet).
fn physical(path: &Path) -> PathBuf {
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_owned());
    let absolute = crate::cache::lexical_normal(&absolute);
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Takes an exclusive lock on an existing file or directory, waiting for
/// other holders.
fn lock_exclusive(path: &Path) -> anyhow::Result<File> {
    let file = File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("failed to lock {}", path.display()))?;
    Ok(file)
}

/// Prints a report as cargo prints its status lines.
pub fn print(report: &Report) {
    for warning in &report.warnings {
        errln!("warning: {warning}");
    }
    for u in &report.updates {
        errln!(
            "{:>12} {}: {} → {} ({})",
            "Updating",
            u.name,
            u.from.get(..12).unwrap_or(&u.from),
            u.to.get(..12).unwrap_or(&u.to),
            u.reference
        );
    }
    if report.update && report.updates.is_empty() {
        errln!("{:>12} every plugin is at its newest commit", "Unchanged");
    }
    let disabled = if report.disabled > 0 {
        format!(" ({} disabled)", report.disabled)
    } else {
        String::new()
    };
    errln!(
        "{:>12} {} plugin{} from {MANIFEST_FILE}{disabled}",
        "Synced",
        report.synced,
        if report.synced == 1 { "" } else { "s" },
    );
    if report.changed.is_empty() {
        errln!(
            "{:>12} {LOCK_FILE} and {}/ unchanged",
            "Fresh",
            build_support::PLUGIN_SET_DIR
        );
    } else {
        errln!("{:>12} {}", "Wrote", report.changed.join(", "));
    }
}
