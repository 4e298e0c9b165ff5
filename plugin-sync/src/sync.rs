//! `cargo xtask sync` and `update`: plugins.toml → plugins.lock + the
//! generated crate (and, for git plugins, their files under
//! `plugin-sources/`).
//!
//! Everything is resolved and validated before the first byte is written in
//! the host; files are then written atomically and only when they change,
//! lockfile last, so a sync interrupted half-way leaves a lock that the build
//! recognises as stale. The network is touched only to resolve what the lock
//! does not pin yet (or what `update` asks for), and never with `--offline`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use build_support::codegen;
use build_support::lockfile::{LOCAL_SOURCE, LockedPlugin, Lockfile};
use build_support::manifest::{Declaration, GitReference, Manifest, Source};
use build_support::{LOCK_FILE, MANIFEST_FILE, PLUGIN_SET_DIR, SOURCES_DIR};

use crate::cache::{Cache, CachedRepo, RepoUrl};
use crate::checksum;
use crate::files::{Backup, Written, write_if_changed};
use crate::{api, crash, git, graph, host, scan};

#[derive(Debug)]
pub struct Options {
    /// Canonical host workspace root.
    pub root: PathBuf,
    /// Fail rather than change `plugins.lock`.
    pub locked: bool,
    /// Never touch the network.
    pub offline: bool,
    /// Print nothing but errors.
    pub quiet: bool,
    pub cache: Cache,
    /// `update`: re-resolve these plugins' branches (all when empty) and
    /// re-check their tags. `None` for a plain sync.
    pub update: Option<Vec<String>>,
    /// `add`/`remove`: the new text of plugins.toml, written only if the
    /// sync it describes succeeds.
    pub edited_manifest: Option<String>,
    /// `vendor`: from now on, plugin-sources/ is committed, not ignored.
    pub vendor: bool,
}

/// First line of `plugin-sources/.gitignore` once vendored; sync keeps it.
const VENDORED: &str = "# Vendored by `cargo xtask vendor`";

impl Options {
    fn updating(&self, name: &str) -> bool {
        self.update
            .as_ref()
            .is_some_and(|names| names.is_empty() || names.iter().any(|n| n == name))
    }

    fn progress(&self, what: &str, message: &str) {
        if !self.quiet && std::io::stderr().is_terminal() {
            eprintln!("{what:>12} {message}");
        }
    }
}

/// What resolving one declaration produced.
struct Resolved {
    locked: LockedPlugin,
    /// What makes two declarations the same crate: its directory, or its
    /// repository and subdir.
    identity: String,
    /// Plugin ids its sources register, as far as `scan` can tell.
    ids: Vec<String>,
    /// How the crate depends on plugin-api.
    api: api::ApiSource,
    git: Option<GitResolved>,
}

struct GitResolved {
    repo: String,
    commit: String,
    /// A cache checkout to copy into `plugin-sources/<name>-<commit>`, when the
    /// copy there is missing or differs.
    copy_from: Option<PathBuf>,
    /// `old → new` for `update`'s report.
    change: Option<String>,
    warning: Option<String>,
}

/// Runs a sync; returns the paths it changed, relative to the root.
pub fn sync(options: &Options) -> anyhow::Result<Vec<String>> {
    let root = &options.root;
    let manifest_path = root.join(MANIFEST_FILE);
    // One sync per workspace at a time: the lock is taken on the workspace
    // directory itself, so taking it writes nothing.
    let _workspace = lock_exclusive(root)?;
    let manifest = match &options.edited_manifest {
        Some(text) => Manifest::parse(text, &manifest_path)?,
        None => Manifest::load(&manifest_path)?,
    };
    let has_git = manifest
        .enabled()
        .any(|d| matches!(d.source, Source::Git { .. }));
    host::check_workspace(root, has_git)?;
    let previous = load_previous(root, options.locked)?;
    if let Some(names) = &options.update {
        for name in names {
            if !manifest.plugins.iter().any(|d| &d.name == name) {
                bail!("`{name}` is not declared in {MANIFEST_FILE}; nothing to update");
            }
        }
    }

    let declarations: Vec<&Declaration> = manifest.enabled().collect();
    let results: Vec<anyhow::Result<Resolved>> = std::thread::scope(|scope| {
        let handles: Vec<_> = declarations
            .iter()
            .map(|d| scope.spawn(|| resolve(options, previous.as_ref(), d)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("resolving a plugin panicked")))
            })
            .collect()
    });
    let mut resolved = Vec::with_capacity(results.len());
    for result in results {
        resolved.push(result?);
    }
    check_distinct(&resolved)?;
    if !resolved.is_empty() {
        let host_api = api::host(root)?;
        for r in &resolved {
            api::check(&r.locked.name, root, &r.api, &host_api)?;
        }
    }

    let lock = Lockfile {
        manifest_digest: manifest.digest(),
        plugins: resolved.iter().map(|r| r.locked.clone()).collect(),
    };
    let lock_text = lock.render();
    let lock_path = root.join(LOCK_FILE);
    for r in &resolved {
        if let Some(warning) = r.git.as_ref().and_then(|g| g.warning.as_ref()) {
            if options.locked {
                bail!("{warning}");
            }
            eprintln!("warning: {warning}");
        }
    }
    if options.locked {
        check_locked(&lock_path, &lock_text)?;
    }

    // Validation is over: write.
    crash::point("validated");
    let mut writes: Vec<(String, String)> = Vec::new();
    if has_git {
        let ignore = root.join(SOURCES_DIR).join(".gitignore");
        let vendored = options.vendor
            || std::fs::read_to_string(&ignore).is_ok_and(|t| t.starts_with(VENDORED));
        let contents = if vendored {
            format!(
                "{VENDORED}: git plugins' files are committed, so a clone\n\
                 # builds with no cache and no network (`cargo xtask sync --frozen`).\n"
            )
        } else {
            "# Written by `cargo xtask sync`: git plugins' files, restored from plugins.lock\n\
             # and the cache. Not committed (`cargo xtask vendor` commits them).\n*\n"
                .to_owned()
        };
        writes.push((format!("{SOURCES_DIR}/.gitignore"), contents));
    }
    // Until the lock is written, the build sees a manifest that does not
    // match it and says to sync.
    if let Some(text) = &options.edited_manifest {
        writes.push((MANIFEST_FILE.to_owned(), text.clone()));
    }
    writes.extend(
        codegen::plugin_set(&manifest, &lock)
            .into_iter()
            .map(|file| (format!("{PLUGIN_SET_DIR}/{}", file.path), file.contents)),
    );
    // cargo metadata below may rewrite Cargo.lock: it is put back too if
    // the check fails.
    let mut backed_up: Vec<PathBuf> = writes.iter().map(|(r, _)| root.join(r)).collect();
    backed_up.push(root.join("Cargo.lock"));
    let mut new_dirs = vec![root.join(PLUGIN_SET_DIR), root.join(SOURCES_DIR)];
    new_dirs.extend(
        resolved
            .iter()
            .filter(|r| r.git.as_ref().is_some_and(|g| g.copy_from.is_some()))
            .map(|r| root.join(r.locked.git_checkout_dir())),
    );
    let backup = Backup::take(&backed_up, &new_dirs)?;

    let mut changed = Vec::new();
    for r in &resolved {
        if let Some(from) = r.git.as_ref().and_then(|g| g.copy_from.as_ref()) {
            let dest = root.join(r.locked.git_checkout_dir());
            replace_dir(from, &dest)?;
            changed.push(format!("{}/", r.locked.git_checkout_dir()));
            crash::point("copied");
        }
    }
    for (relative, contents) in &writes {
        if write_if_changed(&root.join(relative), contents)? == Written::Changed {
            changed.push(relative.clone());
        }
    }
    // What cargo resolves is the last word, checked before the lock makes
    // the new state official; a no-op sync does not need to ask.
    if !changed.is_empty()
        && let Err(error) = graph::check(root, &lock, options.offline)
    {
        backup.restore();
        return Err(error);
    }
    crash::point("generated");
    if write_if_changed(&lock_path, &lock_text)? == Written::Changed {
        changed.push(LOCK_FILE.to_owned());
    }
    crash::point("locked");
    remove_stale_sources(root, &lock)?;

    if !options.quiet {
        report(options, &manifest, &resolved, &changed);
    }
    Ok(changed)
}

fn report(options: &Options, manifest: &Manifest, resolved: &[Resolved], changed: &[String]) {
    for r in resolved {
        if let Some(change) = r.git.as_ref().and_then(|g| g.change.as_ref()) {
            eprintln!("{:>12} {change}", "Updating");
        }
    }
    if options.update.is_some()
        && !resolved
            .iter()
            .any(|r| r.git.as_ref().is_some_and(|g| g.change.is_some()))
    {
        eprintln!("{:>12} every plugin is at its newest commit", "Unchanged");
    }
    let disabled = manifest.plugins.len() - resolved.len();
    let disabled = if disabled > 0 {
        format!(" ({disabled} disabled)")
    } else {
        String::new()
    };
    eprintln!(
        "{:>12} {} plugin{} from {MANIFEST_FILE}{disabled}",
        "Synced",
        resolved.len(),
        if resolved.len() == 1 { "" } else { "s" },
    );
    if changed.is_empty() {
        eprintln!(
            "{:>12} {LOCK_FILE} and {PLUGIN_SET_DIR}/ unchanged",
            "Fresh"
        );
    } else {
        eprintln!("{:>12} {}", "Wrote", changed.join(", "));
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

fn load_previous(root: &Path, locked: bool) -> anyhow::Result<Option<Lockfile>> {
    let path = root.join(LOCK_FILE);
    if !path.exists() {
        return Ok(None);
    }
    match Lockfile::load(&path) {
        Ok(lock) => Ok(Some(lock)),
        Err(e) if locked => Err(e.into()),
        // Without --locked a broken lock is rewritten, like cargo does.
        Err(e) => {
            eprintln!("warning: ignoring {LOCK_FILE}: {e}");
            Ok(None)
        }
    }
}

fn check_locked(lock_path: &Path, lock_text: &str) -> anyhow::Result<()> {
    match std::fs::read_to_string(lock_path) {
        Ok(existing) if existing == lock_text => Ok(()),
        Ok(_) => bail!(
            "{LOCK_FILE} needs to be updated but --locked was passed to prevent this; \
             run `cargo xtask sync` without --locked"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{LOCK_FILE} is missing and --locked was passed; run `cargo xtask sync` without --locked"
        ),
        Err(e) => Err(e).with_context(|| format!("failed to read {}", lock_path.display())),
    }
}

/// No two declarations may be the same crate or register the same plugin id,
/// and one repository may be used at one commit only.
fn check_distinct(resolved: &[Resolved]) -> anyhow::Result<()> {
    let mut by_identity: BTreeMap<&str, &str> = BTreeMap::new();
    let mut by_repo: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for r in resolved {
        let name = r.locked.name.as_str();
        if let Some(other) = by_identity.insert(&r.identity, name) {
            bail!(
                "plugins `{other}` and `{name}` in {MANIFEST_FILE} both point at {}; declare it once",
                r.identity
            );
        }
        if let Some(git) = &r.git
            && let Some((other, commit)) = by_repo.insert(&git.repo, (name, &git.commit))
            && commit != git.commit
        {
            bail!(
                "plugins `{other}` and `{name}` in {MANIFEST_FILE} use the same repository {} at \
                 different commits ({} and {}); declare the same tag, branch or rev for both",
                git.repo,
                &commit[..12],
                &git.commit[..12]
            );
        }
    }
    let mut by_id: BTreeMap<&str, &Resolved> = BTreeMap::new();
    for r in resolved {
        for id in &r.ids {
            if let Some(other) = by_id.insert(id, r) {
                let describe = |r: &Resolved| match &r.locked.path {
                    Some(path) => format!("`{}` (local, {path})", r.locked.name),
                    None => format!("`{}` ({})", r.locked.name, r.locked.source),
                };
                bail!(
                    "plugins {} and {} in {MANIFEST_FILE} both register plugin id `{id}`; ids must \
                     be unique: change one of them or disable one plugin in {MANIFEST_FILE}",
                    describe(other),
                    describe(r)
                );
            }
        }
    }
    Ok(())
}

fn resolve(
    options: &Options,
    previous: Option<&Lockfile>,
    declaration: &Declaration,
) -> anyhow::Result<Resolved> {
    match &declaration.source {
        Source::Path(declared) => resolve_path(&options.root, declaration, declared),
        Source::Git {
            url,
            reference,
            subdir,
        } => resolve_git(
            options,
            previous,
            declaration,
            url,
            reference,
            subdir.as_deref(),
        )
        .with_context(|| {
            format!(
                "plugin `{}` in {MANIFEST_FILE} ({url}, {reference})",
                declaration.name
            )
        }),
    }
}

/// Finds a path plugin's crate and reads its package name and version.
fn resolve_path(
    root: &Path,
    declaration: &Declaration,
    declared: &str,
) -> anyhow::Result<Resolved> {
    let name = &declaration.name;
    let joined = root.join(declared);
    let dir = joined.canonicalize().with_context(|| {
        format!(
            "plugin `{name}` in {MANIFEST_FILE}: path `{declared}` does not exist ({})",
            joined.display()
        )
    })?;
    let (package, version) = host::read_package(&dir, Path::new("/"))
        .with_context(|| format!("plugin `{name}` in {MANIFEST_FILE}"))?;
    check_package(declaration, &package, &dir)
        .map_err(|e| anyhow!("plugin `{name}` in {MANIFEST_FILE}: {e}"))?;
    let package_name = package.clone();
    Ok(Resolved {
        locked: LockedPlugin {
            name: name.clone(),
            package,
            version,
            source: LOCAL_SOURCE.to_owned(),
            path: Some(host::relative_path(root, &dir)),
            subdir: None,
            checksum: None,
        },
        identity: dir.display().to_string(),
        ids: scan::plugin_ids(&dir),
        api: api_of(&package_name, &dir, Path::new("/"))
            .with_context(|| format!("plugin `{name}` in {MANIFEST_FILE}"))?,
        git: None,
    })
}

/// How the crate in `dir` depends on plugin-api; not at all is an error.
fn api_of(package: &str, dir: &Path, top: &Path) -> anyhow::Result<api::ApiSource> {
    api::plugin(dir, top)?.with_context(|| {
        format!(
            "crate `{package}` does not depend on plugin-api, so it is not a plugin; check that \
             this is the right crate"
        )
    })
}

fn check_package(declaration: &Declaration, package: &str, dir: &Path) -> anyhow::Result<()> {
    if package == declaration.package {
        return Ok(());
    }
    let fix = if package == declaration.name {
        "remove `package = …`".to_owned()
    } else {
        format!("set `package = \"{package}\"`")
    };
    bail!(
        "{} is package `{package}`, not `{}`; {fix}",
        dir.join("Cargo.toml").display(),
        declaration.package,
    )
}

fn resolve_git(
    options: &Options,
    previous: Option<&Lockfile>,
    declaration: &Declaration,
    url: &str,
    reference: &GitReference,
    subdir: Option<&str>,
) -> anyhow::Result<Resolved> {
    let name = &declaration.name;
    let repo_url = RepoUrl::parse(url, &options.root);
    let repo = options.cache.repo(&repo_url);
    // Cargo's source form, without the commit.
    let source = format!("{url}{}", reference.query());
    let locked = previous
        .and_then(|lock| lock.plugins.iter().find(|p| &p.name == name))
        .filter(|p| {
            p.git_source().is_some_and(|(s, _)| s == source)
                && p.package == declaration.package
                && (subdir.is_none() || p.subdir.as_deref() == subdir)
        });
    let updating = options.updating(name);
    let sources = options.root.join(SOURCES_DIR);
    let host_copy_of = |commit: &str| sources.join(format!("{name}-{}", &commit[..12]));

    let reuse = locked.filter(|_| !(updating && reference.floats()));
    let mut warning = None;
    let (commit, host_copy, checkout, found_subdir, checksum) = if let Some(locked) = reuse {
        let (_, commit) = locked.git_source().expect("filtered on git sources");
        let expected = locked.checksum.clone().unwrap_or_default();
        if updating && let GitReference::Tag(tag) = reference {
            let now = fetch(options, &repo, &repo_url, reference, name)?;
            if now != commit {
                warning = Some(format!(
                    "tag `{tag}` of plugin `{name}` ({url}) now points at {now}, but {LOCK_FILE} \
                     pins {commit}; keeping {commit}. A tag that moves can mean a compromised \
                     repository: check with its maintainers before changing the lock"
                ));
            }
        }
        let host_copy = host_copy_of(commit);
        let checkout = if host_copy_matches(&host_copy, &expected)? {
            None
        } else {
            let dir = cached_checkout(options, &repo, &repo_url, commit, name)?;
            let sums = checksum::sums(&dir)?;
            if checksum::digest(&sums) != expected {
                bail!(
                    "the cached checkout {} does not match the checksum in {LOCK_FILE}; \
                     run `cargo xtask cache clean` and sync again",
                    dir.display()
                );
            }
            Some(dir)
        };
        (
            commit.to_owned(),
            host_copy,
            checkout,
            locked.subdir.clone(),
            expected,
        )
    } else {
        if options.offline {
            bail!(
                "{reference} is not pinned in {LOCK_FILE} yet and --offline forbids fetching it; \
                 run `cargo xtask sync` without --offline"
            );
        }
        let commit = fetch(options, &repo, &repo_url, reference, name)?;
        let dir = cached_checkout(options, &repo, &repo_url, &commit, name)?;
        let checksum = checksum::digest(&checksum::sums(&dir)?);
        let found = match subdir {
            Some(subdir) => Some(subdir.to_owned()),
            None => find_crate(&dir, &declaration.package)?,
        };
        let host_copy = host_copy_of(&commit);
        let checkout = if host_copy_matches(&host_copy, &checksum)? {
            None
        } else {
            Some(dir)
        };
        (commit, host_copy, checkout, found, checksum)
    };

    let files = checkout.as_deref().unwrap_or(&host_copy);
    let crate_dir = match &found_subdir {
        Some(subdir) => files.join(subdir),
        None => files.to_owned(),
    };
    if !crate_dir.join("Cargo.toml").is_file() {
        bail!(
            "there is no Cargo.toml in `{}` of the repository at {}",
            found_subdir.as_deref().unwrap_or("."),
            &commit[..12]
        );
    }
    let (package, version) = host::read_package(&crate_dir, files)?;
    check_package(declaration, &package, &crate_dir)?;

    let change = previous
        .and_then(|lock| lock.plugins.iter().find(|p| &p.name == name))
        .and_then(|p| p.git_source().map(|(_, c)| c.to_owned()))
        .filter(|old| *old != commit)
        .map(|old| format!("{name}: {} → {} ({reference})", &old[..12], &commit[..12]));
    Ok(Resolved {
        locked: LockedPlugin {
            name: name.clone(),
            package,
            version,
            source: format!("git+{source}#{commit}"),
            path: None,
            subdir: found_subdir.clone(),
            checksum: Some(checksum),
        },
        identity: match &found_subdir {
            Some(subdir) => format!("{} (subdir {subdir})", repo_url.canonical),
            None => repo_url.canonical.clone(),
        },
        ids: scan::plugin_ids(&crate_dir),
        api: api_of(&declaration.package, &crate_dir, files)?,
        git: Some(GitResolved {
            repo: repo_url.canonical.clone(),
            commit,
            copy_from: checkout,
            change,
            warning,
        }),
    })
}

/// Whether `plugin-sources/<name>-<commit>` holds exactly the files with `checksum`.
fn host_copy_matches(host_copy: &Path, checksum: &str) -> anyhow::Result<bool> {
    Ok(host_copy.is_dir() && checksum::digest(&checksum::sums(host_copy)?) == checksum)
}

/// Fetches `reference` into the cache, under the repository's lock.
fn fetch(
    options: &Options,
    repo: &CachedRepo,
    url: &RepoUrl,
    reference: &GitReference,
    name: &str,
) -> anyhow::Result<String> {
    if options.offline {
        bail!("fetching {reference} needs the network, and --offline was given");
    }
    if let Some(path) = url.local_path() {
        if !path.exists() {
            bail!("repository {} does not exist", path.display());
        }
        if !git_on_path() {
            bail!(
                "fetching from a local repository needs `git` on PATH (gix runs `git upload-pack` \
                 for file:// and path URLs); install git or put it on PATH"
            );
        }
    }
    let _lock = repo.lock()?;
    options.progress("Fetching", &format!("{name} ({}, {reference})", url.fetch));
    let commit = git::fetch(&repo.db, &repo.fetch_url, reference)?;
    crash::point("fetched");
    Ok(commit)
}

/// A complete cache checkout of `commit`, fetching it by id if the cache
/// does not have it.
fn cached_checkout(
    options: &Options,
    repo: &CachedRepo,
    url: &RepoUrl,
    commit: &str,
    name: &str,
) -> anyhow::Result<PathBuf> {
    if repo.has_checkout(commit) {
        return Ok(repo.checkout_dir(commit));
    }
    if !git::has_commit(&repo.db, commit) {
        if options.offline {
            bail!(
                "commit {commit} is not in the cache ({}) and --offline forbids fetching it",
                options.cache.root.display()
            );
        }
        let fetched = fetch(
            options,
            repo,
            url,
            &GitReference::Rev(commit.to_owned()),
            name,
        )?;
        if fetched != commit {
            bail!("asked the remote for commit {commit} and got {fetched}");
        }
    }
    let lock = repo.lock()?;
    repo.ensure_checkout(&lock, commit)
}

/// Finds the crate named `package` in a checkout, as cargo does for git
/// dependencies: its directory, `None` for the root.
fn find_crate(checkout: &Path, package: &str) -> anyhow::Result<Option<String>> {
    let mut found: Vec<(String, String)> = Vec::new();
    collect_crates(checkout, "", &mut found);
    found.sort();
    let matching: Vec<&(String, String)> = found.iter().filter(|(_, p)| p == package).collect();
    let list = || {
        found
            .iter()
            .map(|(dir, p)| format!("`{p}` in {}", if dir.is_empty() { "." } else { dir }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matching.as_slice() {
        [(dir, _)] => Ok(Some(dir.clone()).filter(|d| !d.is_empty())),
        [] if found.is_empty() => {
            bail!("the repository has no crate at all; is this the right URL?")
        }
        [] => bail!(
            "the repository has no crate named `{package}`; it has {}; set `package` or `subdir`",
            list()
        ),
        several => bail!(
            "the repository has {} crates named `{package}` ({}); set `subdir` to choose one",
            several.len(),
            several
                .iter()
                .map(|(d, _)| if d.is_empty() { "." } else { d.as_str() })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn collect_crates(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    if let Ok((package, _)) = host::read_package(dir, Path::new("/")) {
        out.push((prefix.trim_end_matches('/').to_owned(), package));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !name.starts_with('.') && name != "target" {
            collect_crates(&entry.path(), &format!("{prefix}{name}/"), out);
        }
    }
}

fn git_on_path() -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(format!("git{}", std::env::consts::EXE_SUFFIX));
        candidate.is_file()
    })
}

/// Replaces directory `dest` with a copy of `from` (without the cache's
/// marker): copy beside, then swap with renames.
fn replace_dir(from: &Path, dest: &Path) -> anyhow::Result<()> {
    let parent = dest.parent().expect("sources live in a directory");
    let name = dest
        .file_name()
        .expect("named")
        .to_string_lossy()
        .into_owned();
    let temp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    copy_tree(from, &temp, true)
        .with_context(|| format!("failed to copy {} to {}", from.display(), temp.display()))?;
    if dest.exists() {
        std::fs::rename(dest, &old)
            .with_context(|| format!("failed to move {} aside", dest.display()))?;
    }
    std::fs::rename(&temp, dest)
        .with_context(|| format!("failed to move {} into place", dest.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, top: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if top && checksum::IGNORED.iter().any(|i| name == *i) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&src)?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &dst)?;
            #[cfg(not(unix))]
            bail!(
                "symlink {} -> {}: symlinks are only supported on Unix",
                src.display(),
                target.display()
            );
        } else if kind.is_dir() {
            copy_tree(&src, &dst, false)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Removes directories under `plugin-sources/` that belong to no locked
/// plugin: removed plugins, older commits, interrupted copies. Runs after the
/// lock is written, so until then the previous lock's files stay in place.
fn remove_stale_sources(root: &Path, lock: &Lockfile) -> anyhow::Result<()> {
    let dir = root.join(SOURCES_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let current = lock.plugins.iter().any(|p| {
            p.git_source().is_some() && p.git_checkout_dir() == format!("{SOURCES_DIR}/{name}")
        }) || name == ".gitignore";
        if !current {
            let path = entry.path();
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("failed to remove the stale {}", path.display()))?;
        }
    }
    Ok(())
}
