//! example-app: a text tool whose filters all come from plugins.
//!
//! `echo hello | example-app run upper rot13` pipes stdin through the named
//! filters; `example-app plugins list [--json]` shows what was built in.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use std::collections::BTreeMap;

use plugin_api::registry::Status;
use plugin_api::{ConfigValue, PluginInfo, Registry};

/// The extension point plugins contribute to: a named text filter.
type Filter = fn(&str) -> String;

const USAGE: &str = "\
usage: example-app [--disable ID]... COMMAND
commands:
  run FILTER...            filter stdin through the named filters
  filters                  list the filters plugins provide
  plugins list [--json]    list the plugins built into this binary
options:
  --disable ID             leave plugin ID out (repeatable)
  --config FILE            read plugin settings from [plugins.<id>] of FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("\nCaused by:\n  {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), [] | ["--help" | "-h" | "help"]) {
        println!("{USAGE}");
        return Ok(());
    }
    // Naming the generated crate's SET is what links every plugin crate.
    let mut builder = Registry::builder(&plugin_set::SET);
    loop {
        match args.as_slice() {
            ["--disable", id, ..] => builder = builder.disable(*id),
            ["--config", file, ..] => builder = builder.config(*file, read_config(file)?),
            _ => break,
        }
        args.drain(..2);
    }
    let mut registry = builder.build()?;
    registry.init();
    for plugin in registry.plugins() {
        if let Status::Failed { reason } = plugin.status {
            eprintln!("warning: plugin `{}` was left out: {reason}", plugin.id());
        }
    }
    let result = match args.as_slice() {
        ["run", filters @ ..] => filter(&registry, filters),
        ["filters"] => {
            list_filters(&registry);
            Ok(())
        }
        ["plugins", "list"] => {
            print_table(&registry);
            Ok(())
        }
        ["plugins", "list", "--json"] => {
            print_json(&registry);
            Ok(())
        }
        _ => Err(format!("unrecognised arguments: {}\n{USAGE}", args.join(" ")).into()),
    };
    registry.shutdown();
    result
}

/// The `[plugins.<id>]` sections of the TOML file at `path`.
fn read_config(path: &str) -> Result<BTreeMap<String, ConfigValue>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("failed to read {path}: {e}"))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let mut sections = BTreeMap::new();
    for (key, value) in table {
        match (key.as_str(), value) {
            ("plugins", toml::Value::Table(plugins)) => {
                for (id, section) in plugins {
                    sections.insert(id, config_value(section));
                }
            }
            _ => {
                return Err(format!(
                    "{path}: unknown key `{key}`; expected `[plugins.<id>]` tables"
                )
                .into());
            }
        }
    }
    Ok(sections)
}

fn config_value(value: toml::Value) -> ConfigValue {
    match value {
        toml::Value::String(s) => ConfigValue::String(s),
        toml::Value::Integer(i) => ConfigValue::Integer(i),
        toml::Value::Float(x) => ConfigValue::Float(x),
        toml::Value::Boolean(b) => ConfigValue::Bool(b),
        toml::Value::Datetime(d) => ConfigValue::String(d.to_string()),
        toml::Value::Array(items) => {
            ConfigValue::Array(items.into_iter().map(config_value).collect())
        }
        toml::Value::Table(table) => ConfigValue::Table(
            table
                .into_iter()
                .map(|(k, v)| (k, config_value(v)))
                .collect(),
        ),
    }
}

fn filter(registry: &Registry, names: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let filters = names
        .iter()
        .map(|name| {
            registry.component::<Filter>(name).ok_or_else(|| {
                let known: Vec<&str> = registry.components::<Filter>().map(|(n, _)| n).collect();
                format!("no filter named `{name}`; available: {}", known.join(", "))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    for f in filters {
        text = f(&text);
    }
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

fn list_filters(registry: &Registry) {
    for component in registry.all_components() {
        if component.downcast::<Filter>().is_some() {
            println!(
                "{:<10} (from plugin {})",
                component.name(),
                component.plugin()
            );
        }
    }
}

fn sorted_by_id(registry: &Registry) -> Vec<PluginInfo<'_>> {
    let mut plugins: Vec<PluginInfo> = registry.plugins().collect();
    plugins.sort_by_key(|p| p.id());
    plugins
}

fn print_table(registry: &Registry) {
    let rows: Vec<[String; 5]> = sorted_by_id(registry)
        .iter()
        .map(|p| {
            let d = p.descriptor;
            [
                d.id.to_owned(),
                d.version.to_owned(),
                d.crate_name.to_owned(),
                match p.entry.and_then(|e| e.overridden) {
                    Some(path) => format!("override {path}"),
                    None => p.source.to_owned(),
                },
                // Not `Status`'s Display: init times would make the table
                // differ between runs; `--json` has them.
                match p.status {
                    Status::Failed { reason } => format!("failed: {reason}"),
                    other => other.name().to_owned(),
                },
            ]
        })
        .collect();
    let header = ["ID", "VERSION", "CRATE", "SOURCE", "STATUS"].map(str::to_owned);
    let mut widths = header.each_ref().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        println!("{}", line.trim_end());
    }
}

fn print_json(registry: &Registry) {
    let plugins: Vec<serde_json::Value> = sorted_by_id(registry)
        .iter()
        .map(|p| {
            let d = p.descriptor;
            let reason = match p.status {
                Status::Failed { reason } => Some(reason.as_str()),
                _ => None,
            };
            let init_time_us = match p.status {
                Status::Loaded {
                    init_time: Some(time),
                } => Some(time.as_micros()),
                _ => None,
            };
            serde_json::json!({
                "id": d.id,
                "version": d.version,
                "crate": d.crate_name,
                "source": p.source,
                "rev": p.entry.and_then(|e| e.rev),
                "checksum": p.entry.and_then(|e| e.checksum),
                "override": p.entry.and_then(|e| e.overridden),
                "status": p.status.name(),
                "reason": reason,
                "init_time_us": init_time_us,
                "description": d.description,
                "depends_on": d.depends_on,
                "api_version": d.api_version,
            })
        })
        .collect();
    let document = serde_json::json!({
        "lock_digest": registry.set().lock_digest,
        "plugins": plugins,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&document).expect("JSON values always serialise")
    );
}
