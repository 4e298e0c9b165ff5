//! `cargo xtask dev`: a declared plugin built from a working copy, with
//! plugins.toml and plugins.lock untouched, refused by locked syncs and
//! `dist`, shown in the binary's provenance, and ended by `dev --clear`
//! with `git status` as before.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use e2e::{
    GitRepo, Host, PluginCrate, assert_unchanged, expect_failure, expect_success, hermetic_git,
    hosts_dir, messages, snapshot, stdout, write_plugin,
};

/// Runs git in the host's root; its trimmed stdout.
fn git(host: &Host, args: &[&str]) -> String {
    let mut command = Command::new("git");
    hermetic_git(&mut command)
        .current_dir(&host.root)
        .args(args);
    stdout(&expect_success(&mut command)).trim().to_owned()
}

/// `example-app run <filter>` over `input`, after a build.
fn filter(host: &Host, name: &str, input: &str) -> String {
    let build = host.build(false);
    assert!(build.status.success(), "{}", messages(&build));
    let mut child = host
        .app_bin(false)
        .args(["run", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the app");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success());
    stdout(&output).trim().to_owned()
}

/// The `override` the binary reports for plugin `id`.
fn reported_override(host: &Host, id: &str) -> serde_json::Value {
    let list = stdout(&expect_success(
        host.app_bin(false).args(["plugins", "list", "--json"]),
    ));
    let document: serde_json::Value = serde_json::from_str(&list).expect("JSON");
    document["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {list}"))["override"]
        .clone()
}

/// Makes the filter of the plugin crate in `dir` answer `DEV(<text>)`.
fn change_filter(dir: &Path, name: &str) {
    let lib = dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).expect("read lib.rs");
    let changed = text.replace(&format!("\"{name}({{s}})\""), "\"DEV({s})\"");
    assert_ne!(text, changed, "the filter is in {}", lib.display());
    std::fs::write(&lib, changed).expect("write lib.rs");
}

/// The whole loop for plugin `name` of a host whose sources are committed:
/// override with `work`, see it built and reported, see the lock and the
/// manifest untouched and locked syncs refused, then clear.
fn override_and_clear(host: &Host, name: &str, work: &Path) {
    let unchanged = |h: &Host| snapshot(&h.root, &["plugins.toml", "plugins.lock"]);
    let before = unchanged(host);
    assert_eq!(filter(host, name, "abc"), format!("{name}(abc)"));

    let output = expect_success(&mut host.xtask(&["dev", name, &work.display().to_string()]));
    let work = work.canonicalize().expect("canonical working copy");
    let notice = format!(
        "plugin `{name}` is built from {} (`cargo xtask dev`), not from what plugins.lock pins; \
         `cargo xtask dev --clear {name}` ends it",
        work.display()
    );
    assert!(messages(&output).contains(&notice), "{}", messages(&output));
    let build = host.build(false);
    assert!(
        messages(&build).contains(&format!("plugin `{name}` is built from {}", work.display()))
    );
    assert_eq!(filter(host, name, "abc"), "DEV(abc)");
    assert_eq!(reported_override(host, name), work.display().to_string());
    // Every sync says so, in one line.
    let again = expect_success(&mut host.xtask(&["sync"]));
    assert_eq!(
        messages(&again).matches(&notice).count(),
        1,
        "{}",
        messages(&again)
    );
    assert_eq!(
        stdout(&expect_success(&mut host.xtask(&["dev"]))),
        format!("{name}  {}\n", work.display())
    );

    // What the lock pins is what a release is made from.
    for args in [&["sync", "--locked"][..], &["dist"], &["sbom"]] {
        let refused = expect_failure(&mut host.xtask(args));
        assert!(
            messages(&refused).contains(&format!(
                "plugin `{name}` is built from {} (`cargo xtask dev`), and a locked sync (as \
                 `dist` and `sbom` run) builds only what plugins.lock pins; run `cargo xtask dev \
                 --clear {name}` first",
                work.display()
            )),
            "{args:?}: {}",
            messages(&refused)
        );
    }
    assert_unchanged(&before, &unchanged(host));
    // The override file is this machine's: git never sees it.
    let status = git(host, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".plugin-dev"), "{status}");
    assert!(host.path(".plugin-dev/overrides.toml").is_file());

    expect_success(&mut host.xtask(&["dev", "--clear", name]));
    assert_eq!(
        git(host, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    assert!(!host.path(".plugin-dev").exists());
    assert_eq!(filter(host, name, "abc"), format!("{name}(abc)"));
    assert_eq!(reported_override(host, name), serde_json::Value::Null);
    assert_unchanged(&before, &unchanged(host));
}

/// A host using example-app, with its files committed to git.
fn committed_host(name: &str, plugins_toml: &str, setup: impl Fn(&Host)) -> Host {
    let host = Host::new(name);
    host.use_example_app();
    setup(&host);
    host.write("plugins.toml", plugins_toml);
    expect_success(&mut host.xtask(&["sync"]));
    let build = host.build(false);
    assert!(build.status.success(), "{}", messages(&build));
    git(&host, &["init", "--quiet", "--initial-branch=main"]);
    git(&host, &["add", "--all"]);
    git(&host, &["commit", "--quiet", "-m", "host"]);
    host
}

#[test]
fn a_path_plugin_is_built_from_a_working_copy_until_cleared() {
    let upper = PluginCrate {
        filters: &[("upper", None)],
        ..PluginCrate::new("upper", "upper")
    };
    let host = committed_host(
        "dev_path",
        "[plugins]\nupper = { path = \"plugins/upper\" }\n",
        |host| host.plugin("plugins/upper", &upper),
    );
    let work = hosts_dir().join("dev_path.work/upper");
    let _ = std::fs::remove_dir_all(&work);
    write_plugin(&work, &upper);
    change_filter(&work, "upper");
    override_and_clear(&host, "upper", &work);
}

#[test]
fn a_git_plugin_is_built_from_a_local_clone_until_cleared() {
    let repo = GitRepo::with_plugin("dev-git", "gitplug", "gitplug");
    repo.git(&["tag", "v1"]);
    let host = committed_host(
        "dev_git",
        &format!(
            "[plugins]\ngitplug = {{ git = \"{}\", tag = \"v1\" }}\n",
            repo.url()
        ),
        |_| {},
    );
    let work = hosts_dir().join("dev_git.work");
    let _ = std::fs::remove_dir_all(&work);
    repo.git(&["clone", "--quiet", &repo.url(), &work.display().to_string()]);
    change_filter(&work, "gitplug");
    override_and_clear(&host, "gitplug", &work);
}

#[test]
fn an_override_must_name_a_declared_plugin_and_a_crate_and_writes_nothing_otherwise() {
    let host = Host::new("dev_refusals");
    host.plugin("plugins/upper", &PluginCrate::new("upper", "upper"));
    host.plugin("plugins/lower", &PluginCrate::new("lower", "lower"));
    host.plugin("plugins/off", &PluginCrate::new("off", "off"));
    host.write(
        "plugins.toml",
        "[plugins]\nupper = { path = \"plugins/upper\" }\nlower = { path = \"plugins/lower\" }\n\
         off = { path = \"plugins/off\", enabled = false }\n",
    );
    expect_success(&mut host.xtask(&["sync"]));
    let lower = host.path("plugins/lower").display().to_string();
    let empty = hosts_dir().join("dev_refusals.empty");
    std::fs::create_dir_all(&empty).expect("create an empty directory");
    let empty = empty.display().to_string();
    for (args, expected) in [
        (
            vec!["dev", "nope", lower.as_str()],
            "`nope` is not declared in plugins.toml; the declared plugins are: lower, off, upper"
                .to_owned(),
        ),
        (
            vec!["dev", "off", lower.as_str()],
            "plugin `off` is disabled in plugins.toml".to_owned(),
        ),
        (
            vec!["dev", "upper", "/nonexistent/work"],
            "the working copy for `upper` (/nonexistent/work) does not exist".to_owned(),
        ),
        (
            vec!["dev", "upper", empty.as_str()],
            format!("the working copy for `upper` ({empty}) has no Cargo.toml"),
        ),
        (
            vec!["dev", "upper", lower.as_str()],
            "is package `lower`, not `upper`".to_owned(),
        ),
        (
            vec!["dev", "upper"],
            "give the directory of the working copy to build `upper` from".to_owned(),
        ),
        (
            vec!["dev", "--clear", "upper"],
            "`upper` is not built from a working copy; overridden: none".to_owned(),
        ),
    ] {
        let before = host.snapshot();
        let failed = expect_failure(&mut host.xtask(&args));
        assert!(
            messages(&failed).starts_with("error: ") && messages(&failed).contains(&expected),
            "{args:?}: {}",
            messages(&failed)
        );
        assert_unchanged(&before, &host.snapshot());
        assert!(!host.path(".plugin-dev").exists());
    }
    // `.plugin-dev` as a symlink to somewhere else: refused, nothing written
    // through it.
    let elsewhere = hosts_dir().join("dev_refusals.elsewhere");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::create_dir_all(&elsewhere).expect("create the link's target");
    std::os::unix::fs::symlink(&elsewhere, host.path(".plugin-dev")).expect("symlink");
    let upper = host.path("plugins/upper").display().to_string();
    let before = host.snapshot();
    let failed = expect_failure(&mut host.xtask(&["dev", "upper", &upper]));
    assert_unchanged(&before, &host.snapshot());
    assert!(
        messages(&failed).contains("is not a directory (a symlink or a file); remove it"),
        "{}",
        messages(&failed)
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_file(host.path(".plugin-dev")).expect("remove the symlink");
    // A damaged override file is reported with the fix, and never followed.
    host.write(
        ".plugin-dev/overrides.toml",
        "[overrides]\nupper = \"relative\"\n",
    );
    let failed = expect_failure(&mut host.xtask(&["sync"]));
    assert!(
        messages(&failed).contains("run `cargo xtask dev --clear` and set the overrides again"),
        "{}",
        messages(&failed)
    );
    expect_success(&mut host.xtask(&["dev", "--clear"]));
    assert!(!host.path(".plugin-dev").exists());
}
