use plugin_api::plugin;

#[plugin(id = "upper")]
#[derive(Default)]
struct Upper<T>(T);

fn main() {
    let _ = Upper(1);
}
