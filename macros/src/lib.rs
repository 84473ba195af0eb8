//! Attribute macros of `posthog-mcp`. Depend on the `posthog-mcp` crate, which re-exports them; generated code
//! reaches the runtime only through its hidden, versioned `__private::v1` module.
//!
//! The examples below are doctests: they are compiled and run against the runtime (a dev-dependency of this crate).

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
/// ```
/// use posthog_mcp::posthog_tool;
/// use rmcp::{handler::server::wrapper::Parameters, tool, tool_router};
/// # use rmcp::handler::server::router::tool::ToolRouter;
/// # use rmcp::model::{
/// #     CallToolRequestParams, ClientCapabilities, ClientConfig, ContentBlock, Implementation, IntoContents,
/// # };
/// # use rmcp::{ServerHandler, ServiceExt, tool_handler};
/// #
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct GetOrder { id: u64 }
/// # #[derive(Debug, thiserror::Error)]
/// # #[error("order {0} not found")]
/// # struct OrderError(u64);
/// # impl IntoContents for OrderError {
/// #     fn into_contents(self) -> Vec<ContentBlock> { vec![ContentBlock::text(self.to_string())] }
/// # }
/// # struct Order(u64);
/// # impl Order { fn summary(&self) -> String { format!("order {}: 2 items", self.0) } }
/// # #[derive(Clone)]
/// # struct Store;
/// # impl Store {
/// #     async fn find(&self, id: u64) -> Result<Order, OrderError> {
/// #         if id == 7 { Ok(Order(id)) } else { Err(OrderError(id)) }
/// #     }
/// # }
/// # #[derive(Clone)]
/// # struct Orders { store: Store, tool_router: ToolRouter<Self> }
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
/// # #[tool_handler]
/// # impl ServerHandler for Orders {}
/// #
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// #     let events = posthog_mcp::MemorySink::new();
/// #     let analytics = posthog_mcp::Analytics::builder()
/// #         .memory_sink(events.clone())
/// #         .without_registered_identify()
/// #         .build()
/// #         .unwrap();
/// #     let server = analytics.instrument(Orders { store: Store, tool_router: Orders::tool_router() });
/// #     let (server_io, client_io) = tokio::io::duplex(64 * 1024);
/// #     tokio::spawn(async move { server.serve(server_io).await.unwrap().waiting().await });
/// #     let client = ClientConfig::new(ClientCapabilities::default(), Implementation::new("doc", "0.1.0"))
/// #         .serve(client_io)
/// #         .await
/// #         .unwrap();
/// #     for id in [7, 8] {
/// #         let arguments = serde_json::json!({ "id": id });
/// #         let call = CallToolRequestParams::new("orders.get").with_arguments(arguments.as_object().unwrap().clone());
/// #         client.call_tool(call).await.unwrap();
/// #     }
/// #     assert!(analytics.flush(std::time::Duration::from_secs(5)).await);
/// // Each call is one `$mcp_tool_call` event with the tool's category and properties; a failed call also
/// // carries the error's type and message.
/// let calls: Vec<_> = events.payloads().into_iter().filter(|e| e.event == "$mcp_tool_call").collect();
/// let (found, missing) = (&calls[0].properties, &calls[1].properties);
/// assert_eq!(found["$mcp_tool_category"], "orders");
/// assert_eq!(found["warehouse"], "eu-1");
/// assert_eq!(found["$mcp_is_error"], false);
/// assert_eq!(missing["$mcp_is_error"], true);
/// assert_eq!(missing["$mcp_error_message"], "order 8 not found");
/// assert!(missing["$mcp_error_type"].as_str().unwrap().ends_with("OrderError"));
/// # client.cancel().await.unwrap();
/// # }
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
/// ```
/// # use posthog_mcp::posthog_tool;
/// # use rmcp::handler::server::wrapper::Parameters;
/// # use rmcp::{tool, tool_router};
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct Refund { order: u64 }
/// # struct Billing;
/// # #[tool_router]
/// # impl Billing {
/// #[posthog_tool(category = "billing")]
/// #[tool]
/// async fn refund(&self, Parameters(args): Parameters<Refund>) -> Result<String, rmcp::ErrorData> {
///     Ok(format!("refunded order {}", args.order))
/// }
/// # }
/// # fn main() { assert!(Billing::tool_router().has_route("refund")); }
/// ```
///
/// `capture_args`:
/// ```
/// # use posthog_mcp::posthog_tool;
/// # use rmcp::handler::server::wrapper::Parameters;
/// # use rmcp::{tool, tool_router};
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct Document { text: String }
/// # struct Docs;
/// # #[tool_router]
/// # impl Docs {
/// #[posthog_tool(capture_args = false)] // the arguments hold a document the user uploaded
/// #[tool]
/// async fn summarize(&self, Parameters(doc): Parameters<Document>) -> String {
///     doc.text.split_whitespace().take(12).collect::<Vec<_>>().join(" ")
/// }
/// # }
/// # fn main() { assert!(Docs::tool_router().has_route("summarize")); }
/// ```
///
/// `capture_response`:
/// ```
/// # use posthog_mcp::posthog_tool;
/// # use rmcp::handler::server::wrapper::Parameters;
/// # use rmcp::{tool, tool_router};
/// # use rmcp::Json;
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct Who { id: u64 }
/// # #[derive(serde::Serialize, schemars::JsonSchema)]
/// # struct Profile { id: u64, email: String }
/// # struct Customers;
/// # #[tool_router]
/// # impl Customers {
/// #[posthog_tool(capture_response = false)] // the result is a customer's full profile
/// #[tool]
/// async fn profile(&self, Parameters(who): Parameters<Who>) -> Json<Profile> {
///     Json(Profile { id: who.id, email: format!("customer-{}@example.com", who.id) })
/// }
/// # }
/// # fn main() { assert!(Customers::tool_router().has_route("profile")); }
/// ```
///
/// `redact`:
/// ```
/// # use posthog_mcp::posthog_tool;
/// # use rmcp::handler::server::wrapper::Parameters;
/// # use rmcp::{tool, tool_router};
/// # use rmcp::ErrorData;
/// # use rmcp::model::{CallToolResult, ContentBlock};
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct Card { card_number: String, cvv: String }
/// # struct Payments;
/// # #[tool_router]
/// # impl Payments {
/// #[posthog_tool(redact = ["card_number", "cvv"])]
/// #[tool]
/// async fn pay(&self, Parameters(card): Parameters<Card>) -> Result<CallToolResult, ErrorData> {
///     let last4 = &card.card_number[card.card_number.len().saturating_sub(4)..];
///     Ok(CallToolResult::success(vec![ContentBlock::text(format!("charged the card ending {last4}"))]))
/// }
/// # }
/// # fn main() { assert!(Payments::tool_router().has_route("pay")); }
/// ```
///
/// `intent_description`: what the agent is asked to write into this tool's `context` argument, whose text becomes
/// `$mcp_intent`. It replaces the builder's `intent_description(..)` and the crate's default for this tool only;
/// keep it free of requests for personal data, since the intent is analytics.
/// ```
/// # use posthog_mcp::posthog_tool;
/// # use rmcp::handler::server::wrapper::Parameters;
/// # use rmcp::{tool, tool_router};
/// # #[derive(serde::Deserialize, schemars::JsonSchema)]
/// # struct DateRange { from: String, to: String }
/// # struct Reports;
/// # #[tool_router]
/// # impl Reports {
/// #[posthog_tool(intent_description = "In 15 to 25 words, say which report the user is preparing and why \
///     this export helps; describe people and companies by role only.")]
/// #[tool]
/// async fn export(&self, Parameters(range): Parameters<DateRange>) -> Result<String, rmcp::ErrorData> {
///     Ok(format!("exported {}..{}", range.from, range.to))
/// }
/// # }
/// # fn main() { assert!(Reports::tool_router().has_route("export")); }
/// ```
///
/// `crate`:
/// ```
/// # use rmcp::{tool, tool_router};
/// // Reached through a re-export (here `use posthog_mcp as ph;`), the macro is told where the crate is:
/// use posthog_mcp as ph;
/// # struct Server;
/// # #[tool_router]
/// # impl Server {
/// #[ph::posthog_tool(crate = "ph")]
/// #[tool]
/// async fn ping(&self) -> String {
///     "pong".into()
/// }
/// # }
/// # fn main() { assert!(Server::tool_router().has_route("ping")); }
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
/// ```
/// use posthog_mcp::{Identity, RequestView, posthog_identify};
/// # struct User { id: String }
/// # async fn lookup_user(token: &str) -> Option<User> {
/// #     (token == "t0k3n").then(|| User { id: "user-42".into() })
/// # }
///
/// #[posthog_identify]
/// async fn identify(req: &RequestView) -> Option<Identity> {
///     let token = req.bearer_token()?;
///     Some(Identity::new(lookup_user(token).await?.id).with_group("company", "acme"))
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // The function stays callable as written.
/// let request = RequestView::new("tools/call", serde_json::Value::Null, "ses_1")
///     .with_headers([("Authorization", "Bearer t0k3n")]);
/// assert_eq!(identify(&request).await.unwrap().distinct_id, "user-42");
/// # }
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
/// ```
/// use posthog_mcp as ph;
///
/// #[ph::posthog_identify(crate = "ph")]
/// async fn identify(req: &ph::RequestView) -> Option<ph::Identity> {
///     req.header("x-user").map(ph::Identity::new)
/// }
/// # fn main() { let _ = identify; }
/// ```
#[proc_macro_attribute]
pub fn posthog_identify(args: TokenStream, item: TokenStream) -> TokenStream {
    identify::posthog_identify(args.into(), item.into()).into()
}
