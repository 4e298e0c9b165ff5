//! Expansion of `#[plugin]`: the item, unchanged, plus its registration.
//!
//! On invalid input the item is still emitted, followed by the errors, so a
//! mistake in the attribute does not turn every use of the type into an error.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, Ident, Item, Lit, Meta};

use crate::args::{self, Args, Errors};

pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        // Not an item at all: rustc reports the syntax error itself.
        Err(e) => return fallback(item, e),
    };
    let mut errors = Errors::default();
    let args = args::parse(args).map_err(|e| errors.push(e)).ok();
    let target = target(&item).map_err(|e| errors.push(e)).ok();
    match (args, target, errors.finish()) {
        (Some(args), Some(target), Ok(())) => {
            let registration = registration(&args, &target);
            quote!(#item #registration)
        }
        (_, _, Err(e)) => fallback(item.into_token_stream(), e),
        _ => unreachable!("a missing part always comes with an error"),
    }
}

fn fallback(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#item #error)
}

/// The type that carries `#[plugin]`.
struct Target<'a> {
    ident: &'a Ident,
    attrs: &'a [Attribute],
}

fn target(item: &Item) -> Result<Target<'_>, syn::Error> {
    let (ident, attrs, generics) = match item {
        Item::Struct(s) => (&s.ident, &s.attrs, &s.generics),
        Item::Enum(e) => (&e.ident, &e.attrs, &e.generics),
        other => {
            let what = kind_tokens(other);
            return Err(syn::Error::new_spanned(
                what,
                "`#[plugin]` goes on the plugin's struct or enum (the type that implements \
                 `Plugin`), not on this item",
            ));
        }
    };
    if !generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            generics,
            "a plugin type cannot be generic: the registry creates it with `Default::default()`",
        ));
    }
    Ok(Target { ident, attrs })
}

/// The tokens that say what kind of item this is (`fn`, `impl`, …), for a
/// precise span.
fn kind_tokens(item: &Item) -> TokenStream {
    match item {
        Item::Fn(f) => f.sig.fn_token.into_token_stream(),
        Item::Impl(i) => i.impl_token.into_token_stream(),
        Item::Trait(t) => t.trait_token.into_token_stream(),
        Item::Mod(m) => m.mod_token.into_token_stream(),
        Item::Const(c) => c.const_token.into_token_stream(),
        Item::Static(s) => s.static_token.into_token_stream(),
        Item::Type(t) => t.type_token.into_token_stream(),
        Item::Union(u) => u.union_token.into_token_stream(),
        Item::Use(u) => u.use_token.into_token_stream(),
        other => other.into_token_stream(),
    }
}

fn registration(args: &Args, target: &Target<'_>) -> TokenStream {
    let private = match &args.krate {
        // Spanned on the path, so a wrong path is reported under it.
        Some(path) => quote_spanned!(path.span()=> #path::__private),
        None => quote!(::plugin_api::__private),
    };
    let ident = target.ident;
    let id = &args.id;
    let depends_on = &args.depends_on;
    let description = match (&args.description, first_doc_line(target.attrs)) {
        (Some(lit), _) => lit.to_token_stream(),
        (None, Some(doc)) => doc.to_token_stream(),
        (None, None) => quote!(::core::env!("CARGO_PKG_DESCRIPTION")),
    };
    // Spanned on the type so "does not implement Plugin" points at it.
    let create = quote_spanned!(ident.span()=> #private::create::<#ident>);
    let config = match &args.config {
        Some(ty) => {
            let name = quote!(#ty).to_string();
            // Spanned on the type, so a type that is not Deserialize is
            // reported under it.
            let parse = quote_spanned!(ty.span()=> #private::parse_config::<#ty>);
            quote!(::core::option::Option::Some(#private::ConfigSpec {
                type_name: #name,
                parse: #parse,
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        const _: () = {
            #private::inventory::submit! {
                #private::PluginDescriptor {
                    id: #id,
                    description: #description,
                    version: ::core::env!("CARGO_PKG_VERSION"),
                    crate_name: ::core::env!("CARGO_PKG_NAME"),
                    depends_on: &[#(#depends_on),*],
                    api_version: #private::API_VERSION,
                    create: #create,
                    config: #config,
                }
            }
        };
    }
}

/// The first non-empty line of the item's `///` doc comment.
fn first_doc_line(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        let Meta::NameValue(nv) = &attr.meta else {
            return None;
        };
        if !nv.path.is_ident("doc") {
            return None;
        }
        let Expr::Lit(lit) = &nv.value else {
            return None;
        };
        let Lit::Str(s) = &lit.lit else { return None };
        let line = s.value().trim().to_owned();
        (!line.is_empty()).then_some(line)
    })
}
