//! `plugins.toml`: which plugins the host includes, in Cargo's dependency
//! syntax. Parsed with positions so every error names file, line and key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml_edit::{Item, Key, TableLike, Value};

use crate::text::{did_you_mean, line_col, quote};

/// Keys a plugin declaration may have.
pub const DECLARATION_KEYS: &[&str] = &[
    "path",
    "git",
    "version",
    "registry",
    "tag",
    "branch",
    "rev",
    "subdir",
    "package",
    "features",
    "default-features",
    "enabled",
];
/// Keys that only make sense with `git = …`.
const GIT_ONLY_KEYS: &[&str] = &["tag", "branch", "rev", "subdir"];
/// Names a plugin may not take: the generated crate uses them itself.
const RESERVED_NAMES: &[&str] = &[
    "static-plugins-api",
    "static-plugins-build",
    "static-plugins-macros",
    "static-plugins-id",
    "static-plugins-sync",
    "plugin-api",
    "build-support",
    "plugin-set",
    "plugin-macros",
    "core",
    "std",
    "alloc",
];

/// Rust's strict and reserved keywords (2024 edition), which cannot be the
/// name of an `extern crate`.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try",
    "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield",
];

/// The parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Declarations sorted by name.
    pub plugins: Vec<Declaration>,
    /// `[host] extension-crates`: crates the host shares with its plugins
    /// (its extension points), of which the build graph must hold exactly
    /// one copy whatever the versions. Sorted, without duplicates.
    pub extension_crates: Vec<String>,
}

/// One entry of `[plugins]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The key in `[plugins]`; also the dependency name in the generated crate.
    pub name: String,
    /// The package name of the plugin crate (`package = …`, else `name`).
    pub package: String,
    pub source: Source,
    /// Cargo features to enable, sorted and deduplicated.
    pub features: Vec<String>,
    pub default_features: bool,
    /// `enabled = false` keeps the declaration but leaves the plugin out.
    pub enabled: bool,
    /// Line of the declaration in the manifest, for later error messages.
    pub line: usize,
}

/// Where a plugin's source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `path = "…"`, as written: relative to the manifest's directory, or absolute.
    Path(String),
    /// `version = "…"` (or the declaration a bare requirement string), from
    /// crates.io or the registry named `registry` (configured as cargo
    /// configures registries).
    Registry {
        /// The version requirement, as written (cargo's syntax).
        version: String,
        /// `registry = "…"`: a name from `[registries]`; `None` for crates.io.
        registry: Option<String>,
    },
    /// `git = "…"` with at most one of `tag`, `branch`, `rev`, and a `subdir`.
    Git {
        /// The URL as written (a local path is relative to the manifest's directory).
        url: String,
        reference: GitReference,
        /// Directory of the crate inside the repository, `/`-separated, never
        /// escaping it; `None` to find the crate by package name.
        subdir: Option<String>,
    },
}

/// Which commit of a git repository a declaration asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GitReference {
    /// No `tag`, `branch` or `rev`: the remote's default branch.
    DefaultBranch,
    Tag(String),
    Branch(String),
    /// A full 40-hex commit id.
    Rev(String),
}

impl GitReference {
    /// The query of cargo's source form: `?tag=v1`, `?branch=main`, `?rev=…`,
    /// nothing for the default branch.
    pub fn query(&self) -> String {
        match self {
            GitReference::DefaultBranch => String::new(),
            GitReference::Tag(t) => format!("?tag={t}"),
            GitReference::Branch(b) => format!("?branch={b}"),
            GitReference::Rev(r) => format!("?rev={r}"),
        }
    }

    /// Whether `update` may move it (branches do; tags and revs stay pinned).
    pub fn floats(&self) -> bool {
        matches!(self, GitReference::DefaultBranch | GitReference::Branch(_))
    }
}

impl std::fmt::Display for GitReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitReference::DefaultBranch => f.write_str("default branch"),
            GitReference::Tag(t) => write!(f, "tag `{t}`"),
            GitReference::Branch(b) => write!(f, "branch `{b}`"),
            GitReference::Rev(r) => write!(f, "rev `{r}`"),
        }
    }
}

impl Declaration {
    /// The plugin's name as a Rust identifier (`-` becomes `_`), as cargo does
    /// for dependency names.
    pub fn rust_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// Why `plugins.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Manifest {
    /// Reads and parses the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, Error> {
        let text =
            crate::read_bounded(path, crate::MAX_MANIFEST_BYTES).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
        Manifest::parse(&text, path)
    }

    /// Parses manifest text; `file` is only used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, Error> {
        Parser {
            text,
            file,
            lines: crate::text::LineStarts::new(text),
        }
        .manifest()
    }

    /// The enabled declarations.
    pub fn enabled(&self) -> impl Iterator<Item = &Declaration> {
        self.plugins.iter().filter(|d| d.enabled)
    }

    /// A digest of what the manifest declares (not of its formatting or
    /// comments), recorded in `plugins.lock` to detect a stale sync.
    pub fn digest(&self) -> String {
        let mut canonical = String::new();
        for d in &self.plugins {
            let source = match &d.source {
                Source::Path(path) => format!("path={}", quote(path)),
                Source::Registry { version, registry } => format!(
                    "version={} registry={}",
                    quote(version),
                    quote(registry.as_deref().unwrap_or(""))
                ),
                Source::Git {
                    url,
                    reference,
                    subdir,
                } => format!(
                    "git={}{} subdir={}",
                    quote(&crate::url::bare(url)),
                    quote(&reference.query()),
                    quote(subdir.as_deref().unwrap_or(""))
                ),
            };
            let features: Vec<String> = d.features.iter().map(|f| quote(f)).collect();
            writeln!(
                canonical,
                "name={} package={} {source} features=[{}] default-features={} enabled={}",
                quote(&d.name),
                quote(&d.package),
                features.join(","),
                d.default_features,
                d.enabled,
            )
            .expect("writing to a String cannot fail");
        }
        // Only when set, so manifests without it keep their digests.
        if !self.extension_crates.is_empty() {
            let crates: Vec<String> = self.extension_crates.iter().map(|c| quote(c)).collect();
            writeln!(canonical, "extension-crates=[{}]", crates.join(","))
                .expect("writing to a String cannot fail");
        }
        format!("sha256:{}", crate::sha256_hex(canonical.as_bytes()))
    }
}

/// A registry name as cargo accepts one in `[registries]`: ASCII letters,
/// digits, `-` and `_`.
pub fn check_registry_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("may hold only ASCII letters, digits, `-` and `_`".into());
    }
    Ok(())
}

struct Parser<'a> {
    text: &'a str,
    /// Where each line starts: a declaration's line is found without
    /// counting the lines before it again.
    lines: crate::text::LineStarts,
    file: &'a Path,
}

impl Parser<'_> {
    fn error(&self, span: Option<std::ops::Range<usize>>, message: String) -> Error {
        let (line, column) = line_col(self.text, span.map_or(0, |s| s.start));
        Error::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            message,
        }
    }

    fn manifest(&self) -> Result<Manifest, Error> {
        let document = toml_edit::Document::parse(self.text).map_err(|e| {
            self.error(
                e.span(),
                format!("invalid TOML: {}", e.message().trim_end()),
            )
        })?;
        let root = document.as_table();
        for (name, _) in root.iter() {
            if name != "plugins" && name != "host" {
                let key = root.key(name).expect("iterated key exists");
                let hint = match did_you_mean(name, &["plugins", "host"]) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => "; the tables are `[plugins]` and `[host]`".to_owned(),
                };
                return Err(self.error(key.span(), format!("unknown key `{name}`{hint}")));
            }
        }
        let mut plugins = Vec::new();
        if let Some((key, item)) = root.get_key_value("plugins") {
            let table = item.as_table_like().ok_or_else(|| {
                self.error(
                    item.span().or(key.span()),
                    format!("`plugins` must be a table, found {}", item.type_name()),
                )
            })?;
            for (name, item) in table.iter() {
                let key = table.key(name).expect("iterated key exists");
                plugins.push(self.declaration(name, key, item)?);
            }
        }
        plugins.sort_by(|a: &Declaration, b| a.name.cmp(&b.name));
        for pair in plugins.windows(2) {
            if pair[0].rust_name() == pair[1].rust_name() {
                return Err(Error::Invalid {
                    file: self.file.to_owned(),
                    line: pair[1].line,
                    column: 1,
                    message: format!(
                        "plugins `{}` and `{}` have the same Rust name `{}`; rename one",
                        pair[0].name,
                        pair[1].name,
                        pair[0].rust_name()
                    ),
                });
            }
        }
        let extension_crates = match root.get_key_value("host") {
            Some((key, item)) => self.host(key, item)?,
            None => Vec::new(),
        };
        Ok(Manifest {
            plugins,
            extension_crates,
        })
    }

    fn declaration(&self, name: &str, key: &Key, item: &Item) -> Result<Declaration, Error> {
        check_name(name).map_err(|why| {
            self.error(key.span(), format!("invalid plugin name `{name}`: {why}"))
        })?;
        let line = self.lines.line(key.span().map_or(0, |s| s.start));
        // `name = "1.2"`: a registry requirement, as in cargo.
        if let Some(version) = item.as_str() {
            let version = self.requirement(name, version, item.span())?;
            return Ok(Declaration {
                name: name.to_owned(),
                package: name.to_owned(),
                source: Source::Registry {
                    version,
                    registry: None,
                },
                features: Vec::new(),
                default_features: true,
                enabled: true,
                line,
            });
        }
        let Some(table) = item.as_table_like() else {
            return Err(self.error(
                item.span(),
                format!(
                    "plugin `{name}` must be a version requirement such as `{name} = \"1.2\"` or \
                     a table such as `{name} = {{ path = \"…\" }}`, found {}",
                    item.type_name()
                ),
            ));
        };
        self.check_keys(name, table)?;

        let source = self.source(name, key, table)?;
        let package = self.string(name, table, "package")?;
        let features = self.features(name, table)?;
        let default_features = self.bool(name, table, "default-features")?.unwrap_or(true);
        let enabled = self.bool(name, table, "enabled")?.unwrap_or(true);

        if let Some(package) = &package {
            check_name(package).map_err(|why| {
                let span = table.get("package").and_then(Item::span);
                self.error(
                    span,
                    format!("plugin `{name}`: invalid `package` `{package}`: {why}"),
                )
            })?;
        }
        Ok(Declaration {
            name: name.to_owned(),
            package: package.unwrap_or_else(|| name.to_owned()),
            source,
            features,
            default_features,
            enabled,
            line,
        })
    }

    /// `path = …`, `version = …` (with a `registry`), or `git = …` with its
    /// reference and subdir.
    fn source(&self, name: &str, key: &Key, table: &dyn TableLike) -> Result<Source, Error> {
        let key_span = |k: &str| table.key(k).and_then(Key::span);
        let value_span = |k: &str| table.get(k).and_then(Item::span);
        let path = self.string(name, table, "path")?;
        let git = self.string(name, table, "git")?;
        let version = self.string(name, table, "version")?;
        let registry = self.string(name, table, "registry")?;
        let git_only = GIT_ONLY_KEYS.iter().find(|k| table.contains_key(k));
        if path.is_some() && git.is_some() {
            return Err(self.error(
                key_span("git"),
                format!("plugin `{name}` has both `path` and `git`; keep one"),
            ));
        }
        if version.is_some() && (path.is_some() || git.is_some()) {
            // Cargo would take the path or the repository and keep the
            // version for publishing; a plugin comes from one place.
            let other = if path.is_some() { "path" } else { "git" };
            return Err(self.error(
                key_span("version"),
                format!(
                    "plugin `{name}` has both `{other}` and `version`; keep one (a plugin comes \
                     from one place)"
                ),
            ));
        }
        if registry.is_some() && version.is_none() {
            return Err(self.error(
                key_span("registry"),
                format!("plugin `{name}`: `registry` needs `version = \"…\"`"),
            ));
        }
        if let Some(version) = version {
            return self.registry_source(name, table, &version, registry, git_only);
        }
        if let Some(path) = path {
            return self.path_source(name, table, path, git_only);
        }
        let Some(url) = git else {
            if let Some(k) = git_only {
                return Err(self.error(
                    key_span(k),
                    format!("plugin `{name}`: `{k}` needs `git = \"…\"`"),
                ));
            }
            return Err(self.error(
                key.span(),
                format!(
                    "plugin `{name}` has no source; add `version = \"…\"`, `git = \"…\"` or \
                     `path = \"…\"`"
                ),
            ));
        };
        check_git_url(&url)
            .map_err(|why| self.error(value_span("git"), format!("plugin `{name}`: {why}")))?;
        let reference = self.reference(name, table)?;
        let subdir = match self.string(name, table, "subdir")? {
            None => None,
            Some(subdir) => {
                let normalized = normalize_subdir(&subdir).map_err(|why| {
                    self.error(
                        value_span("subdir"),
                        format!("plugin `{name}`: `subdir = \"{subdir}\"` {why}"),
                    )
                })?;
                Some(normalized).filter(|s| !s.is_empty())
            }
        };
        Ok(Source::Git {
            url,
            reference,
            subdir,
        })
    }

    /// `version = …` with an optional `registry`.
    fn registry_source(
        &self,
        name: &str,
        table: &dyn TableLike,
        version: &str,
        registry: Option<String>,
        git_only: Option<&&str>,
    ) -> Result<Source, Error> {
        let value_span = |k: &str| table.get(k).and_then(Item::span);
        self.refuse_git_keys(name, table, git_only, "version")?;
        let version = self.requirement(name, version, value_span("version"))?;
        if let Some(registry) = &registry {
            check_registry_name(registry).map_err(|why| {
                self.error(
                    value_span("registry"),
                    format!(
                        "plugin `{name}`: `registry = \"{}\"` {why}",
                        registry.escape_debug()
                    ),
                )
            })?;
        }
        Ok(Source::Registry { version, registry })
    }

    /// A git-only key (`tag`, `branch`, …) beside `path` or `version`.
    fn refuse_git_keys(
        &self,
        name: &str,
        table: &dyn TableLike,
        git_only: Option<&&str>,
        source: &str,
    ) -> Result<(), Error> {
        match git_only {
            Some(k) => Err(self.error(
                table.key(k).and_then(Key::span),
                format!("plugin `{name}`: `{k}` needs `git = \"…\"`, not `{source}`"),
            )),
            None => Ok(()),
        }
    }

    /// `path = …`.
    fn path_source(
        &self,
        name: &str,
        table: &dyn TableLike,
        path: String,
        git_only: Option<&&str>,
    ) -> Result<Source, Error> {
        let value_span = |k: &str| table.get(k).and_then(Item::span);
        self.refuse_git_keys(name, table, git_only, "path")?;
        if path.is_empty() {
            return Err(self.error(
                value_span("path"),
                format!("plugin `{name}`: `path` is empty"),
            ));
        }
        if path.chars().any(char::is_control) {
            return Err(self.error(
                value_span("path"),
                format!(
                    "plugin `{name}`: `path = \"{}\"` has a control character",
                    path.escape_debug()
                ),
            ));
        }
        Ok(Source::Path(path))
    }

    /// The one of `tag`, `branch` and `rev` a git declaration gives (the
    /// default branch when none), each checked as git checks ref names.
    fn reference(&self, name: &str, table: &dyn TableLike) -> Result<GitReference, Error> {
        let key_span = |k: &str| table.key(k).and_then(Key::span);
        let value_span = |k: &str| table.get(k).and_then(Item::span);
        let mut reference = GitReference::DefaultBranch;
        let mut given: Option<&str> = None;
        for k in ["tag", "branch", "rev"] {
            let Some(value) = self.string(name, table, k)? else {
                continue;
            };
            if let Some(first) = given {
                return Err(self.error(
                    key_span(k),
                    format!(
                        "plugin `{name}`: give only one of `tag`, `branch` and `rev` (found `{first}` and `{k}`)"
                    ),
                ));
            }
            given = Some(k);
            if value.is_empty() {
                return Err(self.error(value_span(k), format!("plugin `{name}`: `{k}` is empty")));
            }
            if k != "rev"
                && let Err(why) = check_ref_name(&value)
            {
                return Err(self.error(
                    value_span(k),
                    format!(
                        "plugin `{name}`: `{k} = \"{}\"` is not a valid git {k} name: {why}",
                        value.escape_debug()
                    ),
                ));
            }
            reference = match k {
                "tag" => GitReference::Tag(value),
                "branch" => GitReference::Branch(value),
                _ if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    GitReference::Rev(value.to_ascii_lowercase())
                }
                _ => {
                    return Err(self.error(
                        value_span(k),
                        format!(
                            "plugin `{name}`: `rev = \"{value}\"` is not a full 40-hex commit id; \
                             get it with `git rev-parse {value}` in the repository"
                        ),
                    ));
                }
            };
        }
        Ok(reference)
    }

    /// A version requirement in cargo's syntax (`1.2`, `^1.2`, `=1.2.3`,
    /// `>=1, <2`), as written.
    fn requirement(
        &self,
        name: &str,
        text: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Result<String, Error> {
        match semver::VersionReq::parse(text) {
            Ok(_) if text.len() <= 256 => Ok(text.to_owned()),
            Ok(_) => Err(self.error(
                span,
                format!("plugin `{name}`: the version requirement is too long"),
            )),
            Err(e) => Err(self.error(
                span,
                format!(
                    "plugin `{name}`: `{}` is not a version requirement ({e}); write e.g. \
                     `\"1.2\"` or `\"=1.2.3\"`",
                    text.escape_debug()
                ),
            )),
        }
    }

    fn check_keys(&self, name: &str, table: &dyn TableLike) -> Result<(), Error> {
        for (k, _) in table.iter() {
            if DECLARATION_KEYS.contains(&k) {
                continue;
            }
            let span = table.key(k).and_then(Key::span);
            let hint = match did_you_mean(k, DECLARATION_KEYS) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of {}", list(DECLARATION_KEYS)),
            };
            let message = format!("unknown key `{k}` in plugin `{name}`; {hint}");
            return Err(self.error(span, message));
        }
        Ok(())
    }

    fn value<'t>(&self, table: &'t dyn TableLike, key: &str) -> Option<&'t Value> {
        table.get(key).and_then(Item::as_value)
    }

    fn wrong_type(&self, name: &str, table: &dyn TableLike, key: &str, expected: &str) -> Error {
        let item = table.get(key).expect("called for a present key");
        self.error(
            item.span(),
            format!(
                "plugin `{name}`: `{key}` must be {expected}, found {}",
                item.type_name()
            ),
        )
    }

    fn string(
        &self,
        name: &str,
        table: &dyn TableLike,
        key: &str,
    ) -> Result<Option<String>, Error> {
        if table.get(key).is_none() {
            return Ok(None);
        }
        match self.value(table, key).and_then(Value::as_str) {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(self.wrong_type(name, table, key, "a string")),
        }
    }

    fn bool(&self, name: &str, table: &dyn TableLike, key: &str) -> Result<Option<bool>, Error> {
        if table.get(key).is_none() {
            return Ok(None);
        }
        match self.value(table, key).and_then(Value::as_bool) {
            Some(b) => Ok(Some(b)),
            None => Err(self.wrong_type(name, table, key, "a boolean")),
        }
    }

    /// `[host]`: `extension-crates = ["crate", …]`.
    fn host(&self, key: &Key, item: &Item) -> Result<Vec<String>, Error> {
        const KEY: &str = "extension-crates";
        let table = item.as_table_like().ok_or_else(|| {
            self.error(
                item.span().or(key.span()),
                format!("`host` must be a table, found {}", item.type_name()),
            )
        })?;
        for (name, _) in table.iter() {
            if name != KEY {
                let hint = match did_you_mean(name, &[KEY]) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the only key is `{KEY}`"),
                };
                return Err(self.error(
                    table.key(name).and_then(Key::span),
                    format!("unknown key `{name}` in `[host]`; {hint}"),
                ));
            }
        }
        let Some(item) = table.get(KEY) else {
            return Ok(Vec::new());
        };
        let Some(array) = item.as_value().and_then(Value::as_array) else {
            return Err(self.error(
                item.span(),
                format!(
                    "`host.{KEY}` must be an array of crate names, found {}",
                    item.type_name()
                ),
            ));
        };
        let mut crates = Vec::with_capacity(array.len());
        for value in array {
            let Some(name) = value.as_str() else {
                return Err(self.error(
                    value.span(),
                    format!(
                        "each of `host.{KEY}` must be a crate name, found {}",
                        value.type_name()
                    ),
                ));
            };
            check_name(name).map_err(|why| {
                self.error(
                    value.span(),
                    format!("invalid crate name `{name}` in `host.{KEY}`: {why}"),
                )
            })?;
            crates.push(name.to_owned());
        }
        crates.sort();
        crates.dedup();
        Ok(crates)
    }

    fn features(&self, name: &str, table: &dyn TableLike) -> Result<Vec<String>, Error> {
        const KEY: &str = "features";
        if table.get(KEY).is_none() {
            return Ok(Vec::new());
        }
        let Some(array) = self.value(table, KEY).and_then(Value::as_array) else {
            return Err(self.wrong_type(name, table, KEY, "an array of strings"));
        };
        let mut features = Vec::with_capacity(array.len());
        for value in array {
            match value.as_str() {
                Some(f) if !f.is_empty() => features.push(f.to_owned()),
                _ => {
                    return Err(self.error(
                        value.span(),
                        format!(
                            "plugin `{name}`: each of `features` must be a non-empty string, found {}",
                            value.type_name()
                        ),
                    ));
                }
            }
        }
        features.sort();
        features.dedup();
        Ok(features)
    }
}

/// Accepts the URL forms cargo accepts: `https://`, `http://`, `ssh://`,
/// `file://` and local paths. The scp-like `user@host:path` is rejected with
/// the equivalent `ssh://` URL, as its meaning is ambiguous next to paths.
/// git's rules for a branch or tag name (`git check-ref-format`): what a
/// remote may list, so a pattern such as `*` never picks whatever comes first.
fn check_ref_name(name: &str) -> Result<(), &'static str> {
    if name.starts_with('-') || name.starts_with('/') || name.ends_with('/') {
        return Err("it may not start with `-` or `/`, or end with `/`");
    }
    if name.ends_with('.') || name.ends_with(".lock") {
        return Err("it may not end with `.` or `.lock`");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") || name == "@" {
        return Err("it may not contain `..`, `@{` or `//`, or be `@`");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == ' ' || "~^:?*[\\\x7f".contains(c))
    {
        return Err("it may not contain spaces, control characters or any of `~^:?*[\\`");
    }
    if name.split('/').any(|part| part.starts_with('.')) {
        return Err("no part of it may start with `.`");
    }
    Ok(())
}

fn check_git_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("`git` is empty".to_owned());
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "`git = \"{}\"` has a control or whitespace character",
            url.escape_debug()
        ));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        return match scheme {
            "https" | "http" | "ssh" | "file" if !rest.is_empty() => Ok(()),
            "https" | "http" | "ssh" | "file" => {
                Err(format!("`git = \"{url}\"` has no host or path"))
            }
            "git" => Err(format!(
                "`git = \"{url}\"` uses the unauthenticated git:// protocol; use https:// or ssh://"
            )),
            other => Err(format!(
                "`git = \"{url}\"` has unsupported scheme `{other}`; use https://, http://, ssh://, file:// or a local path"
            )),
        };
    }
    // `user@host:path` or `host:path` (but not `C:\…` or `./a:b`).
    if let Some((host, path)) = url.split_once(':')
        && !host.contains('/')
        && !host.contains('\\')
        && host.len() > 1
    {
        let path = path.trim_start_matches('/');
        return Err(format!(
            "`git = \"{url}\"` is an scp-like address; write it as a URL: `git = \"ssh://{host}/{path}\"`"
        ));
    }
    Ok(())
}

/// `subdir` as a `/`-separated relative path inside the repository.
fn normalize_subdir(subdir: &str) -> Result<String, &'static str> {
    if subdir.starts_with('/') || subdir.starts_with('\\') || subdir.contains(':') {
        return Err("must be relative to the repository root");
    }
    let mut parts = Vec::new();
    for part in subdir.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err("must not leave the repository (`..`)"),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// Plugin and package names follow cargo's rules for dependency names.
/// Checks a plugin or package name: ASCII letters, digits, `-` and `_`,
/// starting with a letter or `_`, and not a name the generated crate uses.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(
            "use ASCII letters, digits, `-` and `_`, starting with a letter or `_`".to_owned(),
        );
    }
    let normalized = name.replace('_', "-");
    if RESERVED_NAMES.contains(&normalized.as_str()) {
        return Err("the name is reserved by the generated crate".to_owned());
    }
    let ident = name.replace('-', "_");
    if ident == "_" || RUST_KEYWORDS.contains(&ident.as_str()) {
        return Err(format!(
            "`{ident}` is a Rust keyword, which cannot name a crate in the generated code"
        ));
    }
    Ok(())
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
