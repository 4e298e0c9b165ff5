//! Git plugin sources end to end: real repositories made here with git,
//! served over `file://`, synced with the real xtask (gix), built and run.

use e2e::{GitRepo, Host, PluginCrate, assert_unchanged, expect_failure, expect_success, stderr};

/// A repository whose root is plugin crate `package` with one filter.
fn plugin_repo(repo: &str, package: &str, filter: &str) -> GitRepo {
    let git = GitRepo::new(repo);
    git.plugin(
        ".",
        &PluginCrate {
            filters: &[(filter, None)],
            ..PluginCrate::new(package, package)
        },
    );
    git.commit("first");
    git
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
    assert!(
        host.read("plugin-set/Cargo.toml")
            .contains("light = { path = \"sources/light\" }")
    );
    assert_eq!(
        host.read("plugin-set/.gitignore").lines().last(),
        Some("/sources/")
    );

    // A second sync needs nothing: no network, no change, no rebuild.
    let before = host.snapshot();
    expect_success(&mut host.xtask(&["sync", "--offline"]));
    assert_unchanged(&before, &host.snapshot());
    let build = host.build(false);
    assert!(build.status.success(), "{}", stderr(&build));
    assert!(!stderr(&build).contains("Compiling"), "{}", stderr(&build));
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
        stderr(&output),
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
        stderr(&output).ends_with(
            "the repository has no crate named `three`; it has `one` in crates/one, `two` in crates/two, \
             `dupe` in new/dupe, `dupe` in old/dupe; set `package` or `subdir`\n"
        ),
        "{}",
        stderr(&output)
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
    assert!(stderr(&output).contains("plugins.lock needs to be updated but --locked was passed"));
    assert_unchanged(&before, &host.snapshot());

    let output = expect_success(&mut host.xtask(&["update"]));
    let log = stderr(&output);
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
    assert!(stderr(&output).contains("every plugin is at its newest commit"));
    assert_unchanged(&before, &host.snapshot());
    // Unknown names are an error.
    let output = expect_failure(&mut host.xtask(&["update", "nope"]));
    assert_eq!(
        stderr(&output),
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
        stderr(&output).contains(&format!("warning: {expected}")),
        "{}",
        stderr(&output)
    );
    assert_unchanged(&before, &host.snapshot());

    let output = expect_failure(&mut host.xtask(&["update", "--locked"]));
    assert_eq!(stderr(&output), format!("error: {expected}\n"));
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn offline_locked_and_frozen_never_fetch_and_fail_clearly() {
    let host = Host::new("offline_locked_and_frozen_never_fetch_and_fail_clearly");
    let repo = plugin_repo("offline", "offline", "o1");
    repo.git(&["tag", "v1"]);
    let url = repo.url();
    let manifest = format!("[plugins]\noffline = {{ git = \"{url}\", tag = \"v1\" }}\n");
    host.write("plugins.toml", &manifest);

    // Nothing cached, nothing locked: --offline and --frozen cannot proceed.
    for flag in ["--offline", "--frozen"] {
        let output = expect_failure(&mut host.xtask(&["sync", flag]));
        assert!(
            stderr(&output).ends_with(
                "tag `v1` is not pinned in plugins.lock yet and --offline forbids fetching it; \
                 run `cargo xtask sync` without --offline\n"
            ),
            "{flag}: {}",
            stderr(&output)
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
    std::fs::remove_dir_all(host.path("plugin-set/sources")).unwrap();
    expect_success(&mut host.xtask(&["sync", "--frozen"]));
    assert!(host.path("plugin-set/sources/offline/Cargo.toml").is_file());

    // With an empty cache too, --offline says what is missing and where.
    std::fs::remove_dir_all(host.cache_dir()).unwrap();
    std::fs::remove_dir_all(host.path("plugin-set/sources")).unwrap();
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync", "--offline"]));
    let log = stderr(&output);
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
    host.write(
        "plugins.toml",
        &format!("[plugins]\nverified = {{ git = \"{}\" }}\n", repo.url()),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let output = expect_success(&mut host.xtask(&["verify"]));
    assert!(stderr(&output).contains("Verified 1 git plugin match plugins.lock"));

    host.write("plugin-set/sources/verified/src/lib.rs", "// tampered\n");
    host.write("plugin-set/sources/verified/extra.rs", "\n");
    std::fs::remove_file(host.path("plugin-set/sources/verified/Cargo.toml")).unwrap();
    let output = expect_failure(&mut host.xtask(&["verify"]));
    assert_eq!(
        stderr(&output),
        format!(
            "error: plugin `verified`: files in {} differ from plugins.lock: Cargo.toml (missing), \
             src/lib.rs (modified), extra.rs (added)\n",
            host.root
                .canonicalize()
                .unwrap()
                .join("plugin-set/sources/verified")
                .display()
        )
    );
    expect_success(&mut host.xtask(&["sync", "--offline"]));
    expect_success(&mut host.xtask(&["verify"]));
    assert!(!host.path("plugin-set/sources/verified/extra.rs").exists());
}
