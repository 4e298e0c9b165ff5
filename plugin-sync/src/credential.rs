//! Credentials for https fetches, asked of the user's git through the git
//! credential protocol: `git credential fill` runs the configured
//! credential helpers (`credential.helper`, `credential.<url>.*`), then
//! `GIT_ASKPASS`/`core.askPass`/`SSH_ASKPASS`, then a terminal prompt when
//! there is a terminal; `approve` and `reject` tell the helpers whether the
//! answer worked.
//!
//! Only `git credential` reads the user's git configuration, and it only
//! answers with a user name and password: no other git setting changes what
//! sync fetches (which is pinned by commit and checksum anyway). Secrets
//! returned are registered with [`crate::secret`], so nothing printed shows
//! them.

use anyhow::{Context as _, bail};

use crate::secret;

/// A user name and password from `git credential fill`, with the
/// description of the credential to hand back to `approve`/`reject`.
pub struct Answer {
    pub username: String,
    pub password: String,
    /// `fill`'s output, fed to `approve` or `reject`.
    description: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answer(***)")
    }
}

/// Asks git for credentials for `url` (without userinfo), as user
/// `username` when one is known.
pub fn fill(url: &str, username: Option<&str>) -> anyhow::Result<Answer> {
    let mut input = format!("url={url}\n");
    if let Some(user) = username.filter(|u| !u.is_empty()) {
        input.push_str(&format!("username={user}\n"));
    }
    if input.contains('\0') || url.contains('\n') {
        bail!("the URL cannot be passed to git's credential helpers");
    }
    input.push('\n');
    let output = git_credential("fill", input.as_bytes())?;
    let text = String::from_utf8(output)
        .context("git's credential helpers answered with something that is not UTF-8")?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        bail!("git's credential helpers answered without a user name and password");
    };
    secret::register(&password);
    Ok(Answer {
        username,
        password,
        description: text.into_bytes(),
    })
}

/// Tells the helpers that `answer` worked (they may store it).
pub fn approve(answer: &Answer) -> anyhow::Result<()> {
    git_credential("approve", &answer.description).map(drop)
}

/// Tells the helpers that `answer` was refused (they should forget it).
pub fn reject(answer: &Answer) -> anyhow::Result<()> {
    git_credential("reject", &answer.description).map(drop)
}

/// Runs `git credential <action>` with `input`; its stdout on success, its
/// own words (redacted) on failure.
fn git_credential(action: &str, input: &[u8]) -> anyhow::Result<Vec<u8>> {
    let output = crate::process::output_with_input(
        crate::process::git().args(["credential", action]),
        input,
    )
    .context("failed to run `git credential` (is git on PATH?)")?;
    if !output.status.success() {
        let words = crate::process::words(&output.stderr);
        bail!(
            "`git credential {action}` failed ({}){}{}",
            output.status,
            if words.is_empty() { "" } else { ": " },
            words
        );
    }
    Ok(output.stdout)
}
