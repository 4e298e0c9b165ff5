//! The arguments of `#[plugin(...)]`: parsed, checked, every error kept.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{LitStr, Path, Token};

const ACCEPTED: &str = "expected one of: `id = \"…\"`, `description = \"…\"`, \
                        `depends_on = [\"…\", …]`, `config = Type`, `crate = path`";

/// What `#[plugin(...)]` says, once valid.
pub struct Args {
    pub id: LitStr,
    pub description: Option<LitStr>,
    pub depends_on: Vec<LitStr>,
    pub krate: Option<Path>,
    pub config: Option<syn::Type>,
}

/// Parses the arguments. Returns every error found, not only the first.
pub fn parse(tokens: TokenStream) -> Result<Args, syn::Error> {
    let mut id: Option<LitStr> = None;
    let mut description: Option<LitStr> = None;
    let mut depends_on: Option<Vec<LitStr>> = None;
    let mut krate: Option<Path> = None;
    let mut config: Option<syn::Type> = None;
    let mut errors = Errors::default();

    let parser = syn::meta::parser(|meta| {
        let repeated = |name: &str| meta.error(format!("`{name}` is given more than once"));
        if meta.path.is_ident("id") {
            let lit: LitStr = meta.value()?.parse()?;
            if id.is_some() {
                errors.push(repeated("id"));
            } else if let Err(e) = check_id(&lit, "plugin id") {
                errors.push(e);
            } else {
                id = Some(lit);
            }
        } else if meta.path.is_ident("description") {
            let lit: LitStr = meta.value()?.parse()?;
            if description.is_some() {
                errors.push(repeated("description"));
            } else {
                description = Some(lit);
            }
        } else if meta.path.is_ident("depends_on") {
            let content;
            let value = meta.value()?;
            syn::bracketed!(content in value);
            let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
            if depends_on.is_some() {
                errors.push(repeated("depends_on"));
            } else {
                for lit in &list {
                    if let Err(e) = check_id(lit, "dependency id") {
                        errors.push(e);
                    }
                }
                depends_on = Some(list.into_iter().collect());
            }
        } else if meta.path.is_ident("config") {
            let ty: syn::Type = meta.value()?.parse()?;
            if config.is_some() {
                errors.push(repeated("config"));
            } else {
                config = Some(ty);
            }
        } else if meta.path.is_ident("crate") {
            let path: Path = meta.value()?.parse()?;
            if krate.is_some() {
                errors.push(repeated("crate"));
            } else {
                krate = Some(path);
            }
        } else {
            let name = quote::ToTokens::to_token_stream(&meta.path).to_string();
            return Err(meta.error(format!("unknown argument `{name}`; {ACCEPTED}")));
        }
        Ok(())
    });
    if let Err(e) = parser.parse2(tokens) {
        errors.push(e);
    }
    let id = match id {
        Some(id) => Some(id),
        None if errors.is_empty() => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `id = \"…\"`: every plugin needs an id such as `#[plugin(id = \"upper\")]`",
            ));
            None
        }
        None => None,
    };
    errors.finish()?;
    Ok(Args {
        id: id.expect("no errors means an id was given"),
        description,
        depends_on: depends_on.unwrap_or_default(),
        krate,
        config,
    })
}

/// Ids follow `plugin_id`'s rule (`[a-z0-9][a-z0-9_.-]*`), the one
/// `cargo xtask lint` checks registered ids with.
fn check_id(lit: &LitStr, what: &str) -> Result<(), syn::Error> {
    let value = lit.value();
    if plugin_id::is_valid(&value) {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            lit,
            format!("invalid {what} {value:?}: {}", plugin_id::RULE),
        ))
    }
}

/// Collects errors so they are all reported at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}
