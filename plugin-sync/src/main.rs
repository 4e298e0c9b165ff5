//! `cargo plugins …`: the engine's command line as an installable binary.
fn main() -> std::process::ExitCode {
    plugin_sync::cli::main()
}
