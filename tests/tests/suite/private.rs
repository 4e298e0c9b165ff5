//! Private plugin repositories over smart HTTP with Basic authentication
//! (a real `git http-backend` on 127.0.0.1), and over ssh through
//! `GIT_SSH_COMMAND`: every way credentials reach the fetch, and that no
//! secret is ever stored or printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::http::GitServer;
use e2e::*;

#[test]
fn the_test_server_refuses_without_credentials_and_serves_with_them() {
    let repo = GitRepo::with_plugin("private-server-check", "secret-plugin", "hidden");
    let root = repo.dir.parent().expect("repos dir").to_owned();
    let server = GitServer::start(&root, Some(("alice", "pa55-word")));
    let clone = hosts_dir().join("private-server-check-clone");
    let _ = std::fs::remove_dir_all(&clone);
    let url = server.url("private-server-check");
    let mut anonymous = std::process::Command::new("git");
    hermetic_git(&mut anonymous)
        .env("GIT_TERMINAL_PROMPT", "0")
        .args(["clone", "--quiet", &url])
        .arg(&clone);
    let output = expect_failure(&mut anonymous);
    assert!(
        stderr(&output).contains("could not read Username"),
        "{}",
        stderr(&output)
    );
    let with = url.replace("http://", "http://alice:pa55-word@");
    let mut clone_cmd = std::process::Command::new("git");
    hermetic_git(&mut clone_cmd)
        .args(["clone", "--quiet", &with])
        .arg(&clone);
    expect_success(&mut clone_cmd);
    assert!(clone.join("Cargo.toml").is_file());
    let users: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| (r.user, r.status))
        .collect();
    assert!(users.contains(&(None, 401)), "{users:?}");
    assert!(
        users.contains(&(Some("alice".to_owned()), 200)),
        "{users:?}"
    );
}

/// How sync fetches: each test runs with gix and with the git command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    Gix,
    Cli,
}

impl Fetch {
    fn suffix(self) -> &'static str {
        match self {
            Fetch::Gix => "gix",
            Fetch::Cli => "cli",
        }
    }
}

/// `mod $name { fn gix(); fn cli() }`: the test `$name(fetch)` with each.
macro_rules! with_both_fetchers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn gix() {
                super::$name(super::Fetch::Gix);
            }
            #[test]
            fn cli() {
                super::$name(super::Fetch::Cli);
            }
        }
    )*};
}

with_both_fetchers!(
    credentials_in_the_url_fetch_and_are_stored_and_printed_nowhere,
    a_credential_helper_in_the_users_git_config_answers_and_is_told_it_worked,
    an_askpass_program_answers_when_no_helper_does,
    refused_credentials_name_the_host_and_what_was_tried_and_show_no_password,
    each_kind_of_failure_to_reach_a_repository_says_which,
    ssh_runs_the_program_in_git_ssh_command_or_git_ssh,
    a_failing_ssh_shows_its_own_words,
    credentials_never_follow_a_redirect_to_another_origin,
    no_secret_reaches_any_command_line,
);

/// The password the tests' server wants; unique, so finding it anywhere
/// is finding a leak.
const PASSWORD: &str = "pw-Zq9-unlikely-anywhere";
/// A wrong one, which must not show either.
const WRONG: &str = "wrong-Kx7-unlikely-anywhere";

/// A private repository served with Basic authentication (user `alice`),
/// a host declaring it as plugin `secret-plugin` at `url_of(server url)`,
/// and a HOME of the test's own (with `.gitconfig` lines `gitconfig`).
struct Private {
    fetch: Fetch,
    _repo: GitRepo,
    server: GitServer,
    host: Host,
    home: PathBuf,
}

impl Private {
    fn new(name: &str, fetch: Fetch, url_of: impl Fn(&str) -> String, gitconfig: &str) -> Private {
        let name = &format!("{name}_{}", fetch.suffix());
        let repo = GitRepo::with_plugin(&format!("{name}-repo"), "secret-plugin", "hidden");
        let root = repo.dir.parent().expect("repos dir").to_owned();
        let server = GitServer::start(&root, Some(("alice", PASSWORD)));
        let host = Host::new(name);
        let url = url_of(&server.url(&format!("{name}-repo")));
        host.write(
            "plugins.toml",
            &format!("[plugins.secret-plugin]\ngit = \"{url}\"\nbranch = \"main\"\n"),
        );
        let home = hosts_dir().join(format!("{name}.home"));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join(".config")).expect("create HOME");
        std::fs::write(home.join(".gitconfig"), gitconfig).expect("write .gitconfig");
        Private {
            fetch,
            _repo: repo,
            server,
            host,
            home,
        }
    }

    /// `xtask <args>` as the user whose HOME this is: their git
    /// configuration is read (git's own `$HOME/.gitconfig`), and git never
    /// prompts on a terminal.
    fn xtask(&self, args: &[&str]) -> Command {
        let mut command = self.host.xtask(args);
        command
            .env_remove("GIT_CONFIG_GLOBAL")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_TERMINAL_PROMPT", "0");
        match self.fetch {
            Fetch::Gix => command.env_remove("PLUGIN_GIT_FETCH_WITH_CLI"),
            Fetch::Cli => command.env("PLUGIN_GIT_FETCH_WITH_CLI", "true"),
        };
        command
    }

    /// The URL the server serves this test's repository at.
    fn url(&self) -> String {
        self.server.url(&format!(
            "{}-repo",
            self.host
                .root
                .file_name()
                .and_then(|n| n.to_str())
                .expect("host name")
        ))
    }

    /// Writes an executable script into HOME; returns its path.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.home.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write script");
        let mut permissions = std::fs::metadata(&path).expect("script").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("chmod script");
        path
    }

    /// The user names the server saw, in order, with its answers.
    fn attempts(&self) -> Vec<(Option<String>, u16)> {
        self.server
            .requests()
            .into_iter()
            .map(|r| (r.user, r.status))
            .collect()
    }
}

/// A credential helper that logs each action to `helper.log` in its
/// directory and answers `get` with alice and `password`.
fn helper_body(password: &str) -> String {
    format!(
        "echo \"$1\" >> \"$(dirname \"$0\")/helper.log\"\ncat > /dev/null\n\
         if [ \"$1\" = get ]; then echo username=alice; echo password={password}; fi\n"
    )
}

/// Fails if any of `secrets` appears in a file name or file under `dir`
/// (symlinks are not followed).
fn assert_nowhere(secrets: &[&str], dir: &Path) {
    let meta = std::fs::symlink_metadata(dir).expect("exists");
    let name = dir.to_string_lossy();
    for secret in secrets {
        assert!(!name.contains(secret), "`{secret}` in the path {name}");
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            assert_nowhere(secrets, &entry.expect("entry").path());
        }
    } else if meta.is_file() {
        let bytes = std::fs::read(dir).expect("read");
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "`{secret}` in {name}"
            );
        }
    }
}

fn assert_not_in(secrets: &[&str], output: &std::process::Output) {
    let text = format!("{}{}", stdout(output), stderr(output));
    for secret in secrets {
        assert!(!text.contains(secret), "`{secret}` printed:\n{text}");
    }
}

fn credentials_in_the_url_fetch_and_are_stored_and_printed_nowhere(fetch: Fetch) {
    let _alone = exclusive_builds();
    let private = Private::new(
        "private_url_credentials",
        fetch,
        |url| url.replace("http://", &format!("http://alice:{PASSWORD}@")),
        "",
    );
    let host = &private.host;
    let bare = private.url();
    let sync = expect_success(&mut private.xtask(&["sync"]));
    let warning = stderr(&sync);
    assert!(
        warning.contains(&format!(
            "warning: plugin `secret-plugin`: the credentials in its URL in plugins.toml were \
             used but not stored; plugins.lock and the binary record `{bare}`"
        )),
        "{warning}"
    );
    assert!(
        host.read("plugins.lock")
            .contains(&format!("source = \"git+{bare}?branch=main#"))
    );
    // The server asked, and the URL's credentials answered.
    assert_eq!(
        private.attempts().first(),
        Some(&(None, 401)),
        "{:?}",
        private.attempts()
    );
    assert!(
        private
            .attempts()
            .contains(&(Some("alice".to_owned()), 200))
    );

    let output = host.build_and_run(false);
    assert!(output.contains("filter hidden"), "{output}");
    assert!(
        output.contains(&bare),
        "provenance names the bare URL:\n{output}"
    );
    let with_password = bare.replace("http://", &format!("http://alice:{PASSWORD}@"));
    let sbom = host.root.join("bom.cdx.json");
    let sbom_arg = sbom.display().to_string();
    // Every command's output paths: status, reports, JSON, warnings and an
    // error with its causes.
    let mut outputs = vec![
        sync,
        expect_success(&mut private.xtask(&["sync"])),
        expect_success(&mut private.xtask(&["list"])),
        expect_success(&mut private.xtask(&["list", "--json"])),
        expect_success(&mut private.xtask(&["verify"])),
        expect_success(&mut private.xtask(&["sync", "--message-format", "json"])),
        expect_success(&mut private.xtask(&["update", "--message-format", "json"])),
        expect_success(&mut private.xtask(&["sbom", "--output", &sbom_arg])),
        expect_success(&mut private.xtask(&["dev"])),
        expect_success(&mut private.xtask(&["remove", "secret-plugin"])),
        expect_success(&mut private.xtask(&[
            "add",
            "secret-plugin",
            "--git",
            &with_password,
            "--branch",
            "main",
        ])),
    ];
    let manifest = host.read("plugins.toml");
    host.write(
        "plugins.toml",
        &manifest.replace("branch = \"main\"", "branch = \"no-such-branch\""),
    );
    let failed = expect_failure(&mut private.xtask(&["sync"]));
    assert!(stderr(&failed).contains(&bare), "{}", stderr(&failed));
    outputs.push(failed);
    outputs.push(expect_failure(&mut private.xtask(&["sync", "--locked"])));
    host.write("plugins.toml", &manifest);
    outputs.push(expect_success(&mut private.xtask(&["sync"])));
    let secrets = [PASSWORD, "alice:"];
    for output in &outputs {
        assert_not_in(&secrets, output);
    }
    assert!(sbom.is_file(), "sbom wrote {}", sbom.display());
    // The host's files (plugins.toml holds the secret: the user wrote it
    // there), the generated crate, the copies, the cache, the binary.
    std::fs::remove_file(host.path("plugins.toml")).expect("remove plugins.toml");
    for dir in [host.root.clone(), host.cache_dir()] {
        assert_nowhere(&secrets, &dir);
    }
    let binary = shared_target_dir().join("debug").join(&host.app);
    assert_nowhere(&secrets, &binary);
}

fn credentials_never_follow_a_redirect_to_another_origin(fetch: Fetch) {
    // The repository's server (another port: another origin) would accept
    // alice's password: if it ever receives it, sync succeeds and its log
    // shows it.
    let private = Private::new("private_redirect", fetch, str::to_owned, "");
    let elsewhere = private.server.base();
    let path = private.url().replacen(&elsewhere, "", 1);
    let helper = private.script("helper.sh", &helper_body(PASSWORD));
    for (case, redirector_asks, url_has_credentials, user_helper) in [
        ("redirects at once", false, true, false),
        ("redirects after accepting the password", true, true, false),
        (
            "a helper's answer for the declared host",
            false,
            false,
            true,
        ),
    ] {
        // A helper answers gix only for the declared host; git asks the
        // user's helpers about the host it was redirected to by that
        // host's own name, as `git fetch` does.
        if user_helper && fetch == Fetch::Cli {
            continue;
        }
        let gitconfig = if user_helper {
            format!("[credential]\n\thelper = {}\n", helper.display())
        } else {
            String::new()
        };
        std::fs::write(private.home.join(".gitconfig"), gitconfig).expect("write .gitconfig");
        let _ = std::fs::remove_file(private.home.join("helper.log"));
        let redirector =
            GitServer::redirecting(&elsewhere, redirector_asks.then_some(("alice", PASSWORD)));
        let declared = format!("{}{path}", redirector.base());
        let written = if url_has_credentials {
            declared.replace("http://", &format!("http://alice:{PASSWORD}@"))
        } else {
            declared.clone()
        };
        private.host.write(
            "plugins.toml",
            &format!("[plugins.secret-plugin]\ngit = \"{written}\"\nbranch = \"main\"\n"),
        );
        let before = private.host.snapshot();
        let failed = expect_failure(&mut private.xtask(&["sync"]));
        let text = stderr(&failed);
        let leaked: Vec<_> = private
            .server
            .requests()
            .into_iter()
            .filter(|r| r.password.is_some())
            .collect();
        assert!(leaked.is_empty(), "{case}: {leaked:?}\n{text}");
        assert!(
            redirector.requests().iter().any(|r| r.status == 302),
            "{case}: the redirect was served: {:?}",
            redirector.requests()
        );
        let expected = match fetch {
            // gix does not follow a redirect of a request that carried
            // credentials at all (it then finds no git server).
            Fetch::Gix if redirector_asks => "failed to talk to".to_owned(),
            Fetch::Gix => format!(
                "nothing: the server redirected to {}, another origin than the URL's",
                elsewhere.trim_start_matches("http://")
            ),
            Fetch::Cli => format!("authentication failed for {declared}"),
        };
        assert!(text.contains(&expected), "{case}: {text}");
        assert_not_in(&[PASSWORD], &failed);
        assert_unchanged(&before, &private.host.snapshot());
        if user_helper {
            let log = std::fs::read_to_string(private.home.join("helper.log")).unwrap_or_default();
            assert!(log.is_empty(), "{case}: the helper was asked: {log}");
        }
    }

    // A redirect to another origin that asks for nothing is followed, and
    // the URL's credentials do not go with it.
    std::fs::write(private.home.join(".gitconfig"), "").expect("write .gitconfig");
    let public = GitServer::start(private._repo.dir.parent().expect("repos dir"), None);
    let redirector = GitServer::redirecting(&public.base(), None);
    let declared = format!("{}{path}", redirector.base());
    private.host.write(
        "plugins.toml",
        &format!(
            "[plugins.secret-plugin]\ngit = \"{}\"\nbranch = \"main\"\n",
            declared.replace("http://", &format!("http://alice:{PASSWORD}@"))
        ),
    );
    expect_success(&mut private.xtask(&["sync"]));
    assert!(
        private
            .host
            .read("plugins.lock")
            .contains(&format!("source = \"git+{declared}?branch=main#"))
    );
    let leaked: Vec<_> = public
        .requests()
        .into_iter()
        .filter(|r| r.password.is_some())
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

/// Every `git` the tool runs (fetches, `git credential`) goes through a
/// wrapper that logs its arguments: `/proc/<pid>/cmdline` is readable by
/// every user of the machine, so a secret must never be among them.
fn no_secret_reaches_any_command_line(fetch: Fetch) {
    const QUERY_SECRET: &str = "qs-Vb8-unlikely-anywhere";
    let private = Private::new(
        "private_command_lines",
        fetch,
        |url| url.replace("http://", &format!("http://alice:{PASSWORD}@")),
        "",
    );
    let real = Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .expect("sh");
    let real = String::from_utf8(real.stdout)
        .expect("path")
        .trim()
        .to_owned();
    let bin = private.home.join("bin");
    std::fs::create_dir_all(&bin).expect("create bin");
    let log = private.home.join("git-args.log");
    private.script(
        "bin/git",
        &format!(
            "printf '%s\\n' \"$*\" >> {}\nexec {real} \"$@\"\n",
            log.display()
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sync = expect_success(private.xtask(&["sync"]).env("PATH", &path));
    assert_not_in(&[PASSWORD], &sync);
    // lint --git fetches as sync does (what it then finds is not the point).
    let with_password = private
        .url()
        .replace("http://", &format!("http://alice:{PASSWORD}@"));
    let lint = private
        .xtask(&["lint", "--git", &with_password])
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .output()
        .expect("lint runs");
    assert_not_in(&[PASSWORD], &lint);
    assert!(
        stderr(&lint).contains("secret-plugin") || stdout(&lint).contains("secret-plugin"),
        "lint fetched and read the crate: {}",
        stderr(&lint)
    );
    // A token in the query: the server has no such repository, but the
    // fetch is tried with it.
    private.host.write(
        "plugins.toml",
        &format!(
            "[plugins.secret-plugin]\ngit = \"{}?private_token={QUERY_SECRET}\"\nbranch = \"main\"\n",
            private.url()
        ),
    );
    let failed = expect_failure(private.xtask(&["update"]).env("PATH", &path));
    assert_not_in(&[PASSWORD, QUERY_SECRET], &failed);
    let ran = std::fs::read_to_string(&log).unwrap_or_default();
    if fetch == Fetch::Cli {
        assert!(ran.contains("fetch"), "git fetch ran:\n{ran}");
    }
    for secret in [PASSWORD, QUERY_SECRET] {
        assert!(
            !ran.contains(secret),
            "`{secret}` on a command line:\n{ran}"
        );
    }
}

fn a_credential_helper_in_the_users_git_config_answers_and_is_told_it_worked(fetch: Fetch) {
    let private = Private::new("private_helper", fetch, str::to_owned, "");
    let helper = private.script("helper.sh", &helper_body(PASSWORD));
    std::fs::write(
        private.home.join(".gitconfig"),
        format!("[credential]\n\thelper = {}\n", helper.display()),
    )
    .expect("write .gitconfig");
    let sync = expect_success(&mut private.xtask(&["sync"]));
    assert!(!stderr(&sync).contains("warning"), "{}", stderr(&sync));
    assert_not_in(&[PASSWORD], &sync);
    let log = std::fs::read_to_string(private.home.join("helper.log")).expect("helper ran");
    assert_eq!(log.lines().collect::<Vec<_>>(), ["get", "store"]);
    assert!(private.host.read("plugins.lock").contains("secret-plugin"));
}

fn an_askpass_program_answers_when_no_helper_does(fetch: Fetch) {
    let private = Private::new("private_askpass", fetch, str::to_owned, "");
    let askpass = private.script(
        "askpass.sh",
        &format!(
            "echo \"$1\" >> \"$(dirname \"$0\")/askpass.log\"\n\
             case \"$1\" in Username*) echo alice;; Password*) echo {PASSWORD};; esac\n"
        ),
    );
    let sync = expect_success(private.xtask(&["sync"]).env("GIT_ASKPASS", &askpass));
    assert_not_in(&[PASSWORD], &sync);
    let log = std::fs::read_to_string(private.home.join("askpass.log")).expect("askpass ran");
    assert!(log.starts_with("Username for 'http://127.0.0.1:"), "{log}");
    assert!(
        log.contains("Password for 'http://alice@127.0.0.1:"),
        "{log}"
    );
    assert!(private.host.read("plugins.lock").contains("secret-plugin"));
}

fn refused_credentials_name_the_host_and_what_was_tried_and_show_no_password(fetch: Fetch) {
    let private = Private::new(
        "private_refused",
        fetch,
        |url| url.replace("http://", &format!("http://alice:{WRONG}@")),
        "",
    );
    let helper = private.script("helper.sh", &helper_body(&format!("{WRONG}2")));
    std::fs::write(
        private.home.join(".gitconfig"),
        format!("[credential]\n\thelper = {}\n", helper.display()),
    )
    .expect("write .gitconfig");
    let bare = private.url();
    let before = private.host.snapshot();
    let failed = expect_failure(&mut private.xtask(&["sync"]));
    let text = stderr(&failed);
    let tried = match fetch {
        Fetch::Gix => format!(
            "authentication failed for {bare} (the server asked for credentials); tried the \
             credentials in the URL in plugins.toml (refused); git's credential helpers and \
             askpass (`git credential fill`): user `alice` (refused); `git credential fill` \
             again, after rejecting its first answer: user `alice` (refused)."
        ),
        Fetch::Cli => format!("authentication failed for {bare} (git fetched with"),
    };
    assert!(
        text.contains(&format!(
            "error: plugin `secret-plugin` in plugins.toml ({bare}, branch `main`)\n\n\
             Caused by:\n  {tried}"
        )),
        "{text}"
    );
    assert_not_in(&[WRONG, PASSWORD], &failed);
    assert_unchanged(&before, &private.host.snapshot());
    let log = || std::fs::read_to_string(private.home.join("helper.log")).unwrap_or_default();
    let expected: &[&str] = match fetch {
        Fetch::Gix => &["get", "erase", "get", "erase"],
        // git takes a URL's credentials as the only ones.
        Fetch::Cli => &[],
    };
    assert_eq!(log().lines().collect::<Vec<_>>(), expected);

    // Without credentials in the URL, each refused answer of the helper is
    // rejected, so it can forget it.
    let _ = std::fs::remove_file(private.home.join("helper.log"));
    private.host.write(
        "plugins.toml",
        &format!("[plugins.secret-plugin]\ngit = \"{bare}\"\nbranch = \"main\"\n"),
    );
    let failed = expect_failure(&mut private.xtask(&["sync"]));
    assert!(stderr(&failed).contains(&format!("authentication failed for {bare}")));
    assert_not_in(&[WRONG, PASSWORD], &failed);
    let expected: &[&str] = match fetch {
        Fetch::Gix => &["get", "erase", "get", "erase"],
        Fetch::Cli => &["get", "erase"],
    };
    assert_eq!(log().lines().collect::<Vec<_>>(), expected);
}

fn each_kind_of_failure_to_reach_a_repository_says_which(fetch: Fetch) {
    let private = Private::new("private_failures", fetch, str::to_owned, "");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server = &private.server;
    for (url, expected) in [
        (
            private.url(),
            "authentication failed for http://127.0.0.1:".to_owned(),
        ),
        (
            server
                .url("no-such-repo")
                .replace("http://", &format!("http://alice:{PASSWORD}@")),
            format!("repository not found: {}", server.url("no-such-repo")),
        ),
        (
            format!("http://127.0.0.1:{closed}/gone"),
            format!("cannot reach 127.0.0.1:{closed} (http://127.0.0.1:{closed}/gone)"),
        ),
        (
            server
                .url("private_failures-repo")
                .replace("http://", "https://"),
            format!("TLS failure talking to 127.0.0.1:{}", server.port),
        ),
    ] {
        private.host.write(
            "plugins.toml",
            &format!("[plugins.secret-plugin]\ngit = \"{url}\"\nbranch = \"main\"\n"),
        );
        let failed = expect_failure(&mut private.xtask(&["sync"]));
        assert!(
            stderr(&failed).contains(&expected),
            "{url}:\n{}",
            stderr(&failed)
        );
        assert!(stderr(&failed).contains("plugin `secret-plugin` in plugins.toml"));
        assert_not_in(&[PASSWORD], &failed);
        assert!(!private.host.path("plugins.lock").exists());
    }
}

/// A server that accepts connections and never answers: the command-line
/// fetch gives up after `PLUGIN_GIT_STALL_TIMEOUT` seconds of silence (as
/// gix's client does after its own), instead of hanging forever.
#[test]
fn a_server_that_never_answers_fails_the_command_line_fetch_in_bounded_time() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let accepting = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                // Held open, never read or written.
                held.extend(stream.ok());
            }
        })
    };
    let private = Private::new("private_silent", Fetch::Cli, str::to_owned, "");
    private.host.write(
        "plugins.toml",
        &format!(
            "[plugins.secret-plugin]\ngit = \"http://127.0.0.1:{port}/r\"\nbranch = \"main\"\n"
        ),
    );
    let mut child = private
        .xtask(&["sync"])
        .env("PLUGIN_GIT_STALL_TIMEOUT", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sync starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("sync still fetching from a silent server after 120 s");
        }
        // A poll interval: the process's exit is what is waited for.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    stop.store(true, Ordering::SeqCst);
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    let _ = accepting.join();
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains(&format!("cannot reach 127.0.0.1:{port}")),
        "{text}"
    );
}

/// An ssh stand-in: logs its arguments, answers OpenSSH's `-G` probe,
/// skips options and the host, and runs the remote command (`git-upload-pack
/// '/path'`) here, as `git upload-pack`.
const SSH_WRAPPER: &str = r#"echo "$@" >> "$(dirname "$0")/ssh.log"
if [ "$1" = "-G" ]; then exit 0; fi
while [ $# -gt 0 ]; do case "$1" in -o|-p) shift 2;; -*) shift;; *) break;; esac; done
shift
command="$*"
exec sh -c "git ${command#git-}"
"#;

fn ssh_runs_the_program_in_git_ssh_command_or_git_ssh(fetch: Fetch) {
    for var in ["GIT_SSH_COMMAND", "GIT_SSH"] {
        let name = format!("private_{}", var.to_ascii_lowercase());
        let private = Private::new(&name, fetch, str::to_owned, "");
        let repo = GitRepo::with_plugin(
            &format!("{name}-{}-ssh", fetch.suffix()),
            "secret-plugin",
            "hidden",
        );
        let wrapper = private.script("ssh-wrapper.sh", SSH_WRAPPER);
        let url = format!("ssh://git@plugins.example{}", repo.dir.display());
        private.host.write(
            "plugins.toml",
            &format!("[plugins.secret-plugin]\ngit = \"{url}\"\nbranch = \"main\"\n"),
        );
        expect_success(private.xtask(&["sync"]).env(var, &wrapper));
        let log = std::fs::read_to_string(private.home.join("ssh.log")).expect("ssh ran");
        assert!(
            log.contains(&format!(
                "git@plugins.example git-upload-pack '{}'",
                repo.dir.display()
            )),
            "{var}: {log}"
        );
        assert!(
            private.host.read("plugins.lock").contains(&format!(
                "source = \"git+{url}?branch=main#{}\"",
                repo.head()
            )),
            "{var}"
        );
    }
}

fn a_failing_ssh_shows_its_own_words(fetch: Fetch) {
    let private = Private::new("private_ssh_fails", fetch, str::to_owned, "");
    let ssh = private.script(
        "ssh-refused.sh",
        "echo 'ssh: connect to host plugins.example port 22: Connection refused' >&2\nexit 255\n",
    );
    private.host.write(
        "plugins.toml",
        "[plugins.secret-plugin]\ngit = \"ssh://git@plugins.example/srv/r.git\"\nbranch = \"main\"\n",
    );
    let failed = expect_failure(private.xtask(&["sync"]).env("GIT_SSH_COMMAND", &ssh));
    let text = stderr(&failed);
    assert!(
        text.contains("ssh: connect to host plugins.example port 22: Connection refused"),
        "{text}"
    );
    assert!(
        text.contains(
            "error: plugin `secret-plugin` in plugins.toml (ssh://git@plugins.example/srv/r.git, \
             branch `main`)"
        ),
        "{text}"
    );
}

#[test]
fn the_command_line_fetch_pins_what_gix_pins() {
    // An annotated tag and the default branch over file://, a rev that is
    // not the newest commit and a branch over smart HTTP.
    let repos: Vec<GitRepo> = ["tagged", "revved", "branched", "default"]
        .iter()
        .map(|name| {
            let repo = GitRepo::with_plugin(&format!("cli-eq-{name}"), name, name);
            repo.git(&["tag", "-a", "v1", "-m", "release"]);
            repo.write("extra.txt", "more\n");
            repo.commit("second");
            repo
        })
        .collect();
    let first = repos[1].git(&["rev-parse", "v1^{commit}"]);
    let server = GitServer::start(repos[0].dir.parent().expect("repos dir"), None);
    let manifest = format!(
        "[plugins.tagged]\ngit = \"{}\"\ntag = \"v1\"\n\n\
         [plugins.revved]\ngit = \"{}\"\nrev = \"{first}\"\n\n\
         [plugins.branched]\ngit = \"{}\"\nbranch = \"main\"\n\n\
         [plugins.default]\ngit = \"{}\"\n",
        repos[0].url(),
        server.url("cli-eq-revved"),
        server.url("cli-eq-branched"),
        repos[3].url(),
    );
    let mut locks = Vec::new();
    for fetch in [Fetch::Gix, Fetch::Cli] {
        let host = Host::new(&format!("cli_equivalence_{}", fetch.suffix()));
        host.write("plugins.toml", &manifest);
        let mut command = host.xtask(&["sync"]);
        if fetch == Fetch::Cli {
            command.arg("--git-fetch-with-cli");
        }
        expect_success(&mut command);
        expect_success(&mut host.xtask(&["verify"]));
        locks.push(host.read("plugins.lock"));
    }
    assert_eq!(locks[0], locks[1]);
    assert!(
        locks[0].contains(&format!("?rev={first}#{first}")),
        "{}",
        locks[0]
    );
}

/// Runs `command` with its stderr on a new pseudo-terminal (120 columns);
/// returns its output and everything written to the terminal.
fn in_terminal(command: &mut Command) -> (std::process::Output, String) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::Read as _;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let size = rustix::termios::Winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&master, size).expect("set the terminal's size");
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("UTF-8 pty name"))
        .expect("open the terminal");
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(terminal)
        .spawn()
        .expect("spawn");
    // Only the child holds the terminal now: reading ends (EIO) when it
    // and every process it started are gone.
    *command = Command::new("true");
    let reader = std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut screen = Vec::new();
        let mut chunk = [0; 4096];
        while let Ok(n @ 1..) = master.read(&mut chunk) {
            screen.extend_from_slice(&chunk[..n]);
        }
        screen
    });
    let output = child.wait_with_output().expect("wait");
    let screen = reader.join().expect("reader");
    (output, String::from_utf8_lossy(&screen).into_owned())
}

#[test]
fn a_terminal_sees_a_progress_bar_a_pipe_one_line_and_quiet_nothing() {
    let private = Private::new(
        "private_progress",
        Fetch::Gix,
        |url| url.replace("http://", &format!("http://alice:{PASSWORD}@")),
        "",
    );
    let bare = private.url();
    let (output, screen) = in_terminal(&mut private.xtask(&["sync"]));
    assert!(output.status.success(), "{screen}");
    // The bar, drawn in place with terminal escapes: its prefix, the
    // plugin, and at the end all objects received.
    assert!(screen.contains("Fetching"), "{screen:?}");
    assert!(
        screen.contains(&format!(
            "secret-plugin ({bare}, branch `main`) [=========================] "
        )),
        "{screen:?}"
    );
    assert!(screen.contains("\u{1b}["), "{screen:?}");
    let done = format!("     Fetched secret-plugin ({bare}, branch `main`): ");
    assert!(screen.contains(&done), "{screen:?}");
    assert!(!screen.contains(PASSWORD), "{screen:?}");

    // Not a terminal: one plain line per fetch, no escapes.
    let forget = || {
        std::fs::remove_file(private.host.path("plugins.lock")).expect("remove the lock");
        std::fs::remove_dir_all(private.host.cache_dir()).expect("empty the cache");
    };
    forget();
    let piped = expect_success(&mut private.xtask(&["sync"]));
    let text = stderr(&piped);
    let line = text
        .lines()
        .find(|l| l.starts_with(&done))
        .unwrap_or_else(|| panic!("no fetch line in:\n{text}"));
    let counts = line.strip_prefix(&done).expect("prefix");
    let (objects, rest) = counts.split_once(" objects, ").expect("objects");
    assert!(objects.parse::<u32>().expect("a count") >= 3, "{line}");
    assert!(rest.ends_with('s') && rest.contains(" in "), "{line}");
    assert!(!text.contains('\u{1b}'), "{text:?}");

    // -q: nothing.
    forget();
    let quiet = expect_success(&mut private.xtask(&["sync", "-q"]));
    assert_eq!(stderr(&quiet), "");
    forget();
    let (output, screen) = in_terminal(&mut private.xtask(&["sync", "-q"]));
    assert!(output.status.success());
    assert_eq!(screen, "");
    assert!(private.host.path("plugins.lock").is_file());
}
