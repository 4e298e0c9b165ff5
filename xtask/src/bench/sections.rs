//! The report's sections, in order: each measures one thing and writes
//! its table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bench::Sizes;
use crate::bench::fixtures::{declare, fixture, fixtures, host};
use crate::bench::growth::{mtimes, written};
use crate::bench::measure::{
    cargo_fetch, cold_sync, count_compiled, git_loop, median, metadata_command, once, peak_memory,
    registry_figures, spread, status_command, status_index, sync_command, sync_parts, timed,
};
use crate::bench::real;
use crate::bench::report::{Report, ms, ms_spread, ratio, ratio_against, verdict};
use crate::process::{cargo, run};

/// Commits in each fixture of the cold-sync sections.
const HISTORY: usize = 1_000;

/// Cold sync against a shallow clone loop and `cargo fetch`.
pub fn cold(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    report.section(format!(
        "Cold sync (fixtures with {HISTORY} commits each; median of {} runs)",
        sizes.runs
    ));
    report.table(&[
        "N",
        "sync",
        "git clone --depth 1 loop",
        "cargo fetch",
        "sync / git",
        "sync / cargo",
    ]);
    for &n in &sizes.cold {
        let repos = fixtures(dir, n, HISTORY)?;
        let sync = cold_sync(dir, &repos, sizes.runs)?;
        let clone = git_loop(dir, &repos, sizes.runs)?;
        let fetch = cargo_fetch(dir, &repos, sizes.runs)?;
        report.row(&[
            n.to_string(),
            ms(sync),
            ms(clone),
            ms(fetch),
            ratio(sync, clone),
            ratio(sync, fetch),
        ]);
    }
    Ok(())
}

/// Cold sync of the largest cold size at each `--jobs`, interleaved so
/// every pool size sees the same machine.
pub fn pool(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let n = sizes.cold.last().copied().unwrap_or(1);
    report.section(format!(
        "Resolve pool size (cold sync of {n} plugins; median of {} runs)",
        sizes.runs
    ));
    report.table(&["--jobs", "cold sync", "against --jobs 8"]);
    let repos = fixtures(dir, n, HISTORY)?;
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
        report.row(&[jobs.to_string(), ms(*time), ratio(*time, eight)]);
    }
    Ok(())
}

/// A no-op sync of a synced host and `cargo metadata` of it, timed, and
/// what the no-ops wrote.
fn noop_and_metadata(
    root: &Path,
    cache: &Path,
    runs: usize,
) -> anyhow::Result<(Duration, Duration, String)> {
    run(&mut sync_command(root, cache)?)?;
    let before = mtimes(root)?;
    let noop = timed(runs, || sync_command(root, cache))?;
    let written = written(&before, root)?;
    let metadata = timed(runs, || Ok(metadata_command(root)))?;
    Ok((noop, metadata, written))
}

/// A no-op sync against `cargo metadata --offline`.
pub fn warm(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let runs = sizes.runs.max(3);
    report.section(format!("Warm no-op sync (median of {runs} runs)"));
    report.table(&[
        "N",
        "no-op sync",
        "cargo metadata --offline",
        "ratio",
        "files written",
    ]);
    for &n in &sizes.warm {
        let repos = fixtures(dir, n, 10)?;
        let root = host(dir, &format!("warm-{n}"), &repos)?;
        let cache = dir.join(format!("warm-cache-{n}"));
        let (noop, metadata, written) = noop_and_metadata(&root, &cache, runs)?;
        report.row(&[
            n.to_string(),
            ms(noop),
            ms(metadata),
            ratio(noop, metadata),
            written,
        ]);
    }
    Ok(())
}

/// One plugin with a short and a long history.
pub fn history(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    report.section(format!(
        "History size (one plugin; median of {} runs)",
        sizes.runs
    ));
    let [short, long] = sizes.histories;
    let short_time = cold_sync(dir, &[fixture(dir, 900, short)?], sizes.runs)?;
    let long_time = cold_sync(dir, &[fixture(dir, 901, long)?], sizes.runs)?;
    report.table(&[
        &format!("{short} commits"),
        &format!("{long} commits"),
        "ratio",
    ]);
    report.row(&[ms(short_time), ms(long_time), ratio(long_time, short_time)]);
    Ok(())
}

/// What `cargo build` compiles after a no-op sync and after adding a plugin.
pub fn rebuild(report: &mut Report, dir: &Path) -> anyhow::Result<()> {
    report.section("Rebuild cost");
    let repos = fixtures(dir, 2, 10)?;
    let root = host(dir, "rebuild", &repos)?;
    let cache = dir.join("rebuild-cache");
    let target = dir.join("target");
    let sync = || run(&mut sync_command(&root, &cache)?);
    let build = || -> anyhow::Result<Vec<String>> {
        let mut command = cargo();
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
    report.line(format!(
        "- after a no-op sync `cargo build` compiled {} crate(s){}",
        after_noop.len(),
        if after_noop.is_empty() {
            String::new()
        } else {
            format!(": {}", after_noop.join(", "))
        }
    ));
    report.line(format!(
        "- after adding one plugin it compiled {} crate(s): {}",
        after_add.len(),
        after_add.join(", ")
    ));
    Ok(())
}

/// The sync process's peak memory on a cold sync.
pub fn memory(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    report.section(format!(
        "Peak memory of a cold sync of {} plugins",
        sizes.memory
    ));
    let root = host(dir, "memory", &fixtures(dir, sizes.memory, HISTORY)?)?;
    let cache = dir.join("memory-cache");
    let _ = std::fs::remove_dir_all(&cache);
    report.line(format!(
        "- {} MiB (maximum resident set of the xtask process)",
        peak_memory(&mut sync_command(&root, &cache)?)? / 1024
    ));
    Ok(())
}

/// Issue 14's and 22's figures, each against its target: cold sync against
/// a serial shallow clone loop on real-sized repositories at three sizes,
/// and a warm no-op sync against `git status` and `cargo metadata`.
pub fn real_sized(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let scale = if sizes.quick {
        real::Scale::QUICK
    } else {
        real::Scale::FULL
    };
    let mono = real::monorepo(dir, &scale)?;
    let medium: Vec<PathBuf> = (0..4)
        .map(|i| real::medium(dir, i, &scale))
        .collect::<Result<_, _>>()?;
    let mut six = vec![mono.clone()];
    six.extend(medium.iter().take(3).cloned());
    six.extend(fixtures(dir, 2, 100)?);
    let big = if sizes.quick { 8 } else { 50 };
    let mut many = vec![mono.clone()];
    many.extend(medium.iter().cloned());
    many.extend(fixtures(dir, big - 5, 100)?);
    let sets = [
        (1, "the monorepo", vec![mono]),
        (6, "monorepo, 3 medium, 2 small", six.clone()),
        (big, "monorepo, 4 medium, the rest small", many),
    ];
    real_cold(report, dir, sizes, &scale, &sets)?;
    real_warm(report, dir, sizes, &six)
}

fn real_cold(
    report: &mut Report,
    dir: &Path,
    sizes: &Sizes,
    scale: &real::Scale,
    sets: &[(usize, &str, Vec<PathBuf>)],
) -> anyhow::Result<()> {
    report.section(format!(
        "Real-sized cold sync (issue 14; median of {} runs)",
        sizes.runs
    ));
    report.line(format!(
        "Fixtures (git fast-import, seeded): a monorepo of {} files, {:.1} MB in a nested tree, \
         {} commits, its plugin a small workspace member; medium repositories of {} files and {} \
         commits; small repositories of 3 files and 100 commits.\n",
        scale.mono_files,
        scale.mono_megabytes(),
        scale.mono_commits,
        scale.medium_files,
        scale.medium_commits,
    ));
    report.table(&[
        "N",
        "repositories",
        "sync",
        "git clone --depth 1 loop",
        "sync / git",
        "target ≤ 1.00×",
    ]);
    for (n, what, repos) in sets {
        // Alternated, one sync then one clone loop: on this kind of VM the
        // cost of creating files depends on how many were deleted in the
        // seconds before, so each side must follow the same history.
        let (mut syncs, mut clones) = (Vec::new(), Vec::new());
        for _ in 0..sizes.runs {
            syncs.push(cold_sync(dir, repos, 1)?);
            clones.push(git_loop(dir, repos, 1)?);
        }
        let (sync, clone) = (median(syncs), median(clones));
        report.row(&[
            n.to_string(),
            (*what).to_owned(),
            ms(sync),
            ms(clone),
            ratio_against(sync, clone, 1.0),
            verdict(sync <= clone).to_owned(),
        ]);
    }
    Ok(())
}

fn real_warm(
    report: &mut Report,
    dir: &Path,
    sizes: &Sizes,
    repos: &[PathBuf],
) -> anyhow::Result<()> {
    let runs = if sizes.quick { 3 } else { 15 };
    report.section(format!(
        "Real-sized warm no-op sync (the 6-repository host; median and spread of {runs} runs, \
         alternated)"
    ));
    report.line(
        "Against `git status` over the same `plugin-sources/` (a git index of the copies, kept \
         outside them: one stat per file, from several threads, as the no-op does) and `cargo \
         metadata --offline` of the host.\n",
    );
    report.table(&[
        "no-op sync",
        "git status",
        "cargo metadata --offline",
        "sync / git status",
        "target ≤ 1.50×",
        "sync / cargo metadata",
        "target ≤ 0.25×",
        "files written",
    ]);
    let root = host(dir, "real-warm", repos)?;
    let cache = dir.join("real-warm-cache");
    run(&mut sync_command(&root, &cache)?)?;
    let git_dir = dir.join("real-warm-status.git");
    status_index(&git_dir, &root)?;
    let sources = root.join("plugin-sources");
    let before = mtimes(&root)?;
    let (mut noop, mut status, mut metadata) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        noop.push(once(&mut sync_command(&root, &cache)?)?);
        status.push(once(
            status_command(&git_dir, &sources).args(["status", "--porcelain"]),
        )?);
        metadata.push(once(&mut metadata_command(&root))?);
    }
    let written = written(&before, &root)?;
    let [noop, status, metadata] = [noop, status, metadata].map(|t| spread(&t));
    let cell = |spread| ms_spread(spread, 1);
    report.row(&[
        cell(noop),
        cell(status),
        cell(metadata),
        ratio_against(noop.0, status.0, 1.5),
        verdict(noop.0.as_secs_f64() <= 1.5 * status.0.as_secs_f64()).to_owned(),
        ratio_against(noop.0, metadata.0, 0.25),
        verdict(noop.0.as_secs_f64() <= 0.25 * metadata.0.as_secs_f64()).to_owned(),
        written,
    ]);
    let parts = sync_parts(&root, &cache, runs)?;
    report.line(format!(
        "\nWhere a no-op's time goes (median of {runs} runs each): {}.",
        parts
            .iter()
            .map(|(part, time)| format!("{part} {}", ms(*time)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// plugin-api's registry benchmark (`cargo bench -p plugin-api --bench
/// registry`), optimised.
pub fn registry(report: &mut Report, quick: bool) -> anyhow::Result<()> {
    report.section("Registry build, 1,000 registrations");
    report.table(&[
        "Registry::build",
        "inventory walk",
        "lookup",
        "target ≤ 100 µs",
    ]);
    let registry = registry_figures(quick)?;
    report.row(&[
        format!("{:.1} µs", registry.build_us),
        format!("{:.2} µs", registry.walk_us),
        format!("{:.0} ns", registry.lookup_ns),
        verdict(registry.build_us <= 100.0).to_owned(),
    ]);
    Ok(())
}
