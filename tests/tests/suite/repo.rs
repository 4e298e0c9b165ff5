//! This repository itself: its committed generated files, its example app,
//! and the rules of its crate graph and sources.

use std::path::Path;
use std::process::Command;

use e2e::{assert_unchanged, expect_success, repo_root, snapshot, stdout};

#[test]
fn committed_generated_files_are_exactly_what_sync_writes() {
    let root = repo_root();
    let owned = ["plugin-set", "plugins.lock"];
    let before = snapshot(&root, &owned);
    assert_eq!(
        before.len(),
        4,
        "plugin-set/{{Cargo.toml,build.rs,src/lib.rs}} and plugins.lock"
    );
    let mut sync = e2e::tool();
    sync.args(["sync", "--locked", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    let output = expect_success(&mut sync);
    assert!(
        e2e::stderr(&output).contains("unchanged"),
        "{}",
        e2e::stderr(&output)
    );
    assert_unchanged(&before, &snapshot(&root, &owned));
}

fn example_app(args: &[&str]) -> Command {
    // What the README's first command does, with the tests' target directory.
    let mut command = e2e::tool();
    command
        .current_dir(repo_root())
        .env("CARGO_TARGET_DIR", e2e::shared_target_dir())
        .args(["run", "--offline", "--quiet", "--"])
        .args(args);
    command
}

#[test]
fn example_app_lists_every_example_plugin() {
    let output = expect_success(&mut example_app(&["plugins", "list", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("valid JSON");
    let plugins = json["plugins"].as_array().expect("`plugins` is an array");
    let rows: Vec<(&str, &str, &str, &str)> = plugins
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("`{k}` in {p}"));
            (
                field("id"),
                field("version"),
                field("crate"),
                field("source"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("rot", "0.2.0", "rot-cipher", "local"),
            ("shout", "0.1.0", "shout", "local"),
            ("upper", "0.1.0", "upper", "local"),
        ],
        "sorted by id; `reverse` is declared but disabled"
    );
    assert_eq!(plugins[1]["depends_on"], serde_json::json!(["upper"]));

    let table = stdout(&expect_success(&mut example_app(&["plugins", "list"])));
    assert_eq!(
        table,
        "ID     VERSION  CRATE       SOURCE  STATUS\n\
         rot    0.2.0    rot-cipher  local   loaded\n\
         shout  0.1.0    shout       local   loaded\n\
         upper  0.1.0    upper       local   loaded\n"
    );
}

#[test]
fn example_app_filters_through_plugins_including_a_feature_gated_one() {
    let mut command = example_app(&["run", "shout", "rot13", "rot47"]);
    command.stdin(std::process::Stdio::piped());
    command.stdout(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn example-app");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(b"hello\n").expect("write stdin");
    }
    let output = child.wait_with_output().expect("example-app runs");
    assert!(output.status.success(), "{output:?}");
    // shout: "HELLO!\n"; rot13: "URYYB!\n"; rot47: each printable char rotated by 47.
    assert_eq!(String::from_utf8_lossy(&output.stdout), "&#**qP\n");
}

/// The crate graph of ARCHITECTURE.md: who may depend on whom.
/// `cargo metadata --no-deps` of this workspace.
fn workspace_metadata() -> serde_json::Value {
    let output = expect_success(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(repo_root())
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ]),
    );
    serde_json::from_slice(&output.stdout).expect("metadata JSON")
}

#[test]
fn crate_graph_follows_the_architecture() {
    let metadata = workspace_metadata();
    let deps_of = |package: &str| -> Vec<String> {
        let p = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == package)
            .unwrap_or_else(|| panic!("package {package} in the workspace"));
        p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let mut api = deps_of("static-plugins-api");
    api.sort();
    assert_eq!(
        api,
        ["inventory", "serde", "static-plugins-macros"],
        "static-plugins-api stays small and does no IO"
    );
    let mut macros = deps_of("static-plugins-macros");
    macros.sort();
    assert_eq!(
        macros,
        ["proc-macro2", "quote", "static-plugins-id", "syn"],
        "plugin-macros never depends on static-plugins-api"
    );
    assert!(
        !deps_of("static-plugins-build")
            .iter()
            .any(|d| d == "static-plugins-api" || d == "static-plugins-sync"),
        "static-plugins-build is only what the generated build script needs"
    );
    let engine = deps_of("static-plugins-sync");
    assert!(
        engine.iter().any(|d| d == "static-plugins-build"),
        "{engine:?}"
    );
    assert!(
        !engine.iter().any(|d| d == "static-plugins-api"),
        "the engine reads static-plugins-api's manifest, never links it: {engine:?}"
    );
    // The engine is depended on only by xtasks, which live in workspaces of
    // their own (so they run when the host's workspace cannot load).
    let xtask: toml::Table = std::fs::read_to_string(repo_root().join("xtask/Cargo.toml"))
        .expect("read xtask/Cargo.toml")
        .parse()
        .expect("xtask/Cargo.toml parses");
    assert!(
        xtask.contains_key("workspace"),
        "xtask is its own workspace"
    );
    let xtask_deps = xtask["dependencies"]
        .as_table()
        .expect("xtask dependencies");
    assert!(
        xtask_deps.contains_key("static-plugins-sync"),
        "{xtask_deps:?}"
    );
    assert!(
        !xtask_deps.contains_key("static-plugins-api"),
        "the tool never links the runtime: {xtask_deps:?}"
    );
    for package in metadata["packages"].as_array().expect("packages") {
        assert_ne!(package["name"], "xtask", "xtask is not a member");
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let name = dep["name"].as_str().expect("name");
            assert!(
                !["xtask", "e2e", "example-app", "plugin-sync"].contains(&name),
                "{} depends on {name}",
                package["name"]
            );
        }
    }
}

/// Every Rust source opens with a `//!` line saying what it is for (the
/// generated build script opens with its generated-file header first).
#[test]
fn every_source_file_says_what_it_is_for() {
    fn walk(dir: &Path, missing: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap_or_default();
            if path.is_dir() {
                if name != "target" && name != ".git" && name != "ui" {
                    walk(&path, missing);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                let first = text.lines().find(|l| !l.starts_with("// Generated"));
                if !first.is_some_and(|l| l.starts_with("//!")) {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    let mut missing = Vec::new();
    walk(&repo_root(), &mut missing);
    assert!(
        missing.is_empty(),
        "files without a `//!` opening line: {missing:#?}"
    );
}

#[test]
fn example_app_hands_plugins_their_config_and_names_key_and_file_on_errors() {
    let mut run = example_app(&["--config", "example.toml", "filters"]);
    let output = stdout(&expect_success(&mut run));
    assert!(
        output.contains("upper      (from plugin upper)"),
        "{output}"
    );
    assert!(
        !output.contains("lower"),
        "example.toml keeps only `upper`: {output}"
    );

    let dir = repo_root().join("target/tmp/e2e-config");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "[plugins.upper]\nfilters = \"upper\"\n",
            "plugin `upper`, key `filters`: invalid type: string \"upper\", expected a sequence",
        ),
        (
            "[plugins.upper]\nfilter = [\"upper\"]\n",
            "plugin `upper`, key `filter`: unknown key",
        ),
        (
            "[plugins.shout]\nloud = true\n",
            "plugin `shout`: the plugin takes no configuration",
        ),
        (
            "[plugins.nope]\n",
            "plugin `nope`: there is no plugin `nope` in this binary; available: `rot`, `shout`, `upper`",
        ),
    ];
    for (i, (config, expected)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{i}.toml"));
        std::fs::write(&file, config).unwrap();
        let file = file.display().to_string();
        let output = e2e::expect_failure(&mut example_app(&["--config", &file, "filters"]));
        assert_eq!(e2e::stderr(&output), format!("error: {file}: {expected}\n"));
    }
}

/// The documents keep up with the code: every module of the engine is in
/// ARCHITECTURE.md's code map, and every task `cargo xtask --help` lists is
/// in README.md (as `cargo xtask <task>`).
#[test]
fn architecture_and_readme_name_every_module_and_task() {
    let root = repo_root();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE");
    let mut modules = Vec::new();
    for lib in ["plugin-sync/src/lib.rs", "plugin-sync/src/sync/mod.rs"] {
        let text = std::fs::read_to_string(root.join(lib)).expect("lib.rs");
        modules.extend(text.lines().filter_map(|line| {
            let name = line
                .trim()
                .strip_prefix("pub mod ")
                .or_else(|| line.trim().strip_prefix("mod "))?
                .strip_suffix(';')?;
            Some(name.to_owned())
        }));
    }
    assert!(modules.len() > 30, "{modules:?}");
    let missing: Vec<&String> = modules
        .iter()
        // Test-only modules are not part of the map.
        .filter(|m| *m != "proptests")
        .filter(|m| {
            !architecture.contains(&format!("`{m}.rs`"))
                && !architecture.contains(&format!("`{m}/`"))
                && !architecture.contains(&format!("`{m}::"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "modules ARCHITECTURE.md does not name: {missing:?}"
    );

    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let help = stdout(&expect_success(e2e::tool().arg("--help")));
    let tasks: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| *t != "help")
        .collect();
    assert!(tasks.len() > 10, "{help}");
    let undocumented: Vec<&&str> = tasks
        .iter()
        .filter(|t| !readme.contains(&format!("cargo xtask {t}")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "tasks README.md does not show: {undocumented:?}"
    );
}

/// No function of the engine (plugin-sync, static-plugins-build) is over 100
/// lines: each long one was a chain of steps that reads better as one.
#[test]
fn no_engine_function_is_over_100_lines() {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut sources = Vec::new();
    for dir in ["plugin-sync/src", "build-support/src"] {
        files(&repo_root().join(dir), &mut sources);
    }
    let mut long = Vec::new();
    for path in sources {
        let text = std::fs::read_to_string(&path).expect("source");
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while let Some(line) = lines.get(i) {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p))
                && !trimmed.ends_with(';')
                && !trimmed.ends_with('}');
            if !is_fn {
                i += 1;
                continue;
            }
            let close = format!("{indent}}}");
            let end = (i..lines.len())
                .find(|&j| lines.get(j).is_some_and(|l| *l == close))
                .unwrap_or(i);
            if end - i + 1 > 100 {
                long.push(format!(
                    "{}:{} ({} lines)",
                    path.display(),
                    i + 1,
                    end - i + 1
                ));
            }
            i = end.max(i) + 1;
        }
    }
    assert!(long.is_empty(), "functions over 100 lines: {long:#?}");
}

/// The published crates: each with what crates.io requires.
const PUBLISHED: [&str; 5] = e2e::PUBLISHED_CRATES;

#[test]
fn the_published_crates_package_in_dependency_order() {
    let metadata = workspace_metadata();
    let packages = metadata["packages"].as_array().expect("packages");
    for name in PUBLISHED {
        let package = packages
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no package {name}"));
        for field in ["description", "license", "repository", "readme"] {
            assert!(
                package[field].as_str().is_some_and(|v| !v.is_empty()),
                "{name} has no {field}"
            );
        }
        assert!(
            package["publish"].is_null(),
            "{name} is publishable: {}",
            package["publish"]
        );
    }
    // Everything else stays unpublished.
    for package in packages {
        let name = package["name"].as_str().expect("name");
        if !PUBLISHED.contains(&name) {
            assert_eq!(package["publish"], serde_json::json!([]), "{name}");
        }
    }
    // The macros by exact version from the API crate, the id rule by exact
    // version from the macros: they are released together.
    let requirement = |of: &str, on: &str| -> String {
        let package = packages.iter().find(|p| p["name"] == of).expect("package");
        let dependency = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .find(|d| d["name"] == on)
            .unwrap_or_else(|| panic!("{of} does not depend on {on}"));
        dependency["req"].as_str().expect("req").to_owned()
    };
    let version = packages
        .iter()
        .find(|p| p["name"] == "static-plugins-api")
        .and_then(|p| p["version"].as_str())
        .expect("version");
    assert_eq!(
        requirement("static-plugins-api", "static-plugins-macros"),
        format!("={version}")
    );
    assert_eq!(
        requirement("static-plugins-macros", "static-plugins-id"),
        format!("={version}")
    );
    // Packaged together, offline. The three a plugin builds against are
    // built from their packaged sources by `from_registry.rs`
    // (`the_api_crate_published_to_a_registry_builds_a_plugin_with_no_patch`).
    let package = |extra: &[&str], which: &[&str]| {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(repo_root())
            .args([
                "package",
                "--offline",
                "--locked",
                "--allow-dirty",
                "--quiet",
            ])
            .args(extra);
        for name in which {
            command.args(["-p", name]);
        }
        expect_success(&mut command);
    };
    package(&["--no-verify"], &PUBLISHED);
    for name in PUBLISHED {
        let file = repo_root()
            .join("target/package")
            .join(format!("{name}-{version}.crate"));
        assert!(file.is_file(), "{} was not written", file.display());
    }
}
