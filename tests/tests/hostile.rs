//! Hostile repositories: trees that `git add` would never make, built with
//! `git hash-object --literally -t tree`, are refused before anything is
//! written — in the host, in the cache's checkouts, or outside both.

use std::path::Path;

use e2e::{GitRepo, Host, PluginCrate, assert_unchanged, expect_failure, messages};

fn blob(repo: &GitRepo, contents: &str) -> String {
    repo.blob(contents.as_bytes())
}

/// A tree object with exactly these `(mode, name, id)` entries.
fn raw_tree(repo: &GitRepo, entries: &[(&str, &str, &str)]) -> String {
    let bytes: Vec<(&str, &[u8], &str)> = entries
        .iter()
        .map(|(mode, name, id)| (*mode, name.as_bytes(), *id))
        .collect();
    repo.raw_tree(&bytes)
}

/// A raw tree entry: mode, name, object id.
type RawEntry = (String, String, String);

fn crafted(name: &str, extra: &dyn Fn(&GitRepo) -> Vec<RawEntry>) -> GitRepo {
    let repo = GitRepo::with_plugin(name, name, name);
    let listing = repo.git(&["ls-tree", "HEAD"]);
    let mut entries: Vec<RawEntry> = listing
        .lines()
        .map(|line| {
            let (meta, name) = line.split_once('\t').expect("tab");
            let mut parts = meta.split(' ');
            let mode = parts.next().expect("mode").to_owned();
            let id = parts.nth(1).expect("id").to_owned();
            (mode, name.to_owned(), id)
        })
        .collect();
    entries.extend(extra(&repo));
    let borrowed: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|(m, n, i)| (m.as_str(), n.as_str(), i.as_str()))
        .collect();
    let tree = raw_tree(&repo, &borrowed);
    let commit = repo.git(&["commit-tree", &tree, "-p", "HEAD", "-m", "crafted"]);
    repo.git(&["update-ref", "refs/heads/main", &commit]);
    repo
}

/// Syncs `repo` in a fresh host and checks it fails with `expected` in the
/// error, with the host unchanged and no checkout left in the cache.
#[track_caller]
fn refused(name: &str, repo: &GitRepo, expected: &str) -> Host {
    let host = refused_in_host(name, repo, expected);
    let checkouts = host.cache_dir().join("git/checkouts");
    let written: Vec<_> = walk(&checkouts);
    assert!(written.is_empty(), "the cache holds {written:?}");
    host
}

/// Syncs `repo` in a fresh host and checks it fails with `expected` in the
/// error, with the host unchanged.
#[track_caller]
fn refused_in_host(name: &str, repo: &GitRepo, expected: &str) -> Host {
    let host = Host::new(name);
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\n{} = {{ git = \"{}\" }}\n",
            repo.dir.file_name().unwrap().to_str().unwrap(),
            repo.url()
        ),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let message = messages(&output);
    assert!(message.contains(expected), "`{expected}` not in\n{message}");
    assert_unchanged(&before, &host.snapshot());
    host
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_dot_git_entry_in_any_spelling_is_refused() {
    for (case, name) in [
        ("lower", ".git"),
        ("upper", ".GIT"),
        ("ntfs", "git~1"),
        ("dots", ".git. "),
    ] {
        let repo = crafted(&format!("dotgit-{case}"), &|repo| {
            let hook = blob(repo, "[core]\n\tfsmonitor = echo pwned\n");
            let inner = raw_tree(repo, &[("100644", "config", &hook)]);
            vec![("40000".to_owned(), name.to_owned(), inner)]
        });
        refused(
            &format!("dotgit_{case}"),
            &repo,
            "that git would treat as a `.git` directory",
        );
    }
}

#[test]
fn a_symlink_chain_leaving_the_repository_and_an_entry_below_it_write_nothing() {
    // `s -> .` and `x -> s/s/../../<victim>`: each link alone looks inside,
    // the chain leaves; `x/pwned` is stored below the link.
    let victim = e2e::hosts_dir().join("hostile-victim");
    let _ = std::fs::remove_dir_all(&victim);
    std::fs::create_dir_all(&victim).unwrap();
    let repo = crafted("chain", &|repo| {
        let dot = blob(repo, ".");
        let out = blob(repo, &format!("s/s/../../{}", victim.display()));
        let pwned = blob(repo, "pwned\n");
        let below = raw_tree(repo, &[("100644", "pwned", &pwned)]);
        vec![
            ("120000".to_owned(), "s".to_owned(), dot),
            ("120000".to_owned(), "x".to_owned(), out),
            ("40000".to_owned(), "x".to_owned(), below),
        ]
    });
    refused("chain", &repo, "the repository's tree lists `x` twice");
    assert!(
        walk(&victim).is_empty(),
        "nothing written outside: {:?}",
        walk(&victim)
    );

    let repo = crafted("chain-only", &|repo| {
        let dot = blob(repo, ".");
        let out = blob(repo, "s/s/../../escaped");
        vec![
            ("120000".to_owned(), "s".to_owned(), dot),
            ("120000".to_owned(), "x".to_owned(), out),
        ]
    });
    refused(
        "chain_only",
        &repo,
        "symlink `x` points outside the repository (`s/s/../../escaped`)",
    );
}

#[test]
fn gitmodules_as_a_symlink_is_refused() {
    let repo = crafted("gitmodules-link", &|repo| {
        let target = blob(repo, "Cargo.toml");
        vec![("120000".to_owned(), ".gitmodules".to_owned(), target)]
    });
    refused("gitmodules_link", &repo, "`.gitmodules` as a symlink");
}

#[test]
fn a_subdir_reached_through_a_symlink_is_refused() {
    let repo = GitRepo::new("subdir-link");
    repo.plugin(
        "crates/real",
        &PluginCrate {
            filters: &[("real", None)],
            ..PluginCrate::new("real", "real")
        },
    );
    std::os::unix::fs::symlink("crates/real", repo.dir.join("alias")).unwrap();
    repo.commit("a crate and a link to it");
    let host = Host::new("subdir_link");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nreal = {{ git = \"{}\", subdir = \"alias\" }}\n",
            repo.url()
        ),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert!(
        messages(&output).contains(
            "subdir `alias` is reached through the symlink `alias`; point `subdir` at the real \
             directory"
        ),
        "{}",
        messages(&output)
    );
    assert_unchanged(&before, &host.snapshot());
}

/// A tampered `plugins.lock` is untrusted input: a `subdir` that leaves the
/// repository or a short commit is an error naming file, line and field —
/// never honoured, never a panic — and nothing is written.
#[test]
fn a_tampered_lock_is_refused_with_its_position_and_never_honoured() {
    let repo = GitRepo::with_plugin("tampered", "tampered", "tampered");
    let host = Host::new("tampered_lock");
    host.write(
        "plugins.toml",
        &format!("[plugins]\ntampered = {{ git = \"{}\" }}\n", repo.url()),
    );
    e2e::expect_success(&mut host.xtask(&["sync"]));
    let good = host.read("plugins.lock");
    let root = host.root.canonicalize().unwrap();
    let commit = repo.head();

    let escaping = good.replace("checksum = ", "subdir = \"../../x\"\nchecksum = ");
    let short = good.replace(&commit, &commit[..8]);
    for (lock, line, expected) in [
        (
            &escaping,
            "subdir",
            "plugin `tampered`: `../../x` is not a relative path inside the repository",
        ),
        (&short, "source", "is not a full 40-hex commit id"),
    ] {
        host.write("plugins.lock", lock);
        let at = lock
            .lines()
            .position(|l| l.starts_with(line))
            .expect("the field's line")
            + 1;
        let before = host.snapshot();
        for args in [&["sync", "--locked"][..], &["verify"], &["list"]] {
            let output = expect_failure(&mut host.xtask(args));
            let message = messages(&output);
            assert!(
                message.starts_with(&format!("error: {}/plugins.lock:{at}:", root.display()))
                    && message.contains(expected)
                    && !message.contains("panicked"),
                "{args:?}: {message}"
            );
            assert_unchanged(&before, &host.snapshot());
        }
    }
    // Without --locked a broken lock is rewritten from plugins.toml.
    let output = e2e::expect_success(&mut host.xtask(&["sync"]));
    assert!(messages(&output).starts_with("warning: ignoring plugins.lock: "));
    assert_eq!(host.read("plugins.lock"), good);
}

/// A synced host with one git plugin; returns it and the plugin repository.
fn synced_host(name: &str) -> (Host, GitRepo) {
    let repo = GitRepo::with_plugin(&format!("{name}-plugin"), "owned", "owned");
    let host = Host::new(name);
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nowned = {{ git = \"{}\", branch = \"main\" }}\n",
            repo.url()
        ),
    );
    e2e::expect_success(&mut host.xtask(&["sync"]));
    (host, repo)
}

#[test]
fn sync_removes_only_what_it_made_in_plugin_sources() {
    let (host, repo) = synced_host("owned_sources");
    // The user's own crate, kept (unwisely) in plugin-sources/.
    host.write(
        "plugin-sources/mine/Cargo.toml",
        "[package]\nname = \"mine\"\n",
    );
    host.write("plugin-sources/mine-0123456789ab/notes.txt", "mine too\n");
    let old: Vec<String> = std::fs::read_dir(host.path("plugin-sources"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("owned-"))
        .collect();
    assert_eq!(old.len(), 1, "{old:?}");
    // A new commit: sync copies it and prunes the old copy, which it made.
    repo.write("README.md", "new\n");
    repo.commit("new commit");
    let output = e2e::expect_success(&mut host.xtask(&["update"]));
    let warnings = messages(&output);
    assert!(!host.path(&format!("plugin-sources/{}", old[0])).exists());
    assert_eq!(
        host.read("plugin-sources/mine/Cargo.toml"),
        "[package]\nname = \"mine\"\n"
    );
    assert_eq!(
        host.read("plugin-sources/mine-0123456789ab/notes.txt"),
        "mine too\n"
    );
    assert!(
        warnings
            .contains("warning: plugin-sources/mine was not made by sync, so it was left in place"),
        "{warnings}"
    );
}

#[test]
fn a_symlinked_plugin_sources_and_a_cache_inside_the_host_are_refused() {
    let (host, _repo) = synced_host("symlinked_sources");
    let elsewhere = e2e::hosts_dir().join("symlinked_sources-elsewhere");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("precious.txt"), "keep\n").unwrap();
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, host.path("plugin-sources")).unwrap();
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert!(
        messages(&output).contains("plugin-sources is a symlink; sync writes the git plugins' files there and will not follow or replace it"),
        "{}",
        messages(&output)
    );
    assert_unchanged(&before, &host.snapshot());
    assert_eq!(
        walk(&elsewhere).len(),
        1,
        "nothing written through the link"
    );

    std::fs::remove_file(host.path("plugin-sources")).unwrap();
    let before = host.snapshot();
    let inside = host.path("plugin-sources/cache");
    let mut command = host.xtask(&["sync"]);
    command.env("PLUGIN_CACHE_DIR", &inside);
    let output = expect_failure(&mut command);
    assert!(
        messages(&output).contains("is inside the host workspace"),
        "{}",
        messages(&output)
    );
    assert_unchanged(&before, &host.snapshot());
    assert!(!inside.exists());
}

/// The cache's database for the only repository in `cache`.
fn cached_db(cache: &Path) -> std::path::PathBuf {
    let dbs: Vec<_> = std::fs::read_dir(cache.join("git/db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    dbs.into_iter().next().unwrap()
}

/// git's lock files left in a cached database by a process killed while
/// fetching never stop a later sync: they are cleared under the tool's own
/// lock, which says no other sync is using the database.
#[test]
fn stale_git_lock_files_in_the_cache_are_cleared() {
    let (host, repo) = synced_host("stale_locks");
    let db = cached_db(&host.cache_dir());
    for stale in [
        "packed-refs.lock",
        "shallow.lock",
        "config.lock",
        "HEAD.lock",
        "refs/remotes/origin/main.lock",
    ] {
        e2e::write_file(&db.join(stale), "");
    }
    repo.write("README.md", "moved on\n");
    let new = repo.commit("moved on");
    let output = e2e::expect_success(&mut host.xtask(&["update"]));
    assert!(
        messages(&output).contains("owned: "),
        "{}",
        messages(&output)
    );
    assert!(host.read("plugins.lock").contains(&new));
}

/// A small deterministic generator (xorshift64*), so a failing run can be
/// replayed from the seed it prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `kill -9` at 50 random moments of syncs — fetching, checking out,
/// copying, writing — of three repositories sharing one cache: after each
/// kill the next sync succeeds and `verify` passes. The seed is printed;
/// rerun a failure with `E2E_SEED=<seed>`.
#[test]
fn syncs_killed_at_random_moments_never_break_the_host_or_the_cache() {
    let seed = std::env::var("E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| u64::from(d.subsec_nanos()) | 1)
        });
    println!("seed = {seed} (rerun with E2E_SEED={seed})");
    let mut rng = Rng(seed);
    let names = ["kill-a", "kill-b", "kill-c"];
    let host = Host::new("random_kills");
    let mut repos = Vec::new();
    let mut manifest = String::from("[plugins]\n");
    for name in names {
        let repo = GitRepo::new(name);
        repo.plugin(
            ".",
            &PluginCrate {
                filters: &[(name, None)],
                ..PluginCrate::new(name, name)
            },
        );
        // Enough bytes that fetching, checking out and copying take a while.
        let mut noise = Vec::with_capacity(1 << 20);
        while noise.len() < 1 << 20 {
            noise.extend_from_slice(&rng.next().to_le_bytes());
        }
        std::fs::write(repo.dir.join("noise.bin"), &noise).unwrap();
        repo.commit("plugin");
        manifest.push_str(&format!(
            "{name} = {{ git = \"{}\", branch = \"main\" }}\n",
            repo.url()
        ));
        repos.push(repo);
    }
    host.write("plugins.toml", &manifest);
    let started = std::time::Instant::now();
    e2e::expect_success(&mut host.xtask(&["sync", "-q"]));
    // Kill moments are drawn within the length of the last complete sync.
    let mut window = started.elapsed().as_millis().max(50) as u64;
    for round in 0..50 {
        let action = rng.next() % 3;
        match action {
            // A new commit to fetch, check out, copy and lock.
            0 => {
                let repo = &repos[(rng.next() % 3) as usize];
                repo.write("round.txt", &format!("{round}\n"));
                repo.commit(&format!("round {round}"));
            }
            // Copies to restore from the cache.
            1 => std::fs::remove_dir_all(host.path("plugin-sources")).unwrap(),
            // Checkouts to make again from the databases, then copies.
            _ => {
                std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
                let _ = std::fs::remove_dir_all(host.cache_dir().join("git/checkouts"));
            }
        }
        let task = if action == 0 { "update" } else { "sync" };
        let delay = rng.next() % window;
        let mut child = host.xtask(&[task, "-q"]).spawn().expect("spawn sync");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let context = format!("seed {seed}, round {round}, {task} killed after {delay} ms");
        let started = std::time::Instant::now();
        let output = host.xtask(&[task, "-q"]).output().unwrap();
        assert!(output.status.success(), "{context}:\n{}", messages(&output));
        window = started.elapsed().as_millis().max(50) as u64;
        let output = host.xtask(&["verify"]).output().unwrap();
        assert!(
            output.status.success(),
            "{context}: verify:\n{}",
            messages(&output)
        );
    }
    for repo in &repos {
        assert!(host.read("plugins.lock").contains(&repo.head()));
    }
}

/// Files a plugin's repository controls are read with a size limit: a
/// Cargo.toml of megabytes is refused, not read into memory.
#[test]
fn a_huge_manifest_in_a_plugin_repository_is_refused() {
    let repo = GitRepo::new("huge-manifest");
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[("huge", None)],
            ..PluginCrate::new("huge-manifest", "huge")
        },
    );
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
    let padding = "# padding\n".repeat(200_000);
    repo.write("Cargo.toml", &format!("{manifest}{padding}"));
    repo.commit("a 2 MB manifest");
    refused_in_host(
        "huge_manifest",
        &repo,
        "Cargo.toml is larger than 1024 KiB; refusing to read it",
    );
}

/// A no-op sync trusts a copy's stat index (size, mtime, ctime, inode)
/// instead of hashing every file, as git's index does; an edit that keeps
/// the size and puts the mtime back still changes the ctime, so the copy is
/// hashed, found changed and restored, and `verify` (which always hashes)
/// agrees.
#[test]
fn an_edit_that_keeps_size_and_mtime_is_still_found() {
    let (host, _repo) = synced_host("stat_index");
    let copy = std::fs::read_dir(host.path("plugin-sources"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    assert!(copy.join(".plugin-index").is_file());
    let file = copy.join("src/lib.rs");
    let original = std::fs::read(&file).unwrap();
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let mut edited = original.clone();
    let last = edited.len() - 2;
    edited[last] = if edited[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&file, &edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        original.len() as u64
    );
    let output = host.xtask(&["verify"]).output().unwrap();
    assert!(!output.status.success(), "verify hashes and finds the edit");
    e2e::expect_success(&mut host.xtask(&["sync"]));
    assert_eq!(std::fs::read(&file).unwrap(), original, "restored");
    e2e::expect_success(&mut host.xtask(&["verify"]));
    // A second sync is a no-op: nothing rewritten.
    let before = host.snapshot();
    e2e::expect_success(&mut host.xtask(&["sync"]));
    assert_unchanged(&before, &host.snapshot());
}

/// A repository whose plugin crate's manifest points cargo outside the
/// pinned tree, at the host's own files (`../../host-code` from
/// `plugin-sources/<copy>/`) or anywhere: refused before the lock, naming
/// the key, nothing written.
#[test]
fn a_manifest_that_leaves_the_pinned_tree_is_refused() {
    for (case, extra, key) in [
        (
            "path-dependency",
            "host-code = { path = \"../../host-code\" }\n",
            "`dependencies.host-code.path` is `../../host-code`",
        ),
        (
            "absolute-lib",
            "\n[lib]\npath = \"/tmp/anywhere.rs\"\n",
            "`lib.path` is `/tmp/anywhere.rs`",
        ),
    ] {
        let name = format!("escape-{case}");
        let repo = GitRepo::with_plugin(&name, &name, "e");
        let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
        repo.write("Cargo.toml", &format!("{manifest}{extra}"));
        repo.commit("reach outside");
        let host = refused(&format!("escape_{}", case.replace('-', "_")), &repo, key);
        assert!(
            !host.path("plugins.lock").exists(),
            "{case}: a lock was written"
        );
    }
}

/// How a run of the tool went: exit code, what it printed, its peak
/// resident memory (KiB, from `wait4`: the process and the children it
/// waited for) and how long it took.
struct Measured {
    code: Option<i32>,
    messages: String,
    max_rss_kib: i64,
    took: std::time::Duration,
}

impl Measured {
    /// The ceiling for any hostile input: 10 s and 256 MiB.
    #[track_caller]
    fn assert_within_ceiling(&self, what: &str) {
        println!(
            "{what}: {:.2} s, peak {} MiB",
            self.took.as_secs_f64(),
            self.max_rss_kib >> 10
        );
        assert!(
            self.took < std::time::Duration::from_secs(10),
            "{what}: took {:?}",
            self.took
        );
        assert!(
            self.max_rss_kib < 256 << 10,
            "{what}: peak memory {} KiB",
            self.max_rss_kib
        );
    }
}

#[expect(
    clippy::zombie_processes,
    reason = "the child is waited for with libc::wait4, for its rusage"
)]
fn measured(command: &mut std::process::Command) -> Measured {
    use std::io::Read as _;
    use std::process::Stdio;
    let started = std::time::Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let mut messages = String::new();
    let _ = err.read_to_string(&mut messages);
    let _ = reader.join();
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; the pid is our
    // child's, not yet waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        messages,
        max_rss_kib: usage.ru_maxrss,
        took: started.elapsed(),
    }
}

/// A repository of one commit on `main` holding `files` (path, size), each
/// all zeros, made by `git fast-import`: written straight into a pack, as
/// a server sends it. The zeros are streamed: the test process's own peak
/// memory, which the child's `wait4` figures include (exec keeps the
/// high-water mark of the memory it replaces), stays small.
fn imported(name: &str, files: &[(&str, u32)]) -> GitRepo {
    use std::io::Write as _;
    use std::process::Stdio;
    let repo = GitRepo::new(name);
    let mut command = std::process::Command::new("git");
    e2e::hermetic_git(&mut command)
        .current_dir(&repo.dir)
        .args([
            "-c",
            "core.compression=9",
            "-c",
            "fastimport.unpackLimit=0",
            "fast-import",
            "--quiet",
        ])
        .stdin(Stdio::piped());
    let mut child = command.spawn().expect("git fast-import");
    {
        let mut stdin = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
        let zeros = vec![0u8; 1 << 20];
        for (mark, (_, size)) in (1..).zip(files) {
            write!(stdin, "blob\nmark :{mark}\ndata {size}\n").expect("write");
            let mut left = *size as usize;
            while left > 0 {
                let n = left.min(zeros.len());
                stdin.write_all(&zeros[..n]).expect("write");
                left -= n;
            }
            stdin.write_all(b"\n").expect("write");
        }
        stdin
            .write_all(
                b"commit refs/heads/main\ncommitter T <t@example.com> 0 +0000\ndata 7\nhostile\n",
            )
            .expect("write");
        for (mark, (path, _)) in (1..).zip(files) {
            writeln!(stdin, "M 100644 :{mark} {path}").expect("write");
        }
        stdin.write_all(b"\n").expect("write");
    }
    assert!(child.wait().expect("fast-import ends").success());
    repo
}

/// Repositories of under 1 MB (packed) that would cost gigabytes or
/// minutes to read are refused within 10 s and 256 MiB: a 300 MiB file of
/// zeros (refused from its size before it is inflated, while the pack is
/// received), a path of 4,401 bytes nested 1,100 directories deep (git
/// serves no tree deeper than 2,048), and more bytes in all
/// than the checkout limit allows (`PLUGIN_MAX_CHECKOUT_SIZE`).
#[test]
fn small_repositories_that_would_cost_a_lot_to_read_are_refused_quickly_in_little_memory() {
    let deep = format!("{}f", "ddd/".repeat(1100));
    // (case, files as (path, size), PLUGIN_MAX_CHECKOUT_SIZE, the error)
    type Case<'a> = (&'a str, Vec<(&'a str, u32)>, Option<&'a str>, &'a str);
    let cases: [Case<'_>; 3] = [
        (
            "bomb",
            vec![("zeros", 300 << 20)],
            None,
            "the repository holds an object larger than 64 MiB",
        ),
        (
            "deep",
            vec![(deep.as_str(), 3)],
            None,
            "has a path longer than 4096 bytes",
        ),
        (
            "wide",
            vec![("a", 400_000), ("b", 400_000), ("c", 400_000)],
            Some("1MiB"),
            "have more than 1048576 bytes, the most a plugin's checkout may have; set \
             PLUGIN_MAX_CHECKOUT_SIZE",
        ),
    ];
    for (case, files, limit, expected) in cases {
        let name = format!("costly-{case}");
        let repo = imported(&name, &files);
        let packed: u64 = walk(&repo.dir.join(".git/objects"))
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        assert!(packed < 1 << 20, "{case}: the repository is {packed} bytes");
        // Served over HTTP by a server of the test's own, so the memory
        // measured is the tool's, not that of the git serving it.
        let server = e2e::http::GitServer::start(repo.dir.parent().expect("repos dir"), None);
        let host = Host::new(&format!("costly_{case}"));
        host.write(
            "plugins.toml",
            &format!(
                "[plugins]\n{name} = {{ git = \"{}\" }}\n",
                server.url(&name)
            ),
        );
        let before = host.snapshot();
        // With the built-in client, and with `git fetch` (whose memory is
        // counted too: the tool waits for it).
        for cli in [false, true] {
            let mut command = host.xtask(&["sync"]);
            if let Some(limit) = limit {
                command.env("PLUGIN_MAX_CHECKOUT_SIZE", limit);
            }
            if cli {
                command.env("PLUGIN_GIT_FETCH_WITH_CLI", "true");
            }
            let run = measured(&mut command);
            let what = format!("{case} (cli: {cli})");
            assert_eq!(run.code, Some(1), "{what}: {}", run.messages);
            let expected = match (case, cli) {
                // git receives it; the tree check refuses it from its header.
                ("bomb", true) => "`zeros` has 314572800 bytes, more than the 64 MiB",
                _ => expected,
            };
            assert!(
                run.messages.contains(expected),
                "{what}: `{expected}` not in\n{}",
                run.messages
            );
            run.assert_within_ceiling(&what);
            assert_unchanged(&before, &host.snapshot());
        }
    }
}

/// The largest plugins.lock the tool reads, made of the smallest entries
/// (some 24,000), and the largest plugins.toml, costs each command that
/// reads them at most 10 s and 256 MiB: parsing and the duplicate checks
/// are linear, and the size limits keep the parsed documents small.
#[test]
fn the_largest_lock_and_manifest_read_cost_little() {
    let host = Host::new("largest_lock");
    let limit = 2 << 20;
    let mut lock = String::from(
        "version = 1\nmanifest-digest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n",
    );
    let mut count = 0;
    loop {
        let entry = format!(
            "\n[[plugin]]\nname = \"p{count}\"\npackage = \"p\"\nversion = \"1.0.0\"\nsource = \"local\"\npath = \"p\"\n"
        );
        if lock.len() + entry.len() > limit {
            break;
        }
        lock.push_str(&entry);
        count += 1;
    }
    assert!(count > 20_000, "{count} entries");
    host.write("plugins.lock", &lock);
    let mut manifest = String::from("[plugins]\n");
    let mut declared = 0;
    loop {
        let line = format!("p{declared} = {{ path = \"p\", package = \"p\", enabled = false }}\n");
        if manifest.len() + line.len() > 1 << 20 {
            break;
        }
        manifest.push_str(&line);
        declared += 1;
    }
    host.write("plugins.toml", &manifest);
    for args in [&["verify"][..], &["list"][..]] {
        let run = measured(&mut host.xtask(args));
        run.assert_within_ceiling(&format!("{args:?}"));
        assert!(run.code.is_some(), "{args:?}: {}", run.messages);
    }
}

/// `vendor` commits the copies only if git keeps every file byte for byte:
/// a plugin's own `.gitignore` (dropping a file it tracks) or
/// `.gitattributes` (rewriting line endings) is refused, naming the files,
/// and plugin-sources/ stays ignored.
#[test]
fn vendoring_what_git_would_drop_or_rewrite_is_refused() {
    let repo = GitRepo::new("vendor-hostile");
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[("vh", None)],
            ..PluginCrate::new("vendor-hostile", "vh")
        },
    );
    std::fs::write(repo.dir.join("crlf.txt"), "a\r\nb\r\n").expect("write");
    repo.write("kept.txt", "tracked, then ignored\n");
    repo.commit("plugin");
    repo.write(".gitignore", "kept.txt\n");
    repo.write(".gitattributes", "crlf.txt text\n");
    repo.git(&["add", ".gitignore", ".gitattributes"]);
    repo.git(&["commit", "--quiet", "-m", "ignore and attributes"]);
    let host = Host::new("vendor_hostile");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nvendor-hostile = {{ git = \"{}\" }}\n",
            repo.url()
        ),
    );
    let output = expect_failure(&mut host.xtask(&["vendor"]));
    let text = messages(&output);
    let copy = walk(&host.path("plugin-sources"))
        .into_iter()
        .find(|f| f.ends_with("/kept.txt"))
        .expect("the copy holds kept.txt");
    let dir = Path::new(&copy)
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .expect("copy dir")
        .to_owned();
    for expected in [
        "plugin-sources/ was not vendored".to_owned(),
        format!("`plugin-sources/{dir}/kept.txt` is ignored by git"),
        format!("`plugin-sources/{dir}/crlf.txt` would be rewritten by git"),
    ] {
        assert!(text.contains(&expected), "`{expected}` not in\n{text}");
    }
    let ignore = host.read("plugin-sources/.gitignore");
    assert!(ignore.lines().any(|l| l == "*"), "still ignored: {ignore}");
    // What sync wrote stays consistent: verify passes.
    e2e::expect_success(&mut host.xtask(&["verify"]));
}

/// What a repository says reaches the terminal escaped: a package name
/// holding an escape sequence, a carriage return and a bidi override is
/// shown as `\u{…}`, so it cannot recolour, overwrite or reorder a line.
#[test]
fn control_characters_from_a_repository_are_escaped_when_printed() {
    let repo = GitRepo::with_plugin("escapes", "escapes", "escapes");
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).expect("Cargo.toml");
    repo.write(
        "Cargo.toml",
        &manifest.replacen(
            "name = \"escapes\"",
            "name = \"esc\\u001b[2J\\rapes\\u202e\"",
            1,
        ),
    );
    repo.commit("a name with control characters");
    let host = Host::new("control_characters");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nescapes = {{ git = \"{}\", subdir = \".\" }}\n",
            repo.url()
        ),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let raw = String::from_utf8_lossy(&output.stderr);
    assert!(
        !raw.contains(['\u{1b}', '\r', '\u{202e}']),
        "raw control characters printed: {raw:?}"
    );
    assert!(raw.contains("esc\\u{1b}[2J\\u{d}apes\\u{202e}"), "{raw}");
    assert_unchanged(&before, &host.snapshot());
}

/// `command` run with a `size` tmpfs mounted on `dir` (in a user and mount
/// namespace of its own, so no privilege is needed); what `dir` held when
/// the command ended is listed, one name a line, into `listing`. `None`
/// when this machine cannot make such a namespace.
fn on_full_disk(
    command: &std::process::Command,
    dir: &Path,
    size: &str,
    listing: &Path,
) -> Option<std::process::Command> {
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /tmp"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    Some(e2e::in_mount_namespace(
        "dir=$1; size=$2; listing=$3; shift 3; \
         mount -t tmpfs -o size=$size tmpfs \"$dir\" || exit 99; \
         \"$@\"; rc=$?; ls -A \"$dir\" > \"$listing\"; exit $rc",
        &[
            dir.as_os_str(),
            std::ffi::OsStr::new(size),
            listing.as_os_str(),
        ],
        command,
    ))
}

/// A disk that fills while a plugin's files are copied into the host: the
/// error keeps the system's words ("No space left on device"), the
/// half-written copy is removed, and nothing else changes.
#[test]
fn a_full_disk_keeps_its_cause_and_leaves_no_half_written_copy() {
    let repo = GitRepo::with_plugin("disk-full", "disk-full", "full");
    let noise: String = (0..40_000u32)
        .map(|i| format!("{:08x}", i.wrapping_mul(2_654_435_761)))
        .collect::<Vec<_>>()
        .join("\n");
    repo.write("noise.txt", &noise);
    repo.commit("360 KB of noise");
    let host = Host::new("disk_full");
    host.write(
        "plugins.toml",
        &format!("[plugins]\ndisk-full = {{ git = \"{}\" }}\n", repo.url()),
    );
    std::fs::create_dir_all(host.path("plugin-sources")).expect("plugin-sources");
    let listing = host.root.with_extension("listing");
    let _ = std::fs::remove_file(&listing);
    let Some(mut command) = on_full_disk(
        &host.xtask(&["sync"]),
        &host.path("plugin-sources"),
        "128k",
        &listing,
    ) else {
        println!("skipped: this machine cannot mount a tmpfs in a user namespace (unshare -rm)");
        return;
    };
    let before = host.snapshot();
    let output = expect_failure(&mut command);
    let text = messages(&output);
    assert!(text.contains("No space left on device"), "{text}");
    let left = std::fs::read_to_string(&listing).expect("listing");
    assert!(
        left.lines().all(|name| name == ".gitignore"),
        "left on the full disk: {left}"
    );
    assert_unchanged(&before, &host.snapshot());
}
