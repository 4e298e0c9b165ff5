//! Every use of `gix` lives here, behind four functions, because gix's API
//! changes often: fetch a reference into a bare database, ask whether a
//! database has a commit, and write a commit's tree to a directory.
//!
//! Repositories are opened isolated: the user's git configuration
//! (`core.autocrlf`, `insteadOf`, credential helpers) never changes a result.
//! Files are written from the raw blobs, with no filters, so the bytes on disk
//! are exactly the committed bytes.

use std::path::{Component, Path};
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, anyhow, bail};
use build_support::manifest::GitReference;
use gix::remote::Direction;
use gix::remote::fetch::{Shallow, Tags};

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
                failure
                    .into_inner()
                    .context(format!("a shallow fetch failed first: {shallow_error:#}"))
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
    let connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| Failure::Connect(anyhow!("failed to connect: {e}")))?;
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| Failure::Connect(anyhow!("{e}")))?;
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

/// Writes the tree of `commit` into the empty directory `dest`, from the raw
/// blobs. A symlink pointing outside the repository, or a submodule, is an
/// error: the first would pull outside files into the build, the second
/// would be silently missing.
pub fn checkout(db: &Path, commit: &str, dest: &Path) -> anyhow::Result<()> {
    let repo = gix::open_opts(db, gix::open::Options::isolated())
        .with_context(|| format!("failed to open the cached repository {}", db.display()))?;
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
    std::fs::create_dir_all(dest)
        .with_context(|| format!("failed to create {}", dest.display()))?;
    for entry in recorder.records {
        let relative = entry.filepath.to_string();
        let path = dest.join(safe_relative(&relative)?);
        use gix::object::tree::EntryKind;
        match entry.mode.kind() {
            EntryKind::Tree => std::fs::create_dir_all(&path)
                .with_context(|| format!("failed to create {}", path.display()))?,
            EntryKind::Commit => bail!(
                "the repository has a submodule at `{relative}`; submodules are not supported"
            ),
            kind @ (EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link) => {
                let blob = repo
                    .find_object(entry.oid)
                    .with_context(|| format!("blob of `{relative}` is missing"))?;
                if kind == EntryKind::Link {
                    let target = String::from_utf8(blob.data.clone())
                        .map_err(|_| anyhow!("symlink `{relative}` has a non-UTF-8 target"))?;
                    check_link_inside(&relative, &target)?;
                    symlink(&target, &path)?;
                } else {
                    std::fs::write(&path, &blob.data)
                        .with_context(|| format!("failed to write {}", path.display()))?;
                    if kind == EntryKind::BlobExecutable {
                        make_executable(&path)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A tree path as a relative filesystem path; git trees cannot hold `..`,
/// but a crafted one could.
fn safe_relative(relative: &str) -> anyhow::Result<&Path> {
    let path = Path::new(relative);
    if path.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(path)
    } else {
        bail!("the repository has an unsafe path `{relative}`")
    }
}

/// A symlink at `relative` to `target` must resolve inside the repository.
fn check_link_inside(relative: &str, target: &str) -> anyhow::Result<()> {
    let outside = || {
        anyhow!(
            "symlink `{relative}` points outside the repository (`{target}`); refusing to use it"
        )
    };
    if target.starts_with('/') || target.starts_with('\\') || target.contains(':') {
        return Err(outside());
    }
    let mut depth: usize = relative.split('/').count() - 1;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => depth = depth.checked_sub(1).ok_or_else(outside)?,
            _ => depth += 1,
        }
    }
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

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("failed to make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// The commit checked out in the work tree at `dir`, if it is a git
/// repository with a commit.
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated()).ok()?;
    repo.head_id().ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_link_inside;

    #[test]
    fn symlinks_must_stay_inside() {
        assert!(check_link_inside("a/link", "../b/file").is_ok());
        assert!(check_link_inside("link", "b/file").is_ok());
        assert!(check_link_inside("link", "../outside").is_err());
        assert!(check_link_inside("a/link", "../../outside").is_err());
        assert!(check_link_inside("link", "/etc/passwd").is_err());
        assert!(check_link_inside("a/link", "b/../../../x").is_err());
    }
}
