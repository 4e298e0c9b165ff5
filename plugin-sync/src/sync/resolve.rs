//! The resolve phase: every enabled declaration → a [`Resolved`] plugin
//! (its lock entry, its crate's facts, and for git plugins the cache
//! checkout to copy). The only phase that may touch the network, and it
//! writes only into the shared cache, never into the host. Declarations are
//! resolved by a bounded pool of workers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context as _, anyhow, bail};
use build_support::manifest::{Declaration, GitReference, Source};
use build_support::{LOCK_FILE, MANIFEST_FILE};

use super::{Config, Input, Mode, Update};
use crate::cache::Checkout;
use crate::cache::{CachedRepo, RepoUrl};
use crate::lockfile::{Commit, GitPin, LockSource, LockedPlugin, Lockfile, RelativePath, host_dir};
use crate::{api, checksum, crash, git, git_cli, host, scan, secret};

/// By default at most this many declarations resolve at once: fetching is
/// I/O bound, and every worker may hold a pack in memory (BENCHMARKS.md has
/// the measurement behind the default; `--jobs` overrides it).
const MAX_WORKERS: usize = 8;

/// One resolved plugin.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub locked: LockedPlugin,
    /// What makes two declarations the same crate: its directory, or its
    /// repository and subdir.
    pub identity: String,
    /// Plugin ids its sources register, as far as `scan` can tell.
    pub ids: Vec<String>,
    /// How the crate depends on plugin-api.
    pub api: api::ApiSource,
    pub git: Option<GitResolved>,
    /// The pin moved: a git plugin's commit or a registry plugin's
    /// version (`update`, or a changed declaration).
    pub change: Option<Update>,
    /// What sync warns about this plugin (a kept registry version yanked
    /// since); never an error, `--locked` included, as cargo keeps a
    /// locked yanked version.
    pub warning: Option<String>,
}

/// What resolving a git plugin found beyond its lock entry.
#[derive(Debug, Clone)]
pub struct GitResolved {
    /// The canonical repository URL.
    pub repo: String,
    /// A cache checkout to copy into `plugin-sources/<name>-<commit>`, when
    /// the copy there is missing or differs.
    pub copy_from: Option<PathBuf>,
    /// `copy_from` was staged for this sync: apply moves it rather than
    /// copying; it is removed when the last holder drops it.
    pub stage: Option<std::sync::Arc<crate::cache::Stage>>,
    /// `update` found the declared tag pointing elsewhere than the lock.
    pub moved_tag: Option<String>,
    /// The host's copy is intact, proven by hashing it: its index is to
    /// be written afresh.
    pub reindex: bool,
}

/// Resolves every enabled declaration, in declaration order; the first
/// failure (in that order) is the error.
pub fn all(config: &Config, mode: &Mode, input: &Input) -> anyhow::Result<Vec<Resolved>> {
    let all: Vec<&Declaration> = input.manifest.enabled().collect();
    refuse_identical(&config.root, &all)?;
    // Registry plugins resolve together, in one cargo run; the others by
    // the pool below. The results keep declaration order.
    let (registry, declarations): (Vec<&Declaration>, Vec<&Declaration>) = all
        .iter()
        .partition(|d| matches!(d.source, Source::Registry { .. }));
    let mut from_registry = resolve_registry(config, mode, input, &registry)?.into_iter();
    let workers = config
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(2, std::num::NonZero::get)
                .saturating_mul(2)
                .min(MAX_WORKERS)
        })
        .max(1)
        .min(declarations.len());
    // The host's copies of the pins in the lock, proven unchanged by their
    // indexes all at once: the plugins' stats shared by a few threads.
    let copies: Vec<(PathBuf, crate::checksum::Checksum)> = declarations
        .iter()
        .filter_map(|d| {
            let pin = input.previous.as_ref()?.get(&d.name)?.git()?;
            Some((
                config.root.join(pin.host_dir(&d.name)),
                pin.checksum.clone(),
            ))
        })
        .collect();
    let proven = checksum::prove_all(&copies);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<anyhow::Result<Resolved>>>> =
        declarations.iter().map(|_| Mutex::new(None)).collect();
    let panicked = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        while !failed.load(Ordering::Relaxed) {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let (Some(declaration), Some(slot)) =
                                (declarations.get(index), slots.get(index))
                            else {
                                break;
                            };
                            let result = resolve(config, mode, input, &proven, declaration)
                                .and_then(|r| match input.overrides.get(&declaration.name) {
                                    Some(dir) => with_override(r, declaration, dir),
                                    None => Ok(r),
                                });
                            if result.is_err() {
                                failed.store(true, Ordering::Relaxed);
                            }
                            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                        }
                    })
                })
                .collect();
        handles.into_iter().any(|h| h.join().is_err())
    });
    if panicked {
        bail!("resolving a plugin panicked");
    }
    let mut pooled = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(result) => pooled.push(result?),
            // Not reached: another declaration failed first.
            None => continue,
        }
    }
    let mut pooled = pooled.into_iter();
    let mut resolved = Vec::with_capacity(all.len());
    for declaration in &all {
        let next = if matches!(declaration.source, Source::Registry { .. }) {
            from_registry.next()
        } else {
            pooled.next()
        };
        resolved.extend(next);
    }
    Ok(resolved)
}

/// The registry plugins: each kept at its locked version unless `update`
/// asks to move it or its declaration no longer admits it, then resolved
/// (and downloaded) by cargo in one run, checked against the lock.
fn resolve_registry(
    config: &Config,
    mode: &Mode,
    input: &Input,
    declarations: &[&Declaration],
) -> anyhow::Result<Vec<Resolved>> {
    if declarations.is_empty() {
        return Ok(Vec::new());
    }
    let mut wanted = Vec::with_capacity(declarations.len());
    let mut pins = Vec::with_capacity(declarations.len());
    for &declaration in declarations {
        let Source::Registry { version, registry } = &declaration.source else {
            continue;
        };
        let pin = kept_registry_pin(mode, input.previous.as_ref(), declaration);
        if pin.is_none() && config.locked {
            bail!(
                "plugin `{}` in {MANIFEST_FILE} ({version}) is not pinned in {LOCK_FILE} as \
                 declared, and --locked forbids changing the lock; run `cargo xtask sync` \
                 without --locked",
                declaration.name
            );
        }
        wanted.push(crate::registry::Wanted {
            declaration,
            requirement: match pin {
                Some((locked, _)) => format!("={}", locked.version),
                None => version.clone(),
            },
            registry: registry.as_deref(),
            pin: match (pin, updating(mode, declaration)) {
                (Some(_), _) => crate::registry::Pin::Kept,
                (None, true) => crate::registry::Pin::Moving,
                (None, false) => crate::registry::Pin::New,
            },
        });
        pins.push(pin);
    }
    // Before cargo reads Cargo.lock (which it would refuse, less clearly,
    // for a checksum that disagrees): under --locked every pin is kept.
    if config.locked {
        let problems = crate::registry::cargo_lock_disagreements(
            &config.root,
            pins.iter().flatten().map(|(locked, _)| *locked),
        )?;
        if !problems.is_empty() {
            bail!(
                "{}; --locked builds exactly what both locks pin",
                problems.join("; ")
            );
        }
    }
    let found = crate::registry::resolve(&config.root, &wanted, config.offline)?;
    wanted
        .iter()
        .zip(found)
        .zip(pins)
        .map(|((w, found), pin)| {
            let resolved = registry_resolved(input, w, found, pin)?;
            match input.overrides.get(&w.declaration.name) {
                Some(dir) => with_override(resolved, w.declaration, dir),
                None => Ok(resolved),
            }
        })
        .collect()
}

/// The locked registry pin of `declaration` to keep: same package and
/// registry, a version its requirement admits, and not being updated.
fn kept_registry_pin<'l>(
    mode: &Mode,
    previous: Option<&'l Lockfile>,
    declaration: &Declaration,
) -> Option<(&'l LockedPlugin, &'l crate::lockfile::RegistryPin)> {
    let Source::Registry { version, registry } = &declaration.source else {
        return None;
    };
    if updating(mode, declaration) {
        return None;
    }
    let locked = previous?.get(&declaration.name)?;
    let LockSource::Registry(pin) = &locked.source else {
        return None;
    };
    let admits = semver::VersionReq::parse(version).is_ok_and(|req| req.matches(&locked.version));
    (admits && locked.package == declaration.package && pin.registry == *registry)
        .then_some((locked, pin))
}

/// Whether `update` moves `declaration` (it names it, or names none).
fn updating(mode: &Mode, declaration: &Declaration) -> bool {
    matches!(mode, Mode::Update(names) if names.is_empty() || names.contains(&declaration.name))
}

/// A registry plugin as cargo resolved it: checked against its lock entry
/// (the registry must still serve the bytes the lock pinned), its ids and
/// its plugin-api read from the crate cargo unpacked.
fn registry_resolved(
    input: &Input,
    wanted: &crate::registry::Wanted<'_>,
    found: crate::registry::Found,
    pin: Option<(&LockedPlugin, &crate::lockfile::RegistryPin)>,
) -> anyhow::Result<Resolved> {
    let declaration = wanted.declaration;
    let name = &declaration.name;
    if let Some((locked, pin)) = pin
        && (found.checksum != pin.checksum || found.index != pin.index)
    {
        bail!(
            "plugin `{name}` in {MANIFEST_FILE}: {} {} from {} has checksum {}, but {LOCK_FILE} \
             pinned {} from {}: the crate changed on the registry (or the lock was edited); check \
             with the registry's owners before running `cargo xtask update {name}`",
            declaration.package,
            locked.version,
            secret::redact(&found.index),
            found.checksum.as_str(),
            pin.checksum.as_str(),
            secret::redact(&pin.index)
        );
    }
    let in_plugin = || format!("plugin `{name}` in {MANIFEST_FILE}");
    let (package, _) = host::read_plugin(&found.dir, &found.dir).with_context(in_plugin)?;
    check_package(declaration, &package, &found.dir).with_context(in_plugin)?;
    let api = api_of(&package, &found.dir, &found.dir).with_context(in_plugin)?;
    let previous = input
        .previous
        .as_ref()
        .and_then(|l| l.get(name))
        .filter(|l| matches!(l.source, LockSource::Registry(_)));
    let change = previous
        .filter(|l| l.version != found.version)
        .map(|l| Update {
            name: name.clone(),
            from: l.version.to_string(),
            to: found.version.to_string(),
            reference: format!("version `{}`", wanted.requirement),
        });
    let warning = found.yanked.then(|| {
        format!(
            "plugin `{name}`: {package} {}, pinned in {LOCK_FILE}, is yanked in its registry; \
             kept, as cargo keeps a locked yanked version: `cargo xtask update {name}` moves it \
             to one that is not",
            found.version
        )
    });
    Ok(Resolved {
        warning,
        identity: format!("{}#{package}@{}", found.index, found.version),
        ids: scan::plugin_ids(&found.dir),
        api,
        git: None,
        change,
        locked: LockedPlugin {
            name: name.clone(),
            package,
            version: found.version,
            source: LockSource::Registry(crate::lockfile::RegistryPin {
                index: found.index,
                registry: wanted.registry.map(str::to_owned),
                checksum: found.checksum,
            }),
        },
    })
}

/// Two declarations of the same package from the same place (the same
/// repository, reference and subdir, or the same directory) are one crate
/// twice: refused from the manifest alone, before anything is fetched, in
/// one pass however many there are.
fn refuse_identical(root: &Path, declarations: &[&Declaration]) -> anyhow::Result<()> {
    let mut seen: std::collections::HashMap<(String, String, &str), &str> =
        std::collections::HashMap::with_capacity(declarations.len());
    for declaration in declarations {
        // Shown as the identity check after resolving shows it.
        let (place, reference) = match &declaration.source {
            Source::Registry { version, registry } => (
                format!("registry `{}`", registry.as_deref().unwrap_or("crates-io")),
                format!("version `{version}`"),
            ),
            Source::Path(path) => (
                crate::cache::lexical_normal(&root.join(path))
                    .display()
                    .to_string(),
                String::new(),
            ),
            Source::Git {
                url,
                reference,
                subdir,
            } => {
                let canonical = RepoUrl::parse(url, root).canonical;
                let place = match subdir {
                    Some(subdir) => format!("{canonical} (subdir {subdir})"),
                    None => canonical,
                };
                (place, reference.to_string())
            }
        };
        let key = (place, reference, declaration.package.as_str());
        if let Some(other) = seen.insert(key.clone(), &declaration.name) {
            bail!(
                "plugins `{other}` and `{}` in {MANIFEST_FILE} both point at {}; declare it once",
                declaration.name,
                key.0
            );
        }
    }
    Ok(())
}

/// What resolving one plugin reads of the whole sync.
#[derive(Clone, Copy)]
struct Run<'a> {
    mode: &'a Mode,
    previous: Option<&'a Lockfile>,
    /// The host's copies of the lock's pins, proven ahead.
    proven: &'a checksum::Proven,
}

fn resolve(
    config: &Config,
    mode: &Mode,
    input: &Input,
    proven: &checksum::Proven,
    declaration: &Declaration,
) -> anyhow::Result<Resolved> {
    let run = Run {
        mode,
        previous: input.previous.as_ref(),
        proven,
    };
    match &declaration.source {
        Source::Registry { .. } => bail!(
            "plugin `{}` in {MANIFEST_FILE}: registry plugins resolve together",
            declaration.name
        ),
        Source::Path(declared) => resolve_path(&config.root, declaration, declared),
        Source::Git {
            url,
            reference,
            subdir,
        } => resolve_git(config, run, declaration, url, reference, subdir.as_deref()).with_context(
            || {
                format!(
                    "plugin `{}` in {MANIFEST_FILE} ({}, {reference})",
                    declaration.name,
                    secret::bare(url)
                )
            },
        ),
    }
}

/// `resolved` (its lock entry unchanged), built from the working copy at
/// `dir`, which must hold the declared package, depending on plugin-api:
/// its identity, ids and plugin-api are then the copy's.
fn with_override(
    resolved: Resolved,
    declaration: &Declaration,
    dir: &Path,
) -> anyhow::Result<Resolved> {
    let name = &declaration.name;
    let in_override = || {
        format!(
            "plugin `{name}` is built from {} (`cargo xtask dev`)",
            dir.display()
        )
    };
    let (package, _) = host::read_package(dir, Path::new("/")).with_context(in_override)?;
    check_package(declaration, &package, dir).with_context(in_override)?;
    let api = api_of(&package, dir, Path::new("/")).with_context(in_override)?;
    Ok(Resolved {
        identity: dir.display().to_string(),
        ids: scan::plugin_ids(dir),
        api,
        ..resolved
    })
}

/// A crate's version as a semver version.
fn version(text: &str, dir: &Path) -> anyhow::Result<semver::Version> {
    semver::Version::parse(text).with_context(|| {
        format!(
            "{} has version `{text}`, which is not a semver version",
            dir.join("Cargo.toml").display()
        )
    })
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
    let in_plugin = || format!("plugin `{name}` in {MANIFEST_FILE}");
    // plugin-sources/ is sync's: what is there is replaced or pruned by the
    // very sync that would lock it.
    let sources = root.join(build_support::SOURCES_DIR);
    if dir.starts_with(sources.canonicalize().unwrap_or(sources)) {
        bail!(
            "plugin `{name}` in {MANIFEST_FILE}: path `{declared}` is inside {}/, which sync \
             owns and prunes; declare the plugin's git repository instead, or keep the crate \
             elsewhere",
            build_support::SOURCES_DIR
        );
    }
    let (package, version_text) =
        host::read_plugin(&dir, Path::new("/")).with_context(in_plugin)?;
    check_package(declaration, &package, &dir)
        .map_err(|e| anyhow!("plugin `{name}` in {MANIFEST_FILE}: {e}"))?;
    let api = api_of(&package, &dir, Path::new("/")).with_context(in_plugin)?;
    Ok(Resolved {
        change: None,
        warning: None,
        locked: LockedPlugin {
            name: name.clone(),
            version: version(&version_text, &dir).with_context(in_plugin)?,
            package,
            source: LockSource::Local {
                path: host::relative_path(root, &dir),
            },
        },
        identity: dir.display().to_string(),
        ids: scan::plugin_ids(&dir),
        api,
        git: None,
    })
}

/// How the crate in `dir` depends on plugin-api; not at all is an error.
fn api_of(package: &str, dir: &Path, top: &Path) -> anyhow::Result<api::ApiSource> {
    api::plugin(dir, top)?.with_context(|| {
        format!(
            "crate `{package}` does not depend on static-plugins-api, so it is not a plugin; check that \
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

fn parse_commit(text: &str) -> anyhow::Result<Commit> {
    Commit::parse(text).with_context(|| format!("git returned `{text}`, not a 40-hex commit"))
}

fn resolve_git(
    config: &Config,
    run: Run<'_>,
    declaration: &Declaration,
    declared_url: &str,
    reference: &GitReference,
    subdir: Option<&str>,
) -> anyhow::Result<Resolved> {
    let name = &declaration.name;
    // What the lock records and messages show: the URL without secrets.
    let bare = secret::bare(declared_url);
    let url = bare.as_str();
    let repo_url = RepoUrl::parse(declared_url, &config.root);
    let repo = config.cache.repo(&repo_url)?;
    let source = GitSource {
        config,
        repo: &repo,
        url: &repo_url,
        reference,
        name,
        proven: run.proven,
    };
    let Run { mode, previous, .. } = run;
    let previous_entry = previous.and_then(|lock| lock.get(name));
    // The lock's pin still answers this declaration.
    let locked = previous_entry
        .filter(|p| p.package == declaration.package)
        .and_then(|p| {
            p.git().filter(|pin| {
                pin.url == url
                    && pin.reference == *reference
                    && (subdir.is_none() || pin.subdir.as_ref().map(RelativePath::as_str) == subdir)
            })
        });
    let updating = mode.updating(name);
    let reuse = locked.filter(|_| !(updating && reference.floats()));
    let pinned = match reuse {
        Some(pin) => match reuse_pin(&source, pin, updating)? {
            Ok(pinned) => pinned,
            // The lock's commit is not what the declaration reaches: pinned
            // afresh, with the reason as a warning (an error with --locked).
            Err(unreached) => Pinned {
                lock_warning: Some(unreached),
                ..pin_afresh(&source, declaration, subdir)?
            },
        },
        None => pin_afresh(&source, declaration, subdir)?,
    };
    let pin = GitPin {
        url: url.to_owned(),
        reference: reference.clone(),
        commit: pinned.commit.clone(),
        subdir: pinned.subdir.clone(),
        checksum: pinned.checksum.clone(),
    };
    described(config, declaration, previous_entry, &repo_url, pin, pinned)
}

/// Where a git declaration's commits come from.
struct GitSource<'a> {
    config: &'a Config,
    repo: &'a CachedRepo,
    url: &'a RepoUrl,
    reference: &'a GitReference,
    name: &'a str,
    proven: &'a checksum::Proven,
}

/// A commit chosen for a declaration, and where its files are.
struct Pinned {
    commit: Commit,
    /// A checkout to copy the host's copy from; `None` when the host's copy
    /// is already the commit's.
    checkout: Option<Checkout>,
    subdir: Option<RelativePath>,
    checksum: crate::checksum::Checksum,
    /// The ids a host copy's index recorded, when it proves the copy
    /// unchanged.
    known_ids: Option<Vec<String>>,
    /// The host's copy is intact but its index did not prove it (hashing
    /// did): apply writes it afresh, so the next sync need not hash.
    reindex: bool,
    /// What sync warns about (and `--locked` refuses): a moved tag, a lock
    /// entry its declaration does not reach.
    lock_warning: Option<String>,
}

/// The lock's pin, kept: its files from the host's intact copy, else a
/// checkout checked against its checksum. `Err` when this machine has
/// never had the commit and the declaration does not reach it.
fn reuse_pin(
    source: &GitSource<'_>,
    pin: &GitPin,
    updating: bool,
) -> anyhow::Result<Result<Pinned, String>> {
    let GitSource {
        config,
        repo,
        url,
        reference,
        name,
        ..
    } = *source;
    let host_copy = config.root.join(pin.host_dir(name));
    let state = source.proven.state(&host_copy, &pin.checksum)?;
    let intact = state != checksum::CopyState::Differs;
    let reindex = state == checksum::CopyState::Hashed;
    let known_ids = match state {
        checksum::CopyState::Indexed(ids) => ids,
        _ => None,
    };
    let commit = pin.commit.as_str();
    // A locked commit this machine has never had comes through what the
    // declaration names, never by id alone: a lock edited to pin any
    // commit the server serves is caught here.
    if !intact
        && !config.offline
        && !git::has_commit(&repo.db, commit)
        && let Err(unreached) = fetch_reachable(config, repo, url, reference, pin, name)?
    {
        return Ok(Err(unreached));
    }
    let mut lock_warning = None;
    if updating && let GitReference::Tag(tag) = reference {
        let now = fetch(config, repo, url, reference, name)?;
        if now != commit {
            lock_warning = Some(format!(
                "tag `{tag}` of plugin `{name}` ({}) now points at {now}, but {LOCK_FILE} \
                 pins {commit}; keeping {commit}. A tag that moves can mean a compromised \
                 repository: check with its maintainers before changing the lock",
                pin.url
            ));
        }
    }
    let checkout = if intact {
        None
    } else {
        let checkout = staged_checkout(config, repo, url, &pin.commit, name)?;
        if checksum::digest(&checkout.sums) != pin.checksum {
            bail!(
                "commit {commit} of the repository does not match the checksum in \
                 {LOCK_FILE}: the lock was edited, or the repository's history rewritten; \
                 run `cargo xtask update {name}` to pin it afresh"
            );
        }
        Some(checkout)
    };
    Ok(Ok(Pinned {
        commit: pin.commit.clone(),
        checkout,
        subdir: pin.subdir.clone(),
        checksum: pin.checksum.clone(),
        known_ids,
        reindex,
        lock_warning,
    }))
}

/// The commit the declaration names now, fetched; its checksum hashed from
/// the git objects, never from files on disk.
fn pin_afresh(
    source: &GitSource<'_>,
    declaration: &Declaration,
    subdir: Option<&str>,
) -> anyhow::Result<Pinned> {
    let GitSource {
        config,
        repo,
        url: repo_url,
        reference,
        name,
        ..
    } = *source;
    if config.offline {
        bail!(
            "{reference} is not pinned in {LOCK_FILE} yet and --offline forbids fetching it; \
             run `cargo xtask sync` without --offline"
        );
    }
    let commit = parse_commit(&fetch(config, repo, repo_url, reference, name)?)?;
    // The pin's checksum comes from the git objects, never from files on
    // disk: hashed while a checkout is written, or read from the objects
    // when the host's copy was already there, which is then checked
    // against it.
    let host_copy = config.root.join(host_dir(name, &commit));
    let from_objects = || -> anyhow::Result<crate::checksum::Checksum> {
        Ok(checksum::digest(&git::sums(&repo.db, commit.as_str())?))
    };
    let (checkout, checksum) = match host_copy.is_dir().then(from_objects).transpose()? {
        Some(checksum) if checksum::intact_fast(&host_copy, &checksum)? => (None, checksum),
        _ => {
            let checkout = staged_checkout(config, repo, repo_url, &commit, name)?;
            let checksum = checksum::digest(&checkout.sums);
            (Some(checkout), checksum)
        }
    };
    let dir = checkout
        .as_ref()
        .map_or_else(|| host_copy.clone(), |c| c.dir.clone());
    let found = match subdir {
        Some(subdir) => Some(subdir.to_owned()),
        None => find_crate(&dir, &declaration.package)?,
    };
    let found = found
        .map(|s| {
            RelativePath::parse(&s)
                .with_context(|| format!("`{s}` is not a relative path inside the repository"))
        })
        .transpose()?;
    Ok(Pinned {
        commit,
        checkout,
        subdir: found,
        checksum,
        known_ids: None,
        reindex: false,
        lock_warning: None,
    })
}

/// The resolved plugin of `pin`: its crate found and checked in the files
/// (the checkout's, else the host's copy), its ids, plugin-api and lock
/// entry.
fn described(
    config: &Config,
    declaration: &Declaration,
    previous_entry: Option<&LockedPlugin>,
    repo_url: &RepoUrl,
    pin: GitPin,
    pinned: Pinned,
) -> anyhow::Result<Resolved> {
    let name = &declaration.name;
    let Pinned {
        checkout,
        known_ids,
        reindex,
        lock_warning: moved_tag,
        ..
    } = pinned;
    let host_copy = config.root.join(pin.host_dir(name));
    let files = checkout
        .as_ref()
        .map_or(host_copy.as_path(), |c| c.dir.as_path());
    let crate_dir = match &pin.subdir {
        Some(subdir) => {
            check_real_dirs(files, subdir)?;
            files.join(subdir.as_str())
        }
        None => files.to_owned(),
    };
    if !crate_dir.join("Cargo.toml").is_file() {
        bail!(
            "there is no Cargo.toml in `{}` of the repository at {}",
            pin.subdir.as_ref().map_or(".", RelativePath::as_str),
            pin.commit.short()
        );
    }
    let (package, version_text) = host::read_plugin(&crate_dir, files)?;
    check_package(declaration, &package, &crate_dir)?;
    crate::confine::check(&crate_dir, files)?;
    let change = previous_entry
        .and_then(LockedPlugin::git)
        .filter(|old| old.commit != pin.commit)
        .map(|old| Update {
            name: name.clone(),
            from: old.commit.to_string(),
            to: pin.commit.to_string(),
            reference: pin.reference.to_string(),
        });
    Ok(Resolved {
        change,
        warning: None,
        identity: match &pin.subdir {
            Some(subdir) => format!("{} (subdir {})", repo_url.canonical, subdir.as_str()),
            None => repo_url.canonical.clone(),
        },
        ids: known_ids.unwrap_or_else(|| scan::plugin_ids(&crate_dir)),
        api: api_of(&declaration.package, &crate_dir, files)?,
        git: Some(GitResolved {
            repo: repo_url.canonical.clone(),
            stage: checkout.as_ref().map(|c| c.stage.clone()),
            reindex: reindex && checkout.is_none(),
            copy_from: checkout.map(|c| c.dir),
            moved_tag,
        }),
        locked: LockedPlugin {
            name: name.clone(),
            version: version(&version_text, &crate_dir)?,
            package,
            source: LockSource::Git(pin),
        },
    })
}

/// Fetches the locked commit of `pin` through `reference`: the commit a
/// tag names, or one in the history of the branch (or of what a rev
/// names). `Err` says why the lock's commit is not what the declaration
/// reaches (the commit it reaches now is in the cache, for a new pin).
fn fetch_reachable(
    config: &Config,
    repo: &CachedRepo,
    url: &RepoUrl,
    reference: &GitReference,
    pin: &GitPin,
    name: &str,
) -> anyhow::Result<Result<(), String>> {
    let commit = pin.commit.as_str();
    let unreached = |tip: &str| {
        format!(
            "{LOCK_FILE} pins plugin `{name}` ({}) at {commit}, which its {reference} does not \
             reach (it names {tip}): the tag was moved, the branch rewritten, or the lock edited \
             to pin a commit the declaration never named. Without --locked, sync pins {tip}; \
             check the change with the plugin's maintainers",
            pin.url
        )
    };
    if let GitReference::Rev(rev) = reference
        && rev.len() >= 4
        && rev.bytes().all(|b| b.is_ascii_hexdigit())
    {
        // A rev written as an id names the commit itself.
        if !commit.starts_with(&rev.to_ascii_lowercase()) {
            return Ok(Err(unreached(rev)));
        }
        let fetched = fetch(config, repo, url, reference, name)?;
        return Ok(if fetched == commit {
            Ok(())
        } else {
            Err(unreached(&fetched))
        });
    }
    let tip = fetch(config, repo, url, reference, name)?;
    if tip == commit {
        return Ok(Ok(()));
    }
    if matches!(reference, GitReference::Tag(_)) {
        return Ok(Err(unreached(&tip)));
    }
    let tip = fetch_to(config, repo, url, reference, name, git::Depth::History)?;
    match git::contains(&repo.db, &tip, commit)? {
        Some(true) => Ok(Ok(())),
        Some(false) | None => Ok(Err(unreached(&tip))),
    }
}

/// Checks that every component of `subdir` under `files` is a real
/// directory, not a symlink (even one that stays inside the repository): the
/// crate cargo builds is then the one the checksum covers.
fn check_real_dirs(files: &Path, subdir: &RelativePath) -> anyhow::Result<()> {
    let mut dir = files.to_owned();
    for name in subdir.as_str().split('/') {
        dir.push(name);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => bail!(
                "subdir `{}` is reached through the symlink `{name}`; point `subdir` at the real \
                 directory",
                subdir.as_str()
            ),
            Ok(meta) if meta.is_dir() => {}
            _ => bail!(
                "the repository has no directory `{}` at this commit",
                subdir.as_str()
            ),
        }
    }
    Ok(())
}

/// Fetches `reference` into the cache, under the repository's lock.
fn fetch(
    config: &Config,
    repo: &CachedRepo,
    url: &RepoUrl,
    reference: &GitReference,
    name: &str,
) -> anyhow::Result<String> {
    fetch_to(config, repo, url, reference, name, git::Depth::Shallow)
}

/// [`fetch`], as deep as `depth` says.
fn fetch_to(
    config: &Config,
    repo: &CachedRepo,
    url: &RepoUrl,
    reference: &GitReference,
    name: &str,
    depth: git::Depth,
) -> anyhow::Result<String> {
    if config.offline {
        bail!("fetching {reference} needs the network, and --offline was given");
    }
    if let Some(path) = url.local_path() {
        if !path.exists() {
            bail!("repository {} does not exist", path.display());
        }
        if !crate::process::on_path("git") {
            bail!(
                "fetching from a local repository needs `git` on PATH (gix runs `git upload-pack` \
                 for file:// and path URLs); install git or put it on PATH"
            );
        }
    }
    let lock = repo.lock()?;
    if lock.read_only {
        bail!(
            "the plugin cache ({}) is read-only, so {reference} cannot be fetched into it: \
             restore a cache that has what plugins.lock pins, or make it writable",
            config.cache.root.display()
        );
    }
    for stale in repo.clear_stale(&lock)? {
        config.progress.status(
            "Removed",
            &format!("{} (left by an interrupted fetch)", stale.display()),
        );
    }
    let fetching = config
        .progress
        .fetch(&format!("{name} ({}, {reference})", url.bare));
    let remote = git::Remote {
        url: &repo.fetch_url,
        bare: &repo.bare_url,
        credentials: repo.credentials.as_ref(),
    };
    let commit = if config.git_fetch_with_cli {
        git_cli::fetch(&repo.db, remote, reference, depth)
    } else {
        git::fetch(&repo.db, remote, reference, &fetching, depth)
    };
    fetching.finish(commit.is_ok(), "with git");
    let commit = commit?;
    crash::point("fetched");
    Ok(commit)
}

/// A checkout of `commit` staged for this sync, to take the host's copy
/// from, fetching the commit by id if the cache does not have it (a locked
/// commit the machine never had was fetched through its declaration first,
/// see [`reuse_pin`]).
fn staged_checkout(
    config: &Config,
    repo: &CachedRepo,
    url: &RepoUrl,
    commit: &Commit,
    name: &str,
) -> anyhow::Result<Checkout> {
    let commit = commit.as_str();
    if !git::has_commit(&repo.db, commit) {
        if config.offline {
            bail!(
                "commit {commit} is not in the cache ({}) and --offline forbids fetching it",
                config.cache.root.display()
            );
        }
        let fetched = fetch(
            config,
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
    repo.stage_checkout(&lock, commit, &config.root.join(build_support::SOURCES_DIR))
}

/// Finds the crate named `package` in a checkout, as cargo does for git
/// dependencies: its directory, `None` for the root.
fn find_crate(checkout: &Path, package: &str) -> anyhow::Result<Option<String>> {
    let mut found: Vec<(String, String)> = Vec::new();
    collect_crates(checkout, "", &mut found)?;
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

fn collect_crates(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let manifest = dir.join("Cargo.toml");
    // A manifest too large to read is an error, not a directory without a
    // crate: it may be the crate that was asked for.
    if let Ok(meta) = std::fs::metadata(&manifest) {
        crate::files::check_size(&manifest, meta.len(), crate::files::MAX_MANIFEST)?;
    }
    if let Ok((package, _)) = host::read_package(dir, Path::new("/")) {
        out.push((prefix.trim_end_matches('/').to_owned(), package));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !name.starts_with('.') && name != "target" {
            collect_crates(&entry.path(), &format!("{prefix}{name}/"), out)?;
        }
    }
    Ok(())
}
