//! Without the wrapper, `#[posthog_tool(standalone)]` reports each call itself through the global runtime: one
//! `$mcp_tool_call` per call, with the typed error, the tool's properties and the response the client received.
//! A tool without `standalone` captures nothing outside the wrapper.

use posthog_mcp::{MemorySink, Payload, posthog_tool};
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::*;
use rmcp::{ErrorData, ServiceExt, tool, tool_router};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
struct Missing(u64);

impl IntoContents for Missing {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct OrderId {
    id: u64,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Order {
    id: u64,
}

#[derive(Clone)]
struct Plain;

#[tool_router(server_handler)]
impl Plain {
    #[posthog_tool(standalone, category = "orders")]
    #[tool(name = "orders.get")]
    async fn get(
        &self,
        Parameters(OrderId { id }): Parameters<OrderId>,
    ) -> Result<String, Missing> {
        posthog_mcp::set_property("looked_up", id);
        if id == 0 {
            Err(Missing(id))
        } else {
            Ok(format!("order {id}"))
        }
    }

    #[posthog_tool(standalone, capture_args = false)]
    #[tool]
    async fn structured(&self, Parameters(OrderId { id }): Parameters<OrderId>) -> Json<Order> {
        Json(Order { id })
    }

    #[posthog_tool]
    #[tool]
    async fn needs_the_wrapper(&self) -> String {
        "not captured outside the wrapper".into()
    }

    #[posthog_tool(standalone)]
    #[tool]
    async fn invalid(&self) -> Result<CallToolResult, ErrorData> {
        Err(ErrorData::invalid_params("bad input", None))
    }
}

fn call(name: &'static str, arguments: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name).with_arguments(arguments.as_object().unwrap().clone())
}

fn tool_calls(payloads: &[Payload]) -> Vec<&Payload> {
    payloads
        .iter()
        .filter(|p| p.event == "$mcp_tool_call")
        .collect()
}

#[tokio::test]
async fn each_call_is_reported_once_by_the_attribute() {
    let sink = MemorySink::new();
    let analytics = posthog_mcp::init(
        posthog_mcp::Analytics::builder()
            .memory_sink(sink.clone())
            .without_registered_identify(),
    )
    .unwrap();

    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = Plain.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("plain", "1.0"),
    )
    .serve(client_io)
    .await
    .unwrap();

    let ok = client
        .call_tool(call("orders.get", json!({"id": 7})))
        .await
        .unwrap();
    let failed = client
        .call_tool(call("orders.get", json!({"id": 0})))
        .await
        .unwrap();
    client
        .call_tool(call("structured", json!({"id": 3})))
        .await
        .unwrap();
    client
        .call_tool(call("invalid", json!({})))
        .await
        .unwrap_err();
    let bare = client
        .call_tool(call("needs_the_wrapper", json!({})))
        .await
        .unwrap();
    assert_eq!(
        bare.content[0].as_text().unwrap().text,
        "not captured outside the wrapper"
    );
    client.cancel().await.unwrap();
    assert!(analytics.flush(std::time::Duration::from_secs(5)).await);

    let payloads = sink.payloads();
    let calls = tool_calls(&payloads);
    assert_eq!(
        calls.len(),
        4,
        "one event per standalone call, none for the tool without `standalone`: {payloads:#?}"
    );

    let first = &calls[0].properties;
    assert_eq!(first["$mcp_tool_name"], "orders.get");
    assert_eq!(first["$mcp_is_error"], false);
    assert_eq!(first["looked_up"], 7);
    assert_eq!(first["$mcp_tool_category"], "orders");
    assert!(
        first["$mcp_parameters"].to_string().contains("\"id\":7"),
        "{first:#?}"
    );
    assert_eq!(ok.content[0].as_text().unwrap().text, "order 7");
    assert!(
        first["$mcp_response"].to_string().contains("order 7"),
        "{first:#?}"
    );

    let second = &calls[1].properties;
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(second["$mcp_is_error"], true);
    assert_eq!(second["$mcp_error_type"], "unwrapped_call::Missing");
    assert_eq!(second["$mcp_error_message"], "order 0 not found");

    let third = &calls[2].properties;
    assert_eq!(third["$mcp_tool_name"], "structured");
    assert!(
        !third["$mcp_parameters"].to_string().contains("arguments"),
        "capture_args = false: {third:#?}"
    );
    assert!(
        third["$mcp_response"]
            .to_string()
            .contains("structuredContent"),
        "{third:#?}"
    );

    let fourth = &calls[3].properties;
    assert_eq!(fourth["$mcp_is_error"], true);
    assert_eq!(fourth["$mcp_error_type"], "InvalidParams");
    assert_eq!(fourth["$mcp_error_message"], "bad input");

    // Under a wrapper whose own instance is disabled, the attribute captures nothing: it does not fall back to
    // the process-wide instance.
    let disabled = posthog_mcp::Analytics::builder()
        .disabled()
        .without_registered_identify()
        .build()
        .unwrap();
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = disabled.instrument(Plain);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("plain", "1.0"),
    )
    .serve(client_io)
    .await
    .unwrap();
    let quiet = client
        .call_tool(call("orders.get", json!({"id": 9})))
        .await
        .unwrap();
    assert_eq!(quiet.content[0].as_text().unwrap().text, "order 9");
    client.cancel().await.unwrap();
    assert!(analytics.flush(std::time::Duration::from_secs(5)).await);
    assert_eq!(
        tool_calls(&sink.payloads()).len(),
        4,
        "the disabled wrapper's call was not reported"
    );
}
