//! Registry rules end to end, through example-app's real command line built
//! against throwaway plugin crates: isolation of a panicking plugin,
//! duplicate ids, cycles, disabled dependencies, and provenance.

use e2e::{
    GitRepo, Host, PluginCrate, assert_unchanged, expect_failure, expect_success, stderr, stdout,
};
use sha2::{Digest as _, Sha256};

fn host(name: &str, plugins: &[(&str, PluginCrate<'_>)], manifest: &str) -> Host {
    let host = Host::new(name);
    host.use_example_app();
    for (dir, plugin) in plugins {
        host.plugin(dir, plugin);
    }
    host.write("plugins.toml", manifest);
    expect_success(&mut host.xtask(&["sync"]));
    let build = host.build(false);
    assert!(build.status.success(), "{}", stderr(&build));
    host
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).expect("plugins list --json prints JSON")
}

#[test]
fn a_panicking_plugin_is_reported_and_left_out_with_its_dependants() {
    let host = host(
        "a_panicking_plugin_is_reported_and_left_out",
        &[
            (
                "plugins/fine",
                PluginCrate {
                    filters: &[("fine", None)],
                    ..PluginCrate::new("fine", "fine")
                },
            ),
            (
                "plugins/boom",
                PluginCrate {
                    panic_in_register: Some("bad table"),
                    ..PluginCrate::new("boom", "boom")
                },
            ),
            (
                "plugins/child",
                PluginCrate {
                    depends_on: &["boom"],
                    ..PluginCrate::new("child", "child")
                },
            ),
        ],
        "[plugins]\nfine = { path = \"plugins/fine\" }\nboom = { path = \"plugins/boom\" }\n\
         child = { path = \"plugins/child\" }\n",
    );
    let output = expect_success(host.app_bin(false).args(["plugins", "list", "--json"]));
    let log = stderr(&output);
    assert!(
        log.contains("warning: plugin `boom` was left out: panicked while registering: bad table"),
        "{log}"
    );
    assert!(
        log.contains("warning: plugin `child` was left out: depends on `boom`, which failed"),
        "{log}"
    );
    let list = json(&output);
    let status: Vec<(&str, &str, Option<&str>)> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["status"].as_str().unwrap(),
                p["reason"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            (
                "boom",
                "failed",
                Some("panicked while registering: bad table")
            ),
            ("child", "failed", Some("depends on `boom`, which failed")),
            ("fine", "loaded", None),
        ]
    );
    // The others work.
    let mut run = host.app_bin(false);
    run.args(["run", "fine"]).stdin(std::process::Stdio::null());
    assert_eq!(stdout(&expect_success(&mut run)), "fine()");
}

#[test]
fn a_duplicate_id_across_two_crates_is_caught_at_sync_naming_both() {
    let host = Host::new("a_duplicate_id_across_two_crates");
    host.plugin("plugins/one", &PluginCrate::new("one-crate", "upper"));
    host.plugin("plugins/two", &PluginCrate::new("two-crate", "upper"));
    host.write(
        "plugins.toml",
        "[plugins]\none-crate = { path = \"plugins/one\" }\ntwo-crate = { path = \"plugins/two\" }\n",
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert_eq!(
        stderr(&output),
        "error: plugins `one-crate` (local, plugins/one) and `two-crate` (local, plugins/two) in \
         plugins.toml both register plugin id `upper`; ids must be unique: change one of them or \
         disable one plugin in plugins.toml\n"
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_duplicate_id_sync_cannot_see_fails_at_start_up_naming_both_crates_and_sources() {
    // The host itself registers `upper` too: sync does not read the host's
    // sources, the registry catches it.
    let host = Host::new("a_duplicate_id_sync_cannot_see");
    host.plugin("plugins/one", &PluginCrate::new("one-crate", "upper"));
    host.write(
        "plugins.toml",
        "[plugins]\none-crate = { path = \"plugins/one\" }\n",
    );
    let main = host.read("app/src/main.rs");
    host.write(
        "app/src/main.rs",
        &format!(
            "{main}\n#[plugin_api::plugin(id = \"upper\")]\n#[derive(Default)]\nstruct BuiltIn;\n\n\
             impl plugin_api::Plugin for BuiltIn {{\n    fn register(&self, _: &mut plugin_api::Registrar<'_>) {{}}\n}}\n"
        ),
    );
    expect_success(&mut host.xtask(&["sync"]));
    let build = host.build(false);
    assert!(build.status.success(), "{}", stderr(&build));
    let output = expect_failure(&mut host.app_bin(false));
    assert_eq!(
        stderr(&output),
        format!(
            "error: plugin id `upper` is registered by both crate `{}` (host) and crate `one-crate` \
             (local); ids must be unique: change one of them or disable one plugin in plugins.toml\n",
            host.app
        )
    );
}

#[test]
fn a_dependency_cycle_names_the_whole_cycle() {
    let host = host(
        "a_dependency_cycle_names_the_whole_cycle",
        &[
            (
                "plugins/a",
                PluginCrate {
                    depends_on: &["b"],
                    ..PluginCrate::new("a", "a")
                },
            ),
            (
                "plugins/b",
                PluginCrate {
                    depends_on: &["c"],
                    ..PluginCrate::new("b", "b")
                },
            ),
            (
                "plugins/c",
                PluginCrate {
                    depends_on: &["a"],
                    ..PluginCrate::new("c", "c")
                },
            ),
        ],
        "[plugins]\na = { path = \"plugins/a\" }\nb = { path = \"plugins/b\" }\nc = { path = \"plugins/c\" }\n",
    );
    let output = expect_failure(host.app_bin(false).args(["plugins", "list"]));
    assert_eq!(
        stderr(&output),
        "error: plugins depend on each other in a cycle: a -> b -> c -> a\n"
    );
}

#[test]
fn disabling_a_dependency_is_an_error_naming_the_dependants() {
    let host = host(
        "disabling_a_dependency_is_an_error",
        &[
            ("plugins/base", PluginCrate::new("base", "base")),
            (
                "plugins/user",
                PluginCrate {
                    depends_on: &["base"],
                    ..PluginCrate::new("user", "user")
                },
            ),
        ],
        "[plugins]\nbase = { path = \"plugins/base\" }\nuser = { path = \"plugins/user\" }\n",
    );
    let output = expect_failure(
        host.app_bin(false)
            .args(["--disable", "base", "plugins", "list"]),
    );
    assert_eq!(
        stderr(&output),
        "error: plugin `base` cannot be disabled: `user` depends on it; disable it too\n"
    );
    let output = expect_success(host.app_bin(false).args([
        "--disable",
        "base",
        "--disable",
        "user",
        "plugins",
        "list",
    ]));
    assert_eq!(
        stdout(&output),
        "ID    VERSION  CRATE  SOURCE  STATUS\nbase  1.2.3    base   local   disabled\nuser  1.2.3    user   local   disabled\n"
    );
}

#[test]
fn plugins_list_json_shows_provenance_of_git_and_local_plugins() {
    let repo = GitRepo::new("provenance");
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[("remote", None)],
            ..PluginCrate::new("remote", "remote")
        },
    );
    let commit = repo.commit("first");
    repo.git(&["tag", "v1.0.0"]);
    let host = host(
        "plugins_list_json_shows_provenance",
        &[("plugins/near", PluginCrate::new("near", "near"))],
        &format!(
            "[plugins]\nnear = {{ path = \"plugins/near\" }}\nremote = {{ git = \"{}\", tag = \"v1.0.0\" }}\n",
            repo.url()
        ),
    );
    let lock = host.read("plugins.lock");
    let checksum = lock
        .lines()
        .find_map(|l| l.strip_prefix("checksum = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the git plugin's checksum");
    let output = expect_success(host.app_bin(false).args(["plugins", "list", "--json"]));
    let list = json(&output);
    let digest: String = Sha256::digest(lock.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(list["lock_digest"], format!("sha256:{digest}"));
    let plugins = list["plugins"].as_array().unwrap();
    let near = &plugins[0];
    assert_eq!(near["id"], "near");
    assert_eq!(near["source"], "local");
    assert!(near["rev"].is_null() && near["checksum"].is_null());
    assert_eq!(near["status"], "loaded");
    let remote = &plugins[1];
    assert_eq!(remote["id"], "remote");
    assert_eq!(
        remote["source"],
        format!("git+{}?tag=v1.0.0#{commit}", repo.url())
    );
    assert_eq!(remote["rev"], commit.as_str());
    assert_eq!(remote["checksum"], checksum);
    assert_eq!(remote["status"], "loaded");
    assert!(remote["init_time_us"].is_u64(), "{remote}");
}
