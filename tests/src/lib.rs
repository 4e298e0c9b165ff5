//! Harness for the end-to-end tests: throwaway host workspaces in
//! `$TMPDIR/static-plugins-e2e/<test>`, the real `xtask` binary, the real `cargo`.
//!
//! Every host build shares one target directory (the outer `cargo test`'s),
//! so the runtime crates compile once per profile. Builds run `--offline` against a
//! copy of this repository's `Cargo.lock`: every registry crate they need is
//! already in cargo's cache from building this workspace.

pub mod http;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{OnceLock, RwLock, RwLockWriteGuard};
use std::time::SystemTime;

/// This repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_owned()
}

/// The crates this project publishes, in dependency order (names free on
/// crates.io; cargo packages them together through a temporary registry).
pub const PUBLISHED_CRATES: [&str; 5] = [
    "static-plugins-id",
    "static-plugins-macros",
    "static-plugins-api",
    "static-plugins-build",
    "static-plugins-sync",
];

/// `command`, run by `sh -c script sh <script_args…> <program> <args…>` in
/// a user and mount namespace of its own (`unshare -rm`: mounts need no
/// privilege there and vanish with it), with `command`'s environment and
/// directory. The script runs the command as `"$@"` after shifting its own
/// arguments.
pub fn in_mount_namespace(
    script: &str,
    script_args: &[&std::ffi::OsStr],
    command: &Command,
) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped
        .args(["-rm", "sh", "-c", script, "sh"])
        .args(script_args)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(cwd) = command.get_current_dir() {
        wrapped.current_dir(cwd);
    }
    wrapped
}

/// The target directory shared by every build the tests run: the outer
/// `cargo test`'s own (cargo has released it by the time tests run), so a
/// host's build reuses what that build compiled — the runtime crates, and
/// gix and every other crate of the tool an adopted host's xtask builds.
pub fn shared_target_dir() -> PathBuf {
    outer_target_dir()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.env("CARGO_TARGET_DIR", shared_target_dir());
    // Whatever the outer `cargo test` was told must not leak into builds of
    // throwaway hosts.
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    command
}

/// The `xtask` binary (the product's command line plus `bench`), built once
/// per test process.
///
/// `xtask` is a workspace of its own; it is built in the target directory of
/// the `cargo test` that runs these tests (cargo has released it by the time
/// tests run), where `plugin-sync` and gix are already compiled.
pub fn xtask_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", outer_target_dir())
            .args([
                "build",
                "--offline",
                // xtask/Cargo.lock is committed: a stale one fails here.
                "--locked",
                "--manifest-path",
                "xtask/Cargo.toml",
                "--message-format=json-render-diagnostics",
            ]);
        let output = expect_success(&mut command);
        let built = stdout(&output)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo reports the xtask executable");
        // Hosts' own xtasks (init writes a package named `xtask`) build in
        // the same target directory and replace `debug/xtask`: the tests
        // run a copy of their own, one per test binary.
        let exe = std::env::current_exe().expect("the test binary has a path");
        let stem = exe
            .file_stem()
            .expect("the test binary has a name")
            .to_string_lossy()
            .into_owned();
        let dir = outer_target_dir().join("tmp").join("e2e-tool").join(stem);
        std::fs::create_dir_all(&dir).expect("create the tool's directory");
        let copy = dir.join(built.file_name().expect("the executable has a name"));
        let partial = dir.join(format!(".partial-{}", std::process::id()));
        std::fs::copy(&built, &partial).expect("copy the xtask executable");
        std::fs::rename(&partial, &copy).expect("move the xtask executable into place");
        copy
    })
}

/// The target directory of the `cargo test` running this test binary
/// (`<target>/debug/deps/<test>`).
pub fn outer_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("test binaries live in <target>/<profile>/deps")
        .to_owned()
}

/// Runs `command`, returning its output whatever the status.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("failed to spawn {command:?}: {e}"))
}

fn describe(command: &Command, output: &Output) -> String {
    format!(
        "command: {command:?}\ndirectory: {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        command
            .get_current_dir()
            .map_or_else(|| ".".into(), |d| d.display().to_string()),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// Runs `command` and panics with everything it printed unless it succeeds.
#[track_caller]
pub fn expect_success(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "expected success\n{}",
        describe(command, &output)
    );
    output
}

/// Runs `command` and panics with everything it printed unless it fails.
#[track_caller]
pub fn expect_failure(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        !output.status.success(),
        "expected failure\n{}",
        describe(command, &output)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// stderr without the line sync prints after each fetch when stderr is not
/// a terminal (`     Fetched <plugin> (…): N objects, …`): what tests of
/// errors and warnings compare.
pub fn messages(output: &Output) -> String {
    stderr(output)
        .lines()
        .filter(|line| !line.starts_with("     Fetched "))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Builds of throwaway hosts share one target directory, and cargo gives
/// every workspace's generated `plugin-set` crate the same build-script output
/// directory there (it hashes workspace members without their path). So a
/// test that asserts "this build compiled nothing" must not let another
/// host build in between: it takes this lock for writing, every other build
/// takes it for reading. Test binaries run one after another, so a lock per
/// process is enough.
static BUILDS: RwLock<()> = RwLock::new(());

thread_local! {
    static EXCLUSIVE: Cell<bool> = const { Cell::new(false) };
}

/// Held by a test that needs no other host build to run until it is dropped.
#[derive(Debug)]
pub struct ExclusiveBuilds {
    _guard: RwLockWriteGuard<'static, ()>,
}

impl Drop for ExclusiveBuilds {
    fn drop(&mut self) {
        EXCLUSIVE.set(false);
    }
}

/// Keeps every other test's host builds out until the result is dropped.
pub fn exclusive_builds() -> ExclusiveBuilds {
    let guard = BUILDS.write().unwrap_or_else(|e| e.into_inner());
    EXCLUSIVE.set(true);
    ExclusiveBuilds { _guard: guard }
}

/// A plugin crate to put in a host.
#[derive(Debug, Clone)]
pub struct PluginCrate<'a> {
    /// Package name.
    pub package: &'a str,
    /// Plugin id; `None` writes a crate without `#[plugin]`.
    pub id: Option<&'a str>,
    pub depends_on: &'a [&'a str],
    /// Filters it registers: `name` maps text to `name(text)`; with
    /// `cfg(feature = …)` when the second element is set.
    pub filters: &'a [(&'a str, Option<&'a str>)],
    /// Cargo features the crate declares.
    pub features: &'a [&'a str],
    /// Its `default` feature set.
    pub default_features: &'a [&'a str],
    /// Depend on `static-plugins-api` under this name instead of `plugin_api`.
    pub api_rename: Option<&'a str>,
    /// Panic with this message while registering.
    pub panic_in_register: Option<&'a str>,
}

impl<'a> PluginCrate<'a> {
    pub fn new(package: &'a str, id: &'a str) -> Self {
        PluginCrate {
            package,
            id: Some(id),
            depends_on: &[],
            filters: &[],
            features: &[],
            default_features: &[],
            api_rename: None,
            panic_in_register: None,
        }
    }
}

/// Where throwaway hosts live: outside this repository. Cargo prefers a
/// workspace root it has already loaded among a package's ancestors, and
/// this repository's root is loaded for the hosts' `plugin-api`: a host
/// inside it would see its git plugins inherit `[workspace.package]` from
/// this repository instead of from their own workspace.
pub fn hosts_dir() -> PathBuf {
    std::env::temp_dir().join("static-plugins-e2e")
}

/// A throwaway host workspace: root `Cargo.toml` with the generated crate as
/// a member, an `app` binary that lists the registry, and plugin crates.
#[derive(Debug)]
pub struct Host {
    pub root: PathBuf,
    /// Package (and binary) name of the host's app: unique per test, so
    /// tests running at once never overwrite each other's binary in the
    /// shared target directory.
    pub app: String,
}

const APP_MAIN: &str = r#"//! Test host: lists the registry, then every filter applied to "abc".
type Filter = fn(&str) -> String;

fn main() {
    let mut registry = match plugin_api::Registry::build(&plugin_set::SET) {
        Ok(registry) => registry,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    for (id, reason) in registry.init() {
        eprintln!("warning: plugin `{id}` was left out: {reason}");
    }
    for plugin in registry.plugins() {
        let d = plugin.descriptor;
        println!("plugin {} {} {} {}", d.id, d.version, d.crate_name, plugin.source);
    }
    for (name, filter) in registry.components::<Filter>() {
        println!("filter {name} {}", filter("abc"));
    }
    registry.shutdown();
}
"#;

impl Host {
    /// A fresh host in `$TMPDIR/static-plugins-e2e/<name>` (emptied first, kept after).
    pub fn new(name: &str) -> Host {
        let root = hosts_dir().join(name);
        for dir in [root.clone(), root.with_extension("cache")] {
            // A test may have left a file (or a symlink) in either place.
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {
                    std::fs::remove_dir_all(&dir).expect("remove the previous run's host");
                }
                Ok(_) => std::fs::remove_file(&dir).expect("remove the previous run's file"),
                Err(_) => {}
            }
        }
        let host = Host {
            root,
            app: format!("app-{}", name.replace('_', "-")),
        };
        let repo = repo_root();
        host.write(
            "Cargo.toml",
            &format!(
                "[workspace]\nresolver = \"3\"\nmembers = [\"app\", \"plugin-set\"]\nexclude = [\"plugin-sources\"]\n\n\
                 [workspace.dependencies]\nstatic-plugins-api = {{ path = {:?} }}\nstatic-plugins-build = {{ path = {:?} }}\n",
                repo.join("plugin-api"),
                repo.join("build-support"),
            ),
        );
        std::fs::copy(repo.join("Cargo.lock"), host.root.join("Cargo.lock"))
            .expect("copy Cargo.lock");
        host.write(
            "app/Cargo.toml",
            &format!(
                "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nstatic-plugins-api.workspace = true\nplugin-set = {{ path = \"../plugin-set\" }}\n",
                host.app
            ),
        );
        host.write("app/src/main.rs", APP_MAIN);
        host
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Writes a file, creating its directories.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("files have a parent"))
            .expect("create directories");
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    pub fn read(&self, relative: &str) -> String {
        let path = self.path(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Writes a plugin crate into directory `dir` of the host.
    pub fn plugin(&self, dir: &str, plugin: &PluginCrate<'_>) {
        write_plugin(&self.path(dir), plugin);
    }

    /// `xtask <args> --manifest-path <host>/Cargo.toml`.
    ///
    /// It runs with the host's own cache directory and a hermetic git setup.
    pub fn xtask(&self, args: &[&str]) -> Command {
        let mut command = Command::new(xtask_bin());
        hermetic_git(&mut command)
            .env("PLUGIN_CACHE_DIR", self.cache_dir())
            .current_dir(&self.root)
            .args(args)
            .arg("--manifest-path")
            .arg(self.path("Cargo.toml"));
        command
    }

    /// Replaces the app with this repository's example-app (same filters
    /// extension point), to test its real command line on other plugins.
    pub fn use_example_app(&self) {
        let main = std::fs::read_to_string(repo_root().join("example-app/src/main.rs"))
            .expect("read example-app's main.rs");
        self.write("app/src/main.rs", &main);
        let manifest = self.read("app/Cargo.toml");
        self.write(
            "app/Cargo.toml",
            &format!("{manifest}serde_json = \"1\"\ntoml = \"1\"\n"),
        );
    }

    /// The cache directory `xtask` uses for this host (outside the host).
    pub fn cache_dir(&self) -> PathBuf {
        self.root.with_extension("cache")
    }

    /// `cargo <args> --offline` in the host, with the shared target directory.
    pub fn cargo(&self, args: &[&str]) -> Command {
        let mut command = cargo();
        command.current_dir(&self.root).args(args).arg("--offline");
        command
    }

    /// Runs `cargo build` of the app, in release or dev profile, and returns
    /// its output whatever the status. See [`exclusive_builds`].
    pub fn build(&self, release: bool) -> Output {
        let mut command = self.cargo(&["build", "--package", &self.app]);
        if release {
            command.arg("--release");
        }
        self.run_build(command)
    }

    /// `cargo build` of the app without `--offline`, for a host whose
    /// plugins have git dependencies (test repositories on `file://`) that
    /// cargo must fetch itself.
    pub fn build_fetching_git(&self) -> Output {
        let mut command = cargo();
        command
            .current_dir(&self.root)
            .args(["build", "--package", &self.app]);
        self.run_build(command)
    }

    fn run_build(&self, mut command: Command) -> Output {
        let _shared = (!EXCLUSIVE.get()).then(|| BUILDS.read().unwrap_or_else(|e| e.into_inner()));
        run(&mut command)
    }

    /// The app's binary, once built.
    pub fn app_bin(&self, release: bool) -> Command {
        Command::new(
            shared_target_dir()
                .join(if release { "release" } else { "debug" })
                .join(format!("{}{}", self.app, std::env::consts::EXE_SUFFIX)),
        )
    }

    /// Runs `xtask <args>`, which must fail and leave every file of the
    /// host as it was (bytes and mtimes); returns what it said.
    #[track_caller]
    pub fn refuses(&self, args: &[&str]) -> String {
        let before = self.snapshot();
        let log = messages(&expect_failure(&mut self.xtask(args)));
        assert_unchanged(&before, &self.snapshot());
        log
    }

    /// Builds the host as example-app (`fetching`: letting cargo reach its
    /// registries) and returns what `plugins list` prints.
    pub fn plugins_list(&self, fetching: bool) -> String {
        self.use_example_app();
        let build = if fetching {
            self.build_fetching_git()
        } else {
            self.build(false)
        };
        assert!(build.status.success(), "{}", messages(&build));
        stdout(&expect_success(
            self.app_bin(false).args(["plugins", "list"]),
        ))
    }

    /// Builds the app and runs it; returns what it printed.
    pub fn build_and_run(&self, release: bool) -> String {
        let build = self.build(release);
        assert!(build.status.success(), "build failed:\n{}", stderr(&build));
        stdout(&expect_success(&mut self.app_bin(release)))
    }

    /// Every file of the host outside `target/`, with its bytes and mtime.
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.root, &["."])
    }
}

/// Files with their bytes and mtimes, by path relative to a root.
pub type Snapshot = BTreeMap<PathBuf, (Vec<u8>, SystemTime)>;

/// Every file under `paths` (files or directories relative to `root`),
/// skipping `target/` and `.git/`.
pub fn snapshot(root: &Path, paths: &[&str]) -> Snapshot {
    fn walk(path: &Path, root: &Path, out: &mut Snapshot) {
        if path.is_dir() {
            let name = path.file_name().unwrap_or_default();
            if name == "target" || name == ".git" {
                return;
            }
            for entry in std::fs::read_dir(path).expect("read_dir") {
                walk(&entry.expect("dir entry").path(), root, out);
            }
        } else if path.exists() {
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .expect("mtime");
            let bytes = std::fs::read(path).expect("read");
            let relative = path.strip_prefix(root).expect("under root").to_owned();
            out.insert(relative, (bytes, modified));
        }
    }
    let mut out = BTreeMap::new();
    for path in paths {
        walk(&root.join(path), root, &mut out);
    }
    out
}

/// Asserts two snapshots hold the same files, bytes and mtimes, naming the
/// first difference.
#[track_caller]
pub fn assert_unchanged(before: &Snapshot, after: &Snapshot) {
    let before_files: Vec<_> = before.keys().collect();
    let after_files: Vec<_> = after.keys().collect();
    assert_eq!(before_files, after_files, "the set of files changed");
    for (path, (bytes, mtime)) in before {
        let (after_bytes, after_mtime) = &after[path];
        assert!(bytes == after_bytes, "{} changed its bytes", path.display());
        assert_eq!(mtime, after_mtime, "{} changed its mtime", path.display());
    }
}

/// Writes a plugin crate into `dir`. It depends on this repository's
/// `plugin-api` by absolute path, so it builds inside a host or from a git
/// repository alike.
pub fn write_plugin(dir: &Path, plugin: &PluginCrate<'_>) {
    // The package is `static-plugins-api`, its library `plugin_api`.
    let api = plugin.api_rename.unwrap_or("plugin_api");
    let api_path = repo_root().join("plugin-api");
    let api_dep = match plugin.api_rename {
        None => format!("static-plugins-api = {{ path = {api_path:?} }}"),
        Some(rename) => {
            format!("{rename} = {{ path = {api_path:?}, package = \"static-plugins-api\" }}")
        }
    };
    let mut features: String = plugin
        .features
        .iter()
        .map(|f| format!("{f} = []\n"))
        .collect();
    let defaults: Vec<String> = plugin
        .default_features
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    features.push_str(&format!("default = [{}]\n", defaults.join(", ")));
    write_file(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{}\"\nversion = \"1.2.3\"\nedition = \"2024\"\npublish = false\n\n\
             [features]\n{features}\n[dependencies]\n{api_dep}\n",
            plugin.package
        ),
    );
    let api = api.replace('-', "_");
    let mut lib = format!(
        "//! Test plugin.\n\ntype Filter = fn(&str) -> String;\n\n#[derive(Default)]\npub struct P;\n\n\
         impl {api}::Plugin for P {{\n    fn register(&self, registrar: &mut {api}::Registrar<'_>) {{\n"
    );
    if let Some(message) = plugin.panic_in_register {
        lib.push_str(&format!("        panic!({message:?});\n"));
    }
    for (name, feature) in plugin.filters {
        if let Some(feature) = feature {
            lib.push_str(&format!("        #[cfg(feature = \"{feature}\")]\n"));
        }
        lib.push_str(&format!(
            "        registrar.add::<Filter>(\"{name}\", |s| format!(\"{name}({{s}})\"));\n"
        ));
    }
    lib.push_str("    }\n}\n");
    if let Some(id) = plugin.id {
        let depends: Vec<String> = plugin.depends_on.iter().map(|d| format!("{d:?}")).collect();
        let krate = match plugin.api_rename {
            Some(_) => format!(", crate = ::{api}"),
            None => String::new(),
        };
        lib = lib.replace(
            "#[derive(Default)]",
            &format!(
                "#[{api}::plugin(id = {id:?}, depends_on = [{}]{krate})]\n#[derive(Default)]",
                depends.join(", ")
            ),
        );
    }
    write_file(&dir.join("src/lib.rs"), &lib);
}

/// Writes a file, creating its directories.
pub fn write_file(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().expect("files have a parent"))
        .expect("create directories");
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Makes `command` independent of the machine's git setup: no system or
/// global configuration, a fixed identity and dates, an empty HOME.
/// The tool, as every test runs it: the xtask binary with the hermetic
/// environment of [`hermetic_git`] (its own HOME, git configuration and
/// identity, so a newcomer's settings cannot change a result).
pub fn tool() -> Command {
    let mut command = Command::new(xtask_bin());
    hermetic_git(&mut command);
    command
}

pub fn hermetic_git(command: &mut Command) -> &mut Command {
    let home = repo_root().join("target/tmp/e2e-home");
    std::fs::create_dir_all(&home).expect("create the tests' HOME");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "XDG_CONFIG_HOME",
    ] {
        command.env_remove(var);
    }
    // HOME changes, but cargo's and rustup's homes must not: keep the
    // registry cache and the toolchain the tests were started with.
    let real_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let value = std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| real_home.join(default));
        command.env(var, value);
    }
    command
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("LC_ALL", "C")
}

/// A real git repository made by a test, served to sync over `file://`.
#[derive(Debug)]
pub struct GitRepo {
    pub dir: PathBuf,
}

impl GitRepo {
    /// A fresh repository in `$TMPDIR/static-plugins-e2e-repos/<name>` on branch
    /// `main`.
    pub fn new(name: &str) -> GitRepo {
        // Outside this repository, like the hosts, so a crate in it is not
        // taken for a member of this workspace.
        let dir = std::env::temp_dir()
            .join("static-plugins-e2e-repos")
            .join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the previous run's repository");
        }
        std::fs::create_dir_all(&dir).expect("create repository directory");
        let repo = GitRepo { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    /// `file://` URL of the repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Runs git in the repository; returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let mut command = Command::new("git");
        hermetic_git(&mut command).current_dir(&self.dir).args(args);
        stdout(&expect_success(&mut command)).trim().to_owned()
    }

    pub fn write(&self, relative: &str, contents: &str) {
        write_file(&self.dir.join(relative), contents);
    }

    /// Writes a plugin crate into `dir` of the repository.
    pub fn plugin(&self, dir: &str, plugin: &PluginCrate<'_>) {
        write_plugin(&self.dir.join(dir), plugin);
    }

    /// Commits everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }
}

/// A git repository holding this working tree (tracked and untracked files
/// git does not ignore) in one commit: the tool as a user would fetch it.
/// Returns it and the commit.
pub fn tool_repo(name: &str) -> (GitRepo, String) {
    let repo = GitRepo::new(name);
    let mut list = Command::new("git");
    hermetic_git(&mut list).current_dir(repo_root()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]);
    let files = expect_success(&mut list).stdout;
    for relative in files.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let relative = Path::new(std::str::from_utf8(relative).expect("UTF-8 paths"));
        let from = repo_root().join(relative);
        // Tracked but deleted in the working tree: not part of it.
        if !from.is_file() {
            continue;
        }
        let to = repo.dir.join(relative);
        std::fs::create_dir_all(to.parent().expect("files have a parent")).expect("mkdir");
        std::fs::copy(&from, &to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    }
    let commit = repo.commit("the tool, as of this working tree");
    (repo, commit)
}

/// `cargo <args>` as a user runs it in `dir`: hermetic git, the shared
/// target directory, and `cache` as the tool's cache. Not `--offline`
/// unless `args` says so.
pub fn user_cargo(dir: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut command = cargo();
    hermetic_git(&mut command)
        .current_dir(dir)
        .env("PLUGIN_CACHE_DIR", cache)
        .args(args);
    command
}

impl GitRepo {
    /// Runs git in the repository with `input` on stdin; returns its trimmed
    /// stdout.
    pub fn git_with_input(&self, args: &[&str], input: &[u8]) -> String {
        use std::io::Write as _;
        use std::process::Stdio;
        let mut command = Command::new("git");
        hermetic_git(&mut command)
            .current_dir(&self.dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn git");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input)
            .expect("write git's stdin");
        let output = child.wait_with_output().expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Writes a blob; returns its id.
    pub fn blob(&self, contents: &[u8]) -> String {
        self.git_with_input(&["hash-object", "-w", "--stdin"], contents)
    }

    /// Writes a tree object with exactly these `(mode, name, id)` entries, in
    /// this order — duplicates and names `git add` refuses included (`git
    /// hash-object --literally`); returns its id.
    pub fn raw_tree(&self, entries: &[(&str, &[u8], &str)]) -> String {
        let mut bytes = Vec::new();
        for (mode, name, id) in entries {
            bytes.extend_from_slice(mode.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(name);
            bytes.push(0);
            for pair in id.as_bytes().chunks(2) {
                let hex = std::str::from_utf8(pair).expect("hex");
                bytes.push(u8::from_str_radix(hex, 16).expect("hex digit"));
            }
        }
        self.git_with_input(
            &["hash-object", "-w", "--literally", "-t", "tree", "--stdin"],
            &bytes,
        )
    }
}

impl GitRepo {
    /// A fresh repository whose root is plugin crate `package` (plugin id
    /// `package`) registering one filter, committed on `main`.
    pub fn with_plugin(name: &str, package: &str, filter: &str) -> GitRepo {
        let repo = GitRepo::new(name);
        repo.plugin(
            ".",
            &PluginCrate {
                filters: &[(filter, None)],
                ..PluginCrate::new(package, package)
            },
        );
        repo.commit("plugin");
        repo
    }
}
