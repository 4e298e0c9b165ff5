//! The shared cache of git sources, modelled on cargo's: one bare database
//! per canonical URL (`git/db/<name>-<hash>`), checkouts staged for one
//! sync beside it (`git/checkouts/<name>-<hash>/.<commit>.stage-<pid>-<n>`),
//! and a lock file per database so concurrent syncs never corrupt each other.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::git;
use crate::secret::{self, UrlCredentials};

/// Environment variable that overrides the cache location.
pub const CACHE_ENV: &str = "PLUGIN_CACHE_DIR";

/// The cache directory tag (<https://bford.info/cachedir/>) the tool writes
/// at the root of a cache it made: backup tools skip the directory, and the
/// tool writes into or cleans only a directory that carries it.
pub const TAG_FILE: &str = "CACHEDIR.TAG";
const TAG_SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";
const TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
                   # This file is a cache directory tag created by static-plugins\n\
                   # (`cargo xtask sync`). See https://bford.info/cachedir/\n";

/// What `root`'s tag says: `Some(true)` the tool's (or the tool's being
/// written by a concurrent sync: a prefix of it), `Some(false)` someone
/// else's, `None` no tag.
fn tag(root: &Path) -> Option<bool> {
    let bytes = std::fs::read(root.join(TAG_FILE)).ok()?;
    Some(TAG.as_bytes().starts_with(&bytes))
}

/// Whether `root` is a cache this tool made and finished tagging.
fn is_marked(root: &Path) -> bool {
    std::fs::read(root.join(TAG_FILE)).is_ok_and(|bytes| {
        bytes.starts_with(TAG_SIGNATURE.as_bytes()) && TAG.as_bytes().starts_with(&bytes)
    })
}

/// Makes `root` the tool's cache before the first write into it: created
/// and tagged when missing or empty, accepted when tagged by the tool,
/// refused otherwise (a `--cache-dir` naming someone else's directory).
/// Two syncs claiming one new directory at once both succeed: the tag is
/// created exclusively, and the loser finds it.
fn claim(root: &Path) -> anyhow::Result<()> {
    let foreign = |why: &str| {
        anyhow::anyhow!(
            "{} {why}: it is not a cache this tool made, and the tool writes only into its \
             own; name a new or empty directory as the cache (--cache-dir or {CACHE_ENV})",
            root.display()
        )
    };
    match tag(root) {
        Some(true) => return Ok(()),
        Some(false) => return Err(foreign(&format!("has a {TAG_FILE} of another program"))),
        None => {}
    }
    std::fs::create_dir_all(root)
        .with_context(|| format!("failed to create the cache directory {}", root.display()))?;
    let mut entries = std::fs::read_dir(root)
        .with_context(|| format!("failed to read the cache directory {}", root.display()))?;
    if entries.next().is_some() && tag(root).is_none() {
        return Err(foreign(&format!("is not empty and has no {TAG_FILE}")));
    }
    let path = root.join(TAG_FILE);
    match std::fs::File::create_new(&path) {
        Ok(mut file) => {
            use std::io::Write as _;
            file.write_all(TAG.as_bytes())
                .with_context(|| format!("failed to write {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match tag(root) {
            Some(true) => Ok(()),
            _ => Err(foreign(&format!("has a {TAG_FILE} of another program"))),
        },
        Err(e) => Err(e).with_context(|| format!("failed to create {}", path.display())),
    }
}

#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
    /// Why there is no cache directory, when none could be found: only a
    /// git plugin needs one, so a host of path plugins syncs without HOME.
    unlocated: Option<String>,
}

impl Cache {
    /// `--cache-dir`, else `$PLUGIN_CACHE_DIR`, else the user's cache directory.
    pub fn locate(flag: Option<&Path>) -> anyhow::Result<Cache> {
        let cache = Cache::locate_lazily(flag);
        match &cache.unlocated {
            Some(why) => bail!("{why}"),
            None => Ok(cache),
        }
    }

    /// [`Cache::locate`], failing only when a repository's entry is asked
    /// for ([`Cache::repo`]).
    pub fn locate_lazily(flag: Option<&Path>) -> Cache {
        match Cache::find(flag) {
            Ok(root) => Cache::at(root),
            Err(why) => Cache {
                root: PathBuf::new(),
                unlocated: Some(why),
            },
        }
    }

    /// The cache at `root`.
    pub fn at(root: PathBuf) -> Cache {
        Cache {
            root,
            unlocated: None,
        }
    }

    /// Whether a cache directory was found.
    pub fn is_located(&self) -> bool {
        self.unlocated.is_none()
    }

    fn find(flag: Option<&Path>) -> Result<PathBuf, String> {
        if let Some(dir) = flag {
            return Ok(dir.to_owned());
        }
        if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
            return Ok(dir.into());
        }
        let base = if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            PathBuf::from(xdg)
        } else if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            if cfg!(target_os = "macos") {
                Path::new(&home).join("Library/Caches")
            } else {
                Path::new(&home).join(".cache")
            }
        } else if let Some(local) = std::env::var_os("LOCALAPPDATA") {
            PathBuf::from(local)
        } else {
            return Err(format!(
                "cannot find a cache directory for git plugins (no HOME, XDG_CACHE_HOME or \
                 LOCALAPPDATA): set {CACHE_ENV} or pass --cache-dir"
            ));
        };
        Ok(base.join("static-plugins"))
    }

    /// The cache entry for a repository; an error when no cache directory
    /// could be found.
    pub fn repo(&self, url: &RepoUrl) -> anyhow::Result<CachedRepo> {
        if let Some(why) = &self.unlocated {
            bail!("{why}");
        }
        let id = url.id();
        let git = self.root.join("git");
        Ok(CachedRepo {
            db: git.join("db").join(&id),
            checkouts: git.join("checkouts").join(&id),
            lock: git.join("db").join(format!("{id}.lock")),
            fetch_url: url.fetch.clone(),
            bare_url: url.bare.clone(),
            credentials: url.credentials.clone(),
            git,
            root: self.root.clone(),
        })
    }

    /// Removes everything cached; returns whether there was anything.
    /// Refuses a directory the tool did not make (no [`TAG_FILE`]).
    pub fn clean(&self) -> anyhow::Result<bool> {
        let git = self.root.join("git");
        if std::fs::symlink_metadata(&git).is_err() {
            return Ok(false);
        }
        if !is_marked(&self.root) {
            bail!(
                "{} has no {TAG_FILE}: it is not a cache this tool made, so nothing in it is \
                 removed",
                self.root.display()
            );
        }
        std::fs::remove_dir_all(&git)
            .with_context(|| format!("failed to remove {}", git.display()))?;
        Ok(true)
    }
}

/// A repository URL: what to fetch from, and the canonical form the cache
/// is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoUrl {
    /// What gix connects to (a local repository as an absolute path). It may
    /// carry credential-like query parameters: never print it.
    pub fetch: String,
    /// The URL as it may be stored and printed (see [`crate::secret`]).
    pub bare: String,
    /// `file:///abs/path` for local repositories; otherwise the bare URL
    /// (no secrets, see [`crate::secret`]) without a trailing `/` or `.git`.
    pub canonical: String,
    /// Credentials the URL carried, offered when the server asks.
    pub credentials: Option<UrlCredentials>,
}

impl RepoUrl {
    /// Resolves `url` as written in plugins.toml in directory `base`.
    pub fn parse(url: &str, base: &Path) -> RepoUrl {
        let local = match url.split_once("://") {
            Some(("file", path)) => Some(PathBuf::from(path)),
            Some(_) => None,
            None => Some(base.join(url)),
        };
        if let Some(path) = local {
            // A repository that is gone must not stop an offline sync of
            // what is locked and cached: fall back to the lexical path.
            let path = path
                .canonicalize()
                .unwrap_or_else(|_| lexical_normal(&path));
            let path = path.to_string_lossy().into_owned();
            return RepoUrl {
                canonical: format!("file://{path}"),
                bare: format!("file://{path}"),
                fetch: path,
                credentials: None,
            };
        }
        let split = secret::split(url);
        let trimmed = split.bare.trim_end_matches('/');
        let canonical = trimmed.strip_suffix(".git").unwrap_or(trimmed).to_owned();
        RepoUrl {
            canonical,
            fetch: split.fetch,
            bare: split.bare,
            credentials: split.credentials,
        }
    }

    /// For local repositories, their directory (fetching them runs
    /// `git upload-pack`).
    pub fn local_path(&self) -> Option<&Path> {
        self.canonical
            .starts_with("file://")
            .then(|| Path::new(&self.fetch))
    }

    /// Directory name in the cache: last path segment and a hash.
    fn id(&self) -> String {
        let last = self
            .canonical
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or("repo");
        let name: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let hash = build_support::sha256_hex(self.canonical.as_bytes());
        format!("{name}-{}", hash.get(..16).unwrap_or(&hash))
    }
}

/// `path` without `.` and `..` components, without touching the filesystem.
pub fn lexical_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct CachedRepo {
    pub db: PathBuf,
    pub checkouts: PathBuf,
    lock: PathBuf,
    pub fetch_url: String,
    pub bare_url: String,
    pub credentials: Option<UrlCredentials>,
    /// The cache's `git/` directory.
    git: PathBuf,
    /// The cache's root.
    root: PathBuf,
}

/// A checkout written from the database for one sync (see
/// [`CachedRepo::stage_checkout`]): the host copy takes it by renaming
/// instead of copying.
#[derive(Debug)]
pub struct Checkout {
    pub dir: PathBuf,
    /// The sums of its files, hashed from the git objects while writing.
    pub sums: crate::checksum::Sums,
    /// Removes the directory when the last holder drops it.
    pub stage: std::sync::Arc<Stage>,
}

/// A checkout staged for one sync. Whoever holds it last removes it when
/// done: after a failure anywhere (resolve, plan, apply) the stage goes
/// with the values that carried it, and after apply moved it into the
/// host there is nothing left to remove. So the cache keeps only databases.
#[derive(Debug, PartialEq, Eq)]
pub struct Stage {
    pub dir: PathBuf,
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Held while a cache repository is used; dropping it releases the lock.
#[derive(Debug)]
pub struct RepoLock {
    /// `None` in a read-only cache that has no lock file (nobody can write
    /// there either).
    _file: Option<File>,
    /// The cache cannot be written (a CI cache restored read-only, a
    /// shared read-only mount): it is read under a shared lock, nothing is
    /// fetched into it, and checkouts are staged in the host instead.
    pub read_only: bool,
}

impl CachedRepo {
    /// Fails if a directory sync writes into inside the cache is a symlink
    /// (the cache root itself may be one): a planted link would send
    /// fetches and checkouts elsewhere.
    fn check_real_dirs(&self) -> anyhow::Result<()> {
        for dir in [
            self.git.clone(),
            self.git.join("db"),
            self.git.join("checkouts"),
            self.db.clone(),
            self.checkouts.clone(),
        ] {
            if std::fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                bail!(
                    "{} in the cache is not a real directory (a symlink?); sync writes there and \
                     will not follow it: run `cargo xtask cache clean`",
                    dir.display()
                );
            }
        }
        Ok(())
    }

    /// Takes this repository's lock, waiting for other syncs to finish with
    /// it. In a cache this process cannot write, a shared lock (waiting for
    /// a writer that can): see [`RepoLock::read_only`].
    pub fn lock(&self) -> anyhow::Result<RepoLock> {
        claim(&self.root)?;
        self.check_real_dirs()?;
        let dir = self.lock.parent().context("lock files live in git/db")?;
        let writable = std::fs::create_dir_all(dir).and_then(|()| {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&self.lock)
        });
        match writable {
            Ok(file) => {
                file.lock()
                    .with_context(|| format!("failed to lock {}", self.lock.display()))?;
                Ok(RepoLock {
                    _file: Some(file),
                    read_only: false,
                })
            }
            Err(e) if is_read_only(&e) => {
                let file = File::open(&self.lock).ok();
                if let Some(file) = &file {
                    file.lock_shared()
                        .with_context(|| format!("failed to lock {}", self.lock.display()))?;
                }
                Ok(RepoLock {
                    _file: file,
                    read_only: true,
                })
            }
            Err(e) => Err(e).with_context(|| format!("failed to open {}", self.lock.display())),
        }
    }

    /// Removes what a process killed while fetching into this database can
    /// leave behind: git's `*.lock` files (which would make every later
    /// fetch fail) and half-created databases (`<db>.init-<pid>`). The
    /// caller holds the lock, so no other sync is using the database: every
    /// such file is stale. Returns what it removed.
    pub fn clear_stale(&self, _lock: &RepoLock) -> anyhow::Result<Vec<PathBuf>> {
        // git takes its `*.lock` files beside what it updates: `HEAD`,
        // `config`, `shallow`, `packed-refs` and the refs. `objects/` (by far
        // the largest part of a database) never holds one, so it is not
        // walked before every fetch.
        fn walk(dir: &Path, top: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return Ok(());
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let kind = entry
                    .file_type()
                    .with_context(|| format!("failed to stat {}", path.display()))?;
                if kind.is_dir() && !(top && entry.file_name() == "objects") {
                    walk(&path, false, out)?;
                } else if kind.is_file() && path.extension().is_some_and(|e| e == "lock") {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("failed to remove {}", path.display()))?;
                    out.push(path);
                }
            }
            Ok(())
        }
        let mut removed = Vec::new();
        walk(&self.db, true, &mut removed)?;
        if let (Some(parent), Some(name)) = (self.db.parent(), self.db.file_name()) {
            let prefix = format!("{}.init-", name.to_string_lossy());
            for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix)
                    && entry.file_type().is_ok_and(|t| t.is_dir())
                {
                    std::fs::remove_dir_all(entry.path())
                        .with_context(|| format!("failed to remove {}", entry.path().display()))?;
                    removed.push(entry.path());
                }
            }
        }
        Ok(removed)
    }

    /// Writes a checkout of `commit` from the database for this sync alone,
    /// hashing as it writes: `checkouts/.<commit>.stage-<pid>-<n>`. Apply
    /// renames it into `plugin-sources/` (a copy only across filesystems),
    /// so each file is written once, and the cache keeps no files the host
    /// has: an edit in `plugin-sources/` cannot reach the cache. The caller
    /// holds the lock and has made sure the database has the commit.
    ///
    /// In a read-only cache the stage is written into `host_dir` (the
    /// host's `plugin-sources/`, where apply takes it by renaming).
    pub fn stage_checkout(
        &self,
        lock: &RepoLock,
        commit: &str,
        host_dir: &Path,
    ) -> anyhow::Result<Checkout> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let stages = if lock.read_only {
            host_dir
        } else {
            &self.checkouts
        };
        // Stages of processes that are gone.
        if let Ok(entries) = std::fs::read_dir(stages) {
            for entry in entries.flatten() {
                if stage_is_abandoned(&entry.file_name().to_string_lossy()) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        std::fs::create_dir_all(stages)
            .with_context(|| format!("failed to create {}", stages.display()))?;
        let stage = stages.join(format!(
            ".{commit}.stage-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&stage);
        let result = git::checkout(&self.db, commit, &stage).inspect(|_| {
            crate::crash::point("checked-out");
        });
        match result {
            Ok(sums) => Ok(Checkout {
                dir: stage.clone(),
                sums,
                stage: std::sync::Arc::new(Stage { dir: stage }),
            }),
            Err(error) => {
                let _ = std::fs::remove_dir_all(&stage);
                Err(error)
            }
        }
    }
}

/// Whether `error` says the file system or the permissions forbid writing.
fn is_read_only(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
    )
}

/// Whether `name` is a stage directory of a process that no longer runs
/// (known on Linux, from `/proc`; elsewhere stages are kept until `cache
/// clean`).
fn stage_is_abandoned(name: &str) -> bool {
    let Some((_, rest)) = name.split_once(".stage-") else {
        return false;
    };
    let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    cfg!(target_os = "linux") && !Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plugin-cache-claim-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_cache_is_claimed_only_when_new_empty_or_already_the_tools() {
        // New, then claimed again: tagged once.
        let new = scratch("new");
        claim(&new).unwrap();
        assert!(is_marked(&new));
        claim(&new).unwrap();
        // Empty: tagged.
        let empty = scratch("empty");
        std::fs::create_dir_all(&empty).unwrap();
        claim(&empty).unwrap();
        assert!(is_marked(&empty));
        // Someone else's directory: refused, nothing written.
        let theirs = scratch("theirs");
        std::fs::create_dir_all(theirs.join("git")).unwrap();
        std::fs::write(theirs.join("git/notes"), "mine").unwrap();
        let error = claim(&theirs).unwrap_err().to_string();
        assert!(
            error.contains("is not empty and has no CACHEDIR.TAG"),
            "{error}"
        );
        assert!(!theirs.join(TAG_FILE).exists());
        let cache = Cache::at(theirs.clone());
        let error = cache.clean().unwrap_err().to_string();
        assert!(
            error.contains("it is not a cache this tool made"),
            "{error}"
        );
        assert!(
            theirs.join("git/notes").is_file(),
            "clean removed what it did not make"
        );
        // Another program's tag (cargo tags its target directories).
        let other = scratch("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(TAG_FILE), format!("{TAG_SIGNATURE}\n# cargo\n")).unwrap();
        assert!(
            claim(&other)
                .unwrap_err()
                .to_string()
                .contains("of another program")
        );
        // A tag a concurrent sync is still writing counts as the tool's.
        let racing = scratch("racing");
        std::fs::create_dir_all(&racing).unwrap();
        std::fs::write(racing.join(TAG_FILE), "").unwrap();
        claim(&racing).unwrap();
        for dir in [new, empty, theirs, other, racing] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn remote_urls_are_canonical_and_keyed_stably() {
        let base = Path::new("/");
        let a = RepoUrl::parse("https://example.com/me/a.git", base);
        let b = RepoUrl::parse("https://example.com/me/a/", base);
        assert_eq!(a.canonical, "https://example.com/me/a");
        assert_eq!(a.canonical, b.canonical);
        assert_eq!(a.id(), b.id());
        assert!(a.id().starts_with("a-"));
        assert_eq!(a.fetch, "https://example.com/me/a.git");
        assert_eq!(a.local_path(), None);
    }

    #[test]
    fn local_paths_become_absolute_file_urls() {
        let base = std::env::temp_dir();
        let url = RepoUrl::parse(".", &base);
        let canonical = base.canonicalize().unwrap();
        assert_eq!(url.canonical, format!("file://{}", canonical.display()));
        assert_eq!(RepoUrl::parse(&url.canonical, Path::new("/elsewhere")), url);
        assert_eq!(url.local_path(), Some(canonical.as_path()));
        let gone = RepoUrl::parse("gone/../missing", Path::new("/srv"));
        assert_eq!(gone.canonical, "file:///srv/missing");
    }
}
