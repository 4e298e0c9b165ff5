//! The one way out to other programs, as cargo's `GlobalContext` is: every
//! process the engine starts — git (fetch, credential helpers, lint's and
//! vendor's checks), cargo (builds, `cargo metadata`), rustc — is made here,
//! with one environment policy:
//!
//! - git never works on a repository the environment points at: the
//!   `GIT_*` variables that redirect one (`GIT_DIR`, `GIT_WORK_TREE`,
//!   `GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY`,
//!   `GIT_ALTERNATE_OBJECT_DIRECTORIES`, `GIT_NAMESPACE`) are removed, and
//!   it reads nothing from the tool's stdin unless a caller pipes it;
//!   everything else (the user's git configuration, `GIT_SSH_COMMAND`,
//!   `GIT_ASKPASS`, proxies) passes, as `git` itself would see it;
//! - cargo and rustc are `$CARGO`/`$RUSTC` when cargo set them (the tool
//!   runs as `cargo xtask`), else found on PATH, with the environment as is.
//!
//! What a program says on stderr reaches the user only through [`words`],
//! which redacts secrets and escapes control characters. A tidy test keeps
//! every other module from starting a process itself.

use std::process::{Command, Stdio};

use cargo_metadata::MetadataCommand;

/// Variables that would make git work on another repository than the one
/// the tool names.
const REDIRECTING: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// `git`, with the environment policy above; stdin is null.
pub fn git() -> Command {
    let mut command = Command::new("git");
    for var in REDIRECTING {
        command.env_remove(var);
    }
    command.stdin(Stdio::null());
    command
}

/// `cargo` (`$CARGO` when set).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `rustc` (`$RUSTC` when set).
pub fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// `cargo metadata`, through the same cargo.
pub fn metadata() -> MetadataCommand {
    let mut command = MetadataCommand::new();
    if let Some(cargo) = std::env::var_os("CARGO") {
        command.cargo_path(cargo);
    }
    command
}

/// Runs `command` with `input` on its stdin, collecting stdout and stderr.
/// The input is written from a thread: a program that answers before
/// reading all of it (a credential helper) must not deadlock the tool, and
/// one that exits without reading it breaks the pipe harmlessly (its exit
/// status says whether that mattered).
pub fn output_with_input(
    command: &mut Command,
    input: &[u8],
) -> std::io::Result<std::process::Output> {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input))
    });
    let output = child.wait_with_output();
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    output
}

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(format!("{program}{}", std::env::consts::EXE_SUFFIX));
        candidate.is_file()
    })
}

/// What a program wrote on stderr, as it may be shown: trimmed, secrets
/// redacted, control characters escaped.
pub fn words(stderr: &[u8]) -> String {
    crate::secret::redact(String::from_utf8_lossy(stderr).trim()).into_owned()
}

#[cfg(test)]
mod tests {
    /// No module but this one starts a process.
    #[test]
    fn every_process_starts_here() {
        let mut offenders = Vec::new();
        for (path, text) in crate::engine_sources() {
            if path.ends_with("process.rs") {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                if ["Command::new(", "MetadataCommand::new("]
                    .iter()
                    .any(|p| line.contains(p))
                {
                    offenders.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "processes started outside process.rs: {offenders:?}"
        );
    }
}
