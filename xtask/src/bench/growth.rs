//! How sync's cost grows with the number of plugins: cold and no-op syncs
//! of 1 to 2,000 small plugins, their time and peak memory, each judged
//! against linear growth.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::bench::Sizes;
use crate::bench::fixtures::{fixtures, host};
use crate::bench::measure::{spread, sync_command, sync_peaks};
use crate::bench::report::{Report, against, ms_spread, verdict};

/// Peak memory allowed at the largest size, in MiB.
const MAX_PEAK_MIB: u64 = 150;

/// How much the cost per plugin may grow from the middle size to the
/// largest.
const MAX_GROWTH: f64 = 1.2;

/// One size's figures: time (median, min, max) and peak memory in KiB of
/// the sync process itself and with cargo, cold and no-op.
struct Row {
    plugins: usize,
    cold: (Duration, Duration, Duration),
    cold_peak: Peak,
    noop: (Duration, Duration, Duration),
    noop_peak: Peak,
}

/// Peak resident memory in KiB: the sync process's own, and with the
/// children it waited for (cargo metadata, for the graph check).
#[derive(Clone, Copy, Default)]
struct Peak {
    own: u64,
    with_cargo: u64,
}

impl Peak {
    fn max(self, own: u64, with_cargo: u64) -> Peak {
        Peak {
            own: self.own.max(own),
            with_cargo: self.with_cargo.max(with_cargo),
        }
    }

    fn cell(self) -> String {
        format!("{} MiB ({} MiB)", self.own / 1024, self.with_cargo / 1024)
    }
}

pub fn growth(report: &mut Report, dir: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let (counts, runs, noops): (&[usize], usize, usize) = if sizes.quick {
        (&[1, 2, 4], 1, 1)
    } else {
        (&[1, 10, 100, 500, 2_000], 3, 5)
    };
    report.section(format!(
        "Growth: cold and no-op sync by number of plugins (median and spread of {runs} cold and \
         {noops} no-op runs)"
    ));
    report.line(
        "Small plugins (3 files, 10 commits each), default `--jobs`. Peak memory: the largest \
         resident set of the sync process over the runs, and in brackets of it with the \
         `cargo metadata` it runs for the graph check. Each cold run has a host and cache of \
         its own, all removed after the section: removing tens of thousands of files just \
         before a run makes ext4 slower to create them (`recently_deleted`), which would \
         measure the benchmark, not sync.\n",
    );
    report.table(&[
        "plugins",
        "cold sync",
        "per plugin",
        "peak memory",
        "no-op sync",
        "per plugin",
        "peak memory",
        "no-op wrote",
    ]);
    let scratch = dir.join("growth");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut rows = Vec::new();
    for &plugins in counts {
        rows.push(measure(dir, &scratch, plugins, (runs, noops), report)?);
    }
    std::fs::remove_dir_all(&scratch)?;
    judge(report, &rows);
    Ok(())
}

/// Cold syncs (a fresh host and cache each, kept in `scratch`) and no-op
/// syncs of `plugins` plugins; writes the table's row.
fn measure(
    dir: &Path,
    scratch: &Path,
    plugins: usize,
    (runs, noops): (usize, usize),
    report: &mut Report,
) -> anyhow::Result<Row> {
    let repos = fixtures(dir, plugins, 10)?;
    let (mut root, mut cache) = (PathBuf::new(), PathBuf::new());
    let (mut cold, mut cold_peak) = (Vec::new(), Peak::default());
    for run in 0..runs {
        let host_dir = scratch.join(format!("{plugins}-{run}"));
        root = host(&host_dir, "host", &repos)?;
        cache = host_dir.join("cache");
        let _ = std::process::Command::new("sync").status();
        let (took, own, with_cargo) = sync_peaks(&mut sync_command(&root, &cache)?)?;
        cold.push(took);
        cold_peak = cold_peak.max(own, with_cargo);
    }
    let before = mtimes(&root)?;
    let (mut noop, mut noop_peak) = (Vec::new(), Peak::default());
    for _ in 0..noops {
        let (took, own, with_cargo) = sync_peaks(&mut sync_command(&root, &cache)?)?;
        noop.push(took);
        noop_peak = noop_peak.max(own, with_cargo);
    }
    let row = Row {
        plugins,
        cold: spread(&cold),
        cold_peak,
        noop: spread(&noop),
        noop_peak,
    };
    let cell = |spread| ms_spread(spread, 0);
    report.row(&[
        plugins.to_string(),
        cell(row.cold),
        per_plugin(row.cold.0, plugins),
        row.cold_peak.cell(),
        cell(row.noop),
        per_plugin(row.noop.0, plugins),
        row.noop_peak.cell(),
        written(&before, &root)?,
    ]);
    Ok(row)
}

fn per_plugin(time: Duration, plugins: usize) -> String {
    format!("{:.2} ms", time.as_secs_f64() * 1e3 / plugins.max(1) as f64)
}

/// The verdicts: the cost per plugin from the middle size to the largest
/// (linear growth keeps it flat or lower, the fixed costs spread), and the
/// sync process's peak memory at the largest (cargo's beside it).
fn judge(report: &mut Report, rows: &[Row]) {
    let (Some(largest), Some(middle)) = (
        rows.last(),
        rows.len().checked_sub(3).and_then(|i| rows.get(i)),
    ) else {
        return;
    };
    report.line("");
    let each = |row: &Row, time: Duration| time.as_secs_f64() / row.plugins.max(1) as f64;
    for (what, middle_time, largest_time) in [
        ("cold", middle.cold.0, largest.cold.0),
        ("no-op", middle.noop.0, largest.noop.0),
    ] {
        let growth = each(largest, largest_time) / each(middle, middle_time);
        report.line(format!(
            "- {what} sync, cost per plugin at {} against {}: {} (target ≤ \
             {MAX_GROWTH:.2}×, linear or better): {}",
            largest.plugins,
            middle.plugins,
            against(growth, MAX_GROWTH),
            verdict(growth <= MAX_GROWTH)
        ));
    }
    let own = largest.cold_peak.own.max(largest.noop_peak.own) / 1024;
    let with_cargo = largest
        .cold_peak
        .with_cargo
        .max(largest.noop_peak.with_cargo)
        / 1024;
    report.line(format!(
        "- peak memory of the sync process at {} plugins: {own} MiB (target ≤ {MAX_PEAK_MIB} \
         MiB): {}; with the `cargo metadata` it runs: {with_cargo} MiB",
        largest.plugins,
        verdict(own <= MAX_PEAK_MIB)
    ));
}

/// The mtime of every file under `root` but `target/`, by path.
pub fn mtimes(root: &Path) -> anyhow::Result<BTreeMap<PathBuf, SystemTime>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                if entry.file_name() != "target" {
                    walk(&entry.path(), out)?;
                }
            } else {
                out.insert(entry.path(), meta.modified()?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, &mut out)?;
    Ok(out)
}

/// What changed under `root` since `before` (files written, added or
/// removed): `none`, or how many and the first.
pub fn written(before: &BTreeMap<PathBuf, SystemTime>, root: &Path) -> anyhow::Result<String> {
    let after = mtimes(root)?;
    let mut changed = before
        .iter()
        .filter(|(path, mtime)| after.get(*path) != Some(mtime))
        .map(|(path, _)| path)
        .chain(after.keys().filter(|path| !before.contains_key(*path)));
    Ok(match changed.next() {
        None => "none".to_owned(),
        Some(first) => format!(
            "{}, {} more!",
            first.strip_prefix(root).unwrap_or(first).display(),
            changed.count()
        ),
    })
}
