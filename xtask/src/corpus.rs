//! `cargo xtask corpus [--app NAME]`: real applications published on
//! crates.io (the list is `xtask/corpus.toml`) adopted as hosts end to end,
//! as a new user would: `init`, a plugin scaffolded by `new-plugin` in its own
//! git repository and declared with `add`, the lines `init` prints pasted
//! into the application's `main`, a build, the application run, its own
//! tests, `dist` twice, `dist --target`, the SBOM validated, `remove` and a
//! build. Writes a Markdown report (CORPUS.md records one) and a JSON one.
//!
//! Sources come through cargo only: a throwaway project depends on
//! `name = "=version"`, `cargo fetch` downloads it (binary-only crates too),
//! and the package is copied out of cargo's registry sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::process::repo_root;

/// `cargo xtask corpus`: adopt real applications from crates.io as hosts,
/// end to end (maintainers only, not part of the product's CLI)
#[derive(Debug, clap::Parser)]
#[command(name = "cargo xtask corpus", bin_name = "cargo xtask corpus")]
struct Cli {
    /// Only these applications (repeatable) [default: every one]
    #[arg(long, value_name = "NAME")]
    app: Vec<String>,
    /// Scratch directory for the applications, plugins and caches
    /// [default: a directory in the system's temp dir]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Target directory every build shares [default: DIR/target]
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Where to write the Markdown report [default: print it]
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Skip the applications' own test suites
    #[arg(long)]
    no_tests: bool,
    /// Skip `dist --target` (a second full release build), and run the
    /// tool itself instead of each host's own `cargo xtask` (which must be
    /// built): what the test suite runs, whose other tests cover both
    #[arg(long)]
    quick: bool,
}

/// One application of `corpus.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct App {
    name: String,
    version: String,
    layout: Layout,
    #[serde(default)]
    members: BTreeMap<String, String>,
    bin: Option<String>,
    #[serde(default = "yes")]
    test: bool,
    shape: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Layout {
    Published,
    Original,
    Virtual,
}

#[derive(Debug, serde::Deserialize)]
struct List {
    app: Vec<App>,
}

/// The steps, in order; a step runs only when every one before it passed.
const STEPS: &[&str] = &[
    "fetch", "init", "plugin", "add", "paste", "build", "run", "test", "dist", "dist2", "target",
    "sbom", "remove",
];

#[derive(Debug, Clone, serde::Serialize)]
struct Step {
    name: &'static str,
    /// `ok`, `failed` or `skipped` (with the reason in `detail`).
    status: &'static str,
    detail: String,
    seconds: f64,
}

#[derive(Debug, serde::Serialize)]
struct Outcome {
    name: String,
    version: String,
    layout: String,
    binary: String,
    shape: String,
    steps: Vec<Step>,
}

/// Runs `cargo xtask corpus …` (the first argument is `corpus`).
pub fn main() -> std::process::ExitCode {
    use clap::Parser as _;
    let cli = Cli::parse_from(std::env::args_os().skip(1));
    match run(&cli) {
        Ok(all_passed) if all_passed => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<bool> {
    let list_path = repo_root().join("xtask/corpus.toml");
    let text = std::fs::read_to_string(&list_path)
        .with_context(|| format!("failed to read {}", list_path.display()))?;
    let list: List = toml::from_str(&text)
        .with_context(|| format!("failed to parse {}", list_path.display()))?;
    for wanted in &cli.app {
        if !list.app.iter().any(|a| &a.name == wanted) {
            let names: Vec<&str> = list.app.iter().map(|a| a.name.as_str()).collect();
            bail!(
                "no application `{wanted}` in the corpus; it has: {}",
                names.join(", ")
            );
        }
    }
    let dir = cli
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("static-plugins-corpus"));
    let env = Env::new(&dir, cli.target_dir.clone())?;
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for app in list
        .app
        .iter()
        .filter(|a| cli.app.is_empty() || cli.app.contains(&a.name))
    {
        eprintln!("== {} {}", app.name, app.version);
        let outcome = adopt(&env, app, !cli.no_tests, cli.quick);
        for step in &outcome.steps {
            eprintln!(
                "   {:<7} {:<7} {:>6.1}s {}",
                step.name, step.status, step.seconds, step.detail
            );
        }
        outcomes.push(outcome);
    }
    let passed = outcomes
        .iter()
        .all(|o| o.steps.iter().all(|s| s.status != "failed"));
    let json = serde_json::to_string_pretty(&outcomes).context("failed to render JSON")?;
    std::fs::write(dir.join("corpus.json"), json + "\n").context("failed to write corpus.json")?;
    let report = markdown(&outcomes, cli, started.elapsed().as_secs_f64());
    match &cli.report {
        Some(path) => std::fs::write(path, report)
            .with_context(|| format!("failed to write {}", path.display()))?,
        None => println!("{report}"),
    }
    Ok(passed)
}

/// The environment every command runs in: its own HOME, git identity and
/// plugin cache; cargo's and rustup's homes kept (the registry cache).
struct Env {
    dir: PathBuf,
    /// A copy of this program, which runs `init`: the hosts' own xtasks are
    /// built as `xtask` into the shared target directory, which may be the
    /// one this program was built in.
    tool: PathBuf,
    home: PathBuf,
    target: PathBuf,
    cargo_home: PathBuf,
    rustup_home: PathBuf,
    triple: String,
}

impl Env {
    fn new(dir: &Path, target: Option<PathBuf>) -> anyhow::Result<Env> {
        let home = dir.join("home");
        std::fs::create_dir_all(&home)
            .with_context(|| format!("failed to create {}", home.display()))?;
        let real_home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let var = |name: &str, default: &str| {
            std::env::var_os(name).map_or_else(|| real_home.join(default), PathBuf::from)
        };
        let rustc = Command::new("rustc")
            .arg("-vV")
            .output()
            .context("failed to run rustc -vV")?;
        let triple = String::from_utf8_lossy(&rustc.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
            .context("rustc -vV names no host")?;
        let tool = dir.join(format!("init-tool{}", std::env::consts::EXE_SUFFIX));
        let exe = std::env::current_exe().context("failed to find this program")?;
        std::fs::copy(&exe, &tool)
            .with_context(|| format!("failed to copy {} to {}", exe.display(), tool.display()))?;
        Ok(Env {
            dir: dir.to_owned(),
            tool,
            target: target.unwrap_or_else(|| dir.join("target")),
            home,
            cargo_home: var("CARGO_HOME", ".cargo"),
            rustup_home: var("RUSTUP_HOME", ".rustup"),
            triple,
        })
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
        let mut command = Command::new(program);
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
            "XDG_CONFIG_HOME",
            "RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "RUSTC_WRAPPER",
            "CARGO",
            "RUSTC",
        ] {
            command.env_remove(var);
        }
        command
            .current_dir(cwd)
            .env("HOME", &self.home)
            .env("CARGO_HOME", &self.cargo_home)
            .env("RUSTUP_HOME", &self.rustup_home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("PLUGIN_CACHE_DIR", self.dir.join("cache"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Corpus")
            .env("GIT_AUTHOR_EMAIL", "corpus@example.com")
            .env("GIT_COMMITTER_NAME", "Corpus")
            .env("GIT_COMMITTER_EMAIL", "corpus@example.com")
            // Fixed dates, so a host's commit (which ripgrep's build script
            // embeds) is the same in every run.
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("SOURCE_DATE_EPOCH", "1767225600")
            .env("LC_ALL", "C");
        command
    }

    fn cargo(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut command = self.command("cargo", cwd);
        command.args(args);
        command
    }

    fn git(&self, cwd: &Path, args: &[&str]) -> anyhow::Result<Output> {
        checked(self.command("git", cwd).args(args))
    }
}

/// Runs `command`; its output if it succeeded, else an error whose first
/// line is the first `error` line it printed.
fn checked(command: &mut Command) -> anyhow::Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("failed to start {command:?}"))?;
    if output.status.success() {
        return Ok(output);
    }
    // The first error line, and the deepest cause the tool printed.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    let first = lines
        .iter()
        .find(|l| l.starts_with("error"))
        .or_else(|| lines.iter().find(|l| !l.is_empty()))
        .copied()
        .unwrap_or("(no output)");
    let cause = lines
        .iter()
        .rposition(|l| *l == "Caused by:")
        .and_then(|i| lines.get(i + 1))
        .map_or_else(String::new, |c| format!(": {c}"));
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    bail!(
        "{first}{cause} ({}; `{} {}`)",
        output.status,
        Path::new(&program)
            .file_name()
            .map_or(program.clone(), |n| n.to_string_lossy().into_owned()),
        args.join(" ")
    )
}

/// The state one application's steps build up.
struct Adoption<'a> {
    env: &'a Env,
    app: &'a App,
    root: PathBuf,
    plugin: PathBuf,
    /// `(package, binary)` once init chose them.
    binary: Option<(String, String)>,
    /// The two lines init printed.
    lines: Vec<String>,
    main: Option<PathBuf>,
    shas: Vec<String>,
    /// `--quick`.
    quick: bool,
}

fn adopt(env: &Env, app: &App, tests: bool, quick: bool) -> Outcome {
    let base = env.dir.join("apps").join(&app.name);
    let mut state = Adoption {
        env,
        app,
        root: base.join("host"),
        plugin: base.join("corpus-plugin"),
        binary: None,
        lines: Vec::new(),
        main: None,
        shas: Vec::new(),
        quick,
    };
    let mut steps = Vec::new();
    let mut failed = false;
    for &name in STEPS {
        let started = Instant::now();
        let result = if failed {
            Err(Skip("an earlier step failed".to_owned()).into())
        } else if name == "target" && quick {
            Err(Skip("--quick".to_owned()).into())
        } else if name == "test" && !(tests && app.test) {
            Err(Skip(if tests {
                "the published crate carries no tests".to_owned()
            } else {
                "--no-tests".to_owned()
            })
            .into())
        } else {
            step(&mut state, name)
        };
        let seconds = started.elapsed().as_secs_f64();
        let (status, detail) = match result {
            Ok(detail) => ("ok", detail),
            Err(error) => match error.downcast_ref::<Skip>() {
                Some(Skip(why)) => ("skipped", why.clone()),
                None => {
                    failed = true;
                    (
                        "failed",
                        format!("{error:#}")
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                }
            },
        };
        steps.push(Step {
            name,
            status,
            detail,
            seconds,
        });
    }
    Outcome {
        name: app.name.clone(),
        version: app.version.clone(),
        layout: format!("{:?}", app.layout).to_lowercase(),
        binary: state.binary.map(|(_, b)| b).unwrap_or_default(),
        shape: app.shape.clone(),
        steps,
    }
}

/// Why a step did not run.
#[derive(Debug)]
struct Skip(String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

const PLUGIN: &str = "corpusplug";
/// The line the corpus adds after init's two: every plugin, one per line,
/// when [`LIST_VAR`] is set (so the application's own tests, which compare
/// what it prints, see nothing new).
const LIST_LINE: &str = r#"if std::env::var_os("CORPUS_LIST_PLUGINS").is_some() { for p in registry.plugins() { eprintln!("corpus-plugin: {}", p.descriptor.id); } }"#;
const LIST_VAR: &str = "CORPUS_LIST_PLUGINS";

fn step(s: &mut Adoption<'_>, name: &str) -> anyhow::Result<String> {
    let env = s.env;
    // The host's own `cargo xtask`, as a user runs it; with --quick this
    // program itself (the same engine, from the same checkout), which
    // spares building the host's xtask.
    let xtask = |args: &[&str]| {
        if s.quick {
            let mut command = env.command(&env.tool, &s.root);
            command
                .args(args)
                .arg("--manifest-path")
                .arg(s.root.join("Cargo.toml"));
            command
        } else {
            env.cargo(&s.root, &[&["xtask"], args].concat())
        }
    };
    // `cargo xtask dist --frozen` of the chosen binary, with `extra` flags.
    let dist = |extra: &[&str]| {
        let (package, bin) = s.binary.clone().unwrap_or_default();
        let mut command = xtask(&[
            "dist",
            "--frozen",
            "--quiet",
            "--package",
            &package,
            "--bin",
            &bin,
        ]);
        command.args(extra);
        command
    };
    match name {
        "fetch" => fetch(s),
        "init" => {
            let mut command = env.command(&env.tool, &s.root);
            command
                .args(["init", "--offline", "--path"])
                .arg(repo_root());
            if let Some(bin) = &s.app.bin {
                command.args(["--bin", bin]);
            }
            let output = checked(&mut command)?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            s.lines = stderr
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("let mut registry") || l.starts_with("for (id, error)"))
                .map(str::to_owned)
                .collect();
            // `Next add these two lines to `main` in PATH (binary `B` of package `P`):`
            let next = stderr
                .lines()
                .find(|l| l.contains("add these two lines to `main` in "))
                .context("init printed no lines to add")?;
            let (_, rest) = next
                .split_once(" in ")
                .context("init's line names a file")?;
            let (main, rest) = rest
                .split_once(" (binary `")
                .context("init names the binary")?;
            let (bin, rest) = rest
                .split_once("` of package `")
                .context("init names the package")?;
            let package = rest.split('`').next().unwrap_or_default();
            s.main = Some(s.root.join(main));
            s.binary = Some((package.to_owned(), bin.to_owned()));
            Ok(format!("`{bin}` of `{package}`, {main}"))
        }
        "plugin" => {
            if s.plugin.exists() {
                std::fs::remove_dir_all(&s.plugin)?;
            }
            checked(&mut xtask(&[
                "new-plugin",
                PLUGIN,
                "--path",
                &s.plugin.to_string_lossy(),
            ]))?;
            env.git(&s.plugin, &["init", "--quiet", "--initial-branch=main"])?;
            env.git(&s.plugin, &["add", "--all"])?;
            env.git(&s.plugin, &["commit", "--quiet", "-m", "corpus plugin"])?;
            env.git(&s.plugin, &["tag", "v0.1.0"])?;
            Ok(String::new())
        }
        "add" => {
            let url = format!("file://{}", s.plugin.display());
            checked(&mut xtask(&[
                "add", PLUGIN, "--git", &url, "--tag", "v0.1.0",
            ]))?;
            Ok(String::new())
        }
        "paste" => {
            let main = s.main.clone().context("init named no main")?;
            let text = std::fs::read_to_string(&main)?;
            let pasted =
                paste(&text, &s.lines).with_context(|| format!("in {}", main.display()))?;
            std::fs::write(&main, pasted)?;
            Ok(String::new())
        }
        "build" => {
            // The first build may fetch what the host's lock adds.
            checked(&mut env.cargo(&s.root, &["fetch"]))?;
            let (package, bin) = s.binary.clone().context("no binary")?;
            checked(&mut env.cargo(
                &s.root,
                &["build", "--offline", "--package", &package, "--bin", &bin],
            ))?;
            Ok(String::new())
        }
        "run" => {
            let (_, bin) = s.binary.clone().context("no binary")?;
            let exe = env.target.join("debug").join(&bin);
            let mut last = String::new();
            for flag in ["--version", "--help", "-V", "-h"] {
                let output = env
                    .command(&exe, &s.root)
                    .env(LIST_VAR, "1")
                    .arg(flag)
                    .output()?;
                let stderr = String::from_utf8_lossy(&output.stderr);
                if output.status.success() {
                    let listed = format!("corpus-plugin: {PLUGIN}");
                    if !stderr.lines().any(|l| l == listed) {
                        bail!(
                            "`{bin} {flag}` did not list the plugin; it printed: {}",
                            stderr.trim()
                        );
                    }
                    let first = String::from_utf8_lossy(&output.stdout);
                    return Ok(format!(
                        "`{bin} {flag}`: {}",
                        first.lines().next().unwrap_or_default()
                    ));
                }
                last = format!(
                    "`{bin} {flag}` exited with {}: {}",
                    output.status,
                    stderr.trim()
                );
            }
            bail!("{last}")
        }
        "test" => {
            let (package, _) = s.binary.clone().context("no binary")?;
            let (passed, failed) = tests(env, &s.root, &package)?;
            if failed.is_empty() {
                return Ok(format!("{passed} tests passed"));
            }
            // The same tests of the application as published, in a worktree
            // of its first commit: what fails there too is the machine's
            // doing (a test that needs a network, or not to run as root).
            let published = s.root.with_file_name("published");
            let _ = std::fs::remove_dir_all(&published);
            env.git(&s.root, &["worktree", "prune"])?;
            env.git(
                &s.root,
                &[
                    "worktree",
                    "add",
                    "--quiet",
                    "--detach",
                    &published.to_string_lossy(),
                    "HEAD",
                ],
            )?;
            let (_, before) = tests(env, &published, &package)?;
            let ours: Vec<&String> = failed.iter().filter(|t| !before.contains(t)).collect();
            if ours.is_empty() {
                Ok(format!(
                    "{passed} tests passed; {} fail{} as published too, on this machine: {}",
                    failed.len(),
                    if failed.len() == 1 { "s" } else { "" },
                    failed.join(", ")
                ))
            } else {
                let names: Vec<&str> = ours.iter().map(|t| t.as_str()).collect();
                bail!(
                    "{} tests fail only once adopted: {}",
                    names.len(),
                    names.join(", ")
                )
            }
        }
        "dist" | "dist2" => {
            let output = checked(&mut dist(&[]))?;
            let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            let sha = line.split("  ").next().unwrap_or_default().to_owned();
            if let Some(first) = s.shas.first()
                && *first != sha
            {
                bail!("the second dist gave other bytes: {first} then {sha}");
            }
            s.shas.push(sha.clone());
            Ok(format!("sha256 {}", sha.get(..16).unwrap_or(&sha)))
        }
        "target" => {
            let (_, bin) = s.binary.clone().context("no binary")?;
            let output = checked(&mut dist(&["--target", &env.triple]))?;
            let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            let expected = env.target.join(&env.triple).join("release").join(&bin);
            if !line.ends_with(&*expected.to_string_lossy()) {
                bail!("dist --target wrote `{line}`, not {}", expected.display());
            }
            Ok(format!("--target {}", env.triple))
        }
        "sbom" => {
            let (_, bin) = s.binary.clone().context("no binary")?;
            let path = env.target.join("release").join(format!("{bin}.cdx.json"));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let bom: serde_json::Value = serde_json::from_str(&text)?;
            validate_cyclonedx(&bom)?;
            let components = bom
                .get("components")
                .and_then(serde_json::Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if !components
                .iter()
                .any(|c| c.get("name").and_then(serde_json::Value::as_str) == Some(PLUGIN))
            {
                bail!("the SBOM does not list the plugin");
            }
            let count = components.len();
            Ok(format!("{count} components, valid CycloneDX 1.5"))
        }
        "remove" => {
            checked(&mut xtask(&["remove", PLUGIN]))?;
            let (package, bin) = s.binary.clone().context("no binary")?;
            checked(&mut env.cargo(
                &s.root,
                &["build", "--offline", "--package", &package, "--bin", &bin],
            ))?;
            let exe = env.target.join("debug").join(&bin);
            let output = env
                .command(&exe, &s.root)
                .env(LIST_VAR, "1")
                .arg("--version")
                .output()?;
            if String::from_utf8_lossy(&output.stderr).contains("corpus-plugin:") {
                bail!("the plugin is still listed after remove");
            }
            Ok(String::new())
        }
        other => bail!("unknown step {other}"),
    }
}

/// Runs the package's tests in `dir` (all of them, whatever fails): how
/// many passed, and the names of those that failed.
fn tests(env: &Env, dir: &Path, package: &str) -> anyhow::Result<(usize, Vec<String>)> {
    let output = env
        .cargo(
            dir,
            &["test", "--offline", "--no-fail-fast", "--package", package],
        )
        .output()
        .context("failed to run cargo test")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
        .filter_map(|l| {
            l.split_once(". ")?
                .1
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    let mut failed: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .map(str::to_owned)
        .collect();
    failed.sort();
    failed.dedup();
    if !output.status.success() && failed.is_empty() {
        // Nothing ran: the tests did not build.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("(no error line)");
        bail!("the tests did not run: {first}");
    }
    Ok((passed, failed))
}

/// `text` (a binary's main file) with `lines` and [`LIST_LINE`] inserted at
/// the top of `fn main`'s body.
fn paste(text: &str, lines: &[String]) -> anyhow::Result<String> {
    if lines.len() != 2 {
        bail!("init printed {} lines to add, not 2", lines.len());
    }
    let start = text
        .match_indices("fn main(")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text.get(..i).is_some_and(|b| b.ends_with([' ', '\n'])))
        .context("no `fn main(`")?;
    let brace = text
        .get(start..)
        .and_then(|rest| rest.find('{'))
        .context("no `{` after `fn main(`")?;
    let at = start + brace + 1;
    let mut out = text.get(..at).unwrap_or_default().to_owned();
    for line in lines.iter().map(String::as_str).chain([LIST_LINE]) {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Ok(out)
}

/// Downloads the application (and, for the original layout, its members)
/// through cargo and lays it out as a fresh git repository at `s.root`.
fn fetch(s: &mut Adoption<'_>) -> anyhow::Result<String> {
    let env = s.env;
    let app = s.app;
    let fetcher = env.dir.join("fetch").join(&app.name);
    let _ = std::fs::remove_dir_all(&fetcher);
    std::fs::create_dir_all(fetcher.join("src"))?;
    let mut manifest = format!(
        "[package]\nname = \"corpus-fetch-{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{} = \"={}\"\n",
        app.name, app.name, app.version
    );
    let source = |name: &str, version: &str| -> anyhow::Result<PathBuf> {
        let registry = env.cargo_home.join("registry/src");
        for index in std::fs::read_dir(&registry)
            .with_context(|| format!("failed to read {}", registry.display()))?
        {
            let dir = index?.path().join(format!("{name}-{version}"));
            if dir.join("Cargo.toml").is_file() {
                return Ok(dir);
            }
        }
        bail!(
            "cargo fetch left no {name}-{version} in {}",
            registry.display()
        )
    };
    // Members: at the versions of the application's own Cargo.lock, which
    // the first fetch brings.
    std::fs::write(fetcher.join("Cargo.toml"), &manifest)?;
    std::fs::write(fetcher.join("src/lib.rs"), "")?;
    checked(&mut env.cargo(&fetcher, &["fetch"]))?;
    let app_dir = source(&app.name, &app.version)?;
    let mut members = Vec::new();
    if app.layout == Layout::Original {
        let lock = std::fs::read_to_string(app_dir.join("Cargo.lock"))
            .context("the original layout needs the application's Cargo.lock")?;
        let lock: toml::Table = toml::from_str(&lock)?;
        for (n, (dir, package)) in app.members.iter().enumerate() {
            let version = lock
                .get("package")
                .and_then(|p| p.as_array())
                .and_then(|packages| {
                    packages
                        .iter()
                        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(package))
                })
                .and_then(|p| p.get("version")?.as_str())
                .with_context(|| {
                    format!("member {package} is not in the application's Cargo.lock")
                })?;
            manifest.push_str(&format!(
                "member-{n} = {{ package = \"{package}\", version = \"={version}\" }}\n"
            ));
            members.push((dir.clone(), package.clone(), version.to_owned()));
        }
        std::fs::write(fetcher.join("Cargo.toml"), &manifest)?;
        checked(&mut env.cargo(&fetcher, &["fetch"]))?;
    }

    let base = s.root.parent().context("the host has a parent")?.to_owned();
    let _ = std::fs::remove_dir_all(&base);
    let package_dir = match app.layout {
        Layout::Virtual => s.root.join(&app.name),
        Layout::Published | Layout::Original => s.root.clone(),
    };
    copy_tree(&app_dir, &package_dir)?;
    match app.layout {
        Layout::Published => {}
        Layout::Virtual => {
            // Cargo honours profiles and the lock only at the root.
            std::fs::write(
                s.root.join("Cargo.toml"),
                format!(
                    "[workspace]\nresolver = \"2\"\nmembers = [\"{}\"]\n",
                    app.name
                ),
            )?;
            if package_dir.join("Cargo.lock").is_file() {
                std::fs::rename(package_dir.join("Cargo.lock"), s.root.join("Cargo.lock"))?;
            }
        }
        Layout::Original => {
            std::fs::rename(
                package_dir.join("Cargo.toml.orig"),
                package_dir.join("Cargo.toml"),
            )?;
            for (dir, package, version) in &members {
                let to = s.root.join(dir);
                copy_tree(&source(package, version)?, &to)?;
                if to.join("Cargo.toml.orig").is_file() {
                    std::fs::rename(to.join("Cargo.toml.orig"), to.join("Cargo.toml"))?;
                }
            }
        }
    }
    env.git(&s.root, &["init", "--quiet", "--initial-branch=main"])?;
    env.git(&s.root, &["add", "--all", "--force"])?;
    env.git(&s.root, &["commit", "--quiet", "-m", "as published"])?;
    // What the application itself needs, dev-dependencies included: every
    // later step runs offline.
    checked(&mut env.cargo(&s.root, &["fetch"]))?;
    Ok(format!("{} files", count_files(&s.root)))
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != ".git")
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => count_files(&e.path()),
                _ => 1,
            })
            .sum()
    })
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("failed to create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))?
    {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("failed to copy {}", src.display()))?;
        }
        // cargo's sources hold no symlinks; anything else is not copied.
    }
    Ok(())
}

/// Validates against the CycloneDX 1.5 schema vendored for the tests.
fn validate_cyclonedx(bom: &serde_json::Value) -> anyhow::Result<()> {
    let dir = repo_root().join("tests/fixtures/cyclonedx");
    let read = |name: &str| -> anyhow::Result<serde_json::Value> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    };
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            read("spdx.SNAPSHOT.schema.json")?,
        )?
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
            read("jsf-0.82.SNAPSHOT.schema.json")?,
        )?
        .prepare()?;
    let schema = read("bom-1.5.SNAPSHOT.schema.json")?;
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&schema)
        .map_err(|e| anyhow::anyhow!("the vendored schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(bom)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if let Some(first) = errors.first() {
        bail!(
            "invalid CycloneDX ({} errors), first: {first}",
            errors.len()
        );
    }
    Ok(())
}

fn markdown(outcomes: &[Outcome], cli: &Cli, seconds: f64) -> String {
    let mut out = String::new();
    out.push_str("| application | layout | binary |");
    for step in STEPS {
        out.push_str(&format!(" {step} |"));
    }
    out.push_str(" total |\n|---|---|---|");
    for _ in STEPS {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for o in outcomes {
        out.push_str(&format!(
            "| {} {} | {} | `{}` |",
            o.name, o.version, o.layout, o.binary
        ));
        let mut total = 0.0;
        for step in &o.steps {
            total += step.seconds;
            let mark = match step.status {
                "ok" => format!("✔ {:.0}s", step.seconds),
                "skipped" => "–".to_owned(),
                _ => "✘".to_owned(),
            };
            out.push_str(&format!(" {mark} |"));
        }
        out.push_str(&format!(" {total:.0}s |\n"));
    }
    out.push_str("\nShapes, and what each step said:\n\n");
    for o in outcomes {
        out.push_str(&format!("- **{} {}**: {}.\n", o.name, o.version, o.shape));
        for step in o.steps.iter().filter(|s| !s.detail.is_empty()) {
            let mark = match step.status {
                "ok" => "✔",
                "skipped" => "–",
                _ => "✘",
            };
            out.push_str(&format!(
                "  - {mark} {}: {}\n",
                step.name,
                step.detail.replace('|', "\\|")
            ));
        }
    }
    let apps: Vec<String> = cli.app.iter().map(|a| format!(" --app {a}")).collect();
    out.push_str(&format!(
        "\nProduced by `cargo xtask corpus{}{}{}` in {:.0} s.\n",
        apps.concat(),
        if cli.no_tests { " --no-tests" } else { "" },
        if cli.quick { " --quick" } else { "" },
        seconds
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_go_at_the_top_of_main_whatever_it_returns() {
        let lines = vec!["A;".to_owned(), "B;".to_owned()];
        let text = "fn helper() {}\n\n#[tokio::main]\nasync fn main() -> Result<(), Box<dyn Error>> {\n    run()\n}\n";
        let pasted = paste(text, &lines).unwrap();
        assert!(
            pasted.contains(&format!(
                "async fn main() -> Result<(), Box<dyn Error>> {{\n    A;\n    B;\n    {LIST_LINE}\n    run()"
            )),
            "{pasted}"
        );
        assert!(paste("fn main_generic() {}", &lines).is_err());
        assert!(paste("fn main() {}", &lines[..1]).is_err());
    }

    #[test]
    fn the_committed_list_parses_and_covers_ten_applications() {
        let text = std::fs::read_to_string(repo_root().join("xtask/corpus.toml")).unwrap();
        let list: List = toml::from_str(&text).unwrap();
        assert!(list.app.len() >= 10, "{} applications", list.app.len());
    }
}
