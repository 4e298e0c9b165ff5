//! `cargo xtask`: the plugin aggregator's command line.
//!
//! The only crate that writes `plugins.lock` and the generated `plugin-set`
//! crate, and (later) the only one that touches the network.

mod api;
mod bench;
mod cache;
mod checksum;
mod dist;
mod edit;
mod files;
mod git;
mod graph;
mod host;
mod list;
mod scaffold;
mod scan;
mod sync;
mod verify;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

/// Build-time plugin aggregator: syncs the plugins of plugins.toml into the
/// generated `plugin-set` crate.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Resolve plugins.toml, write plugins.lock and the plugin-set crate
    Sync(SyncArgs),
    /// Move branch plugins to their newest commits; re-check tags
    Update {
        #[command(flatten)]
        sync: SyncArgs,
        /// Plugins to update [default: all]
        names: Vec<String>,
    },
    /// Declare a plugin in plugins.toml (keeping its comments), then sync
    Add {
        #[command(flatten)]
        plugin: AddArgs,
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Remove plugins from plugins.toml (keeping its comments), then sync
    Remove {
        /// Plugins to remove
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Commit the git plugins' files (plugin-sources/) so a clone builds offline
    Vendor {
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Reproducible release build: sync --locked, then a path-remapped release build
    Dist {
        #[command(flatten)]
        sync: SyncArgs,
        /// Package of the host binary
        #[arg(long, short = 'p', default_value = "example-app")]
        package: String,
    },
    /// Benchmark sync against cargo fetch and git clone; print a Markdown report
    Bench {
        /// Small sizes, one run each (what the test suite runs)
        #[arg(long)]
        quick: bool,
        /// Scratch directory for fixtures and hosts [default: a directory in
        /// the system's temp dir, outside any workspace]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Show each plugin as declared, locked and present, and what runs at build time
    List {
        /// Print JSON for machines
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Create a plugin crate that builds into the example app once declared
    NewPlugin {
        /// Crate name and plugin id
        name: String,
        /// Directory to create [default: ./NAME]
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
    },
    /// Check every git plugin's files against plugins.lock's checksums
    Verify {
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Manage the shared cache of git sources
    Cache {
        #[command(subcommand)]
        action: CacheAction,
        /// Cache directory [default: $PLUGIN_CACHE_DIR, else the user's cache
        /// directory]
        #[arg(long, value_name = "DIR", global = true)]
        cache_dir: Option<PathBuf>,
    },
    /// Sync, then `cargo run` the host binary with the given arguments
    Run {
        #[command(flatten)]
        sync: SyncArgs,
        /// Package of the host binary to run
        #[arg(long, short = 'p', default_value = "example-app")]
        package: String,
        /// Arguments for the host binary
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// Print where the cache is
    Dir,
    /// Remove every cached repository and checkout
    Clean,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["git", "path"])))]
struct AddArgs {
    /// Name of the plugin (its key in plugins.toml)
    name: String,
    /// Git repository URL
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// Local crate directory
    #[arg(long, value_name = "DIR", conflicts_with_all = ["git", "tag", "branch", "rev", "subdir"])]
    path: Option<String>,
    /// Git tag
    #[arg(long, requires = "git", conflicts_with_all = ["branch", "rev"])]
    tag: Option<String>,
    /// Git branch
    #[arg(long, requires = "git", conflicts_with = "rev")]
    branch: Option<String>,
    /// Full 40-hex git commit
    #[arg(long, requires = "git")]
    rev: Option<String>,
    /// Directory of the crate in the repository
    #[arg(long, requires = "git")]
    subdir: Option<String>,
    /// Package name of the crate, when it differs from NAME
    #[arg(long)]
    package: Option<String>,
    /// Cargo features to enable (comma-separated or repeated)
    #[arg(long, short = 'F', value_delimiter = ',')]
    features: Vec<String>,
    /// Do not enable the crate's default features
    #[arg(long)]
    no_default_features: bool,
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// Path to the host workspace's Cargo.toml [default: the nearest
    /// directory at or above the current one that has plugins.toml]
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Fail instead of changing plugins.lock
    #[arg(long)]
    locked: bool,
    /// Never touch the network
    #[arg(long)]
    offline: bool,
    /// Both --locked and --offline
    #[arg(long)]
    frozen: bool,
    /// Print nothing but errors
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Cache directory [default: $PLUGIN_CACHE_DIR, else the user's cache
    /// directory]
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

impl SyncArgs {
    fn options(&self) -> anyhow::Result<sync::Options> {
        Ok(sync::Options {
            root: host::locate(self.manifest_path.as_deref())?,
            locked: self.locked || self.frozen,
            offline: self.offline || self.frozen,
            quiet: self.quiet,
            cache: cache::Cache::locate(self.cache_dir.as_deref())?,
            update: None,
            edited_manifest: None,
            vendor: false,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.task) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("\nCaused by:\n  {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> anyhow::Result<ExitCode> {
    match task {
        Task::Sync(args) => {
            sync::sync(&args.options()?)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Update { sync: args, names } => {
            let options = sync::Options {
                update: Some(names),
                ..args.options()?
            };
            sync::sync(&options)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Add { plugin, sync: args } => {
            let options = args.options()?;
            let declaration = edit::Declaration {
                name: plugin.name,
                path: plugin.path,
                git: plugin.git,
                tag: plugin.tag,
                branch: plugin.branch,
                rev: plugin.rev,
                subdir: plugin.subdir,
                package: plugin.package,
                features: plugin.features,
                no_default_features: plugin.no_default_features,
            };
            let text = edit::add(&options.root, &declaration)?;
            sync::sync(&sync::Options {
                edited_manifest: Some(text),
                ..options
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Remove { names, sync: args } => {
            let options = args.options()?;
            let text = edit::remove(&options.root, &names)?;
            sync::sync(&sync::Options {
                edited_manifest: Some(text),
                ..options
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Vendor { sync: args } => {
            sync::sync(&sync::Options {
                vendor: true,
                ..args.options()?
            })?;
            eprintln!(
                "{:>12} plugin-sources/ is no longer ignored by git: commit it",
                "Vendored"
            );
            Ok(ExitCode::SUCCESS)
        }
        Task::Dist {
            sync: args,
            package,
        } => {
            let options = sync::Options {
                locked: true,
                ..args.options()?
            };
            sync::sync(&options)?;
            let dist = dist::dist(&options.root, &package, options.offline)?;
            println!("{}  {}", dist.sha256, dist.binary.display());
            eprintln!("{:>12} {}", "Manifest", dist.manifest.display());
            Ok(ExitCode::SUCCESS)
        }
        Task::Bench { quick, dir } => {
            let dir = dir.unwrap_or_else(|| std::env::temp_dir().join("static-plugins-bench"));
            let report = bench::bench(&bench::Options { dir, quick })?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Task::List { json, sync: args } => {
            list::list(&args.options()?.root, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::NewPlugin { name, path } => {
            let dir = path.unwrap_or_else(|| PathBuf::from(&name));
            scaffold::new_plugin(&name, &dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Verify { sync: args } => {
            let options = args.options()?;
            let problems = verify::verify(&options.root, &options.cache, options.quiet)?;
            for problem in &problems {
                eprintln!("error: {problem}");
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Task::Cache { action, cache_dir } => {
            let cache = cache::Cache::locate(cache_dir.as_deref())?;
            match action {
                CacheAction::Dir => println!("{}", cache.root.display()),
                CacheAction::Clean => {
                    if cache.clean()? {
                        eprintln!("{:>12} {}", "Removed", cache.root.join("git").display());
                    } else {
                        eprintln!("{:>12} {} is empty", "Fresh", cache.root.display());
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Task::Run {
            sync: args,
            package,
            args: program_args,
        } => {
            let options = args.options()?;
            sync::sync(&options)?;
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut command = Command::new(cargo);
            command
                .arg("run")
                .arg("--quiet")
                .arg("--manifest-path")
                .arg(options.root.join("Cargo.toml"))
                .args(["--package", &package]);
            if options.locked {
                command.arg("--locked");
            }
            if options.offline {
                command.arg("--offline");
            }
            let status = command
                .arg("--")
                .args(&program_args)
                .status()
                .with_context(|| format!("failed to run `cargo run --package {package}`"))?;
            Ok(match status.code() {
                Some(0) => ExitCode::SUCCESS,
                Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                None => ExitCode::FAILURE,
            })
        }
    }
}
