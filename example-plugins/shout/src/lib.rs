//! Example plugin that depends on another: `shout` is `upper` plus `!`.

use plugin_api::{BoxError, Context, Plugin, Registrar, plugin};

/// The filter extension point of example-app: text in, text out.
pub type Filter = fn(&str) -> String;

/// Shouts: upper-cases through the `upper` plugin's filter and adds `!`.
#[plugin(id = "shout", depends_on = ["upper"])]
#[derive(Debug, Default)]
pub struct Shout;

impl Plugin for Shout {
    fn register(&self, registrar: &mut Registrar<'_>) {
        registrar.add::<Filter>("shout", |s| {
            let trimmed = s.trim_end_matches('\n');
            format!("{}!{}", trimmed.to_uppercase(), &s[trimmed.len()..])
        });
    }

    fn init(&self, context: &Context<'_>) -> Result<(), BoxError> {
        // `depends_on` guarantees `upper` was registered and started first.
        context
            .registry()
            .component::<Filter>("upper")
            .map(|_| ())
            .ok_or_else(|| "the `upper` filter is missing".into())
    }
}
