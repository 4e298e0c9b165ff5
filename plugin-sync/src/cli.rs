//! The command line: `cargo xtask <task>` in a host (its xtask's `main` is
//! [`main`]), or `cargo plugins <task>` once installed. Parses the flags each
//! task honours, runs the task, prints `error: …` with its causes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use build_support::manifest::GitReference;
use clap::{Args, Parser, Subcommand};

use crate::{cache, dist, edit, host, init, list, sbom, scaffold, secret, sync, verify};

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
    Update(UpdateTask),
    /// Declare a plugin in plugins.toml (keeping its comments), then sync
    Add(AddTask),
    /// Remove plugins from plugins.toml (keeping its comments), then sync
    Remove(RemoveTask),
    /// Commit the git plugins' files (plugin-sources/) so a clone builds offline
    Vendor(VendorTask),
    /// Reproducible release build: sync --locked, then a path-remapped release build
    Dist(DistTask),
    /// Write the binary's CycloneDX bill of materials without building it
    /// (`dist` writes the same beside the binary)
    Sbom(SbomTask),
    /// Build a plugin from a working copy instead of what plugins.lock pins
    /// (`dev NAME PATH`), list such overrides (`dev`), end them (`dev --clear
    /// [NAME]`); plugins.toml and plugins.lock are never changed
    Dev(DevTask),
    /// Check a plugin crate as this host would see it, before anyone depends on it
    Lint(LintTask),
    /// Make an existing Cargo project a host of plugins (run from the tool)
    Init(InitArgs),
    /// Show each plugin as declared, locked and present, and what runs at build time
    List(ListTask),
    /// Create a plugin crate that builds and tests alone and in this host
    NewPlugin(NewPluginTask),
    /// Check every git plugin's files against plugins.lock's checksums
    Verify(VerifyTask),
    /// Manage the shared cache of git sources
    Cache(CacheTask),
    /// Sync, then `cargo run` the host binary with the given arguments
    Run(RunTask),
}

#[derive(Debug, Args)]
struct UpdateTask {
    #[command(flatten)]
    sync: SyncArgs,
    /// Plugins to update [default: all]
    names: Vec<String>,
}

#[derive(Debug, Args)]
struct AddTask {
    #[command(flatten)]
    plugin: AddArgs,
    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Debug, Args)]
struct RemoveTask {
    /// Plugins to remove
    #[arg(required = true)]
    names: Vec<String>,
    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Debug, Args)]
struct VendorTask {
    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Debug, Args)]
struct DistTask {
    #[command(flatten)]
    sync: ReleaseSyncArgs,
    #[command(flatten)]
    binary: BinaryArgs,
    /// Build for this target triple [default: the host's]
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
}

#[derive(Debug, Args)]
struct SbomTask {
    #[command(flatten)]
    sync: ReleaseSyncArgs,
    #[command(flatten)]
    binary: BinaryArgs,
    /// The target triple whose dependencies it lists [default: the host's]
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Where to write it [default: <target>/release/<binary>.cdx.json]
    #[arg(long, short = 'o', value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DevTask {
    /// Plugin to build from a working copy
    name: Option<String>,
    /// Directory of the plugin crate's working copy
    path: Option<PathBuf>,
    /// End the override of NAME, or of every plugin
    #[arg(long, conflicts_with = "path")]
    clear: bool,
    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Debug, Args)]
struct LintTask {
    /// Directory of the plugin crate (with --version: the crate's name)
    #[arg(required_unless_present = "git", conflicts_with = "git")]
    path: Option<PathBuf>,
    /// Lint the published crate named by the argument instead: the newest
    /// version this requirement admits, downloaded by cargo as sync does
    #[arg(long, value_name = "REQ", conflicts_with = "git")]
    version: Option<String>,
    /// With --version: the registry, as configured for cargo
    /// (`[registries]`) [default: crates.io]
    #[arg(long, value_name = "NAME", requires = "version")]
    registry: Option<String>,
    /// Lint the crate at the root of this git repository instead
    /// (fetched as sync fetches, into a private temporary directory)
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// With --git: fetch with the `git` command line instead of the
    /// built-in client (also $PLUGIN_GIT_FETCH_WITH_CLI=true)
    #[arg(long, requires = "git")]
    git_fetch_with_cli: bool,
    #[command(flatten)]
    reference: GitRefArgs,
    /// Print `{"crate", "version", "checks": [{"name", "status", "message"}]}`
    #[arg(long)]
    json: bool,
    /// Never touch the network
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    host: HostArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Debug, Args)]
struct ListTask {
    /// Print JSON for machines
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    host: HostArgs,
}

#[derive(Debug, Args)]
struct NewPluginTask {
    /// Crate name and plugin id
    name: String,
    /// Directory to create [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    #[command(flatten)]
    host: HostArgs,
}

#[derive(Debug, Args)]
struct VerifyTask {
    #[command(flatten)]
    host: HostArgs,
    /// Print nothing but errors
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Debug, Args)]
struct CacheTask {
    #[command(subcommand)]
    action: CacheAction,
    #[command(flatten)]
    cache: GlobalCacheArgs,
}

#[derive(Debug, Args)]
struct RunTask {
    #[command(flatten)]
    sync: RunSyncArgs,
    #[command(flatten)]
    binary: BinaryArgs,
    /// Arguments for the host binary
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// Print where the cache is
    Dir,
    /// Remove every cached repository and checkout
    Clean,
}

/// Which commit of `--git` (the default branch without any).
#[derive(Debug, Args)]
struct GitRefArgs {
    /// Git tag
    #[arg(long, requires = "git", conflicts_with_all = ["branch", "rev"])]
    tag: Option<String>,
    /// Git branch
    #[arg(long, requires = "git", conflicts_with = "rev")]
    branch: Option<String>,
    /// Full 40-hex git commit
    #[arg(long, requires = "git")]
    rev: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["git", "path", "version"])))]
struct AddArgs {
    /// Name of the plugin (its key in plugins.toml)
    name: String,
    /// Git repository URL
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// Local crate directory
    #[arg(long, value_name = "DIR", conflicts_with_all = ["git", "tag", "branch", "rev", "subdir"])]
    path: Option<String>,
    /// Version requirement, from crates.io or `--registry`
    #[arg(long, value_name = "REQ", conflicts_with_all = ["git", "path", "tag", "branch", "rev", "subdir"])]
    version: Option<String>,
    /// Registry of the version, as configured for cargo (`[registries]`)
    #[arg(long, value_name = "NAME", requires = "version")]
    registry: Option<String>,
    #[command(flatten)]
    reference: GitRefArgs,
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
struct InitArgs {
    /// Path to the project's root Cargo.toml [default: ./Cargo.toml]
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// The binary package to build plugins into [default: the project's only
    /// binary]
    #[arg(long, short = 'p', value_name = "SPEC")]
    package: Option<String>,
    /// The binary target whose `main` builds the registry, when the project
    /// has several [default: the only one]
    #[arg(long, value_name = "NAME")]
    bin: Option<String>,
    /// Take the tool (plugin-api, build-support, the engine) from this git
    /// repository [default: where this tool came from: its checkout, by
    /// path, or its published release, by version]
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// Commit of --git [default: the commit this tool was built from]
    #[arg(long, requires = "git", conflicts_with_all = ["tag", "branch"])]
    rev: Option<String>,
    /// Tag of --git
    #[arg(long, requires = "git", conflicts_with = "branch")]
    tag: Option<String>,
    /// Branch of --git
    #[arg(long, requires = "git")]
    branch: Option<String>,
    /// Take the tool from this checkout of its repository
    #[arg(long, value_name = "DIR", conflicts_with = "git")]
    path: Option<PathBuf>,
    /// Take the tool's published crates from crates.io (or what the
    /// project's cargo configuration replaces it with), by this version
    /// requirement; third-party plugins then need no [patch]
    #[arg(long, value_name = "REQ", conflicts_with_all = ["git", "path"])]
    version: Option<String>,
    /// Never touch the network
    #[arg(long)]
    offline: bool,
    /// Print nothing but errors
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

impl InitArgs {
    fn run(self) -> anyhow::Result<ExitCode> {
        let args = self;
        let manifest = args
            .manifest_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
        let report = init::init(&init::Options {
            manifest,
            package: args.package.clone(),
            bin: args.bin.clone(),
            source: args.source()?,
            offline: args.offline,
            cache: cache::Cache::locate_lazily(args.cache.cache_dir.as_deref()),
        })?;
        if !args.quiet {
            if report.changed.is_empty() {
                errln!("{:>12} already a host; nothing changed", "Fresh");
            } else {
                errln!("{:>12} {}", "Wrote", report.changed.join(", "));
            }
            errln!(
                "{:>12} add these two lines to `main` in {} (binary `{}` of package `{}`):\n",
                "Next",
                report.main,
                report.bin,
                report.package
            );
            for line in init::MAIN_LINES {
                errln!("    {line}");
            }
            errln!(
                "\n{:>12} declare plugins with `cargo xtask add` (`cargo xtask --help`)",
                "Then"
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    fn source(&self) -> anyhow::Result<init::ToolSource> {
        let own = init::ToolSource::running_tool();
        if let Some(url) = &self.git {
            if secret::has_credentials(url) {
                bail!(
                    "the --git URL carries credentials, which init would write into Cargo.toml \
                     and xtask/Cargo.toml (files you commit); give the URL without them and let \
                     git's credential helper supply them"
                );
            }
            let pin = match (&self.rev, &self.tag, &self.branch) {
                (Some(rev), _, _) => init::Pin::Rev(rev.clone()),
                (_, Some(tag), _) => init::Pin::Tag(tag.clone()),
                (_, _, Some(branch)) => init::Pin::Branch(branch.clone()),
                _ => init::Pin::Rev(own.as_deref().and_then(crate::git::head_commit).context(
                    "cannot tell which commit this tool was built from; pass --rev, \
                             --tag or --branch with --git",
                )?),
            };
            return Ok(init::ToolSource::Git {
                url: url.clone(),
                pin,
            });
        }
        if let Some(requirement) = &self.version {
            if semver::VersionReq::parse(requirement).is_err() {
                bail!("--version `{requirement}` is not a version requirement (e.g. `0.2`)");
            }
            return Ok(init::ToolSource::Published {
                requirement: requirement.clone(),
            });
        }
        let dir = match (&self.path, own) {
            (Some(path), _) => path
                .canonicalize()
                .with_context(|| format!("{} does not exist", path.display()))?,
            (None, Some(own)) => own,
            (None, None) => {
                return init::ToolSource::running_release().context(
                    "this tool was built neither from a checkout of its repository nor from a \
                     published release; pass --git URL (with --rev, --tag or --branch), --path \
                     DIR or --version REQ",
                );
            }
        };
        if !dir.join("plugin-api/Cargo.toml").is_file() {
            bail!(
                "{} is not a checkout of the plugin tool (no plugin-api/Cargo.toml)",
                dir.display()
            );
        }
        Ok(init::ToolSource::Path(dir))
    }
}

/// Which binary of the host: `--package` and `--bin`.
#[derive(Debug, Args)]
struct BinaryArgs {
    /// Package of the host binary [default: the one package with a binary
    /// that depends on plugin-set]
    #[arg(long, short = 'p', value_name = "SPEC")]
    package: Option<String>,
    /// The binary target, when the package has several [default: its only
    /// binary, or its `default-run`]
    #[arg(long, value_name = "NAME")]
    bin: Option<String>,
}

#[derive(Debug, Clone, Args)]
struct HostArgs {
    /// Path to the host workspace's Cargo.toml [default: the nearest
    /// directory at or above the current one that has plugins.toml]
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
}

/// Where the cache is: declared once, for every task that uses one.
#[derive(Debug, Clone, Args)]
struct CacheArgs {
    /// Cache directory [default: $PLUGIN_CACHE_DIR, else the user's cache
    /// directory]
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// [`CacheArgs`] for `cache dir|clean`, where it may follow the action.
#[derive(Debug, Clone, Args)]
struct GlobalCacheArgs {
    /// Cache directory [default: $PLUGIN_CACHE_DIR, else the user's cache
    /// directory]
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

/// The flags of every task that syncs.
#[derive(Debug, Clone, Args)]
struct CommonSync {
    #[command(flatten)]
    host: HostArgs,
    /// Never touch the network
    #[arg(long)]
    offline: bool,
    /// Print nothing but errors
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    cache: CacheArgs,
    /// Fetch with the `git` command line instead of the built-in client
    /// (also $PLUGIN_GIT_FETCH_WITH_CLI=true)
    #[arg(long)]
    git_fetch_with_cli: bool,
    /// Number of plugins to resolve at once [default: twice the cores, at
    /// most 8]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

/// `--locked` and `--frozen`, for the tasks that may change the lock.
#[derive(Debug, Clone, Copy, Args)]
struct LockFlags {
    /// Fail instead of changing plugins.lock
    #[arg(long)]
    locked: bool,
    /// Both --locked and --offline
    #[arg(long)]
    frozen: bool,
}

/// The flags of the tasks whose output is sync's report.
#[derive(Debug, Clone, Args)]
struct SyncArgs {
    #[command(flatten)]
    common: CommonSync,
    #[command(flatten)]
    lock: LockFlags,
    /// How to print the report: `human` on stderr, or one `json` object on
    /// stdout
    #[arg(long, value_name = "FMT", default_value = "human")]
    message_format: MessageFormat,
}

/// `dist`'s and `sbom`'s sync flags: they always sync `--locked`, so there
/// is no `--locked`, and `--frozen` means `--offline`.
#[derive(Debug, Clone, Args)]
struct ReleaseSyncArgs {
    #[command(flatten)]
    common: CommonSync,
    /// The same as --offline (the sync is always --locked)
    #[arg(long)]
    frozen: bool,
}

impl ReleaseSyncArgs {
    /// Sync's flags as `dist`/`sbom` use them: always `--locked`.
    fn locked(&self) -> SyncArgs {
        SyncArgs {
            common: CommonSync {
                offline: self.common.offline || self.frozen,
                ..self.common.clone()
            },
            lock: LockFlags {
                locked: true,
                frozen: false,
            },
            message_format: MessageFormat::Human,
        }
    }
}

/// `run`'s sync flags: no JSON report, as stdout is the program's.
#[derive(Debug, Clone, Args)]
struct RunSyncArgs {
    #[command(flatten)]
    common: CommonSync,
    #[command(flatten)]
    lock: LockFlags,
}

impl RunSyncArgs {
    fn sync_args(&self) -> SyncArgs {
        SyncArgs {
            common: self.common.clone(),
            lock: self.lock,
            message_format: MessageFormat::Human,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

impl BinaryArgs {
    fn find(&self, root: &std::path::Path) -> anyhow::Result<host::Binary> {
        host::binary(root, self.package.as_deref(), self.bin.as_deref())
    }
}

impl SyncArgs {
    fn config(&self) -> anyhow::Result<sync::Config> {
        let common = &self.common;
        Ok(sync::Config {
            root: host::locate(common.host.manifest_path.as_deref())?,
            locked: self.lock.locked || self.lock.frozen,
            offline: common.offline || self.lock.frozen,
            progress: crate::progress::Progress::new(
                common.quiet || self.message_format == MessageFormat::Json,
            ),
            // Located when a git plugin needs it: a host of path plugins
            // syncs without HOME.
            cache: cache::Cache::locate_lazily(common.cache.cache_dir.as_deref()),
            jobs: common.jobs.map(usize::from),
            git_fetch_with_cli: common.git_fetch_with_cli || crate::git_cli::from_env()?,
        })
    }

    /// `sync --locked` (what a release must be made from), and the host's
    /// binary.
    fn locked_binary(&self, binary: &BinaryArgs) -> anyhow::Result<(sync::Config, host::Binary)> {
        let config = sync::Config {
            locked: true,
            ..self.config()?
        };
        self.sync(&config, &sync::Mode::Sync)?;
        let binary = binary.find(&config.root)?;
        Ok((config, binary))
    }

    /// Syncs in `mode` and prints the report as asked.
    fn sync(&self, config: &sync::Config, mode: &sync::Mode) -> anyhow::Result<sync::Report> {
        let report = sync::sync(config, mode)?;
        match self.message_format {
            MessageFormat::Json => outln!(
                "{}",
                serde_json::to_string(&report).context("failed to render the report")?
            ),
            MessageFormat::Human if !self.common.quiet => sync::print(&report),
            MessageFormat::Human => {}
        }
        Ok(report)
    }
}

/// Runs the command line on this process's arguments; what a host's
/// `xtask/src/main.rs` calls.
pub fn main() -> ExitCode {
    // Run as `cargo plugins …`, cargo passes the subcommand's name first.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "plugins") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    match run(cli.task) {
        Ok(code) => code,
        Err(error) => {
            // Through the shell, so through the redactor: a library's error
            // may quote a URL with its credentials.
            crate::shell::error(&error);
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> anyhow::Result<ExitCode> {
    match task {
        Task::Sync(args) => {
            args.sync(&args.config()?, &sync::Mode::Sync)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Update(args) => args.run(),
        Task::Add(args) => args.run(),
        Task::Remove(args) => args.run(),
        Task::Vendor(args) => args.run(),
        Task::Dist(args) => args.run(),
        Task::Dev(args) => args.run(),
        Task::Lint(args) => args.run(),
        Task::Sbom(args) => args.run(),
        Task::Init(args) => args.run(),
        Task::List(args) => args.run(),
        Task::NewPlugin(args) => args.run(),
        Task::Verify(args) => args.run(),
        Task::Cache(args) => args.run(),
        Task::Run(args) => args.run(),
    }
}

impl UpdateTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let UpdateTask { sync: args, names } = self;
        args.sync(&args.config()?, &sync::Mode::Update(names))?;
        Ok(ExitCode::SUCCESS)
    }
}

impl AddTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let AddTask { plugin, sync: args } = self;
        let config = args.config()?;
        let declaration = edit::Declaration {
            name: plugin.name,
            path: plugin.path,
            git: plugin.git,
            version: plugin.version,
            registry: plugin.registry,
            tag: plugin.reference.tag,
            branch: plugin.reference.branch,
            rev: plugin.reference.rev,
            subdir: plugin.subdir,
            package: plugin.package,
            features: plugin.features,
            no_default_features: plugin.no_default_features,
        };
        let edit = edit::add(&config.root, &declaration)?;
        args.sync(&config, &sync::Mode::Edit(edit))?;
        Ok(ExitCode::SUCCESS)
    }
}

impl RemoveTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let RemoveTask { names, sync: args } = self;
        let config = args.config()?;
        args.sync(&config, &sync::Mode::Edit(edit::Edit::Remove(names)))?;
        Ok(ExitCode::SUCCESS)
    }
}

impl VendorTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let VendorTask { sync: args } = self;
        let config = args.config()?;
        let ignore = config
            .root
            .join(build_support::SOURCES_DIR)
            .join(".gitignore");
        let before = std::fs::read(&ignore).ok();
        args.sync(&config, &sync::Mode::Vendor)?;
        let lock_path = config.root.join(build_support::LOCK_FILE);
        let lock = crate::lockfile::Lockfile::load(&lock_path)?;
        if let Err(error) = crate::vendor::check(&config.root, &lock) {
            // Not vendored after all: plugin-sources/ is as it was.
            match before {
                Some(bytes) => {
                    crate::files::write_if_changed(&ignore, bytes)?;
                }
                None => {
                    std::fs::remove_file(&ignore)
                        .with_context(|| format!("failed to remove {}", ignore.display()))?;
                    let quiet = sync::Config {
                        progress: crate::progress::Progress::new(true),
                        ..args.config()?
                    };
                    args.sync(&quiet, &sync::Mode::Sync)?;
                }
            }
            return Err(error.context("plugin-sources/ was not vendored"));
        }
        errln!(
            "{:>12} plugin-sources/ is no longer ignored by git: commit it",
            "Vendored"
        );
        Ok(ExitCode::SUCCESS)
    }
}

impl DistTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let DistTask {
            sync: common,
            binary,
            target,
        } = self;
        let args = common.locked();
        let (config, binary) = args.locked_binary(&binary)?;
        let dist = dist::dist(&config.root, &binary, target.as_deref(), config.offline)?;
        outln!("{}  {}", dist.sha256, dist.binary.display());
        if !args.common.quiet {
            errln!("{:>12} {}", "Manifest", dist.manifest.display());
            errln!("{:>12} {}", "SBOM", dist.sbom.display());
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl DevTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let DevTask {
            name,
            path,
            clear,
            sync: args,
        } = self;
        let config = args.config()?;
        // Ending every override needs nothing from the recorded file,
        // so it works even when that file is damaged.
        let mut overrides = if name.is_none() && clear {
            crate::dev::Overrides::new()
        } else {
            crate::dev::load(&config.root)?
        };
        match (name, path, clear) {
            (None, None, false) => {
                if overrides.is_empty() {
                    errln!("{:>12} no plugin is built from a working copy", "Dev");
                }
                for (name, dir) in &overrides {
                    outln!("{name}  {}", dir.display());
                }
                return Ok(ExitCode::SUCCESS);
            }
            (Some(name), Some(path), false) => {
                overrides.insert(name, path);
            }
            (Some(name), None, false) => bail!(
                "give the directory of the working copy to build `{name}` from (`cargo xtask \
             dev {name} PATH`), or end its override with `cargo xtask dev --clear {name}`"
            ),
            (Some(name), _, true) => {
                if overrides.remove(&name).is_none() {
                    let current: Vec<&str> = overrides.keys().map(String::as_str).collect();
                    bail!(
                        "`{name}` is not built from a working copy; overridden: {}",
                        if current.is_empty() {
                            "none".to_owned()
                        } else {
                            current.join(", ")
                        }
                    );
                }
            }
            (None, _, true) => overrides.clear(),
            (None, Some(_), false) => bail!("give the plugin's name before the path"),
        }
        args.sync(&config, &sync::Mode::Dev(overrides))?;
        Ok(ExitCode::SUCCESS)
    }
}

impl LintTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let LintTask {
            path,
            version,
            registry,
            git,
            reference: GitRefArgs {
                tag, branch, rev, ..
            },
            json,
            offline,
            host: host_args,
            cache,
            git_fetch_with_cli,
        } = self;
        let cache_dir = cache.cache_dir;
        let root = host::locate(host_args.manifest_path.as_deref())?;
        let cache = cache::Cache::locate_lazily(cache_dir.as_deref());
        let target = match (path, git, version) {
            (Some(name), None, Some(requirement)) => {
                let package = name.to_string_lossy().into_owned();
                let valid = !package.is_empty()
                    && package
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    bail!(
                        "`{package}` is not a crate name (with --version, give the crate's name)"
                    );
                }
                if semver::VersionReq::parse(&requirement).is_err() {
                    bail!("--version `{requirement}` is not a version requirement (e.g. `0.2`)");
                }
                crate::lint::Target::Registry {
                    package,
                    requirement,
                    registry,
                }
            }
            (_, Some(url), _) => crate::lint::Target::Git {
                url,
                reference: match (tag, branch, rev) {
                    (Some(tag), _, _) => GitReference::Tag(tag),
                    (_, Some(branch), _) => GitReference::Branch(branch),
                    (_, _, Some(rev)) => GitReference::Rev(rev),
                    _ => GitReference::DefaultBranch,
                },
            },
            (Some(path), None, None) => crate::lint::Target::Path(path),
            (None, None, _) => bail!("give the plugin crate's directory, or --git URL"),
        };
        let fetch = crate::lint::Fetch {
            progress: crate::progress::Progress::new(json),
            with_cli: git_fetch_with_cli || crate::git_cli::from_env()?,
        };
        let report = crate::lint::lint(&root, &target, &cache, offline, &fetch)?;
        if json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&report).context("failed to render JSON")?
            );
        } else {
            crate::lint::print(&report);
        }
        Ok(if report.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}

impl SbomTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let SbomTask {
            sync: common,
            binary,
            target,
            output,
        } = self;
        let args = common.locked();
        if let Some(triple) = &target {
            dist::check_target(triple)?;
        }
        let (config, binary) = args.locked_binary(&binary)?;
        let triple = match &target {
            Some(triple) => triple.clone(),
            None => dist::toolchain()?.1,
        };
        let path = match output {
            Some(path) => path,
            None => dist::release_dir(&config.root, target.as_deref())?
                .join(format!("{}{}", binary.name, dist::exe_suffix(&triple)))
                .with_extension("cdx.json"),
        };
        let text = sbom::render(&config.root, &binary.package, config.offline, &triple)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        crate::files::write_if_changed(&path, text)?;
        if !args.common.quiet {
            errln!("{:>12} {}", "SBOM", path.display());
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl ListTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let ListTask { json, host: args } = self;
        list::list(&host::locate(args.manifest_path.as_deref())?, json)?;
        Ok(ExitCode::SUCCESS)
    }
}

impl NewPluginTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let NewPluginTask { name, path, host } = self;
        let dir = path.unwrap_or_else(|| PathBuf::from(&name));
        // The host's plugin-api, or else this tool's own checkout's.
        let root = match host.manifest_path.as_deref() {
            Some(path) => Some(host::locate(Some(path))?),
            None => host::locate(None).ok(),
        };
        let patch = match (&root, init::ToolSource::running_tool()) {
            (Some(root), _) => scaffold::api_patch(root, &dir)?,
            (None, Some(tool)) => scaffold::api_patch(&tool, &dir)?,
            (None, None) => None,
        };
        if patch.is_none() {
            errln!(
                "warning: no host's static-plugins-api to build against was found, so the new \
             crate's own builds take static-plugins-api from crates.io; pass --manifest-path \
             <host>/Cargo.toml to use a host's"
            );
        }
        scaffold::new_plugin(&name, &dir, patch.as_ref())?;
        Ok(ExitCode::SUCCESS)
    }
}

impl VerifyTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let VerifyTask {
            host: args,
            quiet,
            cache: CacheArgs { cache_dir },
        } = self;
        let root = host::locate(args.manifest_path.as_deref())?;
        let cache = cache::Cache::locate_lazily(cache_dir.as_deref());
        let problems = verify::verify(&root, &cache, quiet)?;
        for problem in &problems {
            errln!("error: {problem}");
        }
        Ok(if problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

impl CacheTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let CacheTask {
            action,
            cache: GlobalCacheArgs { cache_dir },
        } = self;
        let cache = cache::Cache::locate(cache_dir.as_deref())?;
        match action {
            CacheAction::Dir => outln!("{}", cache.root.display()),
            CacheAction::Clean => {
                if cache.clean()? {
                    errln!("{:>12} {}", "Removed", cache.root.join("git").display());
                } else {
                    errln!("{:>12} {} is empty", "Fresh", cache.root.display());
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl RunTask {
    fn run(self) -> anyhow::Result<ExitCode> {
        let RunTask {
            sync: run,
            binary,
            args: program_args,
        } = self;
        let args = run.sync_args();
        let config = args.config()?;
        args.sync(&config, &sync::Mode::Sync)?;
        let host::Binary { package, name } = binary.find(&config.root)?;
        let mut command = crate::process::cargo();
        command
            .arg("run")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(config.root.join("Cargo.toml"))
            .args(["--package", &package, "--bin", &name]);
        if config.locked {
            command.arg("--locked");
        }
        if config.offline {
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
