//! Unit tests of the registry rules, on hand-made descriptors.

use super::*;
use crate::set::SetEntry;
use crate::{API_VERSION, BoxError, ConfigValue};

#[derive(Default)]
struct Named;

impl Plugin for Named {
    fn register(&self, registrar: &mut Registrar<'_>) {
        let id = registrar.plugin();
        registrar.add::<&'static str>(id, id);
    }
}

struct Failing;

impl Plugin for Failing {
    fn register(&self, _: &mut Registrar<'_>) {}
    fn init(&self, _: &Context<'_>) -> Result<(), BoxError> {
        Err("disk on fire".into())
    }
}

fn descriptor(
    id: &'static str,
    crate_name: &'static str,
    depends_on: &'static [&'static str],
) -> &'static PluginDescriptor {
    Box::leak(Box::new(PluginDescriptor {
        id,
        description: "",
        version: "1.0.0",
        crate_name,
        depends_on,
        api_version: API_VERSION,
        create: || Box::new(Named),
        config: None,
    }))
}

static EMPTY: PluginSet = PluginSet {
    lock_digest: "sha256:0",
    declared: &[],
    entries: &[],
    stamp: "",
};

fn ids(registry: &Registry) -> Vec<&'static str> {
    registry.plugins().map(|p| p.id()).collect()
}

fn build(descriptors: Vec<&'static PluginDescriptor>) -> Result<Registry, Error> {
    Registry::builder(&EMPTY).build_from(descriptors)
}

#[test]
fn order_is_by_id_whatever_the_link_order() {
    let a = descriptor("a", "ca", &[]);
    let b = descriptor("b", "cb", &[]);
    let c = descriptor("c", "cc", &[]);
    for link_order in [vec![a, b, c], vec![c, a, b], vec![b, c, a]] {
        assert_eq!(ids(&build(link_order).unwrap()), ["a", "b", "c"]);
    }
}

#[test]
fn dependencies_come_first_ties_by_id() {
    let registry = build(vec![
        descriptor("alpha", "x", &["zeta"]),
        descriptor("beta", "x", &[]),
        descriptor("zeta", "x", &[]),
    ])
    .unwrap();
    assert_eq!(ids(&registry), ["beta", "zeta", "alpha"]);
}

#[test]
fn duplicate_id_names_both_crates() {
    let err = build(vec![
        descriptor("upper", "one", &[]),
        descriptor("upper", "two", &[]),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin id `upper` is registered by both crate `one` (host) and crate `two` (host); \
         ids must be unique: change one of them or disable one plugin in plugins.toml"
    );
}

#[test]
fn the_first_duplicate_in_id_order_is_named_among_ids_sharing_eight_bytes() {
    // Ids sharing their first eight bytes are told apart by the strings;
    // a duplicate there, and a later one among short ids.
    let err = build(vec![
        descriptor("zz", "late", &[]),
        descriptor("metrics-exporter-b", "b1", &[]),
        descriptor("metrics-exporter-a", "a", &[]),
        descriptor("zz", "later", &[]),
        descriptor("metrics-exporter-b", "b2", &[]),
        descriptor("metrics", "m", &[]),
    ])
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::DuplicateId {
                id: "metrics-exporter-b",
                first: ("b1", "host"),
                second: ("b2", "host"),
            }
        ),
        "{err:?}"
    );
    // Distinct ids with a shared prefix, in link orders that differ.
    let ids_of = |order: Vec<&'static PluginDescriptor>| ids(&build(order).unwrap());
    let long = [
        descriptor("metrics-exporter-b", "b", &[]),
        descriptor("metrics-exporter-a", "a", &[]),
        descriptor("metrics-exp", "e", &[]),
        descriptor("metrics", "m", &[]),
    ];
    let sorted = [
        "metrics",
        "metrics-exp",
        "metrics-exporter-a",
        "metrics-exporter-b",
    ];
    assert_eq!(ids_of(long.to_vec()), sorted);
    assert_eq!(ids_of(long.iter().rev().copied().collect()), sorted);
}

#[test]
fn missing_dependency_is_named() {
    let err = build(vec![descriptor("a", "x", &["nope"])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `a` depends on `nope`, which is not in this binary; \
         declare it in plugins.toml and run `cargo xtask sync`"
    );
}

#[test]
fn cycle_lists_every_plugin_in_it() {
    let err = build(vec![
        descriptor("a", "x", &["b"]),
        descriptor("b", "x", &["c"]),
        descriptor("c", "x", &["a"]),
        descriptor("d", "x", &["a"]),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugins depend on each other in a cycle: a -> b -> c -> a"
    );
}

#[test]
fn set_crate_without_registration_is_an_error_naming_it() {
    static SET: PluginSet = PluginSet {
        lock_digest: "sha256:0",
        declared: &[],
        entries: &[
            SetEntry {
                name: "upper",
                package: "upper",
                version: "1.0.0",
                source: "local",
                rev: None,
                checksum: None,
                overridden: None,
            },
            SetEntry {
                name: "forgot",
                package: "forgot-plugin",
                version: "1.0.0",
                source: "local",
                rev: None,
                checksum: None,
                overridden: None,
            },
        ],
        stamp: "",
    };
    let err = Registry::builder(&SET)
        .build_from(vec![descriptor("upper", "upper", &[])])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin crate `forgot-plugin` is in the plugin set but registered no plugin in this binary; \
         mark the plugin type with `#[plugin(id = \"…\")]`, or run `cargo xtask sync` and rebuild"
    );
    let err = Registry::builder(&SET).build_from(vec![]).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("(no plugin at all was found: is this platform supported by `inventory`?)"),
        "{err}"
    );
}

#[test]
fn source_comes_from_the_set_or_is_host() {
    static SET: PluginSet = PluginSet {
        lock_digest: "sha256:0",
        declared: &[],
        entries: &[SetEntry {
            name: "up",
            package: "upper",
            version: "1.0.0",
            source: "local",
            rev: None,
            checksum: None,
            overridden: None,
        }],
        stamp: "",
    };
    let registry = Registry::builder(&SET)
        .build_from(vec![
            descriptor("upper", "upper", &[]),
            descriptor("builtin", "app", &[]),
        ])
        .unwrap();
    assert_eq!(registry.plugin("upper").unwrap().source, "local");
    assert_eq!(registry.plugin("builtin").unwrap().source, HOST_SOURCE);
    assert!(registry.plugin("nope").is_none());
}

#[test]
fn components_are_found_by_type_and_name() {
    let registry = build(vec![descriptor("b", "x", &[]), descriptor("a", "x", &[])]).unwrap();
    let all: Vec<_> = registry
        .components::<&'static str>()
        .map(|(n, v)| (n, *v))
        .collect();
    assert_eq!(all, [("a", "a"), ("b", "b")]);
    assert_eq!(registry.component::<&'static str>("b"), Some(&"b"));
    assert_eq!(registry.component::<u32>("b"), None);
}

#[test]
fn duplicate_component_names_both_plugins() {
    #[derive(Default)]
    struct Same;
    impl Plugin for Same {
        fn register(&self, registrar: &mut Registrar<'_>) {
            registrar.add::<u8>("same", 1);
        }
    }
    let mut one = *descriptor("one", "x", &[]);
    one.create = || Box::new(Same);
    let mut two = *descriptor("two", "x", &[]);
    two.create = || Box::new(Same);
    let err = build(vec![Box::leak(Box::new(one)), Box::leak(Box::new(two))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugins `one` and `two` both contribute `same` to extension point `u8`"
    );
}

fn with_create(
    id: &'static str,
    depends_on: &'static [&'static str],
    create: fn() -> Box<dyn Plugin>,
) -> &'static PluginDescriptor {
    let mut d = *descriptor(id, "x", depends_on);
    d.create = create;
    Box::leak(Box::new(d))
}

fn status(registry: &Registry, id: &str) -> Status {
    registry.plugin(id).unwrap().status.clone()
}

#[test]
fn failed_init_is_isolated_with_its_cause_and_dependants_follow() {
    let mut registry = build(vec![
        descriptor("a", "x", &[]),
        with_create("bad", &["a"], || Box::new(Failing)),
        descriptor("needs-bad", "x", &["bad"]),
        descriptor("z", "x", &["a"]),
    ])
    .unwrap();
    let left_out = registry.init();
    assert_eq!(
        left_out,
        [
            ("bad", "init failed: disk on fire".to_owned()),
            ("needs-bad", "depends on `bad`, which failed".to_owned()),
        ]
    );
    assert!(matches!(
        status(&registry, "a"),
        Status::Loaded { init_time: Some(_) }
    ));
    assert!(matches!(
        status(&registry, "z"),
        Status::Loaded { init_time: Some(_) }
    ));
    assert_eq!(
        status(&registry, "bad").to_string(),
        "failed: init failed: disk on fire"
    );
    // Components of plugins left out are not offered to the host.
    let names: Vec<_> = registry
        .components::<&'static str>()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["a", "z"]);
}

#[test]
fn a_panicking_registration_is_reported_and_its_dependants_left_out() {
    struct Panics;
    impl Plugin for Panics {
        fn register(&self, _: &mut Registrar<'_>) {
            panic!("bad table");
        }
    }
    let registry = build(vec![
        descriptor("a", "x", &[]),
        with_create("boom", &[], || Box::new(Panics)),
        descriptor("child", "x", &["boom"]),
    ])
    .unwrap();
    assert_eq!(
        status(&registry, "boom"),
        Status::Failed {
            reason: "panicked while registering: bad table".into()
        }
    );
    assert_eq!(
        status(&registry, "child"),
        Status::Failed {
            reason: "depends on `boom`, which failed".into()
        }
    );
    assert!(status(&registry, "a").is_loaded());
}

#[test]
fn a_panicking_init_is_reported_with_its_message() {
    struct PanicsInInit;
    impl Plugin for PanicsInInit {
        fn register(&self, _: &mut Registrar<'_>) {}
        fn init(&self, _: &Context<'_>) -> Result<(), BoxError> {
            panic!("no {} here", "config")
        }
    }
    let mut registry = build(vec![with_create("p", &[], || Box::new(PanicsInInit))]).unwrap();
    assert_eq!(
        registry.init(),
        [("p", "panicked in init: no config here".to_owned())]
    );
}

#[test]
fn disabled_plugins_are_left_out_and_reported() {
    let mut registry = Registry::builder(&EMPTY)
        .disable("b")
        .build_from(vec![descriptor("a", "x", &[]), descriptor("b", "x", &[])])
        .unwrap();
    assert!(registry.init().is_empty());
    assert_eq!(status(&registry, "b"), Status::Disabled);
    assert_eq!(registry.component::<&'static str>("b"), None);
    assert_eq!(registry.component::<&'static str>("a"), Some(&"a"));
}

#[test]
fn disabling_a_dependency_of_enabled_plugins_names_them() {
    let err = Registry::builder(&EMPTY)
        .disable("base")
        .build_from(vec![
            descriptor("base", "x", &[]),
            descriptor("one", "x", &["base"]),
            descriptor("two", "x", &["base"]),
        ])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `base` cannot be disabled: `one`, `two` depend on it; disable them too"
    );
    // Disabling the dependants as well is fine.
    Registry::builder(&EMPTY)
        .disable("base")
        .disable("one")
        .disable("two")
        .build_from(vec![
            descriptor("base", "x", &[]),
            descriptor("one", "x", &["base"]),
            descriptor("two", "x", &["base"]),
        ])
        .unwrap();
}

#[test]
fn unknown_ids_list_what_is_available_and_say_to_sync_when_declared() {
    static SET: PluginSet = PluginSet {
        lock_digest: "sha256:0",
        declared: &["a", "later"],
        entries: &[],
        stamp: "",
    };
    let err = Registry::builder(&EMPTY)
        .disable("nope")
        .build_from(vec![descriptor("a", "x", &[])])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no plugin `nope` in this binary; available: `a`"
    );
    let registry = Registry::builder(&SET)
        .build_from(vec![descriptor("a", "x", &[])])
        .unwrap();
    assert_eq!(registry.require("a").unwrap().id(), "a");
    assert_eq!(
        registry.require("later").unwrap_err().to_string(),
        "no plugin `later` in this binary; available: `a`; `later` is declared in plugins.toml \
         but not built in: enable it there and run `cargo xtask sync`"
    );
}

#[test]
fn shutdown_runs_in_reverse_order_for_started_plugins_only() {
    use std::sync::Mutex;
    static LOG: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    struct Logs(&'static str);
    impl Plugin for Logs {
        fn register(&self, _: &mut Registrar<'_>) {}
        fn init(&self, _: &Context<'_>) -> Result<(), BoxError> {
            LOG.lock().unwrap().push(self.0);
            if self.0 == "c" {
                Err("no".into())
            } else {
                Ok(())
            }
        }
        fn shutdown(&self) {
            LOG.lock().unwrap().push(self.0);
        }
    }
    let mut registry = build(vec![
        with_create("b", &["a"], || Box::new(Logs("b"))),
        with_create("a", &[], || Box::new(Logs("a"))),
        with_create("c", &[], || Box::new(Logs("c"))),
    ])
    .unwrap();
    registry.init();
    registry.shutdown();
    assert_eq!(*LOG.lock().unwrap(), ["a", "b", "c", "b", "a"]);
}

#[test]
fn config_sections_are_parsed_and_checked() {
    #[derive(Debug, serde::Deserialize)]
    struct Level {
        level: u8,
    }
    #[derive(Default)]
    struct Configured;
    impl Plugin for Configured {
        fn register(&self, registrar: &mut Registrar<'_>) {
            let level = registrar.config::<Level>().expect("configured").level;
            registrar.add::<u8>("level", level);
        }
    }
    let configured = || {
        let mut d = *descriptor("conf", "x", &[]);
        d.create = || Box::new(Configured);
        d.config = Some(crate::config::ConfigSpec {
            type_name: "Level",
            parse: crate::config::parse::<Level>,
        });
        let d: &'static PluginDescriptor = Box::leak(Box::new(d));
        vec![d, descriptor("plain", "x", &[])]
    };
    let section = |entries: &[(&str, ConfigValue)]| {
        let table = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        std::collections::BTreeMap::from([("conf".to_owned(), ConfigValue::Table(table))])
    };
    let registry = Registry::builder(&EMPTY)
        .config("host.toml", section(&[("level", ConfigValue::Integer(7))]))
        .build_from(configured())
        .unwrap();
    assert_eq!(registry.component::<u8>("level"), Some(&7));

    let error = |builder: Builder| builder.build_from(configured()).unwrap_err().to_string();
    assert_eq!(
        error(
            Registry::builder(&EMPTY)
                .config("host.toml", section(&[("level", ConfigValue::Bool(true))]))
        ),
        "host.toml: plugin `conf`, key `level`: invalid type: boolean `true`, expected u8"
    );
    assert_eq!(
        error(Registry::builder(&EMPTY)),
        "the host's configuration (no file given): plugin `conf`: missing field `level`"
    );
    let mut plain = section(&[]);
    plain.insert("plain".into(), ConfigValue::Table(Default::default()));
    assert_eq!(
        error(Registry::builder(&EMPTY).config("host.toml", plain)),
        "host.toml: plugin `plain`: the plugin takes no configuration"
    );
    // Sections are checked even when no linked plugin takes a
    // configuration (the build skips parsing only when there are none).
    let unconfigured = || vec![descriptor("plain", "x", &[])];
    let mut sections = std::collections::BTreeMap::new();
    sections.insert("plain".to_owned(), ConfigValue::Table(Default::default()));
    assert_eq!(
        Registry::builder(&EMPTY)
            .config("host.toml", sections)
            .build_from(unconfigured())
            .unwrap_err()
            .to_string(),
        "host.toml: plugin `plain`: the plugin takes no configuration"
    );
    let mut sections = std::collections::BTreeMap::new();
    sections.insert("gone".to_owned(), ConfigValue::Table(Default::default()));
    assert!(
        Registry::builder(&EMPTY)
            .config("host.toml", sections)
            .build_from(unconfigured())
            .unwrap_err()
            .to_string()
            .starts_with("host.toml: plugin `gone`: there is no plugin `gone` in this binary")
    );
    // A disabled plugin's configuration is not parsed.
    Registry::builder(&EMPTY)
        .disable("conf")
        .build_from(configured())
        .unwrap();
}

#[test]
fn a_registration_that_panics_contributes_nothing_of_any_type() {
    struct Half;
    impl Plugin for Half {
        fn register(&self, registrar: &mut Registrar<'_>) {
            registrar.add::<u8>("n", 1);
            registrar.add::<&'static str>("s", "half");
            registrar.add::<u8>(String::from("owned"), 2);
            panic!("half way");
        }
    }
    struct Full;
    impl Plugin for Full {
        fn register(&self, registrar: &mut Registrar<'_>) {
            registrar.add::<&'static str>("s", "full");
            registrar.add::<u8>("n".to_owned(), 3);
        }
    }
    // `a-half` registers first: had its components counted, `b-full`'s
    // would be duplicates.
    let registry = build(vec![
        with_create("b-full", &[], || Box::new(Full)),
        with_create("a-half", &[], || Box::new(Half)),
    ])
    .unwrap();
    assert!(!status(&registry, "a-half").is_loaded());
    let all: Vec<_> = registry
        .all_components()
        .map(|c| {
            (
                c.plugin(),
                c.name(),
                c.type_name(),
                c.downcast::<u8>().copied(),
            )
        })
        .collect();
    assert_eq!(
        all,
        [
            ("b-full", "s", "&str", None),
            ("b-full", "n", "u8", Some(3))
        ]
    );
    assert_eq!(registry.component::<u8>("n"), Some(&3));
    assert_eq!(registry.component::<u8>("owned"), None);
    assert_eq!(registry.component::<&'static str>("s"), Some(&"full"));
}

/// Values are stored by type without an index back to their slots: the
/// `n`th slot of a type must meet the `n`th value of that type, whatever
/// other types come between, and whichever plugin is left out.
#[test]
fn components_of_each_type_keep_their_names_when_types_interleave() {
    struct Mixed;
    impl Plugin for Mixed {
        fn register(&self, registrar: &mut Registrar<'_>) {
            let id = registrar.plugin();
            let n = id.len() as u8;
            registrar.add::<u8>(format!("{id}-first"), n);
            registrar.add::<&'static str>(id, id);
            registrar.add::<u8>(format!("{id}-second"), n * 10);
        }
    }
    struct MixedFailing;
    impl Plugin for MixedFailing {
        fn register(&self, registrar: &mut Registrar<'_>) {
            Mixed.register(registrar);
        }
        fn init(&self, _: &Context<'_>) -> Result<(), BoxError> {
            Err("no".into())
        }
    }
    let mut registry = build(vec![
        with_create("ccc", &[], || Box::new(Mixed)),
        with_create("a", &[], || Box::new(Mixed)),
        with_create("bb", &[], || Box::new(MixedFailing)),
    ])
    .unwrap();
    let bytes = |registry: &Registry| -> Vec<(String, u8)> {
        registry
            .components::<u8>()
            .map(|(name, n)| (name.to_owned(), *n))
            .collect()
    };
    let expected = |ids: &[&str]| -> Vec<(String, u8)> {
        ids.iter()
            .flat_map(|id| {
                let n = id.len() as u8;
                [(format!("{id}-first"), n), (format!("{id}-second"), n * 10)]
            })
            .collect()
    };
    assert_eq!(bytes(&registry), expected(&["a", "bb", "ccc"]));
    registry.init();
    assert_eq!(bytes(&registry), expected(&["a", "ccc"]));
    let names: Vec<_> = registry
        .components::<&'static str>()
        .map(|(name, id)| (name, *id))
        .collect();
    assert_eq!(names, [("a", "a"), ("ccc", "ccc")]);
    assert_eq!(registry.component::<u8>("ccc-second"), Some(&30));
}
