//! `cargo xtask lint`: checks a plugin crate as this host would see it,
//! before anyone depends on it (like `xk6 lint`). Each check passes, warns or
//! fails with a message:
//!
//! - `library`: a library crate (not a binary or proc-macro crate);
//! - `plugin-api`: it depends on plugin-api, with a requirement this host's
//!   plugin-api meets and a source the host can patch to its own;
//! - `metadata`: it has a license and a description;
//! - `build-script`: no build script of its own (a warning: it runs at
//!   build time);
//! - `builds`: it builds alone against this host's plugin-api, in a
//!   throwaway host made by the same sync a real host runs;
//! - `registers`: the binary registers at least one plugin from it;
//! - `ids`: each id well-formed and unique, and exactly the ids its sources
//!   declare;
//! - `proc-macros`: no proc-macro dependency of its own (a warning);
//! - `id-stable`: its ids did not change since the previous tag of its git
//!   repository, when there is one.
//!
//! `--git URL` fetches the repository as sync does (gix, or `git fetch`
//! with `--git-fetch-with-cli`) into a private temporary directory, checks
//! out the reference asked for from the objects after validating its tree,
//! and lints the crate there; the directory goes on failure and on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::scratch::Scratch;
use build_support::manifest::GitReference;
use serde::Serialize;
use toml_edit::{DocumentMut, Item};

use crate::{api, cache, host, progress, scan, sync};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(rename = "crate")]
    pub krate: String,
    pub version: String,
    pub checks: Vec<Check>,
}

impl Report {
    fn check(&mut self, name: &'static str, status: Status, message: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            message: message.into(),
        });
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// What to lint.
#[derive(Debug, Clone)]
pub enum Target {
    Path(PathBuf),
    Git {
        url: String,
        reference: GitReference,
    },
    /// A published crate: the newest version `requirement` admits, from
    /// crates.io or the registry named `registry`, resolved and downloaded
    /// by cargo as sync does.
    Registry {
        package: String,
        requirement: String,
        registry: Option<String>,
    },
}

/// Fetches `url` at `reference` as sync does (gix or `git fetch`,
/// credentials from the URL or the user's helpers, never on a command line)
/// into a database of the scratch directory, and checks it out into its
/// `clone` from the objects after the whole tree is validated, as a plugin
/// is.
fn fetch_into(
    scratch: &Scratch,
    url: &str,
    reference: &GitReference,
    fetch: &Fetch,
) -> anyhow::Result<History> {
    let split = crate::secret::split(url);
    let db = scratch.path().join("db");
    let remote = crate::git::Remote {
        url: &split.fetch,
        bare: &split.bare,
        credentials: split.credentials.as_ref(),
    };
    let fetched = if fetch.with_cli {
        crate::git_cli::fetch(&db, remote, reference, crate::git::Depth::HistoryAndTags)
    } else {
        let fetching = fetch
            .progress
            .fetch(&format!("{} ({reference})", split.bare));
        let fetched = crate::git::fetch(
            &db,
            remote,
            reference,
            &fetching,
            crate::git::Depth::HistoryAndTags,
        );
        fetching.finish(fetched.is_ok(), "with git");
        fetched
    };
    let commit = fetched.with_context(|| format!("failed to fetch {}", split.bare))?;
    let clone = scratch.path().join("clone");
    crate::git::checkout(&db, &commit, &clone)
        .with_context(|| format!("failed to check out {commit} of {}", split.bare))?;
    Ok(History {
        git_dir: db,
        commit,
        subdir: PathBuf::new(),
    })
}

/// The `plugin-api` check: whether the crate depends on a plugin-api this
/// host provides.
fn api_check(report: &mut Report, root: &Path, dir: &Path, package: &str) -> anyhow::Result<bool> {
    let host_api = api::host(root)?;
    Ok(match api::plugin(dir, Path::new("/")) {
        Ok(None) => {
            report.check(
                "api",
                Status::Fail,
                format!(
                    "does not depend on {}, so it registers nothing a host can see",
                    build_support::API_PACKAGE
                ),
            );
            false
        }
        Ok(Some(source)) => {
            match api::check(&format!("crate `{package}`"), root, &source, &host_api) {
                Ok(()) => {
                    report.check(
                        "api",
                        Status::Pass,
                        format!(
                            "depends on the {} this host provides",
                            build_support::API_PACKAGE
                        ),
                    );
                    true
                }
                Err(e) => {
                    report.check("api", Status::Fail, format!("{e:#}"));
                    false
                }
            }
        }
        Err(e) => {
            report.check("api", Status::Fail, format!("{e:#}"));
            false
        }
    })
}

/// How `lint --git` fetches.
pub struct Fetch {
    pub progress: crate::progress::Progress,
    /// `git fetch` instead of gix (`--git-fetch-with-cli`).
    pub with_cli: bool,
}

/// Lints `target` against the host at `root`.
pub fn lint(
    root: &Path,
    target: &Target,
    cache: &cache::Cache,
    offline: bool,
    fetch: &Fetch,
) -> anyhow::Result<Report> {
    let scratch = Scratch::new("plugin-lint")?;
    // The crate's directory, and its history for the previous-tag
    // comparison when it was fetched.
    let (dir, history) = match target {
        Target::Path(path) => (
            path.canonicalize()
                .with_context(|| format!("{} does not exist", path.display()))?,
            None,
        ),
        Target::Git { url, reference } => {
            if offline {
                bail!("linting a git repository needs the network, and --offline was given");
            }
            let history = fetch_into(&scratch, url, reference, fetch)?;
            (scratch.path().join("clone"), Some(history))
        }
        Target::Registry {
            package,
            requirement,
            registry,
        } => (
            published(root, package, requirement, registry.as_deref(), offline)?,
            None,
        ),
    };
    if !dir.join("Cargo.toml").is_file() {
        bail!(
            "{} has no Cargo.toml: give the directory of a plugin crate",
            dir.display()
        );
    }
    let (package, version) = host::read_package(&dir, Path::new("/"))?;
    let mut report = Report {
        krate: package.clone(),
        version,
        checks: Vec::new(),
    };
    let manifest: DocumentMut =
        crate::files::read_limited(&dir.join("Cargo.toml"), crate::files::MAX_MANIFEST)?
            .parse()
            .with_context(|| format!("failed to parse {}", dir.join("Cargo.toml").display()))?;

    let library = crate::host::check_library(&dir, manifest.as_table());
    let is_library = library.is_ok();
    match library {
        Ok(message) => report.check("library", Status::Pass, message),
        Err(message) => report.check("library", Status::Fail, message),
    }
    let api_ok = api_check(&mut report, root, &dir, &package)?;
    metadata_checks(&mut report, &manifest);
    if dir.join("build.rs").is_file() || package_key(&manifest, "build").is_some() {
        report.check(
            "build-script",
            Status::Warn,
            "has a build script, which runs arbitrary code when a host builds it",
        );
    } else {
        report.check("build-script", Status::Pass, "no build script");
    }
    let subject = Subject {
        declared: scan::plugin_ids(&dir),
        dir,
        package,
    };
    if is_library && api_ok {
        build_checks(
            &mut report,
            root,
            &subject,
            &scratch,
            cache,
            offline,
            fetch.with_cli,
        )?;
    } else {
        report.check(
            "builds",
            Status::Fail,
            "not tried: the crate is not a library depending on this host's static-plugins-api",
        );
    }
    let history = history.or_else(|| History::of_worktree(&subject.dir));
    if let Err(e) = id_stability(&mut report, history.as_ref(), &subject.declared) {
        report.check(
            "id-stable",
            Status::Warn,
            format!("could not compare with the previous tag: {e:#}"),
        );
    }
    Ok(report)
}

/// Where cargo unpacked the newest version of `package` that `requirement`
/// admits (from the registry named `registry`, else crates.io), resolved
/// from the host's root as sync resolves a registry plugin.
fn published(
    root: &Path,
    package: &str,
    requirement: &str,
    registry: Option<&str>,
    offline: bool,
) -> anyhow::Result<PathBuf> {
    let declaration = build_support::manifest::Declaration {
        name: package.to_owned(),
        package: package.to_owned(),
        source: build_support::manifest::Source::Registry {
            version: requirement.to_owned(),
            registry: registry.map(str::to_owned),
        },
        features: Vec::new(),
        default_features: true,
        enabled: true,
        line: 0,
    };
    let wanted = crate::registry::Wanted {
        declaration: &declaration,
        requirement: requirement.to_owned(),
        registry,
        pin: crate::registry::Pin::New,
    };
    let found = crate::registry::resolve(root, std::slice::from_ref(&wanted), offline)?;
    found
        .into_iter()
        .next()
        .map(|f| f.dir)
        .context("cargo resolved nothing for the crate")
}

fn package_key<'a>(manifest: &'a DocumentMut, key: &str) -> Option<&'a Item> {
    manifest.get("package").and_then(|p| p.get(key))
}

fn metadata_checks(report: &mut Report, manifest: &DocumentMut) {
    let present = |key: &str| {
        package_key(manifest, key).is_some_and(|item| {
            item.as_str().is_some_and(|s| !s.trim().is_empty())
                || item.get("workspace").and_then(Item::as_bool) == Some(true)
        })
    };
    let mut missing = Vec::new();
    if !present("license") && !present("license-file") {
        missing.push("`license` (or `license-file`)");
    }
    if !present("description") {
        missing.push("`description`");
    }
    if missing.is_empty() {
        report.check("metadata", Status::Pass, "has a license and a description");
    } else {
        report.check(
            "metadata",
            Status::Fail,
            format!(
                "[package] lacks {}: hosts and their SBOMs need them",
                missing.join(" and ")
            ),
        );
    }
}

/// The throwaway host's binary: what the registry holds, one line each.
const APP_MAIN: &str = r#"//! Written by `cargo xtask lint`: reports what the plugin registers.
fn main() {
    match plugin_api::Registry::build(&plugin_set::SET) {
        Ok(registry) => {
            for plugin in registry.plugins() {
                println!("id\t{}", plugin.descriptor.id);
            }
        }
        Err(plugin_api::registry::Error::NotRegistered { .. }) => println!("none"),
        Err(plugin_api::registry::Error::DuplicateId { id, .. }) => println!("duplicate\t{id}"),
        Err(error) => println!("error\t{error}"),
    }
}
"#;

/// The crate being linted.
struct Subject {
    dir: PathBuf,
    package: String,
    /// The ids its sources declare.
    declared: Vec<String>,
}

/// Builds the crate in a throwaway host made like this one (its plugin-api,
/// build-support, patches and Cargo.lock) with the real sync, runs it, and
/// checks what registers.
fn build_checks(
    report: &mut Report,
    root: &Path,
    subject: &Subject,
    scratch: &Scratch,
    cache: &cache::Cache,
    offline: bool,
    git_fetch_with_cli: bool,
) -> anyhow::Result<()> {
    let Subject {
        dir,
        package,
        declared,
    } = subject;
    let host = scratch.path().join("host");
    std::fs::create_dir(&host).with_context(|| format!("failed to create {}", host.display()))?;
    write_throwaway_host(root, &host, dir, package)?;
    let config = sync::Config {
        root: host.clone(),
        cache: cache.clone(),
        locked: false,
        offline,
        progress: progress::Progress::new(true),
        jobs: None,
        git_fetch_with_cli,
    };
    if let Err(e) = sync::sync(&config, &sync::Mode::Sync) {
        report.check(
            "builds",
            Status::Fail,
            format!("a host cannot sync it: {e:#}"),
        );
        return Ok(());
    }
    let target_dir = crate::dist::target_dir(root)?.join("plugin-lint");
    let cargo = || {
        let mut command = crate::process::cargo();
        command
            .current_dir(&host)
            .env("CARGO_TARGET_DIR", &target_dir)
            .arg("--quiet");
        if offline {
            command.arg("--offline");
        }
        command
    };
    let output = cargo()
        .args(["run", "--package", "plugin-lint-app"])
        .output()
        .context("failed to run cargo")?;
    if !output.status.success() {
        let stderr = crate::process::words(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        report.check(
            "builds",
            Status::Fail,
            format!(
                "does not build against this host's static-plugins-api:\n{}",
                tail.join("\n")
            ),
        );
        return Ok(());
    }
    report.check(
        "builds",
        Status::Pass,
        "builds alone against this host's static-plugins-api",
    );
    registration_checks(report, &host, package, declared, &output.stdout)
}

/// What the throwaway binary said it registers (`stdout`, a line each),
/// checked: something registers, ids well-formed, unique and as declared.
fn registration_checks(
    report: &mut Report,
    host: &Path,
    package: &str,
    declared: &[String],
    stdout: &[u8],
) -> anyhow::Result<()> {
    let stdout = String::from_utf8_lossy(stdout);
    let mut ids: Vec<String> = Vec::new();
    for line in stdout.lines() {
        match line.split_once('\t') {
            Some(("id", id)) => ids.push(id.to_owned()),
            Some(("duplicate", id)) => {
                report.check("registers", Status::Pass, "registers plugins");
                report.check(
                    "ids",
                    Status::Fail,
                    format!("registers id `{id}` more than once; each plugin needs its own id"),
                );
                proc_macro_check(report, host, package)?;
                return Ok(());
            }
            Some(("error", error)) => {
                report.check(
                    "registers",
                    Status::Fail,
                    format!("the registry refused it: {error}"),
                );
                return Ok(());
            }
            _ if line == "none" => {
                report.check(
                    "registers",
                    Status::Fail,
                    "registers no plugin: mark the plugin type with `#[plugin(id = \"…\")]`",
                );
                proc_macro_check(report, host, package)?;
                return Ok(());
            }
            _ => {}
        }
    }
    ids.sort();
    if ids.is_empty() {
        report.check("registers", Status::Fail, "registers no plugin");
    } else {
        report.check(
            "registers",
            Status::Pass,
            format!("registers {}", ids.join(", ")),
        );
    }
    let malformed: Vec<&String> = ids.iter().filter(|id| !plugin_id::is_valid(id)).collect();
    if !malformed.is_empty() {
        report.check(
            "ids",
            Status::Fail,
            format!(
                "ids that are not well-formed ({}): {malformed:?}",
                plugin_id::RULE
            ),
        );
    } else if ids != *declared {
        report.check(
            "ids",
            Status::Fail,
            format!(
                "registers [{}] but its sources declare [{}] with `#[plugin(id = …)]`",
                ids.join(", "),
                declared.join(", ")
            ),
        );
    } else {
        report.check(
            "ids",
            Status::Pass,
            "well-formed, unique, and as its sources declare",
        );
    }
    proc_macro_check(report, host, package)
}

/// Warns about proc-macro crates the plugin depends on itself (plugin-api's
/// own macros are not its).
fn proc_macro_check(report: &mut Report, host: &Path, package: &str) -> anyhow::Result<()> {
    let metadata = crate::process::metadata()
        .manifest_path(host.join("Cargo.toml"))
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .context("cargo metadata of the throwaway host failed")?;
    let Some(plugin) = metadata.packages.iter().find(|p| *p.name == *package) else {
        return Ok(());
    };
    let mut macros: Vec<String> = plugin
        .dependencies
        .iter()
        .filter(|d| d.kind == cargo_metadata::DependencyKind::Normal)
        .filter_map(|d| metadata.packages.iter().find(|p| *p.name == *d.name))
        .filter(|p| {
            p.targets
                .iter()
                .any(|t| t.kind.iter().any(|k| k.to_string() == "proc-macro"))
        })
        .map(|p| p.name.to_string())
        .collect();
    macros.sort();
    macros.dedup();
    if macros.is_empty() {
        report.check(
            "proc-macros",
            Status::Pass,
            "no proc-macro dependency of its own",
        );
    } else {
        report.check(
            "proc-macros",
            Status::Warn,
            format!(
                "depends on proc-macro crates, which run arbitrary code when a host builds it: {}",
                macros.join(", ")
            ),
        );
    }
    Ok(())
}

/// The throwaway host: this host's plugin-api, build-support and patches
/// (paths made absolute), its Cargo.lock, the plugin as a path plugin.
fn write_throwaway_host(root: &Path, host: &Path, dir: &Path, package: &str) -> anyhow::Result<()> {
    let text = crate::files::read_limited(&root.join("Cargo.toml"), crate::files::MAX_MANIFEST)?;
    let source: DocumentMut = text
        .parse()
        .context("failed to parse the host's Cargo.toml")?;
    let mut document = DocumentMut::new();
    let mut workspace = toml_edit::Table::new();
    workspace.insert("resolver", toml_edit::value("3"));
    let mut members = toml_edit::Array::new();
    members.push("app");
    members.push(build_support::PLUGIN_SET_DIR);
    workspace.insert("members", toml_edit::value(members));
    let mut exclude = toml_edit::Array::new();
    exclude.push(build_support::SOURCES_DIR);
    workspace.insert("exclude", toml_edit::value(exclude));
    let mut dependencies = toml_edit::Table::new();
    for name in [build_support::API_PACKAGE, build_support::BUILD_PACKAGE] {
        let item = source
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.get(name))
            .with_context(|| format!("the host's [workspace.dependencies] has no `{name}`"))?;
        dependencies.insert(name, crate::host::absolute_paths(item.clone(), root));
    }
    workspace.insert("dependencies", toml_edit::Item::Table(dependencies));
    document.insert("workspace", toml_edit::Item::Table(workspace));
    if let Some(patch) = source.get("patch") {
        document.insert("patch", crate::host::absolute_paths(patch.clone(), root));
    }
    let files = [
        ("Cargo.toml", document.to_string()),
        (
            "plugins.toml",
            format!(
                "[plugins.{package}]\npath = {}\n",
                toml_edit::Value::from(dir.display().to_string())
            ),
        ),
        (
            "app/Cargo.toml",
            "[package]\nname = \"plugin-lint-app\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nstatic-plugins-api.workspace = true\nplugin-set = { path = \"../plugin-set\" }\n"
                .to_owned(),
        ),
        ("app/src/main.rs", APP_MAIN.to_owned()),
    ];
    for (path, contents) in files {
        let path = host.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    // The host's resolved versions, so the build needs nothing new.
    if let Ok(lock) = std::fs::read(root.join("Cargo.lock")) {
        std::fs::write(host.join("Cargo.lock"), lock).context("failed to copy Cargo.lock")?;
    }
    Ok(())
}

/// A crate's git history: the database, the commit linted and the crate's
/// directory in its tree.
struct History {
    git_dir: PathBuf,
    commit: String,
    subdir: PathBuf,
}

impl History {
    /// The history of the work tree `dir` is in, at its `HEAD`; `None`
    /// outside a git work tree.
    fn of_worktree(dir: &Path) -> Option<History> {
        let git = |args: &[&str]| git_output(crate::process::git().arg("-C").arg(dir).args(args));
        let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?)
            .canonicalize()
            .ok()?;
        let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
        Some(History {
            git_dir,
            commit: git(&["rev-parse", "HEAD^{commit}"])?,
            subdir: dir.strip_prefix(&top).unwrap_or(Path::new("")).to_owned(),
        })
    }

    fn git(&self, args: &[&str]) -> Option<String> {
        git_output(
            crate::process::git()
                .arg("--git-dir")
                .arg(&self.git_dir)
                .args(args),
        )
    }
}

/// What a successful git command printed, trimmed.
fn git_output(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Compares the ids with those at the previous tag of the crate's git
/// repository, when it is in one that has a tag before its commit.
fn id_stability(
    report: &mut Report,
    history: Option<&History>,
    declared: &[String],
) -> anyhow::Result<()> {
    let Some(history) = history else {
        report.check(
            "id-stable",
            Status::Pass,
            "not in a git repository: no previous tag to compare with",
        );
        return Ok(());
    };
    // A tag on the commit itself is this release; the previous one is
    // the newest tag reachable from its parents.
    let Some(tag) = history.git(&[
        "describe",
        "--tags",
        "--abbrev=0",
        "--end-of-options",
        &format!("{}^", history.commit),
    ]) else {
        report.check("id-stable", Status::Pass, "no previous tag to compare with");
        return Ok(());
    };
    let scratch = Scratch::new("plugin-lint")?;
    let old = scratch.path().join("previous");
    let commit = history
        .git(&[
            "rev-parse",
            "--verify",
            "--end-of-options",
            &format!("{tag}^{{commit}}"),
        ])
        .context("the previous tag names no commit")?;
    crate::git::checkout(&history.git_dir, &commit, &old)
        .with_context(|| format!("failed to read the crate at tag {tag}"))?;
    let subdir = &history.subdir;
    let before = scan::plugin_ids(&old.join(subdir));
    if before.is_empty() || before == declared {
        report.check(
            "id-stable",
            Status::Pass,
            format!("ids unchanged since tag {tag}"),
        );
    } else {
        report.check(
            "id-stable",
            Status::Fail,
            format!(
                "ids changed since tag {tag}: [{}] became [{}]; hosts that configure or depend on \
                 the old ids break",
                before.join(", "),
                declared.join(", ")
            ),
        );
    }
    Ok(())
}

/// Prints the report for people: one line per check.
pub fn print(report: &Report) {
    // Names, versions and messages come from the crate: the shell shows
    // them escaped.
    outln!("{} {}", report.krate, report.version);
    for check in &report.checks {
        let status = match check.status {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        let mut lines = check.message.lines();
        outln!(
            "  {status:<4}  {:<12}  {}",
            check.name,
            lines.next().unwrap_or_default()
        );
        for line in lines {
            outln!("  {:<4}  {:<12}  {line}", "", "");
        }
    }
}
