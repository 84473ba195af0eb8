//! The manual API: one scenario replayed through the wrapper and through a gateway built on `posthog_mcp::manual`
//! in front of the same host produces the same events, key for key, and the same results. Each run reports to its
//! own local ingestion server; the events compared are the ones that arrived over HTTP.

use std::sync::{Arc, Mutex};

use posthog_mcp::Builder;
use posthog_mcp::manual::{ManualRequest, Prepared};
use posthog_mcp::tool::{ToolRegistration, ToolSpec};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Ingested, Recorder, call, connect, ingested, reporting_to};
use rmcp::ServerHandler as _;
use rmcp::model::*;
use serde_json::{Map, Value, json};

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

instrumented!(INSPECT = "inspect", ADD = "add");

/// The event names and property keys of each payload, in the order the crate assembled them.
///
/// The wire cannot show that order (posthog-rs keeps properties in a hash map), so `before_send`, which sees each
/// payload as built, writes it down; it returns every payload unchanged.
type KeyOrder = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// Events go over HTTP to `ingest`; `order` receives the key order of every payload.
fn builder(ingest: &IngestServer, order: &KeyOrder) -> Builder {
    let order = order.clone();
    reporting_to(ingest)
        .arguments(posthog_mcp::ArgumentOptions::default().llm_model(true))
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .get_more_tools(true)
                .send_feedback(true),
        )
        .events(
            posthog_mcp::EventOptions::default().before_send(move |payload| {
                let keys = payload.properties.keys().cloned().collect();
                order.lock().unwrap().push((payload.event.clone(), keys));
                Some(payload)
            }),
        )
}

fn scenario() -> Vec<CallToolRequestParams> {
    vec![
        call(
            "add",
            json!({"a": 2, "b": 3, "context": " Totals for a report. ", "llm_model": "claude-x"}),
        ),
        call(
            "inspect",
            json!({"x": [1, 2], "context": "Checking inputs."}),
        ),
        call("subtract", json!({"a": 1, "b": 1, "llm_model": "unknown"})),
        // A conversation handle the agent echoes: the call is anchored to it on both paths.
        call(
            "add",
            json!({"a": 1, "b": 1, "conversation_id": "0190f0e8-7a6b-7c3d-9e4f-5a6b7c8d9e0f"}),
        ),
        // Arguments that do not fit the tool: the host answers with an error result. (For a tool marked with the
        // attribute, the wrapper also knows that its body never ran and says so; a gateway cannot know that.)
        call("subtract", json!({"a": "two", "b": 3})),
        // A tool the host does not have: an unknown tool, not a call.
        call("divide_by_nothing", json!({})),
        call(
            "get_more_tools",
            json!({"context": "Needs a currency converter."}),
        ),
        call(
            "send_feedback",
            json!({"feedback_type": "praise", "summary": "Add is quick.", "sentiment": "positive"}),
        ),
    ]
}

/// Properties that legitimately differ between two runs.
const VOLATILE: [&str; 2] = ["$session_id", "$mcp_duration_ms"];

fn comparable(payload: &Ingested) -> (String, Map<String, Value>) {
    let mut properties = payload.properties.clone();
    for key in VOLATILE {
        properties.remove(key);
    }
    // The wrapper captures the host's value before rmcp drops `resultType` for peers of earlier protocol
    // versions; the gateway's upstream results arrive over such a wire already without it.
    if let Some(Value::Object(response)) = properties.get_mut("$mcp_response") {
        response.remove("resultType");
    }
    (payload.event.clone(), properties)
}

/// A result as a client of the gateway would see it: rmcp drops `resultType` on the wire for peers of
/// earlier protocol versions, which the manual gateway's transport would do as well.
fn as_json(outcome: Result<CallToolResult, ErrorData>) -> Value {
    match outcome {
        Ok(mut result) => {
            result.result_type = None;
            json!({"result": result})
        }
        Err(error) => json!({"error": error}),
    }
}

/// The same request as the gateway would receive it: the JSON-RPC id and `_meta` the rmcp client sent (read
/// back from the wrapper's capture; `$mcp_feedback` carries no parameters, and neither is captured there).
fn manual_request(payload: &Ingested) -> ManualRequest {
    let Some(request) = payload.properties.get("$mcp_parameters") else {
        return ManualRequest::new();
    };
    let request = &request["request"];
    let mut manual = ManualRequest::new().id(request["id"].clone());
    if let Some(meta) = request["params"].get("_meta").and_then(Value::as_object) {
        manual = manual.meta(RequestMetaObject(MetaObject(meta.clone())));
    }
    manual
}

#[tokio::test]
async fn the_manual_api_replay_matches_the_wrapper_key_for_key() {
    // Through the wrapper.
    let wrapped_ingest = IngestServer::start();
    let wrapped_order = KeyOrder::default();
    let wrapped_analytics = builder(&wrapped_ingest, &wrapped_order).build().unwrap();
    let client = connect(wrapped_analytics.instrument(Recorder::default())).await;
    let wrapped_listing = client.list_tools(None).await.unwrap();
    let mut wrapped_results = Vec::new();
    for request in scenario() {
        let outcome = client
            .call_tool(request)
            .await
            .map_err(|error| match error {
                rmcp::ServiceError::McpError(error) => error,
                other => panic!("transport failure: {other}"),
            });
        wrapped_results.push(as_json(outcome));
    }
    client.cancel().await.unwrap();
    let wrapped = ingested(&wrapped_analytics, &wrapped_ingest).await;
    let requests: Vec<ManualRequest> = wrapped
        .iter()
        .filter(|p| p.event != "$exception")
        .map(manual_request)
        .collect();

    // Through a gateway on the manual API, forwarding to the same host over an uninstrumented connection.
    let upstream = connect(Recorder::default()).await;
    let initialize_params = wrapped[0].properties["$mcp_parameters"]["request"]["params"].clone();
    let initialize_params: InitializeRequestParams =
        serde_json::from_value(initialize_params).unwrap();
    let initialize_result: InitializeResult =
        serde_json::from_value(wrapped[0].properties["$mcp_response"].clone()).unwrap();

    let manual_ingest = IngestServer::start();
    let manual_order = KeyOrder::default();
    let manual_analytics = builder(&manual_ingest, &manual_order).build().unwrap();
    let server = manual_analytics.manual(Recorder::default().get_info().server_info);
    let connection = server.connection();
    server
        .capture_initialize(
            &connection,
            &requests[0],
            &initialize_params,
            &initialize_result,
        )
        .await;
    let host_listing = upstream
        .list_tools(None)
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None));
    let manual_listing = server
        .prepare_list(&connection, &requests[1], None, host_listing)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&manual_listing).unwrap(),
        serde_json::to_value(&wrapped_listing).unwrap()
    );
    let mut manual_results = Vec::new();
    for (index, request) in scenario().into_iter().enumerate() {
        let outcome = match server
            .prepare_call(&connection, &requests[index + 2], request)
            .await
        {
            Prepared::Answered(result) => Ok(result),
            Prepared::Forward(prepared) => {
                let forwarded = upstream
                    .call_tool(prepared.request().clone())
                    .await
                    .map_err(|error| match error {
                        rmcp::ServiceError::McpError(error) => error,
                        other => ErrorData::internal_error(other.to_string(), None),
                    });
                server.finish_call(prepared, forwarded)
            }
        };
        manual_results.push(as_json(outcome));
    }
    upstream.cancel().await.unwrap();
    let manual = ingested(&manual_analytics, &manual_ingest).await;

    assert_eq!(
        manual_results, wrapped_results,
        "the client sees the same results"
    );
    let wrapped_events: Vec<_> = wrapped.iter().map(comparable).collect();
    let manual_events: Vec<_> = manual.iter().map(comparable).collect();
    assert_eq!(
        manual_events.iter().map(|(e, _)| e).collect::<Vec<_>>(),
        wrapped_events.iter().map(|(e, _)| e).collect::<Vec<_>>()
    );
    for ((event, ours), (_, theirs)) in manual_events.iter().zip(&wrapped_events) {
        let mut our_keys: Vec<&String> = ours.keys().collect();
        let mut their_keys: Vec<&String> = theirs.keys().collect();
        our_keys.sort();
        their_keys.sort();
        assert_eq!(our_keys, their_keys, "{event}: the same keys arrived");
        for (key, value) in ours {
            assert_eq!(value, &theirs[key], "{event}.{key}");
        }
    }
    // The order is the crate's, as `before_send` saw each payload; the labels and what posthog-rs adds come
    // after it and are compared above.
    let (manual_order, wrapped_order) = (
        manual_order.lock().unwrap().clone(),
        wrapped_order.lock().unwrap().clone(),
    );
    for (order, arrived) in [(&manual_order, &manual), (&wrapped_order, &wrapped)] {
        assert_eq!(
            order.iter().map(|(e, _)| e).collect::<Vec<_>>(),
            arrived.iter().map(|p| &p.event).collect::<Vec<_>>(),
            "before_send saw every payload that arrived, in order"
        );
        for ((event, keys), payload) in order.iter().zip(arrived) {
            for key in keys {
                assert!(
                    payload.properties.contains_key(key),
                    "{event}.{key} arrived"
                );
            }
        }
    }
    for ((event, ours), (_, theirs)) in manual_order.iter().zip(&wrapped_order) {
        let ours: Vec<&String> = ours
            .iter()
            .filter(|k| !VOLATILE.contains(&k.as_str()))
            .collect();
        let theirs: Vec<&String> = theirs
            .iter()
            .filter(|k| !VOLATILE.contains(&k.as_str()))
            .collect();
        assert_eq!(ours, theirs, "{event}: the same keys in the same order");
    }
    let names: Vec<&str> = wrapped.iter().map(|p| p.event.as_str()).collect();
    assert!(names.contains(&"$mcp_missing_capability"));
    assert!(names.contains(&"$mcp_feedback"));
    assert!(names.contains(&"$exception"));
    assert!(names.contains(&"$mcp_unknown_tool"));
    let anchored = wrapped
        .iter()
        .filter(|p| p.properties.get("$mcp_conversation_id").is_some())
        .count();
    assert_eq!(anchored, 1, "the echoed handle anchors its one call");
}
