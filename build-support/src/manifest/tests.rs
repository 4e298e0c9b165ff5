//! Manifest parsing: accepted forms, and the exact error for each bad input.

use super::*;

fn parse(text: &str) -> Result<Manifest, Error> {
    Manifest::parse(text, Path::new("plugins.toml"))
}

#[track_caller]
fn check_error(text: &str, expected: &str) {
    match parse(text) {
        Ok(m) => panic!("expected an error, parsed {m:?}"),
        Err(e) => assert_eq!(e.to_string(), expected),
    }
}

#[test]
fn parses_every_supported_key() {
    let m = parse(
        r#"
# what the app includes
[plugins]
upper = { path = "plugins/upper" }
rot = { path = "/abs/rot13", package = "rot13", features = ["rot47", "extra", "rot47"], default-features = false }

[plugins.shout]
path = "plugins/shout"
enabled = false
"#,
    )
    .unwrap();
    let names: Vec<_> = m.plugins.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["rot", "shout", "upper"]);
    let rot = &m.plugins[0];
    assert_eq!(rot.package, "rot13");
    assert_eq!(rot.source, Source::Path("/abs/rot13".into()));
    assert_eq!(rot.features, ["extra", "rot47"]);
    assert!(!rot.default_features);
    assert!(rot.enabled);
    assert_eq!(rot.line, 5);
    assert!(!m.plugins[1].enabled);
    assert_eq!(m.plugins[2].package, "upper");
    assert!(m.plugins[2].default_features);
    assert_eq!(m.enabled().count(), 2);
}

#[test]
fn empty_manifest_has_no_plugins() {
    assert_eq!(parse("").unwrap().plugins, []);
    assert_eq!(parse("[plugins]\n").unwrap().plugins, []);
}

#[test]
fn digest_ignores_formatting_and_order_but_not_content() {
    let a = parse("[plugins]\na = { path = \"x\" }\nb = { path = \"y\" }\n").unwrap();
    let b = parse("# comment\n[plugins.b]\npath = 'y'\n[plugins.a]\npath = \"x\"\n").unwrap();
    let c =
        parse("[plugins]\na = { path = \"x\", enabled = false }\nb = { path = \"y\" }\n").unwrap();
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert!(a.digest().starts_with("sha256:"));
    assert_eq!(a.digest().len(), 7 + 64);
}

#[test]
fn bad_inputs_name_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[plugins]\nupper = { pth = \"x\" }\n",
            "plugins.toml:2:11: unknown key `pth` in plugin `upper`; did you mean `path`?",
        ),
        (
            "[plugins]\nupper = { path = \"x\", default_features = false }\n",
            "plugins.toml:2:23: unknown key `default_features` in plugin `upper`; did you mean `default-features`?",
        ),
        (
            "[plugins]\nupper = { path = \"x\", colour = 1 }\n",
            "plugins.toml:2:23: unknown key `colour` in plugin `upper`; expected one of `path`, `git`, `version`, `registry`, `tag`, `branch`, `rev`, `subdir`, `package`, `features`, `default-features`, `enabled`",
        ),
        (
            "[plugin]\nupper = { path = \"x\" }\n",
            "plugins.toml:1:2: unknown key `plugin`; did you mean `plugins`?",
        ),
        (
            "[plugins]\nupper = { path = 3 }\n",
            "plugins.toml:2:18: plugin `upper`: `path` must be a string, found integer",
        ),
        (
            "[plugins]\nupper = { path = \"x\", enabled = \"no\" }\n",
            "plugins.toml:2:33: plugin `upper`: `enabled` must be a boolean, found string",
        ),
        (
            "[plugins]\nupper = { path = \"x\", features = \"a\" }\n",
            "plugins.toml:2:34: plugin `upper`: `features` must be an array of strings, found string",
        ),
        (
            "[plugins]\nupper = { path = \"x\", features = [\"a\", 1] }\n",
            "plugins.toml:2:40: plugin `upper`: each of `features` must be a non-empty string, found integer",
        ),
        (
            "[plugins]\nupper = 1\n",
            "plugins.toml:2:9: plugin `upper` must be a version requirement such as `upper = \"1.2\"` or a table such as `upper = { path = \"…\" }`, found integer",
        ),
        (
            "[plugins]\nupper = { features = [] }\n",
            "plugins.toml:2:1: plugin `upper` has no source; add `version = \"…\"`, `git = \"…\"` or `path = \"…\"`",
        ),
        (
            "[plugins]\nupper = { path = \"\" }\n",
            "plugins.toml:2:18: plugin `upper`: `path` is empty",
        ),
        (
            "[plugins]\nupper = { path = \"a\\u0000b\" }\n",
            "plugins.toml:2:18: plugin `upper`: `path = \"a\\0b\"` has a control character",
        ),
        (
            "[plugins]\n\"9lives\" = { path = \"x\" }\n",
            "plugins.toml:2:1: invalid plugin name `9lives`: use ASCII letters, digits, `-` and `_`, starting with a letter or `_`",
        ),
        (
            "[plugins]\nfn = { path = \"x\" }\n",
            "plugins.toml:2:1: invalid plugin name `fn`: `fn` is a Rust keyword, which cannot name a crate in the generated code",
        ),
        (
            "[plugins]\n_ = { path = \"x\" }\n",
            "plugins.toml:2:1: invalid plugin name `_`: `_` is a Rust keyword, which cannot name a crate in the generated code",
        ),
        (
            "[plugins]\nplugin_api = { path = \"x\" }\n",
            "plugins.toml:2:1: invalid plugin name `plugin_api`: the name is reserved by the generated crate",
        ),
        (
            "[plugins]\nup = { path = \"x\", package = \"a b\" }\n",
            "plugins.toml:2:30: plugin `up`: invalid `package` `a b`: use ASCII letters, digits, `-` and `_`, starting with a letter or `_`",
        ),
        (
            "[plugins]\nfoo-bar = { path = \"x\" }\nfoo_bar = { path = \"y\" }\n",
            "plugins.toml:3:1: plugins `foo-bar` and `foo_bar` have the same Rust name `foo_bar`; rename one",
        ),
        (
            "plugins = 3\n",
            "plugins.toml:1:11: `plugins` must be a table, found integer",
        ),
    ];
    for (text, expected) in cases {
        check_error(text, expected);
    }
}

#[test]
fn invalid_toml_is_reported_with_its_position() {
    let err = parse("[plugins]\nupper = { path = \"x\" \n").unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("plugins.toml:2:"), "{message}");
    assert!(message.contains("invalid TOML"), "{message}");
}

#[test]
fn parses_git_sources() {
    let m = parse(
        r#"
[plugins]
a = { git = "https://example.com/a.git" }
b = { git = "ssh://git@example.com/b", tag = "v1.2.0" }
c = { git = "file:///srv/c", branch = "main", subdir = "./crates//c/" }
d = { git = "../repos/d", rev = "0123456789ABCDEF0123456789abcdef01234567" }
"#,
    )
    .unwrap();
    let sources: Vec<_> = m.plugins.iter().map(|d| d.source.clone()).collect();
    assert_eq!(
        sources,
        [
            Source::Git {
                url: "https://example.com/a.git".into(),
                reference: GitReference::DefaultBranch,
                subdir: None,
            },
            Source::Git {
                url: "ssh://git@example.com/b".into(),
                reference: GitReference::Tag("v1.2.0".into()),
                subdir: None,
            },
            Source::Git {
                url: "file:///srv/c".into(),
                reference: GitReference::Branch("main".into()),
                subdir: Some("crates/c".into()),
            },
            Source::Git {
                url: "../repos/d".into(),
                reference: GitReference::Rev("0123456789abcdef0123456789abcdef01234567".into()),
                subdir: None,
            },
        ]
    );
    assert_eq!(GitReference::Tag("v1".into()).query(), "?tag=v1");
    assert_eq!(GitReference::DefaultBranch.query(), "");
}

#[test]
fn bad_git_sources_are_precise() {
    let cases: &[(&str, &str)] = &[
        (
            "[plugins]\na = { git = \"https://x/a\", tag = \"v1\", branch = \"main\" }\n",
            "plugins.toml:2:40: plugin `a`: give only one of `tag`, `branch` and `rev` (found `tag` and `branch`)",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", path = \"p\" }\n",
            "plugins.toml:2:7: plugin `a` has both `path` and `git`; keep one",
        ),
        (
            "[plugins]\na = { path = \"p\", tag = \"v1\" }\n",
            "plugins.toml:2:19: plugin `a`: `tag` needs `git = \"…\"`, not `path`",
        ),
        (
            "[plugins]\na = { subdir = \"x\" }\n",
            "plugins.toml:2:7: plugin `a`: `subdir` needs `git = \"…\"`",
        ),
        (
            "[plugins]\na = { git = \"git@github.com:me/a.git\" }\n",
            "plugins.toml:2:13: plugin `a`: `git = \"git@github.com:me/a.git\"` is an scp-like address; write it as a URL: `git = \"ssh://git@github.com/me/a.git\"`",
        ),
        (
            "[plugins]\na = { git = \"ftp://x/a\" }\n",
            "plugins.toml:2:13: plugin `a`: `git = \"ftp://x/a\"` has unsupported scheme `ftp`; use https://, http://, ssh://, file:// or a local path",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", rev = \"abc123\" }\n",
            "plugins.toml:2:34: plugin `a`: `rev = \"abc123\"` is not a full 40-hex commit id; get it with `git rev-parse abc123` in the repository",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", subdir = \"../etc\" }\n",
            "plugins.toml:2:37: plugin `a`: `subdir = \"../etc\"` must not leave the repository (`..`)",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", subdir = \"/etc\" }\n",
            "plugins.toml:2:37: plugin `a`: `subdir = \"/etc\"` must be relative to the repository root",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", tag = \"\" }\n",
            "plugins.toml:2:34: plugin `a`: `tag` is empty",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", tag = \"*\" }\n",
            "plugins.toml:2:34: plugin `a`: `tag = \"*\"` is not a valid git tag name: it may not contain spaces, control characters or any of `~^:?*[\\`",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", branch = \"ma..in\" }\n",
            "plugins.toml:2:37: plugin `a`: `branch = \"ma..in\"` is not a valid git branch name: it may not contain `..`, `@{` or `//`, or be `@`",
        ),
        (
            "[plugins]\na = { git = \"https://x/a\", branch = \"-x\" }\n",
            "plugins.toml:2:37: plugin `a`: `branch = \"-x\"` is not a valid git branch name: it may not start with `-` or `/`, or end with `/`",
        ),
        (
            "[plugins]\na = { git = \"https://x/\\u0007a\" }\n",
            "plugins.toml:2:13: plugin `a`: `git = \"https://x/\\u{7}a\"` has a control or whitespace character",
        ),
    ];
    for (text, expected) in cases {
        check_error(text, expected);
    }
}

#[test]
fn host_extension_crates_are_parsed_and_enter_the_digest_only_when_set() {
    let plain = parse("[plugins]\na = { path = \"a\" }\n").unwrap();
    let empty = parse("[plugins]\na = { path = \"a\" }\n[host]\nextension-crates = []\n").unwrap();
    assert_eq!(
        plain.digest(),
        empty.digest(),
        "an empty list changes nothing"
    );
    let set = parse(
        "[host]\nextension-crates = [\"app-api\", \"app_types\", \"app-api\"]\n[plugins]\na = { path = \"a\" }\n",
    )
    .unwrap();
    assert_eq!(set.extension_crates, ["app-api", "app_types"]);
    assert_ne!(set.digest(), plain.digest());
    check_error(
        "[host]\nextension-crate = [\"x\"]\n",
        "plugins.toml:2:1: unknown key `extension-crate` in `[host]`; did you mean `extension-crates`?",
    );
    check_error(
        "[host]\nextension-crates = \"x\"\n",
        "plugins.toml:2:20: `host.extension-crates` must be an array of crate names, found string",
    );
    check_error(
        "[host]\nextension-crates = [1]\n",
        "plugins.toml:2:21: each of `host.extension-crates` must be a crate name, found integer",
    );
    check_error(
        "host = 1\n",
        "plugins.toml:1:8: `host` must be a table, found integer",
    );
    check_error(
        "[hots]\n",
        "plugins.toml:1:2: unknown key `hots`; did you mean `host`?",
    );
}

#[test]
fn parses_registry_sources_in_cargos_syntax() {
    let manifest = parse(
        "[plugins]\nauth = \"1.2\"\njwt = { version = \"=0.3.1\", registry = \"mine\", \
         package = \"jwt-plugin\", features = [\"rsa\"], default-features = false }\n\
         off = { version = \"2\", enabled = false }\n",
    )
    .unwrap();
    let source = |name: &str| {
        manifest
            .plugins
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.source.clone())
            .unwrap()
    };
    assert_eq!(
        source("auth"),
        Source::Registry {
            version: "1.2".into(),
            registry: None
        }
    );
    assert_eq!(
        source("jwt"),
        Source::Registry {
            version: "=0.3.1".into(),
            registry: Some("mine".into())
        }
    );
    let jwt = manifest.plugins.iter().find(|d| d.name == "jwt").unwrap();
    assert_eq!(
        (
            jwt.package.as_str(),
            jwt.features.as_slice(),
            jwt.default_features
        ),
        ("jwt-plugin", ["rsa".to_owned()].as_slice(), false)
    );
    // The requirement and the registry are part of what the lock pins.
    let digest = |text: &str| parse(text).unwrap().digest();
    let base = digest("[plugins]\nauth = \"1.2\"\n");
    assert_eq!(base, digest("[plugins]\nauth = { version = \"1.2\" }\n"));
    assert_ne!(base, digest("[plugins]\nauth = \"1.3\"\n"));
    assert_ne!(
        base,
        digest("[plugins]\nauth = { version = \"1.2\", registry = \"mine\" }\n")
    );
}

#[test]
fn bad_registry_declarations_are_precise() {
    // Too many comparators is semver's refusal; a long one, the parser's.
    let long_requirement = format!("[plugins]\nupper = \"=1.0.0-{}\"\n", "a".repeat(300));
    check_error(
        &long_requirement,
        "plugins.toml:2:9: plugin `upper`: the version requirement is too long",
    );
    let long_registry = format!(
        "[plugins]\nupper = {{ version = \"1\", registry = \"{}\" }}\n",
        "r".repeat(65)
    );
    check_error(
        &long_registry,
        &format!(
            "plugins.toml:2:37: plugin `upper`: `registry = \"{}\"` must be 1 to 64 characters",
            "r".repeat(65)
        ),
    );
    for (text, expected) in [
        (
            "[plugins]\nupper = \"one\"\n",
            "plugins.toml:2:9: plugin `upper`: `one` is not a version requirement (unexpected character 'o' while parsing major version number); write e.g. `\"1.2\"` or `\"=1.2.3\"`",
        ),
        (
            "[plugins]\nupper = { version = \"1\", git = \"https://h/r\" }\n",
            "plugins.toml:2:11: plugin `upper` has both `git` and `version`; keep one (a plugin comes from one place)",
        ),
        (
            "[plugins]\nupper = { registry = \"mine\", path = \"x\" }\n",
            "plugins.toml:2:11: plugin `upper`: `registry` needs `version = \"…\"`",
        ),
        (
            "[plugins]\nupper = { version = \"1\", tag = \"v1\" }\n",
            "plugins.toml:2:26: plugin `upper`: `tag` needs `git = \"…\"`, not `version`",
        ),
        (
            "[plugins]\nupper = { version = \"1\", registry = \"my reg\" }\n",
            "plugins.toml:2:37: plugin `upper`: `registry = \"my reg\"` may hold only ASCII letters, digits, `-` and `_`",
        ),
    ] {
        check_error(text, expected);
    }
}
