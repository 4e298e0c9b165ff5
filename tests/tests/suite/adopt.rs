//! A new user's path, end to end: `cargo new` a project outside this
//! repository; adopt it with `init`, taking the tool from a git repository
//! (this working tree, committed, as a bare clone over `file://`); scaffold a
//! plugin in its own repository, whose own `cargo test` passes; add it with
//! the host's own `cargo xtask add`; build and run. A second `init` changes
//! nothing, and with `plugin-sources/` deleted the host's own
//! `cargo xtask sync` repairs it.

use std::path::Path;

use e2e::{
    GitRepo, assert_unchanged, expect_success, hosts_dir, snapshot, stderr, stdout, tool_repo,
    user_cargo,
};

/// The lines `init` tells the user to add to `main`.
fn lines_to_add(init_stderr: &str) -> Vec<String> {
    init_stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("let mut registry") || l.starts_with("for (id, error)"))
        .map(str::to_owned)
        .collect()
}

fn main_rs(lines: &[String]) -> String {
    format!(
        "//! Adopted by init.\nfn main() -> Result<(), Box<dyn std::error::Error>> {{\n    {}\n    \
         for plugin in registry.plugins() {{\n        println!(\"plugin {{}}\", plugin.descriptor.id);\n    }}\n    \
         Ok(())\n}}\n",
        lines.join("\n    ")
    )
}

/// A plugin `id` scaffolded by `new-plugin` (run through `tool`) in a git
/// repository of its own, committed and tagged `v0.1.0`.
fn scaffolded(repo: &str, id: &str, tool: &dyn Fn(&[&str])) -> GitRepo {
    let plugin = GitRepo::new(repo);
    std::fs::remove_dir_all(&plugin.dir).unwrap();
    tool(&["new-plugin", id, "--path", plugin.dir.to_str().unwrap()]);
    plugin.git(&["init", "--quiet", "--initial-branch=main"]);
    plugin.commit(&format!("{id} plugin"));
    plugin.git(&["tag", "v0.1.0"]);
    plugin
}

fn run_host(root: &Path, cache: &Path, package: &str) -> String {
    stdout(&expect_success(&mut user_cargo(
        root,
        cache,
        &["run", "--quiet", "--offline", "--package", package],
    )))
}

#[test]
fn a_new_project_adopts_the_tool_from_git_and_builds_a_scaffolded_plugin() {
    let (tool, commit) = tool_repo("adopt-tool");
    let bare = tool.dir.with_extension("git");
    if bare.exists() {
        std::fs::remove_dir_all(&bare).unwrap();
    }
    tool.git(&["clone", "--quiet", "--bare", ".", bare.to_str().unwrap()]);
    let tool_url = format!("file://{}", bare.display());

    // A brand-new single-package project, outside this repository.
    let base = hosts_dir().join("adopt");
    if base.exists() {
        std::fs::remove_dir_all(&base).unwrap();
    }
    std::fs::create_dir_all(&base).unwrap();
    let cache = base.join("cache");
    let package = "adopted-app";
    expect_success(&mut user_cargo(
        &base,
        &cache,
        &["new", "--quiet", "--vcs", "none", "--bin", package],
    ));
    let root = base.join(package);
    // Registry crates at the versions this repository builds with, so the
    // host resolves from cargo's cache.
    std::fs::copy(e2e::repo_root().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();

    let init = |extra: &[&str]| {
        let mut command = e2e::tool();
        command
            .current_dir(&root)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(["init", "--git", &tool_url, "--rev", &commit])
            .args(extra);
        expect_success(&mut command)
    };
    let first = stderr(&init(&[]));
    let lines = lines_to_add(&first);
    assert_eq!(lines.len(), 2, "init prints two lines to add:\n{first}");
    let readme = std::fs::read_to_string(e2e::repo_root().join("README.md")).unwrap();
    for line in &lines {
        assert!(readme.contains(line.as_str()), "the README shows `{line}`");
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for expected in [
        "[workspace]",
        "\"plugin-set\"",
        "\"plugin-sources\"",
        &format!("static-plugins-api = {{ git = \"{tool_url}\", rev = \"{commit}\" }}"),
        "[patch.crates-io]",
        "plugin-set = { path = \"plugin-set\" }",
    ] {
        assert!(manifest.contains(expected), "{expected} in\n{manifest}");
    }
    std::fs::write(root.join("src/main.rs"), main_rs(&lines)).unwrap();
    assert_eq!(run_host(&root, &cache, package), "", "no plugin yet");

    // The plugin author: scaffold with the host's own xtask, in a
    // directory of its own; its own tests pass there.
    let plugin = GitRepo::new("adopt-greet");
    std::fs::remove_dir_all(&plugin.dir).unwrap();
    let plugin_dir = plugin.dir.to_str().unwrap();
    expect_success(&mut user_cargo(
        &root,
        &cache,
        &["xtask", "new-plugin", "greet", "--path", plugin_dir],
    ));
    std::fs::copy(
        e2e::repo_root().join("Cargo.lock"),
        plugin.dir.join("Cargo.lock"),
    )
    .unwrap();
    let test = expect_success(&mut user_cargo(&plugin.dir, &cache, &["test", "--offline"]));
    assert!(
        stdout(&test).contains("test tests::registers_its_filter ... ok"),
        "{}",
        stdout(&test)
    );
    plugin.git(&["init", "--quiet", "--initial-branch=main"]);
    plugin.commit("greet plugin");
    plugin.git(&["tag", "v0.1.0"]);

    // The host adds it with its own xtask, builds and runs.
    expect_success(&mut user_cargo(
        &root,
        &cache,
        &[
            "xtask",
            "add",
            "greet",
            "--git",
            &plugin.url(),
            "--tag",
            "v0.1.0",
        ],
    ));
    // The plugin compiled whole (init's profile override: sccache can cache
    // it), the host's own package incrementally.
    let build = expect_success(&mut user_cargo(
        &root,
        &cache,
        &["build", "--offline", "--verbose", "--package", package],
    ));
    let rustc_of = |krate: &str| {
        stderr(&build)
            .lines()
            .find(|l| l.contains("Running `") && l.contains(&format!("--crate-name {krate} ")))
            .unwrap_or_else(|| panic!("no rustc for {krate} in\n{}", stderr(&build)))
            .to_owned()
    };
    assert!(
        !rustc_of("greet").contains("-C incremental="),
        "{}",
        rustc_of("greet")
    );
    let app = package.replace('-', "_");
    assert!(
        rustc_of(&app).contains("-C incremental="),
        "{}",
        rustc_of(&app)
    );
    assert_eq!(run_host(&root, &cache, package), "plugin greet\n");

    // A second init changes nothing.
    let before = snapshot(&root, &["."]);
    let again = stderr(&init(&[]));
    assert!(again.contains("nothing changed"), "{again}");
    assert_unchanged(&before, &snapshot(&root, &["."]));

    // The host can always repair itself: plugin-sources/ deleted, cargo
    // cannot load the workspace, yet `cargo xtask sync` runs and restores it.
    std::fs::remove_dir_all(root.join("plugin-sources")).unwrap();
    let broken = user_cargo(&root, &cache, &["build", "--offline"])
        .output()
        .unwrap();
    assert!(!broken.status.success(), "the host does not load");
    let repair = expect_success(&mut user_cargo(
        &root,
        &cache,
        &["xtask", "sync", "--offline", "--message-format", "json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&stdout(&repair)).unwrap();
    assert_eq!(report["synced"], 1, "{report}");
    let changed = report["changed"].as_array().unwrap();
    assert!(
        changed
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("plugin-sources/greet-")),
        "{report}"
    );
    assert_eq!(run_host(&root, &cache, package), "plugin greet\n");

    // So can a deleted generated crate and lock (re-resolving the tag needs
    // its repository: without a lock nothing is pinned).
    std::fs::remove_dir_all(root.join("plugin-set")).unwrap();
    std::fs::remove_file(root.join("plugins.lock")).unwrap();
    expect_success(&mut user_cargo(&root, &cache, &["xtask", "sync"]));
    assert_eq!(run_host(&root, &cache, package), "plugin greet\n");

    // README's CI job, as a shell script, runs as written (sccache, when
    // installed, is used; it is not required).
    let script = ci_script();
    let mut ci = std::process::Command::new("sh");
    e2e::hermetic_git(&mut ci)
        .current_dir(&root)
        .env("PLUGIN_CACHE_DIR", &cache)
        .env("CARGO_TARGET_DIR", e2e::shared_target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .args(["-c", &script]);
    let ran = expect_success(&mut ci);
    let listed = stdout(&ran);
    let binary = e2e::shared_target_dir().join("release").join(package);
    for file in [
        binary.clone(),
        binary.with_extension("dist.json"),
        binary.with_extension("cdx.json"),
    ] {
        assert!(file.is_file(), "{} was not written", file.display());
        assert!(listed.contains(&file.display().to_string()), "{listed}");
    }
    let dist = std::fs::read_to_string(root.join("dist.txt")).unwrap();
    assert!(
        dist.ends_with(&format!("  {}\n", binary.display())),
        "{dist}"
    );
}

/// The shell script of README's "Continuous integration" section.
fn ci_script() -> String {
    let readme = std::fs::read_to_string(e2e::repo_root().join("README.md")).unwrap();
    let (_, section) = readme
        .split_once("## Continuous integration")
        .expect("README has a CI section");
    let (_, after) = section
        .split_once("The same job as a shell script")
        .expect("the section has a shell script");
    let (_, block) = after.split_once("```sh\n").expect("a sh block");
    let (script, _) = block.split_once("```").expect("the block ends");
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    script.to_owned()
}

/// The plugin author's path in this repository: `new-plugin`, a git
/// repository, `add` — and example-app has the plugin, with no manual edit.
#[test]
fn a_scaffolded_plugin_builds_into_this_repositorys_example_app_with_no_edit() {
    // This working tree as the host, so the test never edits the checkout.
    let (copy, _) = tool_repo("example-host");
    let cache = copy.dir.with_extension("cache");
    let manifest = copy.dir.join("Cargo.toml");
    let xtask = |args: &[&str]| {
        let mut command = e2e::tool();
        command
            .current_dir(&copy.dir)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(args)
            .arg("--manifest-path")
            .arg(&manifest);
        expect_success(&mut command)
    };

    let plugin = scaffolded("bracket", "bracket", &|args| {
        xtask(args);
    });
    xtask(&["add", "bracket", "--git", &plugin.url(), "--tag", "v0.1.0"]);

    let example_app = |args: &[&str]| {
        let mut all = vec![
            "run",
            "--quiet",
            "--offline",
            "--package",
            "example-app",
            "--",
        ];
        all.extend_from_slice(args);
        user_cargo(&copy.dir, &cache, &all)
    };
    let run = |args: &[&str]| stdout(&expect_success(&mut example_app(args)));
    let filters = run(&["filters"]);
    assert!(
        filters.contains("bracket    (from plugin bracket)"),
        "{filters}"
    );
    let mut filter = example_app(&["run", "bracket"]);
    let mut child = filter
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hi").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "[hi]");
    let list = run(&["plugins", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("bracket ") && l.contains("loaded")),
        "{list}"
    );
}

/// A refused project: its name, its files, the arguments after `init`
/// (`{tool}` is this repository), the expected error.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

/// A project `init` must refuse: it fails naming the conflict, and every
/// file keeps its bytes and mtime.
#[test]
fn init_refuses_what_it_cannot_adopt_and_writes_nothing() {
    let base = hosts_dir().join("adopt-refused");
    if base.exists() {
        std::fs::remove_dir_all(&base).unwrap();
    }
    let cache = base.join("cache");
    let app = "[package]\nname = \"refused-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n";
    let main = "fn main() {}\n";
    const DEFAULT: &[&str] = &["--path", "{tool}"];
    let cases: &[Case<'_>] = &[
        (
            "no-binary",
            &[("Cargo.toml", app), ("src/lib.rs", "//! A library.\n")],
            DEFAULT,
            "the project has no binary to build plugins into",
        ),
        (
            "alias",
            &[
                ("Cargo.toml", app),
                ("src/main.rs", main),
                (
                    ".cargo/config.toml",
                    "[alias]\nxtask = \"run -p mine --\"\n",
                ),
            ],
            DEFAULT,
            "already defines the alias `xtask` (\"run -p mine --\")",
        ),
        (
            "plugin-set-package",
            &[
                (
                    "Cargo.toml",
                    "[workspace]\nmembers = [\"app\", \"tools/set\"]\n",
                ),
                ("app/Cargo.toml", app),
                ("app/src/main.rs", main),
                (
                    "tools/set/Cargo.toml",
                    "[package]\nname = \"plugin-set\"\nversion = \"1.0.0\"\nedition = \"2024\"\n",
                ),
                ("tools/set/src/lib.rs", ""),
            ],
            DEFAULT,
            "the project already has a package named `plugin-set`",
        ),
        (
            "plugin-set-directory",
            &[
                ("Cargo.toml", app),
                ("src/main.rs", main),
                ("plugin-set/notes.txt", "mine\n"),
            ],
            DEFAULT,
            "plugin-set exists; the generated crate needs that directory",
        ),
        (
            "xtask",
            &[
                ("Cargo.toml", app),
                ("src/main.rs", main),
                ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n"),
            ],
            DEFAULT,
            "is not the xtask this tool writes",
        ),
        (
            "several-binaries",
            &[
                ("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n"),
                ("a/Cargo.toml", &app.replace("refused-app", "bin-a")),
                ("a/src/main.rs", main),
                ("b/Cargo.toml", &app.replace("refused-app", "bin-b")),
                ("b/src/main.rs", main),
            ],
            DEFAULT,
            "the project has several binaries (bin-a (package bin-a), bin-b (package bin-b)); choose \
             one with --package and --bin",
        ),
        (
            "several-binaries-one-package",
            &[
                (
                    "Cargo.toml",
                    &format!(
                        "{app}\n[[bin]]\nname = \"one\"\npath = \"src/main.rs\"\n\n[[bin]]\nname = \"two\"\npath = \"src/main.rs\"\n"
                    ),
                ),
                ("src/main.rs", main),
            ],
            DEFAULT,
            "the project has several binaries (one (package refused-app), two (package \
             refused-app)); choose one with --package and --bin",
        ),
        (
            "unknown-bin",
            &[("Cargo.toml", app), ("src/main.rs", main)],
            &["--path", "{tool}", "--bin", "nope"],
            "the project has no binary named `nope`; its binaries: refused-app (package \
             refused-app)",
        ),
        (
            "sync-fails",
            &[
                ("Cargo.toml", app),
                ("src/main.rs", main),
                ("plugins.toml", "[plugins]\ngone = { path = \"gone\" }\n"),
            ],
            DEFAULT,
            "init failed; every file was put back as it was",
        ),
        (
            "unknown-package",
            &[("Cargo.toml", app), ("src/main.rs", main)],
            &["--path", "{tool}", "--package", "nope"],
            "the project has no binary in package `nope`; its binaries: refused-app (package \
             refused-app)",
        ),
        (
            "path-missing",
            &[("Cargo.toml", app), ("src/main.rs", main)],
            &["--path", "/nonexistent/static-plugins"],
            "/nonexistent/static-plugins does not exist",
        ),
        (
            "path-not-the-tool",
            &[("Cargo.toml", app), ("src/main.rs", main)],
            &["--path", "{tool}/plugin-api"],
            "is not a checkout of the plugin tool (no plugin-api/Cargo.toml)",
        ),
        (
            "git-with-password",
            &[("Cargo.toml", app), ("src/main.rs", main)],
            &[
                "--git",
                "https://me:s3cret@example.com/tool.git",
                "--rev",
                "0123456789abcdef0123456789abcdef01234567",
            ],
            "the --git URL carries credentials",
        ),
        (
            "git-with-token",
            &[("Cargo.toml", app), ("src/main.rs", main)],
            &[
                "--git",
                "https://example.com/tool.git?private_token=s3cret",
                "--tag",
                "v1",
            ],
            "the --git URL carries credentials",
        ),
        (
            "alias-array",
            &[
                ("Cargo.toml", app),
                ("src/main.rs", main),
                (
                    ".cargo/config.toml",
                    "[alias]\nxtask = [\"run\", \"-p\", \"mine\"]\n",
                ),
            ],
            DEFAULT,
            "already defines the alias `xtask`",
        ),
        (
            "config-garbage",
            &[
                ("Cargo.toml", app),
                ("src/main.rs", main),
                (".cargo/config.toml", "[alias\n"),
            ],
            DEFAULT,
            // cargo itself reads it first, and says which file.
            "could not parse TOML configuration in",
        ),
        (
            "manifest-garbage",
            &[("Cargo.toml", "[package\n"), ("src/main.rs", main)],
            DEFAULT,
            "Cargo.toml",
        ),
        (
            "not-a-project",
            &[("Cargo.toml", "[dependencies]\n"), ("src/main.rs", main)],
            DEFAULT,
            "has neither `[package]` nor `[workspace]`: it is not a Cargo project",
        ),
    ];
    let tool = e2e::repo_root().display().to_string();
    for (name, files, args, expected) in cases {
        let root = base.join(name);
        for (relative, contents) in *files {
            e2e::write_file(&root.join(relative), contents);
        }
        let before = snapshot(&root, &["."]);
        let mut command = e2e::tool();
        command
            .current_dir(&root)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(["init", "--offline"])
            .args(args.iter().map(|a| a.replace("{tool}", &tool)));
        let output = e2e::expect_failure(&mut command);
        let message = stderr(&output);
        assert!(
            message.starts_with("error: ") && message.contains(expected),
            "{name}: expected `{expected}` in\n{message}"
        );
        assert_unchanged(&before, &snapshot(&root, &["."]));
        assert!(
            !message.contains("s3cret"),
            "{name}: the secret is printed: {message}"
        );
    }
}

/// A workspace with a virtual manifest, whose binary package has two
/// binaries named unlike it: `init --bin` picks one, the lines it prints
/// compile in a `main` that returns `()`, and a git plugin runs in it.
#[test]
fn init_adopts_a_virtual_workspace_and_one_of_several_binaries() {
    let base = hosts_dir().join("adopt-virtual");
    if base.exists() {
        std::fs::remove_dir_all(&base).unwrap();
    }
    let cache = base.join("cache");
    let root = base.join("ws");
    let files = [
        (
            "Cargo.toml",
            "# The suite's workspace.\n[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n",
        ),
        (
            "crates/core/Cargo.toml",
            "[package]\nname = \"suite-core\"\nversion = \"0.3.0\"\nedition = \"2021\"\n",
        ),
        (
            "crates/core/src/lib.rs",
            "//! Core.\npub fn name() -> &'static str {\n    \"core\"\n}\n",
        ),
        (
            "crates/app/Cargo.toml",
            "[package]\nname = \"suite\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n\
             [[bin]]\nname = \"suite-cli\"\npath = \"src/main.rs\"\n\n\
             [[bin]]\nname = \"suite-admin\"\npath = \"src/admin.rs\"\n\n\
             [dependencies]\nsuite-core = { path = \"../core\" }\n",
        ),
        (
            "crates/app/src/main.rs",
            "//! The CLI.\nfn main() {\n    println!(\"{}\", suite_core::name());\n}\n",
        ),
        ("crates/app/src/admin.rs", "//! Admin.\nfn main() {}\n"),
    ];
    for (relative, contents) in files {
        e2e::write_file(&root.join(relative), contents);
    }
    std::fs::copy(e2e::repo_root().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    let tool = e2e::repo_root().display().to_string();
    let init = |extra: &[&str]| {
        let mut command = e2e::tool();
        command
            .current_dir(&root)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(["init", "--offline", "--path", &tool])
            .args(extra);
        command
    };
    let before = snapshot(&root, &["."]);
    let refused = e2e::expect_failure(&mut init(&[]));
    assert!(
        stderr(&refused).contains(
            "several binaries (suite-admin (package suite), suite-cli (package suite)); choose \
             one with --package and --bin"
        ),
        "{}",
        stderr(&refused)
    );
    assert_unchanged(&before, &snapshot(&root, &["."]));

    let adopted = stderr(&expect_success(&mut init(&["--bin", "suite-cli"])));
    assert!(
        adopted.contains("crates/app/src/main.rs (binary `suite-cli` of package `suite`)"),
        "{adopted}"
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest.starts_with("# The suite's workspace."),
        "{manifest}"
    );
    // The engine's dependencies at the versions the tool was tested with.
    let gix = |lock: &str| {
        lock.split("[[package]]")
            .find(|p| p.contains("name = \"gix\"\n"))
            .map(str::to_owned)
    };
    let tool_lock = std::fs::read_to_string(e2e::repo_root().join("xtask/Cargo.lock")).unwrap();
    let host_lock = std::fs::read_to_string(root.join("xtask/Cargo.lock")).unwrap();
    assert!(gix(&tool_lock).is_some());
    assert_eq!(gix(&host_lock), gix(&tool_lock));
    assert!(
        !manifest.contains("[package]"),
        "still virtual:\n{manifest}"
    );
    // The printed lines, pasted unchanged at the top of a `main` that
    // returns `()`, and one line that lists the plugins.
    let main_path = root.join("crates/app/src/main.rs");
    let main = std::fs::read_to_string(&main_path).unwrap().replace(
        "fn main() {\n",
        &format!(
            "fn main() {{\n    {}\n    for p in registry.plugins() {{ println!(\"plugin {{}}\", \
             p.descriptor.id); }}\n",
            lines_to_add(&adopted).join("\n    ")
        ),
    );
    std::fs::write(&main_path, main).unwrap();

    // The tool itself on this host (the git adoption above runs a host's
    // own `cargo xtask`; building another one here would only cost time).
    let tool = |args: &[&str]| {
        let mut command = e2e::tool();
        command
            .current_dir(&root)
            .env("PLUGIN_CACHE_DIR", &cache)
            .env("CARGO_TARGET_DIR", e2e::shared_target_dir())
            .args(args)
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"));
        command
    };
    let plugin = scaffolded("adopt-virtual-greet", "greet", &|args| {
        expect_success(&mut tool(args));
    });
    expect_success(&mut tool(&[
        "add",
        "greet",
        "--git",
        &plugin.url(),
        "--tag",
        "v0.1.0",
    ]));
    let output = stdout(&expect_success(&mut user_cargo(
        &root,
        &cache,
        &["run", "--quiet", "--offline", "--bin", "suite-cli"],
    )));
    assert_eq!(output, "plugin greet\ncore\n");
    // `run` finds the binary among the package's two.
    let via_xtask = stdout(&expect_success(&mut tool(&[
        "run",
        "--offline",
        "--quiet",
        "--bin",
        "suite-cli",
    ])));
    assert_eq!(via_xtask, "plugin greet\ncore\n");
}

/// One real application of the corpus (`xtask/corpus.toml`), adopted end to
/// end by `cargo xtask corpus`: fetched from crates.io through cargo, init,
/// a scaffolded git plugin added, init's lines pasted into its `main`,
/// built, run (listing the plugin), `dist` twice with the same bytes,
/// `dist --target`, the SBOM validated, `remove` and a build.
#[test]
fn a_real_published_application_is_adopted_end_to_end() {
    let dir = hosts_dir().join("corpus");
    let report = dir.join("CORPUS.md");
    let mut command = e2e::tool();
    command
        // --quick: no second release build for `--target` (tests/dist.rs
        // covers it) and the tool itself rather than the host's own xtask
        // (the git adoption above builds and runs one), to keep the suite
        // within its time.
        .args(["corpus", "--quick", "--app", "choose", "--dir"])
        .arg(&dir)
        .arg("--target-dir")
        .arg(e2e::shared_target_dir())
        .arg("--report")
        .arg(&report);
    let output = e2e::run(&mut command);
    let table = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(output.status.success(), "{table}\n{}", stderr(&output));
    let outcomes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("corpus.json")).unwrap()).unwrap();
    let steps = outcomes[0]["steps"].as_array().unwrap();
    let status = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["status"].as_str().unwrap().to_owned())
    };
    for name in [
        "fetch", "init", "plugin", "add", "paste", "build", "run", "dist", "dist2", "sbom",
        "remove",
    ] {
        assert_eq!(status(name).as_deref(), Some("ok"), "{name} in\n{table}");
    }
    // choose's published crate has no tests of its own.
    assert_eq!(status("test").as_deref(), Some("skipped"), "{table}");
    assert_eq!(status("target").as_deref(), Some("skipped"), "{table}");
    assert!(
        table.contains("| choose 1.3.7 | published | `choose` |"),
        "{table}"
    );
}
