//! What the benchmark times: sync and what it is compared with (a shallow
//! `git clone` loop, `cargo fetch`, `cargo metadata`), medians of runs,
//! peak memory, and the registry benchmark's figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::bench::fixtures::{git_dependencies, host};
use crate::process::{cargo, git, repo_root, run};

/// `xtask sync --quiet` of the host at `root` with cache `cache`.
pub fn sync_command(root: &Path, cache: &Path) -> anyhow::Result<Command> {
    let mut command = Command::new(std::env::current_exe().context("no current executable")?);
    command
        .env("PLUGIN_CACHE_DIR", cache)
        .args(["sync", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    Ok(command)
}

/// `cargo metadata --offline` of the host at `root`.
pub fn metadata_command(root: &Path) -> Command {
    let mut command = cargo();
    command
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"));
    command
}

pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// The median of `runs` runs of the command `prepare` makes (preparing is
/// not timed).
pub fn timed(
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
pub fn cold_sync(dir: &Path, repos: &[PathBuf], runs: usize) -> anyhow::Result<Duration> {
    let cache = dir.join("cold-cache");
    timed(runs, || {
        let root = host(dir, "cold", repos)?;
        let _ = std::fs::remove_dir_all(&cache);
        sync_command(&root, &cache)
    })
}

/// `git clone --depth 1 --branch v1` of each repository, one after another.
pub fn git_loop(dir: &Path, repos: &[PathBuf], runs: usize) -> anyhow::Result<Duration> {
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
pub fn cargo_fetch(dir: &Path, repos: &[PathBuf], runs: usize) -> anyhow::Result<Duration> {
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
    timed(runs, || {
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(real_home.join("registry"), home.join("registry"))?;
        std::fs::copy(repo_root().join("Cargo.lock"), project.join("Cargo.lock"))?;
        let mut command = cargo();
        command
            .current_dir(&project)
            .env("CARGO_HOME", &home)
            .env("CARGO_NET_OFFLINE", "false")
            .args(["fetch", "--quiet"]);
        Ok(command)
    })
}

/// Peak resident memory of one run of `command`, in KiB.
pub fn peak_memory(command: &mut Command) -> anyhow::Result<u64> {
    Ok(timed_peak(command)?.1)
}

/// How long one run of `command` took, the peak resident memory of the
/// process and the children it waited for (cargo, for a sync) in KiB, and
/// its stderr; an error if it failed.
#[cfg(unix)]
pub fn timed_peak(command: &mut Command) -> anyhow::Result<(Duration, u64, String)> {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr)?;
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data, filled by the kernel for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for the child we spawned and own; no other wait races it.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    if waited != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let status = std::process::ExitStatus::from_raw(status);
    if !status.success() {
        bail!("{command:?} failed ({status}):\n{stderr}");
    }
    Ok((took, u64::try_from(usage.ru_maxrss).unwrap_or(0), stderr))
}

/// Where memory cannot be measured: the command is timed, 0 KiB.
#[cfg(not(unix))]
pub fn timed_peak(command: &mut Command) -> anyhow::Result<(Duration, u64, String)> {
    let start = Instant::now();
    let output = run(command)?;
    Ok((start.elapsed(), 0, output))
}

/// One timed sync (`command`, made by [`sync_command`]): its wall time, the
/// peak resident memory of the sync process itself (as it reports it) and
/// with cargo, which it runs, in KiB.
pub fn sync_peaks(command: &mut Command) -> anyhow::Result<(Duration, u64, u64)> {
    command.env("__PLUGIN_SYNC_TIMINGS", "1");
    let (took, with_children, stderr) = timed_peak(command)?;
    let own = stderr
        .lines()
        .find_map(|l| l.strip_prefix("memory: peak "))
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or(with_children);
    Ok((took, own, with_children))
}

/// How long one run of `command` took; an error if it failed.
pub fn once(command: &mut Command) -> anyhow::Result<Duration> {
    let start = Instant::now();
    run(command)?;
    Ok(start.elapsed())
}

/// A git index of the host's `plugin-sources/`, kept outside it (in
/// `git_dir`), committed: what `git status` needs to check the same files
/// a no-op sync checks, one stat each.
pub fn status_index(git_dir: &Path, root: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(git_dir);
    let sources = root.join("plugin-sources");
    for args in [
        &["init", "--quiet"][..],
        // `-f`: plugin-sources/.gitignore ignores everything.
        &["add", "--force", "--all", "."],
        &["commit", "--quiet", "--message", "the copies"],
    ] {
        run(status_command(git_dir, &sources).args(args))?;
    }
    Ok(())
}

/// `git` over the work tree `sources` with the repository `git_dir`.
pub fn status_command(git_dir: &Path, sources: &Path) -> Command {
    let mut command = git(sources);
    command
        .env("GIT_DIR", git_dir)
        .env("GIT_WORK_TREE", sources);
    command
}

/// The parts of a sync as it reports them (`__PLUGIN_SYNC_TIMINGS`), each
/// the median of `runs` runs, then the rest of the process's wall time
/// (start, exit): `(part, time)`.
pub fn sync_parts(
    root: &Path,
    cache: &Path,
    runs: usize,
) -> anyhow::Result<Vec<(String, Duration)>> {
    let mut parts: Vec<(String, Vec<Duration>)> = Vec::new();
    let mut rest = Vec::new();
    for _ in 0..runs {
        let mut command = sync_command(root, cache)?;
        command.env("__PLUGIN_SYNC_TIMINGS", "1");
        let start = Instant::now();
        let output = run(&mut command)?;
        let wall = start.elapsed();
        let mut sum = Duration::ZERO;
        for line in output.lines() {
            let Some((part, micros)) = line
                .strip_prefix("timing: ")
                .and_then(|l| l.split_once(' '))
            else {
                continue;
            };
            let took = Duration::from_micros(micros.parse().context("a timing in µs")?);
            sum += took;
            match parts.iter_mut().find(|(p, _)| p == part) {
                Some((_, times)) => times.push(took),
                None => parts.push((part.to_owned(), vec![took])),
            }
        }
        if sum.is_zero() {
            bail!("sync reported no timings:\n{output}");
        }
        rest.push(wall.saturating_sub(sum));
    }
    parts.push(("process start and exit".to_owned(), rest));
    Ok(parts
        .into_iter()
        .map(|(part, times)| (part, median(times)))
        .collect())
}

/// The median of `times`, and their minimum and maximum.
pub fn spread(times: &[Duration]) -> (Duration, Duration, Duration) {
    let min = times.iter().min().copied().unwrap_or_default();
    let max = times.iter().max().copied().unwrap_or_default();
    (median(times.to_vec()), min, max)
}

/// The packages cargo's log says it compiled.
pub fn count_compiled(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.trim_start().strip_prefix("Compiling "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

#[derive(Debug)]
pub struct RegistryFigures {
    pub build_us: f64,
    pub walk_us: f64,
    pub lookup_ns: f64,
}

/// Runs plugin-api's registry benchmark (optimised, as `cargo bench` builds
/// it) and reads its figures.
pub fn registry_figures(quick: bool) -> anyhow::Result<RegistryFigures> {
    let mut command = cargo();
    command.current_dir(repo_root()).args([
        "bench",
        "--quiet",
        "--offline",
        "-p",
        "static-plugins-api",
        "--bench",
        "registry",
    ]);
    if quick {
        command.env("REGISTRY_BENCH_QUICK", "1");
    }
    let output = run(&mut command)?;
    let figure = |label: &str| -> anyhow::Result<Duration> {
        let line = output
            .lines()
            .find(|l| l.starts_with(label))
            .with_context(|| {
                format!("no `{label}` in the registry benchmark's output:\n{output}")
            })?;
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
    let (number, unit) = text.split_at_checked(split)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_debug_prints_them() {
        for d in [
            Duration::from_nanos(789),
            Duration::from_nanos(12_340),
            Duration::from_micros(5_600),
            Duration::from_millis(1_200),
        ] {
            let read = parse_duration(&format!("{d:?}")).expect("a duration");
            assert!(
                read.abs_diff(d) <= Duration::from_nanos(1),
                "{d:?} read as {read:?}"
            );
        }
        assert_eq!(parse_duration("12 parsecs"), None);
        assert_eq!(median(vec![]), Duration::ZERO);
    }
}
