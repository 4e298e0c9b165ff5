use plugin_api::plugin;

#[plugin(id = "upper")]
#[derive(Default)]
struct Upper;

fn main() {
    let _ = Upper;
}
