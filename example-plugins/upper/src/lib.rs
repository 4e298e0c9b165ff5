//! Example plugin: case filters.

use plugin_api::{Plugin, Registrar, plugin};

/// The filter extension point of example-app: text in, text out.
pub type Filter = fn(&str) -> String;

/// Upper- and lower-case filters.
#[plugin(id = "upper")]
#[derive(Debug, Default)]
pub struct Case;

impl Plugin for Case {
    fn register(&self, registrar: &mut Registrar<'_>) {
        registrar.add::<Filter>("upper", |s| s.to_uppercase());
        registrar.add::<Filter>("lower", |s| s.to_lowercase());
    }
}
