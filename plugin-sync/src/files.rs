//! Writing files: atomically (temp file + rename), and only when the bytes
//! change, so an unchanged file keeps its mtime and cargo rebuilds nothing.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Whether [`write_if_changed`] wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Unchanged,
    Changed,
}

/// Replaces `path` with `contents` unless it already holds exactly those
/// bytes. Readers see the old file or the new one, never a partial one.
pub fn write_if_changed(path: &Path, contents: impl AsRef<[u8]>) -> anyhow::Result<Written> {
    let contents = contents.as_ref();
    match fs::read(path) {
        Ok(existing) if existing == contents => return Ok(Written::Unchanged),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    }
    // A file made read-only is not silently replaced; its mode is kept.
    let permissions = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {
            check_writable(path, &meta)?;
            Some(meta.permissions())
        }
        _ => None,
    };
    let dir = path
        .parent()
        .expect("written files have a parent directory");
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let name = path
        .file_name()
        .expect("written files have a name")
        .to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        if let Some(permissions) = &permissions {
            fs::set_permissions(&temp, permissions.clone())?;
        }
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("failed to write {}", path.display()));
    }
    Ok(Written::Changed)
}

/// The most bytes a manifest read from a plugin's repository may have.
pub const MAX_MANIFEST: u64 = 1 << 20;

/// Reads a text file that a plugin's repository controls, refusing one
/// larger than `max` bytes before reading it.
pub fn read_limited(path: &Path, max: u64) -> anyhow::Result<String> {
    use std::io::Read as _;
    let file =
        fs::File::open(path).with_context(|| format!("failed to read {}", path.display()))?;
    // One byte more than allowed tells "too large" from "exactly the limit".
    let limit = max.saturating_add(1);
    // Room for what the file says it holds, within the limit: `Take` hides
    // the size, and without it the read starts with 32 bytes and doubles,
    // six calls for a 2 KiB manifest.
    let claimed = file.metadata().map_or(0, |meta| meta.len()).min(limit);
    let mut text = String::with_capacity(usize::try_from(claimed).unwrap_or(0));
    file.take(limit)
        .read_to_string(&mut text)
        .with_context(|| format!("failed to read {}", path.display()))?;
    check_size(path, text.len() as u64, max)?;
    Ok(text)
}

/// Fails if `path`, of `len` bytes, is larger than `max`.
pub fn check_size(path: &Path, len: u64, max: u64) -> anyhow::Result<()> {
    if len > max {
        anyhow::bail!(
            "{} is larger than {} KiB; refusing to read it",
            path.display(),
            max / 1024
        );
    }
    Ok(())
}

/// Fails if `path` (with metadata `meta`) is read-only.
pub fn check_writable(path: &Path, meta: &fs::Metadata) -> anyhow::Result<()> {
    if meta.permissions().readonly() {
        anyhow::bail!(
            "{} is read-only, and sync would have to change it; make it writable and run sync \
             again",
            path.display()
        );
    }
    Ok(())
}

/// A file's bytes and mtime; `None` when it did not exist.
type Saved = Option<(Vec<u8>, std::time::SystemTime)>;

/// The state of some files and directories before a change, to put back if
/// a later check fails.
#[derive(Debug)]
pub struct Backup {
    files: Vec<(std::path::PathBuf, Saved)>,
    /// Directories that did not exist: removed on restore.
    new_dirs: Vec<std::path::PathBuf>,
}

impl Backup {
    /// Records the bytes and mtimes of `files` and which of `dirs` exist.
    pub fn take(
        files: &[std::path::PathBuf],
        dirs: &[std::path::PathBuf],
    ) -> anyhow::Result<Backup> {
        let mut saved = Vec::with_capacity(files.len());
        for path in files {
            let state = match fs::read(path) {
                Ok(bytes) => {
                    let modified = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .with_context(|| format!("failed to stat {}", path.display()))?;
                    Some((bytes, modified))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(e).with_context(|| format!("failed to read {}", path.display()));
                }
            };
            saved.push((path.clone(), state));
        }
        Ok(Backup {
            files: saved,
            new_dirs: dirs.iter().filter(|d| !d.exists()).cloned().collect(),
        })
    }

    /// Puts every file back as it was, bytes and mtime, and removes the
    /// directories that did not exist. Best effort: it runs on a failure path.
    pub fn restore(self) {
        for (path, state) in self.files {
            match state {
                Some((bytes, modified)) => {
                    let restored = fs::read(&path).is_ok_and(|now| now == bytes)
                        || write_if_changed(&path, &bytes).is_ok();
                    if restored && let Ok(file) = fs::File::options().write(true).open(&path) {
                        let _ = file.set_modified(modified);
                    }
                }
                None => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        for dir in self.new_dirs {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of exactly the limit is read whole; one byte more is refused
    /// with the size named, whatever room the read made from the size the
    /// file claims.
    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        let dir = std::env::temp_dir().join(format!("files-limit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("Cargo.toml");
        fs::write(&path, "x".repeat(2048)).unwrap();
        assert_eq!(read_limited(&path, 2048).unwrap().len(), 2048);
        let error = read_limited(&path, 2047).unwrap_err().to_string();
        assert!(
            error.ends_with("is larger than 1 KiB; refusing to read it"),
            "{error}"
        );
        fs::write(&path, "").unwrap();
        assert_eq!(read_limited(&path, 2048).unwrap(), "");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_only_when_bytes_differ() {
        let dir = std::env::temp_dir().join(format!("xtask-files-{}", std::process::id()));
        let path = dir.join("sub/file.txt");
        assert_eq!(write_if_changed(&path, "a").unwrap(), Written::Changed);
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(write_if_changed(&path, "a").unwrap(), Written::Unchanged);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_eq!(write_if_changed(&path, "b").unwrap(), Written::Changed);
        assert_eq!(fs::read_to_string(&path).unwrap(), "b");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file is left behind");
        fs::remove_dir_all(dir).unwrap();
    }
}
