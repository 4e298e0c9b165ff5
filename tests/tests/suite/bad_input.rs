//! Every bad input makes `xtask sync` fail with a precise error and leaves
//! every file of the host untouched, whether or not it was synced before.

use e2e::{Host, PluginCrate, assert_unchanged, expect_failure, expect_success, stderr};

const GOOD: &str = "[plugins]\nalpha = { path = \"plugins/alpha\" }\n";

/// A host with plugin `alpha` (and a crate-less directory `plugins/empty`),
/// synced from [`GOOD`] when `synced`.
fn host(name: &str, synced: bool) -> Host {
    let host = Host::new(name);
    host.plugin("plugins/alpha", &PluginCrate::new("alpha", "alpha"));
    host.write("plugins/empty/README", "not a crate\n");
    host.write("plugins.toml", GOOD);
    if synced {
        expect_success(&mut host.xtask(&["sync"]));
    }
    host
}

/// Writes `files` into a fresh host, runs sync, and checks that it fails
/// with `expected` (where `{root}` is the host root) and changes nothing.
#[track_caller]
fn check(name: &str, files: &[(&str, &str)], args: &[&str], expected: &str) {
    for synced in [false, true] {
        let host = host(
            &format!("{name}_{}", if synced { "synced" } else { "fresh" }),
            synced,
        );
        for (path, contents) in files {
            host.write(path, contents);
        }
        let before = host.snapshot();
        let mut command = host.xtask(&[&["sync"], args].concat());
        let output = expect_failure(&mut command);
        let root = host.root.canonicalize().expect("host root exists");
        assert_eq!(
            stderr(&output),
            expected.replace("{root}", &root.display().to_string()),
            "synced before: {synced}"
        );
        assert_eq!(output.status.code(), Some(1));
        assert_unchanged(&before, &host.snapshot());
    }
}

#[test]
fn unknown_key_is_rejected_with_a_suggestion_and_nothing_written() {
    check(
        "unknown_key",
        &[(
            "plugins.toml",
            "[plugins]\nalpha = { pth = \"plugins/alpha\" }\n",
        )],
        &[],
        "error: {root}/plugins.toml:2:11: unknown key `pth` in plugin `alpha`; did you mean `path`?\n",
    );
}

#[test]
fn wrong_type_is_rejected_and_nothing_written() {
    check(
        "wrong_type",
        &[(
            "plugins.toml",
            "[plugins]\nalpha = { path = \"plugins/alpha\", enabled = \"yes\" }\n",
        )],
        &[],
        "error: {root}/plugins.toml:2:45: plugin `alpha`: `enabled` must be a boolean, found string\n",
    );
}

#[test]
fn invalid_toml_is_rejected_and_nothing_written() {
    check(
        "invalid_toml",
        &[(
            "plugins.toml",
            "[plugins]\nalpha = { path = \"plugins/alpha\"\n",
        )],
        &[],
        "error: {root}/plugins.toml:2:33: invalid TOML: unclosed inline table, expected `}`\n",
    );
}

#[test]
fn missing_path_is_rejected_and_nothing_written() {
    check(
        "missing_path",
        &[(
            "plugins.toml",
            "[plugins]\nalpha = { path = \"plugins/alpah\" }\n",
        )],
        &[],
        "error: plugin `alpha` in plugins.toml: path `plugins/alpah` does not exist ({root}/plugins/alpah)\n\n\
         Caused by:\n  No such file or directory (os error 2)\n",
    );
}

#[test]
fn directory_without_a_crate_is_rejected_and_nothing_written() {
    check(
        "not_a_crate",
        &[(
            "plugins.toml",
            "[plugins]\nalpha = { path = \"plugins/empty\" }\n",
        )],
        &[],
        "error: plugin `alpha` in plugins.toml\n\n\
         Caused by:\n  failed to read {root}/plugins/empty/Cargo.toml\n\n\
         Caused by:\n  No such file or directory (os error 2)\n",
    );
}

#[test]
fn wrong_package_name_is_rejected_with_the_fix_and_nothing_written() {
    check(
        "wrong_package",
        &[(
            "plugins.toml",
            "[plugins]\nalfa = { path = \"plugins/alpha\" }\n",
        )],
        &[],
        "error: plugin `alfa` in plugins.toml: {root}/plugins/alpha/Cargo.toml is package `alpha`, \
         not `alfa`; set `package = \"alpha\"`\n",
    );
}

#[test]
fn same_crate_declared_twice_is_rejected_and_nothing_written() {
    check(
        "declared_twice",
        &[(
            "plugins.toml",
            "[plugins]\nalpha = { path = \"plugins/alpha\" }\nagain = { path = \"plugins/../plugins/alpha\", package = \"alpha\" }\n",
        )],
        &[],
        "error: plugins `again` and `alpha` in plugins.toml both point at {root}/plugins/alpha; declare it once\n",
    );
}

#[test]
fn host_without_the_generated_member_is_rejected_and_nothing_written() {
    let repo = e2e::repo_root();
    let root_manifest = format!(
        "[workspace]\nmembers = [\"app\"]\n\n[workspace.dependencies]\nstatic-plugins-api = {{ path = {:?} }}\nstatic-plugins-build = {{ path = {:?} }}\n",
        repo.join("plugin-api"),
        repo.join("static-plugins-build")
    );
    check(
        "no_member",
        &[("Cargo.toml", &root_manifest)],
        &[],
        "error: {root}/Cargo.toml does not list the generated crate as a workspace member; \
         add \"plugin-set\" to `[workspace] members`\n",
    );
}

#[test]
fn host_without_build_support_dependency_is_rejected_and_nothing_written() {
    let repo = e2e::repo_root();
    let root_manifest = format!(
        "[workspace]\nmembers = [\"app\", \"plugin-set\"]\n\n[workspace.dependencies]\nstatic-plugins-api = {{ path = {:?} }}\n",
        repo.join("plugin-api"),
    );
    check(
        "no_build_support",
        &[("Cargo.toml", &root_manifest)],
        &[],
        "error: {root}/Cargo.toml has no `static-plugins-build` in `[workspace.dependencies]`; the generated \
         crate inherits it from there: add e.g. `static-plugins-build = { git = \"…\" }` or a path\n",
    );
}

#[test]
fn locked_sync_that_would_change_the_lock_fails_and_writes_nothing() {
    let host = host("locked_fails", true);
    host.plugin("plugins/beta", &PluginCrate::new("beta", "beta"));
    host.write(
        "plugins.toml",
        &format!("{GOOD}beta = {{ path = \"plugins/beta\" }}\n"),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync", "--locked"]));
    assert_eq!(
        stderr(&output),
        "error: plugins.lock needs to be updated but --locked was passed to prevent this; \
         run `cargo xtask sync` without --locked\n"
    );
    assert_unchanged(&before, &host.snapshot());
    // --frozen implies --locked.
    expect_failure(&mut host.xtask(&["sync", "--frozen"]));
    assert_unchanged(&before, &host.snapshot());
    // Unchanged declarations pass --locked.
    host.write("plugins.toml", GOOD);
    expect_success(&mut host.xtask(&["sync", "--locked"]));
}

#[test]
fn manifest_path_and_missing_plugins_toml_are_clear_errors() {
    let host = host("manifest_path_errors", false);
    let mut command = e2e::tool();
    command
        .args(["sync", "--manifest-path"])
        .arg(host.path("plugins.toml"));
    let output = expect_failure(&mut command);
    assert_eq!(
        stderr(&output),
        format!(
            "error: --manifest-path must point at a Cargo.toml, got {}\n",
            host.path("plugins.toml").display()
        )
    );
    let mut command = e2e::tool();
    command
        .args(["sync", "--manifest-path"])
        .arg(host.path("nope/Cargo.toml"));
    let output = expect_failure(&mut command);
    assert_eq!(
        stderr(&output),
        format!(
            "error: manifest path {} does not exist\n",
            host.path("nope/Cargo.toml").display()
        )
    );
    // No plugins.toml at or above the current directory.
    let outside = e2e::hosts_dir().join("no_plugins_toml_here");
    std::fs::create_dir_all(&outside).unwrap();
    let mut command = e2e::tool();
    command.current_dir(&outside).arg("sync");
    let output = expect_failure(&mut command);
    assert_eq!(
        stderr(&output),
        format!(
            "error: could not find plugins.toml in {} or any parent directory; create one with a \
             `[plugins]` table, or pass --manifest-path\n",
            outside.canonicalize().unwrap().display()
        )
    );
}

#[test]
fn a_broken_lock_is_rewritten_but_refused_with_locked() {
    let host = host("broken_lock", true);
    host.write("plugins.lock", "version = 7\n");
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync", "--locked"]));
    let root = host.root.canonicalize().unwrap();
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}/plugins.lock:1:11: lockfile version 7 is not supported (this tool reads \
             version 1); run `cargo xtask sync` to rewrite it\n",
            root.display()
        )
    );
    assert_unchanged(&before, &host.snapshot());
    let output = expect_success(&mut host.xtask(&["sync"]));
    assert!(
        stderr(&output).starts_with("warning: ignoring plugins.lock: "),
        "{}",
        stderr(&output)
    );
    assert!(host.read("plugins.lock").contains("version = 1\n"));
    expect_success(&mut host.xtask(&["sync", "--locked"]));
}

#[test]
fn verify_without_a_lock_and_new_plugin_with_a_bad_name_fail_clearly() {
    let host = host("verify_without_lock", false);
    let output = expect_failure(&mut host.xtask(&["verify"]));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}/plugins.lock is missing: nothing to verify; run `cargo xtask sync` first\n",
            host.root.canonicalize().unwrap().display()
        )
    );
    let mut command = e2e::tool();
    command
        .args(["new-plugin", "Bad Name", "--path"])
        .arg(host.path("bad"));
    let output = expect_failure(&mut command);
    assert_eq!(
        stderr(&output),
        "error: invalid plugin name `Bad Name`: use lowercase ASCII letters, digits, `-` and `_`, \
         starting with a letter (it is both the crate name and the plugin id)\n"
    );
    assert!(!host.path("bad").exists());
}

/// `run` and `dist` build the one binary that depends on the generated
/// crate; with several and no `--package`, they name them and stop.
#[test]
fn the_host_binary_is_inferred_or_asked_for() {
    let host = host("binary_inference", true);
    let manifest = host.read("Cargo.toml").replace(
        "members = [\"app\", \"plugin-set\"]",
        "members = [\"app\", \"other\", \"plugin-set\"]",
    );
    host.write("Cargo.toml", &manifest);
    host.write(
        "other/Cargo.toml",
        "[package]\nname = \"other-bin\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nplugin-set = { path = \"../plugin-set\" }\n",
    );
    host.write("other/src/main.rs", "fn main() {}\n");
    for task in ["run", "dist"] {
        let before = host.snapshot();
        let output = expect_failure(&mut host.xtask(&[task]));
        assert!(
            stderr(&output).contains(&format!(
                "several host packages have a binary that depends on `plugin-set` ({}, \
                 other-bin); choose one with --package",
                host.app
            )),
            "{task}: {}",
            stderr(&output)
        );
        assert_unchanged(&before, &host.snapshot());
    }
}

#[test]
fn a_plugin_version_that_is_not_semver_is_rejected_and_nothing_written() {
    check(
        "not_semver",
        &[(
            "plugins/alpha/Cargo.toml",
            "[package]\nname = \"alpha\"\nversion = \"one\"\nedition = \"2024\"\n\n\
                 [dependencies]\nstatic-plugins-api.workspace = true\n",
        )],
        &[],
        "error: plugin `alpha` in plugins.toml\n\nCaused by:\n  \
         {root}/plugins/alpha/Cargo.toml has version `one`, which is not a semver version\n\n\
         Caused by:\n  unexpected character 'o' while parsing major version number\n",
    );
}

#[test]
fn a_zero_or_unknown_flag_value_is_refused_by_the_command_line() {
    let host = host("bad_flags", true);
    for args in [
        &["sync", "--jobs", "0"][..],
        &["sync", "--message-format", "xml"],
    ] {
        let before = host.snapshot();
        let output = expect_failure(&mut host.xtask(args));
        assert!(
            stderr(&output).starts_with("error: invalid value"),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(output.status.code(), Some(2), "clap's usage status");
        assert_unchanged(&before, &host.snapshot());
    }
}

#[test]
fn broken_environment_settings_are_errors_not_defaults_and_nothing_written() {
    let host = host("bad_environment", true);
    let before = host.snapshot();
    // A fetcher switch that is neither true nor false.
    let output = expect_failure(
        host.xtask(&["sync"])
            .env("PLUGIN_GIT_FETCH_WITH_CLI", "maybe"),
    );
    assert!(
        stderr(&output).starts_with("error: PLUGIN_GIT_FETCH_WITH_CLI must be `true` or `false`"),
        "{}",
        stderr(&output)
    );
    assert_unchanged(&before, &host.snapshot());
    // A SOURCE_DATE_EPOCH that is not a number of seconds: no SBOM, rather
    // than one with a made-up time.
    let sbom = host.path("bom.cdx.json").display().to_string();
    let output = expect_failure(
        host.xtask(&["sbom", "--output", &sbom])
            .env("SOURCE_DATE_EPOCH", "yesterday"),
    );
    assert!(
        stderr(&output).contains("SOURCE_DATE_EPOCH is `yesterday`, not a number of seconds"),
        "{}",
        stderr(&output)
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_proc_macro_crate_is_not_a_plugin_and_nothing_written() {
    check(
        "proc_macro_plugin",
        &[(
            "plugins/alpha/Cargo.toml",
            "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [lib]\nproc-macro = true\n\n[dependencies]\nstatic-plugins-api.workspace = true\n",
        )],
        &[],
        "error: plugin `alpha` in plugins.toml\n\nCaused by:\n  \
         crate `alpha` ({root}/plugins/alpha/Cargo.toml) is a proc-macro crate, not a library \
         a host can link\n",
    );
}

#[test]
fn a_path_plugin_inside_plugin_sources_is_refused_and_nothing_written() {
    check(
        "path_in_sources",
        &[
            (
                "plugin-sources/mine/Cargo.toml",
                "[package]\nname = \"mine\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\nstatic-plugins-api.workspace = true\n",
            ),
            ("plugin-sources/mine/src/lib.rs", "//! Mine.\n"),
            (
                "plugins.toml",
                "[plugins]\nalpha = { path = \"plugins/alpha\" }\nmine = { path = \"plugin-sources/mine\" }\n",
            ),
        ],
        &[],
        "error: plugin `mine` in plugins.toml: path `plugin-sources/mine` is inside \
         plugin-sources/, which sync owns and prunes; declare the plugin's git repository \
         instead, or keep the crate elsewhere\n",
    );
}

#[test]
fn a_symlinked_generated_crate_directory_is_not_written_through() {
    for dir in ["plugin-set", "plugin-set/src"] {
        let host = host(&format!("symlinked_{}", dir.replace('/', "_")), true);
        let elsewhere = host.root.with_extension("elsewhere");
        let _ = std::fs::remove_dir_all(&elsewhere);
        std::fs::rename(host.path(dir), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, host.path(dir)).unwrap();
        // A change that sync would write into the generated crate.
        host.plugin("plugins/beta", &PluginCrate::new("beta", "beta"));
        host.write(
            "plugins.toml",
            &format!("{GOOD}beta = {{ path = \"plugins/beta\" }}\n"),
        );
        let before = host.snapshot();
        let outside = e2e::snapshot(&elsewhere, &["."]);
        let output = expect_failure(&mut host.xtask(&["sync"]));
        let root = host.root.canonicalize().unwrap();
        assert_eq!(
            stderr(&output),
            format!(
                "error: {}/{dir} is a symlink; sync writes {} there and will not follow or \
                 replace it: move it away and sync again\n",
                root.display(),
                if dir == "plugin-set" {
                    "the generated crate"
                } else {
                    "the generated crate's sources"
                }
            )
        );
        assert_unchanged(&before, &host.snapshot());
        assert_unchanged(&outside, &e2e::snapshot(&elsewhere, &["."]));
    }
}

#[test]
fn an_oversized_manifest_or_lock_is_refused_before_it_is_read_and_nothing_written() {
    let padding = format!("# {}\n", "x".repeat(1 << 20));
    check(
        "huge_manifest",
        &[("plugins.toml", &format!("{padding}{GOOD}"))],
        &[],
        "error: failed to read {root}/plugins.toml\n\nCaused by:\n  it is larger than 1 MiB, \
         the most read\n",
    );
    let padding = format!("# {}\n", "x".repeat(2 << 20));
    check(
        "huge_lock",
        &[("plugins.lock", &padding)],
        &[],
        "error: failed to read {root}/plugins.lock\n\nCaused by:\n  it is larger than 2 MiB, \
         the most read\n",
    );
}

/// The same crate declared twice is found from plugins.toml alone, before
/// anything is fetched: the repository here cannot be reached at all, and
/// the error is the duplicate, not the network.
#[test]
fn identical_git_declarations_are_refused_before_any_fetch() {
    check(
        "identical_git",
        &[(
            "plugins.toml",
            "[plugins]\na = { git = \"http://127.0.0.1:1/x.git\", tag = \"v1\", package = \"p\" }\n\
             b = { git = \"http://127.0.0.1:1/x\", tag = \"v1\", package = \"p\" }\n",
        )],
        &[],
        "error: plugins `a` and `b` in plugins.toml both point at http://127.0.0.1:1/x; declare it once\n",
    );
}

/// The cache is located only when a git plugin needs it: a host of path
/// plugins syncs with no HOME (as in some CI containers); a git plugin
/// then says what to set.
#[test]
fn a_host_of_path_plugins_syncs_without_home_and_a_git_plugin_says_what_to_set() {
    let host = host("no_home", false);
    let without_home = |args: &[&str]| {
        let mut command = host.xtask(args);
        command
            .env_remove("HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("LOCALAPPDATA")
            .env_remove("PLUGIN_CACHE_DIR");
        command
    };
    expect_success(&mut without_home(&["sync"]));
    assert!(host.read("plugins.lock").contains("name = \"alpha\""));
    expect_success(&mut without_home(&["verify"]));
    host.write(
        "plugins.toml",
        &format!("{GOOD}far = {{ git = \"file:///nonexistent/far\", tag = \"v1\" }}\n"),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut without_home(&["sync"]));
    assert!(
        stderr(&output).contains(
            "cannot find a cache directory for git plugins (no HOME, XDG_CACHE_HOME or \
             LOCALAPPDATA): set PLUGIN_CACHE_DIR or pass --cache-dir"
        ),
        "{}",
        stderr(&output)
    );
    assert_unchanged(&before, &host.snapshot());
}

/// A task accepts only the flags it honours: `dist` and `sbom` always sync
/// `--locked` (so they take no `--locked`), and `run`'s stdout is the
/// program's (so no JSON report is mixed into it).
#[test]
fn a_task_refuses_the_flags_it_would_ignore() {
    let host = host("task_flags", false);
    for args in [
        &["dist", "--locked"][..],
        &["sbom", "--locked"][..],
        &["run", "--message-format", "json"][..],
    ] {
        let output = expect_failure(&mut host.xtask(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(&format!("unexpected argument '{}'", args[1])),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}
