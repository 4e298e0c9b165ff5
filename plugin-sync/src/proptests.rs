//! Property tests: arbitrary manifests and locks never panic the parsers,
//! and every manifest the parser accepts generates a `plugin-set` whose
//! TOML parses and whose Rust parses with syn. proptest prints the failing
//! input and keeps it in `proptest-regressions/`, so a failure replays.

use std::path::Path;

use build_support::manifest::Manifest;
use proptest::prelude::*;

use crate::codegen;
use crate::lockfile::{LockSource, LockedPlugin, Lockfile};

/// Text that is mostly TOML-shaped: keys, strings with any characters,
/// tables and arrays, so the parsers' deeper paths are reached.
fn tomlish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("[plugins]\n".to_owned()),
        Just("[[plugin]]\n".to_owned()),
        Just("version = 1\n".to_owned()),
        "[a-z_-]{1,8} = \"[^\"\\\\]{0,12}\"\n",
        "[a-z_-]{1,8} = \\{ [a-z-]{1,8} = \"[^\"\\\\]{0,12}\" \\}\n",
        "[a-z-]{1,8} = \\[\"[^\"\\\\]{0,6}\"\\]\n",
        "[a-z-]{1,8} = (true|false|[0-9]{1,3})\n",
        "\\PC{0,20}",
    ];
    prop::collection::vec(atom, 0..12).prop_map(|parts| parts.concat())
}

/// A TOML basic string holding `s`.
fn quoted(s: &str) -> String {
    toml_edit::Value::from(s).to_string()
}

/// A manifest of well-formed shape with arbitrary values.
fn manifest_text() -> impl Strategy<Value = String> {
    let entry = (
        "[a-zA-Z_][a-zA-Z0-9_-]{0,10}",
        "(?s).{1,16}",
        proptest::option::of("[a-zA-Z_][a-zA-Z0-9_-]{0,10}"),
        prop::collection::vec("\\PC{0,8}", 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, path, package, features, enabled, defaults)| {
            let mut fields = vec![format!("path = {}", quoted(&path))];
            if let Some(package) = package {
                fields.push(format!("package = {}", quoted(&package)));
            }
            if !features.is_empty() {
                let list: Vec<String> = features.iter().map(|f| quoted(f)).collect();
                fields.push(format!("features = [{}]", list.join(", ")));
            }
            if !enabled {
                fields.push("enabled = false".to_owned());
            }
            if !defaults {
                fields.push("default-features = false".to_owned());
            }
            format!("{} = {{ {} }}\n", quoted(&name), fields.join(", "))
        });
    prop::collection::vec(entry, 0..6)
        .prop_map(|entries| format!("[plugins]\n{}", entries.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_manifest_parser_never_panics(text in tomlish()) {
        let _ = Manifest::parse(&text, Path::new("plugins.toml"));
    }

    #[test]
    fn the_lock_parser_never_panics(text in tomlish()) {
        let _ = Lockfile::parse(&text, Path::new("plugins.lock"));
    }

    #[test]
    fn the_lock_parser_never_panics_on_near_valid_locks(
        commit in "[0-9a-f]{0,45}",
        subdir in "\\PC{0,12}",
        version in "\\PC{0,8}",
        url in "\\PC{0,16}",
    ) {
        let text = format!(
            "version = 1\nmanifest-digest = \"sha256:{}\"\n\n[[plugin]]\nname = \"a\"\n\
             package = \"a\"\nversion = {}\nsource = {}\nsubdir = {}\nchecksum = \"sha256:{}\"\n",
            "0".repeat(64),
            quoted(&version),
            quoted(&format!("git+{url}#{commit}")),
            quoted(&subdir),
            "0".repeat(64),
        );
        let _ = Lockfile::parse(&text, Path::new("plugins.lock"));
    }

    #[test]
    fn every_accepted_manifest_generates_a_crate_that_parses(
        text in manifest_text(),
        versions in prop::collection::vec((0u64..100, 0u64..100, 0u64..100), 6),
    ) {
        let Ok(manifest) = Manifest::parse(&text, Path::new("plugins.toml")) else {
            return Ok(());
        };
        let lock = Lockfile {
            manifest_digest: manifest.digest(),
            plugins: manifest
                .enabled()
                .zip(versions)
                .map(|(declaration, (major, minor, patch))| LockedPlugin {
                    name: declaration.name.clone(),
                    package: declaration.package.clone(),
                    version: semver::Version::new(major, minor, patch),
                    source: match &declaration.source {
                        build_support::manifest::Source::Path(p) => {
                            LockSource::Local { path: p.clone() }
                        }
                        build_support::manifest::Source::Git { url, .. } => {
                            LockSource::Local { path: url.clone() }
                        }
                        build_support::manifest::Source::Registry { registry, .. } => {
                            LockSource::Registry(crate::lockfile::RegistryPin {
                                index: "sparse+https://index.example/".into(),
                                registry: registry.clone(),
                                checksum: crate::checksum::Checksum::parse(&format!(
                                    "sha256:{}",
                                    "0".repeat(64)
                                ))
                                .expect("a checksum"),
                            })
                        }
                    },
                })
                .collect(),
        };
        let files = codegen::plugin_set(&manifest, &lock, &Default::default())
            .map_err(|e| TestCaseError::fail(format!("{e} for\n{text}")))?;
        for file in &files {
            if file.path.ends_with(".toml") {
                prop_assert!(
                    file.contents.parse::<toml_edit::DocumentMut>().is_ok(),
                    "{} does not parse:\n{}", file.path, file.contents
                );
            } else {
                prop_assert!(
                    syn::parse_file(&file.contents).is_ok(),
                    "{} does not parse:\n{}", file.path, file.contents
                );
            }
        }
        let rendered = lock.render();
        let parsed = Lockfile::parse(&rendered, Path::new("plugins.lock"))
            .map_err(|e| TestCaseError::fail(format!("{e} for\n{rendered}")))?;
        prop_assert_eq!(parsed.plugins.len(), lock.plugins.len());
    }
}
