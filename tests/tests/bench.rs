//! The benchmark harness runs, in its reduced form, so it cannot rot. This
//! asserts that every measurement ran and produced a figure, not how fast.

use e2e::{expect_success, stdout};

#[test]
fn the_benchmark_harness_runs_every_measurement() {
    let dir = std::env::temp_dir().join("static-plugins-bench-quick");
    let mut command = std::process::Command::new(e2e::xtask_bin());
    e2e::hermetic_git(&mut command)
        .current_dir(e2e::repo_root())
        .args(["bench", "--quick", "--dir"])
        .arg(&dir);
    let report = stdout(&expect_success(&mut command));
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
    for jobs in [1, 2, 4, 8, 16] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("| {jobs} | ")) && l.ends_with("× |")),
            "pool size {jobs}: {report}"
        );
    }
}
