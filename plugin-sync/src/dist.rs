//! `cargo xtask dist`: a release build that gives the same bytes from the
//! same commit of the host, wherever it is checked out and whoever builds
//! it (same toolchain and target). `sync --locked`, then `cargo build
//! --release --locked` with every absolute path that would leak into the
//! binary remapped: the workspace (plugin sources live inside it), the
//! target directory, cargo's and rustup's homes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lockfile::digest_text;
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

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn home(var: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(default)))
        .and_then(|p| p.canonicalize().ok())
}

/// The host's target directory (created, canonical).
pub fn target_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let metadata = cargo_metadata::MetadataCommand::new()
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

/// Where release binaries (and their manifests and SBOMs) go.
pub fn release_dir(root: &Path) -> anyhow::Result<PathBuf> {
    Ok(target_dir(root)?.join("release"))
}

/// Builds `package` reproducibly; `offline` adds `--frozen`.
pub fn dist(root: &Path, package: &str, offline: bool) -> anyhow::Result<Dist> {
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

    let mut build = cargo();
    build
        .current_dir(root)
        .args(["build", "--release", "--locked", "--package", package])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        // The same flags whatever the user's environment says.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
    if offline {
        build.arg("--frozen");
    }
    let status = build
        .status()
        .with_context(|| format!("failed to run cargo build for `{package}`"))?;
    if !status.success() {
        bail!("the release build of `{package}` failed ({status})");
    }

    let binary = target_dir
        .join("release")
        .join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    let bytes =
        std::fs::read(&binary).with_context(|| format!("failed to read {}", binary.display()))?;
    let sha256 = build_support::sha256_hex(&bytes);
    let lock = std::fs::read_to_string(root.join(LOCK_FILE))
        .with_context(|| format!("failed to read {LOCK_FILE}"))?;
    let (toolchain, target) = toolchain()?;
    let manifest = binary.with_extension("dist.json");
    let document = serde_json::json!({
        "binary": package,
        "sha256": sha256,
        "lock_digest": digest_text(&lock),
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

/// `rustc -V` and the host target triple.
pub fn toolchain() -> anyhow::Result<(String, String)> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
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
