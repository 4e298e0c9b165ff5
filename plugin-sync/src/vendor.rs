//! `cargo xtask vendor` checks what git will keep: the copies in
//! `plugin-sources/` are committed as they are only if no file of theirs is
//! ignored (a plugin's own `.gitignore`, or the host's) and none is rewritten
//! on the way into git (a plugin's `.gitattributes` — `text`, `eol`,
//! filters — or the user's `core.autocrlf`). A deeper `.gitignore` or
//! `.gitattributes` overrides any the tool could write above it, so they
//! are not neutralised: vendoring is refused, naming the files.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};

use crate::checksum::IGNORED;
use crate::lockfile::Lockfile;
use crate::scratch::Scratch;

/// At most this many files are named in the error.
const NAMED: usize = 10;

/// Fails, naming the files, unless git would commit every file of every
/// git plugin's copy byte for byte.
pub fn check(root: &Path, lock: &Lockfile) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for plugin in &lock.plugins {
        if let Some(pin) = plugin.git() {
            let dir = pin.host_dir(&plugin.name);
            collect(&root.join(&dir), &dir, true, &mut files)?;
        }
    }
    if files.is_empty() {
        return Ok(());
    }
    let git = Git::for_host(root)?;
    let mut problems = Vec::new();
    let nul: Vec<u8> = files
        .iter()
        .flat_map(|f| [f.as_bytes(), b"\0"].concat())
        .collect();
    let ignored = git.run(&["check-ignore", "--no-index", "-z", "--stdin"], &nul)?;
    for path in ignored.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        problems.push(format!(
            "`{}` is ignored by git",
            String::from_utf8_lossy(path)
        ));
    }
    let lines: Vec<u8> = files
        .iter()
        .flat_map(|f| [f.as_bytes(), b"\n"].concat())
        .collect();
    let filtered = git.run(&["hash-object", "--stdin-paths"], &lines)?;
    let raw = git.run(&["hash-object", "--no-filters", "--stdin-paths"], &lines)?;
    let filtered = String::from_utf8_lossy(&filtered);
    let raw = String::from_utf8_lossy(&raw);
    for ((file, a), b) in files.iter().zip(filtered.lines()).zip(raw.lines()) {
        if a != b {
            problems.push(format!(
                "`{file}` would be rewritten by git (its attributes, or core.autocrlf)"
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let more = problems.len().saturating_sub(NAMED);
    problems.truncate(NAMED);
    bail!(
        "git would not commit the plugins' files byte for byte: {}{}; a clone would fail \
         `sync --frozen` and `verify`. Such files come from a plugin's own .gitignore or \
         .gitattributes (or the host's, or core.autocrlf): fix them there, or keep \
         plugin-sources/ ignored (not vendored)",
        problems.join("; "),
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        }
    )
}

/// git as the host's files are committed: in the host's own repository
/// when it is in one (its ignore files and attributes above
/// plugin-sources/ count too); else in a throwaway one whose work tree is
/// the host.
struct Git<'a> {
    root: &'a Path,
    /// `--git-dir`/`--work-tree` of the throwaway repository, if any.
    base: Vec<String>,
    _scratch: Option<Scratch>,
}

impl<'a> Git<'a> {
    fn for_host(root: &'a Path) -> anyhow::Result<Git<'a>> {
        let in_repository = crate::process::git()
            .current_dir(root)
            .args(["rev-parse", "--is-inside-work-tree"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if in_repository {
            return Ok(Git {
                root,
                base: Vec::new(),
                _scratch: None,
            });
        }
        let scratch = Scratch::new("plugin-vendor")?;
        let dir = scratch.path().join("git");
        let status = crate::process::git()
            .args(["init", "--quiet", "--bare"])
            .arg(&dir)
            .status()
            .context("failed to run git init (is git on PATH?)")?;
        if !status.success() {
            bail!("git init failed in {}", dir.display());
        }
        Ok(Git {
            root,
            base: vec![
                format!("--git-dir={}", dir.display()),
                format!("--work-tree={}", root.display()),
            ],
            _scratch: Some(scratch),
        })
    }

    /// `git <args>` with `input` on stdin: its stdout (exit status 1, "none
    /// found", is not a failure).
    fn run(&self, args: &[&str], input: &[u8]) -> anyhow::Result<Vec<u8>> {
        let output = crate::process::output_with_input(
            crate::process::git()
                .current_dir(self.root)
                .args(&self.base)
                .args(args),
            input,
        )
        .with_context(|| format!("failed to run git {}", args.join(" ")))?;
        if output.status.code().is_none_or(|code| code > 1) {
            bail!(
                "git {} failed: {}",
                args.join(" "),
                crate::process::words(&output.stderr)
            );
        }
        Ok(output.stdout)
    }
}

/// The regular files under `dir` (`rel` from the root), `/`-separated,
/// without the tool's own bookkeeping at the copy's top.
fn collect(dir: &Path, rel: &str, top: bool, out: &mut Vec<String>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
    let mut names: Vec<(String, PathBuf, std::fs::FileType)> = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .with_context(|| format!("failed to read {}", entry.path().display()))?;
        names.push((name, entry.path(), kind));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path, kind) in names {
        if top && IGNORED.contains(&name.as_str()) {
            continue;
        }
        let rel = format!("{rel}/{name}");
        if kind.is_dir() {
            collect(&path, &rel, false, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}
