// `crate = path` replaces `::plugin_api` in the expansion: pointing it at a
// module without `__private` must fail there, not silently use plugin_api.
use plugin_api::{Plugin, Registrar, plugin};

mod not_the_api {}

#[plugin(id = "upper", crate = not_the_api)]
#[derive(Default)]
struct Upper;

impl Plugin for Upper {
    fn register(&self, _: &mut Registrar<'_>) {}
}

fn main() {
    let _ = Upper;
}
