//! Validation of a commit's whole tree before anything of it is written:
//! the entries git itself refuses (`.git` in any case and its NTFS and HFS
//! aliases, `..`, separators inside names, `.gitmodules` as a symlink),
//! entries stored below a non-directory or twice, submodules, and symlinks
//! whose chain of targets, followed link by link inside the tree, leaves it.
//! Pure: works on the list of entries, so a crafted tree is refused whatever
//! the filesystem would have done with it.

use std::collections::BTreeMap;

/// The kind of a tree entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Executable,
    /// A symlink, with its target.
    Link(String),
    Submodule,
}

/// One entry of a tree: a `/`-separated path from the root, and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
}

/// How many links one resolution may follow before it is called a loop
/// (Linux's limit is 40).
const MAX_LINKS: usize = 40;

/// Unicode code points HFS+ ignores when comparing names, so `.g\u{200c}it`
/// is `.git` there (git's `is_hfs_dot_git`).
const HFS_IGNORED: &[char] = &[
    '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
    '\u{202e}', '\u{206a}', '\u{206b}', '\u{206c}', '\u{206d}', '\u{206e}', '\u{206f}', '\u{feff}',
];

/// `name` as NTFS and HFS+ would compare it: case folded, HFS-ignored code
/// points removed, trailing dots and spaces removed (NTFS), and an NTFS
/// stream suffix (`::$INDEX_ALLOCATION`) cut.
fn folded(name: &str) -> String {
    let name = name.split(':').next().unwrap_or(name);
    let kept: String = name.chars().filter(|c| !HFS_IGNORED.contains(c)).collect();
    kept.trim_end_matches(['.', ' ']).to_lowercase()
}

/// Whether `name` is, on some filesystem, `.git` (or its 8.3 short name).
fn is_dot_git(name: &str) -> bool {
    let folded = folded(name);
    folded == ".git" || folded == "git~1"
}

fn is_gitmodules(name: &str) -> bool {
    let folded = folded(name);
    folded == ".gitmodules" || folded.starts_with("gi7eba~")
}

/// Checks one path component of an entry.
fn check_component(path: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("the repository has an unsafe path `{path}`"));
    }
    if name.contains('\\') || name.contains(':') || name.chars().any(char::is_control) {
        return Err(format!(
            "the repository has a path git refuses on some systems, `{}` (a `\\`, `:` or control \
             character in a name)",
            path.escape_debug()
        ));
    }
    if is_dot_git(name) {
        return Err(format!(
            "the repository has an entry `{}` that git would treat as a `.git` directory; \
             refusing it (running git there could run commands the repository chose)",
            path.escape_debug()
        ));
    }
    Ok(())
}

/// Validates a whole tree; the error says which entry and why.
pub fn validate(entries: &[Entry]) -> Result<(), String> {
    let mut by_path: BTreeMap<&str, &Kind> = BTreeMap::new();
    for entry in entries {
        for name in entry.path.split('/') {
            check_component(&entry.path, name)?;
        }
        if by_path.insert(&entry.path, &entry.kind).is_some() {
            return Err(format!(
                "the repository's tree lists `{}` twice",
                entry.path.escape_debug()
            ));
        }
    }
    for entry in entries {
        if crate::checksum::IGNORED.contains(&entry.path.as_str()) {
            return Err(format!(
                "the repository has `{}` at its root, a name this tool uses for its own \
                 bookkeeping; refusing it",
                entry.path
            ));
        }
        // Every parent must be a directory of the tree: nothing is stored
        // below a symlink or a file.
        let mut parent = entry.path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if by_path.get(up) != Some(&&Kind::Dir) {
                return Err(format!(
                    "the repository has `{}` below `{up}`, which is not a directory",
                    entry.path.escape_debug()
                ));
            }
            parent = up;
        }
        match &entry.kind {
            Kind::Submodule => {
                return Err(format!(
                    "the repository has a submodule at `{}`; submodules are not supported",
                    entry.path
                ));
            }
            Kind::Link(target) => {
                let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
                if is_gitmodules(name) {
                    return Err(format!(
                        "the repository has `{}` as a symlink, which git refuses",
                        entry.path
                    ));
                }
                resolve_link(&by_path, &entry.path, target)?;
            }
            Kind::Dir | Kind::File | Kind::Executable => {}
        }
    }
    Ok(())
}

/// Follows the link at `path` to `target`, through every link on the way,
/// and fails if any step leaves the tree.
fn resolve_link(by_path: &BTreeMap<&str, &Kind>, path: &str, target: &str) -> Result<(), String> {
    let outside = || {
        format!("symlink `{path}` points outside the repository (`{target}`); refusing to use it")
    };
    let mut followed = 0;
    let mut current: Vec<String> = parent_of(path);
    // Components still to walk, in reverse (a stack).
    let mut pending: Vec<String> = components(target).ok_or_else(outside)?;
    pending.reverse();
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => {}
            ".." => {
                current.pop().ok_or_else(outside)?;
            }
            name => {
                current.push(name.to_owned());
                let joined = current.join("/");
                if let Some(Kind::Link(next)) = by_path.get(joined.as_str()) {
                    followed += 1;
                    if followed > MAX_LINKS {
                        return Err(format!(
                            "symlink `{path}` does not resolve: more than {MAX_LINKS} links \
                             (a loop?)"
                        ));
                    }
                    current.pop();
                    let mut more = components(next).ok_or_else(outside)?;
                    more.reverse();
                    pending.extend(more);
                }
            }
        }
    }
    Ok(())
}

fn parent_of(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path.split('/').map(str::to_owned).collect();
    parts.pop();
    parts
}

/// A relative link target's components; `None` for an absolute or
/// drive-qualified target.
fn components(target: &str) -> Option<Vec<String>> {
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\\')
        || target.contains(':')
        || target.contains('\0')
    {
        return None;
    }
    Some(target.split('/').map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::Dir,
        }
    }
    fn file(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
        }
    }
    fn link(path: &str, target: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::Link(target.into()),
        }
    }

    fn refused(entries: &[Entry], expected: &str) {
        let error = validate(entries).expect_err("refused");
        assert!(error.contains(expected), "`{expected}` not in `{error}`");
    }

    #[test]
    fn ordinary_trees_and_inside_links_pass() {
        let tree = [
            dir("src"),
            file("src/lib.rs"),
            link("src/alias.rs", "lib.rs"),
            dir("a"),
            link("a/up", "../src/lib.rs"),
            link("dangling", "nowhere/at/all"),
            file(".gitignore"),
            file(".github"),
        ];
        assert_eq!(validate(&tree), Ok(()));
    }

    #[test]
    fn dot_git_in_every_spelling_is_refused() {
        for name in [
            ".git",
            ".GIT",
            ".Git",
            "GIT~1",
            "git~1",
            ".git.",
            ".git ",
            ".git. . ",
            ".g\u{200c}it",
            ".git\u{feff}",
            ".git::$INDEX_ALLOCATION",
        ] {
            // Refused as `.git`, or (with a `:`) as a name git refuses.
            refused(&[file(name)], "refus");
            refused(&[dir("sub"), file(&format!("sub/{name}"))], "refus");
        }
        refused(&[dir(".git"), file(".git/config")], "refusing it");
    }

    #[test]
    fn unsafe_names_are_refused() {
        refused(&[file("..")], "unsafe path");
        refused(&[file("a/../b")], "unsafe path");
        refused(&[file("a\\b")], "a `\\`, `:` or control character");
        refused(&[file("c:x")], "a `\\`, `:` or control character");
        refused(&[file("a\nb")], "control character");
        refused(&[file("x"), file("x")], "lists `x` twice");
    }

    #[test]
    fn entries_below_a_link_or_a_file_are_refused() {
        refused(
            &[link("a", "."), file("a/b")],
            "below `a`, which is not a directory",
        );
        refused(&[file("a"), file("a/b")], "which is not a directory");
        refused(&[file("a/b")], "which is not a directory");
    }

    #[test]
    fn link_chains_that_leave_the_tree_are_refused() {
        refused(&[link("l", "../x")], "points outside");
        refused(&[link("l", "/etc/passwd")], "points outside");
        refused(&[link("l", "C:/x")], "points outside");
        // Each link alone looks inside; the chain leaves.
        refused(
            &[link("s", "."), link("x", "s/s/../../y")],
            "`x` points outside",
        );
        refused(
            &[dir("d"), link("d/up", ".."), link("x", "d/up/../z")],
            "`x` points outside",
        );
        refused(&[link("a", "b"), link("b", "a")], "more than 40 links");
        refused(&[link(".gitmodules", "x")], "as a symlink");
        refused(&[file(".plugin-ok")], "bookkeeping");
        refused(&[file(".plugin-index")], "bookkeeping");
        refused(
            &[Entry {
                path: "vendor".into(),
                kind: Kind::Submodule,
            }],
            "submodule",
        );
    }
}
