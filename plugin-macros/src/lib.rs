//! The `#[plugin]` attribute. Use it through `plugin_api::plugin`.
//!
//! The expansion names only `::plugin_api::__private::…` (or the `crate = …`
//! override) and `::core::…`; this crate never depends on `plugin-api`.

mod args;
mod expand;

use proc_macro::TokenStream;

/// See `plugin_api::plugin`.
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::plugin(args.into(), item.into()).into()
}
