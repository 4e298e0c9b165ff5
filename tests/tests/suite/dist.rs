//! Release builds: the same lock gives the same bytes from two checkouts at
//! different paths, offline rebuilds need no network, and every plugin stays
//! registered under every release profile a user may pick.

use std::path::Path;
use std::process::Command;

use e2e::{GitRepo, Host, PluginCrate, expect_success, stderr, stdout};

/// Copies a host as a clone would have it: without `target/`, and without
/// `plugin-sources/` unless it is committed (`vendored`).
fn copy_tree(from: &Path, to: &Path, vendored: bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || (name == "plugin-sources" && !vendored) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst, vendored);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// 2026-01-01T00:00:00Z: what the SBOM's timestamp must say.
const SOURCE_DATE: &str = "1767225600";

/// Fails unless `bom` is valid against the vendored CycloneDX 1.5 schema.
fn assert_valid_cyclonedx(bom: &serde_json::Value) {
    let dir = e2e::repo_root().join("tests/fixtures/cyclonedx");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            read("spdx.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
            read("jsf-0.82.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    let schema = read("bom-1.5.SNAPSHOT.schema.json");
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&schema)
        .expect("the vendored schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(bom)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid CycloneDX:\n{}",
        errors.join("\n")
    );
    // The validator is not a pushover.
    let mut broken = bom.clone();
    broken["components"][0]["type"] = "not-a-type".into();
    assert!(!validator.is_valid(&broken));
}

/// `xtask dist` in `root` with its own target and cache directories; the
/// sha256 it printed.
fn dist(root: &Path, app: &str, target: &Path, cache: &Path, extra: &[&str]) -> String {
    let mut command = e2e::tool();
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env("PLUGIN_CACHE_DIR", cache)
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE)
        .args(["dist", "--quiet", "--package", app, "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .args(extra);
    let output = expect_success(&mut command);
    let line = stdout(&output);
    let (sha, path) = line.trim().split_once("  ").expect("`<sha256>  <path>`");
    assert_eq!(
        Path::new(path),
        target.join("release").join(app),
        "{}",
        stderr(&output)
    );
    sha.to_owned()
}

#[test]
fn two_checkouts_at_different_paths_build_identical_binaries() {
    let repo = GitRepo::new("reproducible");
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[("repro", None)],
            ..PluginCrate::new("reproducible", "reproducible")
        },
    );
    let commit = repo.commit("plugin");
    repo.git(&["tag", "v1"]);
    let first = Host::new("two_checkouts_a");
    first.use_example_app();
    first.plugin("plugins/local", &PluginCrate::new("local", "local"));
    first.write(
        "plugins.toml",
        &format!(
            "[plugins]\nreproducible = {{ git = \"{}\", tag = \"v1\" }}\nlocal = {{ path = \"plugins/local\" }}\n",
            repo.url()
        ),
    );
    // Full debug info embeds the compilation directory: only remapping
    // makes the two checkouts agree.
    let root_manifest = first.read("Cargo.toml");
    first.write(
        "Cargo.toml",
        &format!("{root_manifest}\n[profile.release]\ndebug = 2\n"),
    );
    expect_success(&mut first.xtask(&["sync"]));
    // The second checkout: the same files at a longer path.
    let second_root = e2e::hosts_dir().join("two_checkouts_b_at_another_longer_path");
    let _ = std::fs::remove_dir_all(&second_root);
    copy_tree(&first.root, &second_root, false);

    let scratch = e2e::repo_root().join("target/e2e-dist");
    let _ = std::fs::remove_dir_all(&scratch);
    let a = dist(
        &first.root,
        &first.app,
        &scratch.join("target-a"),
        &scratch.join("cache-a"),
        &[],
    );
    let b = dist(
        &second_root,
        &first.app,
        &scratch.join("target-b"),
        &scratch.join("cache-b"),
        &[],
    );
    assert_eq!(a, b, "the two release binaries differ");

    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            scratch
                .join("target-a/release")
                .join(format!("{}.dist.json", first.app)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["sha256"], a.as_str());
    assert!(
        manifest["lock_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        manifest["toolchain"]
            .as_str()
            .unwrap()
            .starts_with("rustc ")
    );
    assert!(!manifest["target"].as_str().unwrap().is_empty());

    // The bill of materials: the same bytes from both checkouts, valid
    // CycloneDX, every plugin named with its source.
    let sbom_of = |target: &str| {
        std::fs::read_to_string(
            scratch
                .join(target)
                .join("release")
                .join(format!("{}.cdx.json", first.app)),
        )
        .unwrap()
    };
    let sbom = sbom_of("target-a");
    assert_eq!(sbom, sbom_of("target-b"), "the two SBOMs differ");
    let bom: serde_json::Value = serde_json::from_str(&sbom).unwrap();
    assert_valid_cyclonedx(&bom);
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["metadata"]["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(bom["metadata"]["component"]["name"], first.app.as_str());
    assert!(
        !sbom.contains(&*first.root.to_string_lossy()),
        "an absolute path:\n{sbom}"
    );
    let lock = first.read("plugins.lock");
    let checksum = lock
        .lines()
        .find_map(|l| l.strip_prefix("checksum = \"sha256:"))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the git plugin's checksum");
    let components = bom["components"].as_array().unwrap();
    let plugin = |name: &str| {
        components
            .iter()
            .find(|c| {
                c["properties"].as_array().is_some_and(|p| {
                    p.iter()
                        .any(|p| p["name"] == "static-plugins:plugin" && p["value"] == name)
                })
            })
            .unwrap_or_else(|| panic!("plugin {name} not marked in\n{sbom}"))
    };
    let git = plugin("reproducible");
    let property = |c: &serde_json::Value, name: &str| {
        c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].clone())
    };
    assert_eq!(
        property(git, "static-plugins:commit"),
        Some(commit.as_str().into())
    );
    assert_eq!(
        property(git, "static-plugins:reference"),
        Some("tag `v1`".into())
    );
    assert_eq!(git["externalReferences"][0]["url"], repo.url().as_str());
    assert_eq!(git["hashes"][0]["content"], checksum);
    assert_eq!(
        git["purl"],
        format!(
            "pkg:cargo/reproducible@1.2.3?vcs_url=git%2Bfile%3A%2F%2F{}%40{commit}",
            repo.dir.display().to_string().replace('/', "%2F")
        )
        .as_str(),
    );
    assert_eq!(
        property(plugin("local"), "static-plugins:source"),
        Some("local".into())
    );
    for crate_name in ["static-plugins-api", "plugin-set", "inventory"] {
        assert!(
            components.iter().any(|c| c["name"] == crate_name),
            "{crate_name} missing"
        );
    }
    // `sbom` writes the same without building.
    let written = scratch.join("sbom.cdx.json");
    let mut sbom_task = e2e::tool();
    sbom_task
        .current_dir(&first.root)
        .env("PLUGIN_CACHE_DIR", scratch.join("cache-a"))
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE)
        .args(["sbom", "--quiet", "--output"])
        .arg(&written)
        .arg("--manifest-path")
        .arg(first.path("Cargo.toml"));
    expect_success(&mut sbom_task);
    assert_eq!(std::fs::read_to_string(&written).unwrap(), sbom);

    // The binary really holds the git plugin, at its commit.
    let list = stdout(&expect_success(
        Command::new(scratch.join("target-a/release").join(&first.app))
            .args(["plugins", "list", "--json"]),
    ));
    assert!(list.contains(&format!("\"rev\": \"{commit}\"")), "{list}");

    // --frozen: the repository is gone, the cache and lock are enough.
    let gone = repo.dir.with_extension("gone");
    let _ = std::fs::remove_dir_all(&gone);
    std::fs::rename(&repo.dir, &gone).unwrap();
    let again = dist(
        &first.root,
        &first.app,
        &scratch.join("target-a"),
        &scratch.join("cache-a"),
        &["--frozen"],
    );
    std::fs::rename(&gone, &repo.dir).unwrap();
    assert_eq!(again, a);
    assert_eq!(
        sbom_of("target-a"),
        sbom,
        "a second dist wrote another SBOM"
    );
}

#[test]
fn every_plugin_stays_registered_under_every_release_profile() {
    let host = Host::new("every_plugin_stays_registered_under_every_release_profile");
    host.plugin(
        "plugins/base",
        &PluginCrate {
            filters: &[("base", None)],
            ..PluginCrate::new("base", "base")
        },
    );
    host.plugin(
        "plugins/user",
        &PluginCrate {
            filters: &[("user", None), ("extra", Some("extra"))],
            features: &["extra"],
            depends_on: &["base"],
            ..PluginCrate::new("user", "user")
        },
    );
    host.write(
        "plugins.toml",
        "[plugins]\nbase = { path = \"plugins/base\" }\nuser = { path = \"plugins/user\", features = [\"extra\"] }\n",
    );
    // Each profile builds every crate of the host again, so the settings
    // that decide what the optimiser and linker keep share profiles: each
    // setting is in one, and each LTO mode with another optimisation level.
    // `spine::release_with_fat_lto_abort_and_strip_keeps_every_plugin` builds
    // fat LTO with one codegen unit, abort and strip together.
    let profiles = [
        ("fat-small", "lto = \"fat\"\nopt-level = \"s\"\ndebug = 2"),
        (
            "thin-tiny",
            "lto = \"thin\"\nopt-level = \"z\"\nstrip = true",
        ),
        ("cgu1-abort", "codegen-units = 1\npanic = \"abort\""),
    ];
    let mut root = host.read("Cargo.toml");
    for (name, setting) in profiles {
        root.push_str(&format!(
            "\n[profile.{name}]\ninherits = \"release\"\n{setting}\n"
        ));
    }
    host.write("Cargo.toml", &root);
    expect_success(&mut host.xtask(&["sync"]));
    let expected = "plugin base 1.2.3 base local\nplugin user 1.2.3 user local\n\
                    filter base base(abc)\nfilter user user(abc)\nfilter extra extra(abc)\n";
    for (name, _) in profiles {
        let mut build = host.cargo(&["build", "--package", &host.app, "--profile", name]);
        let output = e2e::run(&mut build);
        assert!(
            output.status.success(),
            "profile {name}: {}",
            stderr(&output)
        );
        let bin = e2e::shared_target_dir().join(name).join(&host.app);
        let output = expect_success(&mut Command::new(bin));
        assert_eq!(stdout(&output), expected, "profile {name}");
    }
}

#[test]
fn a_vendored_clone_builds_with_no_cache_and_no_network() {
    let repo = GitRepo::new("vendored");
    repo.plugin(
        ".",
        &PluginCrate {
            filters: &[("vendored", None)],
            ..PluginCrate::new("vendored", "vendored")
        },
    );
    repo.commit("plugin");
    repo.git(&["tag", "v1"]);
    let host = Host::new("a_vendored_clone_builds");
    host.write(
        "plugins.toml",
        &format!(
            "[plugins]\nvendored = {{ git = \"{}\", tag = \"v1\" }}\n",
            repo.url()
        ),
    );
    expect_success(&mut host.xtask(&["vendor"]));
    let ignore = host.read("plugin-sources/.gitignore");
    assert!(
        ignore.starts_with("# Vendored by `cargo xtask vendor`"),
        "{ignore}"
    );
    assert!(!ignore.lines().any(|l| l == "*"), "{ignore}");
    // Later syncs keep it vendored.
    expect_success(&mut host.xtask(&["sync"]));
    assert_eq!(host.read("plugin-sources/.gitignore"), ignore);

    // A clone of the vendored host, the repository gone, an empty cache.
    let clone = e2e::hosts_dir().join("a_vendored_clone_builds_clone");
    let _ = std::fs::remove_dir_all(&clone);
    copy_tree(&host.root, &clone, true);
    let gone = repo.dir.with_extension("gone");
    let _ = std::fs::remove_dir_all(&gone);
    std::fs::rename(&repo.dir, &gone).unwrap();
    let empty_cache = clone.with_extension("empty-cache");
    let _ = std::fs::remove_dir_all(&empty_cache);
    let xtask = |args: &[&str]| {
        let mut command = e2e::tool();
        command
            .current_dir(&clone)
            .env("PLUGIN_CACHE_DIR", &empty_cache)
            .args(args);
        command
    };
    let before = e2e::snapshot(&clone, &["."]);
    expect_success(&mut xtask(&["sync", "--frozen"]));
    e2e::assert_unchanged(&before, &e2e::snapshot(&clone, &["."]));
    expect_success(&mut xtask(&["verify"]));
    assert!(
        !empty_cache.join("git").exists(),
        "nothing was fetched or cached"
    );
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    build
        .current_dir(&clone)
        .env("CARGO_TARGET_DIR", e2e::shared_target_dir())
        .args(["build", "--offline", "--package", &host.app]);
    let output = e2e::run(&mut build);
    std::fs::rename(&gone, &repo.dir).unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let output = expect_success(&mut host.app_bin(false));
    assert!(
        stdout(&output).contains("filter vendored vendored(abc)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn dist_builds_the_binary_named_unlike_its_package_checks_it_and_builds_for_a_target() {
    let host = Host::new("dist_named_binaries");
    host.plugin("plugins/one", &PluginCrate::new("one", "one"));
    host.write(
        "plugins.toml",
        "[plugins]\none = { path = \"plugins/one\" }\n",
    );
    // Two binaries, neither named after the package; `bare` never names
    // the plugin set.
    let manifest = host.read("app/Cargo.toml");
    host.write(
        "app/Cargo.toml",
        &format!(
            "{manifest}\n[[bin]]\nname = \"tool\"\npath = \"src/main.rs\"\n\n\
             [[bin]]\nname = \"bare\"\npath = \"src/bare.rs\"\n"
        ),
    );
    host.write("app/src/bare.rs", "//! No plugins.\nfn main() {}\n");
    expect_success(&mut host.xtask(&["sync", "--quiet"]));
    let target = e2e::repo_root().join("target/e2e-dist-named");
    let cache = host.cache_dir();
    let dist = |args: &[&str]| {
        let mut command = host.xtask(&["dist", "--quiet"]);
        command
            .env("CARGO_TARGET_DIR", &target)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE)
            .env("PLUGIN_CACHE_DIR", &cache)
            .args(args);
        command
    };

    let before = host.snapshot();
    let ambiguous = e2e::expect_failure(&mut dist(&[]));
    assert!(
        stderr(&ambiguous).contains(&format!(
            "package `{}` has several binaries (bare, tool); choose one with --bin",
            host.app
        )),
        "{}",
        stderr(&ambiguous)
    );
    let unknown = e2e::expect_failure(&mut dist(&["--bin", "nope"]));
    assert!(
        stderr(&unknown).contains("no package of the host workspace has a binary `nope`"),
        "{}",
        stderr(&unknown)
    );
    let bare = e2e::expect_failure(&mut dist(&["--bin", "bare"]));
    assert!(
        stderr(&bare).contains("embeds no plugin set"),
        "{}",
        stderr(&bare)
    );
    let bogus = e2e::expect_failure(&mut dist(&["--bin", "tool", "--target", "bogus-none-x"]));
    assert!(
        stderr(&bogus).contains("rustc does not know the target `bogus-none-x`"),
        "{}",
        stderr(&bogus)
    );
    // A target rustc knows whose standard library is not installed.
    let missing = "riscv64gc-unknown-linux-gnu";
    let libdir = String::from_utf8(
        Command::new("rustc")
            .args(["--print", "target-libdir", "--target", missing])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    if Path::new(libdir.trim()).exists() {
        eprintln!("skipped the missing-target case: {missing}'s standard library is installed");
    } else {
        let output = e2e::expect_failure(&mut dist(&["--bin", "tool", "--target", missing]));
        assert!(
            stderr(&output).contains(&format!(
                "the standard library for `{missing}` is not installed"
            )) && stderr(&output).contains(&format!("run `rustup target add {missing}`")),
            "{}",
            stderr(&output)
        );
    }
    e2e::assert_unchanged(&before, &host.snapshot());

    // The release of `tool`: at target/release/tool, twice the same bytes,
    // running the plugin.
    let sha_at = |output: &std::process::Output, path: &Path| {
        let line = stdout(output);
        let (sha, printed) = line.trim().split_once("  ").expect("`<sha256>  <path>`");
        assert_eq!(Path::new(printed), path, "{}", stderr(output));
        sha.to_owned()
    };
    let release = target.join("release/tool");
    let first = sha_at(&expect_success(&mut dist(&["--bin", "tool"])), &release);
    let second = sha_at(&expect_success(&mut dist(&["--bin", "tool"])), &release);
    assert_eq!(first, second);
    let listed = stdout(&expect_success(&mut Command::new(&release)));
    assert!(listed.contains("plugin one 1.2.3 one local"), "{listed}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(target.join("release/tool.dist.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["binary"], "tool");
    assert_eq!(manifest["package"], host.app.as_str());

    // For a target named explicitly (the host's own triple, the one whose
    // standard library is surely installed): under target/<triple>/.
    let rustc =
        String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout).unwrap();
    let triple = rustc
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned();
    let cross = target.join(&triple).join("release/tool");
    let a = sha_at(
        &expect_success(&mut dist(&["--bin", "tool", "--target", &triple])),
        &cross,
    );
    let b = sha_at(
        &expect_success(&mut dist(&["--bin", "tool", "--target", &triple])),
        &cross,
    );
    assert_eq!(a, b);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cross.with_extension("dist.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["target"], triple.as_str());
    let bom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cross.with_extension("cdx.json")).unwrap())
            .unwrap();
    assert_valid_cyclonedx(&bom);
    assert_eq!(bom["metadata"]["component"]["name"], host.app.as_str());
}
