//! The benchmark's small plugin repositories and the hosts that declare
//! them: deterministic content, made with `git fast-import`, kept in the
//! scratch directory and reused between runs.

use std::path::{Path, PathBuf};

use crate::bench::real;
use crate::process::repo_root;

/// Plugin repository `i` with `history` commits, the last one tagged `v1`
/// holding the crate `bench-plugin-<i>`; made once and reused.
pub fn fixture(dir: &Path, i: usize, history: usize) -> anyhow::Result<PathBuf> {
    let repo = real::repos_dir(dir).join(format!("p{i}-h{history}"));
    if repo.join(".git/refs/tags/v1").is_file() {
        return Ok(repo);
    }
    let api = repo_root().join("plugin-api");
    let manifest = format!(
        "[package]\nname = \"bench-plugin-{i}\"\nversion = \"1.0.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nstatic-plugins-api = {{ path = {:?} }}\n",
        api.display().to_string()
    );
    let lib = format!(
        "//! Benchmark plugin {i}.\n\n#[plugin_api::plugin(id = \"p{i}\")]\n#[derive(Default)]\npub struct P;\n\n\
         impl plugin_api::Plugin for P {{\n    fn register(&self, _: &mut plugin_api::Registrar<'_>) {{}}\n}}\n"
    );
    let mut stream = String::new();
    for commit in 1..=history {
        let message = format!("commit {commit}");
        let mut files =
            format!("M 644 inline history.txt\ndata <<EOF\nplugin {i} revision {commit}\nEOF\n");
        if commit == history {
            files.push_str(&format!(
                "M 644 inline Cargo.toml\ndata {}\n{manifest}\n",
                manifest.len()
            ));
            files.push_str(&format!(
                "M 644 inline src/lib.rs\ndata {}\n{lib}\n",
                lib.len()
            ));
        }
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{message}\n{files}\n",
            1_700_000_000 + commit,
            message.len()
        ));
    }
    real::import(&repo, stream.into_bytes())?;
    Ok(repo)
}

/// Fixtures `0..n`, each with `history` commits.
pub fn fixtures(dir: &Path, n: usize, history: usize) -> anyhow::Result<Vec<PathBuf>> {
    (0..n).map(|i| fixture(dir, i, history)).collect()
}

/// A fresh host declaring `repos` at tag `v1`, with an app that lists them.
pub fn host(dir: &Path, name: &str, repos: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let root = dir.join("hosts").join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("app/src"))?;
    let repo = repo_root();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\"app\", \"plugin-set\"]\nexclude = [\"plugin-sources\"]\n\n\
             [workspace.dependencies]\nstatic-plugins-api = {{ path = {:?} }}\nstatic-plugins-build = {{ path = {:?} }}\n",
            repo.join("plugin-api").display().to_string(),
            repo.join("build-support").display().to_string()
        ),
    )?;
    std::fs::copy(repo.join("Cargo.lock"), root.join("Cargo.lock"))?;
    std::fs::write(
        root.join("app/Cargo.toml"),
        format!(
            "[package]\nname = \"bench-app-{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nstatic-plugins-api.workspace = true\nplugin-set = {{ path = \"../plugin-set\" }}\n"
        ),
    )?;
    std::fs::write(
        root.join("app/src/main.rs"),
        "//! Benchmark host.\nfn main() {\n    let registry = plugin_api::Registry::build(&plugin_set::SET).unwrap();\n    \
         println!(\"{}\", registry.plugins().len());\n}\n",
    )?;
    declare(&root, repos)?;
    Ok(root)
}

/// `bench-plugin-<i> = { git = "file://…", tag = "v1" }`, one line per
/// repository: the same in plugins.toml and in a Cargo.toml.
pub fn git_dependencies(repos: &[PathBuf]) -> String {
    repos
        .iter()
        .map(|repo| {
            format!(
                "{} = {{ git = \"file://{}\", tag = \"v1\" }}\n",
                real::package_of(repo),
                repo.display()
            )
        })
        .collect()
}

/// Writes the host's plugins.toml declaring `repos`.
pub fn declare(root: &Path, repos: &[PathBuf]) -> anyhow::Result<()> {
    let manifest = format!("[plugins]\n{}", git_dependencies(repos));
    std::fs::write(root.join("plugins.toml"), manifest)?;
    Ok(())
}
