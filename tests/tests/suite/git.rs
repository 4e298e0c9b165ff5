//! Git plugin sources end to end: real repositories made here with git,
//! served over `file://`, synced with the real xtask (gix), built and run.

use e2e::{GitRepo, Host, PluginCrate, assert_unchanged, expect_failure, expect_success, messages};

/// A repository whose root is plugin crate `package` with one filter.
fn plugin_repo(repo: &str, package: &str, filter: &str) -> GitRepo {
    GitRepo::with_plugin(repo, package, filter)
}

/// Rewrites the plugin crate at the repository root to have `filter`.
fn change_filter(git: &GitRepo, package: &str, filter: &str) -> String {
    git.plugin(
        ".",
        &PluginCrate {
            filters: &[(filter, None)],
            ..PluginCrate::new(package, package)
        },
    );
    git.commit(&format!("filter {filter}"))
}

fn lock_entry(host: &Host, name: &str) -> String {
    let lock = host.read("plugins.lock");
    let start = lock
        .find(&format!("name = \"{name}\""))
        .unwrap_or_else(|| panic!("{name} in\n{lock}"));
    lock[start..]
        .split("\n\n")
        .next()
        .expect("an entry")
        .to_owned()
}

#[test]
fn each_reference_kind_is_pinned_built_and_listed() {
    let _alone = e2e::exclusive_builds();
    let host = Host::new("each_reference_kind_is_pinned_built_and_listed");
    // Lightweight tag on the first commit; the default branch moves on.
    let light = plugin_repo("light", "light", "l1");
    let light_v1 = light.head();
    light.git(&["tag", "v1"]);
    change_filter(&light, "light", "l2");
    // Annotated tag.
    let annotated = plugin_repo("annotated", "annotated", "a1");
    annotated.git(&["tag", "-a", "v2.0.0", "-m", "release"]);
    let annotated_v2 = annotated.head();
    change_filter(&annotated, "annotated", "a2");
    // Branch.
    let branchy = plugin_repo("branchy", "branchy", "b1");
    branchy.git(&["checkout", "--quiet", "-b", "dev"]);
    let dev = change_filter(&branchy, "branchy", "b-dev");
    branchy.git(&["checkout", "--quiet", "main"]);
    // Full rev, not the newest commit.
    let revved = plugin_repo("revved", "revved", "r1");
    let first = revved.head();
    change_filter(&revved, "revved", "r2");
    // Default branch.
    let default = plugin_repo("default", "default", "d1");
    let default_head = change_filter(&default, "default", "d2");

    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\n\
             light = {{ git = \"{}\", tag = \"v1\" }}\n\
             annotated = {{ git = \"{}\", tag = \"v2.0.0\" }}\n\
             branchy = {{ git = \"{}\", branch = \"dev\" }}\n\
             revved = {{ git = \"{}\", rev = \"{first}\" }}\n\
             default = {{ git = \"{}\" }}\n",
            light.url(),
            annotated.url(),
            branchy.url(),
            revved.url(),
            default.url(),
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));

    let checks = [
        ("light", format!("git+{}?tag=v1#{light_v1}", light.url())),
        (
            "annotated",
            format!("git+{}?tag=v2.0.0#{annotated_v2}", annotated.url()),
        ),
        ("branchy", format!("git+{}?branch=dev#{dev}", branchy.url())),
        (
            "revved",
            format!("git+{}?rev={first}#{first}", revved.url()),
        ),
        ("default", format!("git+{}#{default_head}", default.url())),
    ];
    for (name, source) in &checks {
        let entry = lock_entry(&host, name);
        assert!(entry.contains(&format!("source = \"{source}\"")), "{entry}");
        assert!(entry.contains("checksum = \"sha256:"), "{entry}");
    }
    let output = host.build_and_run(false);
    for (name, source) in &checks {
        assert!(
            output.contains(&format!("plugin {name} 1.2.3 {name} {source}\n")),
            "{output}"
        );
    }
    for filter in ["l1", "a1", "b-dev", "r1", "d2"] {
        assert!(
            output.contains(&format!("filter {filter} {filter}(abc)\n")),
            "{output}"
        );
    }
    // Sources live in the host, relative, and are ignored by git.
    assert!(host.read("plugin-set/Cargo.toml").contains(&format!(
        "light = {{ path = \"../plugin-sources/light-{}\" }}",
        &light_v1[..12]
    )));
    assert_eq!(
        host.read("plugin-sources/.gitignore").lines().last(),
        Some("*")
    );

    // A second sync needs nothing: no network, no change, no rebuild.
    let before = host.snapshot();
    expect_success(&mut host.xtask(&["sync", "--offline"]));
    assert_unchanged(&before, &host.snapshot());
    let build = host.build(false);
    assert!(build.status.success(), "{}", messages(&build));
    assert!(
        !messages(&build).contains("Compiling"),
        "{}",
        messages(&build)
    );
}

#[test]
fn monorepo_crates_are_found_by_name_or_subdir_and_ambiguity_is_an_error() {
    let host = Host::new("monorepo_crates_are_found_by_name_or_subdir");
    let mono = GitRepo::new("mono");
    mono.plugin(
        "crates/one",
        &PluginCrate {
            filters: &[("one", None)],
            ..PluginCrate::new("one", "one")
        },
    );
    mono.plugin(
        "crates/two",
        &PluginCrate {
            filters: &[("two", None)],
            ..PluginCrate::new("two", "two")
        },
    );
    mono.plugin("old/dupe", &PluginCrate::new("dupe", "dupe-old"));
    mono.plugin("new/dupe", &PluginCrate::new("dupe", "dupe-new"));
    mono.commit("crates");
    mono.git(&["tag", "v1"]);
    let url = mono.url();
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\none = {{ git = \"{url}\", tag = \"v1\" }}\n\
             second = {{ git = \"{url}\", tag = \"v1\", package = \"two\" }}\n\
             newer = {{ git = \"{url}\", tag = \"v1\", package = \"dupe\", subdir = \"new/dupe\" }}\n"
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    assert!(lock_entry(&host, "one").contains("subdir = \"crates/one\""));
    assert!(lock_entry(&host, "second").contains("subdir = \"crates/two\""));
    let output = host.build_and_run(false);
    assert!(output.contains("plugin one 1.2.3 one git+"), "{output}");
    assert!(output.contains("plugin two 1.2.3 two git+"), "{output}");
    assert!(
        output.contains("plugin dupe-new 1.2.3 dupe git+"),
        "{output}"
    );

    // Without a subdir, two crates named `dupe` are ambiguous.
    let before = host.snapshot();
    host.write(
        "plugins.toml",
        &format!("[plugins]\ndupe = {{ git = \"{url}\", tag = \"v1\" }}\n"),
    );
    let before_bad = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&output),
        format!(
            "error: plugin `dupe` in plugins.toml ({url}, tag `v1`)\n\nCaused by:\n  \
             the repository has 2 crates named `dupe` (new/dupe, old/dupe); set `subdir` to choose one\n"
        )
    );
    assert_unchanged(&before_bad, &host.snapshot());
    // A crate that is not there is listed against what is.
    host.write(
        "plugins.toml",
        &format!("[plugins]\nthree = {{ git = \"{url}\", tag = \"v1\" }}\n"),
    );
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert!(
        messages(&output).ends_with(
            "the repository has no crate named `three`; it has `one` in crates/one, `two` in crates/two, \
             `dupe` in new/dupe, `dupe` in old/dupe; set `package` or `subdir`\n"
        ),
        "{}",
        messages(&output)
    );
    drop(before);
}

#[test]
fn update_moves_a_branch_and_reports_old_to_new() {
    let host = Host::new("update_moves_a_branch_and_reports_old_to_new");
    let repo = plugin_repo("moving", "moving", "m1");
    let old = repo.head();
    let pinned = plugin_repo("pinned", "pinned", "p1");
    pinned.git(&["tag", "v1"]);
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nmoving = {{ git = \"{}\", branch = \"main\" }}\npinned = {{ git = \"{}\", tag = \"v1\" }}\n",
            repo.url(),
            pinned.url()
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let new = change_filter(&repo, "moving", "m2");

    // A plain sync keeps the pinned commit.
    let before = host.snapshot();
    expect_success(&mut host.xtask(&["sync"]));
    assert_unchanged(&before, &host.snapshot());
    assert!(lock_entry(&host, "moving").contains(&old));

    // `update --locked` refuses to change the lock.
    let output = expect_failure(&mut host.xtask(&["update", "--locked"]));
    assert!(messages(&output).contains("plugins.lock needs to be updated but --locked was passed"));
    assert_unchanged(&before, &host.snapshot());

    let output = expect_success(&mut host.xtask(&["update"]));
    let log = messages(&output);
    assert!(
        log.contains(&format!(
            "Updating moving: {} → {} (branch `main`)",
            &old[..12],
            &new[..12]
        )),
        "{log}"
    );
    assert!(!log.contains("Updating pinned"), "tags stay pinned:\n{log}");
    assert!(lock_entry(&host, "moving").contains(&new));
    let output = host.build_and_run(false);
    assert!(output.contains("filter m2 m2(abc)"), "{output}");
    assert!(!output.contains("filter m1"), "{output}");

    // Nothing new: update says so and changes nothing.
    let before = host.snapshot();
    let output = expect_success(&mut host.xtask(&["update", "moving"]));
    assert!(messages(&output).contains("every plugin is at its newest commit"));
    assert_unchanged(&before, &host.snapshot());
    // Unknown names are an error.
    let output = expect_failure(&mut host.xtask(&["update", "nope"]));
    assert_eq!(
        messages(&output),
        "error: `nope` is not declared in plugins.toml; nothing to update\n"
    );
}

#[test]
fn a_moved_tag_is_reported_loudly_and_fails_with_locked() {
    let host = Host::new("a_moved_tag_is_reported_loudly_and_fails_with_locked");
    let repo = plugin_repo("retagged", "retagged", "t1");
    let tagged = repo.head();
    repo.git(&["tag", "v1"]);
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nretagged = {{ git = \"{}\", tag = \"v1\" }}\n",
            repo.url()
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let moved = change_filter(&repo, "retagged", "t2");
    repo.git(&["tag", "--force", "v1"]);

    let before = host.snapshot();
    let output = expect_success(&mut host.xtask(&["update"]));
    let expected = format!(
        "tag `v1` of plugin `retagged` ({}) now points at {moved}, but plugins.lock pins {tagged}; \
         keeping {tagged}. A tag that moves can mean a compromised repository: check with its \
         maintainers before changing the lock",
        repo.url()
    );
    assert!(
        messages(&output).contains(&format!("warning: {expected}")),
        "{}",
        messages(&output)
    );
    assert_unchanged(&before, &host.snapshot());

    let output = expect_failure(&mut host.xtask(&["update", "--locked"]));
    assert_eq!(messages(&output), format!("error: {expected}\n"));
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn offline_locked_and_frozen_never_fetch_and_fail_clearly() {
    let host = Host::new("offline_locked_and_frozen_never_fetch_and_fail_clearly");
    let repo = plugin_repo("offline", "offline", "o1");
    let tagged = repo.head();
    repo.git(&["tag", "v1"]);
    let url = repo.url();
    let manifest = format!("[plugins]\noffline = {{ git = \"{url}\", tag = \"v1\" }}\n");
    host.write("plugins.toml", &manifest);

    // Nothing cached, nothing locked: --offline and --frozen cannot proceed.
    for flag in ["--offline", "--frozen"] {
        let output = expect_failure(&mut host.xtask(&["sync", flag]));
        assert!(
            messages(&output).ends_with(
                "tag `v1` is not pinned in plugins.lock yet and --offline forbids fetching it; \
                 run `cargo xtask sync` without --offline\n"
            ),
            "{flag}: {}",
            messages(&output)
        );
        assert!(!host.path("plugins.lock").exists());
    }
    expect_success(&mut host.xtask(&["sync"]));

    // The repository disappears: locked and cached plugins still sync.
    let gone = repo.dir.with_extension("gone");
    if gone.exists() {
        std::fs::remove_dir_all(&gone).unwrap();
    }
    std::fs::rename(&repo.dir, &gone).unwrap();
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    expect_success(&mut host.xtask(&["sync", "--frozen"]));
    assert!(
        host.path(&format!(
            "plugin-sources/offline-{}/Cargo.toml",
            &tagged[..12]
        ))
        .is_file()
    );

    // With an empty cache too, --offline says what is missing and where.
    std::fs::remove_dir_all(host.cache_dir()).unwrap();
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync", "--offline"]));
    let log = messages(&output);
    assert!(
        log.starts_with(&format!(
            "error: plugin `offline` in plugins.toml ({url}, tag `v1`)\n"
        )),
        "{log}"
    );
    assert!(log.contains("is not in the cache ("), "{log}");
    assert!(log.contains("and --offline forbids fetching it"), "{log}");
    assert_unchanged(&before, &host.snapshot());
    std::fs::rename(&gone, &repo.dir).unwrap();
}

#[test]
fn verify_names_modified_files_and_sync_restores_them() {
    let host = Host::new("verify_names_modified_files_and_sync_restores_them");
    let repo = plugin_repo("verified", "verified", "v1");
    let dir = format!("plugin-sources/verified-{}", &repo.head()[..12]);
    host.write(
        "plugins.toml",
        &format!("[plugins]\nverified = {{ git = \"{}\" }}\n", repo.url()),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let output = expect_success(&mut host.xtask(&["verify"]));
    assert!(messages(&output).contains("Verified 1 git plugin match plugins.lock"));

    host.write(&format!("{dir}/src/lib.rs"), "// tampered\n");
    host.write(&format!("{dir}/extra.rs"), "\n");
    std::fs::remove_file(host.path(&format!("{dir}/Cargo.toml"))).unwrap();
    let output = expect_failure(&mut host.xtask(&["verify"]));
    assert_eq!(
        messages(&output),
        format!(
            "error: plugin `verified`: files in {} differ from plugins.lock: Cargo.toml (missing), \
             src/lib.rs (modified), extra.rs (added)\n",
            host.root.canonicalize().unwrap().join(&dir).display()
        )
    );
    expect_success(&mut host.xtask(&["sync", "--offline"]));
    expect_success(&mut host.xtask(&["verify"]));
    assert!(!host.path(&format!("{dir}/extra.rs")).exists());
}

/// Runs sync on `manifest` in a fresh host and checks it fails with
/// `expected` (`{url}` is the repository's URL), writing nothing.
#[track_caller]
fn check_bad(name: &str, repo: &GitRepo, manifest: &str, expected: &str) {
    let host = Host::new(name);
    let url = repo.url();
    host.write("plugins.toml", &manifest.replace("{url}", &url));
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(messages(&output), expected.replace("{url}", &url));
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn missing_tag_branch_and_rev_name_plugin_url_and_ref() {
    let repo = plugin_repo("refs", "refs", "r");
    let absent = "0123456789abcdef0123456789abcdef01234567";
    check_bad(
        "missing_tag",
        &repo,
        "[plugins]\nrefs = { git = \"{url}\", tag = \"v9\" }\n",
        "error: plugin `refs` in plugins.toml ({url}, tag `v9`)\n\nCaused by:\n  \
         the remote has no tag `v9`\n",
    );
    check_bad(
        "missing_branch",
        &repo,
        "[plugins]\nrefs = { git = \"{url}\", branch = \"nope\" }\n",
        "error: plugin `refs` in plugins.toml ({url}, branch `nope`)\n\nCaused by:\n  \
         the remote has no branch `nope`\n",
    );
    let host = Host::new("missing_rev");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nrefs = {{ git = \"{}\", rev = \"{absent}\" }}\n",
            repo.url()
        ),
    );
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let log = messages(&output);
    assert!(
        log.starts_with(&format!(
            "error: plugin `refs` in plugins.toml ({}, rev `{absent}`)\n\nCaused by:\n  \
             the remote has no commit {absent} (or does not serve commits by id); check the rev, \
             or declare a tag or branch that contains it\n",
            repo.url()
        )),
        "{log}"
    );
    assert!(!host.path("plugins.lock").exists());
}

#[test]
fn not_a_repository_and_unreachable_urls_are_clear_errors() {
    let plain = GitRepo::new("not-a-repo");
    std::fs::remove_dir_all(plain.dir.join(".git")).unwrap();
    let host = Host::new("not_a_repository");
    host.write(
        "plugins.toml",
        &format!("[plugins]\nplain = {{ git = \"{}\" }}\n", plain.url()),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let log = messages(&output);
    assert!(
        log.starts_with(&format!(
            "error: plugin `plain` in plugins.toml ({}, default branch)\n\nCaused by:\n",
            plain.url()
        )),
        "{log}"
    );
    assert_unchanged(&before, &host.snapshot());

    let missing = plain.dir.with_extension("missing");
    let host = Host::new("missing_repository");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nmissing = {{ git = \"{}\" }}\n",
            missing.display()
        ),
    );
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&output),
        format!(
            "error: plugin `missing` in plugins.toml ({}, default branch)\n\nCaused by:\n  \
             repository {} does not exist\n",
            missing.display(),
            missing.display()
        )
    );

    // Nothing listens on port 9 of this machine: the connection is refused.
    // The cause is shown down to the transport's own words (ssh's message,
    // not only gix's "handshake failed").
    for (case, url, cause) in [
        (
            "unreachable_url",
            "http://127.0.0.1:9/far.git",
            "Connection refused",
        ),
        (
            "unreachable_ssh",
            "ssh://git@127.0.0.1:9/far.git",
            "ssh: connect to host 127.0.0.1 port 9: Connection refused",
        ),
    ] {
        let host = Host::new(case);
        host.write(
            "plugins.toml",
            &format!("[plugins]\nfar = {{ git = \"{url}\", tag = \"v1\" }}\n"),
        );
        let before = host.snapshot();
        let log = messages(&expect_failure(&mut host.xtask(&["sync"])));
        assert!(
            log.starts_with(&format!(
                "error: plugin `far` in plugins.toml ({url}, tag `v1`)\n\nCaused by:\n"
            )) && log.contains(cause),
            "{case}: {log}"
        );
        assert_unchanged(&before, &host.snapshot());
    }
}

#[test]
fn same_repository_at_two_commits_is_an_error() {
    let repo = plugin_repo("twice", "twice", "t");
    repo.git(&["tag", "v1"]);
    change_filter(&repo, "twice", "t2");
    check_bad(
        "same_repository_at_two_commits",
        &repo,
        "[plugins]\na = { git = \"{url}\", tag = \"v1\", package = \"twice\" }\n\
         b = { git = \"{url}\", package = \"twice\" }\n",
        "error: plugins `a` and `b` in plugins.toml both point at {url}; declare it once\n",
    );
    // Two crates of one repository must come from one commit.
    let mono = GitRepo::new("twice-mono");
    mono.plugin("one", &PluginCrate::new("one", "one"));
    mono.plugin("two", &PluginCrate::new("two", "two"));
    let first = mono.commit("first");
    mono.git(&["tag", "v1"]);
    let second = mono.commit("second");
    check_bad(
        "same_repository_two_crates_two_commits",
        &mono,
        "[plugins]\none = { git = \"{url}\", tag = \"v1\" }\ntwo = { git = \"{url}\" }\n",
        &format!(
            "error: plugins `one` and `two` in plugins.toml use the same repository {{url}} at \
             different commits ({} and {}); declare the same tag, branch or rev for both\n",
            &first[..12],
            &second[..12]
        ),
    );
}

#[test]
fn symlinks_leaving_the_repository_and_submodules_are_refused() {
    let linked = plugin_repo("linked", "linked", "l");
    std::os::unix::fs::symlink("../../../../etc/passwd", linked.dir.join("src/secret")).unwrap();
    linked.commit("link out");
    check_bad(
        "symlink_outside",
        &linked,
        "[plugins]\nlinked = { git = \"{url}\" }\n",
        "error: plugin `linked` in plugins.toml ({url}, default branch)\n\nCaused by:\n  \
         symlink `src/secret` points outside the repository (`../../../../etc/passwd`); refusing to use it\n",
    );

    let inner = plugin_repo("inner", "inner", "i");
    let outer = plugin_repo("outer", "outer", "o");
    outer.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "--quiet",
        &inner.url(),
        "vendor/inner",
    ]);
    outer.commit("add submodule");
    check_bad(
        "submodule",
        &outer,
        "[plugins]\nouter = { git = \"{url}\" }\n",
        "error: plugin `outer` in plugins.toml ({url}, default branch)\n\nCaused by:\n  \
         the repository has a submodule at `vendor/inner`; submodules are not supported\n",
    );
}

#[test]
fn git_plugins_need_their_sources_excluded_from_the_workspace() {
    let repo = plugin_repo("excluded", "excluded", "e");
    let host = Host::new("git_plugins_need_their_sources_excluded");
    let root = host
        .read("Cargo.toml")
        .replace("exclude = [\"plugin-sources\"]\n", "");
    host.write("Cargo.toml", &root);
    host.write(
        "plugins.toml",
        &format!("[plugins]\nexcluded = {{ git = \"{}\" }}\n", repo.url()),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&output),
        format!(
            "error: {}/Cargo.toml does not exclude the git plugins' sources from the workspace; \
             add \"plugin-sources\" to `[workspace] exclude` (a plugin repository with its own \
             `[workspace]` would otherwise break the build)\n",
            host.root.canonicalize().unwrap().display()
        )
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_sync_killed_at_any_point_leaves_a_usable_state_and_the_next_completes() {
    let host = Host::new("a_sync_killed_at_any_point_leaves_a_usable_state");
    let repo = plugin_repo("crashy", "crashy", "c1");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\ncrashy = {{ git = \"{}\", branch = \"main\" }}\n",
            repo.url()
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    assert!(host.build_and_run(false).contains("filter c1 c1(abc)"));
    change_filter(&repo, "crashy", "c2");

    for point in ["fetched", "checked-out", "validated", "copied"] {
        let mut update = host.xtask(&["update"]);
        update.env("__PLUGIN_SYNC_CRASH_AT", point);
        let output = expect_failure(&mut update);
        assert!(
            messages(&output).contains(&format!("crashing at `{point}`")),
            "{point}"
        );
        // The previous lock, its generated crate and its files still agree.
        expect_success(&mut host.xtask(&["verify"]));
        let output = host.build_and_run(false);
        assert!(
            output.contains("filter c1 c1(abc)"),
            "after a crash at {point}: {output}"
        );
    }
    // Killed between the generated crate and the lock: the build refuses the
    // mixed state instead of building something no lock describes, and the
    // next sync restores the locked state.
    let mut update = host.xtask(&["update"]);
    update.env("__PLUGIN_SYNC_CRASH_AT", "generated");
    expect_failure(&mut update);
    let build = host.build(false);
    assert!(
        messages(&build).contains(
            "error: plugin-set/ was generated from another plugins.lock (an interrupted or \
             partial sync?); run cargo xtask sync"
        ),
        "{}",
        messages(&build)
    );
    expect_success(&mut host.xtask(&["sync"]));
    assert!(host.build_and_run(false).contains("filter c1 c1(abc)"));
    // Killed after the lock was written: the new state is complete.
    let mut update = host.xtask(&["update"]);
    update.env("__PLUGIN_SYNC_CRASH_AT", "locked");
    expect_failure(&mut update);
    expect_success(&mut host.xtask(&["verify"]));
    assert!(host.build_and_run(false).contains("filter c2 c2(abc)"));
    // And the next sync tidies up and changes nothing else.
    expect_success(&mut host.xtask(&["sync"]));
    let mut sources: Vec<_> = std::fs::read_dir(host.path("plugin-sources"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        [
            ".gitignore".to_owned(),
            format!("crashy-{}", &repo.head()[..12])
        ]
    );
}

#[test]
fn concurrent_syncs_of_one_workspace_and_one_cache_agree() {
    let repos: Vec<GitRepo> = (0..3)
        .map(|i| {
            let name = format!("concurrent{i}");
            let repo = plugin_repo(&name, &name, &format!("f{i}"));
            repo.git(&["tag", "v1"]);
            repo
        })
        .collect();
    let manifest: String = std::iter::once("[plugins]\n".to_owned())
        .chain(repos.iter().enumerate().map(|(i, r)| {
            format!(
                "concurrent{i} = {{ git = \"{}\", tag = \"v1\" }}\n",
                r.url()
            )
        }))
        .collect();
    let one = Host::new("concurrent_syncs_one");
    let two = Host::new("concurrent_syncs_two");
    for host in [&one, &two] {
        host.write("plugins.toml", &manifest);
    }
    // Four syncs of `one` and two of `two` at once, all on `one`'s cache.
    let mut children = Vec::new();
    for host in [&one, &one, &one, &one, &two, &two] {
        let mut sync = host.xtask(&["sync", "--quiet"]);
        sync.env("PLUGIN_CACHE_DIR", one.cache_dir());
        sync.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        children.push(sync.spawn().expect("spawn xtask"));
    }
    for child in children {
        let output = child.wait_with_output().expect("xtask runs");
        assert!(output.status.success(), "{}", messages(&output));
    }
    assert_eq!(one.read("plugins.lock"), two.read("plugins.lock"));
    for host in [&one, &two] {
        let mut verify = host.xtask(&["verify"]);
        verify.env("PLUGIN_CACHE_DIR", one.cache_dir());
        expect_success(&mut verify);
        let before = host.snapshot();
        expect_success(
            host.xtask(&["sync", "--frozen"])
                .env("PLUGIN_CACHE_DIR", one.cache_dir()),
        );
        assert_unchanged(&before, &host.snapshot());
    }
    let output = one.build_and_run(false);
    for i in 0..3 {
        assert!(
            output.contains(&format!("filter f{i} f{i}(abc)")),
            "{output}"
        );
    }
}

#[test]
fn a_long_history_is_fetched_shallow() {
    // 1,200 commits, made fast with git fast-import.
    let repo = GitRepo::new("long-history");
    let mut fast_import = String::new();
    for i in 1..=1200 {
        let message = format!("commit {i}");
        let content = format!("revision {i}\n");
        fast_import.push_str(&format!(
            "commit refs/heads/main\ncommitter Test <t@example.com> {} +0000\ndata {}\n{message}\n\
             M 644 inline history.txt\ndata {}\n{content}\n",
            1_700_000_000 + i,
            message.len(),
            content.len()
        ));
    }
    let mut import = std::process::Command::new("git");
    e2e::hermetic_git(&mut import)
        .current_dir(&repo.dir)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped());
    let mut child = import.spawn().expect("spawn git fast-import");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(fast_import.as_bytes())
            .expect("feed fast-import");
    }
    assert!(child.wait().expect("fast-import runs").success());
    repo.git(&["reset", "--quiet", "--hard", "main"]);
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[("long", None)],
            ..PluginCrate::new("long-history", "long-history")
        },
    );
    let head = repo.commit("the plugin");
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]), "1201");

    let host = Host::new("a_long_history_is_fetched_shallow");
    host.write(
        "plugins.toml",
        &format!("[plugins]\nlong-history = {{ git = \"{}\" }}\n", repo.url()),
    );
    expect_success(&mut host.xtask(&["sync"]));
    assert!(lock_entry(&host, "long-history").contains(&head));
    // The cached database holds the one commit it needs.
    let db = std::fs::read_dir(host.cache_dir().join("git/db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a database");
    let mut count = std::process::Command::new("git");
    e2e::hermetic_git(&mut count)
        .arg("--git-dir")
        .arg(&db)
        .args(["rev-list", "--count", &head]);
    assert_eq!(e2e::stdout(&expect_success(&mut count)).trim(), "1");
    assert!(db.join("shallow").is_file());
    assert!(host.build_and_run(false).contains("filter long long(abc)"));
}

#[test]
fn add_and_remove_keep_comments_and_sync() {
    let host = Host::new("add_and_remove_keep_comments_and_sync");
    host.plugin(
        "plugins/alpha",
        &PluginCrate {
            filters: &[("alpha", None)],
            ..PluginCrate::new("alpha", "alpha")
        },
    );
    let repo = plugin_repo("added", "added", "added");
    repo.git(&["tag", "v1"]);
    let original = "# Plugins of the test app.\n[plugins]\n# kept local\nalpha = { path = \"plugins/alpha\" } # trailing\n\n# the end\n";
    host.write("plugins.toml", original);
    expect_success(&mut host.xtask(&["sync"]));

    expect_success(&mut host.xtask(&["add", "added", "--git", &repo.url(), "--tag", "v1"]));
    let added = host.read("plugins.toml");
    assert_eq!(
        added,
        format!(
            "# Plugins of the test app.\n[plugins]\n# kept local\nalpha = {{ path = \"plugins/alpha\" }} # trailing\n\
             added = {{ git = \"{}\", tag = \"v1\" }}\n\n# the end\n",
            repo.url()
        )
    );
    assert!(lock_entry(&host, "added").contains("?tag=v1#"));
    let output = host.build_and_run(false);
    assert!(output.contains("filter added added(abc)"), "{output}");

    // A failing add changes nothing, plugins.toml included.
    let before = host.snapshot();
    let output =
        expect_failure(&mut host.xtask(&["add", "broken", "--git", &repo.url(), "--tag", "v9"]));
    assert!(
        messages(&output).contains("the remote has no tag `v9`"),
        "{}",
        messages(&output)
    );
    assert_unchanged(&before, &host.snapshot());

    expect_success(&mut host.xtask(&["remove", "alpha"]));
    assert_eq!(
        host.read("plugins.toml"),
        format!(
            "# Plugins of the test app.\n[plugins]\nadded = {{ git = \"{}\", tag = \"v1\" }}\n\n# the end\n",
            repo.url()
        )
    );
    let output = host.build_and_run(false);
    assert!(!output.contains("alpha"), "{output}");

    // A path given on the command line is relative to where the command runs.
    host.plugin("plugins/beta", &PluginCrate::new("beta", "beta"));
    let mut add = host.xtask(&["add", "beta", "--path", "../plugins/beta"]);
    add.current_dir(host.path("app"));
    expect_success(&mut add);
    assert!(
        host.read("plugins.toml")
            .contains("beta = { path = \"plugins/beta\" }\n"),
        "{}",
        host.read("plugins.toml")
    );
    expect_success(&mut host.xtask(&["remove", "beta"]));

    let output = expect_failure(&mut host.xtask(&["remove", "alpha"]));
    assert_eq!(
        messages(&output),
        "error: `alpha` is not declared in plugins.toml; nothing to remove\n"
    );
}

#[test]
fn the_cache_is_overridable_and_cleanable() {
    let host = Host::new("the_cache_is_overridable_and_cleanable");
    let repo = plugin_repo("cached", "cached", "c");
    host.write(
        "plugins.toml",
        &format!("[plugins]\ncached = {{ git = \"{}\" }}\n", repo.url()),
    );
    // The flag wins over the environment variable (set by `host.xtask`).
    let flagged = host.root.with_extension("flag-cache");
    let _ = std::fs::remove_dir_all(&flagged);
    let flag = format!("--cache-dir={}", flagged.display());
    expect_success(&mut host.xtask(&["sync", &flag]));
    assert!(flagged.join("git/db").is_dir());
    assert!(!host.cache_dir().exists());

    let cache = |args: &[&str]| {
        let mut command = e2e::tool();
        command
            .env("PLUGIN_CACHE_DIR", &flagged)
            .arg("cache")
            .args(args);
        command
    };
    let output = expect_success(&mut cache(&["dir"]));
    assert_eq!(e2e::stdout(&output).trim(), flagged.display().to_string());
    let output = expect_success(&mut cache(&["clean"]));
    assert!(
        messages(&output).contains("Removed"),
        "{}",
        messages(&output)
    );
    assert!(!flagged.join("git").exists());
    let output = expect_success(&mut cache(&["clean"]));
    assert!(
        messages(&output).contains("is empty"),
        "{}",
        messages(&output)
    );

    // Nothing cached and the copy gone: offline cannot restore it.
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    let output = expect_failure(&mut host.xtask(&["sync", "--offline", &flag]));
    assert!(
        messages(&output).contains("is not in the cache"),
        "{}",
        messages(&output)
    );
}

#[test]
fn without_git_on_path_local_fetches_say_so_and_write_nothing() {
    let repo = plugin_repo("no-git", "no-git", "n");
    let host = Host::new("without_git_on_path");
    host.write(
        "plugins.toml",
        &format!("[plugins]\nno-git = {{ git = \"{}\" }}\n", repo.url()),
    );
    let before = host.snapshot();
    let empty = host.root.with_extension("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let output = expect_failure(host.xtask(&["sync"]).env("PATH", &empty));
    assert_eq!(
        messages(&output),
        format!(
            "error: plugin `no-git` in plugins.toml ({}, default branch)\n\nCaused by:\n  \
             fetching from a local repository needs `git` on PATH (gix runs `git upload-pack` \
             for file:// and path URLs); install git or put it on PATH\n",
            repo.url()
        )
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_repository_of_many_files_is_checked_out_exactly_by_several_threads() {
    // More files than one checkout thread takes, in nested directories,
    // with an executable and a symlink among them.
    let repo = plugin_repo("many-files", "many", "m");
    for i in 0..700 {
        repo.write(&format!("data/d{}/f{i}.txt", i % 7), &format!("file {i}\n"));
    }
    std::fs::write(repo.dir.join("data/run.sh"), "#!/bin/sh\n").unwrap();
    let mut permissions = std::fs::metadata(repo.dir.join("data/run.sh"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(repo.dir.join("data/run.sh"), permissions).unwrap();
    std::os::unix::fs::symlink("d0/f0.txt", repo.dir.join("data/link")).unwrap();
    repo.commit("many files");
    let host = Host::new("many_files");
    host.write(
        "plugins.toml",
        &format!("[plugins]\nmany = {{ git = \"{}\" }}\n", repo.url()),
    );
    expect_success(&mut host.xtask(&["sync"]));
    // verify hashes every file of the copy against the lock's checksum,
    // which came from the git objects.
    expect_success(&mut host.xtask(&["verify"]));
    let copy = std::fs::read_dir(host.path("plugin-sources"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    for i in [0, 349, 699] {
        assert_eq!(
            std::fs::read_to_string(copy.join(format!("data/d{}/f{i}.txt", i % 7))).unwrap(),
            format!("file {i}\n")
        );
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(copy.join("data/run.sh"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o111, 0o111);
    assert_eq!(
        std::fs::read_link(copy.join("data/link")).unwrap(),
        std::path::Path::new("d0/f0.txt")
    );
}

#[test]
fn a_cache_directory_the_tool_did_not_make_is_neither_written_nor_cleaned() {
    let host = Host::new("foreign_cache_dir");
    let repo = plugin_repo("foreign-cache", "foreign-cache", "f");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nforeign-cache = {{ git = \"{}\" }}\n",
            repo.url()
        ),
    );
    // Someone's own directory, named as the cache by mistake.
    let theirs = host.root.with_extension("theirs");
    let _ = std::fs::remove_dir_all(&theirs);
    e2e::write_file(&theirs.join("git/notes.txt"), "mine\n");
    let flag = format!("--cache-dir={}", theirs.display());
    let before = (host.snapshot(), e2e::snapshot(&theirs, &["."]));
    let output = expect_failure(&mut host.xtask(&["sync", &flag]));
    assert!(
        messages(&output)
            .contains("is not empty and has no CACHEDIR.TAG: it is not a cache this tool made"),
        "{}",
        messages(&output)
    );
    let mut clean = e2e::tool();
    clean.args(["cache", "clean", &flag]);
    let output = expect_failure(&mut clean);
    assert!(
        messages(&output).contains("it is not a cache this tool made, so nothing in it is removed"),
        "{}",
        messages(&output)
    );
    assert_unchanged(&before.0, &host.snapshot());
    assert_unchanged(&before.1, &e2e::snapshot(&theirs, &["."]));

    // A new directory becomes a tagged cache, which clean empties.
    let fresh = host.root.with_extension("fresh-cache");
    let _ = std::fs::remove_dir_all(&fresh);
    let flag = format!("--cache-dir={}", fresh.display());
    expect_success(&mut host.xtask(&["sync", &flag]));
    let tag = std::fs::read_to_string(fresh.join("CACHEDIR.TAG")).unwrap();
    assert!(
        tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55\n"),
        "{tag}"
    );
    let mut clean = e2e::tool();
    clean.args(["cache", "clean", &flag]);
    expect_success(&mut clean);
    assert!(!fresh.join("git").exists());
}

/// The commit and checksum plugins.lock records for `name`.
fn pinned(host: &Host, name: &str) -> (String, String) {
    let entry = lock_entry(host, name);
    let field = |key: &str| {
        entry
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
            .map(|v| v.trim_end_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{key} in {entry}"))
    };
    let source = field("source");
    let commit = source.rsplit('#').next().expect("a commit").to_owned();
    (commit, field("checksum"))
}

/// A lock entry is honoured only for a commit its declaration reaches: an
/// edit of plugins.lock alone (as a pull request can make) pinning another
/// commit the server serves is refused under --locked and repinned, with a
/// warning, otherwise, on a machine that has never fetched it.
#[test]
fn a_lock_pinning_a_commit_its_declaration_never_reached_is_refused_or_repinned() {
    let repo = plugin_repo("unreached", "unreached", "good");
    let tagged = repo.head();
    repo.git(&["tag", "v1"]);
    // A commit on a branch of its own, neither tagged nor on main.
    repo.git(&["checkout", "--quiet", "-b", "evil"]);
    change_filter(&repo, "unreached", "evil");
    repo.git(&["checkout", "--quiet", "main"]);
    let older = repo.head();
    let newer = change_filter(&repo, "unreached", "newer");
    // A host of `name` declaring `unreached` as `declared`, synced: with
    // the commit and checksum its lock pins.
    let synced = |name: &str, declared: &str| {
        let host = Host::new(name);
        host.write(
            "plugins.toml",
            &format!(
                "[plugins]\nunreached = {{ git = \"{}\", {declared} }}\n",
                repo.url()
            ),
        );
        expect_success(&mut host.xtask(&["sync"]));
        let (commit, checksum) = pinned(&host, "unreached");
        (host, commit, checksum)
    };
    // The forger's lock entry: what a host declaring the evil branch pins.
    let (_, evil, evil_checksum) = synced("unreached_forger", "branch = \"evil\"");

    for (case, declared, honest) in [
        ("tag", "tag = \"v1\"", tagged.as_str()),
        ("branch", "branch = \"main\"", newer.as_str()),
    ] {
        let (host, commit, checksum) = synced(&format!("unreached_{case}"), declared);
        assert_eq!(commit, honest, "{case}");
        let forged = host
            .read("plugins.lock")
            .replace(&commit, &evil)
            .replace(&checksum, &evil_checksum);
        host.write("plugins.lock", &forged);
        // verify, from the refs the cache holds, sees it at once for the
        // tag; the branch's history in the cache is one commit deep, so it
        // says it cannot tell.
        let output = expect_failure(&mut host.xtask(&["verify"]));
        let said = if case == "tag" {
            format!(
                "plugin `unreached`: plugins.lock pins {evil}, which its tag `v1` does not reach \
                 (it names {honest} in the cache)"
            )
        } else {
            "Note the cache cannot tell whether the declarations of unreached reach their locked \
             commits"
                .to_owned()
        };
        assert!(
            messages(&output).contains(&said),
            "{case}: {}",
            messages(&output)
        );
        // A fresh machine: no copy of the plugin, no cache.
        std::fs::remove_dir_all(host.path("plugin-sources")).expect("remove plugin-sources");
        std::fs::remove_dir_all(host.cache_dir()).expect("remove the cache");
        let reference = match case {
            "tag" => "tag `v1`",
            _ => "branch `main`",
        };
        let expected = format!(
            "plugins.lock pins plugin `unreached` ({}) at {evil}, which its {reference} does \
             not reach (it names {honest})",
            repo.url()
        );
        let before = host.snapshot();
        let output = expect_failure(&mut host.xtask(&["sync", "--locked"]));
        assert!(
            messages(&output).contains(&format!("error: {expected}")),
            "{case}: {}",
            messages(&output)
        );
        assert_unchanged(&before, &host.snapshot());

        let output = expect_success(&mut host.xtask(&["sync"]));
        assert!(
            messages(&output).contains(&format!("warning: {expected}")),
            "{case}: {}",
            messages(&output)
        );
        assert_eq!(pinned(&host, "unreached").0, honest, "{case}: repinned");
        expect_success(&mut host.xtask(&["verify"]));
    }

    // An older commit of the branch is reached: a fresh machine syncs the
    // lock as it is.
    let (host, commit, checksum) = synced("unreached_older", "branch = \"main\"");
    let (_, _, older_checksum) = synced("unreached_older_source", &format!("rev = \"{older}\""));
    host.write(
        "plugins.lock",
        &host
            .read("plugins.lock")
            .replace(&commit, &older)
            .replace(&checksum, &older_checksum),
    );
    std::fs::remove_dir_all(host.path("plugin-sources")).expect("remove plugin-sources");
    std::fs::remove_dir_all(host.cache_dir()).expect("remove the cache");
    expect_success(&mut host.xtask(&["sync", "--locked"]));
    assert_eq!(pinned(&host, "unreached").0, older);
}
