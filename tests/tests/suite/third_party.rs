//! Third-party plugins: however a plugin depends on static-plugins-api, the host's
//! static-plugins-api is the one it gets, or sync says why not and what to add.

use e2e::{
    GitRepo, Host, PluginCrate, assert_unchanged, expect_failure, expect_success, messages,
    write_file,
};

/// A plugin crate in a git repository that depends on static-plugins-api as `dep`
/// (a TOML value) instead of by path.
fn repo_with_api_dep(name: &str, dep: &str) -> GitRepo {
    repo_with_api_line(name, &format!("static-plugins-api = {dep}"))
}

/// A plugin crate in a git repository whose dependency on the API crate is
/// the manifest line `line`, tagged `v1`.
fn repo_with_api_line(name: &str, line: &str) -> GitRepo {
    let repo = GitRepo::new(name);
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[(name, None)],
            ..PluginCrate::new(name, name)
        },
    );
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
    write_file(
        &repo.dir.join("Cargo.toml"),
        &with_api_line(&manifest, line),
    );
    repo.commit("plugin");
    repo.git(&["tag", "v1"]);
    repo
}

/// A git repository holding a crate named `static-plugins-api` that is not the
/// host's.
fn foreign_plugin_api(name: &str) -> GitRepo {
    let repo = GitRepo::new(name);
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"static-plugins-api\"\nversion = \"0.2.0\"\nedition = \"2024\"\n",
    );
    repo.write("src/lib.rs", "//! Not the host's static-plugins-api.\n");
    repo.commit("another static-plugins-api");
    repo
}

/// `manifest` with its `static-plugins-api = …` line replaced by `line`.
fn with_api_line(manifest: &str, line: &str) -> String {
    let start = manifest
        .find("static-plugins-api = ")
        .expect("a static-plugins-api dependency");
    let end = start + manifest[start..].find('\n').expect("a line end");
    format!("{}{line}{}", &manifest[..start], &manifest[end..])
}

fn declare(host: &Host, repos: &[&GitRepo]) {
    let entries: String = repos
        .iter()
        .map(|r| {
            let name = r.dir.file_name().unwrap().to_str().unwrap();
            format!("{name} = {{ git = \"{}\", tag = \"v1\" }}\n", r.url())
        })
        .collect();
    host.write("plugins.toml", &format!("[plugins]\n{entries}"));
}

fn add_patch(host: &Host, source: &str) {
    let root = host.read("Cargo.toml");
    let api = e2e::repo_root().join("plugin-api");
    host.write(
        "Cargo.toml",
        &format!("{root}\n[patch.{source}]\nstatic-plugins-api = {{ path = {api:?} }}\n"),
    );
}

#[test]
fn a_plugin_asking_for_a_version_gets_the_host_plugin_api_once_patched() {
    let repo = repo_with_api_dep("by-version", "\"0.2\"");
    let host = Host::new("a_plugin_asking_for_a_version");
    declare(&host, &[&repo]);
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let log = messages(&output);
    assert!(
        log.starts_with(
            "error: plugin `by-version` in plugins.toml depends on static-plugins-api `0.2` from crates.io, \
             which would be a second copy of static-plugins-api whose registrations the host never sees; \
             make it use the host's: add to "
        ),
        "{log}"
    );
    assert!(
        log.contains("    [patch.crates-io]\n    static-plugins-api = { path = "),
        "{log}"
    );
    assert_unchanged(&before, &host.snapshot());

    add_patch(&host, "crates-io");
    expect_success(&mut host.xtask(&["sync"]));
    assert_listed(&host, "by-version  1.2.3    by-version  git+");
}

/// Builds the host as example-app and checks `plugins list` has `line`.
#[track_caller]
fn assert_listed(host: &Host, line: &str) {
    let list = host.plugins_list(false);
    assert!(
        list.lines().any(|l| l.starts_with(line)),
        "{line:?} in\n{list}"
    );
}

#[test]
fn a_plugin_built_for_another_major_is_refused_at_sync() {
    let repo = repo_with_api_dep("too-new", "\"0.3\"");
    let host = Host::new("a_plugin_built_for_another_major");
    add_patch(&host, "crates-io");
    declare(&host, &[&repo]);
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&output),
        "error: plugin `too-new` in plugins.toml requires static-plugins-api `0.3`, but the host has \
         static-plugins-api 0.2.0; use a release of the plugin built for static-plugins-api 0.2.0, or upgrade the \
         host\n"
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_crate_that_does_not_depend_on_plugin_api_is_not_a_plugin() {
    let repo = GitRepo::new("not-a-plugin");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"not-a-plugin\"\nversion = \"1.0.0\"\nedition = \"2024\"\n",
    );
    repo.write("src/lib.rs", "//! Just a library.\n");
    repo.commit("library");
    repo.git(&["tag", "v1"]);
    let host = Host::new("a_crate_that_does_not_depend_on_plugin_api");
    declare(&host, &[&repo]);
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&output),
        format!(
            "error: plugin `not-a-plugin` in plugins.toml ({}, tag `v1`)\n\nCaused by:\n  \
             crate `not-a-plugin` does not depend on static-plugins-api, so it is not a plugin; check that \
             this is the right crate\n",
            repo.url()
        )
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_plugin_depending_on_plugin_api_by_git_url_gets_the_host_one_once_patched() {
    // The repository the plugin names: cargo reads it to resolve the
    // dependency, then the patch replaces it with the host's static-plugins-api.
    let upstream = foreign_plugin_api("upstream-plugin-api");
    let url = upstream.url();
    let repo = repo_with_api_dep("by-git", &format!("{{ git = \"{url}\" }}"));
    let host = Host::new("a_plugin_depending_on_plugin_api_by_git_url");
    declare(&host, &[&repo]);
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let log = messages(&output);
    assert!(
        log.starts_with(&format!(
            "error: plugin `by-git` in plugins.toml depends on static-plugins-api from {url}, which would \
             be a second copy of static-plugins-api whose registrations the host never sees"
        )),
        "{log}"
    );
    assert!(log.contains(&format!("    [patch.\"{url}\"]\n")), "{log}");
    assert_unchanged(&before, &host.snapshot());

    add_patch(&host, &format!("\"{url}\""));
    expect_success(&mut host.xtask(&["sync"]));
    host.use_example_app();
    // Cargo reads the repository the plugin names (a local one) before the
    // patch replaces it: this build may not be offline.
    let build = host.build_fetching_git();
    assert!(build.status.success(), "{}", messages(&build));
    let list = e2e::stdout(&expect_success(
        host.app_bin(false).args(["plugins", "list"]),
    ));
    assert!(list.contains("\nby-git  1.2.3    by-git  git+"), "{list}");
}

#[test]
fn a_monorepo_plugin_with_workspace_inheritance_builds_in_the_host() {
    let repo = GitRepo::new("mono-inherit");
    repo.write(
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"crates/*\"]\n\n[workspace.package]\n\
         version = \"2.0.0\"\nedition = \"2024\"\n\n[workspace.dependencies]\nstatic-plugins-api = \"0.2\"\n",
    );
    repo.plugin(
        "crates/mono-a",
        &PluginCrate {
            filters: &[("mono", None)],
            ..PluginCrate::new("mono-a", "mono-a")
        },
    );
    let manifest = std::fs::read_to_string(repo.dir.join("crates/mono-a/Cargo.toml")).unwrap();
    let manifest = with_api_line(&manifest, "static-plugins-api.workspace = true")
        .replace("version = \"1.2.3\"", "version.workspace = true")
        .replace("edition = \"2024\"", "edition.workspace = true");
    repo.write("crates/mono-a/Cargo.toml", &manifest);
    // A second member that is not declared: it must not get in the way.
    repo.plugin("crates/other", &PluginCrate::new("other", "other"));
    repo.commit("monorepo");
    repo.git(&["tag", "v1"]);

    let host = Host::new("a_monorepo_plugin_with_workspace_inheritance");
    add_patch(&host, "crates-io");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nmono-a = {{ git = \"{}\", tag = \"v1\" }}\n",
            repo.url()
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let lock = host.read("plugins.lock");
    assert!(lock.contains("version = \"2.0.0\"\n"), "{lock}");
    assert!(lock.contains("subdir = \"crates/mono-a\"\n"), "{lock}");
    assert_listed(&host, "mono-a  2.0.0    mono-a  git+");
}

#[test]
fn a_path_dependency_on_another_plugin_api_is_refused() {
    let elsewhere = e2e::repo_root().join("target/tmp/e2e-repos/other-plugin-api");
    let repo = repo_with_api_dep(
        "by-path",
        &format!("{{ path = {:?} }}", elsewhere.display().to_string()),
    );
    let host = Host::new("a_path_dependency_on_another_plugin_api");
    declare(&host, &[&repo]);
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&output),
        format!(
            "error: plugin `by-path` in plugins.toml depends on static-plugins-api by path ({}), which is \
             not the host's static-plugins-api and cannot be patched; the plugin should depend on \
             static-plugins-api by version or git URL\n",
            elsewhere.display()
        )
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_second_plugin_api_through_a_dependency_is_caught_by_the_graph_check_and_nothing_written() {
    // The plugin itself uses the host's static-plugins-api, but a helper crate in its
    // repository pulls another one from git: only the resolved graph shows it.
    let upstream = foreign_plugin_api("second-api-upstream");
    let repo = GitRepo::new("sneaky");
    repo.plugin(".", &PluginCrate::new("sneaky", "sneaky"));
    repo.write(
        "helper/Cargo.toml",
        &format!(
            "[package]\nname = \"helper\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nstatic-plugins-api = {{ git = \"{}\" }}\n",
            upstream.url()
        ),
    );
    repo.write("helper/src/lib.rs", "//! Helper.\n");
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
    repo.write(
        "Cargo.toml",
        &format!("{manifest}helper = {{ path = \"helper\" }}\n"),
    );
    repo.commit("plugin with helper");
    repo.git(&["tag", "v1"]);

    let host = Host::new("a_second_plugin_api_through_a_dependency");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nsneaky = {{ git = \"{}\", tag = \"v1\" }}\n",
            repo.url()
        ),
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    let log = messages(&output);
    let api = e2e::repo_root().join("plugin-api");
    assert_eq!(
        log,
        format!(
            "error: the host's crate graph has 2 copies of static-plugins-api: path+file://{}#static-plugins-api@0.2.0 (used \
             by `{}`, `plugin-set`, `sneaky`); git+{}#static-plugins-api@0.2.0 (used by `helper`); a \
             plugin built against a copy the host does not use registers into a registry nobody \
             reads. Patch each source to the host's static-plugins-api in the root Cargo.toml\n",
            api.display(),
            host.app,
            upstream.url()
        )
    );
    assert_unchanged(&before, &host.snapshot());
    assert!(
        !host.path("plugin-set").exists(),
        "a first sync that fails leaves no plugin-set"
    );
    assert!(!host.path("plugin-sources").exists());
}

#[test]
fn a_new_plugin_scaffold_in_a_git_repository_builds_lists_and_passes_its_test() {
    let repo = GitRepo::new("scaffolded");
    std::fs::remove_dir_all(&repo.dir).unwrap();
    let mut scaffold = e2e::tool();
    scaffold
        .args(["new-plugin", "scaffolded", "--path"])
        .arg(&repo.dir);
    expect_success(&mut scaffold);
    // Refuses to overwrite.
    let output = expect_failure(&mut scaffold);
    assert!(
        messages(&output).contains("already exists and is not empty"),
        "{}",
        messages(&output)
    );
    repo.git(&["init", "--quiet", "--initial-branch=main"]);
    repo.commit("scaffold");
    repo.git(&["tag", "v0.1.0"]);

    // Its own unit test passes against the host's static-plugins-api.
    let api = e2e::repo_root().join("plugin-api");
    let mut test = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    test.current_dir(&repo.dir)
        .env("CARGO_TARGET_DIR", e2e::shared_target_dir())
        .args(["test", "--offline", "--quiet", "--config"])
        .arg(format!(
            "patch.crates-io.static-plugins-api.path={:?}",
            api.display().to_string()
        ));
    let output = expect_success(&mut test);
    assert!(
        e2e::stdout(&output).contains("1 passed"),
        "{}",
        e2e::stdout(&output)
    );

    // Declared in example-app (which patches static-plugins-api as sync asks), it
    // builds and lists.
    let host = Host::new("a_new_plugin_scaffold_in_a_git_repository");
    host.use_example_app();
    add_patch(&host, "crates-io");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nscaffolded = {{ git = \"{}\", tag = \"v0.1.0\" }}\n",
            repo.url()
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let build = host.build(false);
    assert!(build.status.success(), "{}", messages(&build));
    let list = e2e::stdout(&expect_success(
        host.app_bin(false).args(["plugins", "list"]),
    ));
    assert!(
        list.contains("scaffolded  0.1.0    scaffolded  git+"),
        "{list}"
    );
    let mut run = host.app_bin(false);
    run.args(["run", "scaffolded"])
        .stdin(std::process::Stdio::null());
    assert_eq!(e2e::stdout(&expect_success(&mut run)), "[]");
}

#[test]
fn list_shows_each_plugin_state_source_commit_and_build_time_code() {
    let repo = GitRepo::new("builds-things");
    repo.plugin(".", &PluginCrate::new("builds-things", "builds-things"));
    repo.write("build.rs", "//! Runs at build time.\nfn main() {}\n");
    repo.write(
        "macro/Cargo.toml",
        "[package]\nname = \"things-macro\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\nproc-macro = true\n",
    );
    repo.write("macro/src/lib.rs", "//! A proc macro.\n");
    // A dependency with a build script of its own: build-time code too.
    repo.write(
        "sys/Cargo.toml",
        "[package]\nname = \"things-sys\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    repo.write(
        "sys/build.rs",
        "//! Runs at build time too.\nfn main() {}\n",
    );
    repo.write("sys/src/lib.rs", "//! Built by a script.\n");
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
    repo.write(
        "Cargo.toml",
        &format!(
            "{manifest}things-macro = {{ path = \"macro\" }}\nthings-sys = {{ path = \"sys\" }}\n"
        ),
    );
    let commit = repo.commit("plugin with build-time code");
    let host = Host::new("list_shows_each_plugin_state");
    host.plugin("plugins/plain", &PluginCrate::new("plain", "plain"));
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nbuilds-things = {{ git = \"{}\" }}\nplain = {{ path = \"plugins/plain\" }}\n\
             off = {{ path = \"plugins/off\", enabled = false }}\n",
            repo.url()
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let table = e2e::stdout(&expect_success(&mut host.xtask(&["list"])));
    let source = format!("git+{}#{commit}", repo.url());
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{table}");
    assert!(lines[1].starts_with("builds-things  present"), "{table}");
    assert!(lines[1].contains(&source), "{table}");
    assert!(lines[1].contains(&commit[..12]), "{table}");
    assert!(
        lines[1].ends_with("build.rs, proc-macro things-macro, build.rs of things-sys"),
        "{table}"
    );
    assert!(lines[2].starts_with("off            disabled"), "{table}");
    assert!(
        lines[3].starts_with("plain          present   local"),
        "{table}"
    );
    assert!(lines[3].ends_with("  -"), "{table}");

    let json: serde_json::Value = serde_json::from_str(&e2e::stdout(&expect_success(
        &mut host.xtask(&["list", "--json"]),
    )))
    .unwrap();
    let things = &json["plugins"][0];
    assert_eq!(things["name"], "builds-things");
    assert_eq!(things["rev"], commit.as_str());
    assert_eq!(things["build_script"], true);
    assert_eq!(things["proc_macros"], serde_json::json!(["things-macro"]));
    assert_eq!(
        things["dependency_build_scripts"],
        serde_json::json!(["things-sys"])
    );
    assert_eq!(things["present"], true);
    assert_eq!(json["plugins"][2]["build_script"], false);

    // Files gone: listed as missing, with the fix.
    std::fs::remove_dir_all(host.path("plugin-sources")).unwrap();
    let table = e2e::stdout(&expect_success(&mut host.xtask(&["list"])));
    assert!(
        table.contains("locked, files missing (run sync)"),
        "{table}"
    );
}

/// The host's extension-point crate `app-api`: one type plugins contribute.
fn write_app_api(dir: &std::path::Path, version: &str) {
    write_file(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"app-api\"\nversion = \"{version}\"\nedition = \"2024\"\npublish = false\n"
        ),
    );
    write_file(
        &dir.join("src/lib.rs"),
        "//! The host's extension point.\npub struct Greeting(pub &'static str);\n",
    );
}

/// A git plugin that contributes an `app_api::Greeting`, depending on
/// `app-api` by the git URL of its (unpublished) repository.
fn greeting_plugin(name: &str, api_url: &str) -> GitRepo {
    let repo = GitRepo::new(name);
    repo.plugin(".", &PluginCrate::new(name, name));
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
    write_file(
        &repo.dir.join("Cargo.toml"),
        &format!("{manifest}app-api = {{ git = \"{api_url}\" }}\n"),
    );
    let lib = std::fs::read_to_string(repo.dir.join("src/lib.rs")).unwrap();
    write_file(
        &repo.dir.join("src/lib.rs"),
        &lib.replace(
            "registrar: &mut plugin_api::Registrar<'_>) {\n",
            "registrar: &mut plugin_api::Registrar<'_>) {\n        registrar.add(\"hello\", app_api::Greeting(\"hello from the plugin\"));\n",
        ),
    );
    repo.commit("plugin");
    repo.git(&["tag", "v1"]);
    repo
}

/// A host whose binary asks the registry for `app_api::Greeting`s, with its
/// own `app-api` member.
fn host_with_app_api(name: &str) -> Host {
    let host = Host::new(name);
    write_app_api(&host.path("app-api"), "0.1.0");
    let root = host.read("Cargo.toml").replace(
        "members = [\"app\", \"plugin-set\"]",
        "members = [\"app\", \"app-api\", \"plugin-set\"]",
    );
    host.write("Cargo.toml", &root);
    let app = host.read("app/Cargo.toml");
    host.write(
        "app/Cargo.toml",
        &format!("{app}app-api = {{ path = \"../app-api\" }}\n"),
    );
    host.write(
        "app/src/main.rs",
        "//! Prints every greeting, or why one cannot be seen.\nfn main() {\n    \
         let registry = plugin_api::Registry::build(&plugin_set::SET).unwrap();\n    \
         match registry.try_components::<app_api::Greeting>() {\n        \
         Ok(greetings) => {\n            for (name, g) in greetings {\n                \
         println!(\"greeting {name}: {}\", g.0);\n            }\n        }\n        \
         Err(error) => {\n            eprintln!(\"error: {error}\");\n            \
         std::process::exit(2);\n        }\n    }\n}\n",
    );
    host
}

#[test]
fn a_second_copy_of_the_hosts_extension_crate_is_refused_at_sync_and_reported_at_start_up() {
    let api_repo = GitRepo::new("app-api-repo");
    write_app_api(&api_repo.dir, "0.1.0");
    api_repo.commit("app-api");
    let plugin = greeting_plugin("greeter", &api_repo.url());
    let host = host_with_app_api("extension_crate_twice");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\ngreeter = {{ git = \"{}\", tag = \"v1\" }}\n",
            plugin.url()
        ),
    );

    // Refused before the lock is written, naming both copies, the plugin
    // and the exact patch.
    let before = host.snapshot();
    let refused = messages(&expect_failure(&mut host.xtask(&["sync"])));
    let patch = format!(
        "[patch.\"{}\"]\n    app-api = {{ path = \"app-api\" }}",
        api_repo.url()
    );
    for expected in [
        "crate `app-api` is in the build twice: the host's binary uses app-api 0.1.0 (path app-api)",
        "plugin `greeter` uses app-api 0.1.0 (git+",
        &patch,
    ] {
        assert!(refused.contains(expected), "`{expected}` in\n{refused}");
    }
    assert_unchanged(&before, &host.snapshot());

    // With the patch it prints, one copy: the contribution is visible.
    let manifest = host.read("Cargo.toml");
    let patched = format!("{manifest}\n{}\n", patch.replace("\n    ", "\n"));
    host.write("Cargo.toml", &patched);
    expect_success(&mut host.xtask(&["sync", "--quiet"]));
    assert_eq!(
        host.build_and_run(false),
        "greeting hello: hello from the plugin\n"
    );

    // The check bypassed (the patch taken out after sync): the binary has
    // two copies, and the registry says so instead of returning nothing.
    host.write("Cargo.toml", &manifest);
    let build = host.build_fetching_git();
    assert!(build.status.success(), "{}", e2e::stderr(&build));
    let run = e2e::run(&mut host.app_bin(false));
    assert_eq!(run.status.code(), Some(2), "{}", e2e::stdout(&run));
    assert!(
        e2e::stderr(&run).contains(
            "plugin `greeter` contributed `app_api::Greeting` from another copy of the crate"
        ),
        "{}",
        e2e::stderr(&run)
    );
}

#[test]
fn a_declared_extension_crate_is_refused_even_at_another_major_version() {
    let api_repo = GitRepo::new("app-api-repo-two");
    write_app_api(&api_repo.dir, "2.0.0");
    api_repo.commit("app-api 2");
    let plugin = greeting_plugin("greeter-two", &api_repo.url());
    let host = host_with_app_api("extension_crate_declared");
    let declaration = format!(
        "[plugins]\ngreeter-two = {{ git = \"{}\", tag = \"v1\" }}\n",
        plugin.url()
    );
    // Another major version is another crate to cargo, and to the check by
    // default: sync accepts it.
    host.write("plugins.toml", &declaration);
    expect_success(&mut host.xtask(&["sync", "--quiet"]));
    // Declared as an extension point, it is refused, nothing written.
    host.write(
        "plugins.toml",
        &format!("[host]\nextension-crates = [\"app-api\"]\n\n{declaration}"),
    );
    let before = host.snapshot();
    let refused = messages(&expect_failure(&mut host.xtask(&["sync"])));
    assert!(
        refused.contains("crate `app-api` is in the build twice")
            && refused.contains("plugin `greeter-two` uses app-api 2.0.0"),
        "{refused}"
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_plugin_still_on_the_old_api_crate_name_is_told_the_new_one() {
    let repo = repo_with_api_line("old-name", "plugin-api = \"0.1\"");
    let host = Host::new("a_plugin_still_on_the_old_api_crate_name");
    add_patch(&host, "crates-io");
    declare(&host, &[&repo]);
    let log = host.refuses(&["sync"]);
    assert!(
        log.contains(
            "depends on `plugin-api`, the API crate's name before 0.2 (on crates.io that name \
             is another project's); depend on `static-plugins-api = \"0.2\"` instead (its \
             library is still `plugin_api`)"
        ),
        "{log}"
    );
}
