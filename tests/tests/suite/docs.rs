//! Docs that cannot drift: every Rust and TOML block of the repository's
//! Markdown files parses (a Rust block as a file, or else as the body of a
//! `main` returning `Result`), so a renamed API or a broken example fails
//! the suite.

use std::path::{Path, PathBuf};

/// Every fenced block of `text`: its language and its lines, with the
/// fence's indentation removed.
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, usize, String)> = None;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(lang) = trimmed.strip_prefix("```") {
                    open = Some((lang.trim().to_owned(), indent, number + 1, String::new()));
                }
            }
            Some((lang, fence_indent, start, body)) => {
                if trimmed.starts_with("```") {
                    out.push((lang.clone(), std::mem::take(body), *start));
                    open = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|(i, c)| *i < *fence_indent && *c == ' ')
                        .count();
                    body.push_str(line.get(cut..).unwrap_or(""));
                    body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "an unclosed code fence");
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let root = e2e::repo_root();
    let mut files = Vec::new();
    for dir in std::iter::once(root.clone()).chain(
        std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir() && !p.ends_with("target") && !p.ends_with(".git")),
    ) {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn check_rust(code: &str) -> Result<(), String> {
    if syn::parse_file(code).is_ok() {
        return Ok(());
    }
    let wrapped =
        format!("fn main() -> Result<(), Box<dyn std::error::Error>> {{\n{code}\nOk(())\n}}\n");
    syn::parse_file(&wrapped)
        .map(|_| ())
        .map_err(|e| format!("{e} (as a file, and as the body of main)"))
}

#[test]
fn every_rust_and_toml_block_of_the_docs_parses() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (lang, body, line) in blocks(&text) {
            let result = match lang.as_str() {
                "rust" => check_rust(&body),
                "toml" => body
                    .parse::<toml::Table>()
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                _ => continue,
            };
            checked += 1;
            if let Err(error) = result {
                failures.push(format!("{}:{line}: {lang}: {error}", show(&file)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= 6,
        "only {checked} blocks found: is the extraction broken?"
    );
}

#[test]
fn a_broken_block_is_caught() {
    let text =
        "Intro\n\n   ```toml\n   [plugins]\n   a = { path = \n   ```\n\n```rust\nlet x = ;\n```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "toml");
    assert_eq!(found[0].1, "[plugins]\na = { path = \n");
    assert!(found[0].1.parse::<toml::Table>().is_err());
    assert!(check_rust(&found[1].1).is_err());
    assert!(
        check_rust("let mut registry = plugin_api::Registry::build(&plugin_set::SET)?;").is_ok()
    );
}

fn show(path: &Path) -> String {
    path.strip_prefix(e2e::repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
