//! Finds the plugin ids a crate registers by parsing its sources for
//! `#[…plugin(id = "…")]` on structs, enums and unions, so duplicate ids
//! across plugins are reported at sync instead of at start-up. A best effort:
//! an id built by a macro is not seen here, and the registry still checks
//! every id when it is built. Files over 4 MiB are not read.

use std::path::Path;

/// Larger source files are not read (a hostile repository could hold one of
/// any size).
const MAX_SOURCE: u64 = 4 << 20;

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
            && entry.metadata().is_ok_and(|m| m.len() <= MAX_SOURCE)
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            ids.extend(ids_in(&text));
        }
    }
}

/// The ids of the `#[…plugin(…id = "…"…)]` attributes on the items of
/// `text`, parsed as Rust (so a doc comment or a string that shows such an
/// attribute is not a registration); a file that does not parse has none.
fn ids_in(text: &str) -> Vec<String> {
    // An attribute whose path ends in `plugin` spells it: a file without
    // the word has none, and is not parsed (parsing is most of a no-op
    // sync's time on a crate with many large sources).
    if !text.contains("plugin") {
        return Vec::new();
    }
    let Ok(file) = syn::parse_file(text) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    collect(&file.items, &mut ids);
    ids
}

fn collect(items: &[syn::Item], ids: &mut Vec<String>) {
    for item in items {
        let attrs = match item {
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Union(u) => &u.attrs,
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect(inner, ids);
                }
                continue;
            }
            _ => continue,
        };
        ids.extend(attrs.iter().filter_map(plugin_id));
    }
}

/// `"x"` from `#[plugin(…, id = "x", …)]` or `#[path::plugin(…)]`.
fn plugin_id(attr: &syn::Attribute) -> Option<String> {
    use proc_macro2::TokenTree;
    let last = attr.path().segments.last()?;
    if last.ident != "plugin" {
        return None;
    }
    let list = attr.meta.require_list().ok()?;
    let tokens: Vec<TokenTree> = list.tokens.clone().into_iter().collect();
    // Top-level `id = "…"`: groups (`[…]`, `(…)`) are single tokens here,
    // so an `id` inside another argument's value is never matched.
    tokens.windows(3).find_map(|w| match w {
        [
            TokenTree::Ident(key),
            TokenTree::Punct(eq),
            TokenTree::Literal(lit),
        ] if key == "id" && eq.as_char() == '=' => syn::parse_str::<syn::LitStr>(&lit.to_string())
            .ok()
            .map(|s| s.value()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::ids_in;

    #[test]
    fn finds_ids_in_plugin_attributes_only() {
        let text = r##"
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
            /// Use it like this:
            /// #[plugin(id = "in-a-doc-comment")]
            struct E;
            const EXAMPLE: &str = "#[plugin(id = \"in-a-string\")] struct F;";
            mod inner {
                #[plugin(id = "nested")]
                enum G { A }
            }
        "##;
        assert_eq!(ids_in(text), ["upper", "lower", "spaced", "nested"]);
        assert!(
            ids_in("#[plugin(id = \"x\")] struct").is_empty(),
            "no parse, no ids"
        );
    }
}
