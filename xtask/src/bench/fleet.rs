//! The CI-fleet benchmark (issue 20): a host with git plugins built on
//! "machine A", then on "machine B" — a fresh checkout and target directory
//! at the same paths, and at other paths — with `RUSTC_WRAPPER=sccache`
//! and one shared `SCCACHE_DIR`, in the dev and release profiles. For each
//! build: the wall time, and per kind of crate (the host's members, its
//! plugins, this tool's crates by path, registry crates, build scripts and
//! the compiler probes build scripts run)
//! how many sccache found, missed, or could not cache and why, read from
//! the sccache server's debug log. Skipped, saying how to install it, when
//! sccache is not on PATH.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::bench::fixtures::host;
use crate::bench::measure::sync_command;
use crate::bench::report::{Report, ratio, verdict};
use crate::process::{cargo, git, run};

/// The plugin repositories: crates with real code to compile.
const PLUGINS: usize = 4;

/// sccache's port for the benchmark, so a user's own server is left alone.
const PORT: &str = "4299";

/// What sccache did with one crate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Hit,
    Miss,
    NotCached(String),
}

/// One build's figures.
#[derive(Debug, Default)]
struct Build {
    wall: Duration,
    /// Kind of crate → outcome → crates.
    kinds: BTreeMap<&'static str, BTreeMap<Outcome, usize>>,
}

/// The section; `quick` builds the dev profile only.
pub fn fleet(report: &mut Report, dir: &Path, quick: bool) -> anyhow::Result<()> {
    report.section("CI fleet: every plugin compiled once (issue 20)");
    if !Command::new("sccache")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        report.line(
            "- skipped: sccache is not installed (`cargo install sccache --locked`, then run \
             `cargo xtask bench` again)",
        );
        return Ok(());
    }
    let base = dir.join("fleet");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base)?;
    let repos: Vec<PathBuf> = (0..PLUGINS)
        .map(|i| plugin_repo(dir, i))
        .collect::<Result<_, _>>()?;
    report.line(format!(
        "A host made as `init` makes it (its `.cargo/config.toml` turns incremental compilation \
         off for packages outside the workspace) with {PLUGINS} git plugins of ~300 generated \
         functions each, built with `RUSTC_WRAPPER=sccache` and one `SCCACHE_DIR`: on machine A \
         (cold cache), then on machine B — a fresh checkout and target directory at the same \
         paths, at other paths, and with the checkout elsewhere but the target directory at \
         A's path. Each cell: hits / misses / not cached (why). Build-script probes are the \
         compilations build scripts run to test the compiler (outputs in their OUT_DIR); \
         sccache does not cache one that fails, as some probes must on stable.\n"
    ));
    report.table(&[
        "profile",
        "build",
        "wall",
        "vs A",
        "members",
        "plugins",
        "tool crates",
        "registry crates",
        "build scripts",
        "build-script probes",
    ]);
    let profiles: &[&str] = if quick { &["dev"] } else { &["dev", "release"] };
    let mut verdicts = Vec::new();
    for profile in profiles {
        let cache = base.join(format!("sccache-{profile}"));
        let a_root = host(&base, &format!("fleet-{profile}"), &repos)?;
        as_init_writes(&a_root)?;
        let a_target = base.join(format!("target-a-{profile}"));
        let a = build(&base, &a_root, &a_target, &cache, profile)?;
        row(report, profile, "A (cold cache)", &a, &a);
        // The same paths: a fresh checkout's plugin-sources/ and target.
        std::fs::remove_dir_all(a_root.join("plugin-sources"))?;
        std::fs::remove_dir_all(&a_target)?;
        let same = build(&base, &a_root, &a_target, &cache, profile)?;
        row(report, profile, "B, same paths", &same, &a);
        // Other paths: the checkout copied elsewhere, another target.
        let b_root = base.join("elsewhere").join(format!("checkout-b-{profile}"));
        copy_host(&a_root, &b_root)?;
        let other = build(
            &base,
            &b_root,
            &base.join(format!("target-b-{profile}")),
            &cache,
            profile,
        )?;
        row(report, profile, "B, other paths", &other, &a);
        // Another checkout path, but the target directory at A's path (a
        // fixed CARGO_TARGET_DIR on every runner).
        std::fs::remove_dir_all(&a_target)?;
        let c_root = base.join("elsewhere").join(format!("checkout-c-{profile}"));
        copy_host(&a_root, &c_root)?;
        let fixed = build(&base, &c_root, &a_target, &cache, profile)?;
        row(
            report,
            profile,
            "B, other checkout, A's target path",
            &fixed,
            &a,
        );
        verdicts.push((profile, same_figures(&same), a.wall, same.wall));
    }
    report.line("");
    for (profile, (plugins_hit, registry_hit), a, b) in verdicts {
        let fast = b.as_secs_f64() <= 0.4 * a.as_secs_f64();
        report.line(format!(
            "- {profile}, B at the same paths: every plugin a hit: {}; every cacheable registry \
             crate a hit: {}; B ≤ 0.4× A ({}): {}",
            verdict(plugins_hit),
            verdict(registry_hit),
            ratio(b, a),
            verdict(fast)
        ));
    }
    if !quick {
        let (with, without) = dist_both_ways(&base, &repos)?;
        report.line(format!(
            "- `dist` through sccache (warm) and without it: the same binary: {} ({} and {})",
            verdict(with == without),
            with.get(..12).unwrap_or(&with),
            without.get(..12).unwrap_or(&without)
        ));
    }
    let _ = sccache(&base).arg("--stop-server").output();
    Ok(())
}

/// The SHA-256 `dist` prints for the same host built through sccache and
/// without it, each in a fresh target directory.
fn dist_both_ways(base: &Path, repos: &[PathBuf]) -> anyhow::Result<(String, String)> {
    let root = host(base, "fleet-dist", repos)?;
    as_init_writes(&root)?;
    run(&mut sync_command(&root, &base.join("plugin-cache"))?)?;
    let cache = base.join("sccache-release");
    let _ = sccache(base).arg("--stop-server").output();
    run(sccache(base)
        .arg("--start-server")
        .env("SCCACHE_DIR", &cache))?;
    let dist = |target: &str, wrapped: bool| -> anyhow::Result<String> {
        let mut command = Command::new(std::env::current_exe().context("no current executable")?);
        command
            .env("PLUGIN_CACHE_DIR", base.join("plugin-cache"))
            .env("CARGO_TARGET_DIR", base.join(target))
            .args(["dist", "--quiet", "--manifest-path"])
            .arg(root.join("Cargo.toml"));
        if wrapped {
            command
                .env("RUSTC_WRAPPER", "sccache")
                .env("SCCACHE_SERVER_PORT", PORT);
        }
        let out = run(&mut command)?;
        out.split_whitespace()
            .next()
            .map(str::to_owned)
            .context("dist printed no checksum")
    };
    Ok((
        dist("target-dist-sccache", true)?,
        dist("target-dist-plain", false)?,
    ))
}

/// Whether every cacheable plugin and registry crate was a hit (sccache
/// never caches a proc-macro crate).
fn same_figures(build: &Build) -> (bool, bool) {
    let all_hits = |kind: &str| {
        build.kinds.get(kind).is_some_and(|o| {
            !o.contains_key(&Outcome::Miss) && o.get(&Outcome::Hit).is_some_and(|n| *n > 0)
        })
    };
    (all_hits("plugins"), all_hits("registry crates"))
}

fn row(report: &mut Report, profile: &str, name: &str, build: &Build, a: &Build) {
    let cell = |kind: &str| {
        let Some(outcomes) = build.kinds.get(kind) else {
            return "—".to_owned();
        };
        let count = |o: &Outcome| outcomes.get(o).copied().unwrap_or(0);
        let mut text = format!("{} / {}", count(&Outcome::Hit), count(&Outcome::Miss));
        for (outcome, n) in outcomes {
            if let Outcome::NotCached(why) = outcome {
                text.push_str(&format!(" / {n} ({why})"));
            }
        }
        text
    };
    report.row(&[
        profile.to_owned(),
        name.to_owned(),
        format!("{:.1} s", build.wall.as_secs_f64()),
        ratio(build.wall, a.wall),
        cell("members"),
        cell("plugins"),
        cell("tool crates"),
        cell("registry crates"),
        cell("build scripts"),
        cell("build-script probes"),
    ]);
}

/// `sccache` talking to the benchmark's server.
fn sccache(base: &Path) -> Command {
    let mut command = Command::new("sccache");
    command
        .env("SCCACHE_SERVER_PORT", PORT)
        .env("SCCACHE_IDLE_TIMEOUT", "0")
        .current_dir(base);
    command
}

/// Syncs the host at `root` and builds it in `profile` into `target`
/// through a freshly started sccache server over `cache`; what it did.
fn build(
    base: &Path,
    root: &Path,
    target: &Path,
    cache: &Path,
    profile: &str,
) -> anyhow::Result<Build> {
    run(&mut sync_command(root, &base.join("plugin-cache"))?)?;
    let log = base.join("sccache.log");
    let _ = sccache(base).arg("--stop-server").output();
    let _ = std::fs::remove_file(&log);
    run(sccache(base)
        .arg("--start-server")
        .env("SCCACHE_DIR", cache)
        .env("SCCACHE_LOG", "debug")
        .env("SCCACHE_ERROR_LOG", &log))?;
    let mut command = cargo();
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env("RUSTC_WRAPPER", "sccache")
        .env("SCCACHE_SERVER_PORT", PORT)
        .args(["build", "--offline"]);
    if profile == "release" {
        command.arg("--release");
    }
    let start = Instant::now();
    run(&mut command)?;
    let wall = start.elapsed();
    run(sccache(base).arg("--stop-server"))?;
    let text = std::fs::read_to_string(&log)
        .with_context(|| format!("failed to read sccache's log {}", log.display()))?;
    let kinds = classify(root, &text)?;
    Ok(Build { wall, kinds })
}

/// Per kind of crate, what the log says sccache did with each.
fn classify(
    root: &Path,
    log: &str,
) -> anyhow::Result<BTreeMap<&'static str, BTreeMap<Outcome, usize>>> {
    let kind_of = kinds(root)?;
    let mut kinds: BTreeMap<&'static str, BTreeMap<Outcome, usize>> = BTreeMap::new();
    // Crate name → whether its compilation being looked up is a build
    // script's compiler probe (output into its package's OUT_DIR).
    let mut probing: BTreeMap<String, bool> = BTreeMap::new();
    for line in log.lines() {
        if let Some((head, args)) = line.split_once("]: get_cached_or_compile: ") {
            if let Some(krate) = crate_in_brackets(head) {
                let out_dir = args
                    .split_once("\"--out-dir\", \"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or("", |(dir, _)| dir);
                probing.insert(
                    krate,
                    out_dir.contains("/build/") && out_dir.contains("/out"),
                );
            }
            continue;
        }
        let (krate, outcome) = if let Some(rest) = line.split_once("]: Cache hit in") {
            (crate_in_brackets(rest.0), Outcome::Hit)
        } else if let Some(rest) = line.split_once("]: Cache miss in") {
            (crate_in_brackets(rest.0), Outcome::Miss)
        } else if let Some((_, rest)) = line.split_once("parse_arguments: CannotCache(") {
            let why = rest.split(')').next().unwrap_or_default().to_owned();
            let krate = rest
                .split_once("\"--crate-name\", \"")
                .and_then(|(_, after)| after.split_once('"'))
                .map(|(name, _)| name.to_owned());
            (krate, Outcome::NotCached(why))
        } else {
            continue;
        };
        // `___` is cargo asking rustc what it can build, not a crate.
        let Some(krate) = krate.filter(|k| k != "___") else {
            continue;
        };
        let kind = if krate.starts_with("build_script_") {
            "build scripts"
        } else if !matches!(outcome, Outcome::NotCached(_)) && probing.get(&krate) == Some(&true) {
            "build-script probes"
        } else {
            kind_of.get(&krate).copied().unwrap_or("registry crates")
        };
        *kinds.entry(kind).or_default().entry(outcome).or_default() += 1;
    }
    Ok(kinds)
}

/// The crate name between the last `[` and the end of `text`.
fn crate_in_brackets(text: &str) -> Option<String> {
    text.rsplit_once('[').map(|(_, name)| name.to_owned())
}

/// Crate name (of each library and binary target) → kind, for the host's
/// packages that are not registry crates.
fn kinds(root: &Path) -> anyhow::Result<BTreeMap<String, &'static str>> {
    let output =
        run(cargo()
            .current_dir(root)
            .args(["metadata", "--offline", "--format-version", "1"]))?;
    let json = output
        .lines()
        .find(|l| l.starts_with('{'))
        .context("cargo metadata printed no JSON")?;
    let metadata: serde_json::Value = serde_json::from_str(json)?;
    let sources = root.join("plugin-sources");
    let mut kinds = BTreeMap::new();
    for package in metadata
        .get("packages")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        if package.get("source").is_some_and(|s| !s.is_null()) {
            continue;
        }
        let manifest = Path::new(
            package
                .get("manifest_path")
                .and_then(|m| m.as_str())
                .unwrap_or_default(),
        );
        let kind = if manifest.starts_with(&sources) {
            "plugins"
        } else if manifest.starts_with(root) {
            "members"
        } else {
            "tool crates"
        };
        for target in package
            .get("targets")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(name) = target.get("name").and_then(|n| n.as_str()) {
                kinds.insert(name.replace('-', "_"), kind);
            }
        }
    }
    Ok(kinds)
}

/// What `init` writes into a host's `.cargo/config.toml` for caching.
fn as_init_writes(root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(root.join(".cargo"))?;
    std::fs::write(
        root.join(".cargo/config.toml"),
        "[profile.dev.package.\"*\"]\nincremental = false\n",
    )?;
    Ok(())
}

/// The host's files, as a fresh checkout elsewhere has them (no target,
/// no plugin-sources/).
fn copy_host(from: &Path, to: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == "plugin-sources" {
            continue;
        }
        run(Command::new("cp")
            .arg("-R")
            .arg(entry.path())
            .arg(to.join(&name)))?;
    }
    Ok(())
}

/// Plugin repository `i`: crate `bench-fleet-<i>` with ~300 generated
/// functions, tagged `v1`; made once and reused.
fn plugin_repo(dir: &Path, i: usize) -> anyhow::Result<PathBuf> {
    let repo = crate::bench::real::repos_dir(dir).join(format!("bench-fleet-{i}"));
    if repo.join(".git/refs/tags/v1").is_file() {
        return Ok(repo);
    }
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(repo.join("src"))?;
    let api = crate::process::repo_root().join("plugin-api");
    std::fs::write(
        repo.join("Cargo.toml"),
        format!(
            "[package]\nname = \"bench-fleet-{i}\"\nversion = \"1.0.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nstatic-plugins-api = {{ path = {:?} }}\n",
            api.display().to_string()
        ),
    )?;
    std::fs::write(
        repo.join("src/lib.rs"),
        format!(
            "//! Benchmark plugin {i}, with code to compile.\n\npub mod work;\n\n\
             #[plugin_api::plugin(id = \"fleet{i}\")]\n#[derive(Default)]\npub struct P;\n\n\
             impl plugin_api::Plugin for P {{\n    fn register(&self, _: &mut plugin_api::Registrar<'_>) {{\n        \
             std::hint::black_box(work::all(7));\n    }}\n}}\n"
        ),
    )?;
    let mut work = String::from("//! Generated work.\n\n");
    for f in 0..300 {
        work.push_str(&format!(
            "pub fn f{f}(x: u64) -> u64 {{\n    match x % 5 {{\n        0 => x.wrapping_mul({}),\n        \
             1 => x.rotate_left({}) ^ {f},\n        2 => x / {} + {i},\n        \
             _ => (x..x + 3).map(|y| y.wrapping_add({f})).sum(),\n    }}\n}}\n\n",
            f + 3,
            f % 63 + 1,
            f + 1
        ));
    }
    work.push_str("pub fn all(x: u64) -> u64 {\n    let mut acc = x;\n");
    for f in 0..300 {
        work.push_str(&format!("    acc = acc.wrapping_add(f{f}(acc));\n"));
    }
    work.push_str("    acc\n}\n");
    std::fs::write(repo.join("src/work.rs"), work)?;
    run(git(&repo).args(["init", "--quiet", "--initial-branch=main"]))?;
    run(git(&repo).args(["add", "."]))?;
    run(git(&repo).args(["commit", "--quiet", "-m", "plugin"]))?;
    run(git(&repo).args(["tag", "v1"]))?;
    Ok(repo)
}
