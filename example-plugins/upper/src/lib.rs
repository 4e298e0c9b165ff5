//! Example plugin: case filters, configurable from the host's config file.

use plugin_api::{Plugin, Registrar, plugin};
use serde::Deserialize;

/// The filter extension point of example-app: text in, text out.
pub type Filter = fn(&str) -> String;

/// `[plugins.upper]` in example-app's config file.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// Which filters to provide: `upper`, `lower` [default: both].
    #[serde(default = "both")]
    pub filters: Vec<Case>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Case {
    Upper,
    Lower,
}

fn both() -> Vec<Case> {
    vec![Case::Upper, Case::Lower]
}

/// Upper- and lower-case filters.
#[plugin(id = "upper", config = Config)]
#[derive(Debug, Default)]
pub struct CasePlugin;

impl Plugin for CasePlugin {
    fn register(&self, registrar: &mut Registrar<'_>) {
        let filters = registrar
            .config::<Config>()
            .map_or_else(both, |c| c.filters.clone());
        if filters.contains(&Case::Upper) {
            registrar.add::<Filter>("upper", |s| s.to_uppercase());
        }
        if filters.contains(&Case::Lower) {
            registrar.add::<Filter>("lower", |s| s.to_lowercase());
        }
    }
}
