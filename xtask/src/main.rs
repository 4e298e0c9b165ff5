//! This repository's `cargo xtask`: the product's command line
//! (`plugin_sync::cli::main`, exactly what an adopted host runs) plus the
//! maintainer-only `bench` and `corpus`.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::string_slice)
)]

mod bench;
mod corpus;
mod process;

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args_os().nth(1) {
        Some(task) if task == "bench" => bench::main(),
        Some(task) if task == "corpus" => corpus::main(),
        _ => plugin_sync::cli::main(),
    }
}
