//! Secrets in repository URLs: what is one, the URL without it, and a
//! process-wide list of secrets seen, which every line the tool prints
//! passes through ([`redact`]).
//!
//! A URL as written in plugins.toml may carry credentials:
//! `https://user:TOKEN@host/…`, `https://TOKEN@host/…`, or a query parameter
//! such as `?private_token=…`. The tool uses them to fetch, but stores and
//! prints only the *bare* URL: no userinfo for http(s), no password for ssh
//! (whose user name is part of the address), and no query parameter but
//! those that only name what to fetch. The bare URL is what goes into plugins.lock, the generated
//! crate, the binary, `list`, progress, errors and the cache's directory
//! names.
//!
//! [`redact`] is also where what is printed loses the control characters a
//! terminal would act on.

use std::borrow::Cow;
use std::sync::Mutex;

/// Credentials taken out of a URL's userinfo, for the transport to offer
/// when the server asks. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UrlCredentials {
    pub username: String,
    /// Empty when the URL gave a user name alone (`https://TOKEN@host`).
    pub password: String,
}

impl std::fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlCredentials(***)")
    }
}

/// A URL taken apart (see [`build_support::url`]).
#[derive(Debug, Clone)]
pub struct SplitUrl {
    /// What may be stored and printed.
    pub bare: String,
    /// What to connect to (see [`build_support::url::SplitUrl::fetch`]).
    pub fetch: String,
    /// An http(s) URL's userinfo.
    pub credentials: Option<UrlCredentials>,
    /// Whether anything secret was taken out.
    pub had_secret: bool,
}

/// Takes `url` apart and registers every secret found with [`register`],
/// so nothing printed later shows it.
pub fn split(url: &str) -> SplitUrl {
    let split = build_support::url::split(url);
    for secret in &split.secrets {
        register(secret);
    }
    SplitUrl {
        bare: split.bare,
        fetch: split.fetch,
        credentials: split
            .credentials
            .map(|(username, password)| UrlCredentials { username, password }),
        had_secret: split.had_secret,
    }
}

/// The URL as it may be stored and printed.
pub fn bare(url: &str) -> String {
    split(url).bare
}

/// Whether `url` carries anything secret.
pub fn has_credentials(url: &str) -> bool {
    split(url).had_secret
}

/// Secrets seen by this process, longest first (so a secret that contains
/// another is hidden whole).
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Secrets shorter than this are not redacted: hiding every `ab` in the
/// output would garble it, and such a secret protects nothing.
const MIN_SECRET: usize = 3;

/// Remembers `secret` so that [`redact`] hides it in everything printed
/// from now on.
pub fn register(secret: &str) {
    if secret.len() < MIN_SECRET {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every URL in it reduced to its bare form, and every
/// registered secret (also percent-encoded) replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = bare_urls(text);
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    for secret in secrets.iter() {
        for form in [Cow::Borrowed(secret.as_str()), percent_encoded(secret)] {
            if out.contains(form.as_ref()) {
                out = Cow::Owned(out.replace(form.as_ref(), "***"));
            }
        }
    }
    // Last: a secret holding a control character is hidden whole first.
    build_support::url::escape_controls(out)
}

/// `text` with every `scheme://…` run replaced by its bare form, its
/// secrets registered: a URL written into a message by a library the tool
/// does not control loses its credentials too.
fn bare_urls(text: &str) -> Cow<'_, str> {
    build_support::url::bare_urls(text, &mut |secret| register(secret))
}

/// `text` with every byte outside the URL-safe set percent-encoded.
fn percent_encoded(text: &str) -> Cow<'_, str> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if text.bytes().all(safe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if safe(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{bare, has_credentials, redact, register, split};

    #[test]
    fn userinfo_of_https_is_taken_out_and_offered() {
        let url = split("https://alice:s3cr3t-pw@git.example.com:8443/team/plugin.git");
        assert_eq!(url.bare, "https://git.example.com:8443/team/plugin.git");
        assert_eq!(url.fetch, url.bare);
        let credentials = url.credentials.expect("credentials");
        assert_eq!(credentials.username, "alice");
        assert_eq!(credentials.password, "s3cr3t-pw");
        assert_eq!(format!("{credentials:?}"), "UrlCredentials(***)");
        assert!(url.had_secret);
    }

    #[test]
    fn a_token_as_user_name_is_a_secret() {
        let url = split("https://ghp_0123456789abcdef@github.com/o/r");
        assert_eq!(url.bare, "https://github.com/o/r");
        assert!(url.had_secret);
        assert_eq!(redact("x ghp_0123456789abcdef y"), "x *** y");
    }

    #[test]
    fn ssh_keeps_its_user_and_loses_a_password() {
        assert_eq!(split("ssh://git@host/r.git").bare, "ssh://git@host/r.git");
        assert!(!has_credentials("ssh://git@host/r.git"));
        let url = split("ssh://git:hunter2-ssh@host:22/r.git");
        assert_eq!(url.bare, "ssh://git@host:22/r.git");
        assert_eq!(url.fetch, "ssh://git@host:22/r.git");
        assert!(url.credentials.is_none());
        assert!(url.had_secret);
        assert_eq!(bare("git@github.com:o/r.git"), "git@github.com:o/r.git");
    }

    #[test]
    fn query_parameters_are_kept_for_fetching_only_unless_known_public() {
        let url = split("https://gitlab.example/g/r.git?private_token=glpat-XYZ123&ref=x#frag");
        assert_eq!(url.bare, "https://gitlab.example/g/r.git?ref=x#frag");
        assert_eq!(
            url.fetch,
            "https://gitlab.example/g/r.git?private_token=glpat-XYZ123&ref=x#frag"
        );
        assert!(url.had_secret);
        for key in [
            "token",
            "access_token",
            "X-Amz-Signature",
            "sig",
            "password",
            "X-Goog-Signature",
            "sv",
            "anything-else",
        ] {
            let url = format!("https://h/r?{key}=v4lue-{key}");
            assert_eq!(bare(&url), "https://h/r", "{key}");
            assert_eq!(redact(&format!("v4lue-{key}")), "***");
        }
        let alone = split("https://h/r?t0ken-by-itself");
        assert_eq!(alone.bare, "https://h/r");
        assert_eq!(redact("t0ken-by-itself"), "***");
        assert_eq!(
            bare("https://h/r?Ref=a&branch=b&tag=c&rev=d&path=e&service=f&version=g"),
            "https://h/r?Ref=a&branch=b&tag=c&rev=d&path=e&service=f&version=g"
        );
    }

    #[test]
    fn plain_urls_and_paths_are_unchanged() {
        for url in [
            "https://github.com/o/r",
            "file:///srv/repo",
            "../repo",
            "http://127.0.0.1:8080/r.git",
        ] {
            assert_eq!(bare(url), url);
            assert!(!has_credentials(url), "{url}");
        }
    }

    #[test]
    fn control_characters_are_escaped_and_lines_kept() {
        assert_eq!(
            redact("a\u{1b}[31mred\rb\n\tc\u{7f}\u{9b}\u{202e}d"),
            "a\\u{1b}[31mred\\u{d}b\n\tc\\u{7f}\\u{9b}\\u{202e}d"
        );
        assert_eq!(redact("plain\ntext"), "plain\ntext");
        // Escaping twice changes nothing more.
        let once = redact("x\u{7}y").into_owned();
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn redact_hides_registered_secrets_also_percent_encoded() {
        register("p@ss word/1");
        assert_eq!(
            redact("a p@ss word/1 b p%40ss%20word%2F1 c"),
            "a *** b *** c"
        );
        register("ab");
        assert_eq!(redact("ab"), "ab", "too short to be worth hiding");
    }

    #[test]
    fn redact_strips_credentials_from_any_url_in_a_message() {
        assert_eq!(
            redact(
                "Couldn't fetch \"https://bob:never-registered@h:1/r?ref=1&token=t0k3n-x\": 401"
            ),
            "Couldn't fetch \"https://h:1/r?ref=1\": 401"
        );
        assert_eq!(
            redact("see ssh://git:pw-ssh-x@host/r, then file:///srv/r and http://h/p."),
            "see ssh://git@host/r, then file:///srv/r and http://h/p."
        );
        // What the message carried is now known: hidden elsewhere too.
        assert_eq!(redact("never-registered and t0k3n-x"), "*** and ***");
        assert_eq!(redact("no url here: a://"), "no url here: a://");
    }

    #[test]
    fn credentials_in_urls_are_recognised() {
        for url in [
            "https://user:tok3n@example.com/me/tool.git",
            "http://a:b@127.0.0.1:8080/x",
            "https://example.com/x.git?private_token=abc-test-token",
            "https://example.com/x.git?ref=1&Access_Token=abc-test-token2",
            "https://example.com/x?tokens=1",
        ] {
            assert!(has_credentials(url), "{url}");
        }
        for url in [
            "https://example.com/me/tool.git",
            "ssh://git@example.com/me/tool.git",
            "file:///srv/tool.git",
            "https://example.com/a@b/c",
            "https://example.com/x?branch=main",
        ] {
            assert!(!has_credentials(url), "{url}");
        }
    }
}
