//! Example plugin, declared with `enabled = false` in plugins.toml: it is
//! not built into example-app until enabled.

use plugin_api::{Plugin, Registrar, plugin};

/// The filter extension point of example-app: text in, text out.
pub type Filter = fn(&str) -> String;

/// Reverses each line.
#[plugin(id = "reverse")]
#[derive(Debug, Default)]
pub struct Reverse;

impl Plugin for Reverse {
    fn register(&self, registrar: &mut Registrar<'_>) {
        registrar.add::<Filter>("reverse", |s| {
            s.split_inclusive('\n')
                .map(|line| {
                    let body = line.trim_end_matches('\n');
                    body.chars().rev().collect::<String>() + &line[body.len()..]
                })
                .collect()
        });
    }
}
