use plugin_api::plugin;

#[plugin(id = "upper")]
fn upper() {}

fn main() {
    upper();
}
