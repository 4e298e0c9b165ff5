//! The plugin set as one text embedded in the binary (`PluginSet::stamp`):
//! written by codegen, found in a built binary's bytes by `dist`, which
//! checks it against `plugins.lock` without running the binary (so a build
//! for another target is checked too).
//!
//! ```text
//! \0static-plugins-set v1\n
//! lock sha256:<digest of plugins.lock>\n
//! plugin <name> <package> <version> <source> <checksum or -> [dev]\n
//! end\0
//! ```
//! Names, packages, versions, sources and checksums hold no whitespace
//! (validated when the lock is read), so a line splits on spaces.

use std::collections::{BTreeMap, BTreeSet};

use crate::lockfile::{LockedPlugin, Lockfile};

const BEGIN: &[u8] = b"\0static-plugins-set v1\n";
const END: &[u8] = b"\nend\0";
/// The longest stamp looked for; anything longer is not one.
const MAX: usize = 16 << 20;

/// The stamp of a set generated from a lock with digest `lock_digest`;
/// `overridden` names the plugins built from a working copy.
pub fn render<'a>(
    lock_digest: &str,
    plugins: impl IntoIterator<Item = &'a LockedPlugin>,
    overridden: &BTreeSet<&str>,
) -> String {
    let mut text = String::from_utf8_lossy(BEGIN).into_owned();
    text.push_str(&format!("lock {lock_digest}\n"));
    for plugin in plugins {
        let checksum = plugin.checksum().map_or("-", |c| c.as_str());
        text.push_str(&format!(
            "plugin {} {} {} {} {checksum}{}\n",
            plugin.name,
            plugin.package,
            plugin.version,
            plugin.source_field(),
            if overridden.contains(plugin.name.as_str()) {
                " dev"
            } else {
                ""
            }
        ));
    }
    // Every line ends with a newline: the text ends with END.
    text.push_str("end\0");
    text
}

/// Every distinct stamp in `bytes`, in order of first appearance.
pub fn find(bytes: &[u8]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = bytes;
    while let Some(start) = position(rest, BEGIN) {
        let Some(after) = rest.get(start..) else {
            break;
        };
        let window = after.get(..MAX.min(after.len())).unwrap_or(after);
        let body = window.get(BEGIN.len()..).unwrap_or_default();
        // A stamp holds no second beginning: a stray marker without an end
        // is skipped, not joined to the next stamp.
        match (position(body, END), position(body, BEGIN)) {
            (Some(end), next) if next.is_none_or(|n| n > end) => {
                let length = BEGIN.len() + end + END.len();
                if let Some(stamp) = window.get(..length) {
                    let text = String::from_utf8_lossy(stamp).into_owned();
                    if !found.contains(&text) {
                        found.push(text);
                    }
                }
                rest = after.get(length..).unwrap_or_default();
            }
            _ => rest = after.get(BEGIN.len()..).unwrap_or_default(),
        }
    }
    found
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What differs between the stamp a binary embeds and the one `lock`
/// (whose text has digest `lock_digest`) gives, one line per difference,
/// naming the plugin; empty when they agree.
pub fn differences(embedded: &str, lock: &Lockfile, lock_digest: &str) -> Vec<String> {
    let expected = render(lock_digest, &lock.plugins, &BTreeSet::new());
    let parse = |text: &str| -> (Option<String>, BTreeMap<String, String>) {
        let mut digest = None;
        let mut plugins = BTreeMap::new();
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("lock ") {
                digest = Some(d.to_owned());
            } else if let Some(rest) = line.strip_prefix("plugin ") {
                let name = rest.split(' ').next().unwrap_or_default().to_owned();
                plugins.insert(name, rest.to_owned());
            }
        }
        (digest, plugins)
    };
    let (found_digest, found) = parse(embedded);
    let (_, wanted) = parse(&expected);
    let mut out = Vec::new();
    for (name, line) in &wanted {
        match found.get(name) {
            None => out.push(format!(
                "plugin `{name}` is pinned in plugins.lock but not in the binary"
            )),
            Some(other) if other != line => out.push(format!(
                "plugin `{name}`: the binary has `{other}`, plugins.lock pins `{line}`"
            )),
            Some(_) => {}
        }
    }
    for name in found.keys().filter(|n| !wanted.contains_key(*n)) {
        out.push(format!(
            "plugin `{name}` is in the binary but not in plugins.lock"
        ));
    }
    if out.is_empty() && found_digest.as_deref() != Some(lock_digest) {
        out.push(format!(
            "the binary was generated from another plugins.lock ({}; this one is {lock_digest})",
            found_digest.as_deref().unwrap_or("no digest")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const LOCK: &str = "\
version = 1
manifest-digest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"

[[plugin]]
name = \"upper\"
package = \"upper\"
version = \"0.1.0\"
source = \"local\"
path = \"plugins/upper\"
";

    fn lock(text: &str) -> Lockfile {
        Lockfile::parse(text, Path::new("plugins.lock")).unwrap()
    }

    #[test]
    fn a_stamp_is_found_among_other_bytes_once() {
        let lock = lock(LOCK);
        let stamp = render("sha256:ab", &lock.plugins, &BTreeSet::new());
        let mut binary = b"\x7fELF junk \0static-plugins-set v1\n no end".to_vec();
        binary.extend_from_slice(stamp.as_bytes());
        binary.extend_from_slice(b"more");
        binary.extend_from_slice(stamp.as_bytes());
        assert_eq!(find(&binary), vec![stamp.clone()]);
        assert!(differences(&stamp, &lock, "sha256:ab").is_empty());
        assert_eq!(find(b"no stamp here"), Vec::<String>::new());
    }

    #[test]
    fn two_different_stamps_are_both_found() {
        // A plugin can put a stamp's text in its own code: the real one is
        // still there, so the binary holds two and dist refuses it.
        let lock = lock(LOCK);
        let real = render("sha256:ab", &lock.plugins, &BTreeSet::new());
        let fake = render("sha256:ab", &[], &BTreeSet::new());
        let binary = format!("{fake}..{real}");
        assert_eq!(find(binary.as_bytes()), vec![fake, real]);
    }

    #[test]
    fn differences_name_the_plugin() {
        let lock = lock(LOCK);
        let other = lock_with_version("0.2.0");
        let stamp = render("sha256:ab", &other.plugins, &BTreeSet::new());
        let diff = differences(&stamp, &lock, "sha256:ab");
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert!(
            diff[0].starts_with("plugin `upper`: the binary has"),
            "{diff:?}"
        );
        let empty = render("sha256:ab", &[], &BTreeSet::new());
        assert_eq!(
            differences(&empty, &lock, "sha256:ab"),
            vec!["plugin `upper` is pinned in plugins.lock but not in the binary"]
        );
        assert_eq!(
            differences(&stamp, &lock_with_version("0.2.0"), "sha256:cd"),
            vec![
                "the binary was generated from another plugins.lock (sha256:ab; this one is sha256:cd)"
            ]
        );
        let dev = render("sha256:ab", &lock.plugins, &BTreeSet::from(["upper"]));
        assert!(differences(&dev, &lock, "sha256:ab")[0].contains("dev"));
    }

    fn lock_with_version(version: &str) -> Lockfile {
        lock(&LOCK.replace("0.1.0", version))
    }
}
