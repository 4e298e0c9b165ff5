//! `cargo xtask lint`: a fresh `new-plugin` crate passes; each broken crate
//! fails naming the precise check; `--json` is parsed; `--git` lints a tag
//! and catches an id changed since the previous tag.

use std::path::Path;
use std::process::Command;

use e2e::{
    GitRepo, Host, PluginCrate, expect_success, messages, shared_target_dir, write_file,
    write_plugin,
};

/// What the tool left in `dir` (its temporary directories are named
/// `plugin-…`; rustc and cargo, which lint runs, keep their own there).
fn left_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read TMPDIR")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("plugin-"))
        .collect()
}

type Linted = (bool, Vec<(String, String, String)>, serde_json::Value);

/// `lint <args> --json` in `host`: exit success, and `{check: (status,
/// message)}`.
fn lint(host: &Host, args: &[&str]) -> Linted {
    lint_command(host.xtask(&["lint", "--json"]), args)
}

/// [`lint`] with its temporary directories in `temp`.
fn lint_in(host: &Host, temp: &Path, args: &[&str]) -> Linted {
    let mut command = host.xtask(&["lint", "--json"]);
    command.env("TMPDIR", temp);
    lint_command(command, args)
}

fn lint_command(mut command: Command, args: &[&str]) -> Linted {
    // Throwaway hosts build in the shared target directory.
    command
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .args(args);
    let output = command.output().expect("xtask runs");
    let text = String::from_utf8(output.stdout.clone()).expect("UTF-8");
    let document: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", messages(&output)));
    let checks = document["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["status"].as_str().expect("status").to_owned(),
                c["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect();
    (output.status.success(), checks, document)
}

/// The status and message of check `name`.
fn check<'a>(checks: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    checks
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, s, m)| (s.as_str(), m.as_str()))
        .unwrap_or_else(|| panic!("no check `{name}` in {checks:?}"))
}

/// Only `name` fails, with a message containing `expected`.
fn fails_only(
    result: &(bool, Vec<(String, String, String)>, serde_json::Value),
    name: &str,
    expected: &str,
) {
    let (ok, checks, _) = result;
    assert!(!ok, "lint passed: {checks:?}");
    let (status, message) = check(checks, name);
    assert_eq!(status, "fail", "{name}: {checks:?}");
    assert!(message.contains(expected), "{name}: {message}");
    let failing: Vec<&str> = checks
        .iter()
        .filter(|(_, s, _)| s == "fail")
        .map(|(n, _, _)| n.as_str())
        .collect();
    assert!(
        failing.iter().all(|n| *n == name || *n == "builds"),
        "{failing:?}"
    );
}

fn with_metadata(dir: &Path) {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
    let text = text.replacen(
        "publish = false\n",
        "publish = false\nlicense = \"MIT\"\ndescription = \"A test plugin\"\n",
        1,
    );
    std::fs::write(manifest, text).expect("write Cargo.toml");
}

/// A host with no plugin yet and the `[patch.crates-io]` for static-plugins-api
/// that `init` gives (plugins depending on it by version use the host's).
fn patched_host(name: &str) -> Host {
    let host = Host::new(name);
    let manifest = host.read("Cargo.toml");
    host.write(
        "Cargo.toml",
        &format!(
            "{manifest}\n[patch.crates-io]\nstatic-plugins-api = {{ path = {:?} }}\n",
            e2e::repo_root().join("plugin-api")
        ),
    );
    host.write("plugins.toml", "[plugins]\n");
    expect_success(&mut host.xtask(&["sync"]));
    host
}

#[test]
fn lint_passes_a_new_plugin_and_names_what_fails_in_each_broken_crate() {
    let host = patched_host("lint");
    expect_success(&mut host.xtask(&["sync"]));
    let dir = |name: &str| e2e::hosts_dir().join("lint.crates").join(name);
    let _ = std::fs::remove_dir_all(dir(""));

    // A fresh scaffold passes every check.
    let fresh = dir("fresh-plugin");
    expect_success(&mut host.xtask(&[
        "new-plugin",
        "fresh-plugin",
        "--path",
        &fresh.display().to_string(),
    ]));
    let (ok, checks, document) = lint(&host, &[&fresh.display().to_string()]);
    assert!(ok, "{checks:?}");
    assert_eq!(document["crate"], "fresh-plugin");
    assert_eq!(document["version"], "0.1.0");
    for name in [
        "library",
        "api",
        "metadata",
        "build-script",
        "builds",
        "registers",
        "ids",
        "proc-macros",
        "id-stable",
    ] {
        assert_eq!(check(&checks, name).0, "pass", "{name}: {checks:?}");
    }
    assert_eq!(check(&checks, "registers").1, "registers fresh-plugin");
    // The human form says the same.
    let human = expect_success(
        host.xtask(&["lint", &fresh.display().to_string()])
            .env("CARGO_TARGET_DIR", shared_target_dir()),
    );
    assert!(e2e::stdout(&human).contains("  pass  registers     registers fresh-plugin"));

    // A plain library crate: no static-plugins-api.
    let plain = dir("plain");
    write_file(
        &plain.join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\nlicense = \"MIT\"\n\
         description = \"Not a plugin\"\n\n[workspace]\n",
    );
    write_file(&plain.join("src/lib.rs"), "pub fn f() {}\n");
    fails_only(
        &lint(&host, &[&plain.display().to_string()]),
        "api",
        "does not depend on static-plugins-api",
    );

    // Another major of static-plugins-api.
    let major = dir("next-major");
    write_file(
        &major.join("Cargo.toml"),
        "[package]\nname = \"next-major\"\nversion = \"0.1.0\"\nedition = \"2024\"\nlicense = \"MIT\"\n\
         description = \"For static-plugins-api 0.3\"\n\n[dependencies]\nstatic-plugins-api = \"0.3\"\n\n[workspace]\n",
    );
    write_file(&major.join("src/lib.rs"), "pub fn f() {}\n");
    fails_only(
        &lint(&host, &[&major.display().to_string()]),
        "api",
        "crate `next-major` requires static-plugins-api `0.3`, but the host has static-plugins-api 0.2.0",
    );

    // `#[plugin]` forgotten.
    let unmarked = dir("unmarked");
    write_plugin(
        &unmarked,
        &PluginCrate {
            id: None,
            filters: &[("unmarked", None)],
            ..PluginCrate::new("unmarked", "unmarked")
        },
    );
    with_metadata(&unmarked);
    fails_only(
        &lint(&host, &[&unmarked.display().to_string()]),
        "registers",
        "registers no plugin: mark the plugin type with `#[plugin(id = \"…\")]`",
    );

    // One id registered twice.
    let twice = dir("twice");
    write_plugin(&twice, &PluginCrate::new("twice", "twice"));
    with_metadata(&twice);
    let lib = twice.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).expect("lib.rs");
    std::fs::write(
        &lib,
        format!(
            "{text}\n#[plugin_api::plugin(id = \"twice\")]\n#[derive(Default)]\npub struct Q;\n\n\
             impl plugin_api::Plugin for Q {{\n    fn register(&self, _: &mut plugin_api::Registrar<'_>) {{}}\n}}\n"
        ),
    )
    .expect("write lib.rs");
    fails_only(
        &lint(&host, &[&twice.display().to_string()]),
        "ids",
        "registers id `twice` more than once",
    );

    // Missing license and description; a build script warns.
    let bare = dir("bare");
    write_plugin(&bare, &PluginCrate::new("bare", "bare"));
    write_file(&bare.join("build.rs"), "fn main() {}\n");
    let result = lint(&host, &[&bare.display().to_string()]);
    fails_only(
        &result,
        "metadata",
        "[package] lacks `license` (or `license-file`) and `description`",
    );
    assert_eq!(check(&result.1, "build-script").0, "warn");
}

#[test]
fn lint_from_git_catches_an_id_changed_since_the_previous_tag() {
    let host = patched_host("lint_git");
    expect_success(&mut host.xtask(&["sync"]));
    let repo = GitRepo::with_plugin("lint-git", "renamed", "renamed");
    with_metadata(&repo.dir);
    repo.commit("metadata");
    repo.git(&["tag", "v1"]);
    let lib = repo.dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).expect("lib.rs");
    std::fs::write(&lib, text.replace("id = \"renamed\"", "id = \"renamed-2\"")).expect("write");
    repo.commit("new id");
    repo.git(&["tag", "v2"]);
    // Lint's temporary directories go here, to be seen gone.
    let temp = e2e::hosts_dir().join("lint_git.tmp");
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).expect("create TMPDIR");

    // What cannot be linted is an error, not a report.
    for (args, expected) in [
        (
            vec!["/nonexistent/plugin".to_owned()],
            "/nonexistent/plugin does not exist".to_owned(),
        ),
        (
            vec![e2e::hosts_dir().display().to_string()],
            "has no Cargo.toml: give the directory of a plugin crate".to_owned(),
        ),
        (
            vec!["--git".to_owned(), "file:///nonexistent/repo".to_owned()],
            "failed to fetch file:///nonexistent/repo".to_owned(),
        ),
        (
            vec![
                "--git".to_owned(),
                repo.url(),
                "--tag".to_owned(),
                "v9".to_owned(),
            ],
            "the remote has no tag `v9`".to_owned(),
        ),
    ] {
        let mut command = host.xtask(&["lint"]);
        let output = command
            .env("TMPDIR", &temp)
            .args(&args)
            .output()
            .expect("xtask runs");
        assert_eq!(
            left_in(&temp),
            Vec::<String>::new(),
            "{args:?}: nothing left"
        );
        assert!(!output.status.success(), "{args:?}");
        assert!(
            messages(&output).starts_with("error: ") && messages(&output).contains(&expected),
            "{args:?}: {}",
            messages(&output)
        );
    }
    let (ok, checks, _) = lint(&host, &["--git", &repo.url(), "--tag", "v1"]);
    assert!(ok, "{checks:?}");
    let (ok, checks, _) = lint_in(&host, &temp, &["--git", &repo.url(), "--tag", "v1"]);
    assert!(ok, "{checks:?}");
    assert_eq!(
        left_in(&temp),
        Vec::<String>::new(),
        "nothing left after a lint"
    );
    assert_eq!(
        check(&checks, "id-stable").1,
        "no previous tag to compare with"
    );
    let result = lint(&host, &["--git", &repo.url(), "--tag", "v2"]);
    fails_only(
        &result,
        "id-stable",
        "ids changed since tag v1: [renamed] became [renamed-2]",
    );
    assert_eq!(check(&result.1, "registers").1, "registers renamed-2");
}

/// Ctrl-C while `lint --git` builds (a terminal sends SIGINT to the whole
/// process group): the private temporary directory holding the clone is
/// removed and the exit status is 130. The plugin's build script says when
/// the build has started and then waits, so the interrupt always comes
/// while the clone is there.
#[test]
fn an_interrupted_lint_removes_its_private_clone() {
    use std::os::unix::process::CommandExt as _;
    let host = patched_host("lint_interrupted");
    let repo = GitRepo::with_plugin("lint-interrupted", "interrupted", "interrupted");
    with_metadata(&repo.dir);
    write_file(
        &repo.dir.join("build.rs"),
        "fn main() {\n    println!(\"cargo:rerun-if-env-changed=E2E_LINT_NONCE\");\n    \
         if let Some(started) = std::env::var_os(\"E2E_LINT_STARTED\") {\n        \
         std::fs::write(started, \"\").unwrap();\n        \
         // Held until interrupted; bounded so nothing outlives a broken test.\n        \
         std::thread::sleep(std::time::Duration::from_secs(120));\n    }\n}\n",
    );
    repo.commit("a build script that holds the build");
    let temp = e2e::hosts_dir().join("lint_interrupted.tmp");
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).expect("create TMPDIR");
    let started = e2e::hosts_dir().join("lint_interrupted.started");
    let _ = std::fs::remove_file(&started);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut command = host.xtask(&["lint", "--git", &repo.url()]);
    command
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env("TMPDIR", &temp)
        .env("E2E_LINT_STARTED", &started)
        .env("E2E_LINT_NONCE", nonce.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let mut child = command.spawn().expect("lint starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !started.exists() {
        if let Some(status) = child.try_wait().expect("wait") {
            let output = child.wait_with_output().expect("output");
            panic!(
                "lint ended before its build started ({status}): {}",
                messages(&output)
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the build never started"
        );
        // A poll interval, not a race fix: the file says when to go on.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let private: Vec<_> = left_in(&temp);
    assert_eq!(private.len(), 1, "{private:?}");
    let scratch = temp.join(&private[0]);
    assert!(
        scratch.join("clone/Cargo.toml").is_file(),
        "the clone is there"
    );
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&scratch)
            .expect("scratch")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "private to the user");
    }
    let group = format!("-{}", child.id());
    expect_success(Command::new("kill").args(["-INT", "--", &group]));
    let output = child.wait_with_output().expect("lint ends");
    assert_eq!(output.status.code(), Some(130), "{}", messages(&output));
    assert_eq!(left_in(&temp), Vec::<String>::new(), "nothing left");
}
