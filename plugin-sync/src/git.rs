//! Every use of `gix` lives here, behind a few functions, because gix's API
//! changes often: fetch a reference into a bare database, ask whether a
//! database has a commit, read and validate a commit's tree (with the
//! checksum sums of its blobs), and write that tree to a new directory.
//!
//! Repositories are opened isolated: the user's git configuration
//! (`core.autocrlf`, `insteadOf`, credential helpers) never changes a result.
//! Files are written from the raw blobs, with no filters, so the bytes on disk
//! are exactly the committed bytes.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, anyhow, bail};
use build_support::manifest::GitReference;
use build_support::sha256_hex;
use gix::remote::Direction;
use gix::remote::fetch::{Shallow, Tags};

use crate::progress::Fetching;
use crate::secret::{self, UrlCredentials};
use crate::{checksum, credential, tree};

/// A commit id, as 40 lowercase hex digits.
pub type Commit = String;

/// Creates the bare database at `db` unless it exists.
pub fn init_db(db: &Path) -> anyhow::Result<()> {
    if !db.join("HEAD").exists() {
        // Create beside, then rename: a half-created database is never seen.
        let temp = db.with_extension(format!("init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&temp);
        gix::init_bare(&temp).with_context(|| format!("failed to create {}", temp.display()))?;
        if let Err(e) = std::fs::rename(&temp, db) {
            let _ = std::fs::remove_dir_all(&temp);
            if !db.join("HEAD").exists() {
                return Err(e).with_context(|| format!("failed to create {}", db.display()));
            }
        }
    }
    Ok(())
}

/// Opens the bare database at `db`, creating it if needed.
fn open_or_init(db: &Path) -> anyhow::Result<gix::Repository> {
    init_db(db)?;
    let mut settings = ssh_settings();
    settings.push(alloc_limit());
    gix::open_opts(
        db,
        gix::open::Options::isolated().config_overrides(settings),
    )
    .with_context(|| format!("failed to open the cached repository {}", db.display()))
}

/// No object is inflated past [`MAX_BLOB`] bytes, while a pack is received
/// and indexed as when it is read: a small pack holding a huge compressible
/// blob is refused from its header, before the memory is taken.
fn alloc_limit() -> String {
    format!("gitoxide.objects.allocLimit={MAX_BLOB}")
}

/// The user's ssh program, from the environment variables git reads
/// (`GIT_SSH_COMMAND`, run by a shell; else `GIT_SSH`, run without one;
/// `GIT_SSH_VARIANT`), as settings of the isolated repository: the rest of
/// the user's git configuration stays out. ssh itself reads
/// `~/.ssh/config`, the agent and the keys.
fn ssh_settings() -> Vec<String> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty() && !v.contains('\n'))
    };
    let mut settings = Vec::new();
    if let Some(command) = var("GIT_SSH_COMMAND") {
        settings.push(format!("core.sshCommand={command}"));
    } else if let Some(program) = var("GIT_SSH") {
        settings.push(format!(
            "gitoxide.ssh.commandWithoutShellFallback={program}"
        ));
    }
    if let Some(variant) = var("GIT_SSH_VARIANT") {
        settings.push(format!("ssh.variant={variant}"));
    }
    settings
}

/// The refspec that fetches `reference`.
pub fn refspec(reference: &GitReference) -> String {
    match reference {
        GitReference::DefaultBranch => "+HEAD:refs/remotes/origin/HEAD".to_owned(),
        GitReference::Branch(b) => format!("+refs/heads/{b}:refs/remotes/origin/{b}"),
        GitReference::Tag(t) => format!("+refs/tags/{t}:refs/tags/{t}"),
        GitReference::Rev(r) => r.clone(),
    }
}

/// Where to fetch from.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    /// What to connect to: no userinfo for http(s), but secret
    /// query parameters stay; never printed.
    pub url: &'a str,
    /// The URL as it may be printed.
    pub bare: &'a str,
    /// Credentials the URL as written carried.
    pub credentials: Option<&'a UrlCredentials>,
}

/// How much of a reference's history to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The commit it names (depth 1) first; the whole history only if
    /// receiving that fails.
    Shallow,
    /// The whole history: to tell whether a commit is among its ancestors.
    History,
    /// The whole history and every tag (lint's previous-tag comparison).
    HistoryAndTags,
}

/// Fetches `reference` from `remote` into the bare database `db` and
/// returns the commit it names (an annotated tag is peeled), as deep as
/// `depth` says.
pub fn fetch(
    db: &Path,
    remote: Remote<'_>,
    reference: &GitReference,
    fetching: &Fetching,
    depth: Depth,
) -> anyhow::Result<Commit> {
    let repo = open_or_init(db)?;
    let mut auth = Auth::new(remote, fetching);
    auth.tags = depth == Depth::HistoryAndTags;
    if depth != Depth::Shallow {
        return auth
            .fetch(&repo, remote, reference, false)
            .map_err(Failure::into_inner);
    }
    match auth.fetch(&repo, remote, reference, true) {
        Ok(commit) => Ok(commit),
        Err(Failure::Receive(shallow_error)) => {
            auth.fetch(&repo, remote, reference, false)
                .map_err(|failure| {
                    let error = failure
                        .into_inner()
                        .context(format!("a shallow fetch failed first: {shallow_error:#}"));
                    // A commit the remote does not have fails while receiving,
                    // with a protocol message; say what it means.
                    match reference {
                        GitReference::Rev(rev) => error.context(format!(
                            "the remote has no commit {rev} (or does not serve commits by id); \
                         check the rev, or declare a tag or branch that contains it"
                        )),
                        _ => error,
                    }
                })
        }
        Err(failure) => Err(failure.into_inner()),
    }
}

/// Where a fetch failed: only a failure to receive the pack is worth
/// retrying without `--depth`; a refused authentication is retried with the
/// next source of credentials.
enum Failure {
    Connect(anyhow::Error),
    Auth(anyhow::Error),
    Receive(anyhow::Error),
}

impl Failure {
    fn into_inner(self) -> anyhow::Error {
        match self {
            Failure::Connect(e) | Failure::Auth(e) | Failure::Receive(e) => e,
        }
    }
}

/// A source of credentials, in the order tried when the server asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The userinfo of the URL as written in plugins.toml.
    Url,
    /// `git credential fill`: the user's helpers, then askpass.
    Helpers,
    /// `git credential fill` once more, after `reject` made the helper that
    /// answered forget its answer.
    HelpersAgain,
}

/// The credentials offered so far for one fetch, and what became of them.
struct Auth<'a> {
    /// Shows the fetch; paused while git may prompt on the terminal.
    fetching: &'a Fetching,
    /// The scheme, host and port of the URL as declared: the only origin
    /// any credential is offered to.
    origin: Option<Origin>,
    url: Option<&'a UrlCredentials>,
    sources: Vec<Source>,
    /// Index in `sources` of the one offered when the server asks.
    current: usize,
    /// What `git credential fill` answered in this attempt.
    answer: Option<credential::Answer>,
    /// What was tried and what became of it, for the error.
    tried: Vec<String>,
    /// Fetch every tag too.
    tags: bool,
}

impl<'a> Auth<'a> {
    fn new(remote: Remote<'a>, fetching: &'a Fetching) -> Auth<'a> {
        let mut sources = Vec::new();
        if remote.credentials.is_some() {
            sources.push(Source::Url);
        }
        if crate::process::on_path("git") {
            sources.extend([Source::Helpers, Source::HelpersAgain]);
        }
        Auth {
            fetching,
            origin: Origin::of(remote.url),
            url: remote.credentials,
            sources,
            current: 0,
            answer: None,
            tried: Vec::new(),
            tags: false,
        }
    }

    /// One fetch, tried again with the next source of credentials while the
    /// server refuses the last one.
    fn fetch(
        &mut self,
        repo: &gix::Repository,
        remote: Remote<'_>,
        reference: &GitReference,
        shallow: bool,
    ) -> Result<Commit, Failure> {
        loop {
            match fetch_once(repo, remote, reference, shallow, self) {
                Err(Failure::Auth(error)) => {
                    if let Some(answer) = self.answer.take() {
                        // Best effort: a helper that cannot forget is no
                        // reason to hide the authentication error.
                        let _ = credential::reject(&answer);
                    }
                    self.current += 1;
                    if self.current >= self.sources.len() {
                        return Err(Failure::Auth(self.refused(remote, error)));
                    }
                }
                other => {
                    if let (Ok(_), Some(answer)) = (&other, self.answer.take()) {
                        let _ = credential::approve(&answer);
                    }
                    return other;
                }
            }
        }
    }

    /// The server asked for credentials: those of the current source.
    fn get(&mut self, url: &str) -> Option<gix::sec::identity::Account> {
        // After a redirect the server asking is the one redirected to:
        // neither the URL's credentials nor the helpers' answer for the
        // declared host go to another origin, and none is asked for it.
        let asking = Origin::of(url);
        if asking.is_none() || asking != self.origin {
            self.tried.push(format!(
                "nothing: the server redirected to {}, another origin than the URL's, which \
                 asked for credentials; credentials are offered only to the origin (scheme, \
                 host and port) of the URL in plugins.toml, so declare the plugin with the URL \
                 it redirects to if that server is the one to trust",
                host_of(&crate::secret::redact(url))
            ));
            self.current = self.sources.len();
            return None;
        }
        if !clear_text_allowed(url) {
            self.tried.push(
                "nothing: credentials are sent over plain http only to this machine \
                 (127.0.0.1, ::1, localhost); use an https URL"
                    .to_owned(),
            );
            self.current = self.sources.len();
            return None;
        }
        let account = |username: &str, password: &str| gix::sec::identity::Account {
            username: username.to_owned(),
            password: password.to_owned(),
            oauth_refresh_token: None,
        };
        match self.sources.get(self.current)? {
            Source::Url => {
                let c = self.url?;
                self.tried
                    .push("the credentials in the URL in plugins.toml (refused)".to_owned());
                Some(account(&c.username, &c.password))
            }
            source @ (Source::Helpers | Source::HelpersAgain) => {
                let what = if *source == Source::Helpers {
                    "git's credential helpers and askpass (`git credential fill`)"
                } else {
                    "`git credential fill` again, after rejecting its first answer"
                };
                let user = self.url.map(|c| c.username.as_str());
                match self.fetching.suspend(|| credential::fill(url, user)) {
                    Ok(answer) => {
                        self.tried
                            .push(format!("{what}: user `{}` (refused)", answer.username));
                        let identity = account(&answer.username, &answer.password);
                        self.answer = Some(answer);
                        Some(identity)
                    }
                    Err(e) => {
                        self.tried.push(format!("{what}: {e:#}"));
                        // Nothing more will come from git: skip its retry.
                        self.current = self.sources.len().saturating_sub(1);
                        None
                    }
                }
            }
        }
    }

    /// The error once every source was refused.
    fn refused(&self, remote: Remote<'_>, cause: anyhow::Error) -> anyhow::Error {
        let tried = if self.tried.is_empty() {
            "nothing: the URL has no credentials and git (whose credential helpers would be \
             asked) is not on PATH"
                .to_owned()
        } else {
            self.tried.join("; ")
        };
        cause.context(format!(
            "authentication failed for {} (the server asked for credentials); tried {tried}. \
             Configure a git credential helper for this host (`git config --global \
             credential.helper store`, or your platform's), set GIT_ASKPASS, or check the user \
             name and password",
            remote.bare
        ))
    }
}

/// Where credentials belong: a URL's scheme, host (lowercase) and port
/// (the scheme's default when not written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// The origin of `url`; `None` for what is not a URL with a host.
    pub fn of(url: &str) -> Option<Origin> {
        let parsed = gix::url::parse(gix::bstr::BStr::new(url)).ok()?;
        Some(Origin {
            scheme: parsed.scheme.as_str().to_owned(),
            host: parsed.host()?.to_ascii_lowercase(),
            port: parsed.port_or_default(),
        })
    }
}

/// Whether credentials may be sent to `url`: over https or ssh always;
/// over plain http (as the tests' server speaks) only to a loopback host,
/// where nobody can listen on the way.
fn clear_text_allowed(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return true;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn fetch_once(
    repo: &gix::Repository,
    remote: Remote<'_>,
    reference: &GitReference,
    shallow: bool,
    auth: &mut Auth<'_>,
) -> Result<Commit, Failure> {
    let spec = refspec(reference);
    let url = remote.url;
    let bare = remote.bare;
    let target = repo
        .remote_at(url)
        .map_err(|e| Failure::Connect(anyhow!("invalid git URL `{bare}`: {}", redact(&e))))?
        .with_fetch_tags(if auth.tags { Tags::All } else { Tags::None })
        .with_refspecs([spec.as_str()], Direction::Fetch)
        .map_err(|e| Failure::Connect(anyhow!("invalid reference {reference}: {}", redact(&e))))?;
    // Keep gix's whole chain of causes: the last one is often the
    // transport's own words (ssh's message, an HTTP status).
    let connection = target
        .connect(Direction::Fetch)
        .map_err(|e| Failure::Connect(unreachable(bare, &e)))?;
    let progress = auth.fetching.tracker();
    let asked = std::cell::Cell::new(false);
    let connection = connection.with_credentials(|action| {
        Ok(match action {
            gix::credentials::helper::Action::Get(context) => {
                asked.set(true);
                let url = context
                    .url
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                auth.get(&url)
                    .map(|identity| gix::credentials::protocol::Outcome {
                        identity,
                        next: context.into(),
                    })
            }
            // Approve and reject once the whole fetch's fate is known.
            gix::credentials::helper::Action::Store(_)
            | gix::credentials::helper::Action::Erase(_) => None,
        })
    });
    let prepared = connection.prepare_fetch(gix::progress::Discard, Default::default());
    let prepare = match prepared {
        Ok(prepare) => prepare,
        // The server asked and what was offered (or nothing) did not do:
        // the error says what was tried, not gix's words for it.
        Err(e) if asked.get() && (e.is_unauthenticated() || e.is_permission_denied()) => {
            return Err(Failure::Auth(anyhow!(
                "the server refused every credential offered"
            )));
        }
        Err(e) if e.is_unauthenticated() => return Err(Failure::Auth(chain(&e))),
        Err(e) => return Err(Failure::Connect(unreachable(bare, &e))),
    };
    let depth = if shallow {
        Shallow::DepthAtRemote(1.try_into().expect("1 is not zero"))
    } else if repo.is_shallow().unwrap_or(false) {
        Shallow::undo()
    } else {
        Shallow::NoChange
    };
    let outcome = prepare
        .with_shallow(depth)
        .receive(progress, &AtomicBool::new(false))
        .map_err(|e| {
            // gix reports a refspec that matched no remote ref only in words;
            // fetching deeper would not help.
            let message = redact(&e);
            if message.starts_with("None of the refspec") {
                return Failure::Connect(anyhow!("the remote has no {reference}"));
            }
            let error = chain(&e);
            let text = format!("{error:#}");
            if text.contains("too large to fit in memory") {
                // Deeper would not help either: the object stays as big.
                Failure::Connect(error.context(format!(
                    "the repository holds an object larger than {} MiB, the most a plugin's \
                     file may have; refusing it before inflating it",
                    MAX_BLOB >> 20
                )))
            } else {
                Failure::Receive(error)
            }
        })?;
    commit_of(repo, &outcome, reference).map_err(Failure::Receive)
}

/// A gix error and its causes as an anyhow chain, each message redacted and
/// a repeated one shown once.
fn chain(error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    let mut messages: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        let message = redact(e);
        if messages.last() != Some(&message) {
            messages.push(message);
        }
        source = e.source();
    }
    let mut messages = messages.into_iter().rev();
    let mut out = anyhow!(messages.next().unwrap_or_default());
    for message in messages {
        out = out.context(message);
    }
    out
}

/// The host (and port) of a URL, for messages.
pub fn host_of(bare: &str) -> &str {
    let authority = bare.split_once("://").map_or(bare, |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or(rest)
    });
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// A failure to reach the repository, with a first line that says which
/// kind it is and what to do (the causes keep the transport's own words).
fn unreachable(bare: &str, error: &gix::Error) -> anyhow::Error {
    let error = chain(error);
    let text = format!("{error:#}").to_ascii_lowercase();
    let host = bare.split_once("://").map_or(bare, |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or(rest)
    });
    let headline = if text.contains("http status 404") || text.contains("404 not found") {
        format!(
            "repository not found: {bare} (the server answered 404); check the URL, and that \
             your credentials give access to it (hosts answer 404 for a private repository \
             they do not show you)"
        )
    } else if [
        "connection refused",
        "tcp connect error",
        "dns error",
        "failed to lookup address",
        "timed out",
        "no route to host",
        "network is unreachable",
    ]
    .iter()
    .any(|words| text.contains(words))
    {
        format!("cannot reach {host} ({bare}); check the URL, the network and any proxy")
    } else if text.contains("tls") || text.contains("certificate") || text.contains("ssl") {
        format!(
            "TLS failure talking to {host} ({bare}); check that the server speaks https and \
             that its certificate is valid and trusted"
        )
    } else {
        format!("failed to talk to {bare}")
    };
    error.context(headline)
}

/// `error`'s own message with every known secret hidden.
fn redact(error: &dyn std::fmt::Display) -> String {
    secret::redact(&error.to_string()).into_owned()
}

/// The commit the fetched `reference` names.
fn commit_of(
    repo: &gix::Repository,
    outcome: &gix::remote::fetch::Outcome,
    reference: &GitReference,
) -> anyhow::Result<Commit> {
    let mapping = outcome
        .ref_map
        .mappings
        .iter()
        .find(|m| m.spec_index == gix::protocol::fetch::refmap::SpecIndex::ExplicitInRemote(0))
        .ok_or_else(|| anyhow!("the remote has no {reference}"))?;
    let id = mapping
        .remote
        .as_id()
        .ok_or_else(|| anyhow!("{reference} is unborn on the remote"))?
        .to_owned();
    let commit = repo
        .find_object(id)
        .with_context(|| format!("{reference} names {id}, which was not received"))?
        .peel_to_commit()
        .with_context(|| format!("{reference} names {id}, which is not a commit"))?;
    Ok(commit.id.to_string())
}

/// Whether `db` exists and holds `commit` (so it can be checked out offline).
/// Whether `commit` is `tip` or one of its ancestors in `db`: `None` when
/// the walk reached the edge of a shallow history without finding it.
pub fn contains(db: &Path, tip: &str, commit: &str) -> anyhow::Result<Option<bool>> {
    let repo = open(db)?;
    let tip = gix::ObjectId::from_hex(tip.as_bytes()).context("not a commit id")?;
    let commit = gix::ObjectId::from_hex(commit.as_bytes()).context("not a commit id")?;
    if tip == commit {
        return Ok(Some(true));
    }
    let walk = repo
        .rev_walk([tip])
        .all()
        .with_context(|| format!("failed to walk the history of {tip}"))?;
    for info in walk {
        let info = info.with_context(|| format!("failed to walk the history of {tip}"))?;
        if info.id == commit {
            return Ok(Some(true));
        }
    }
    Ok(if repo.is_shallow().unwrap_or(true) {
        None
    } else {
        Some(false)
    })
}

/// What the cache says of whether `reference` reaches `commit`, from the
/// ref the last fetch of it left in `db`: `None` when it cannot tell (no
/// such ref, a shallow history, a rev that is not an id); `Some(Err(tip))`
/// when it does not, with the commit it names.
pub fn reached(
    db: &Path,
    reference: &GitReference,
    commit: &str,
) -> anyhow::Result<Option<Result<(), String>>> {
    let name = match reference {
        GitReference::Tag(t) => format!("refs/tags/{t}"),
        GitReference::Branch(b) => format!("refs/remotes/origin/{b}"),
        GitReference::DefaultBranch => "refs/remotes/origin/HEAD".to_owned(),
        GitReference::Rev(rev) if rev.bytes().all(|b| b.is_ascii_hexdigit()) => {
            return Ok(Some(if commit.starts_with(&rev.to_ascii_lowercase()) {
                Ok(())
            } else {
                Err(rev.clone())
            }));
        }
        GitReference::Rev(_) => return Ok(None),
    };
    if !db.is_dir() {
        return Ok(None);
    }
    let repo = open(db)?;
    let Ok(Some(mut found)) = repo.try_find_reference(name.as_str()) else {
        return Ok(None);
    };
    let Ok(tip) = found.peel_to_commit() else {
        return Ok(None);
    };
    let tip = tip.id.to_string();
    if matches!(reference, GitReference::Tag(_)) {
        return Ok(Some(if tip == commit { Ok(()) } else { Err(tip) }));
    }
    Ok(contains(db, &tip, commit)?.map(|yes| if yes { Ok(()) } else { Err(tip) }))
}

pub fn has_commit(db: &Path, commit: &str) -> bool {
    let Ok(repo) = gix::open_opts(db, gix::open::Options::isolated()) else {
        return false;
    };
    let Ok(id) = gix::ObjectId::from_hex(commit.as_bytes()) else {
        return false;
    };
    repo.find_object(id)
        .ok()
        .and_then(|o| o.peel_to_commit().ok())
        .is_some()
}

/// The most bytes a symlink's target may have (Linux's `PATH_MAX`).
const MAX_LINK: usize = 4096;

/// The most bytes one file of a plugin's repository may have: each is held
/// in memory once while it is received, hashed and written. (crates.io
/// takes no crate over 10 MiB, compressed.)
pub const MAX_BLOB: u64 = 64 << 20;

/// Environment variable that sets the most bytes a plugin's checkout (all
/// its files) may have: `<bytes>`, or with a `KiB`/`MiB`/`GiB` suffix.
pub const MAX_CHECKOUT_VAR: &str = "PLUGIN_MAX_CHECKOUT_SIZE";

/// The default of [`MAX_CHECKOUT_VAR`].
const MAX_CHECKOUT: u64 = 512 << 20;

/// The most bytes of paths a tree may list, all entries together, and the
/// most bytes one path may have (Linux's `PATH_MAX`): a small repository
/// of deeply nested trees costs no more than this to read.
const MAX_TREE_PATH_BYTES: usize = 64 << 20;
const MAX_PATH: usize = 4096;

/// The most entries (files, directories, links) a tree may have.
const MAX_ENTRIES: usize = 1_000_000;

/// The checkout size limit: [`MAX_CHECKOUT_VAR`], else [`MAX_CHECKOUT`].
pub fn max_checkout() -> anyhow::Result<u64> {
    let Some(value) = std::env::var_os(MAX_CHECKOUT_VAR) else {
        return Ok(MAX_CHECKOUT);
    };
    let value = value.to_string_lossy();
    let text = value.trim();
    parse_size(text).with_context(|| {
        format!(
            "{MAX_CHECKOUT_VAR} is `{}`; give a number of bytes, or one with KiB, MiB or GiB \
                 (`2GiB`)",
            crate::secret::redact(text)
        )
    })
}

/// `<bytes>`, or a number with a `KiB`/`MiB`/`GiB` suffix; `None` for
/// anything else or what overflows.
fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit.trim() {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A tree traversal that is cancelled once the tree is too big to read:
/// too many entries, a path too long, or too many path bytes in all.
#[derive(Default)]
struct Bounded {
    recorder: gix::traverse::tree::Recorder,
    path_bytes: usize,
    exceeded: Option<String>,
}

impl Bounded {
    /// Whether to take the entry whose path is current, counting it.
    fn take(&mut self) -> bool {
        if self.exceeded.is_some() {
            return false;
        }
        // The traversal has pushed the entry's name onto the path already.
        let length = self.recorder.path().len();
        self.path_bytes = self.path_bytes.saturating_add(length);
        self.exceeded = if self.recorder.records.len() >= MAX_ENTRIES {
            Some(format!("has more than {MAX_ENTRIES} entries"))
        } else if length > MAX_PATH {
            Some(format!("has a path longer than {MAX_PATH} bytes"))
        } else if self.path_bytes > MAX_TREE_PATH_BYTES {
            Some(format!(
                "lists more than {} MiB of paths",
                MAX_TREE_PATH_BYTES >> 20
            ))
        } else {
            None
        };
        self.exceeded.is_none()
    }
}

impl gix::traverse::tree::Visit for Bounded {
    fn pop_back_tracked_path_and_set_current(&mut self) {
        self.recorder.pop_back_tracked_path_and_set_current();
    }
    fn pop_front_tracked_path_and_set_current(&mut self) {
        self.recorder.pop_front_tracked_path_and_set_current();
    }
    fn push_back_tracked_path_component(&mut self, component: &gix::bstr::BStr) {
        self.recorder.push_back_tracked_path_component(component);
    }
    fn push_path_component(&mut self, component: &gix::bstr::BStr) {
        self.recorder.push_path_component(component);
    }
    fn pop_path_component(&mut self) {
        self.recorder.pop_path_component();
    }
    fn visit_tree(
        &mut self,
        entry: &gix::objs::tree::EntryRef<'_>,
    ) -> gix::traverse::tree::visit::Action {
        if self.take() {
            self.recorder.visit_tree(entry)
        } else {
            std::ops::ControlFlow::Break(())
        }
    }
    fn visit_nontree(
        &mut self,
        entry: &gix::objs::tree::EntryRef<'_>,
    ) -> gix::traverse::tree::visit::Action {
        if self.take() {
            self.recorder.visit_nontree(entry)
        } else {
            std::ops::ControlFlow::Break(())
        }
    }
}

/// A commit's whole tree, read and validated: its entries with their blob
/// ids. File blobs are sized from their headers, not inflated.
type Tree = Vec<(tree::Entry, gix::ObjectId)>;

fn open(db: &Path) -> anyhow::Result<gix::Repository> {
    gix::open_opts(
        db,
        gix::open::Options::isolated().config_overrides([alloc_limit()]),
    )
    .with_context(|| format!("failed to open the cached repository {}", db.display()))
}

/// The checksum sums of the files of `commit`, hashed from the blobs in the
/// database after the whole tree is validated (see [`tree::validate`]), so
/// what the lock records is what git holds, not what some directory on disk
/// holds.
pub fn sums(db: &Path, commit: &str) -> anyhow::Result<checksum::Sums> {
    let repo = open(db)?;
    let tree = read_tree(&repo, commit)?;
    let mut sums = checksum::Sums::new();
    for (entry, oid) in &tree {
        if let Some(sum) = sum_of(&repo, entry, *oid, |_| Ok(()))? {
            sums.insert(entry.path.clone(), sum);
        }
    }
    Ok(sums)
}

/// The sum of one entry (`None` for a directory), reading a file's blob once
/// and handing its bytes to `use_bytes` (checkout writes them).
fn sum_of(
    repo: &gix::Repository,
    entry: &tree::Entry,
    oid: gix::ObjectId,
    use_bytes: impl FnOnce(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<Option<String>> {
    Ok(match &entry.kind {
        tree::Kind::Dir | tree::Kind::Submodule => None,
        tree::Kind::Link(target) => Some(format!("l:{}", sha256_hex(target.as_bytes()))),
        tree::Kind::File | tree::Kind::Executable => {
            let blob = repo
                .find_object(oid)
                .with_context(|| format!("blob of `{}` is missing", entry.path))?;
            use_bytes(&blob.data)?;
            let tag = if entry.kind == tree::Kind::Executable {
                "x"
            } else {
                "f"
            };
            Some(format!("{tag}:{}", sha256_hex(&blob.data)))
        }
    })
}

/// Reads the tree of `commit` and validates all of it before anything is
/// written anywhere. Reads only symlink targets; files are sized from their
/// object headers.
fn read_tree(repo: &gix::Repository, commit: &str) -> anyhow::Result<Tree> {
    use gix::object::tree::EntryKind;
    let id = gix::ObjectId::from_hex(commit.as_bytes())
        .with_context(|| format!("`{commit}` is not a commit id"))?;
    let tree = repo
        .find_object(id)
        .with_context(|| format!("commit {commit} is not in the cache"))?
        .peel_to_commit()?
        .tree()?;
    let mut bounded = Bounded::default();
    let walked = tree.traverse().breadthfirst(&mut bounded);
    // Cancelled by `Bounded` once a limit is passed: say which.
    if let Some(limit) = bounded.exceeded {
        bail!("the tree of commit {commit} {limit}; refusing to read it");
    }
    walked.with_context(|| format!("failed to read the tree of {commit}"))?;
    let max_checkout = max_checkout()?;
    let mut total: u64 = 0;
    let mut entries = Vec::with_capacity(bounded.recorder.records.len());
    for record in bounded.recorder.records {
        let path = String::from_utf8(record.filepath.to_vec()).map_err(|_| {
            anyhow!(
                "the repository has a path that is not UTF-8 (`{}`)",
                record.filepath
            )
        })?;
        let kind = match record.mode.kind() {
            EntryKind::Tree => tree::Kind::Dir,
            EntryKind::Commit => tree::Kind::Submodule,
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let size = repo
                    .find_header(record.oid)
                    .with_context(|| format!("blob of `{path}` is missing"))?
                    .size();
                if size > MAX_BLOB {
                    bail!(
                        "`{path}` has {size} bytes, more than the {} MiB a plugin's file may have",
                        MAX_BLOB >> 20
                    );
                }
                total = total.saturating_add(size);
                if total > max_checkout {
                    bail!(
                        "the files of commit {commit} have more than {max_checkout} bytes, the \
                         most a plugin's checkout may have; set {MAX_CHECKOUT_VAR} (`2GiB`) to \
                         allow more"
                    );
                }
                if record.mode.kind() == EntryKind::BlobExecutable {
                    tree::Kind::Executable
                } else {
                    tree::Kind::File
                }
            }
            EntryKind::Link => {
                // Sized from its header before it is inflated.
                let size = repo
                    .find_header(record.oid)
                    .with_context(|| format!("blob of `{path}` is missing"))?
                    .size();
                if size > MAX_LINK as u64 {
                    bail!("symlink `{path}` has a target longer than {MAX_LINK} bytes");
                }
                let blob = repo
                    .find_object(record.oid)
                    .with_context(|| format!("blob of `{path}` is missing"))?;
                let target = String::from_utf8(blob.data.clone())
                    .map_err(|_| anyhow!("symlink `{path}` has a non-UTF-8 target"))?;
                tree::Kind::Link(target)
            }
        };
        entries.push((tree::Entry { path, kind }, record.oid));
    }
    let plain: Vec<tree::Entry> = entries.iter().map(|(e, _)| e.clone()).collect();
    tree::validate(&plain).map_err(|e| anyhow!(e))?;
    Ok(entries)
}

/// Writes the tree of `commit` into `dest`, which must not exist, from the
/// raw blobs, and returns the checksum sums of what it wrote (each blob is
/// read once, hashed as it is written). The whole tree is validated first;
/// then directories and files are created with `create_dir` and
/// `create_new` (which never follow a symlink), and the symlinks last, so no
/// write can pass through one.
pub fn checkout(db: &Path, commit: &str, dest: &Path) -> anyhow::Result<checksum::Sums> {
    let repo = open(db)?;
    let tree = read_tree(&repo, commit)?;
    std::fs::create_dir(dest).with_context(|| format!("failed to create {}", dest.display()))?;
    let mut sums = checksum::Sums::new();
    let mut links = Vec::new();
    let mut files = Vec::new();
    // Directories first, in tree order (parents before children), so the
    // files can then be written in any order.
    for (entry, oid) in &tree {
        let path = dest.join(&entry.path);
        match &entry.kind {
            tree::Kind::Dir => std::fs::create_dir(&path)
                .with_context(|| format!("failed to create {}", path.display()))?,
            tree::Kind::Link(target) => {
                if let Some(sum) = sum_of(&repo, entry, *oid, |_| Ok(()))? {
                    sums.insert(entry.path.clone(), sum);
                }
                links.push((path, target));
            }
            tree::Kind::Submodule => bail!("submodules were refused by validation"),
            tree::Kind::File | tree::Kind::Executable => files.push((entry, *oid, path)),
        }
    }
    // Files from a few threads: inflating, hashing and creating thousands
    // of files is most of a large checkout, and each part scales.
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_CHECKOUT_WORKERS)
        .min(files.len() / FILES_PER_WORKER + 1)
        .max(1);
    let chunk = files.len().div_ceil(workers).max(1);
    let written: Vec<anyhow::Result<checksum::Sums>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let repo = repo.clone();
                scope.spawn(move || {
                    let mut sums = checksum::Sums::new();
                    for (entry, oid, path) in part {
                        let executable = entry.kind == tree::Kind::Executable;
                        let write = |bytes: &[u8]| write_new(path, bytes, executable);
                        if let Some(sum) = sum_of(&repo, entry, *oid, write)? {
                            sums.insert(entry.path.clone(), sum);
                        }
                    }
                    Ok(sums)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a checkout thread panicked")))
            })
            .collect()
    });
    for part in written {
        sums.extend(part?);
    }
    for (path, target) in links {
        symlink(target, &path)?;
    }
    Ok(sums)
}

/// At most this many threads write one checkout's files.
const MAX_CHECKOUT_WORKERS: usize = 4;

/// A checkout starts another thread only for this many more files: below,
/// starting it costs more than it saves.
const FILES_PER_WORKER: usize = 256;

/// Creates `path` (which must not exist: an existing symlink is not
/// followed) with `bytes`.
fn write_new(path: &Path, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("failed to write {}", path.display()))?;
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &str, path: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::symlink(target, path)
        .with_context(|| format!("failed to create symlink {}", path.display()))
}

#[cfg(not(unix))]
fn symlink(target: &str, path: &Path) -> anyhow::Result<()> {
    bail!(
        "symlink {} -> {target}: symlinks are only supported on Unix",
        path.display()
    )
}

/// The commit checked out in the work tree at `dir`, if it is a git
/// repository with a commit.
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated()).ok()?;
    repo.head_id().ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::clear_text_allowed;

    #[test]
    fn checkout_sizes_parse_and_nonsense_is_refused() {
        assert_eq!(super::parse_size("1048576"), Some(1 << 20));
        assert_eq!(super::parse_size("2GiB"), Some(2 << 30));
        assert_eq!(super::parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(super::parse_size("3KiB"), Some(3 << 10));
        for bad in [
            "",
            "lots",
            "2GB",
            "-1",
            "1.5GiB",
            "99999999999999999999GiB",
            "GiB",
        ] {
            assert_eq!(super::parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        let origin = |u: &str| super::Origin::of(u);
        assert_eq!(
            origin("https://Git.Example.com/a/b.git"),
            origin("https://git.example.com:443/c")
        );
        assert_ne!(origin("https://h/a"), origin("http://h/a"));
        assert_ne!(
            origin("http://127.0.0.1:1/a"),
            origin("http://127.0.0.1:2/a")
        );
        assert_ne!(origin("https://h/a"), origin("https://h.evil/a"));
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn credentials_go_over_plain_http_only_to_this_machine() {
        for url in [
            "https://example.com/r",
            "ssh://git@example.com/r",
            "http://127.0.0.1:8080/r",
            "http://127.3.4.5/r",
            "http://localhost:1/r",
            "http://[::1]:8080/r",
        ] {
            assert!(clear_text_allowed(url), "{url}");
        }
        for url in [
            "http://example.com/r",
            "http://10.0.0.1/r",
            "http://127.0.0.1.evil.example/r",
            "http://[::2]/r",
        ] {
            assert!(!clear_text_allowed(url), "{url}");
        }
    }
}
