//! Attribute macros of `posthog-mcp`. Depend on the `posthog-mcp` crate, which re-exports them; generated code
//! reaches the runtime only through its hidden, versioned `__private::v1` module.
//!
//! The examples below are marked `ignore` because this crate cannot depend on the runtime it generates code for;
//! each of them is compiled by a pass case of the `posthog-mcp-ui-tests` crate (`ui-tests/tests/ui/pass/`).

mod attr;
mod expand;
mod identify;

use proc_macro::TokenStream;

/// Reports each call of an rmcp tool to PostHog as `$mcp_tool_call`, with its typed error and custom properties.
///
/// Put it on a tool method of a `#[tool_router]` impl, **above** rmcp's `#[tool]` (recommended: it then reads the
/// tool name from `#[tool(name = "…")]`). Below `#[tool]` works too; the spec's name is then the fn name, and the
/// event still carries the name the call arrived with.
///
/// ```ignore
/// use posthog_mcp::posthog_tool;
/// use rmcp::{handler::server::wrapper::Parameters, tool, tool_router};
///
/// #[tool_router]
/// impl Orders {
///     /// Looks an order up.
///     #[posthog_tool(category = "orders")]
///     #[tool(name = "orders.get")]
///     async fn get_order(&self, Parameters(args): Parameters<GetOrder>) -> Result<String, OrderError> {
///         posthog_mcp::set_property("warehouse", "eu-1");
///         let order = self.store.find(args.id).await?;
///         Ok(order.summary())
///     }
/// }
/// ```
///
/// # Options
///
/// | Option | Default | Effect |
/// |---|---|---|
/// | `category = "…"` | none | `$mcp_tool_category` on the tool's events |
/// | `capture_args = false` | `true` | the call's arguments are not captured (`$mcp_parameters`) |
/// | `capture_response = false` | `true` | the tool's result is not captured (`$mcp_response`) |
/// | `redact = ["field", …]` | `[]` | these argument or response fields become `[redacted]` before anything else sees them |
/// | `intent_description = "…"` | the builder's, else the crate's | the description of the `context` argument injected into this tool's input schema in `tools/list` |
/// | `standalone` | off | capture even without `posthog_mcp::instrument` (adds one hidden parameter, see below) |
/// | `crate = "…"` | found from `Cargo.toml` | the path of the `posthog-mcp` crate, when it is renamed or re-exported |
///
/// An unknown option, an option given twice, a value of the wrong type or a blank `category` or
/// `intent_description` is a compile error.
///
/// `category`:
/// ```ignore
/// #[posthog_tool(category = "billing")]
/// #[tool]
/// async fn refund(&self, Parameters(args): Parameters<Refund>) -> Result<String, BillingError> { /* … */ }
/// ```
///
/// `capture_args`:
/// ```ignore
/// #[posthog_tool(capture_args = false)] // the arguments hold a document the user uploaded
/// #[tool]
/// async fn summarize(&self, Parameters(doc): Parameters<Document>) -> String { /* … */ }
/// ```
///
/// `capture_response`:
/// ```ignore
/// #[posthog_tool(capture_response = false)] // the result is a customer's full profile
/// #[tool]
/// async fn profile(&self, Parameters(who): Parameters<Who>) -> Json<Profile> { /* … */ }
/// ```
///
/// `redact`:
/// ```ignore
/// #[posthog_tool(redact = ["card_number", "cvv"])]
/// #[tool]
/// async fn pay(&self, Parameters(card): Parameters<Card>) -> Result<CallToolResult, ErrorData> { /* … */ }
/// ```
///
/// `intent_description`: what the agent is asked to write into this tool's `context` argument, whose text becomes
/// `$mcp_intent`. It replaces the builder's `intent_description(..)` and the crate's default for this tool only;
/// keep it free of requests for personal data, since the intent is analytics.
/// ```ignore
/// #[posthog_tool(intent_description = "In 15 to 25 words, say which report the user is preparing and why \
///     this export helps; describe people and companies by role only.")]
/// #[tool]
/// async fn export(&self, Parameters(range): Parameters<DateRange>) -> Result<String, ExportError> { /* … */ }
/// ```
///
/// `crate`:
/// ```ignore
/// // Cargo.toml: ph = { package = "posthog-mcp", version = "…" }
/// #[ph::posthog_tool(crate = "ph")]
/// #[tool]
/// async fn ping(&self) -> String { "pong".into() }
/// ```
/// (`proc-macro-crate` already finds a dependency renamed in `Cargo.toml`; `crate` is for re-exports.)
///
/// # What it does
///
/// * The signature stays exactly as written: no parameter is added, and an instrumented method can be called
///   directly, for example from a unit test (nothing is captured there). Behind `posthog_mcp::instrument`, the
///   call reaches the wrapper's per-call slot through a task-local that the wrapper sets around the handler.
/// * The `Parameters<T>` argument and the return type are left exactly as written, so rmcp's input and output
///   schema detection is unaffected.
/// * The tool's future is wrapped, not its statements: `?` and `return` keep their meaning. Inside it,
///   [`posthog_mcp::set_property`] adds properties to the call's event.
/// * The outcome is classified from the declared return type: `Err` of rmcp's `ErrorData` is a protocol error,
///   `Err(E)` of any other type records `E`'s type name (without generic arguments), its `Display` and its
///   `source()` chain, `Ok(CallToolResult { is_error: Some(true), .. })` is an error result. A panic is recorded
///   as type `Panic` and then resumed with its original payload.
/// * Behind `posthog_mcp::instrument`, the attribute writes what it learned into the wrapper's per-call slot
///   and the wrapper sends the one event. A call is never counted twice.
/// * Without the wrapper nothing is captured, unless you choose `standalone`: the attribute then inserts one
///   hidden extractor, `ToolCallProbe`, right after `&self` (rmcp accepts 16 extractors, so a standalone tool
///   keeps 15), reads the request context, the tool name and the arguments, and reports the call itself through
///   the global runtime. A standalone method can only be called through rmcp (`ToolRouter::call` or a client).
/// * Sync tools work, and the attribute adds no `Send` bound of its own (so `#[tool(local)]` and rmcp's `local`
///   feature keep their meaning).
///
/// [`posthog_mcp::set_property`]: https://docs.rs/posthog-mcp/latest/posthog_mcp/fn.set_property.html
#[proc_macro_attribute]
pub fn posthog_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::posthog_tool(args.into(), item.into()).into()
}

/// Marks the one async fn that says who is calling: it gets the request view and returns an `Identity`.
///
/// ```ignore
/// use posthog_mcp::{Identity, RequestView, posthog_identify};
///
/// #[posthog_identify]
/// async fn identify(req: &RequestView) -> Option<Identity> {
///     let token = req.bearer_token()?;
///     Some(Identity::new(lookup_user(token).await?.id).with_group("company", "acme"))
/// }
/// ```
///
/// The fn may also return `Result<Option<Identity>, E>` with `E: Display`; an error is reported and the request
/// stays anonymous. Marking the fn is the whole registration: the attribute keeps the fn as written and adds it
/// to a link-time registry (`inventory`) that the analytics instance reads at startup. Two marked fns in one
/// binary are a startup error naming both; a builder method can override the registered fn.
///
/// The signature must be `async fn name(req: &RequestView) -> …`, not generic and without `self`; anything else
/// is a compile error on the signature that shows this shape.
///
/// # Options
///
/// | Option | Default | Effect |
/// |---|---|---|
/// | `crate = "…"` | found from `Cargo.toml` | the path of the `posthog-mcp` crate, when it is renamed or re-exported |
///
/// `crate`:
/// ```ignore
/// #[ph::posthog_identify(crate = "ph")]
/// async fn identify(req: &ph::RequestView) -> Option<ph::Identity> { /* … */ }
/// ```
#[proc_macro_attribute]
pub fn posthog_identify(args: TokenStream, item: TokenStream) -> TokenStream {
    identify::posthog_identify(args.into(), item.into()).into()
}
