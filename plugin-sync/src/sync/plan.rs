//! The plan phase: pure checks over what resolve found — duplicates, each
//! plugin's plugin-api against the host's, `--locked`, warnings — and the
//! [`Plan`] that apply carries out: the new lock, the files to write and the
//! copies to make. Reads no file and touches no network.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;
use build_support::{LOCK_FILE, MANIFEST_FILE, PLUGIN_SET_DIR, SOURCES_DIR};

use super::resolve::Resolved;
use super::{Config, Input, Mode, Report, VENDORED};
use crate::checksum::INDEX_FILE;
use crate::dev::Overrides;
use crate::lockfile::{Commit, LockSource, Lockfile};
use crate::{api, codegen};

/// A cache checkout to copy into the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCopy {
    pub from: PathBuf,
    /// `from` is this sync's own staged checkout: move it, do not copy.
    pub stage: Option<std::sync::Arc<crate::cache::Stage>>,
    /// The plugin ids of its crate, recorded in the copy's index.
    pub ids: Vec<String>,
    /// Relative to the root.
    pub to: String,
    /// The checksum its files have.
    pub checksum: crate::checksum::Checksum,
}

/// A host copy proven intact by hashing, whose index apply writes afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reindex {
    /// Relative to the root.
    pub to: String,
    pub checksum: crate::checksum::Checksum,
    /// The plugin ids of its crate.
    pub ids: Vec<String>,
}

/// Everything apply does, decided.
#[derive(Debug)]
pub struct Plan {
    pub lock: Lockfile,
    pub lock_text: String,
    /// Files to write, relative to the root, in this order (the lock is
    /// written after them, by apply).
    pub writes: Vec<(String, String)>,
    /// Cache checkouts to copy into the host.
    pub copies: Vec<HostCopy>,
    /// Intact copies whose index is stale, missing or damaged (none under
    /// `--locked`).
    pub reindex: Vec<Reindex>,
    /// The report so far: everything but the changed paths.
    pub report: Report,
    /// Plugins built from working copies: where the graph check must find
    /// them.
    pub overrides: Overrides,
    /// For `cargo xtask dev`: the overrides to record once the graph is
    /// checked.
    pub record_overrides: Option<Overrides>,
    /// `[host] extension-crates` of plugins.toml, for the graph check.
    pub extension_crates: Vec<String>,
}

/// How the generated crate names each working copy: relative to it when
/// the copy is on the same machine path tree, as the other paths are.
fn generated_overrides(config: &Config, input: &Input) -> BTreeMap<String, codegen::Override> {
    let from = config.root.join(PLUGIN_SET_DIR);
    input
        .overrides
        .iter()
        .map(|(name, dir)| {
            let path = dir.display().to_string();
            let override_ = codegen::Override {
                crate_dir: crate::host::relative_path(&from, dir),
                path,
            };
            (name.clone(), override_)
        })
        .collect()
}

/// Checks what resolve found and decides what to write.
pub fn make(
    config: &Config,
    mode: &Mode,
    input: &Input,
    resolved: Vec<Resolved>,
) -> anyhow::Result<Plan> {
    check_distinct(&resolved)?;
    for r in &resolved {
        let subject = format!("plugin `{}` in {MANIFEST_FILE}", r.locked.name);
        api::check(&subject, &config.root, &r.api, &input.host_api)?;
    }
    let mut plugins: Vec<_> = resolved.iter().map(|r| r.locked.clone()).collect();
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    let lock = Lockfile {
        manifest_digest: input.manifest.digest(),
        plugins,
    };
    let lock_text = lock.render();
    let warnings = warnings_or_locked(config, input, &resolved, &lock_text)?;

    let mut writes: Vec<(String, String)> = Vec::new();
    if input.has_git {
        let contents = if matches!(mode, Mode::Vendor) || input.vendored {
            format!(
                "{VENDORED}: git plugins' files are committed, so a clone\n\
                 # builds with no cache and no network (`cargo xtask sync --frozen`).\n\
                 # Each copy's stat index is this machine's, not the repository's:\n\
                 /*/{INDEX_FILE}\n"
            )
        } else {
            "# Written by `cargo xtask sync`: git plugins' files, restored from plugins.lock\n\
             # and the cache. Not committed (`cargo xtask vendor` commits them).\n*\n"
                .to_owned()
        };
        writes.push((format!("{SOURCES_DIR}/.gitignore"), contents));
    }
    // Until the lock is written, the build sees a manifest that does not
    // match it and says to sync.
    if let Some(text) = &input.edited {
        writes.push((MANIFEST_FILE.to_owned(), text.clone()));
    }
    writes.extend(
        codegen::plugin_set(&input.manifest, &lock, &generated_overrides(config, input))?
            .into_iter()
            .map(|file| (format!("{PLUGIN_SET_DIR}/{}", file.path), file.contents)),
    );
    let copies = resolved
        .iter()
        .filter_map(|r| {
            let git = r.git.as_ref()?;
            let from = git.copy_from.clone()?;
            let pin = r.locked.git()?;
            Some(HostCopy {
                from,
                stage: git.stage.clone(),
                ids: r.ids.clone(),
                to: pin.host_dir(&r.locked.name),
                checksum: pin.checksum.clone(),
            })
        })
        .collect();
    // `--locked` and `--frozen` write nothing that is not needed: their
    // copies are hashed again next time.
    let reindex = resolved
        .iter()
        .filter(|_| !config.locked)
        .filter(|r| r.git.as_ref().is_some_and(|git| git.reindex))
        .filter_map(|r| {
            let pin = r.locked.git()?;
            Some(Reindex {
                to: pin.host_dir(&r.locked.name),
                checksum: pin.checksum.clone(),
                ids: r.ids.clone(),
            })
        })
        .collect();
    let report = Report {
        synced: resolved.len(),
        disabled: input.manifest.plugins.len().saturating_sub(resolved.len()),
        updates: resolved.iter().filter_map(|r| r.change.clone()).collect(),
        update: matches!(mode, Mode::Update(_)),
        warnings,
        changed: Vec::new(),
    };
    Ok(Plan {
        overrides: input.overrides.clone(),
        record_overrides: match mode {
            Mode::Dev(_) => Some(input.overrides.clone()),
            _ => None,
        },
        lock,
        lock_text,
        writes,
        copies,
        reindex,
        report,
        extension_crates: input.manifest.extension_crates.clone(),
    })
}

/// What sync warns about — moved tags, unreached lock entries, plugins
/// built from working copies — each an error under `--locked`, as is a
/// lock that would change.
fn warnings_or_locked(
    config: &Config,
    input: &Input,
    resolved: &[Resolved],
    lock_text: &str,
) -> anyhow::Result<Vec<String>> {
    let mut warnings = input.warnings.clone();
    warnings.extend(resolved.iter().filter_map(|r| r.warning.clone()));
    for moved in resolved
        .iter()
        .filter_map(|r| r.git.as_ref()?.moved_tag.as_ref())
    {
        if config.locked {
            bail!("{moved}");
        }
        warnings.push(moved.clone());
    }
    if config.locked
        && let Some((name, dir)) = input.overrides.iter().next()
    {
        bail!(
            "plugin `{name}` is built from {} (`cargo xtask dev`), and a locked sync (as `dist` \
             and `sbom` run) builds only what {LOCK_FILE} pins; run `cargo xtask dev --clear \
             {name}` first",
            dir.display()
        );
    }
    for (name, dir) in &input.overrides {
        warnings.push(format!(
            "plugin `{name}` is built from {} (`cargo xtask dev`), not from what {LOCK_FILE} \
             pins; `cargo xtask dev --clear {name}` ends it",
            dir.display()
        ));
    }
    if config.locked {
        match &input.previous_text {
            Some(existing) if existing == lock_text => {}
            Some(_) => bail!(
                "{LOCK_FILE} needs to be updated but --locked was passed to prevent this; \
                 run `cargo xtask sync` without --locked"
            ),
            None => bail!(
                "{LOCK_FILE} is missing and --locked was passed; run `cargo xtask sync` without \
                 --locked"
            ),
        }
    }
    Ok(warnings)
}

/// No two declarations may be the same crate or register the same plugin id,
/// and one repository may be used at one commit only.
fn check_distinct(resolved: &[Resolved]) -> anyhow::Result<()> {
    let mut by_identity: BTreeMap<&str, &str> = BTreeMap::new();
    let mut by_repo: BTreeMap<&str, (&str, &Commit)> = BTreeMap::new();
    for r in resolved {
        let name = r.locked.name.as_str();
        if let Some(other) = by_identity.insert(&r.identity, name) {
            bail!(
                "plugins `{other}` and `{name}` in {MANIFEST_FILE} both point at {}; declare it once",
                r.identity
            );
        }
        if let (Some(git), Some(pin)) = (&r.git, r.locked.git())
            && let Some((other, other_commit)) = by_repo.insert(&git.repo, (name, &pin.commit))
            && *other_commit != pin.commit
        {
            bail!(
                "plugins `{other}` and `{name}` in {MANIFEST_FILE} use the same repository {} at \
                 different commits ({} and {}); declare the same tag, branch or rev for both",
                git.repo,
                other_commit.short(),
                pin.commit.short()
            );
        }
    }
    let mut by_id: BTreeMap<&str, &Resolved> = BTreeMap::new();
    for r in resolved {
        for id in &r.ids {
            if let Some(other) = by_id.insert(id, r) {
                let describe = |r: &Resolved| match &r.locked.source {
                    LockSource::Local { path } => format!("`{}` (local, {path})", r.locked.name),
                    LockSource::Git(pin) => format!("`{}` ({})", r.locked.name, pin.cargo_source()),
                    LockSource::Registry(pin) => format!(
                        "`{}` ({} {} from {})",
                        r.locked.name, r.locked.package, r.locked.version, pin.index
                    ),
                };
                bail!(
                    "plugins {} and {} in {MANIFEST_FILE} both register plugin id `{id}`; ids must \
                     be unique: change one of them or disable one plugin in {MANIFEST_FILE}",
                    describe(other),
                    describe(r)
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use build_support::manifest::{GitReference, Manifest};

    use super::*;
    use crate::api::{ApiSource, HostApi};
    use crate::cache::Cache;
    use crate::lockfile::{Commit, GitPin, LockedPlugin};
    use crate::sync::Update;
    use crate::sync::resolve::GitResolved;

    const MANIFEST: &str = "[plugins]\na = { path = \"a\" }\nb = { git = \"https://h/b\", tag = \"v1\" }\nc = { path = \"c\", enabled = false }\n";

    fn config(locked: bool) -> Config {
        Config {
            root: "/host".into(),
            cache: Cache::at("/cache".into()),
            locked,
            offline: false,
            progress: crate::progress::Progress::new(true),
            jobs: None,
            git_fetch_with_cli: false,
        }
    }

    fn input(previous_text: Option<String>) -> Input {
        Input {
            manifest: Manifest::parse(MANIFEST, Path::new("plugins.toml")).unwrap(),
            edited: None,
            previous: None,
            previous_text,
            host_api: HostApi {
                source: ApiSource::Path { dir: "/api".into() },
                version: None,
                declaration: "{ path = \"/api\" }".into(),
                patches: vec!["crates-io".into()],
            },
            has_git: true,
            vendored: false,
            overrides: Default::default(),
            warnings: vec!["from load".into()],
        }
    }

    fn local(name: &str, ids: &[&str]) -> Resolved {
        Resolved {
            locked: LockedPlugin {
                name: name.into(),
                package: name.into(),
                version: semver::Version::new(0, 1, 0),
                source: LockSource::Local { path: name.into() },
            },
            identity: format!("/host/{name}"),
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            api: ApiSource::Path { dir: "/api".into() },
            git: None,
            change: None,
            warning: None,
        }
    }

    fn git(name: &str, commit: char, git: GitResolved) -> Resolved {
        Resolved {
            locked: LockedPlugin {
                source: LockSource::Git(GitPin {
                    url: "https://h/b".into(),
                    reference: GitReference::Tag("v1".into()),
                    commit: Commit::parse(&commit.to_string().repeat(40)).unwrap(),
                    subdir: None,
                    checksum: crate::checksum::Checksum::parse(&format!(
                        "sha256:{}",
                        "0".repeat(64)
                    ))
                    .expect("a checksum"),
                }),
                ..local(name, &[]).locked
            },
            identity: format!("https://h/b#{name}"),
            api: ApiSource::Registry { req: "0.1".into() },
            git: Some(git),
            ..local(name, &[])
        }
    }

    fn fetched(copy: bool) -> GitResolved {
        GitResolved {
            repo: "https://h/b".into(),
            copy_from: copy.then(|| "/cache/checkout".into()),
            stage: None,
            moved_tag: None,
            reindex: false,
        }
    }

    #[test]
    fn plans_every_write_and_copy_with_the_lock_last() {
        let edited = Input {
            edited: Some(MANIFEST.into()),
            ..input(None)
        };
        let plan = make(
            &config(false),
            &Mode::Edit(crate::edit::Edit::Remove(vec![])),
            &edited,
            vec![local("a", &["a"]), git("b", 'e', fetched(true))],
        )
        .unwrap();
        let paths: Vec<&str> = plan.writes.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "plugin-sources/.gitignore",
                "plugins.toml",
                "plugin-set/Cargo.toml",
                "plugin-set/build.rs",
                "plugin-set/src/lib.rs"
            ]
        );
        assert!(!paths.contains(&LOCK_FILE), "apply writes the lock last");
        assert_eq!(
            plan.copies,
            [HostCopy {
                from: PathBuf::from("/cache/checkout"),
                stage: None,
                ids: Vec::new(),
                to: "plugin-sources/b-eeeeeeeeeeee".to_owned(),
                checksum: crate::checksum::Checksum::parse(&format!("sha256:{}", "0".repeat(64)))
                    .expect("a checksum"),
            }]
        );
        assert_eq!(plan.report.synced, 2);
        assert_eq!(plan.report.disabled, 1);
        assert_eq!(plan.report.warnings, ["from load"]);
        assert!(
            plan.lock_text.contains("name = \"b\""),
            "{}",
            plan.lock_text
        );
    }

    #[test]
    fn locked_refuses_a_lock_that_would_change_and_accepts_an_equal_one() {
        let resolved = || vec![local("a", &[]), git("b", 'e', fetched(false))];
        let error = make(&config(true), &Mode::Sync, &input(None), resolved()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("plugins.lock is missing and --locked")
        );
        let error = make(
            &config(true),
            &Mode::Sync,
            &input(Some("old".into())),
            resolved(),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("needs to be updated but --locked")
        );
        let text = make(&config(false), &Mode::Sync, &input(None), resolved())
            .unwrap()
            .lock_text;
        let plan = make(&config(true), &Mode::Sync, &input(Some(text)), resolved()).unwrap();
        assert!(plan.copies.is_empty());
    }

    #[test]
    fn an_override_keeps_the_lock_warns_is_recorded_by_dev_and_refused_when_locked() {
        let resolved = || vec![local("a", &[]), git("b", 'e', fetched(false))];
        let plain = make(&config(false), &Mode::Sync, &input(None), resolved()).unwrap();
        let overrides: crate::dev::Overrides = [("b".to_owned(), PathBuf::from("/work/b"))].into();
        let overridden = Input {
            overrides: overrides.clone(),
            ..input(None)
        };
        let dev = make(
            &config(false),
            &Mode::Dev(overrides.clone()),
            &overridden,
            resolved(),
        )
        .unwrap();
        assert_eq!(dev.lock_text, plain.lock_text);
        assert_eq!(dev.record_overrides.as_ref(), Some(&overrides));
        assert_eq!(plain.record_overrides, None);
        assert!(dev.report.warnings.iter().any(|w| w.starts_with(
            "plugin `b` is built from /work/b (`cargo xtask dev`), not from what plugins.lock pins"
        )));
        let manifest = |plan: &Plan| {
            plan.writes
                .iter()
                .find(|(p, _)| p == "plugin-set/Cargo.toml")
                .unwrap()
                .1
                .clone()
        };
        assert!(
            manifest(&dev).contains("b = { path = \"../../work/b\" }"),
            "{}",
            manifest(&dev)
        );
        assert!(!manifest(&plain).contains("../../work/b"));
        // Just synced again by a plain sync: still built from the copy, not
        // recorded again.
        let again = make(&config(false), &Mode::Sync, &overridden, resolved()).unwrap();
        assert_eq!(manifest(&again), manifest(&dev));
        assert_eq!(again.record_overrides, None);
        let locked = make(
            &config(true),
            &Mode::Sync,
            &Input {
                previous_text: Some(plain.lock_text.clone()),
                ..overridden
            },
            resolved(),
        )
        .unwrap_err();
        assert!(
            locked
                .to_string()
                .contains("run `cargo xtask dev --clear b` first"),
            "{locked}"
        );
    }

    #[test]
    fn duplicate_ids_crates_and_commits_are_refused() {
        let check = |resolved: Vec<Resolved>, expected: &str| {
            let error = make(&config(false), &Mode::Sync, &input(None), resolved)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "`{expected}` not in `{error}`");
        };
        check(
            vec![local("a", &["x"]), local("b", &["x"])],
            "plugins `a` (local, a) and `b` (local, b) in plugins.toml both register plugin id `x`",
        );
        let mut same = local("b", &[]);
        same.identity = "/host/a".into();
        check(vec![local("a", &[]), same], "both point at /host/a");
        let mut other = git("c", 'f', fetched(false));
        other.identity = "elsewhere".into();
        check(
            vec![git("b", 'e', fetched(false)), other],
            "use the same repository https://h/b at different commits (eeeeeeeeeeee and ffffffffffff)",
        );
    }

    #[test]
    fn a_moved_tag_warns_and_locked_makes_it_an_error() {
        let moved = || {
            vec![Resolved {
                change: Some(Update {
                    name: "b".into(),
                    from: "d".repeat(40),
                    to: "e".repeat(40),
                    reference: "tag `v1`".into(),
                }),
                ..git(
                    "b",
                    'e',
                    GitResolved {
                        moved_tag: Some("tag `v1` moved".into()),
                        ..fetched(false)
                    },
                )
            }]
        };
        let plan = make(&config(false), &Mode::Update(vec![]), &input(None), moved()).unwrap();
        assert_eq!(plan.report.warnings, ["from load", "tag `v1` moved"]);
        assert_eq!(plan.report.updates.len(), 1);
        assert!(plan.report.update);
        let error = make(&config(true), &Mode::Sync, &input(None), moved()).unwrap_err();
        assert_eq!(error.to_string(), "tag `v1` moved");
    }

    #[test]
    fn a_plugins_own_warning_is_reported_after_the_loads() {
        let yanked = Resolved {
            warning: Some("`a` is yanked".into()),
            ..local("a", &[])
        };
        let plan = make(&config(false), &Mode::Sync, &input(None), vec![yanked]).unwrap();
        assert_eq!(plan.report.warnings, ["from load", "`a` is yanked"]);
    }

    #[test]
    fn a_plugin_with_another_plugin_api_is_refused() {
        let mut foreign = local("a", &[]);
        foreign.api = ApiSource::Path {
            dir: "/other-api".into(),
        };
        let error = make(&config(false), &Mode::Sync, &input(None), vec![foreign]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not the host's static-plugins-api"),
            "{error}"
        );
    }

    #[test]
    fn vendor_mode_commits_plugin_sources() {
        let plan = make(&config(false), &Mode::Vendor, &input(None), vec![]).unwrap();
        assert!(
            plan.writes[0].1.starts_with(VENDORED),
            "{:?}",
            plan.writes[0]
        );
    }
}
