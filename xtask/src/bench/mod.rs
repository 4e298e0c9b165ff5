//! `cargo xtask bench [--quick]`: sync measured side by side with `cargo
//! fetch` and a `git clone --depth 1` loop, on fixture repositories this
//! harness generates itself (deterministic content, never downloaded), and
//! how the cost grows with the number of plugins and the length of their
//! histories. Prints a Markdown report; BENCHMARKS.md records one.
//!
//! Layered without cycles: `sections` (what the report holds) uses
//! `measure` (timings), `fixtures` and `real` (repositories and hosts) and
//! `report` (Markdown); `measure` uses `fixtures`, which uses `real`.
//! `fleet` (the CI-fleet section: builds through sccache) uses `fixtures`,
//! `measure` and `report`; `growth` (cost by number of plugins) too, and
//! `sections` uses its record of what a no-op wrote.

mod fixtures;
mod fleet;
mod growth;
mod measure;
mod real;
mod report;
mod sections;

use std::path::PathBuf;

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
    /// Run one section only: cold, pool, warm, history, rebuild, memory,
    /// real, growth, registry or fleet
    #[arg(long, value_name = "SECTION")]
    only: Option<String>,
}

/// Runs `cargo xtask bench …` (the first argument is `bench`).
pub fn main() -> std::process::ExitCode {
    use clap::Parser as _;
    let cli = Cli::parse_from(std::env::args_os().skip(1));
    let dir = cli
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("static-plugins-bench"));
    match bench(&dir, cli.quick, cli.only.as_deref()) {
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

/// How much each section measures.
#[derive(Debug)]
struct Sizes {
    quick: bool,
    cold: Vec<usize>,
    warm: Vec<usize>,
    histories: [usize; 2],
    memory: usize,
    runs: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                quick,
                cold: vec![1, 2],
                warm: vec![2],
                histories: [10, 50],
                memory: 2,
                runs: 1,
            }
        } else {
            Sizes {
                quick,
                cold: vec![1, 10, 50],
                warm: vec![10, 100],
                histories: [10, 10_000],
                memory: 50,
                runs: 5,
            }
        }
    }
}

/// The whole report (or its section `only`), fixtures kept in `dir` (made
/// when missing).
fn bench(dir: &std::path::Path, quick: bool, only: Option<&str>) -> anyhow::Result<String> {
    type Section<'a> = &'a dyn Fn(&mut report::Report) -> anyhow::Result<()>;
    let sizes = Sizes::new(quick);
    std::fs::create_dir_all(dir)?;
    let dir = &dir.canonicalize()?;
    let sections: [(&str, Section<'_>); 10] = [
        ("cold", &|r| sections::cold(r, dir, &sizes)),
        ("pool", &|r| sections::pool(r, dir, &sizes)),
        ("warm", &|r| sections::warm(r, dir, &sizes)),
        ("history", &|r| sections::history(r, dir, &sizes)),
        ("rebuild", &|r| sections::rebuild(r, dir)),
        ("memory", &|r| sections::memory(r, dir, &sizes)),
        ("real", &|r| sections::real_sized(r, dir, &sizes)),
        ("growth", &|r| growth::growth(r, dir, &sizes)),
        ("registry", &|r| sections::registry(r, quick)),
        ("fleet", &|r| fleet::fleet(r, dir, quick)),
    ];
    if let Some(only) = only
        && !sections.iter().any(|(name, _)| *name == only)
    {
        anyhow::bail!("no section `{only}` in the benchmark");
    }
    let mut report = report::Report::default();
    for (name, section) in sections {
        if only.is_none_or(|only| only == name) {
            section(&mut report)?;
        }
    }
    Ok(report.finish())
}
