//! `add` and `remove` keep everything of plugins.toml they do not change —
//! comments, line endings, byte-order mark, file mode, a symlink to it — and
//! compute their edit under the workspace lock, so concurrent edits all
//! land; a read-only file is an error, never replaced.

use std::os::unix::fs::PermissionsExt as _;

use e2e::{Host, PluginCrate, assert_unchanged, expect_failure, expect_success, stderr};

fn host_with_plugins(name: &str, plugins: &[&str]) -> Host {
    let host = Host::new(name);
    for plugin in plugins {
        host.plugin(
            &format!("plugins/{plugin}"),
            &PluginCrate::new(plugin, plugin),
        );
    }
    host.write("plugins.toml", "[plugins]\n");
    expect_success(&mut host.xtask(&["sync"]));
    host
}

#[test]
fn concurrent_adds_all_land() {
    let names = ["one", "two", "three", "four"];
    let host = host_with_plugins("concurrent_adds", &names);
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            let path = format!("plugins/{name}");
            host.xtask(&["add", name, "--path", &path, "-q"])
                .spawn()
                .expect("spawn add")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("add runs");
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let manifest = host.read("plugins.toml");
    for name in names {
        assert!(
            manifest.contains(&format!("{name} = {{ path = \"plugins/{name}\" }}")),
            "{name} lost:\n{manifest}"
        );
    }
    expect_success(&mut host.xtask(&["sync", "--locked"]));
}

#[test]
fn edits_keep_comments_line_endings_bom_mode_and_symlinks() {
    let host = host_with_plugins("edits_keep", &["alpha", "beta"]);
    let real = host.path("config/plugins.toml");
    e2e::write_file(
        &real,
        "\u{feff}# Our plugins.\r\n[plugins]\r\n# Alpha does A.\r\nalpha = { path = \"plugins/beta\" } # for now\r\n",
    );
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::remove_file(host.path("plugins.toml")).unwrap();
    std::os::unix::fs::symlink("config/plugins.toml", host.path("plugins.toml")).unwrap();
    // Its relative paths are relative to the link's directory (the host
    // root), where sync reads it.

    expect_success(&mut host.xtask(&["add", "alpha", "--path", "plugins/alpha"]));
    expect_success(&mut host.xtask(&["add", "beta", "--path", "plugins/beta"]));
    let link = std::fs::symlink_metadata(host.path("plugins.toml")).unwrap();
    assert!(
        link.file_type().is_symlink(),
        "plugins.toml is still a link"
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "\u{feff}# Our plugins.\r\n[plugins]\r\n# Alpha does A.\r\nalpha = { path = \"plugins/alpha\" } # for now\r\nbeta = { path = \"plugins/beta\" }\r\n"
    );
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);

    expect_success(&mut host.xtask(&["remove", "beta"]));
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "\u{feff}# Our plugins.\r\n[plugins]\r\n# Alpha does A.\r\nalpha = { path = \"plugins/alpha\" } # for now\r\n"
    );
    assert!(
        std::fs::symlink_metadata(host.path("plugins.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn read_only_manifest_and_lock_are_errors_and_nothing_changes() {
    let host = host_with_plugins("read_only", &["alpha"]);
    let manifest = host.path("plugins.toml");
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["add", "alpha", "--path", "plugins/alpha"]));
    assert!(
        stderr(&output).contains("plugins.toml is read-only, and sync would have to change it"),
        "{}",
        stderr(&output)
    );
    assert_unchanged(&before, &host.snapshot());
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o644)).unwrap();

    // A read-only lock that sync would change: refused before any write.
    let lock = host.path("plugins.lock");
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o444)).unwrap();
    host.write(
        "plugins.toml",
        "[plugins]\nalpha = { path = \"plugins/alpha\" }\n",
    );
    let before = host.snapshot();
    let output = expect_failure(&mut host.xtask(&["sync"]));
    assert!(
        stderr(&output).contains("plugins.lock is read-only"),
        "{}",
        stderr(&output)
    );
    assert_unchanged(&before, &host.snapshot());
}
