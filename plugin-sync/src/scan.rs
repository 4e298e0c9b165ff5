//! Finds the plugin ids a crate registers by reading its sources for
//! `#[…plugin(id = "…")]`, so duplicate ids across plugins are reported at
//! sync instead of at start-up. A best effort: an id built by a macro is not
//! seen here, and the registry still checks every id when it is built.

use std::path::Path;

/// The ids in `#[plugin(id = "…")]` attributes (any path ending in `plugin`)
/// in the `.rs` files under `crate_dir/src`, sorted.
pub fn plugin_ids(crate_dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    walk(&crate_dir.join("src"), &mut ids);
    ids.sort();
    ids.dedup();
    ids
}

fn walk(dir: &Path, ids: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, ids);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            ids.extend(ids_in(&text));
        }
    }
}

/// The ids of the `#[…plugin(…id = "…"…)]` attributes in `text`.
fn ids_in(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("#[") {
        rest = &rest[start + 2..];
        let path_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c.is_whitespace()))
            .unwrap_or(rest.len());
        let path: String = rest[..path_len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let is_plugin = path == "plugin" || path.ends_with("::plugin");
        if !is_plugin || !rest[path_len..].starts_with('(') {
            continue;
        }
        let args = &rest[path_len + 1..];
        if let Some(id) = id_argument(args) {
            ids.push(id);
        }
    }
    ids
}

/// `"x"` from `id = "x"` at the top level of an argument list.
fn id_argument(args: &str) -> Option<String> {
    let mut at_argument_start = true;
    let mut chars = args.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ')' => return None,
            ',' => at_argument_start = true,
            '"' => {
                // Skip a string literal.
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                at_argument_start = false;
            }
            c if c.is_whitespace() => {}
            _ if at_argument_start => {
                at_argument_start = false;
                let word: String = args[i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if word == "id" {
                    let after = args[i + 2..].trim_start().strip_prefix('=')?.trim_start();
                    let literal = after.strip_prefix('"')?;
                    return Some(literal[..literal.find('"')?].to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::ids_in;

    #[test]
    fn finds_ids_in_plugin_attributes_only() {
        let text = r#"
            #[plugin(id = "upper")]
            struct A;
            #[plugin_api::plugin(description = "x, id = \"no\"", id = "lower", depends_on = ["a"])]
            struct B;
            #[api :: plugin(
                depends_on = ["id"],
                id = "spaced",
            )]
            struct C;
            #[derive(Default)]
            #[not_a_plugin(id = "nope")]
            #[cfg_attr(test, plugin(id = "hidden"))]
            struct D;
        "#;
        assert_eq!(ids_in(text), ["upper", "lower", "spaced"]);
    }
}
