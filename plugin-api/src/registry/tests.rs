//! Unit tests of the registry rules, on hand-made descriptors.

use super::*;
use crate::set::SetEntry;
use crate::{API_VERSION, BoxError};

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
    }))
}

static EMPTY: PluginSet = PluginSet { entries: &[] };

fn ids(registry: &Registry) -> Vec<&'static str> {
    registry.plugins().map(|p| p.id()).collect()
}

fn build(descriptors: Vec<&'static PluginDescriptor>) -> Result<Registry, Error> {
    Registry::from_descriptors(&EMPTY, descriptors)
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
        "plugin id `upper` is registered by both crate `one` and crate `two`; \
         ids must be unique: change one of them or disable one plugin in plugins.toml"
    );
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
        entries: &[
            SetEntry {
                name: "upper",
                package: "upper",
                version: "1.0.0",
                source: "local",
            },
            SetEntry {
                name: "forgot",
                package: "forgot-plugin",
                version: "1.0.0",
                source: "local",
            },
        ],
    };
    let err =
        Registry::from_descriptors(&SET, vec![descriptor("upper", "upper", &[])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin crate `forgot-plugin` is in the plugin set but registered no plugin in this binary; \
         mark the plugin type with `#[plugin(id = \"…\")]`, or run `cargo xtask sync` and rebuild"
    );
    let err = Registry::from_descriptors(&SET, vec![]).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("(no plugin at all was found: is this platform supported by `inventory`?)"),
        "{err}"
    );
}

#[test]
fn source_comes_from_the_set_or_is_host() {
    static SET: PluginSet = PluginSet {
        entries: &[SetEntry {
            name: "up",
            package: "upper",
            version: "1.0.0",
            source: "local",
        }],
    };
    let registry = Registry::from_descriptors(
        &SET,
        vec![
            descriptor("upper", "upper", &[]),
            descriptor("builtin", "app", &[]),
        ],
    )
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

#[test]
fn failed_init_names_the_plugin_and_keeps_the_cause() {
    let mut bad = *descriptor("bad", "x", &["a"]);
    bad.create = || Box::new(Failing);
    let mut registry = build(vec![descriptor("a", "x", &[]), Box::leak(Box::new(bad))]).unwrap();
    let err = registry.init().unwrap_err();
    assert_eq!(err.to_string(), "plugin `bad` failed to start");
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "disk on fire"
    );
}
