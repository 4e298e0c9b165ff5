use plugin_api::{Plugin, Registrar, plugin};

#[plugin(description = "no id")]
#[derive(Default)]
struct Upper;

impl Plugin for Upper {
    fn register(&self, _: &mut Registrar<'_>) {}
}

fn main() {
    let _ = Upper;
}
