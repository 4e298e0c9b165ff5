//! `cargo xtask dist`: a release build that gives the same bytes from the
//! same commit of the host, wherever it is checked out and whoever builds
//! it (same toolchain and target). `sync --locked`, then `cargo build
//! --release --locked` with every absolute path that would leak into the
//! binary remapped: the workspace (plugin sources live inside it), the
//! target directory, cargo's and rustup's homes.

use std::path::{Path, PathBuf};

use crate::host::Binary;
use crate::lockfile::{Lockfile, digest_text};
use anyhow::{Context as _, bail};
use build_support::LOCK_FILE;

use crate::files::write_if_changed;

#[derive(Debug)]
pub struct Dist {
    pub binary: PathBuf,
    pub sha256: String,
    pub manifest: PathBuf,
    /// The CycloneDX bill of materials beside the binary.
    pub sbom: PathBuf,
}

use crate::process::{cargo, rustc};

fn home(var: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(default)))
        .and_then(|p| p.canonicalize().ok())
}

/// The host's target directory (created, canonical).
pub fn target_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let metadata = crate::process::metadata()
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .context("failed to read the host workspace")?;
    let target_dir = PathBuf::from(metadata.target_directory.as_std_path());
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("failed to create {}", target_dir.display()))?;
    target_dir
        .canonicalize()
        .context("failed to resolve the target directory")
}

/// Where release binaries (and their manifests and SBOMs) go:
/// `<target>/release`, or `<target>/<triple>/release` for `--target`.
pub fn release_dir(root: &Path, triple: Option<&str>) -> anyhow::Result<PathBuf> {
    let target_dir = target_dir(root)?;
    Ok(match triple {
        Some(triple) => target_dir.join(triple).join("release"),
        None => target_dir.join("release"),
    })
}

/// Fails, saying how to fix it, unless rustc knows `triple` and its
/// standard library is installed.
pub fn check_target(triple: &str) -> anyhow::Result<()> {
    let output = rustc()
        .args(["--print", "target-libdir", "--target", triple])
        .output()
        .context("failed to run rustc --print target-libdir")?;
    if !output.status.success() {
        bail!(
            "rustc does not know the target `{triple}` (`rustc --print target-list` lists \
             those it knows): {}",
            crate::process::words(&output.stderr)
        );
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_std = std::fs::read_dir(&libdir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    });
    if !has_std {
        bail!(
            "the standard library for `{triple}` is not installed ({} has none); \
             run `rustup target add {triple}`",
            libdir.display()
        );
    }
    Ok(())
}

/// Builds `binary` reproducibly, for `triple` when given (else the host);
/// `offline` adds `--frozen`. Then checks that the binary embeds exactly
/// the plugin set `plugins.lock` pins.
pub fn dist(
    root: &Path,
    binary: &Binary,
    triple: Option<&str>,
    offline: bool,
) -> anyhow::Result<Dist> {
    if let Some(triple) = triple {
        check_target(triple)?;
    }
    let target_dir = target_dir(root)?;
    // Longest prefixes first: the target directory is often inside the root.
    let mut remaps: Vec<(PathBuf, &str)> =
        vec![(target_dir.clone(), "/target"), (root.to_owned(), "/host")];
    if let Some(cargo_home) = home("CARGO_HOME", ".cargo") {
        remaps.push((cargo_home, "/cargo"));
    }
    if let Some(rustup_home) = home("RUSTUP_HOME", ".rustup") {
        remaps.push((rustup_home, "/rustup"));
    }
    remaps.sort_by_key(|(path, _)| std::cmp::Reverse(path.as_os_str().len()));
    let flags: Vec<String> = remaps
        .iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect();

    let Binary { package, name } = binary;
    let mut build = cargo();
    build
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--locked",
            "--package",
            package,
            "--bin",
            name,
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        // The same flags whatever the user's environment says.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
    if let Some(triple) = triple {
        build.args(["--target", triple]);
    }
    if offline {
        build.arg("--frozen");
    }
    let status = build
        .status()
        .with_context(|| format!("failed to run cargo build for `{name}`"))?;
    if !status.success() {
        bail!("the release build of `{name}` (package `{package}`) failed ({status})");
    }

    let (toolchain, host) = toolchain()?;
    let target = triple.map_or(host, str::to_owned);
    let binary = release_dir(root, triple)?.join(format!("{name}{}", exe_suffix(&target)));
    let bytes =
        std::fs::read(&binary).with_context(|| format!("failed to read {}", binary.display()))?;
    let lock_text =
        build_support::read_bounded(&root.join(LOCK_FILE), build_support::MAX_LOCK_BYTES)
            .with_context(|| format!("failed to read {LOCK_FILE}"))?;
    let lock_digest = digest_text(&lock_text);
    check_embedded(&binary, &bytes, &lock_text, &lock_digest, root)?;
    let sha256 = build_support::sha256_hex(&bytes);
    let manifest = binary.with_extension("dist.json");
    let document = serde_json::json!({
        "binary": name,
        "package": package,
        "sha256": sha256,
        "lock_digest": lock_digest,
        "toolchain": toolchain,
        "target": target,
        "profile": "release",
        "remapped": remaps.iter().map(|(_, to)| *to).collect::<Vec<_>>(),
    });
    write_if_changed(
        &manifest,
        serde_json::to_string_pretty(&document).context("failed to render JSON")? + "\n",
    )?;
    let sbom = binary.with_extension("cdx.json");
    write_if_changed(&sbom, crate::sbom::render(root, package, offline, &target)?)?;
    Ok(Dist {
        binary,
        sha256,
        manifest,
        sbom,
    })
}

/// The executable suffix of `triple` (`.exe` on Windows).
pub fn exe_suffix(triple: &str) -> &'static str {
    if triple.contains("windows") {
        ".exe"
    } else {
        ""
    }
}

/// Fails unless the binary at `path` (its `bytes`) embeds exactly one
/// plugin set, the one `plugins.lock` (`lock_text`) pins.
fn check_embedded(
    path: &Path,
    bytes: &[u8],
    lock_text: &str,
    lock_digest: &str,
    root: &Path,
) -> anyhow::Result<()> {
    let lock = Lockfile::parse(lock_text, &root.join(LOCK_FILE))?;
    let stamps = crate::embedded::find(bytes);
    let stamp = match stamps.as_slice() {
        [one] => one,
        [] => bail!(
            "{} embeds no plugin set: its `main` must build the registry from \
             `plugin_set::SET` (the lines `cargo xtask init` prints), or no plugin is in it",
            path.display()
        ),
        several => bail!(
            "{} embeds {} different plugin sets; it must link exactly one `plugin-set`",
            path.display(),
            several.len()
        ),
    };
    let differences = crate::embedded::differences(stamp, &lock, lock_digest);
    if !differences.is_empty() {
        bail!(
            "{} does not embed the plugin set {LOCK_FILE} pins:\n  {}",
            path.display(),
            differences.join("\n  ")
        );
    }
    Ok(())
}

/// `rustc -V` and the host target triple.
pub fn toolchain() -> anyhow::Result<(String, String)> {
    let output = rustc()
        .arg("-vV")
        .output()
        .context("failed to run rustc -vV")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.lines().next().unwrap_or_default().to_owned();
    let target = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_default()
        .to_owned();
    Ok((version, target))
}
