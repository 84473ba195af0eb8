//! `#[posthog_tool]` at run time, through a real rmcp client over an in-process duplex: a hand-written handler
//! plays the wrapper's part (it routes the call with a `ToolCallSlot` as the task's current call) and
//! the test reads what the attribute wrote into the slot. The end-to-end event tests through
//! `posthog_mcp::instrument` live in the `tests` crate.

use std::sync::{Arc, Mutex};

use futures::FutureExt as _;
use posthog_mcp::posthog_tool;
use posthog_mcp::tool::{CallAnnotations, ToolCallSlot};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::{RequestContext, RunningService};
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt, tool, tool_router};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("order {0} not found")]
    Missing(u64),
    #[error("storage failed")]
    Storage(#[source] std::io::Error),
}

impl IntoContents for LookupError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

#[derive(Debug)]
struct Wrapped<T>(T);

impl<T: std::fmt::Debug> std::fmt::Display for Wrapped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wrapped {:?}", self.0)
    }
}

impl<T: std::fmt::Debug> IntoContents for Wrapped<T> {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Pair {
    a: i64,
    b: i64,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct OrderId {
    id: u64,
}

#[derive(Clone)]
struct Demo {
    tool_router: ToolRouter<Self>,
    /// Whether to play the wrapper (insert a slot) at all.
    with_slot: bool,
    /// What each call left in its slot.
    seen: Arc<Mutex<Vec<CallAnnotations>>>,
}

async fn helper_that_tags() {
    tokio::task::yield_now().await;
    posthog_mcp::set_property("from_helper", true);
}

#[tool_router]
impl Demo {
    #[posthog_tool(category = "math")]
    #[tool(name = "math.add")]
    async fn add(
        &self,
        Parameters(Pair { a, b }): Parameters<Pair>,
    ) -> Result<CallToolResult, ErrorData> {
        let sum = a
            .checked_add(b)
            .ok_or_else(|| ErrorData::invalid_params("overflow", None))?;
        posthog_mcp::set_property("sum", sum);
        helper_that_tags().await;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            sum.to_string(),
        )]))
    }

    #[tool(name = "orders.lookup")]
    #[posthog_tool(capture_args = false)]
    async fn lookup(
        &self,
        Parameters(OrderId { id }): Parameters<OrderId>,
    ) -> Result<String, LookupError> {
        posthog_mcp::set_property("order_id", id);
        match id {
            0 => Err(LookupError::Missing(id)),
            1 => Err(LookupError::Storage(std::io::Error::other("disk on fire"))),
            _ => Ok(format!("order {id}")),
        }
    }

    #[posthog_tool]
    #[tool]
    async fn generic_error(&self) -> Result<String, Wrapped<u8>> {
        Err(Wrapped(7))
    }

    #[posthog_tool]
    #[tool]
    async fn soft_fail(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text("not today")])
    }

    #[posthog_tool]
    #[tool]
    fn sync_double(&self, Parameters(OrderId { id }): Parameters<OrderId>) -> String {
        posthog_mcp::set_property("sync", true);
        (id * 2).to_string()
    }

    #[posthog_tool]
    #[tool]
    async fn explode(&self) -> String {
        panic!("kaboom")
    }
}

impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tool_router.list_all()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let slot = ToolCallSlot::default();
        let routed = std::panic::AssertUnwindSafe(
            self.tool_router
                .call(ToolCallContext::new(self, request, context)),
        )
        .catch_unwind();
        let outcome = if self.with_slot {
            posthog_mcp::tool::with_call_slot(slot.clone(), routed).await
        } else {
            routed.await
        };
        self.seen.lock().unwrap().push(slot.take());
        outcome.unwrap_or_else(|_| Err(ErrorData::internal_error("the tool panicked", None)))
    }
}

async fn connect(
    with_slot: bool,
) -> (
    RunningService<RoleClient, ClientConfig>,
    Arc<Mutex<Vec<CallAnnotations>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Demo {
        tool_router: Demo::tool_router(),
        with_slot,
        seen: seen.clone(),
    };
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("slot-test", "0.0.1"),
    )
    .serve(client_io)
    .await
    .expect("the client connects");
    (client, seen)
}

fn call(name: &'static str, arguments: serde_json::Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name);
    match arguments {
        serde_json::Value::Object(map) => params.with_arguments(map),
        _ => params,
    }
}

fn last(seen: &Arc<Mutex<Vec<CallAnnotations>>>) -> CallAnnotations {
    seen.lock()
        .unwrap()
        .pop()
        .expect("the call went through the handler")
}

#[tokio::test]
async fn success_writes_spec_and_properties_into_the_slot() {
    let (client, seen) = connect(true).await;
    let result = client
        .call_tool(call("math.add", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "5");
    let annotations = last(&seen);
    let spec = annotations.spec.expect("the attribute wrote its spec");
    assert_eq!(spec.name, "math.add");
    assert_eq!(spec.category, Some("math"));
    assert!(!annotations.is_error);
    assert!(annotations.error.is_none());
    assert_eq!(annotations.properties["sum"], json!(5));
    assert_eq!(
        annotations.properties["from_helper"],
        json!(true),
        "set_property reaches awaited helpers"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_protocol_error_is_left_to_the_wrapper() {
    let (client, seen) = connect(true).await;
    let error = client
        .call_tool(call("math.add", json!({"a": i64::MAX, "b": 1})))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("overflow"), "{error}");
    let annotations = last(&seen);
    assert!(annotations.is_error);
    assert!(
        annotations.error.is_none(),
        "the wrapper classifies ErrorData itself"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_typed_error_lands_in_the_slot_with_its_chain() {
    let (client, seen) = connect(true).await;

    let result = client
        .call_tool(call("orders.lookup", json!({"id": 0})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let annotations = last(&seen);
    assert!(annotations.is_error);
    let error = annotations.error.expect("typed error");
    assert_eq!(error.type_name, "LookupError");
    assert_eq!(error.message, "order 0 not found");
    assert!(!error.synthetic);
    assert!(error.chain.is_empty());
    assert_eq!(annotations.properties["order_id"], json!(0));
    assert!(!annotations.spec.unwrap().capture_args);

    client
        .call_tool(call("orders.lookup", json!({"id": 1})))
        .await
        .unwrap();
    let error = last(&seen).error.unwrap();
    assert_eq!(error.message, "storage failed");
    assert_eq!(error.chain, ["disk on fire"]);

    client
        .call_tool(call("generic_error", json!({})))
        .await
        .unwrap();
    let error = last(&seen).error.unwrap();
    assert_eq!(
        error.type_name, "Wrapped",
        "the module path and generic arguments are dropped"
    );
    assert_eq!(error.message, "wrapped 7");

    let result = client
        .call_tool(call("orders.lookup", json!({"id": 5})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "order 5");
    let annotations = last(&seen);
    assert!(!annotations.is_error);
    assert!(annotations.error.is_none());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_error_result_is_marked_but_described_by_the_wrapper() {
    let (client, seen) = connect(true).await;
    let result = client
        .call_tool(call("soft_fail", json!({})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let annotations = last(&seen);
    assert!(annotations.is_error);
    assert!(annotations.error.is_none());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn sync_tools_are_instrumented_too() {
    let (client, seen) = connect(true).await;
    let result = client
        .call_tool(call("sync_double", json!({"id": 21})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "42");
    let annotations = last(&seen);
    assert_eq!(annotations.spec.unwrap().name, "sync_double");
    assert_eq!(annotations.properties["sync"], json!(true));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_panic_is_recorded_and_resumed() {
    let (client, seen) = connect(true).await;
    let error = client
        .call_tool(call("explode", json!({})))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("the tool panicked"),
        "the unwind reached the wrapper: {error}"
    );
    let annotations = last(&seen);
    assert!(annotations.is_error);
    assert!(annotations.panicked);
    let error = annotations.error.unwrap();
    assert_eq!(error.type_name, "Panic");
    assert_eq!(error.message, "kaboom");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_a_slot_the_result_is_unchanged_and_nothing_is_written() {
    let (client, seen) = connect(false).await;
    let result = client
        .call_tool(call("math.add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "2");
    let result = client
        .call_tool(call("orders.lookup", json!({"id": 0})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        result.content[0].as_text().unwrap().text,
        "order 0 not found"
    );
    let annotations = last(&seen);
    assert!(annotations.spec.is_none() && annotations.properties.is_empty());
    client.cancel().await.unwrap();
}

/// On a current-thread runtime the calls below and the tool run on one thread, so a value kept anywhere (a global
/// or a thread-local) for "the next call" would show up in the tool's properties.
#[tokio::test]
async fn set_property_outside_a_tool_call_does_nothing() {
    posthog_mcp::set_property("outside", "before the connection");
    let (client, seen) = connect(true).await;
    posthog_mcp::set_property("outside", "between the connection and the call");
    let result = client
        .call_tool(call("sync_double", json!({"id": 4})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "8");
    posthog_mcp::set_property("after", "the call");
    let properties = last(&seen).properties;
    assert_eq!(
        properties,
        serde_json::Map::from_iter([("sync".to_owned(), json!(true))]),
        "only the tool's own property reaches its event"
    );
    client.cancel().await.unwrap();
}
