//! Intent and custom events through a real rmcp client: the injected `context` argument, its removal before the
//! handler, `$mcp_intent`, the fallback, and events attributed to the caller. Every event is read back from the
//! local ingestion server, as it arrived over HTTP.

use posthog_mcp::tool::{ToolRegistration, ToolSpec};
use posthog_mcp::{Analytics, Builder};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Ingested, Recorder, call, connect, ingested, reporting_to};
use rmcp::model::*;
use serde_json::{Value, json};

macro_rules! instrumented {
    ($($spec:ident = $name:literal),*) => {$(
        static $spec: ToolSpec = ToolSpec {
            name: $name,
            category: None,
            capture_args: true,
            capture_response: true,
            redact: &[],
            intent_description: None,
        };
        posthog_mcp::__private::v1::inventory::submit! { ToolRegistration { spec: &$spec } }
    )*};
}

// `subtract` is uninstrumented and still gets `context`; `lookup` declares its own `context`.
instrumented!(
    INSPECT = "inspect",
    ADD = "add",
    LOOKUP = "lookup",
    MEASURE = "measure",
    TRACK = "track"
);

/// Events go over HTTP to the local ingestion server.
/// This file is about the `context` argument alone: the model argument and conversation handle, on by default,
/// are turned off so that the listings and results compared here differ by `context` only.
fn builder(ingest: &IngestServer) -> Builder {
    reporting_to(ingest).arguments(arguments())
}

/// The argument options of this file: `context` alone.
fn arguments() -> posthog_mcp::ArgumentOptions {
    posthog_mcp::ArgumentOptions::default()
        .llm_model(false)
        .conversation_id(false)
}

/// Every event that reached the local ingestion server.
async fn drained(analytics: &Analytics, ingest: &IngestServer) -> Vec<Ingested> {
    ingested(analytics, ingest).await
}

fn tool_calls(payloads: &[Ingested]) -> Vec<&Ingested> {
    payloads
        .iter()
        .filter(|p| p.event == "$mcp_tool_call")
        .collect()
}

fn text(result: &CallToolResult) -> String {
    result.content[0].as_text().unwrap().text.clone()
}

fn by_name(tools: &[Tool], name: &str) -> Value {
    serde_json::to_value(tools.iter().find(|t| t.name == name).unwrap()).unwrap()
}

#[tokio::test]
async fn the_listing_shows_context_on_every_tool_that_does_not_declare_it() {
    let plain = connect(Recorder::default()).await;
    let host_tools = plain.list_all_tools().await.unwrap();
    plain.cancel().await.unwrap();

    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    client.cancel().await.unwrap();

    for name in ["inspect", "add", "measure", "subtract"] {
        let tool = by_name(&tools, name);
        let schema = &tool["inputSchema"];
        assert_eq!(schema["properties"]["context"]["type"], "string", "{name}");
        let description = schema["properties"]["context"]["description"]
            .as_str()
            .unwrap();
        assert!(description.contains("analytics only"), "{name}");
        assert_eq!(
            schema["required"].as_array().unwrap().last().unwrap(),
            "context"
        );
        let mut host = by_name(&host_tools, name);
        let mut ours = tool.clone();
        host["inputSchema"] = Value::Null;
        ours["inputSchema"] = Value::Null;
        assert_eq!(host, ours, "every other field of {name} is preserved");
    }
    assert_eq!(
        serde_json::to_string(&by_name(&tools, "lookup")).unwrap(),
        serde_json::to_string(&by_name(&host_tools, "lookup")).unwrap(),
        "a tool that declares its own context is untouched"
    );

    let payloads = drained(&analytics, &ingest).await;
    let list = payloads
        .iter()
        .find(|p| p.event == "$mcp_tools_list")
        .unwrap();
    let names = list.properties["$mcp_listed_tool_names"]
        .as_array()
        .unwrap();
    assert!(names.iter().any(|n| n == "inspect"), "{names:?}");
    assert!(
        list.properties.get("$mcp_response").is_none(),
        "a first page has no envelope to record, and the tools themselves are never recorded"
    );
}

#[tokio::test]
async fn the_handler_never_sees_an_owned_argument() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let result = client
        .call_tool(call(
            "inspect",
            json!({"x": 1, "context": "Checking a running total for the user."}),
        ))
        .await
        .unwrap();
    assert_eq!(text(&result), r#"{"x":1}"#);
    client.cancel().await.unwrap();

    let payloads = drained(&analytics, &ingest).await;
    let event = &tool_calls(&payloads)[0].properties;
    assert_eq!(
        event["$mcp_parameters"]["request"]["params"]["arguments"],
        json!({"x": 1})
    );
    assert_eq!(
        event["$mcp_intent"],
        "Checking a running total for the user."
    );
    assert_eq!(event["$mcp_intent_source"], "context_parameter");
}

#[tokio::test]
async fn a_call_without_context_still_succeeds() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let result = client
        .call_tool(call("add", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    assert_eq!(text(&result), "5");
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let event = &tool_calls(&payloads)[0].properties;
    assert!(event.get("$mcp_intent").is_none());
    assert!(event.get("$mcp_intent_source").is_none());
}

#[tokio::test]
async fn a_declared_context_is_ordinary_data() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let result = client
        .call_tool(call("lookup", json!({"key": "k", "context": "shelf"})))
        .await
        .unwrap();
    assert_eq!(text(&result), "k in shelf");
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let event = &tool_calls(&payloads)[0].properties;
    assert_eq!(
        event["$mcp_parameters"]["request"]["params"]["arguments"]["context"],
        "shelf"
    );
    assert!(event.get("$mcp_intent").is_none());
}

#[tokio::test]
async fn intent_is_trimmed_redacted_and_capped() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    client
        .call_tool(call(
            "add",
            json!({"a": 1, "b": 1, "context": "   Writing to ada@example.com about a refund.  \n"}),
        ))
        .await
        .unwrap();
    let long = "word ".repeat(1000);
    client
        .call_tool(call("add", json!({"a": 1, "b": 2, "context": long})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let calls = tool_calls(&payloads);
    assert_eq!(
        calls[0].properties["$mcp_intent"],
        "Writing to [redacted] about a refund."
    );
    let capped = calls[1].properties["$mcp_intent"].as_str().unwrap();
    assert_eq!(capped.chars().count(), 2048);
    assert!(capped.ends_with("..."));
}

#[tokio::test]
async fn the_intent_fallback_fills_in_when_context_is_missing() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .arguments(arguments().intent_fallback(|view| async move {
            let tool = view.params()["name"].as_str().unwrap_or("?").to_owned();
            (tool == "add").then(|| format!("  Totals via {tool}  "))
        }))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    client
        .call_tool(call(
            "add",
            json!({"a": 1, "b": 1, "context": "Explicit wins."}),
        ))
        .await
        .unwrap();
    client
        .call_tool(call("subtract", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let calls = tool_calls(&payloads);
    assert_eq!(calls[0].properties["$mcp_intent"], "Totals via add");
    assert_eq!(calls[0].properties["$mcp_intent_source"], "inferred");
    assert_eq!(calls[1].properties["$mcp_intent"], "Explicit wins.");
    assert_eq!(
        calls[1].properties["$mcp_intent_source"],
        "context_parameter"
    );
    assert!(calls[2].properties.get("$mcp_intent").is_none());
}

#[tokio::test]
async fn a_panicking_intent_fallback_records_nothing_and_the_call_succeeds() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .arguments(arguments().intent_fallback(|_view| async move { panic!("fallback broke") }))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let result = client
        .call_tool(call("add", json!({"a": 4, "b": 1})))
        .await
        .unwrap();
    assert_eq!(text(&result), "5");
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    assert!(
        tool_calls(&payloads)[0]
            .properties
            .get("$mcp_intent")
            .is_none()
    );
}

#[tokio::test]
async fn with_intent_off_the_listing_and_results_are_untouched() {
    let plain = connect(Recorder::default()).await;
    let host_tools = plain.list_all_tools().await.unwrap();
    let host_result = plain
        .call_tool(call("inspect", json!({"x": 1, "context": "kept"})))
        .await
        .unwrap();
    plain.cancel().await.unwrap();

    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .arguments(arguments().intent(false))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    let result = client
        .call_tool(call("inspect", json!({"x": 1, "context": "kept"})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    assert_eq!(
        serde_json::to_string(&tools).unwrap(),
        serde_json::to_string(&host_tools).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&result).unwrap(),
        serde_json::to_string(&host_result).unwrap()
    );
    let payloads = drained(&analytics, &ingest).await;
    assert!(
        tool_calls(&payloads)[0]
            .properties
            .get("$mcp_intent")
            .is_none()
    );
}

#[tokio::test]
async fn custom_events_inside_a_tool_are_attributed_to_the_caller() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .identify(|_view| async {
            Some(posthog_mcp::Identity::new("user-7").with_property("plan", "pro"))
        })
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::with_analytics(analytics.clone()))).await;
    let result = client.call_tool(call("track", json!({}))).await.unwrap();
    assert_eq!(text(&result), "tracked");
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let custom = payloads
        .iter()
        .find(|p| p.event == "report_generated")
        .unwrap();
    let main = tool_calls(&payloads)[0];
    assert_eq!(custom.distinct_id, "user-7");
    assert_eq!(
        custom.properties["$session_id"],
        main.properties["$session_id"]
    );
    assert_eq!(custom.properties["$mcp_source"], "posthog_mcp_analytics");
    assert_eq!(custom.properties["$mcp_client_name"], "test-client");
    assert_eq!(custom.properties["$mcp_server_name"], "recorder");
    assert_eq!(custom.properties["$set"], json!({"plan": "pro"}));
    assert_eq!(custom.properties["report"], "weekly");
    assert!(custom.properties.get("$mcp_duration_ms").is_none());
    assert!(custom.properties.get("$process_person_profile").is_none());
}

#[tokio::test]
async fn custom_events_without_a_context_are_anonymous_and_need_a_name() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    assert_eq!(
        analytics.capture("  ", serde_json::Map::new()),
        Err(posthog_mcp::CaptureError::EmptyName)
    );
    analytics
        .capture(
            "nightly_job",
            serde_json::Map::from_iter([("n".to_owned(), json!(3))]),
        )
        .unwrap();
    let payloads = drained(&analytics, &ingest).await;
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0].event, "nightly_job");
    assert_eq!(payloads[0].distinct_id, "anonymous");
    assert_eq!(payloads[0].properties["$process_person_profile"], false);
    assert!(payloads[0].properties.get("$session_id").is_none());
    assert_eq!(payloads[0].properties["n"], 3);
}

#[tokio::test]
async fn a_panicking_before_send_drops_only_that_payload() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .events(posthog_mcp::EventOptions::default().before_send(|payload| {
            if payload.event == "$mcp_tool_call" {
                panic!("hook broke");
            }
            Some(payload)
        }))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    client.list_all_tools().await.unwrap();
    client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let names: Vec<&str> = payloads.iter().map(|p| p.event.as_str()).collect();
    assert_eq!(names, ["$mcp_initialize", "$mcp_tools_list"]);
}
