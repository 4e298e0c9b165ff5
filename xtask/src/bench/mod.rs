//! `cargo xtask bench [--quick]`: sync measured side by side with `cargo
//! fetch` and a `git clone --depth 1` loop, on fixture repositories this
//! harness generates itself (deterministic content, never downloaded), and
//! how the cost grows with the number of plugins and the length of their
//! histories. Prints a Markdown report; BENCHMARKS.md records one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// `cargo xtask bench`: benchmark sync against cargo fetch and git clone;
/// print a Markdown report (maintainers only, not part of the product's CLI)
#[derive(Debug, clap::Parser)]
#[command(name = "cargo xtask bench", bin_name = "cargo xtask bench")]
struct Cli {
    /// Small sizes, one run each (what the test suite runs)
    #[arg(long)]
    quick: bool,
    /// Scratch directory for fixtures and hosts [default: a directory in
    /// the system's temp dir, outside any workspace]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Runs `cargo xtask bench …` (the first argument is `bench`).
pub fn main() -> std::process::ExitCode {
    use clap::Parser as _;
    let cli = Cli::parse_from(std::env::args_os().skip(1));
    let dir = cli
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("static-plugins-bench"));
    match bench(&Options {
        dir,
        quick: cli.quick,
    }) {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Debug)]
pub struct Options {
    /// Scratch directory (fixtures are kept and reused between runs).
    pub dir: PathBuf,
    /// Small sizes and one run each: what the test suite runs.
    pub quick: bool,
}

struct Sizes {
    cold: Vec<usize>,
    warm: Vec<usize>,
    histories: [usize; 2],
    memory: usize,
    runs: usize,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository root")
        .to_owned()
}

pub fn run(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr))
}

pub fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com");
    command
}

/// Plugin repository `i` with `history` commits, the last one tagged `v1`
/// holding the crate `bench-plugin-<i>`; made once and reused.
fn fixture(dir: &Path, i: usize, history: usize) -> anyhow::Result<PathBuf> {
    // Fixtures name this checkout's plugin-api by path: key them by it, so a
    // scratch directory shared by two checkouts never mixes them up.
    let api = repo_root().join("plugin-api");
    let key = build_support::sha256_hex(api.to_string_lossy().as_bytes());
    let repo = dir
        .join("repos")
        .join(&key[..12])
        .join(format!("p{i}-h{history}"));
    if repo.join(".git/refs/tags/v1").is_file() {
        return Ok(repo);
    }
    let manifest = format!(
        "[package]\nname = \"bench-plugin-{i}\"\nversion = \"1.0.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nplugin-api = {{ path = {:?} }}\n",
        api.display().to_string()
    );
    let lib = format!(
        "//! Benchmark plugin {i}.\n\n#[plugin_api::plugin(id = \"p{i}\")]\n#[derive(Default)]\npub struct P;\n\n\
         impl plugin_api::Plugin for P {{\n    fn register(&self, _: &mut plugin_api::Registrar<'_>) {{}}\n}}\n"
    );
    let mut stream = String::new();
    for commit in 1..=history {
        let message = format!("commit {commit}");
        let mut files =
            format!("M 644 inline history.txt\ndata <<EOF\nplugin {i} revision {commit}\nEOF\n");
        if commit == history {
            files.push_str(&format!(
                "M 644 inline Cargo.toml\ndata {}\n{manifest}\n",
                manifest.len()
            ));
            files.push_str(&format!(
                "M 644 inline src/lib.rs\ndata {}\n{lib}\n",
                lib.len()
            ));
        }
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{message}\n{files}\n",
            1_700_000_000 + commit,
            message.len()
        ));
    }
    crate::real::import(&repo, stream.into_bytes())?;
    Ok(repo)
}

/// A fresh host declaring `repos` at tag `v1`, with an app that lists them.
fn host(dir: &Path, name: &str, repos: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let root = dir.join("hosts").join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("app/src"))?;
    let repo = repo_root();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\"app\", \"plugin-set\"]\nexclude = [\"plugin-sources\"]\n\n\
             [workspace.dependencies]\nplugin-api = {{ path = {:?} }}\nbuild-support = {{ path = {:?} }}\n",
            repo.join("plugin-api").display().to_string(),
            repo.join("build-support").display().to_string()
        ),
    )?;
    std::fs::copy(repo.join("Cargo.lock"), root.join("Cargo.lock"))?;
    std::fs::write(
        root.join("app/Cargo.toml"),
        format!(
            "[package]\nname = \"bench-app-{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nplugin-api.workspace = true\nplugin-set = {{ path = \"../plugin-set\" }}\n"
        ),
    )?;
    std::fs::write(
        root.join("app/src/main.rs"),
        "//! Benchmark host.\nfn main() {\n    let registry = plugin_api::Registry::build(&plugin_set::SET).unwrap();\n    \
         println!(\"{}\", registry.plugins().len());\n}\n",
    )?;
    declare(&root, repos)?;
    Ok(root)
}

/// `bench-plugin-<i> = { git = "file://…", tag = "v1" }`, one line per
/// repository: the same in plugins.toml and in a Cargo.toml.
fn git_dependencies(repos: &[PathBuf]) -> String {
    repos
        .iter()
        .map(|repo| {
            format!(
                "{} = {{ git = \"file://{}\", tag = \"v1\" }}\n",
                crate::real::package_of(repo),
                repo.display()
            )
        })
        .collect()
}

fn declare(root: &Path, repos: &[PathBuf]) -> anyhow::Result<()> {
    let manifest = format!("[plugins]\n{}", git_dependencies(repos));
    std::fs::write(root.join("plugins.toml"), manifest)?;
    Ok(())
}

/// `xtask sync --quiet` of the host at `root` with cache `cache`.
fn sync_command(root: &Path, cache: &Path) -> anyhow::Result<Command> {
    let mut command = xtask()?;
    command
        .env("PLUGIN_CACHE_DIR", cache)
        .args(["sync", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    Ok(command)
}

fn xtask() -> anyhow::Result<Command> {
    Ok(Command::new(
        std::env::current_exe().context("no current executable")?,
    ))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn timed(
    runs: usize,
    mut prepare: impl FnMut() -> anyhow::Result<Command>,
) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut command = prepare()?;
        // Flush what preparing wrote and deleted, so the timed run does not
        // pay for the previous run's disk writes.
        let _ = Command::new("sync").status();
        let start = Instant::now();
        run(&mut command)?;
        times.push(start.elapsed());
    }
    Ok(median(times))
}

/// Cold sync of `repos`: a fresh host and an empty cache each run.
fn cold_sync(dir: &Path, repos: &[PathBuf], runs: usize) -> anyhow::Result<Duration> {
    let cache = dir.join("cold-cache");
    timed(runs, || {
        let root = host(dir, "cold", repos)?;
        let _ = std::fs::remove_dir_all(&cache);
        let command = sync_command(&root, &cache)?;
        Ok(command)
    })
}

/// `git clone --depth 1 --branch v1` of each repository, one after another.
fn git_loop(dir: &Path, repos: &[PathBuf], runs: usize) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let target = dir.join("clones");
        let _ = std::fs::remove_dir_all(&target);
        std::fs::create_dir_all(&target)?;
        let start = Instant::now();
        for (i, repo) in repos.iter().enumerate() {
            run(git(&target)
                .args(["clone", "--quiet", "--depth", "1", "--branch", "v1"])
                .arg(format!("file://{}", repo.display()))
                .arg(format!("c{i}")))?;
        }
        times.push(start.elapsed());
    }
    Ok(median(times))
}

/// `cargo fetch` of the repositories as git dependencies at `v1`, with a
/// CARGO_HOME whose git cache is empty (its registry is the user's, so only
/// git is measured, with no network).
fn cargo_fetch(dir: &Path, repos: &[PathBuf], runs: usize) -> anyhow::Result<Duration> {
    let project = dir.join("fetch-project");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(project.join("src"))?;
    let mut manifest = String::from(
        "[package]\nname = \"fetch-project\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n[dependencies]\n",
    );
    manifest.push_str(&git_dependencies(repos));
    std::fs::write(project.join("Cargo.toml"), manifest)?;
    std::fs::write(project.join("src/lib.rs"), "")?;
    let real_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .context("cannot find CARGO_HOME")?;
    let home = dir.join("fetch-cargo-home");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    timed(runs, || {
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(real_home.join("registry"), home.join("registry"))?;
        std::fs::copy(repo_root().join("Cargo.lock"), project.join("Cargo.lock"))?;
        let mut command = Command::new(&cargo);
        command
            .current_dir(&project)
            .env("CARGO_HOME", &home)
            .env("CARGO_NET_OFFLINE", "false")
            .args(["fetch", "--quiet"]);
        Ok(command)
    })
}

/// Peak resident memory of one run of `command`, in KiB.
#[cfg(unix)]
fn peak_memory(command: &mut Command) -> anyhow::Result<u64> {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data, filled by the kernel for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for the child we spawned and own; no other wait races it.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if waited != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    Ok(u64::try_from(usage.ru_maxrss).unwrap_or(0))
}

fn count_compiled(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.trim_start().strip_prefix("Compiling "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
}

pub fn bench(options: &Options) -> anyhow::Result<String> {
    let sizes = if options.quick {
        Sizes {
            cold: vec![1, 2],
            warm: vec![2],
            histories: [10, 50],
            memory: 2,
            runs: 1,
        }
    } else {
        Sizes {
            cold: vec![1, 10, 50],
            warm: vec![10, 100],
            histories: [10, 10_000],
            memory: 50,
            runs: 5,
        }
    };
    let dir = &options.dir;
    std::fs::create_dir_all(dir)?;
    let dir = &dir.canonicalize()?;
    let history = 1_000;
    let mut report = String::new();
    let mut line = |s: String| {
        report.push_str(&s);
        report.push('\n');
    };

    line(format!(
        "## Cold sync (fixtures with {history} commits each; median of {} runs)\n",
        sizes.runs
    ));
    line(
        "| N | sync | git clone --depth 1 loop | cargo fetch | sync / git | sync / cargo |".into(),
    );
    line("|---|---|---|---|---|---|".into());
    for &n in &sizes.cold {
        let repos: Vec<PathBuf> = (0..n)
            .map(|i| fixture(dir, i, history))
            .collect::<Result<_, _>>()?;
        let sync = cold_sync(dir, &repos, sizes.runs)?;
        let clone = git_loop(dir, &repos, sizes.runs)?;
        let fetch = cargo_fetch(dir, &repos, sizes.runs)?;
        line(format!(
            "| {n} | {} | {} | {} | {} | {} |",
            ms(sync),
            ms(clone),
            ms(fetch),
            ratio(sync, clone),
            ratio(sync, fetch)
        ));
    }

    let pool = *sizes.cold.last().unwrap_or(&1);
    line(format!(
        "\n## Resolve pool size (cold sync of {pool} plugins; median of {} runs)\n",
        sizes.runs
    ));
    line("| --jobs | cold sync | against --jobs 8 |".into());
    line("|---|---|---|".into());
    let repos: Vec<PathBuf> = (0..pool)
        .map(|i| fixture(dir, i, history))
        .collect::<Result<_, _>>()?;
    // Interleaved, so every pool size sees the same machine.
    let pools = [1, 2, 4, 8, 16];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); pools.len()];
    let cache = dir.join("pool-cache");
    for _ in 0..sizes.runs {
        for (jobs, times) in pools.iter().zip(samples.iter_mut()) {
            times.push(timed(1, || {
                let root = host(dir, "pool", &repos)?;
                let _ = std::fs::remove_dir_all(&cache);
                let mut command = sync_command(&root, &cache)?;
                command.args(["--jobs", &jobs.to_string()]);
                Ok(command)
            })?);
        }
    }
    let by_jobs: Vec<(usize, Duration)> = pools
        .iter()
        .copied()
        .zip(samples.into_iter().map(median))
        .collect();
    let eight = by_jobs
        .iter()
        .find(|(j, _)| *j == 8)
        .map_or(Duration::ZERO, |(_, t)| *t);
    for (jobs, time) in &by_jobs {
        line(format!(
            "| {jobs} | {} | {} |",
            ms(*time),
            ratio(*time, eight)
        ));
    }

    line(format!(
        "\n## Warm no-op sync (median of {} runs)\n",
        sizes.runs.max(3)
    ));
    line("| N | no-op sync | cargo metadata --offline | ratio | files written |".into());
    line("|---|---|---|---|---|".into());
    for &n in &sizes.warm {
        let repos: Vec<PathBuf> = (0..n)
            .map(|i| fixture(dir, i, 10))
            .collect::<Result<_, _>>()?;
        let root = host(dir, &format!("warm-{n}"), &repos)?;
        let cache = dir.join(format!("warm-cache-{n}"));
        let sync = |root: &Path| -> anyhow::Result<Command> {
            let command = sync_command(root, &cache)?;
            Ok(command)
        };
        run(&mut sync(&root)?)?;
        let lock = root.join("plugins.lock");
        let before = std::fs::metadata(&lock)?.modified()?;
        let noop = timed(sizes.runs.max(3), || sync(&root))?;
        let written = if std::fs::metadata(&lock)?.modified()? == before {
            "none"
        } else {
            "plugins.lock!"
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let metadata = timed(sizes.runs.max(3), || {
            let mut command = Command::new(&cargo);
            command
                .args([
                    "metadata",
                    "--offline",
                    "--format-version",
                    "1",
                    "--manifest-path",
                ])
                .arg(root.join("Cargo.toml"));
            Ok(command)
        })?;
        line(format!(
            "| {n} | {} | {} | {} | {written} |",
            ms(noop),
            ms(metadata),
            ratio(noop, metadata)
        ));
    }

    line(format!(
        "\n## History size (one plugin; median of {} runs)\n",
        sizes.runs
    ));
    let [short, long] = sizes.histories;
    let short_repo = fixture(dir, 900, short)?;
    let long_repo = fixture(dir, 901, long)?;
    let short_time = cold_sync(dir, &[short_repo], sizes.runs)?;
    let long_time = cold_sync(dir, &[long_repo], sizes.runs)?;
    line(format!(
        "| {short} commits | {long} commits | ratio |\n|---|---|---|\n| {} | {} | {} |",
        ms(short_time),
        ms(long_time),
        ratio(long_time, short_time)
    ));

    line("\n## Rebuild cost\n".into());
    let repos: Vec<PathBuf> = (0..2)
        .map(|i| fixture(dir, i, 10))
        .collect::<Result<_, _>>()?;
    let root = host(dir, "rebuild", &repos)?;
    let cache = dir.join("rebuild-cache");
    let target = dir.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let sync = || -> anyhow::Result<String> {
        let mut command = sync_command(&root, &cache)?;
        run(&mut command)
    };
    let build = || -> anyhow::Result<Vec<String>> {
        let mut command = Command::new(&cargo);
        command
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "--offline", "--package", "bench-app-rebuild"]);
        Ok(count_compiled(&run(&mut command)?))
    };
    sync()?;
    build()?;
    sync()?;
    let after_noop = build()?;
    let mut more = repos.clone();
    more.push(fixture(dir, 2, 10)?);
    declare(&root, &more)?;
    sync()?;
    let after_add = build()?;
    line(format!(
        "- after a no-op sync `cargo build` compiled {} crate(s){}",
        after_noop.len(),
        if after_noop.is_empty() {
            String::new()
        } else {
            format!(": {}", after_noop.join(", "))
        }
    ));
    line(format!(
        "- after adding one plugin it compiled {} crate(s): {}",
        after_add.len(),
        after_add.join(", ")
    ));

    line(format!(
        "\n## Peak memory of a cold sync of {} plugins\n",
        sizes.memory
    ));
    let repos: Vec<PathBuf> = (0..sizes.memory)
        .map(|i| fixture(dir, i, history))
        .collect::<Result<_, _>>()?;
    let root = host(dir, "memory", &repos)?;
    let cache = dir.join("memory-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let mut command = sync_command(&root, &cache)?;
    #[cfg(unix)]
    line(format!(
        "- {} MiB (maximum resident set of the xtask process)",
        peak_memory(&mut command)? / 1024
    ));

    line("\n## Registry\n".into());
    line(
        "See `cargo bench -p plugin-api --bench registry` (the registry section of BENCHMARKS.md)."
            .into(),
    );
    real_sized(options, dir, &mut line)?;
    Ok(report)
}

/// What a figure is measured against, and whether it meets it.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

/// Issue 14's figures, each against its target: cold sync against a serial
/// shallow clone loop on real-sized repositories at three sizes, a warm
/// no-op sync against `cargo metadata`, 500 plugins' time and peak memory,
/// and the registry build.
fn real_sized(
    options: &Options,
    dir: &Path,
    line: &mut impl FnMut(String),
) -> anyhow::Result<()> {
    let scale = if options.quick {
        crate::real::Scale::QUICK
    } else {
        crate::real::Scale::FULL
    };
    let runs = if options.quick { 1 } else { 5 };
    let mono = crate::real::monorepo(dir, &scale)?;
    let medium: Vec<PathBuf> = (0..4)
        .map(|i| crate::real::medium(dir, i, &scale))
        .collect::<Result<_, _>>()?;
    let small = |n: usize| -> anyhow::Result<Vec<PathBuf>> {
        (0..n).map(|i| fixture(dir, i, 100)).collect()
    };
    line(format!(
        "\n## Real-sized cold sync (issue 14; median of {runs} runs)\n\n\
         Fixtures (git fast-import, seeded): a monorepo of {} files, {:.1} MB in a nested tree, \
         {} commits, its plugin a small workspace member; medium repositories of {} files and {} \
         commits; small repositories of 3 files and 100 commits.\n",
        scale.mono_files,
        scale.mono_megabytes(),
        scale.mono_commits,
        scale.medium_files,
        scale.medium_commits,
    ));
    line("| N | repositories | sync | git clone --depth 1 loop | sync / git | target ≤ 1.00× |".into());
    line("|---|---|---|---|---|---|".into());
    let sets: Vec<(usize, &str, Vec<PathBuf>)> = {
        let mut six = vec![mono.clone()];
        six.extend(medium.iter().take(3).cloned());
        six.extend(small(2)?);
        let big = if options.quick { 8 } else { 50 };
        let mut fifty = vec![mono.clone()];
        fifty.extend(medium.iter().cloned());
        fifty.extend(small(big - 5)?);
        vec![
            (1, "the monorepo", vec![mono.clone()]),
            (6, "monorepo, 3 medium, 2 small", six),
            (big, "monorepo, 4 medium, the rest small", fifty),
        ]
    };
    for (n, what, repos) in &sets {
        // Alternated, one sync then one clone loop: on this kind of VM the
        // cost of creating files depends on how many were deleted in the
        // seconds before, so each side must follow the same history.
        let (mut syncs, mut clones) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            syncs.push(cold_sync(dir, repos, 1)?);
            clones.push(git_loop(dir, repos, 1)?);
        }
        let (sync, clone) = (median(syncs), median(clones));
        let ratio_value = sync.as_secs_f64() / clone.as_secs_f64();
        line(format!(
            "| {n} | {what} | {} | {} | {} | {} |",
            ms(sync),
            ms(clone),
            ratio(sync, clone),
            verdict(ratio_value <= 1.0)
        ));
    }

    line(format!(
        "\n## Real-sized warm no-op sync (the 6-repository host; median of {} runs)\n",
        runs.max(3)
    ));
    line("| no-op sync | cargo metadata --offline | ratio | target ≤ 0.25× | files written |".into());
    line("|---|---|---|---|---|".into());
    {
        let (_, _, repos) = &sets[1];
        let root = host(dir, "real-warm", repos)?;
        let cache = dir.join("real-warm-cache");
        run(&mut sync_command(&root, &cache)?)?;
        let lock = root.join("plugins.lock");
        let before = std::fs::metadata(&lock)?.modified()?;
        let noop = timed(runs.max(3), || sync_command(&root, &cache))?;
        let written = if std::fs::metadata(&lock)?.modified()? == before {
            "none"
        } else {
            "plugins.lock!"
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let metadata = timed(runs.max(3), || {
            let mut command = Command::new(&cargo);
            command
                .args(["metadata", "--offline", "--format-version", "1", "--manifest-path"])
                .arg(root.join("Cargo.toml"));
            Ok(command)
        })?;
        let value = noop.as_secs_f64() / metadata.as_secs_f64();
        line(format!(
            "| {} | {} | {} | {} | {written} |",
            ms(noop),
            ms(metadata),
            ratio(noop, metadata),
            verdict(value <= 0.25)
        ));
    }

    let many = if options.quick { 12 } else { 500 };
    line(format!("\n## Scale: {many} plugins, cold\n"));
    line("| plugins | --jobs | cold sync | peak memory | target ≤ 100 MiB |".into());
    line("|---|---|---|---|---|".into());
    {
        let repos: Vec<PathBuf> = (0..many)
            .map(|i| fixture(dir, i, 10))
            .collect::<Result<_, _>>()?;
        let root = host(dir, "scale", &repos)?;
        let cache = dir.join("scale-cache");
        let _ = std::fs::remove_dir_all(&cache);
        let _ = Command::new("sync").status();
        let start = Instant::now();
        #[cfg(unix)]
        let peak = peak_memory(&mut sync_command(&root, &cache)?)?;
        #[cfg(not(unix))]
        let peak = {
            run(&mut sync_command(&root, &cache)?)?;
            0
        };
        let took = start.elapsed();
        let jobs = std::thread::available_parallelism()
            .map_or(2, std::num::NonZero::get)
            .saturating_mul(2)
            .min(8);
        line(format!(
            "| {many} | {jobs} (default) | {} | {} MiB | {} |",
            ms(took),
            peak / 1024,
            verdict(peak / 1024 <= 100)
        ));
    }

    line("\n## Registry build, 1,000 registrations\n".into());
    line("| Registry::build | inventory walk | lookup | target ≤ 100 µs |".into());
    line("|---|---|---|---|".into());
    let registry = registry_figures(options.quick)?;
    line(format!(
        "| {:.1} µs | {:.2} µs | {:.0} ns | {} |",
        registry.build_us,
        registry.walk_us,
        registry.lookup_ns,
        verdict(registry.build_us <= 100.0)
    ));
    Ok(())
}

struct RegistryFigures {
    build_us: f64,
    walk_us: f64,
    lookup_ns: f64,
}

/// Runs plugin-api's registry benchmark (optimised, as `cargo bench` builds
/// it) and reads its figures.
fn registry_figures(quick: bool) -> anyhow::Result<RegistryFigures> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(repo_root())
        .args(["bench", "--quiet", "--offline", "-p", "plugin-api", "--bench", "registry"]);
    if quick {
        command.env("REGISTRY_BENCH_QUICK", "1");
    }
    let output = run(&mut command)?;
    let figure = |label: &str| -> anyhow::Result<Duration> {
        let line = output
            .lines()
            .find(|l| l.starts_with(label))
            .with_context(|| format!("no `{label}` in the registry benchmark's output:\n{output}"))?;
        let value = line
            .get(label.len()..)
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default();
        parse_duration(value).with_context(|| format!("cannot read `{value}` in `{line}`"))
    };
    Ok(RegistryFigures {
        build_us: figure("Registry::build (linked), 1000")?.as_secs_f64() * 1e6,
        walk_us: figure("inventory::iter walk, 1000 registrations")?.as_secs_f64() * 1e6,
        lookup_ns: figure("lookup by id (per lookup, 1000 plugins)")?.as_secs_f64() * 1e9,
    })
}

/// `Duration`'s Debug form (`12.34µs`, `5.6ms`, `789ns`, `1.2s`).
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}
