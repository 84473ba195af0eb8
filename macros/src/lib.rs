//! Attribute macros of `posthog-mcp`. Depend on the `posthog-mcp` crate, which re-exports them; generated code
//! reaches the runtime only through its hidden, versioned `__private::v1` module.
//!
//! Each macro's documentation is a Markdown file beside this one. Its examples are compiled and run as the
//! runtime crate's doctests, not this crate's: a proc-macro crate's dev-dependencies are built for the host with
//! their own features, which would compile the whole runtime a second time for every test run.

mod attr;
mod expand;
mod identify;

use proc_macro::TokenStream;

#[doc = include_str!("posthog_tool.md")]
#[proc_macro_attribute]
pub fn posthog_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::posthog_tool(args.into(), item.into()).into()
}

#[doc = include_str!("posthog_identify.md")]
#[proc_macro_attribute]
pub fn posthog_identify(args: TokenStream, item: TokenStream) -> TokenStream {
    identify::posthog_identify(args.into(), item.into()).into()
}
