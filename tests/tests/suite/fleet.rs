//! CI fleets: a job restores the plugin cache from a CI cache (or mounts
//! a shared one read-only) and runs `sync --frozen` from it, even while
//! another job writes the same cache.

use std::path::Path;
use std::process::Command;

use e2e::{GitRepo, Host, assert_unchanged, expect_failure, expect_success, messages, snapshot};

/// `command` with `dir` bind-mounted read-only over itself, in a user and
/// mount namespace of its own (no privilege needed), so even root cannot
/// write there. `None` when this machine cannot make such a namespace.
fn with_read_only(command: &Command, dir: &Path) -> Option<Command> {
    let probe = Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\"",
            "sh",
        ])
        .arg(dir)
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    Some(e2e::in_mount_namespace(
        "dir=$1; shift; mount --bind \"$dir\" \"$dir\" && \
         mount -o remount,bind,ro \"$dir\" || exit 99; exec \"$@\"",
        &[dir.as_os_str()],
        command,
    ))
}

#[test]
fn a_read_only_cache_restores_the_plugins_and_is_never_written() {
    let repo = GitRepo::with_plugin("ro-cache", "ro-cache", "ro");
    let host = Host::new("ro_cache");
    host.write(
        "plugins.toml",
        &format!("[plugins]\nro-cache = {{ git = \"{}\" }}\n", repo.url()),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let synced = host.snapshot();
    // A fresh CI checkout: no plugin-sources/.
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    let cache = host.cache_dir();
    let cached = snapshot(&cache, &["."]);
    let Some(mut frozen) = with_read_only(&host.xtask(&["sync", "--frozen"]), &cache) else {
        println!("skipped: this machine cannot bind-mount in a user namespace (unshare -rm)");
        return;
    };
    let log = messages(&expect_success(&mut frozen));
    assert!(!log.contains("warning"), "{log}");
    // The host is as the first sync left it, the cache as it was.
    let restored = host.snapshot();
    assert_eq!(
        synced.keys().collect::<Vec<_>>(),
        restored.keys().collect::<Vec<_>>()
    );
    for (path, (bytes, _)) in &synced {
        // (The stat index records the new files' inodes and mtimes.)
        if !path.ends_with(".plugin-index") {
            assert!(restored[path].0 == *bytes, "{} differs", path.display());
        }
    }
    expect_success(&mut host.xtask(&["verify"]));
    assert_unchanged(&cached, &snapshot(&cache, &["."]));
    // Fetching into it is a precise error, and leaves everything as it was.
    repo.write("src/extra.rs", "//! New.\n");
    repo.commit("a new commit");
    let before = host.snapshot();
    let mut update = with_read_only(&host.xtask(&["update"]), &cache).expect("probed");
    let log = messages(&expect_failure(&mut update));
    assert!(
        log.contains("is read-only, so") && log.contains("cannot be fetched into it"),
        "{log}"
    );
    assert_unchanged(&before, &host.snapshot());
    assert_unchanged(&cached, &snapshot(&cache, &["."]));
}

#[test]
fn a_frozen_sync_reads_a_cache_another_job_is_writing() {
    let repo = GitRepo::with_plugin("busy-cache", "busy-cache", "busy");
    let shared = e2e::hosts_dir().join("busy_cache.shared-cache");
    let _ = std::fs::remove_dir_all(&shared);
    let declare = |host: &Host| {
        host.write(
            "plugins.toml",
            &format!(
                "[plugins]\nbusy-cache = {{ git = \"{}\", branch = \"main\" }}\n",
                repo.url()
            ),
        );
    };
    let reader = Host::new("busy_cache_reader");
    let writer = Host::new("busy_cache_writer");
    declare(&reader);
    declare(&writer);
    let in_shared = |mut command: Command| {
        command.env("PLUGIN_CACHE_DIR", &shared);
        command
    };
    expect_success(&mut in_shared(reader.xtask(&["sync"])));
    expect_success(&mut in_shared(writer.xtask(&["sync"])));
    let pinned = reader.read("plugins.lock");
    for round in 0..3 {
        // The writer fetches new commits into the shared cache while the
        // reader, with no plugin-sources/, restores its pin from it.
        repo.write("src/extra.rs", &format!("//! Round {round}.\n"));
        repo.commit(&format!("round {round}"));
        std::fs::remove_dir_all(reader.path("plugin-sources")).unwrap();
        let mut update = in_shared(writer.xtask(&["update"]));
        let writing = std::thread::spawn(move || update.output().unwrap());
        let reading = expect_success(&mut in_shared(reader.xtask(&["sync", "--frozen"])));
        let written = writing.join().unwrap();
        assert!(
            written.status.success(),
            "round {round}: {}",
            messages(&written)
        );
        assert!(
            messages(&written).contains("busy-cache: "),
            "round {round}: the writer moved nothing: {}",
            messages(&written)
        );
        assert!(
            !messages(&reading).contains("warning"),
            "{}",
            messages(&reading)
        );
        assert_eq!(reader.read("plugins.lock"), pinned, "round {round}");
        expect_success(&mut in_shared(reader.xtask(&["verify"])));
    }
}
