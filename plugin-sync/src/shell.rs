//! The one writer of what the tool prints, as cargo's `Shell` is: every
//! line — status, warnings, errors with their causes, progress, JSON, the
//! lint, verify and list reports — goes to stdout or stderr through here,
//! and so through [`crate::secret::redact`]: registered secrets become
//! `***`, URLs lose their credentials, control characters are escaped. The
//! modules print with [`outln!`] and [`errln!`] (`println!`/`eprintln!`
//! with the redactor in them); a tidy test keeps every other way out.

use std::io::Write as _;

/// Writes `text` and a newline to stdout, redacted.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not the tool's failure.
    let _ = writeln!(stdout, "{}", crate::secret::redact(text));
}

/// Writes `text` and a newline to stderr, redacted.
pub fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", crate::secret::redact(text));
}

/// `println!` through the redactor.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::shell::out(&format!($($arg)*))
    };
}

/// `eprintln!` through the redactor.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::shell::err(&format!($($arg)*))
    };
}

/// `error: …` and its causes, as cargo prints them.
pub fn error(error: &anyhow::Error) {
    err(&format!("error: {error}"));
    for cause in error.chain().skip(1) {
        err(&format!("\nCaused by:\n  {cause}"));
    }
}

#[cfg(test)]
mod tests {
    /// Nothing is printed but through this module: no `println!`,
    /// `eprintln!`, `print!`, `eprint!` or direct stdout/stderr writes in
    /// any other (text inside raw strings and `quote!` is generated code,
    /// not the tool's output).
    #[test]
    fn nothing_prints_around_the_shell() {
        let mut offenders = Vec::new();
        for (path, text) in crate::engine_sources() {
            if path.ends_with("shell.rs") || path.ends_with("main.rs") {
                continue;
            }
            // Raw strings hold generated code.
            let mut code = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("r#\"") {
                code.push_str(&rest[..start]);
                rest = rest[start + 3..]
                    .split_once("\"#")
                    .map_or("", |(_, after)| after);
            }
            code.push_str(rest);
            for (n, line) in code.lines().enumerate() {
                let prints = ["println!(", "print!(", "io::stdout()", "io::stderr()"]
                    .iter()
                    .any(|p| line.contains(p));
                let detects_terminal = line.contains("is_terminal()");
                if prints && !detects_terminal && !line.contains("quote!") {
                    offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "printed around the shell: {offenders:#?}"
        );
    }
}
