//! Secrets in repository URLs, and the URL without them: what plugins.lock,
//! the generated crate and the manifest digest record. The engine uses the
//! credentials to fetch; nothing stores them.
//!
//! The *bare* URL has no userinfo for http(s), no password for ssh (whose
//! user name is part of the address), and no query parameter but those that
//! only name what to fetch (`ref`, `branch`, ...).

use std::borrow::Cow;

/// A URL taken apart.
#[derive(Clone, PartialEq, Eq)]
pub struct SplitUrl {
    /// What may be stored and printed.
    pub bare: String,
    /// What to connect to: for http(s), without userinfo (its credentials
    /// are in `credentials`); query parameters stay, since
    /// the server needs them.
    pub fetch: String,
    /// An http(s) URL's userinfo: user name and password (empty when the
    /// URL gave a user name alone).
    pub credentials: Option<(String, String)>,
    /// The secrets taken out (passwords, tokens), to hide them in output.
    pub secrets: Vec<String>,
    /// Whether anything secret was taken out (userinfo of an http(s) URL,
    /// a password, a query parameter not known to be public).
    pub had_secret: bool,
}

/// Query parameter names that only say *what* to fetch (compared
/// lowercase). Every other parameter is taken for a secret: the names
/// hosts use for tokens and signatures are too many to list
/// (`private_token`, `X-Goog-Signature`, `sv`/`sig`, ...), and a secret
/// printed or stored is not taken back.
const PUBLIC_KEYS: &[&str] = &["ref", "branch", "tag", "rev", "path", "service", "version"];

fn is_secret_key(key: &str) -> bool {
    !PUBLIC_KEYS.contains(&key.to_ascii_lowercase().as_str())
}

/// Takes `url` apart (see the module documentation).
pub fn split(url: &str) -> SplitUrl {
    let Some((scheme, rest)) = url.split_once("://") else {
        // A path or scp-like `user@host:path`: a user name, never a secret.
        return SplitUrl {
            bare: url.to_owned(),
            fetch: url.to_owned(),
            credentials: None,
            had_secret: false,
            secrets: Vec::new(),
        };
    };
    let ssh = matches!(
        scheme.to_ascii_lowercase().as_str(),
        "ssh" | "git+ssh" | "ssh+git"
    );
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
    let mut had_secret = false;
    let mut credentials = None;
    let mut secrets = Vec::new();
    let (kept_user, host) = match authority.rsplit_once('@') {
        None => (None, authority),
        Some((userinfo, host)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            if let Some(password) = password {
                secrets.push(password.to_owned());
                had_secret = true;
            }
            if ssh {
                (Some(user), host)
            } else {
                // A user name alone over http(s) is how tokens are often
                // passed (`https://TOKEN@host`): treat it as one.
                if password.is_none_or(str::is_empty) {
                    secrets.push(user.to_owned());
                }
                had_secret = true;
                credentials = Some((user.to_owned(), password.unwrap_or("").to_owned()));
                (None, host)
            }
        }
    };
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    let mut kept = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        // A parameter without `=` may be a token on its own.
        let (key, value) = pair.split_once('=').unwrap_or((pair, pair));
        if pair.is_empty() {
            continue;
        }
        if is_secret_key(key) {
            secrets.push(value.to_owned());
            had_secret = true;
        } else {
            kept.push(pair);
        }
    }
    let assemble = |user: Option<&str>, query: Option<String>| {
        let mut out = format!("{scheme}://");
        if let Some(user) = user {
            out.push_str(user);
            out.push('@');
        }
        out.push_str(host);
        out.push_str(path);
        if let Some(query) = query {
            out.push('?');
            out.push_str(&query);
        }
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(fragment);
        }
        out
    };
    let bare_query = (!kept.is_empty()).then(|| kept.join("&"));
    SplitUrl {
        bare: assemble(kept_user, bare_query),
        fetch: assemble(kept_user, query.map(str::to_owned)),
        credentials,
        had_secret,
        secrets,
    }
}

/// `text` as it may be printed: every URL in it bare, every character a
/// terminal would act on escaped.
pub fn redact(text: &str) -> Cow<'_, str> {
    escape_controls(bare_urls(text, &mut |_| {}))
}

/// Whether `c` may reach a terminal as it is: not a control character
/// (but newline and tab, which messages are made of), nor a bidirectional
/// override that would make a line read other than it is.
fn is_shown_raw(c: char) -> bool {
    (!c.is_control() || c == '\n' || c == '\t')
        && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character a terminal would act on (escape sequences,
/// carriage returns, bidi overrides) written as `\u{…}`: what a
/// repository, a server or a manifest says cannot move the cursor, recolour
/// the terminal or hide a line. Every line printed passes through
/// the engine's `secret::redact`, which calls this, and what the build
/// script prints passes through [`redact`].
pub fn escape_controls(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.chars().all(is_shown_raw) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_shown_raw(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    Cow::Owned(out)
}

/// `text` with every `scheme://…` run replaced by its bare form; each
/// secret taken out is handed to `found`.
pub fn bare_urls<'a>(text: &'a str, found: &mut dyn FnMut(&str)) -> Cow<'a, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let ends_url = |c: char| c.is_whitespace() || "\"'`<>()[]{}|\\^".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at_checked(at).unwrap_or((rest, ""));
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || "+.-".contains(*c))
            .map(char::len_utf8)
            .sum::<usize>();
        let (kept, scheme) = before
            .split_at_checked(before.len().saturating_sub(scheme_len))
            .unwrap_or((before, ""));
        let end = after.find(ends_url).unwrap_or(after.len());
        let (tail, next) = after.split_at_checked(end).unwrap_or((after, ""));
        out.push_str(kept);
        let url = split(&format!("{scheme}{tail}"));
        for secret in &url.secrets {
            found(secret);
        }
        out.push_str(&url.bare);
        rest = next;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The URL as it may be stored and printed.
pub fn bare(url: &str) -> String {
    split(url).bare
}

impl std::fmt::Debug for SplitUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitUrl")
            .field("bare", &self.bare)
            .field("had_secret", &self.had_secret)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_build_script_prints_is_bare_and_escaped() {
        let message = "plugins.toml:3:9: `git = \"https://alice:pw-Qq1@\"` has no host or path \
                       (also https://h/r?private_token=t0k-9&ref=x)\u{1b}[2J";
        let shown = redact(message);
        assert!(
            !shown.contains("pw-Qq1") && !shown.contains("t0k-9"),
            "{shown}"
        );
        assert!(shown.contains("https://h/r?ref=x"), "{shown}");
        assert!(shown.ends_with("\\u{1b}[2J"), "{shown}");
        let mut found = Vec::new();
        let _ = bare_urls(message, &mut |s| found.push(s.to_owned()));
        assert!(found.iter().any(|s| s == "pw-Qq1"), "{found:?}");
    }
}
