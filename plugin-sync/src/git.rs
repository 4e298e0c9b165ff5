//! Every use of `gix` lives here, behind a few functions, because gix's API
//! changes often: fetch a reference into a bare database, ask whether a
//! database has a commit, read and validate a commit's tree (with the
//! checksum sums of its blobs), and write that tree to a new directory.
//!
//! Repositories are opened isolated: the user's git configuration
//! (`core.autocrlf`, `insteadOf`, credential helpers) never changes a result.
//! Files are written from the raw blobs, with no filters, so the bytes on disk
//! are exactly the committed bytes.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, anyhow, bail};
use build_support::manifest::GitReference;
use build_support::sha256_hex;
use gix::remote::Direction;
use gix::remote::fetch::{Shallow, Tags};

use crate::{checksum, tree};

/// A commit id, as 40 lowercase hex digits.
pub type Commit = String;

/// Opens the bare database at `db`, creating it if needed.
fn open_or_init(db: &Path) -> anyhow::Result<gix::Repository> {
    if !db.join("HEAD").exists() {
        // Create beside, then rename: a half-created database is never seen.
        let temp = db.with_extension(format!("init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&temp);
        gix::init_bare(&temp).with_context(|| format!("failed to create {}", temp.display()))?;
        if let Err(e) = std::fs::rename(&temp, db) {
            let _ = std::fs::remove_dir_all(&temp);
            if !db.join("HEAD").exists() {
                return Err(e).with_context(|| format!("failed to create {}", db.display()));
            }
        }
    }
    gix::open_opts(db, gix::open::Options::isolated())
        .with_context(|| format!("failed to open the cached repository {}", db.display()))
}

/// The refspec that fetches `reference`.
fn refspec(reference: &GitReference) -> String {
    match reference {
        GitReference::DefaultBranch => "+HEAD:refs/remotes/origin/HEAD".to_owned(),
        GitReference::Branch(b) => format!("+refs/heads/{b}:refs/remotes/origin/{b}"),
        GitReference::Tag(t) => format!("+refs/tags/{t}:refs/tags/{t}"),
        GitReference::Rev(r) => r.clone(),
    }
}

/// Fetches `reference` from `url` into the bare database `db` and returns the
/// commit it names (an annotated tag is peeled). Shallow (depth 1) first; if
/// receiving the shallow pack fails, the whole history.
pub fn fetch(db: &Path, url: &str, reference: &GitReference) -> anyhow::Result<Commit> {
    let repo = open_or_init(db)?;
    match fetch_once(&repo, url, reference, true) {
        Ok(commit) => Ok(commit),
        Err(Failure::Receive(shallow_error)) => {
            fetch_once(&repo, url, reference, false).map_err(|failure| {
                let error = failure
                    .into_inner()
                    .context(format!("a shallow fetch failed first: {shallow_error:#}"));
                // A commit the remote does not have fails while receiving,
                // with a protocol message; say what it means.
                match reference {
                    GitReference::Rev(rev) => error.context(format!(
                        "the remote has no commit {rev} (or does not serve commits by id); \
                         check the rev, or declare a tag or branch that contains it"
                    )),
                    _ => error,
                }
            })
        }
        Err(failure) => Err(failure.into_inner()),
    }
}

/// Where a fetch failed: only a failure to receive the pack is worth
/// retrying without `--depth`.
enum Failure {
    Connect(anyhow::Error),
    Receive(anyhow::Error),
}

impl Failure {
    fn into_inner(self) -> anyhow::Error {
        match self {
            Failure::Connect(e) | Failure::Receive(e) => e,
        }
    }
}

fn fetch_once(
    repo: &gix::Repository,
    url: &str,
    reference: &GitReference,
    shallow: bool,
) -> Result<Commit, Failure> {
    let spec = refspec(reference);
    let remote = repo
        .remote_at(url)
        .map_err(|e| Failure::Connect(anyhow!("invalid git URL `{url}`: {e}")))?
        .with_fetch_tags(Tags::None)
        .with_refspecs([spec.as_str()], Direction::Fetch)
        .map_err(|e| Failure::Connect(anyhow!("invalid reference {reference}: {e}")))?;
    // Keep gix's whole chain of causes: the last one is often the
    // transport's own words (ssh's message, an HTTP status).
    let connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| Failure::Connect(anyhow::Error::new(e).context("failed to connect")))?;
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| Failure::Connect(anyhow::Error::new(e)))?;
    let depth = if shallow {
        Shallow::DepthAtRemote(1.try_into().expect("1 is not zero"))
    } else if repo.is_shallow().unwrap_or(false) {
        Shallow::undo()
    } else {
        Shallow::NoChange
    };
    let outcome = prepare
        .with_shallow(depth)
        .receive(gix::progress::Discard, &AtomicBool::new(false))
        .map_err(|e| {
            // gix reports a refspec that matched no remote ref only in words;
            // fetching deeper would not help.
            let message = e.to_string();
            if message.starts_with("None of the refspec") {
                Failure::Connect(anyhow!("the remote has no {reference}"))
            } else {
                Failure::Receive(anyhow!("{message}"))
            }
        })?;
    commit_of(repo, &outcome, reference).map_err(Failure::Receive)
}

/// The commit the fetched `reference` names.
fn commit_of(
    repo: &gix::Repository,
    outcome: &gix::remote::fetch::Outcome,
    reference: &GitReference,
) -> anyhow::Result<Commit> {
    let mapping = outcome
        .ref_map
        .mappings
        .iter()
        .find(|m| m.spec_index == gix::protocol::fetch::refmap::SpecIndex::ExplicitInRemote(0))
        .ok_or_else(|| anyhow!("the remote has no {reference}"))?;
    let id = mapping
        .remote
        .as_id()
        .ok_or_else(|| anyhow!("{reference} is unborn on the remote"))?
        .to_owned();
    let commit = repo
        .find_object(id)
        .with_context(|| format!("{reference} names {id}, which was not received"))?
        .peel_to_commit()
        .with_context(|| format!("{reference} names {id}, which is not a commit"))?;
    Ok(commit.id.to_string())
}

/// Whether `db` exists and holds `commit` (so it can be checked out offline).
pub fn has_commit(db: &Path, commit: &str) -> bool {
    let Ok(repo) = gix::open_opts(db, gix::open::Options::isolated()) else {
        return false;
    };
    let Ok(id) = gix::ObjectId::from_hex(commit.as_bytes()) else {
        return false;
    };
    repo.find_object(id)
        .ok()
        .and_then(|o| o.peel_to_commit().ok())
        .is_some()
}

/// The most bytes a symlink's target may have (Linux's `PATH_MAX`).
const MAX_LINK: usize = 4096;

/// The most bytes one file of a plugin's repository may have: each is held
/// in memory once while it is hashed and written.
const MAX_BLOB: u64 = 256 << 20;

/// A commit's whole tree, read and validated: its entries with their blob
/// ids. File blobs are sized from their headers, not inflated.
type Tree = Vec<(tree::Entry, gix::ObjectId)>;

fn open(db: &Path) -> anyhow::Result<gix::Repository> {
    gix::open_opts(db, gix::open::Options::isolated())
        .with_context(|| format!("failed to open the cached repository {}", db.display()))
}

/// The checksum sums of the files of `commit`, hashed from the blobs in the
/// database after the whole tree is validated (see [`tree::validate`]), so
/// what the lock records is what git holds, not what some directory on disk
/// holds.
pub fn sums(db: &Path, commit: &str) -> anyhow::Result<checksum::Sums> {
    let repo = open(db)?;
    let tree = read_tree(&repo, commit)?;
    let mut sums = checksum::Sums::new();
    for (entry, oid) in &tree {
        if let Some(sum) = sum_of(&repo, entry, *oid, |_| Ok(()))? {
            sums.insert(entry.path.clone(), sum);
        }
    }
    Ok(sums)
}

/// The sum of one entry (`None` for a directory), reading a file's blob once
/// and handing its bytes to `use_bytes` (checkout writes them).
fn sum_of(
    repo: &gix::Repository,
    entry: &tree::Entry,
    oid: gix::ObjectId,
    use_bytes: impl FnOnce(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<Option<String>> {
    Ok(match &entry.kind {
        tree::Kind::Dir | tree::Kind::Submodule => None,
        tree::Kind::Link(target) => Some(format!("l:{}", sha256_hex(target.as_bytes()))),
        tree::Kind::File | tree::Kind::Executable => {
            let blob = repo
                .find_object(oid)
                .with_context(|| format!("blob of `{}` is missing", entry.path))?;
            use_bytes(&blob.data)?;
            let tag = if entry.kind == tree::Kind::Executable {
                "x"
            } else {
                "f"
            };
            Some(format!("{tag}:{}", sha256_hex(&blob.data)))
        }
    })
}

/// Reads the tree of `commit` and validates all of it before anything is
/// written anywhere. Reads only symlink targets; files are sized from their
/// object headers.
fn read_tree(repo: &gix::Repository, commit: &str) -> anyhow::Result<Tree> {
    use gix::object::tree::EntryKind;
    let id = gix::ObjectId::from_hex(commit.as_bytes())
        .with_context(|| format!("`{commit}` is not a commit id"))?;
    let tree = repo
        .find_object(id)
        .with_context(|| format!("commit {commit} is not in the cache"))?
        .peel_to_commit()?
        .tree()?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .with_context(|| format!("failed to read the tree of {commit}"))?;
    let mut entries = Vec::with_capacity(recorder.records.len());
    for record in recorder.records {
        let path = String::from_utf8(record.filepath.to_vec()).map_err(|_| {
            anyhow!(
                "the repository has a path that is not UTF-8 (`{}`)",
                record.filepath
            )
        })?;
        let kind = match record.mode.kind() {
            EntryKind::Tree => tree::Kind::Dir,
            EntryKind::Commit => tree::Kind::Submodule,
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let size = repo
                    .find_header(record.oid)
                    .with_context(|| format!("blob of `{path}` is missing"))?
                    .size();
                if size > MAX_BLOB {
                    bail!(
                        "`{path}` has {size} bytes, more than the {} MiB a plugin's file may have",
                        MAX_BLOB >> 20
                    );
                }
                if record.mode.kind() == EntryKind::BlobExecutable {
                    tree::Kind::Executable
                } else {
                    tree::Kind::File
                }
            }
            EntryKind::Link => {
                let blob = repo
                    .find_object(record.oid)
                    .with_context(|| format!("blob of `{path}` is missing"))?;
                if blob.data.len() > MAX_LINK {
                    bail!("symlink `{path}` has a target longer than {MAX_LINK} bytes");
                }
                let target = String::from_utf8(blob.data.clone())
                    .map_err(|_| anyhow!("symlink `{path}` has a non-UTF-8 target"))?;
                tree::Kind::Link(target)
            }
        };
        entries.push((tree::Entry { path, kind }, record.oid));
    }
    let plain: Vec<tree::Entry> = entries.iter().map(|(e, _)| e.clone()).collect();
    tree::validate(&plain).map_err(|e| anyhow!(e))?;
    Ok(entries)
}

/// Writes the tree of `commit` into `dest`, which must not exist, from the
/// raw blobs, and returns the checksum sums of what it wrote (each blob is
/// read once, hashed as it is written). The whole tree is validated first;
/// then directories and files are created with `create_dir` and
/// `create_new` (which never follow a symlink), and the symlinks last, so no
/// write can pass through one.
pub fn checkout(db: &Path, commit: &str, dest: &Path) -> anyhow::Result<checksum::Sums> {
    let repo = open(db)?;
    let tree = read_tree(&repo, commit)?;
    std::fs::create_dir(dest).with_context(|| format!("failed to create {}", dest.display()))?;
    let mut sums = checksum::Sums::new();
    let mut links = Vec::new();
    for (entry, oid) in &tree {
        let path = dest.join(&entry.path);
        match &entry.kind {
            tree::Kind::Dir => std::fs::create_dir(&path)
                .with_context(|| format!("failed to create {}", path.display()))?,
            tree::Kind::Link(target) => links.push((path.clone(), target)),
            tree::Kind::Submodule => bail!("submodules were refused by validation"),
            tree::Kind::File | tree::Kind::Executable => {}
        }
        let executable = entry.kind == tree::Kind::Executable;
        let write = |bytes: &[u8]| write_new(&path, bytes, executable);
        if let Some(sum) = sum_of(&repo, entry, *oid, write)? {
            sums.insert(entry.path.clone(), sum);
        }
    }
    for (path, target) in links {
        symlink(target, &path)?;
    }
    Ok(sums)
}

/// Creates `path` (which must not exist: an existing symlink is not
/// followed) with `bytes`.
fn write_new(path: &Path, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("failed to write {}", path.display()))?;
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &str, path: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::symlink(target, path)
        .with_context(|| format!("failed to create symlink {}", path.display()))
}

#[cfg(not(unix))]
fn symlink(target: &str, path: &Path) -> anyhow::Result<()> {
    bail!(
        "symlink {} -> {target}: symlinks are only supported on Unix",
        path.display()
    )
}

/// The commit checked out in the work tree at `dir`, if it is a git
/// repository with a commit.
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated()).ok()?;
    repo.head_id().ok().map(|id| id.to_string())
}
