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

/// `a / b` as [`against`] writes it.
pub fn ratio_against(a: Duration, b: Duration, target: f64) -> String {
    against(a.as_secs_f64() / b.as_secs_f64(), target)
}

/// A ratio judged against `target`: two decimals, or up to four where two
/// would read as the target itself for a figure on either side of it
/// (0.254× against 0.25× printed "0.25×" beside "missed").
pub fn against(value: f64, target: f64) -> String {
    let digits = (2..=4)
        .find(|&d| format!("{value:.d$}") != format!("{target:.d$}"))
        .unwrap_or(2);
    format!("{value:.digits$}×")
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

    #[test]
    fn a_ratio_next_to_its_target_shows_which_side_it_is_on() {
        let ms = Duration::from_millis;
        assert_eq!(ratio_against(ms(254), ms(1000), 0.25), "0.254×");
        assert_eq!(ratio_against(ms(246), ms(1000), 0.25), "0.246×");
        assert_eq!(ratio_against(ms(210), ms(1000), 0.25), "0.21×");
        assert_eq!(ratio_against(ms(250), ms(1000), 0.25), "0.25×");
        assert_eq!(against(1.2004, 1.2), "1.2004×");
        assert_eq!(against(1.46, 1.5), "1.46×");
    }
}
