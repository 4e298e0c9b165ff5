//! Validation of a commit's whole tree before anything of it is written:
//! the entries git itself refuses (`.git` in any case and its NTFS and HFS
//! aliases, `..`, separators inside names, `.gitmodules` as a symlink),
//! entries stored below a non-directory or twice, submodules, and symlinks
//! whose chain of targets, followed link by link inside the tree, leaves it.
//! Pure: works on the list of entries, so a crafted tree is refused whatever
//! the filesystem would have done with it.

use std::collections::HashMap;

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
    let mut by_path: HashMap<&str, &Kind> = HashMap::with_capacity(entries.len());
    let mut budget = MAX_LINK_STEPS;
    for entry in entries {
        // Its own name: each directory above it is an entry of its own,
        // checked when it is met, so the whole path is checked once.
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        check_component(&entry.path, name)?;
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
        // The parent must be a directory of the tree: nothing is stored
        // below a symlink or a file. As every entry's parent is checked,
        // every ancestor is, in one lookup per entry.
        if let Some((up, _)) = entry.path.rsplit_once('/')
            && by_path.get(up) != Some(&&Kind::Dir)
        {
            return Err(format!(
                "the repository has `{}` below `{up}`, which is not a directory",
                entry.path.escape_debug()
            ));
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
                resolve_link(&by_path, &entry.path, target, &mut budget)?;
            }
            Kind::Dir | Kind::File | Kind::Executable => {}
        }
    }
    Ok(())
}

/// The most path components all symlinks of a tree may take, together,
/// to resolve: each step hashes a path of up to 4 KiB, so a tree of many
/// long, chained links costs at most this many of them.
const MAX_LINK_STEPS: usize = 250_000;

/// Follows the link at `path` to `target`, through every link on the way,
/// and fails if any step leaves the tree. Each component walked costs one
/// of `budget`.
fn resolve_link(
    by_path: &HashMap<&str, &Kind>,
    path: &str,
    target: &str,
    budget: &mut usize,
) -> Result<(), String> {
    let outside = || {
        format!("symlink `{path}` points outside the repository (`{target}`); refusing to use it")
    };
    let mut followed = 0;
    // The directory reached so far, as a path, with the length it had
    // before each component was added (to go up without re-joining).
    let mut current = String::new();
    let mut lengths: Vec<usize> = Vec::new();
    let push = |current: &mut String, lengths: &mut Vec<usize>, name: &str| {
        lengths.push(current.len());
        if !current.is_empty() {
            current.push('/');
        }
        current.push_str(name);
    };
    if let Some((parent, _)) = path.rsplit_once('/') {
        for name in parent.split('/') {
            push(&mut current, &mut lengths, name);
        }
    }
    // Components still to walk, in reverse (a stack).
    let mut pending: Vec<&str> = components(target).ok_or_else(outside)?;
    pending.reverse();
    while let Some(part) = pending.pop() {
        *budget = budget.checked_sub(1).ok_or_else(|| {
            format!(
                "the repository's symlinks take more than {MAX_LINK_STEPS} steps to resolve; \
                 refusing to resolve `{path}`"
            )
        })?;
        match part {
            "" | "." => {}
            ".." => {
                let length = lengths.pop().ok_or_else(outside)?;
                current.truncate(length);
            }
            name => {
                push(&mut current, &mut lengths, name);
                if let Some(Kind::Link(next)) = by_path.get(current.as_str()) {
                    followed += 1;
                    if followed > MAX_LINKS {
                        return Err(format!(
                            "symlink `{path}` does not resolve: more than {MAX_LINKS} links \
                             (a loop?)"
                        ));
                    }
                    if let Some(length) = lengths.pop() {
                        current.truncate(length);
                    }
                    let mut more = components(next).ok_or_else(outside)?;
                    more.reverse();
                    pending.extend(more);
                }
            }
        }
    }
    Ok(())
}

/// A relative link target's components; `None` for an absolute or
/// drive-qualified target.
fn components(target: &str) -> Option<Vec<&str>> {
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\\')
        || target.contains(':')
        || target.contains('\0')
    {
        return None;
    }
    Some(target.split('/').collect())
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
        // As git lists it: each directory is an entry of its own.
        refused(&[dir("a"), dir("a/.."), file("a/../b")], "unsafe path");
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

    #[test]
    fn many_long_links_exhaust_one_budget_for_the_whole_tree() {
        // 40 links, each a target of 1,000 `.` components and a hop to the
        // next: alone each is fine, together they walk 40 × 40 × 1,000.
        let long = ["."; 1000].join("/");
        let mut entries: Vec<Entry> = (0..40)
            .map(|i| link(&format!("l{i}"), &format!("{long}/l{}", i + 1)))
            .collect();
        entries.push(file("l40"));
        refused(&entries, "steps to resolve");
        // A deep but honest tree passes.
        let mut deep = Vec::new();
        let mut path = String::from("d");
        for _ in 0..2000 {
            deep.push(dir(&path));
            path.push_str("/d");
        }
        deep.push(file(&path));
        validate(&deep).expect("a deep tree of directories is fine");
    }
}
