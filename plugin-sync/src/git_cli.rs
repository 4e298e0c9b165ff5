//! Fetching with the `git` command line instead of gix
//! (`--git-fetch-with-cli`, or `PLUGIN_GIT_FETCH_WITH_CLI=true`), like
//! cargo's `net.git-fetch-with-cli`: for setups gix cannot handle (a
//! credential or proxy arrangement, an ssh setting only git knows).
//!
//! Only the fetch changes: git fetches into the same bare database, and the
//! commit it names is read, checked out, validated and checksummed by
//! [`crate::git`] exactly as after a gix fetch. git runs with the user's
//! whole configuration, as `git fetch` would; what it fetches is still
//! pinned by commit and checksum.
//!
//! Credentials in the URL are handed to git through the environment (a
//! one-line credential helper reads them), never on its command line, where
//! other users could read them. As with a URL that carries a password in
//! git itself, they are then the only credentials git tries.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, anyhow, bail};
use build_support::manifest::GitReference;

use crate::git::{self, Commit, Remote};

/// Environment variable that turns the command-line fetch on (`true`/`1`).
pub const ENV: &str = "PLUGIN_GIT_FETCH_WITH_CLI";

/// Whether the environment asks for the command-line fetch.
pub fn from_env() -> anyhow::Result<bool> {
    match std::env::var(ENV) {
        Err(std::env::VarError::NotPresent) => Ok(false),
        Ok(v) if v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false") => Ok(false),
        Ok(v) if v == "1" || v.eq_ignore_ascii_case("true") => Ok(true),
        _ => bail!("{ENV} must be `true` or `false`"),
    }
}

/// Environment variable: how many seconds a `git fetch` may receive
/// nothing over http(s) before it is abandoned (default 30).
pub const STALL_VAR: &str = "PLUGIN_GIT_STALL_TIMEOUT";

fn stall_timeout() -> anyhow::Result<u32> {
    match std::env::var(STALL_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(30),
        Ok(v) => parse_seconds(&v).with_context(|| {
            format!(
                "{STALL_VAR} must be a number of seconds, not `{}`",
                crate::secret::redact(&v)
            )
        }),
        Err(_) => bail!("{STALL_VAR} must be a number of seconds"),
    }
}

/// A positive whole number of seconds.
fn parse_seconds(text: &str) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|s| *s > 0)
}

/// The name the URL goes by in the fetch's configuration.
const REMOTE: &str = "plugin-sync-source";

const USER_VAR: &str = "PLUGIN_SYNC_GIT_USERNAME";
const PASSWORD_VAR: &str = "PLUGIN_SYNC_GIT_PASSWORD";

/// Fetches `reference` from `remote` into the bare database `db` with
/// `git fetch`, shallow first, and returns the commit it names.
pub fn fetch(
    db: &Path,
    remote: Remote<'_>,
    reference: &GitReference,
    depth: git::Depth,
) -> anyhow::Result<Commit> {
    if !crate::process::on_path("git") {
        bail!("--git-fetch-with-cli needs `git` on PATH");
    }
    git::init_db(db)?;
    let spec = git::refspec(reference);
    let tags = depth == git::Depth::HistoryAndTags;
    if depth != git::Depth::Shallow {
        run_fetch(db, remote, &spec, false, tags).map_err(|(_, e)| e)?;
    } else if let Err(shallow) = run_fetch(db, remote, &spec, true, false) {
        // Only a failure git did not explain is worth fetching deeper.
        let (false, shallow) = shallow else {
            return Err(shallow.1);
        };
        run_fetch(db, remote, &spec, false, false).map_err(|(_, deep)| {
            let error = deep.context(format!("a shallow fetch failed first: {shallow:#}"));
            match reference {
                GitReference::Rev(rev) => error.context(format!(
                    "the remote has no commit {rev} (or does not serve commits by id); check the \
                     rev, or declare a tag or branch that contains it"
                )),
                _ => error,
            }
        })?;
    }
    let name = match reference {
        GitReference::DefaultBranch => "refs/remotes/origin/HEAD".to_owned(),
        GitReference::Branch(b) => format!("refs/remotes/origin/{b}"),
        GitReference::Tag(t) => format!("refs/tags/{t}"),
        GitReference::Rev(r) => r.clone(),
    };
    let output = git(db)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{name}^{{commit}}"))
        .output()
        .context("failed to run `git rev-parse`")?;
    let commit = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || commit.len() != 40 {
        bail!("after `git fetch`, {reference} names no commit in the cache");
    }
    Ok(commit)
}

/// `git` working on the bare database `db`, whatever the environment says
/// about repositories.
fn git(db: &Path) -> Command {
    let mut command = crate::process::git();
    command.arg("--git-dir").arg(db);
    command
}

/// Runs `git fetch`; a failure says whether git's words explained it (then
/// it has the headline of its kind).
fn run_fetch(
    db: &Path,
    remote: Remote<'_>,
    spec: &str,
    shallow: bool,
    tags: bool,
) -> Result<(), (bool, anyhow::Error)> {
    let mut command = git(db);
    // No reflog, no FETCH_HEAD: nothing in the cache records the URL.
    command.args(["-c", "core.logAllRefUpdates=false"]);
    // A server that stops sending (or never starts) fails the fetch after
    // this long, as gix's client does, instead of hanging forever.
    let stall = stall_timeout().map_err(|e| (true, e))?;
    // Objects past the size a plugin's file may have are streamed, not
    // held in memory, while git indexes the pack; the tree check then
    // refuses them from their headers.
    command.args([
        "-c",
        &format!("core.bigFileThreshold={}", git::MAX_BLOB),
        "-c",
        "http.lowSpeedLimit=1",
        "-c",
        &format!("http.lowSpeedTime={stall}"),
    ]);
    if let Some(credentials) = remote.credentials {
        // The helper answers only for the URL's own origin (git matches
        // `credential.<url>.*` by scheme, host and port): after a redirect
        // to another host, git asks again for that host and gets nothing
        // from it. The user's helpers are reset, so the URL's credentials
        // are the only ones git tries for the origin.
        let scope = credential_scope(remote.url).ok_or_else(|| {
            (
                true,
                anyhow!(
                    "cannot tell the host of {} to scope its credentials",
                    remote.bare
                ),
            )
        })?;
        command
            .args([
                "-c",
                "credential.helper=",
                "-c",
                &format!(
                    "credential.{scope}.helper=!f() {{ test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"${USER_VAR}\" \"${PASSWORD_VAR}\"; }}; f"
                ),
            ])
            .env(USER_VAR, &credentials.username)
            .env(PASSWORD_VAR, &credentials.password);
    }
    // The URL may carry secrets in its query: it reaches git through the
    // environment (as a remote's configuration), never its command line.
    let index: usize = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    command
        .env("GIT_CONFIG_COUNT", (index + 1).to_string())
        .env(
            format!("GIT_CONFIG_KEY_{index}"),
            format!("remote.{REMOTE}.url"),
        )
        .env(format!("GIT_CONFIG_VALUE_{index}"), remote.url);
    command.args([
        "fetch",
        "--quiet",
        if tags { "--tags" } else { "--no-tags" },
        "--no-write-fetch-head",
    ]);
    if shallow {
        command.arg("--depth=1");
    } else if db.join("shallow").exists() {
        command.arg("--unshallow");
    }
    let output = command
        .arg("--end-of-options")
        .arg(REMOTE)
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| (false, anyhow!("failed to run `git fetch`: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let words = crate::process::words(&output.stderr);
    let error = anyhow!("`git fetch` failed ({}): {words}", output.status);
    Err(match headline(remote.bare, &words) {
        Some(headline) => (true, error.context(headline)),
        None => (
            false,
            error.context(format!("failed to fetch {} with git", remote.bare)),
        ),
    })
}

/// `scheme://host[:port]` of an http(s) URL, the key git matches
/// credential settings against; `None` without a host.
fn credential_scope(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (!authority.is_empty() && !authority.contains(['\n', '\0', '=']))
        .then(|| format!("{scheme}://{authority}"))
}

/// What kind of failure git's words describe, and what to do.
fn headline(bare: &str, words: &str) -> Option<String> {
    // git's words name the URL, whose host, port or path may hold any of
    // the phrases below (a port 40411 holds "404"): only the rest is read.
    let text = words
        .split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    if [
        "authentication failed",
        "could not read username",
        "could not read password",
        "terminal prompts disabled",
        "permission denied (publickey",
    ]
    .iter()
    .any(|w| text.contains(w))
    {
        Some(format!(
            "authentication failed for {bare} (git fetched with its own credential helpers, \
             askpass or ssh keys, or the URL's credentials alone when it has some); configure a \
             git credential helper for this host, set GIT_ASKPASS, or check the user name, \
             password or key"
        ))
    } else if [
        "not found",
        "does not appear to be a git repository",
        "returned error: 404",
    ]
    .iter()
    .any(|w| text.contains(w))
    {
        Some(format!(
            "repository not found: {bare}; check the URL, and that your credentials give access \
             to it"
        ))
    } else if [
        "could not resolve host",
        "connection refused",
        "failed to connect",
        "couldn't connect",
        "timed out",
        "too slow",
        "no route to host",
        "network is unreachable",
    ]
    .iter()
    .any(|w| text.contains(w))
    {
        Some(format!(
            "cannot reach {} ({bare}); check the URL, the network and any proxy",
            git::host_of(bare)
        ))
    } else if ["ssl", "tls", "certificate"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(format!(
            "TLS failure talking to {} ({bare}); check that the server speaks https and that its \
             certificate is valid and trusted",
            git::host_of(bare)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stall_timeouts_are_positive_seconds() {
        assert_eq!(super::parse_seconds("30"), Some(30));
        assert_eq!(super::parse_seconds(" 2 "), Some(2));
        for bad in ["", "0", "-3", "1.5", "soon", "99999999999"] {
            assert_eq!(super::parse_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn credentials_are_scoped_to_the_origin_only() {
        assert_eq!(
            super::credential_scope("https://git.example.com:8443/team/r.git?ref=x"),
            Some("https://git.example.com:8443".to_owned())
        );
        assert_eq!(
            super::credential_scope("http://u@127.0.0.1:9/r"),
            Some("http://127.0.0.1:9".to_owned())
        );
        assert_eq!(super::credential_scope("/srv/r"), None);
        assert_eq!(super::credential_scope("https:///r"), None);
    }

    /// The kind of failure comes from git's words, never from the URL they
    /// quote: a port or path may hold "404" or "not found".
    #[test]
    fn failures_are_told_by_git_s_words_not_by_the_url() {
        let kind = |url: &str, words: &str| {
            let headline = super::headline(url, words).unwrap_or_default();
            headline
                .split_once(':')
                .map_or(headline.clone(), |(kind, _)| kind.to_owned())
        };
        let slow = "fatal: unable to access 'http://127.0.0.1:40411/r/': Operation too slow. \
                    Less than 1 bytes/sec transferred the last 2 seconds";
        assert!(
            kind("http://127.0.0.1:40411/r", slow).starts_with("cannot reach 127.0.0.1"),
            "{}",
            kind("http://127.0.0.1:40411/r", slow)
        );
        let refused = "fatal: unable to access 'https://h.example/r404/': Failed to \
                       connect to h.example port 443: Connection refused";
        assert!(kind("https://h.example/r404", refused).starts_with("cannot reach"));
        for missing in [
            "fatal: unable to access 'https://h.example/r/': The requested URL returned error: 404",
            "remote: Not Found\nfatal: repository 'https://h.example/r/' not found",
        ] {
            assert_eq!(
                kind("https://h.example/r", missing),
                "repository not found",
                "{missing}"
            );
        }
    }
}
