//! `#[posthog_tool]` under the wrapper enriches the wrapper's one event per call (typed error, category,
//! description, custom properties, capture options), checked on what reached the ingestion server.

use posthog_mcp::{posthog_tool, set_property};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{call, connect, delivered, reporting_to};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{ContentBlock, IntoContents, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
enum OrderError {
    #[error("order {0} not found")]
    NotFound(u64),
}

impl IntoContents for OrderError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Lookup {
    order: u64,
    secret: String,
}

#[derive(Clone)]
#[allow(dead_code)] // read by the code #[tool_handler] generates
struct Orders {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Orders {
    #[posthog_tool(category = "orders", redact = ["secret"])]
    #[tool(description = "Look up one order by number")]
    async fn lookup_order(
        &self,
        Parameters(Lookup { order, .. }): Parameters<Lookup>,
    ) -> Result<String, OrderError> {
        set_property("$order_region", "eu");
        if order == 991 {
            return Err(OrderError::NotFound(order));
        }
        Ok(format!("order {order}: shipped"))
    }

    #[posthog_tool(capture_args = false, capture_response = false)]
    #[tool(name = "quiet.echo", description = "Echo without capturing")]
    async fn quiet(&self, Parameters(Lookup { secret, .. }): Parameters<Lookup>) -> String {
        secret
    }
}

#[tool_handler]
impl ServerHandler for Orders {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

fn tool_calls(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event"] == "$mcp_tool_call")
        .collect()
}

#[tokio::test]
async fn an_instrumented_tool_under_the_wrapper_is_counted_once_with_its_typed_error() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Orders {
        tool_router: Orders::tool_router(),
    }))
    .await;
    let ok = client.call_tool(call("lookup_order", json!({"order": 7, "secret": "s3", "context": "Checking an order status for the user."}))).await.unwrap();
    assert_eq!(ok.content[0].as_text().unwrap().text, "order 7: shipped");
    let failed = client
        .call_tool(call("lookup_order", json!({"order": 991, "secret": "s3"})))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    client.cancel().await.unwrap();

    let events = delivered(&analytics, &ingest).await;
    let calls = tool_calls(&events);
    assert_eq!(
        calls.len(),
        2,
        "one event per call: the attribute enriches, the wrapper emits"
    );
    let first = &calls[0]["properties"];
    assert_eq!(first["$mcp_tool_category"], "orders");
    assert_eq!(
        first["$mcp_tool_description"],
        "Look up one order by number"
    );
    assert_eq!(first["$order_region"], "eu");
    assert_eq!(
        first["$mcp_intent"],
        "Checking an order status for the user."
    );
    let arguments = &first["$mcp_parameters"]["request"]["params"]["arguments"];
    assert_eq!(arguments["secret"], "[redacted]");
    assert!(
        arguments.get("context").is_none(),
        "the owned context argument is not a parameter"
    );

    let second = &calls[1]["properties"];
    assert_eq!(second["$mcp_is_error"], true);
    assert_eq!(
        second["$mcp_error_type"], "OrderError",
        "the error's own type name, without its module path"
    );
    assert_eq!(second["$mcp_error_message"], "order 991 not found");
    let exception = events.iter().find(|e| e["event"] == "$exception").unwrap();
    assert_eq!(
        exception["properties"]["$exception_list"][0]["mechanism"]["synthetic"],
        false
    );
}

#[tokio::test]
async fn capture_options_keep_arguments_and_responses_out_of_the_event() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Orders {
        tool_router: Orders::tool_router(),
    }))
    .await;
    let echoed = client
        .call_tool(call(
            "quiet.echo",
            json!({"order": 1, "secret": "kept-private"}),
        ))
        .await
        .unwrap();
    assert_eq!(echoed.content[0].as_text().unwrap().text, "kept-private");
    client.cancel().await.unwrap();

    let events = delivered(&analytics, &ingest).await;
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["properties"]["$mcp_tool_name"], "quiet.echo");
    assert!(calls[0]["properties"].get("$mcp_response").is_none());
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains("kept-private")
    );
}
