//! The benchmark's Markdown report: lines, tables, figures and verdicts.

use std::time::Duration;

/// The report being written.
#[derive(Debug, Default)]
pub struct Report {
    text: String,
}

impl Report {
    pub fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// A section heading, preceded by a blank line.
    pub fn section(&mut self, title: impl AsRef<str>) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.line(format!("## {}\n", title.as_ref()));
    }

    /// A table's header row and its separator.
    pub fn table(&mut self, columns: &[&str]) {
        self.line(format!("| {} |", columns.join(" | ")));
        self.line(format!("|{}", "---|".repeat(columns.len())));
    }

    /// One table row.
    pub fn row(&mut self, cells: &[String]) {
        self.line(format!("| {} |", cells.join(" | ")));
    }

    pub fn finish(self) -> String {
        self.text
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A median and its spread: `12.3 ms (11.9–13.0)`, `digits` decimals in
/// the spread.
pub fn ms_spread((median, min, max): (Duration, Duration, Duration), digits: usize) -> String {
    format!(
        "{} ({:.digits$}–{:.digits$})",
        ms(median),
        min.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    )
}

pub fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
}

/// Whether a figure meets its target.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_markdown() {
        let mut report = Report::default();
        report.section("Cold");
        report.table(&["N", "sync"]);
        report.row(&["1".into(), ms(Duration::from_micros(1500))]);
        report.section("Warm");
        assert_eq!(
            report.finish(),
            "## Cold\n\n| N | sync |\n|---|---|\n| 1 | 1.5 ms |\n\n## Warm\n\n"
        );
        assert_eq!(
            ratio(Duration::from_secs(1), Duration::from_secs(4)),
            "0.25×"
        );
    }
}
