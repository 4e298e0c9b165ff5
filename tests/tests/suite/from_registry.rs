//! Plugins from a cargo registry: a static sparse registry the test serves
//! itself on 127.0.0.1 (an index of JSON lines and `.crate` files, as
//! cargo's own test suite makes them), declared in cargo's syntax, resolved
//! and downloaded by cargo, pinned in plugins.lock by version and checksum.

use std::path::PathBuf;
use std::process::Command;

use e2e::http::GitServer;
use e2e::{
    Host, PluginCrate, assert_unchanged, expect_failure, expect_success, messages, write_file,
};

/// A sparse registry on 127.0.0.1, serving `dir`.
struct Registry {
    dir: PathBuf,
    server: GitServer,
}

impl Registry {
    fn new(name: &str) -> Registry {
        Registry::serving(name, None)
    }

    /// A registry that answers only requests carrying `token`.
    fn private(name: &str, token: &str) -> Registry {
        Registry::serving(name, Some(token))
    }

    fn serving(name: &str, token: Option<&str>) -> Registry {
        let dir = e2e::hosts_dir().join(format!("{name}.registry"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("index")).unwrap();
        let server = match token {
            Some(token) => GitServer::files_with_token(&dir, token),
            None => GitServer::files(&dir),
        };
        write_file(
            &dir.join("index/config.json"),
            &format!(
                "{{\"dl\":\"{}/dl\",\"auth-required\":{}}}",
                server.base(),
                token.is_some()
            ),
        );
        Registry { dir, server }
    }

    /// What `[registries.<name>] index` says.
    fn index(&self) -> String {
        format!("sparse+{}/index/", self.server.base())
    }

    /// Publishes plugin crate `package` at `version` registering plugin
    /// `id` with one filter named after it: a `.crate` made with `tar`, and
    /// its index line. Returns the `.crate`'s SHA-256.
    fn publish(&self, package: &str, version: &str, id: &str, yanked: bool) -> String {
        let work = self.dir.join("work").join(format!("{package}-{version}"));
        let _ = std::fs::remove_dir_all(&work);
        let root = work.join(format!("{package}-{version}"));
        e2e::write_plugin(
            &root,
            &PluginCrate {
                filters: &[(id, None)],
                ..PluginCrate::new(package, id)
            },
        );
        // As published: the API crate by version from crates.io, the
        // version asked for.
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let manifest: String = manifest
            .lines()
            .map(|l| {
                if l.starts_with("static-plugins-api") {
                    "static-plugins-api = \"0.2\"".to_owned()
                } else if l.starts_with("version = ") {
                    format!("version = \"{version}\"")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        write_file(&root.join("Cargo.toml"), &format!("{manifest}\n"));
        let download = self.dir.join(format!("dl/{package}/{version}/download"));
        std::fs::create_dir_all(download.parent().unwrap()).unwrap();
        expect_success(
            Command::new("tar")
                .arg("-czf")
                .arg(&download)
                .arg("-C")
                .arg(&work)
                .arg(format!("{package}-{version}")),
        );
        let checksum = sha256(&std::fs::read(&download).unwrap());
        let line = format!(
            "{{\"name\":\"{package}\",\"vers\":\"{version}\",\"deps\":[{{\"name\":\
             \"static-plugins-api\",\"req\":\"^0.2\",\"features\":[],\"optional\":false,\
             \"default_features\":true,\"target\":null,\"kind\":\"normal\",\"registry\":\
             \"https://github.com/rust-lang/crates.io-index\"}}],\"cksum\":\"{checksum}\",\
             \"features\":{{}},\"yanked\":{yanked}}}\n"
        );
        self.add_line(package, &line);
        checksum
    }

    /// Appends `line` to `package`'s index entry.
    fn add_line(&self, package: &str, line: &str) {
        let entry = self.dir.join("index").join(index_path(package));
        std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(&entry).unwrap_or_default();
        text.push_str(line);
        write_file(&entry, &text);
    }

    /// Serves `crate_file` as the `.crate` of the package `metadata`
    /// describes (a package of `cargo metadata`), with the index line
    /// cargo's publish would write: its dependencies, each from this
    /// registry, and its features.
    fn add_crate(&self, metadata: &serde_json::Value, crate_file: &std::path::Path) {
        let name = metadata["name"].as_str().unwrap();
        let version = metadata["version"].as_str().unwrap();
        let download = self.dir.join(format!("dl/{name}/{version}/download"));
        std::fs::create_dir_all(download.parent().unwrap()).unwrap();
        std::fs::copy(crate_file, &download).unwrap();
        let deps: Vec<serde_json::Value> = metadata["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            // Cargo publishes dev-dependencies that have a version (a
            // feature may name one); this workspace's are paths only.
            .filter(|d| d["kind"] != "dev" || !metadata["source"].is_null())
            .map(|d| {
                let (key, package) = match d["rename"].as_str() {
                    Some(rename) => (serde_json::json!(rename), d["name"].clone()),
                    None => (d["name"].clone(), serde_json::Value::Null),
                };
                serde_json::json!({
                    "name": key, "package": package, "req": d["req"],
                    "features": d["features"], "optional": d["optional"],
                    "default_features": d["uses_default_features"], "target": d["target"],
                    "kind": d["kind"].as_str().unwrap_or("normal"), "registry": null,
                })
            })
            .collect();
        // `dep:` and `?/` features are version 2 of the index format.
        let (mut v1, mut v2) = (serde_json::Map::new(), serde_json::Map::new());
        for (feature, enables) in metadata["features"].as_object().unwrap() {
            let new = enables.as_array().unwrap().iter().any(|e| {
                let e = e.as_str().unwrap();
                e.starts_with("dep:") || e.contains("?/")
            });
            if new { &mut v2 } else { &mut v1 }.insert(feature.clone(), enables.clone());
        }
        let line = serde_json::json!({
            "name": name, "vers": version, "deps": deps,
            "cksum": sha256(&std::fs::read(crate_file).unwrap()),
            "features": v1, "features2": v2, "v": 2, "links": metadata["links"],
            "yanked": false,
        });
        self.add_line(name, &format!("{line}\n"));
    }
}

/// Where the sparse index keeps a crate's lines.
fn index_path(name: &str) -> String {
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A host whose `.cargo/config.toml` names the registry `testreg` and
/// whose root manifest patches the API crate from crates.io to this
/// repository's, as sync asks of any host with third-party plugins.
fn host_with(name: &str, registry: &Registry, plugins: &str) -> Host {
    let host = Host::new(name);
    host.write(
        ".cargo/config.toml",
        &format!("[registries.testreg]\nindex = \"{}\"\n", registry.index()),
    );
    let root = host.read("Cargo.toml");
    let api = e2e::repo_root().join("plugin-api");
    host.write(
        "Cargo.toml",
        &format!("{root}\n[patch.crates-io]\nstatic-plugins-api = {{ path = {api:?} }}\n"),
    );
    host.write("plugins.toml", plugins);
    host
}

/// The `plugins list` line of plugin `id`, once the host is built.
fn listed(host: &Host, id: &str) -> String {
    let list = host.plugins_list(true);
    list.lines()
        .find(|l| l.trim_start().starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("{id} not in\n{list}"))
        .to_owned()
}

#[test]
fn a_registry_plugin_is_pinned_built_and_run() {
    let registry = Registry::new("registry_pinned");
    let checksum = registry.publish("greet-plugin", "0.1.0", "greet", false);
    let host = host_with(
        "registry_pinned",
        &registry,
        "[plugins]\ngreet = { version = \"0.1\", registry = \"testreg\", package = \"greet-plugin\" }\n",
    );
    expect_success(&mut host.xtask(&["sync"]));
    let lock = host.read("plugins.lock");
    for expected in [
        "package = \"greet-plugin\"\nversion = \"0.1.0\"\n",
        &format!("source = \"{}\"\n", registry.index()),
        "registry = \"testreg\"\n",
        &format!("checksum = \"sha256:{checksum}\"\n"),
    ] {
        assert!(lock.contains(expected), "{expected:?} in\n{lock}");
    }
    let generated = host.read("plugin-set/Cargo.toml");
    assert!(
        generated.contains(
            "greet = { version = \"=0.1.0\", registry = \"testreg\", package = \"greet-plugin\" }"
        ),
        "{generated}"
    );
    // Nothing copied: cargo builds it from its registry sources.
    assert!(!host.path("plugin-sources/greet-0.1.0").exists());
    let line = listed(&host, "greet");
    // Provenance: the version and the registry's source id.
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields,
        [
            "greet",
            "0.1.0",
            "greet-plugin",
            &registry.index(),
            "loaded"
        ],
        "{line}"
    );
    // The bill of materials names it by package URL, with its registry,
    // and its hash is the registry's checksum.
    let sbom = host.path("greet.cdx.json");
    expect_success(&mut host.xtask(&["sbom", "--output", &sbom.display().to_string()]));
    let bom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sbom).unwrap()).unwrap();
    std::fs::remove_file(&sbom).unwrap();
    let component = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "greet-plugin")
        .unwrap_or_else(|| panic!("no greet-plugin in {bom}"));
    let registry_url = registry.index().replace("sparse+", "");
    assert_eq!(
        component["purl"],
        format!(
            "pkg:cargo/greet-plugin@0.1.0?repository_url={}",
            registry_url.replace(':', "%3A").replace('/', "%2F")
        ),
        "{component}"
    );
    assert_eq!(component["hashes"][0]["content"], checksum, "{component}");
    // The host's build locked it as plugins.lock pins it; verify says so,
    // and fails (as `sync --locked` refuses) when Cargo.lock disagrees.
    let log = messages(&expect_success(&mut host.xtask(&["verify"])));
    assert!(
        log.contains("1 registry plugin agree with Cargo.lock"),
        "{log}"
    );
    let cargo_lock = host.read("Cargo.lock");
    assert!(cargo_lock.contains(&checksum), "{cargo_lock}");
    for (edited, expected) in [
        (
            cargo_lock.replace(&checksum, &"1".repeat(64)),
            format!(
                "it has the checksum sha256:{} for that version",
                "1".repeat(64)
            ),
        ),
        (
            cargo_lock.replace(
                "name = \"greet-plugin\"\nversion = \"0.1.0\"",
                "name = \"greet-plugin\"\nversion = \"0.0.9\"",
            ),
            "it has greet-plugin 0.0.9, not the pinned 0.1.0".to_owned(),
        ),
    ] {
        assert_ne!(edited, cargo_lock);
        host.write("Cargo.lock", &edited);
        let log = messages(&expect_failure(&mut host.xtask(&["verify"])));
        assert!(
            log.contains(
                "plugin `greet`: Cargo.lock disagrees with plugins.lock about \
                          greet-plugin 0.1.0 from "
            ) && log.contains(&expected),
            "{log}"
        );
        let log = host.refuses(&["sync", "--locked"]);
        assert!(
            log.contains(&expected) && log.contains("--locked builds exactly"),
            "{log}"
        );
    }
    host.write("Cargo.lock", &cargo_lock);
    // A second sync changes nothing.
    let before = host.snapshot();
    expect_success(&mut host.xtask(&["sync"]));
    assert_unchanged(&before, &host.snapshot());
    // The registry down: --frozen, --offline and a plain sync (nothing to
    // move: cargo is asked offline first) work from cargo's cache.
    let index = registry.index();
    drop(registry);
    for flags in [&["--frozen"][..], &["--offline"], &[]] {
        expect_success(host.xtask(&["sync"]).args(flags));
    }
    assert_unchanged(&before, &host.snapshot());
    // Without them, sync says the registry cannot be reached.
    let log = messages(&expect_failure(&mut host.xtask(&["update"])));
    assert!(
        log.contains("cargo could not resolve the registry plugins (greet)")
            && log.contains(&index.replace("sparse+", "")),
        "{log}"
    );
    assert_unchanged(&before, &host.snapshot());
}

#[test]
fn a_pinned_version_stays_until_update_which_stays_within_the_requirement() {
    let registry = Registry::new("registry_update");
    registry.publish("tick", "0.1.0", "tick", false);
    let host = host_with("registry_update", &registry, "[plugins]\n");
    expect_success(&mut host.xtask(&["add", "tick", "--version", "0.1", "--registry", "testreg"]));
    assert_eq!(
        host.read("plugins.toml"),
        "[plugins]\ntick = { version = \"0.1\", registry = \"testreg\" }\n"
    );
    assert!(host.read("plugins.lock").contains("version = \"0.1.0\""));
    // Newer versions appear: one within the requirement, one across it.
    registry.publish("tick", "0.1.1", "tick", false);
    registry.publish("tick", "0.2.0", "tick", false);
    expect_success(&mut host.xtask(&["sync"]));
    assert!(
        host.read("plugins.lock").contains("version = \"0.1.0\""),
        "a plain sync moved the pin"
    );
    let update = expect_success(&mut host.xtask(&["update", "tick"]));
    let log = messages(&update);
    assert!(log.contains("tick: 0.1.0 → 0.1.1"), "{log}");
    let lock = host.read("plugins.lock");
    assert!(lock.contains("version = \"0.1.1\""), "{lock}");
    // Lint takes a published crate by name and requirement, as cargo
    // resolves it: the newest version within it.
    let before = host.snapshot();
    // (The test's crates carry no license or description: that one check
    // fails.)
    let lint = expect_failure(
        host.xtask(&["lint", "tick", "--version", "0.1", "--registry", "testreg"])
            .env("CARGO_TARGET_DIR", e2e::shared_target_dir()),
    );
    let report = e2e::stdout(&lint);
    assert!(
        report.starts_with("tick 0.1.1\n")
            && report.contains("  pass  builds ")
            && report.contains("  pass  registers     registers tick")
            && report.matches("FAIL").count() == 1
            && report.contains("  FAIL  metadata "),
        "{report}"
    );
    assert_unchanged(&before, &host.snapshot());
    // A name or requirement that is not one is refused before cargo runs.
    for (args, expected) in [
        (
            &["lint", "../tick", "--version", "0.1"][..],
            "`../tick` is not a crate name",
        ),
        (
            &["lint", "tick", "--version", "not a version"],
            "--version `not a version` is not a version requirement",
        ),
        (
            &["init", "--version", "0.1; rm"],
            "--version `0.1; rm` is not a version requirement",
        ),
    ] {
        let log = host.refuses(args);
        assert!(log.contains(expected), "{log}");
    }
    let log = host.refuses(&["lint", "tick", "--version", "0.9", "--registry", "testreg"]);
    assert!(
        log.contains("cargo could not resolve the registry plugins (tick)"),
        "{log}"
    );
}

#[test]
fn a_checksum_that_changed_on_the_registry_is_refused_with_nothing_written() {
    let registry = Registry::new("registry_checksum");
    registry.publish("tock", "0.1.0", "tock", false);
    let host = host_with(
        "registry_checksum",
        &registry,
        "[plugins]\ntock = { version = \"0.1\", registry = \"testreg\" }\n",
    );
    expect_success(&mut host.xtask(&["sync"]));
    // The lock says another checksum (as if the registry had served other
    // bytes when it was pinned).
    let lock = host.read("plugins.lock");
    let pinned = lock
        .lines()
        .find_map(|l| l.strip_prefix("checksum = \"sha256:"))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    host.write("plugins.lock", &lock.replace(&pinned, &"0".repeat(64)));
    let log = host.refuses(&["sync"]);
    assert!(
        log.contains("plugin `tock` in plugins.toml: tock 0.1.0 from ")
            && log.contains("the crate changed on the registry (or the lock was edited)"),
        "{log}"
    );
}

#[test]
fn a_version_the_registry_does_not_have_is_a_precise_error_with_nothing_written() {
    let registry = Registry::new("registry_missing");
    registry.publish("tack", "0.1.0", "tack", false);
    let host = host_with(
        "registry_missing",
        &registry,
        "[plugins]\ntack = { version = \"0.3\", registry = \"testreg\" }\n",
    );
    let log = host.refuses(&["sync"]);
    assert!(
        log.contains("cargo could not resolve the registry plugins (tack)")
            && log.contains("tack = \"^0.3\""),
        "{log}"
    );
}

/// Marks `package` `version` yanked in the registry's index.
fn yank(registry: &Registry, package: &str, version: &str) {
    let entry = registry.dir.join("index").join(index_path(package));
    let text = std::fs::read_to_string(&entry).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.contains(&format!("\"vers\":\"{version}\"")) {
                l.replace("\"yanked\":false", "\"yanked\":true")
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    write_file(&entry, &text);
}

#[test]
fn a_yanked_version_is_refused_for_a_new_pin_and_kept_when_pinned() {
    let registry = Registry::new("registry_yanked");
    registry.publish("toy", "0.1.0", "toy", false);
    let host = host_with(
        "registry_yanked",
        &registry,
        "[plugins]\ntoy = { version = \"0.1\", registry = \"testreg\" }\n",
    );
    expect_success(&mut host.xtask(&["sync"]));
    // The host's build locks it, as a real host's would.
    host.use_example_app();
    let build = host.build_fetching_git();
    assert!(build.status.success(), "{}", messages(&build));
    yank(&registry, "toy", "0.1.0");
    // Pinned: a sync keeps it (from cargo's cache: nothing to ask the
    // registry).
    let before = host.snapshot();
    expect_success(&mut host.xtask(&["sync"]));
    assert_unchanged(&before, &host.snapshot());
    // A new plugin makes cargo ask the registry: the kept version is
    // warned about, stays pinned, and does not stop the new pin.
    registry.publish("tow", "0.1.0", "tow", false);
    host.write(
        "plugins.toml",
        "[plugins]\ntoy = { version = \"0.1\", registry = \"testreg\" }\n\
         tow = { version = \"0.1\", registry = \"testreg\" }\n",
    );
    let log = messages(&expect_success(&mut host.xtask(&["sync"])));
    assert!(
        log.contains(
            "warning: plugin `toy`: toy 0.1.0, pinned in plugins.lock, is yanked in its registry"
        ) && !log.contains("plugin `tow`: tow"),
        "{log}"
    );
    let lock = host.read("plugins.lock");
    assert!(
        lock.contains("name = \"toy\"\npackage = \"toy\"\nversion = \"0.1.0\"")
            && lock.contains("name = \"tow\""),
        "{lock}"
    );
    // `update` moves it, out of the host's Cargo.lock, as `cargo update -p`
    // would; the other plugin stays.
    registry.publish("toy", "0.1.1", "toy", false);
    registry.publish("tow", "0.1.1", "tow", false);
    let log = messages(&expect_success(&mut host.xtask(&["update", "toy"])));
    assert!(
        log.contains("toy: 0.1.0 → 0.1.1") && !log.contains("tow:"),
        "{log}"
    );
    let lock = host.read("plugins.lock");
    assert!(
        lock.contains("name = \"toy\"\npackage = \"toy\"\nversion = \"0.1.1\"")
            && lock.contains("name = \"tow\"\npackage = \"tow\"\nversion = \"0.1.0\""),
        "{lock}"
    );
    // A new pin of it is refused, naming it, with nothing written.
    let fresh = host_with(
        "registry_yanked_new",
        &registry,
        "[plugins]\ntoy = { version = \"=0.1.0\", registry = \"testreg\" }\n",
    );
    let log = fresh.refuses(&["sync"]);
    assert!(
        log.contains("cargo could not resolve the registry plugins (toy)")
            && log.contains("version 0.1.0 is yanked"),
        "{log}"
    );
}

#[test]
fn a_registry_in_trouble_is_a_precise_error_with_nothing_written() {
    let registry = Registry::new("registry_trouble");
    registry.publish("tuck", "0.1.0", "tuck", false);
    let host = host_with(
        "registry_trouble",
        &registry,
        "[plugins]\ntuck = { version = \"0.1\", registry = \"testreg\" }\n",
    );
    let refused = |case: &str, expected: &[&str]| {
        let log = host.refuses(&["sync"]);
        for part in expected {
            assert!(
                log.contains("cargo could not resolve the registry plugins (tuck)")
                    && log.contains(part),
                "{case}: {part:?} in\n{log}"
            );
        }
    };
    // The server fails.
    registry.server.fail_with(Some(500));
    refused("500", &["500"]);
    registry.server.fail_with(None);
    // The crate is not in the index at all (404).
    let entry = registry.dir.join("index").join(index_path("tuck"));
    let line = std::fs::read_to_string(&entry).unwrap();
    std::fs::remove_file(&entry).unwrap();
    refused("404", &["no matching package named `tuck` found"]);
    // Garbage where the index line was.
    write_file(&entry, "{\"name\": \"tuck\", this is not json\n");
    refused("garbage", &["tuck"]);
    write_file(&entry, &line);
    expect_success(&mut host.xtask(&["sync"]));
}

#[test]
fn a_private_registrys_token_stays_cargos_and_appears_nowhere() {
    const TOKEN: &str = "cio-Zq8-private-registry-token";
    let registry = Registry::private("registry_private", TOKEN);
    registry.publish("secretive", "0.1.0", "secretive", false);
    let host = host_with(
        "registry_private",
        &registry,
        "[plugins]\nsecretive = { version = \"0.1\", registry = \"testreg\" }\n",
    );
    // The token comes from cargo's own variable, through cargo's own
    // provider, as the user configures it.
    let config = host.read(".cargo/config.toml");
    host.write(
        ".cargo/config.toml",
        &format!("{config}credential-provider = \"cargo:token\"\n"),
    );
    // Without the token cargo is refused, and says so.
    let log = host.refuses(&["sync"]);
    assert!(
        log.contains("cargo could not resolve the registry plugins (secretive)"),
        "{log}"
    );
    // With it (cargo's own variable), everything works and nothing shows it.
    let with_token = |args: &[&str]| {
        let mut command = host.xtask(args);
        command.env("CARGO_REGISTRIES_TESTREG_TOKEN", TOKEN);
        expect_success(&mut command)
    };
    let outputs = [
        with_token(&["sync"]),
        with_token(&["sync", "--message-format", "json"]),
        with_token(&["list"]),
        with_token(&["list", "--json"]),
        with_token(&["update"]),
    ];
    for output in &outputs {
        let text = format!("{}{}", e2e::stdout(output), e2e::stderr(output));
        assert!(!text.contains(TOKEN), "the token was printed:\n{text}");
    }
    assert!(
        registry
            .server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/download") && r.status == 200),
        "the crate was downloaded with the token"
    );
    for (file, (bytes, _)) in host.snapshot() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "{} holds the token",
            file.display()
        );
    }
}

#[test]
fn a_registry_index_url_with_credentials_is_refused_and_shown_without_them() {
    const SECRET: &str = "idx-tok-Hq4-not-for-any-file";
    let registry = Registry::new("registry_url_credentials");
    registry.publish("tipsy", "0.1.0", "tipsy", false);
    let host = host_with(
        "registry_url_credentials",
        &registry,
        "[plugins]\ntipsy = { version = \"0.1\", registry = \"testreg\" }\n",
    );
    // A password cargo refuses itself; a token as the user name cargo
    // accepts and sync refuses: the source id would carry it into
    // plugins.lock, the binary and the SBOM.
    for (case, userinfo, expected) in [
        (
            "password",
            format!("alice:{SECRET}@"),
            "registry URLs may not contain passwords",
        ),
        ("user", format!("{SECRET}@"), "carries credentials"),
    ] {
        let index = registry
            .index()
            .replace("http://", &format!("http://{userinfo}"));
        host.write(
            ".cargo/config.toml",
            &format!("[registries.testreg]\nindex = \"{index}\"\n"),
        );
        let log = host.refuses(&["sync"]);
        assert!(log.contains(expected), "{case}: {log}");
        assert!(!log.contains(SECRET), "{case}: {log}");
    }
}

/// The packages of this workspace's resolved graph (`cargo metadata`).
fn workspace_graph() -> serde_json::Value {
    let output = expect_success(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(e2e::repo_root())
            .args(["metadata", "--format-version", "1", "--offline", "--locked"]),
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A plugin author's CI after a real release: the crates plugins and hosts
/// build against — the API crate, its macros, the id rule and build
/// support — packaged by `cargo package` and published (with every crate
/// they depend on, from cargo's cache) into a loopback registry that stands
/// in for crates.io through cargo's source replacement; the plugin, as
/// `new-plugin` scaffolds it but with no `[patch]` at all, builds against
/// the published crates and passes its own test; a host adopts the release
/// with `init --version` and runs the plugin. (The engine, which only the
/// host's xtask builds, is packaged by `repo.rs`; publishing it here would
/// add its whole dependency tree, gix included, for no build of it.)
#[test]
fn the_api_crate_published_to_a_registry_builds_a_plugin_with_no_patch() {
    const PUBLISHED: [&str; 4] = [
        e2e::PUBLISHED_CRATES[0],
        e2e::PUBLISHED_CRATES[1],
        e2e::PUBLISHED_CRATES[2],
        e2e::PUBLISHED_CRATES[3],
    ];
    assert_eq!(PUBLISHED[3], "static-plugins-build");
    let registry = Registry::new("registry_release");
    let packaged = registry.dir.join("target");
    let mut package = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    package
        .current_dir(e2e::repo_root())
        .args([
            "package",
            "--offline",
            "--locked",
            "--allow-dirty",
            "--no-verify",
            "--quiet",
        ])
        .arg("--target-dir")
        .arg(&packaged);
    for name in PUBLISHED {
        package.args(["-p", name]);
    }
    expect_success(&mut package);
    // The crates and everything they build with (normal and build
    // dependencies, transitively), as resolved for this workspace.
    let graph = workspace_graph();
    let packages = graph["packages"].as_array().unwrap();
    let nodes = graph["resolve"]["nodes"].as_array().unwrap();
    let id_of = |name: &str| packages.iter().find(|p| p["name"] == name).unwrap()["id"].clone();
    let mut todo: Vec<serde_json::Value> = PUBLISHED.iter().map(|n| id_of(n)).collect();
    let mut closure = Vec::new();
    while let Some(id) = todo.pop() {
        if closure.contains(&id) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let used = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"] != "dev");
            if used {
                todo.push(dep["pkg"].clone());
            }
        }
        closure.push(id);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let crates_io_cache = std::fs::read_dir(cargo_home.join("registry/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("index.crates.io-")
        })
        .expect("cargo's crates.io cache");
    let mut ours = Vec::new();
    for id in &closure {
        let metadata = packages.iter().find(|p| p["id"] == *id).unwrap();
        let file = format!(
            "{}-{}.crate",
            metadata["name"].as_str().unwrap(),
            metadata["version"].as_str().unwrap()
        );
        let crate_file = if metadata["source"].is_null() {
            ours.push(metadata["name"].as_str().unwrap());
            packaged.join("package").join(&file)
        } else {
            crates_io_cache.join(&file)
        };
        registry.add_crate(metadata, &crate_file);
    }
    ours.sort_unstable();
    let mut published = PUBLISHED.to_vec();
    published.sort_unstable();
    assert_eq!(ours, published);

    // The plugin, in a directory of its own, as its author has it.
    let dir = e2e::hosts_dir().join("registry_release_plugin");
    let _ = std::fs::remove_dir_all(&dir);
    expect_success(
        e2e::tool()
            .args(["new-plugin", "stamp", "--path"])
            .arg(&dir),
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let (kept, _) = manifest
        .split_once("\n# Where this crate's own builds")
        .unwrap();
    write_file(&dir.join("Cargo.toml"), &format!("{kept}\n[workspace]\n"));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        !manifest.lines().any(|l| l.starts_with("[patch")),
        "{manifest}"
    );
    write_file(
        &dir.join(".cargo/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"release\"\n\n[source.release]\nregistry = \"{}\"\n",
            registry.index()
        ),
    );
    // A target directory of its own: through the replacement, crates.io's
    // crates unpack elsewhere than cargo's usual sources, and cargo would
    // rebuild the shared directory's copies of them in place.
    let target = registry.dir.join("build");
    let cargo = |dir: &std::path::Path, cache: &std::path::Path, args: &[&str]| {
        let mut command = e2e::user_cargo(dir, cache, args);
        command.env("CARGO_TARGET_DIR", &target);
        command
    };
    let test = expect_success(&mut cargo(
        &dir,
        &registry.dir.join("plugin-cache"),
        &["test", "--quiet"],
    ));
    assert!(
        e2e::stdout(&test).contains("1 passed"),
        "{}",
        messages(&test)
    );
    // Built from the published crates: crates.io's, with the checksums of
    // the `.crate` files `cargo package` made.
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    let version = packages.iter().find(|p| p["name"] == PUBLISHED[2]).unwrap()["version"]
        .as_str()
        .unwrap();
    for name in &PUBLISHED[..3] {
        let checksum = sha256(
            &std::fs::read(
                packaged
                    .join("package")
                    .join(format!("{name}-{version}.crate")),
            )
            .unwrap(),
        );
        assert!(
            lock.contains(&format!(
                "name = \"{name}\"\nversion = \"{version}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{checksum}\""
            )),
            "{name} in\n{lock}"
        );
    }

    // A host adopts the release: `init --version`, which writes no [patch]
    // (plugins' `static-plugins-api = "0.x"` is the host's own); the plugin
    // joins by path, builds in and runs.
    let base = e2e::hosts_dir().join("registry_release_host");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let cache = base.join("cache");
    expect_success(&mut cargo(
        &base,
        &cache,
        &["new", "--quiet", "--vcs", "none", "--bin", "released-app"],
    ));
    let root = base.join("released-app");
    std::fs::create_dir_all(root.join(".cargo")).unwrap();
    std::fs::copy(
        dir.join(".cargo/config.toml"),
        root.join(".cargo/config.toml"),
    )
    .unwrap();
    let init = expect_success(
        e2e::tool()
            .current_dir(&root)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(["init", "--version", version]),
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!(
            "static-plugins-api = {{ version = \"{version}\" }}"
        )) && !manifest.lines().any(|l| l.starts_with("[patch")),
        "{manifest}"
    );
    let init = e2e::stderr(&init);
    let main: Vec<&str> = init
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("let mut registry") || l.starts_with("for (id, error)"))
        .collect();
    write_file(
        &root.join("src/main.rs"),
        &format!(
            "fn main() {{\n    {}\n    for plugin in registry.plugins() {{\n        \
             println!(\"plugin {{}}\", plugin.descriptor.id);\n    }}\n}}\n",
            main.join("\n    ")
        ),
    );
    expect_success(
        e2e::tool()
            .current_dir(&root)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(["add", "stamp", "--path"])
            .arg(&dir),
    );
    let run = expect_success(&mut cargo(&root, &cache, &["run", "--quiet"]));
    assert_eq!(e2e::stdout(&run), "plugin stamp\n");
}
