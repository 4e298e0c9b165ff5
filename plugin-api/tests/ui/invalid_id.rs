use plugin_api::{Plugin, Registrar, plugin};

#[plugin(id = "Upper Case", depends_on = ["ok", "-bad"])]
#[derive(Default)]
struct Upper;

impl Plugin for Upper {
    fn register(&self, _: &mut Registrar<'_>) {}
}

fn main() {
    let _ = Upper;
}
