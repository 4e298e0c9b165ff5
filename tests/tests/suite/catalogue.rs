//! A catalogue of hostile and malformed inputs — manifests, locks,
//! repository trees that `git add` would refuse, and cache states — each
//! with the precise error it must give (and then every file of the host
//! keeps its bytes and mtime, and nothing appears outside the host and the
//! cache) or the safe outcome it must reach.

use std::path::{Path, PathBuf};

use e2e::{GitRepo, Host, PluginCrate, assert_unchanged, stderr};

/// Where a hostile tree's symlinks point: must stay empty.
fn victim() -> PathBuf {
    e2e::hosts_dir().join("catalogue-victim")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Runs `args` in `host` and checks it fails with `expected` in its error,
/// changing no file of the host and writing nothing outside it and the
/// cache.
#[track_caller]
fn refused(case: &str, host: &Host, args: &[&str], expected: &str) {
    let before = host.snapshot();
    let output = host.xtask(args).output().expect("xtask runs");
    let message = stderr(&output);
    // Status lines (`     Fetched …`) may come first; then the error.
    let error = message
        .find("error: ")
        .filter(|&at| message[..at].lines().all(|l| l.starts_with("   ")));
    assert!(
        !output.status.success() && error.is_some() && message.contains(expected),
        "{case}: expected an error with `{expected}`, got ({}):\n{message}",
        output.status
    );
    assert!(!message.contains("panicked"), "{case}: {message}");
    assert!(
        !message.contains("lock-pw-secret"),
        "{case}: a secret printed: {message}"
    );
    assert_unchanged(&before, &host.snapshot());
    assert_eq!(files_under(&victim()), Vec::<PathBuf>::new(), "{case}");
}

fn host_with(name: &str, manifest: &str) -> Host {
    let host = Host::new(&format!("cat_{name}"));
    host.plugin("plugins/alpha", &PluginCrate::new("alpha", "alpha"));
    host.write("plugins/empty/README", "no crate here\n");
    host.write("plugins.toml", manifest);
    host
}

fn plugin_repo(name: &str) -> GitRepo {
    let repo = GitRepo::with_plugin(name, "alpha", "alpha");
    repo.git(&["tag", "v1"]);
    repo
}

#[test]
fn malformed_manifests() {
    let repo = plugin_repo("cat-manifest-repo");
    let url = repo.url();
    let git = |extra: &str| format!("[plugins]\nalpha = {{ git = \"{url}\"{extra} }}\n");
    let cases: Vec<(&str, String, &str)> = vec![
        ("toml", "[plugins\n".into(), "plugins.toml:1:"),
        ("unknown_key", "[plugins]\nalpha = { pth = \"plugins/alpha\" }\n".into(), "unknown key `pth` in plugin `alpha`; did you mean `path`?"),
        ("missing_path", "[plugins]\nalpha = { path = \"plugins/nope\" }\n".into(), "path `plugins/nope` does not exist"),
        ("no_crate", "[plugins]\nalpha = { path = \"plugins/empty\" }\n".into(), "plugins/empty/Cargo.toml"),
        ("wrong_package", "[plugins]\nalpha = { path = \"plugins/alpha\", package = \"beta\" }\n".into(), "is package `alpha`, not `beta`; remove `package = …`"),
        ("keyword", "[plugins]\nfn = { path = \"plugins/alpha\" }\n".into(), "`fn` is a Rust keyword"),
        ("underscore", "[plugins]\n_ = { path = \"plugins/alpha\" }\n".into(), "`_` is a Rust keyword"),
        ("reserved", "[plugins]\nstatic-plugins-api = { path = \"plugins/alpha\" }\n".into(), "reserved by the generated crate"),
        ("digit_name", "[plugins]\n\"9x\" = { path = \"plugins/alpha\" }\n".into(), "invalid plugin name `9x`"),
        ("tag_glob", git(", tag = \"*\""), "is not a valid git tag name"),
        ("branch_dots", git(", branch = \"a..b\""), "is not a valid git branch name"),
        ("branch_dash", git(", branch = \"-x\""), "may not start with `-`"),
        ("branch_lock", git(", branch = \"x.lock\""), "may not end with `.` or `.lock`"),
        ("short_rev", git(", rev = \"abc\""), "is not a full 40-hex commit id"),
        ("two_refs", git(", tag = \"v1\", branch = \"main\""), "give only one of `tag`, `branch` and `rev`"),
        ("git_and_path", format!("[plugins]\nalpha = {{ git = \"{url}\", path = \"p\" }}\n"), "has both `path` and `git`"),
        ("scp", "[plugins]\nalpha = { git = \"git@host:me/a.git\" }\n".into(), "is an scp-like address"),
        ("git_protocol", "[plugins]\nalpha = { git = \"git://host/a\" }\n".into(), "unauthenticated git:// protocol"),
        ("ftp", "[plugins]\nalpha = { git = \"ftp://host/a\" }\n".into(), "unsupported scheme `ftp`"),
        ("url_control", "[plugins]\nalpha = { git = \"https://h/\\u0007a\" }\n".into(), "has a control or whitespace character"),
        ("url_space", "[plugins]\nalpha = { git = \"https://h/a b\" }\n".into(), "has a control or whitespace character"),
        ("path_control", "[plugins]\nalpha = { path = \"plugins/\\u0000\" }\n".into(), "has a control character"),
        ("subdir_up", git(", subdir = \"../x\""), "must not leave the repository"),
        ("subdir_abs", git(", subdir = \"/etc\""), "must be relative to the repository root"),
        ("features_type", "[plugins]\nalpha = { path = \"plugins/alpha\", features = \"a\" }\n".into(), "`features` must be an array of strings"),
        ("enabled_type", "[plugins]\nalpha = { path = \"plugins/alpha\", enabled = \"no\" }\n".into(), "`enabled` must be a boolean"),
        ("registry_and_path", "[plugins]\nalpha = { version = \"1\", path = \"plugins/alpha\" }\n".into(), "has both `path` and `version`; keep one"),
        ("registry_requirement", "[plugins]\nalpha = \"one\"\n".into(), "`one` is not a version requirement"),
        ("not_a_table", "plugins = 3\n".into(), "`plugins` must be a table"),
        ("same_crate", "[plugins]\nalpha = { path = \"plugins/alpha\" }\nalso = { path = \"plugins/alpha\", package = \"alpha\" }\n".into(), "both point at"),
        ("same_rust_name", "[plugins]\nfoo-bar = { path = \"plugins/alpha\" }\nfoo_bar = { path = \"plugins/alpha\" }\n".into(), "have the same Rust name `foo_bar`"),
        ("empty_git", "[plugins]\nalpha = { git = \"\" }\n".into(), "`git` is empty"),
        ("gone_repo", "[plugins]\nalpha = { git = \"/nonexistent/repo\" }\n".into(), "repository /nonexistent/repo does not exist"),
        ("missing_tag", git(", tag = \"v9\""), "the remote has no tag `v9`"),
        ("missing_branch", git(", branch = \"nope\""), "the remote has no branch `nope`"),
    ];
    assert!(cases.len() >= 30);
    for (case, manifest, expected) in &cases {
        let host = host_with(&format!("manifest_{case}"), manifest);
        refused(case, &host, &["sync"], expected);
    }
}

#[test]
fn tampered_locks() {
    let repo = plugin_repo("cat-lock-repo");
    let commit = repo.head();
    let manifest = format!(
        "[plugins]\nalpha = {{ git = \"{}\", tag = \"v1\" }}\n",
        repo.url()
    );
    let template = host_with("lock_template", &manifest);
    e2e::expect_success(&mut template.xtask(&["sync"]));
    let good = template.read("plugins.lock");
    let zeros = format!("sha256:{}", "0".repeat(64));
    let checksum = good
        .lines()
        .find_map(|l| l.strip_prefix("checksum = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a checksum")
        .to_owned();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "version",
            good.replace("version = 1", "version = 2"),
            "lockfile version 2 is not supported",
        ),
        (
            "no_version",
            good.replace("version = 1\n", ""),
            "missing `version`",
        ),
        (
            "digest",
            good.replace("manifest-digest = \"sha256:", "manifest-digest = \"md5:"),
            "`manifest-digest` must be",
        ),
        (
            "short_commit",
            good.replace(&commit, &commit[..12]),
            "is not a full 40-hex commit id",
        ),
        (
            "upper_commit",
            good.replace(&commit, &commit.to_uppercase()),
            "is not a full 40-hex commit id",
        ),
        (
            "subdir_up",
            good.replace("checksum = ", "subdir = \"../../x\"\nchecksum = "),
            "is not a relative path inside the repository",
        ),
        (
            "subdir_abs",
            good.replace("checksum = ", "subdir = \"/etc\"\nchecksum = "),
            "is not a relative path inside the repository",
        ),
        (
            "subdir_backslash",
            good.replace("checksum = ", "subdir = \"a\\\\b\"\nchecksum = "),
            "is not a relative path inside the repository",
        ),
        (
            "subdir_dot",
            good.replace("checksum = ", "subdir = \"./a\"\nchecksum = "),
            "is not a relative path inside the repository",
        ),
        (
            "semver",
            good.replacen("\nversion = \"", "\nversion = \"one-", 1),
            "is not a semver version",
        ),
        (
            "name",
            good.replace("name = \"alpha\"", "name = \"al pha\""),
            "bad plugin name",
        ),
        (
            "unknown_field",
            good.replace("checksum = ", "extra = \"x\"\nchecksum = "),
            "unknown field `extra`",
        ),
        (
            "twice",
            format!("{good}\n{}", &good[good.find("[[plugin]]").unwrap()..]),
            "is locked twice",
        ),
        (
            "checksum_form",
            good.replace(&checksum, "sha1:abc"),
            "`checksum` must be `sha256:<64 lowercase hex>`",
        ),
        (
            "source_scheme",
            good.replace("source = \"git+", "source = \""),
            "a git source starts with `git+`",
        ),
        (
            "reference_kind",
            good.replace("?tag=v1#", "?nope=v1#"),
            "unknown reference kind `nope`",
        ),
        (
            "percent",
            good.replace("?tag=v1#", "?tag=v%zz#"),
            "bad percent-encoding",
        ),
        (
            "local_checksum",
            good.replace(
                &format!("source = \"git+{}?tag=v1#{commit}\"", repo.url()),
                "source = \"local\"",
            ),
            "a local plugin has no `checksum`",
        ),
        (
            "not_tables",
            good[..good.find("[[plugin]]").unwrap()].to_owned() + "plugin = 3\n",
            "`plugin` must be an array of tables",
        ),
        (
            "credentials",
            good.replace(
                &format!("git+{}?tag", repo.url()),
                "git+https://u:lock-pw-secret@example.com/r?tag",
            ),
            "the URL carries credentials (a password or a token), which a lock file must never \
             hold",
        ),
        ("garbage", "version = = 1\n".into(), "plugins.lock:1:"),
        (
            "wrong_checksum",
            good.replace(&checksum, &zeros),
            "does not match the checksum in plugins.lock",
        ),
    ];
    assert!(cases.len() >= 20);
    for (case, lock, expected) in &cases {
        let host = host_with(&format!("lock_{case}"), &manifest);
        e2e::expect_success(&mut host.xtask(&["sync", "-q"]));
        if *case == "wrong_checksum" {
            // The copy must be made again, from a cache that cannot match.
            std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
        }
        host.write("plugins.lock", lock);
        refused(case, &host, &["sync", "--locked"], expected);
    }
}

fn blob(repo: &GitRepo, contents: &[u8]) -> String {
    repo.blob(contents)
}

/// A tree object with exactly these entries: `(mode, name bytes, id)`.
fn raw_tree(repo: &GitRepo, entries: &[(&str, Vec<u8>, String)]) -> String {
    let borrowed: Vec<(&str, &[u8], &str)> = entries
        .iter()
        .map(|(mode, name, id)| (*mode, name.as_slice(), id.as_str()))
        .collect();
    repo.raw_tree(&borrowed)
}

type Extra = Box<dyn Fn(&GitRepo) -> Vec<(&'static str, Vec<u8>, String)>>;

#[test]
fn hostile_trees() {
    let _ = std::fs::remove_dir_all(victim());
    std::fs::create_dir_all(victim()).unwrap();
    let outside = victim().display().to_string();
    let file = |repo: &GitRepo| blob(repo, b"x\n");
    let cases: Vec<(&str, Extra, &str)> = vec![
        (
            "dot_git",
            Box::new(move |r| {
                vec![(
                    "40000",
                    b".git".to_vec(),
                    raw_tree(r, &[("100644", b"config".to_vec(), file(r))]),
                )]
            }),
            "treat as a `.git` directory",
        ),
        (
            "dot_git_upper",
            Box::new(move |r| vec![("100644", b".GIT".to_vec(), file(r))]),
            "treat as a `.git` directory",
        ),
        (
            "git_short_name",
            Box::new(move |r| vec![("100644", b"GIT~1".to_vec(), file(r))]),
            "treat as a `.git` directory",
        ),
        (
            "dot_git_dot",
            Box::new(move |r| vec![("100644", b".git.".to_vec(), file(r))]),
            "treat as a `.git` directory",
        ),
        (
            "dot_git_space",
            Box::new(move |r| vec![("100644", b".git ".to_vec(), file(r))]),
            "treat as a `.git` directory",
        ),
        (
            "dot_git_hfs",
            Box::new(move |r| vec![("100644", ".g\u{200c}it".as_bytes().to_vec(), file(r))]),
            "treat as a `.git` directory",
        ),
        (
            "dot_dot",
            Box::new(move |r| vec![("100644", b"..".to_vec(), file(r))]),
            "unsafe path",
        ),
        (
            "backslash",
            Box::new(move |r| vec![("100644", b"a\\b".to_vec(), file(r))]),
            "a `\\`, `:` or control character",
        ),
        (
            "colon",
            Box::new(move |r| vec![("100644", b"c:x".to_vec(), file(r))]),
            "a `\\`, `:` or control character",
        ),
        (
            "not_utf8",
            Box::new(move |r| vec![("100644", vec![0xff, 0xfe], file(r))]),
            "not UTF-8",
        ),
        (
            "twice",
            Box::new(move |r| {
                vec![
                    ("100644", b"dup".to_vec(), file(r)),
                    ("100644", b"dup".to_vec(), file(r)),
                ]
            }),
            "lists `dup` twice",
        ),
        (
            "below_link",
            Box::new(move |r| {
                vec![
                    ("120000", b"x".to_vec(), blob(r, b".")),
                    (
                        "40000",
                        b"x".to_vec(),
                        raw_tree(r, &[("100644", b"pwned".to_vec(), file(r))]),
                    ),
                ]
            }),
            "lists `x` twice",
        ),
        (
            "absolute_link",
            Box::new(move |r| vec![("120000", b"l".to_vec(), blob(r, outside.as_bytes()))]),
            "points outside the repository",
        ),
        (
            "chain",
            Box::new(move |r| {
                vec![
                    ("120000", b"s".to_vec(), blob(r, b".")),
                    ("120000", b"x".to_vec(), blob(r, b"s/s/../../out")),
                ]
            }),
            "symlink `x` points outside",
        ),
        (
            "loop",
            Box::new(move |r| {
                vec![
                    ("120000", b"a".to_vec(), blob(r, b"b")),
                    ("120000", b"b".to_vec(), blob(r, b"a")),
                ]
            }),
            "more than 40 links",
        ),
        (
            "gitmodules_link",
            Box::new(move |r| vec![("120000", b".gitmodules".to_vec(), blob(r, b"Cargo.toml"))]),
            "`.gitmodules` as a symlink",
        ),
        (
            "submodule",
            Box::new(move |r| vec![("160000", b"vendor".to_vec(), r.head())]),
            "submodule",
        ),
        (
            // Sized from its header before it is read.
            "long_symlink_target",
            Box::new(move |r| vec![("120000", b"far".to_vec(), blob(r, &[b'a'; 5000]))]),
            "symlink `far` has a target longer than 4096 bytes",
        ),
        (
            "path_too_long",
            Box::new(move |r| {
                let mut tree = raw_tree(r, &[("100644", b"f".to_vec(), file(r))]);
                // 18 levels of 250-byte names: a 4,500-byte path.
                for _ in 0..17 {
                    tree = raw_tree(r, &[("40000", vec![b'd'; 250], tree)]);
                }
                vec![("40000", vec![b'd'; 250], tree)]
            }),
            "has a path longer than 4096 bytes",
        ),
    ];
    assert!(cases.len() >= 15);
    for (case, extra, expected) in &cases {
        let repo = plugin_repo(&format!("cat-tree-{case}"));
        let listing = repo.git(&["ls-tree", "HEAD"]);
        let mut entries: Vec<(&str, Vec<u8>, String)> = listing
            .lines()
            .map(|line| {
                let (meta, name) = line.split_once('\t').unwrap();
                let mut parts = meta.split(' ');
                let mode = if parts.next() == Some("040000") {
                    "40000"
                } else {
                    "100644"
                };
                (
                    mode,
                    name.as_bytes().to_vec(),
                    parts.nth(1).unwrap().to_owned(),
                )
            })
            .collect();
        entries.extend(extra(&repo));
        let tree = raw_tree(&repo, &entries);
        let commit = repo.git(&["commit-tree", &tree, "-p", "HEAD", "-m", "crafted"]);
        repo.git(&["update-ref", "refs/heads/main", &commit]);
        let host = host_with(
            &format!("tree_{case}"),
            &format!(
                "[plugins]\nalpha = {{ git = \"{}\", branch = \"main\" }}\n",
                repo.url()
            ),
        );
        refused(case, &host, &["sync"], expected);
        let checkouts = host.cache_dir().join("git/checkouts");
        assert_eq!(
            files_under(&checkouts),
            Vec::<PathBuf>::new(),
            "{case}: no checkout"
        );
    }
}

#[test]
fn damaged_caches_and_hosts() {
    let repo = plugin_repo("cat-cache-repo");
    let manifest = format!(
        "[plugins]\nalpha = {{ git = \"{}\", tag = \"v1\" }}\n",
        repo.url()
    );
    let synced = |case: &str| {
        let host = host_with(&format!("cache_{case}"), &manifest);
        e2e::expect_success(&mut host.xtask(&["sync", "-q"]));
        host
    };
    let source_copy = |host: &Host| -> PathBuf {
        std::fs::read_dir(host.path("plugin-sources"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .unwrap()
    };
    // Sync writes each file once: the staged checkout moved into the host,
    // and the cache keeps only the database. `<cache>/git/checkouts/<repo>`
    // holds this sync's stages only; a directory named like the locked
    // commit there (what an older version kept) is someone's plant.
    let repo_checkouts = |host: &Host| -> PathBuf {
        std::fs::read_dir(host.cache_dir().join("git/checkouts"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    };
    let locked_commit = |host: &Host| -> String {
        host.read("plugins.lock")
            .lines()
            .find_map(|l| l.strip_prefix("source = \"git+"))
            .and_then(|l| l.rsplit_once('#'))
            .map(|(_, c)| c.trim_end_matches('"').to_owned())
            .unwrap()
    };
    let host = synced("written_once");
    assert_eq!(
        files_under(&host.cache_dir().join("git/checkouts")),
        Vec::<PathBuf>::new(),
        "the cache keeps no checkout of what the host has"
    );
    // The copy's index records the ids its crate registers, so a no-op sync
    // does not scan the sources again; they still take part in the check
    // for duplicate ids.
    let index = std::fs::read_to_string(source_copy(&host).join(".plugin-index")).unwrap();
    assert!(index.ends_with("ids\t[\"alpha\"]\n"), "{index}");
    host.plugin("plugins/alpha2", &PluginCrate::new("alpha2", "alpha"));
    host.write(
        "plugins.toml",
        &format!("{manifest}alpha2 = {{ path = \"plugins/alpha2\" }}\n"),
    );
    refused(
        "duplicate_of_indexed_id",
        &host,
        &["sync"],
        "both register plugin id `alpha`",
    );
    // Refused after a new checkout was staged: the stage goes too.
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    std::fs::remove_file(host.path("plugins.lock")).unwrap();
    refused(
        "duplicate_after_staging",
        &host,
        &["sync"],
        "both register plugin id `alpha`",
    );
    assert_eq!(
        files_under(&host.cache_dir().join("git/checkouts")),
        Vec::<PathBuf>::new(),
        "a refused sync left its staged checkout"
    );

    // A checkout planted in the cache under the locked commit's name, with
    // the marker an older version wrote, is never taken: the copy comes
    // from the git objects, for the locked pin and for a new one.
    for relock in [false, true] {
        let case = format!("planted_checkout_{relock}");
        let host = synced(&case);
        let planted = repo_checkouts(&host).join(locked_commit(&host));
        let original = source_copy(&host);
        let lib = std::fs::read_to_string(original.join("src/lib.rs")).unwrap();
        for file in files_under(&original) {
            let relative = file.strip_prefix(&original).unwrap();
            std::fs::create_dir_all(planted.join(relative).parent().unwrap()).unwrap();
            std::fs::copy(&file, planted.join(relative)).unwrap();
        }
        std::fs::write(planted.join("src/lib.rs"), "// planted\n").unwrap();
        std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
        if relock {
            std::fs::remove_file(host.path("plugins.lock")).unwrap();
        }
        e2e::expect_success(&mut host.xtask(&["sync", "-q"]));
        assert_eq!(
            std::fs::read_to_string(source_copy(&host).join("src/lib.rs")).unwrap(),
            lib,
            "{case}: the planted checkout was used"
        );
        e2e::expect_success(&mut host.xtask(&["verify"]));
    }

    // A cache root that is a file.
    let host = synced("cache_is_a_file");
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    std::fs::remove_dir_all(host.cache_dir()).unwrap();
    std::fs::write(host.cache_dir(), "not a directory\n").unwrap();
    refused("cache_is_a_file", &host, &["sync"], "failed to");

    // A repository's checkouts directory in the cache replaced by a link
    // to somewhere else: no checkout is written through it.
    // (Its own victim directory: the tree cases run at the same time.)
    let host = synced("checkouts_symlink");
    let elsewhere = victim().with_extension("checkouts");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::create_dir_all(&elsewhere).unwrap();
    let repo_checkouts = repo_checkouts(&host);
    std::fs::remove_dir_all(&repo_checkouts).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &repo_checkouts).unwrap();
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    refused(
        "checkouts_symlink",
        &host,
        &["sync"],
        "in the cache is not a real directory (a symlink?)",
    );
    assert_eq!(files_under(&elsewhere), Vec::<PathBuf>::new());

    // plugin-sources as a file.
    let host = synced("sources_is_a_file");
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    host.write("plugin-sources", "not a directory\n");
    refused(
        "sources_is_a_file",
        &host,
        &["sync"],
        "plugin-sources is not a directory",
    );

    // Safe outcomes: sync repairs, verify agrees.
    let repaired = |case: &str, host: &Host| {
        let output = host.xtask(&["sync"]).output().unwrap();
        assert!(output.status.success(), "{case}: {}", stderr(&output));
        let output = host.xtask(&["verify"]).output().unwrap();
        assert!(
            output.status.success(),
            "{case}: verify: {}",
            stderr(&output)
        );
    };
    let host = synced("tampered_copy");
    let copy = source_copy(&host);
    std::fs::write(copy.join("src/lib.rs"), "// edited by hand\n").unwrap();
    repaired("tampered_copy", &host);
    assert_ne!(
        std::fs::read_to_string(copy.join("src/lib.rs")).unwrap(),
        "// edited by hand\n"
    );

    // A damaged stat index proves nothing: the copy is hashed and restored.
    let host = synced("garbage_index");
    let copy = source_copy(&host);
    std::fs::write(copy.join(".plugin-index"), "not an index\n").unwrap();
    std::fs::write(copy.join("src/lib.rs"), "// edited by hand\n").unwrap();
    repaired("garbage_index", &host);
    assert_ne!(
        std::fs::read_to_string(copy.join("src/lib.rs")).unwrap(),
        "// edited by hand\n"
    );

    // A file touched, its bytes the same: hashed once and found intact;
    // the copy's index alone is written afresh (as `git status` refreshes
    // git's index, but not under `--locked`), so the next sync proves it by
    // stats, writing nothing.
    let host = synced("touched_copy");
    let copy = source_copy(&host);
    let touched = copy.join("src/lib.rs");
    std::fs::File::options()
        .write(true)
        .open(&touched)
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    let before = host.snapshot();
    // `--locked` writes nothing it does not need: not even the index.
    e2e::expect_success(&mut host.xtask(&["sync", "--locked"]));
    assert_unchanged(&before, &host.snapshot());
    repaired("touched_copy", &host);
    let after = host.snapshot();
    let changed: Vec<&PathBuf> = after
        .iter()
        .filter(|(path, file)| before.get(*path) != Some(file))
        .map(|(path, _)| path)
        .collect();
    let index = copy.join(".plugin-index");
    assert_eq!(
        changed,
        [index.strip_prefix(host.path(".")).unwrap()],
        "only the index is written"
    );
    assert_eq!(
        std::fs::metadata(&touched).unwrap().modified().unwrap(),
        std::time::SystemTime::UNIX_EPOCH,
        "the intact file is left as it is"
    );
    e2e::expect_success(&mut host.xtask(&["sync"]));
    assert_unchanged(&after, &host.snapshot());

    // The same copy moved elsewhere and a symlink left in its place: its
    // index is not written through the link (the files it points at are
    // intact, so the build may use them, as before).
    let host = synced("symlinked_copy");
    let copy = source_copy(&host);
    let elsewhere = victim().with_extension("copy");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::rename(&copy, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &copy).unwrap();
    std::fs::File::options()
        .write(true)
        .open(elsewhere.join("src/lib.rs"))
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    let outside = e2e::snapshot(&elsewhere, &["."]);
    e2e::expect_success(&mut host.xtask(&["sync"]));
    assert_unchanged(&outside, &e2e::snapshot(&elsewhere, &["."]));
    let _ = std::fs::remove_dir_all(&elsewhere);

    let host = synced("extra_file_in_copy");
    std::fs::write(source_copy(&host).join("extra.rs"), "// added\n").unwrap();
    repaired("extra_file_in_copy", &host);

    // A stage left by a killed sync is removed by the next one.
    let host = synced("abandoned_stage");
    let stage = std::fs::read_dir(host.cache_dir().join("git/checkouts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join(".0000000000000000000000000000000000000000.stage-4194999-0");
    std::fs::create_dir_all(stage.join("src")).unwrap();
    std::fs::write(stage.join("src/lib.rs"), "// half written\n").unwrap();
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    repaired("abandoned_stage", &host);
    assert!(!stage.exists(), "the abandoned stage is still there");

    let host = synced("deleted_checkouts");
    std::fs::remove_dir_all(host.cache_dir().join("git/checkouts")).unwrap();
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    repaired("deleted_checkouts", &host);

    let host = synced("deleted_generated_crate");
    std::fs::remove_dir_all(host.path("plugin-set")).unwrap();
    repaired("deleted_generated_crate", &host);

    let host = synced("half_written_copy");
    std::fs::create_dir_all(host.path("plugin-sources/.alpha-000000000000.new-1234/src")).unwrap();
    repaired("half_written_copy", &host);
    assert!(
        !host
            .path("plugin-sources/.alpha-000000000000.new-1234")
            .exists()
    );
}
