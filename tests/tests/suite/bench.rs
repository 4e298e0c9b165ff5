//! The benchmark harness runs, in its reduced form, so it cannot rot. This
//! asserts that every measurement ran and produced a figure, not how fast.

use e2e::{expect_success, stdout};

#[test]
fn the_benchmark_harness_runs_every_measurement() {
    let dir = std::env::temp_dir().join("static-plugins-bench-quick");
    let mut command = e2e::tool();
    command
        .current_dir(e2e::repo_root())
        .args(["bench", "--quick", "--dir"])
        .arg(&dir);
    let report = stdout(&expect_success(&mut command));
    // The CI-fleet section: built through sccache where it is installed,
    // else skipped saying how to install it.
    let sccache = std::process::Command::new("sccache")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        report.contains("## CI fleet: every plugin compiled once"),
        "{report}"
    );
    if sccache {
        for build in [
            "| dev | A (cold cache) |",
            "| dev | B, same paths |",
            "| dev | B, other paths |",
        ] {
            assert!(report.contains(build), "{build} missing from\n{report}");
        }
        assert!(
            report.contains("- dev, B at the same paths: every plugin a hit: "),
            "{report}"
        );
    } else {
        assert!(
            report
                .contains("- skipped: sccache is not installed (`cargo install sccache --locked`"),
            "{report}"
        );
    }
    for section in [
        "## Cold sync",
        "## Warm no-op sync",
        "## History size",
        "## Resolve pool size",
        "## Rebuild cost",
        "## Peak memory",
        "## Registry",
    ] {
        assert!(report.contains(section), "{section} missing from\n{report}");
    }
    // One row per size, each with figures.
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("| 1 | ") && l.contains(" ms |")),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("| 2 | ") && l.ends_with("| none |")),
        "{report}"
    );
    assert!(
        report.contains("after a no-op sync `cargo build` compiled 0 crate(s)"),
        "{report}"
    );
    assert!(
        report.contains("after adding one plugin it compiled 3 crate(s): "),
        "{report}"
    );
    assert!(report.contains(" MiB (maximum resident set"), "{report}");
    // Issue 14's figures, each produced and judged against its target.
    for section in [
        "## Real-sized cold sync",
        "## Real-sized warm no-op sync",
        "## Growth: cold and no-op sync by number of plugins",
        "## Registry build, 1,000 registrations",
    ] {
        assert!(report.contains(section), "{section} missing from\n{report}");
    }
    let verdicts = |prefix: &str| {
        report
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter(|l| {
                l.ends_with("| met |")
                    || l.ends_with("| missed |")
                    || l.contains("| met | ")
                    || l.contains("| missed | ")
            })
            .count()
    };
    for n in [
        "| 1 | the monorepo |",
        "| 6 | monorepo, 3 medium, 2 small |",
        "| 8 | monorepo, 4 medium",
    ] {
        assert_eq!(verdicts(n), 1, "{n}: {report}");
    }
    // Issue 22's growth table: a row per size, cold and no-op figures,
    // the no-op writing nothing; three verdicts.
    for plugins in [1, 2, 4] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("| {plugins} | "))
                    && l.matches(" MiB) |").count() == 2
                    && l.ends_with("| none |")),
            "growth at {plugins}: {report}"
        );
    }
    for verdict in [
        "- cold sync, cost per plugin at 4 against 1: ",
        "- no-op sync, cost per plugin at 4 against 1: ",
    ] {
        assert!(
            report.lines().any(
                |l| l.starts_with(verdict) && (l.ends_with(": met") || l.ends_with(": missed"))
            ),
            "{verdict}: {report}"
        );
    }
    assert!(
        report.lines().any(
            |l| l.starts_with("- peak memory of the sync process at 4 plugins: ")
                && (l.contains("): met; with the `cargo metadata` it runs: ")
                    || l.contains("): missed; with the `cargo metadata` it runs: "))
        ),
        "{report}"
    );
    assert!(
        report.lines().any(|l| l.contains(" µs | ")
            && l.contains(" ns | ")
            && (l.ends_with("| met |") || l.ends_with("| missed |"))),
        "{report}"
    );
    // The real-sized no-op: against git status and cargo metadata, each
    // judged, nothing written; and where its time goes.
    assert!(
        report.lines().any(|l| l.ends_with("| none |")
            && l.matches("× | met |").count() + l.matches("× | missed |").count() == 2),
        "the real-sized no-op sync wrote nothing and was judged twice: {report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("Where a no-op's time goes")
                && [
                    "load ",
                    "resolve ",
                    "plan ",
                    "apply ",
                    "process start and exit "
                ]
                .iter()
                .all(|part| l.contains(part))),
        "{report}"
    );
    for jobs in [1, 2, 4, 8, 16] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("| {jobs} | ")) && l.ends_with("× |")),
            "pool size {jobs}: {report}"
        );
    }
}
