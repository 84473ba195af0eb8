//! Attribute macros of `posthog-mcp`. Depend on the `posthog-mcp` crate, which re-exports them.

use proc_macro::TokenStream;

/// Instruments an rmcp tool handler. (Filled in by the rmcp-integration issue.)
#[proc_macro_attribute]
pub fn posthog_tool(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Marks the one async fn that identifies callers. (Filled in by the rmcp-integration issue.)
#[proc_macro_attribute]
pub fn posthog_identify(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
