//! Model capture, the conversation handle and the virtual tools (with listing decoration) through a real rmcp
//! client, and byte-identical behaviour with every option off. Every event is read back from the local
//! ingestion server, as it arrived over HTTP.

use std::sync::{Arc, Mutex};

use posthog_mcp::tool::{ToolRegistration, ToolSpec};
use posthog_mcp::{Analytics, Builder, ConfigError, Feedback};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{
    Ingested, Recorder, WrapperOnlyServer, call, connect, connect_http_modern, ingested,
    reporting_to, serve_http,
};
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

instrumented!(INSPECT = "inspect", ADD = "add", MEASURE = "measure");

/// Events go over HTTP to the local ingestion server.
fn builder(ingest: &IngestServer) -> Builder {
    reporting_to(ingest)
}

/// Every event that reached the local ingestion server.
async fn drained(analytics: &Analytics, ingest: &IngestServer) -> Vec<Ingested> {
    ingested(analytics, ingest).await
}

fn named<'a>(payloads: &'a [Ingested], event: &str) -> Vec<&'a Ingested> {
    payloads.iter().filter(|p| p.event == event).collect()
}

fn texts(result: &CallToolResult) -> Vec<String> {
    result
        .content
        .iter()
        .map(|c| c.as_text().unwrap().text.clone())
        .collect()
}

fn schema_of(tools: &[Tool], name: &str) -> Value {
    Value::Object((*tools.iter().find(|t| t.name == name).unwrap().input_schema).clone())
}

fn handle_from(result: &CallToolResult) -> String {
    let last = texts(result).pop().unwrap();
    let block: Value = serde_json::from_str(&last).unwrap();
    block["conversation_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn feedback_and_missing_capability_calls_produce_exactly_their_one_event() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .get_more_tools(true)
                .send_feedback(true),
        )
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
    assert_eq!(
        &names[names.len() - 2..],
        ["get_more_tools", "send_feedback"]
    );
    let more = tools.iter().find(|t| t.name == "get_more_tools").unwrap();
    let annotations = more.annotations.as_ref().unwrap();
    assert_eq!(annotations.read_only_hint, Some(true));
    assert_eq!(annotations.destructive_hint, Some(false));
    assert!(schema_of(&tools, "get_more_tools")["properties"]["context"].is_object());
    // A virtual tool takes every enabled injected argument but `context`, whose place its report takes.
    assert_eq!(
        schema_of(&tools, "send_feedback")["required"],
        json!(["feedback_type", "summary", "llm_model"])
    );

    let reply = client
        .call_tool(call(
            "get_more_tools",
            json!({"context": "  Needs a tool that converts currencies.  "}),
        ))
        .await
        .unwrap();
    assert_eq!(reply.is_error, Some(false));
    let feedback = client
        .call_tool(call(
            "send_feedback",
            json!({"feedback_type": "missing_capability",
                   "summary": "No way to convert currencies.",
                   "details": "Tried add; mail ada@example.com for more.",
                   "sentiment": "negative", "task_completed": false, "unknown_extra": 1}),
        ))
        .await
        .unwrap();
    assert_eq!(texts(&feedback).len(), 1);
    client.cancel().await.unwrap();

    let payloads = drained(&analytics, &ingest).await;
    let events: Vec<&str> = payloads.iter().map(|p| p.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "$mcp_initialize",
            "$mcp_tools_list",
            "$mcp_missing_capability",
            "$mcp_feedback"
        ]
    );
    let missing = &payloads[2].properties;
    assert_eq!(missing["$mcp_resource_name"], "get_more_tools");
    assert!(missing.get("$mcp_tool_name").is_none());
    assert_eq!(
        missing["$mcp_intent"],
        "Needs a tool that converts currencies."
    );
    assert_eq!(missing["$mcp_intent_source"], "context_parameter");
    assert!(
        missing.get("$mcp_parameters").is_none(),
        "a report is free text: its arguments are never captured raw"
    );
    assert_eq!(
        missing["$mcp_response"]["content"][0]["text"],
        Value::from(texts(&reply)[0].clone())
    );
    assert_eq!(missing["$mcp_is_error"], false);

    let report = &payloads[3].properties;
    assert!(report.get("$mcp_parameters").is_none());
    assert!(report.get("$mcp_tool_name").is_none());
    assert_eq!(report["$mcp_resource_name"], "send_feedback");
    assert_eq!(report["$mcp_feedback_type"], "missing_capability");
    assert_eq!(
        report["$mcp_feedback_summary"],
        "No way to convert currencies."
    );
    assert_eq!(
        report["$mcp_feedback_details"],
        "Tried add; mail [redacted] for more."
    );
    assert_eq!(report["$mcp_feedback_sentiment"], "negative");
    assert_eq!(report["$mcp_feedback_task_completed"], false);
    assert!(report.get("$mcp_feedback_unknown_extra").is_none());
    assert_eq!(
        report["$mcp_intent"],
        "No way to convert currencies.\n\nTried add; mail [redacted] for more."
    );
    assert_eq!(report["$mcp_is_error"], false);
    assert_eq!(
        report["$mcp_response"]["content"][0]["text"],
        Value::from(texts(&feedback)[0].clone())
    );
}

#[tokio::test]
async fn the_feedback_handler_words_the_reply_and_declared_extras_are_captured() {
    let ingest = IngestServer::start();
    let seen: Arc<Mutex<Vec<Feedback>>> = Arc::default();
    let seen_by_handler = seen.clone();
    let extras = json!({"ticket": {"type": "integer", "description": "Ticket number"},
                        "area": {"type": "string", "enum": ["billing", "search"]}});
    let analytics = builder(&ingest)
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .send_feedback_name("report_gap")
                .send_feedback_extras(extras.as_object().unwrap().clone(), ["area"])
                .feedback_handler(move |feedback| {
                    let seen = seen_by_handler.clone();
                    async move {
                        seen.lock().unwrap().push(feedback);
                        Some("Logged for the team.".to_owned())
                    }
                }),
        )
        .events(
            posthog_mcp::EventOptions::default().event_properties(|_view| async {
                Some(serde_json::Map::from_iter([
                    ("$mcp_feedback_type".to_owned(), json!("overridden")),
                    ("tenant".to_owned(), json!("acme")),
                ]))
            }),
        )
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        schema_of(&tools, "report_gap")["required"],
        json!(["feedback_type", "summary", "area", "llm_model"])
    );
    let reply = client
        .call_tool(call(
            "report_gap",
            json!({"feedback_type": "issue", "summary": "Search times out.",
                   "ticket": 3.0, "area": "search"}),
        ))
        .await
        .unwrap();
    assert_eq!(texts(&reply), ["Logged for the team."]);
    client.cancel().await.unwrap();
    assert_eq!(seen.lock().unwrap()[0].summary, "Search times out.");

    let payloads = drained(&analytics, &ingest).await;
    let report = &named(&payloads, "$mcp_feedback")[0].properties;
    assert_eq!(report["$mcp_feedback_type"], "issue", "feedback keys win");
    assert_eq!(report["tenant"], "acme");
    assert_eq!(report["$mcp_feedback_ticket"], 3.0);
    assert_eq!(report["$mcp_feedback_area"], "search");
}

#[test]
fn a_bad_feedback_configuration_is_a_build_error_naming_the_field() {
    let reserved = Analytics::builder()
        .destination(posthog_mcp::Destination::Disabled)
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .send_feedback(true)
                .send_feedback_extras(
                    json!({"summary": {"type": "string"}})
                        .as_object()
                        .unwrap()
                        .clone(),
                    Vec::<String>::new(),
                ),
        )
        .build()
        .err()
        .unwrap();
    assert_eq!(
        reserved,
        ConfigError::ReservedFeedbackField {
            field: "summary".into()
        }
    );
    assert!(reserved.to_string().contains("`summary`"));
    let undeclared = Analytics::builder()
        .destination(posthog_mcp::Destination::Disabled)
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .send_feedback(true)
                .send_feedback_extras(serde_json::Map::new(), ["severity"]),
        )
        .build()
        .err()
        .unwrap();
    assert!(undeclared.to_string().contains("`severity`"));
}

#[tokio::test]
async fn a_real_tool_with_a_virtual_name_wins() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .virtual_tools(posthog_mcp::VirtualToolOptions::default().get_more_tools_name("subtract"))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.iter().filter(|t| t.name == "subtract").count(), 1);
    let result = client
        .call_tool(call("subtract", json!({"a": 5, "b": 2})))
        .await
        .unwrap();
    assert_eq!(texts(&result), ["3"]);
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    assert_eq!(named(&payloads, "$mcp_tool_call").len(), 1);
    assert!(named(&payloads, "$mcp_missing_capability").is_empty());
}

#[tokio::test]
async fn the_model_comes_from_client_metadata_first_then_the_argument() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .arguments(posthog_mcp::ArgumentOptions::default().llm_model(true))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    for name in ["inspect", "subtract"] {
        let schema = schema_of(&tools, name);
        assert_eq!(schema["properties"]["llm_model"]["type"], "string");
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!("llm_model"))
        );
    }
    let seen = client
        .call_tool(call("inspect", json!({"x": 1, "llm_model": " claude-x "})))
        .await
        .unwrap();
    assert_eq!(texts(&seen), [r#"{"x":1}"#]);
    let mut with_meta = call("inspect", json!({"llm_model": "claude-x"}));
    with_meta.meta = Some(RequestMetaObject(MetaObject(
        json!({"x-codex-turn-metadata": {"model": "gpt-y"}})
            .as_object()
            .unwrap()
            .clone(),
    )));
    client.call_tool(with_meta).await.unwrap();
    client
        .call_tool(call("inspect", json!({"llm_model": "Unknown"})))
        .await
        .unwrap();
    client.cancel().await.unwrap();

    let payloads = drained(&analytics, &ingest).await;
    let calls = named(&payloads, "$mcp_tool_call");
    assert_eq!(calls[0].properties["$mcp_llm_model"], "claude-x");
    assert_eq!(
        calls[0].properties["$mcp_llm_model_source"],
        "self_reported"
    );
    assert_eq!(
        calls[0].properties["$mcp_parameters"]["request"]["params"]["arguments"],
        json!({"x": 1})
    );
    assert_eq!(calls[1].properties["$mcp_llm_model"], "gpt-y");
    assert_eq!(
        calls[1].properties["$mcp_llm_model_source"],
        "client_metadata"
    );
    assert!(calls[2].properties.get("$mcp_llm_model").is_none());
    assert!(calls[2].properties.get("$mcp_llm_model_source").is_none());
}

#[tokio::test]
async fn the_conversation_handle_round_trips_and_an_invented_one_is_rejected() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    // Over stateless HTTP, where nothing but a handle groups a client's calls.
    let server = analytics.instrument(Recorder::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http_modern(&url, None, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let schema = schema_of(&tools, "add");
    assert_eq!(schema["properties"]["conversation_id"]["type"], "string");
    assert!(
        !schema["required"]
            .as_array()
            .unwrap()
            .contains(&json!("conversation_id"))
    );
    let measure = tools.iter().find(|t| t.name == "measure").unwrap();
    let output = measure.output_schema.as_ref().unwrap();
    assert!(output["properties"]["_mcp_instructions"].is_object());

    let first = client
        .call_tool(call("add", json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    let minted = handle_from(&first);
    assert_eq!(texts(&first)[0], "3");
    assert_eq!(&minted[14..15], "7", "a UUIDv7");

    let echoed = client
        .call_tool(call("inspect", json!({"x": 1, "conversation_id": minted})))
        .await
        .unwrap();
    assert_eq!(
        texts(&echoed),
        [r#"{"x":1}"#],
        "nothing appended, nothing seen"
    );

    let structured = client
        .call_tool(call(
            "measure",
            json!({"a": 2, "b": 3, "conversation_id": minted.to_uppercase()}),
        ))
        .await
        .unwrap();
    assert_eq!(
        structured.structured_content,
        Some(json!({"value": 6, "_mcp_instructions": {"conversation_id": minted}}))
    );

    let invented = client
        .call_tool(call(
            "add",
            json!({"a": 1, "b": 1, "conversation_id": "conv-1"}),
        ))
        .await
        .unwrap();
    let fresh = handle_from(&invented);
    assert_ne!(fresh, "conv-1");
    assert_ne!(fresh, minted);
    client.cancel().await.unwrap();

    let payloads = drained(&analytics, &ingest).await;
    let calls = named(&payloads, "$mcp_tool_call");
    let derived = posthog_mcp::session::derive_session_id(&minted);
    for call in &calls[..3] {
        assert_eq!(call.properties["$mcp_conversation_id"], minted.as_str());
        assert_eq!(call.properties["$session_id"], derived.as_str());
        assert_eq!(call.distinct_id, derived);
    }
    assert_eq!(calls[3].properties["$mcp_conversation_id"], fresh.as_str());
    assert_eq!(
        calls[1].properties["$mcp_parameters"]["request"]["params"]["arguments"],
        json!({"x": 1})
    );
    assert_eq!(
        calls[0].properties["$mcp_response"]["content"][1]["text"],
        Value::from(texts(&first)[1].clone()),
        "$mcp_response is the result the client received"
    );
}

#[tokio::test]
async fn with_every_option_off_schemas_and_results_are_byte_identical() {
    let traffic = || -> Vec<CallToolRequestParams> {
        vec![
            call(
                "inspect",
                json!({"x": 1, "context": "c", "llm_model": "m", "conversation_id": "conv-1"}),
            ),
            call("measure", json!({"a": 2, "b": 3})),
            call("add", json!({"a": 2, "b": 3})),
        ]
    };
    let plain = connect(Recorder::default()).await;
    let host_tools = plain.list_all_tools().await.unwrap();
    let mut host_results = Vec::new();
    for request in traffic() {
        host_results.push(serde_json::to_string(&plain.call_tool(request).await.unwrap()).unwrap());
    }
    plain.cancel().await.unwrap();

    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .arguments(
            posthog_mcp::ArgumentOptions::default()
                .intent(false)
                .llm_model(false)
                .conversation_id(false),
        )
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .get_more_tools(false)
                .send_feedback(false),
        )
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        serde_json::to_string(&tools).unwrap(),
        serde_json::to_string(&host_tools).unwrap()
    );
    for (request, expected) in traffic().into_iter().zip(&host_results) {
        let result = client.call_tool(request).await.unwrap();
        assert_eq!(&serde_json::to_string(&result).unwrap(), expected);
    }
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    for call in named(&payloads, "$mcp_tool_call") {
        for key in ["$mcp_intent", "$mcp_llm_model", "$mcp_conversation_id"] {
            assert!(call.properties.get(key).is_none(), "{key}");
        }
    }
}

#[tokio::test]
async fn a_virtual_tool_is_answered_before_any_listing_when_the_host_has_no_such_tool() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest)
        .virtual_tools(posthog_mcp::VirtualToolOptions::default().get_more_tools(true))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;
    let outcome = client
        .call_tool(call(
            "get_more_tools",
            json!({"context": "Looking around."}),
        ))
        .await;
    let result = outcome.expect("the crate answers: the host's registry has no tool of that name");
    assert_eq!(result.is_error, Some(false));
    client.cancel().await.unwrap();
    let payloads = drained(&analytics, &ingest).await;
    let reports = named(&payloads, "$mcp_missing_capability");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].properties["$mcp_intent"], "Looking around.");
    assert!(named(&payloads, "$mcp_tool_call").is_empty());
}

#[tokio::test]
async fn an_error_result_carries_the_conversation_handle_and_its_events_record_it() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    // Over stateless HTTP, where nothing but a handle groups a client's calls.
    let server = analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http_modern(&url, None, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        schema_of(&tools, "fail_result")["properties"]["conversation_id"]["type"],
        "string"
    );

    let minted_on_error = client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    assert_eq!(minted_on_error.is_error, Some(true));
    let minted = handle_from(&minted_on_error);
    assert_eq!(&minted[14..15], "7", "a UUIDv7");
    assert_eq!(
        texts(&minted_on_error),
        [
            "the thing failed".to_owned(),
            "badly".to_owned(),
            format!(r#"{{"conversation_id":"{minted}"}}"#)
        ],
        "the handle is appended to an error result's content like any other"
    );
    let echoed_on_error = client
        .call_tool(call("fail_result", json!({"conversation_id": minted})))
        .await
        .unwrap();
    assert_eq!(echoed_on_error.is_error, Some(true));
    assert_eq!(
        texts(&echoed_on_error),
        ["the thing failed", "badly"],
        "an echoed handle is not appended again"
    );
    client.cancel().await.unwrap();

    let payloads = drained(&analytics, &ingest).await;
    let derived = posthog_mcp::session::derive_session_id(&minted);
    let calls = named(&payloads, "$mcp_tool_call");
    let exceptions = named(&payloads, "$exception");
    assert_eq!((calls.len(), exceptions.len()), (2, 2));
    for (call, exception) in calls.iter().zip(&exceptions) {
        assert_eq!(call.properties["$mcp_is_error"], true);
        assert_eq!(call.properties["$mcp_conversation_id"], minted.as_str());
        assert_eq!(call.properties["$session_id"], derived.as_str());
        assert_eq!(call.distinct_id, derived);
        assert_eq!(
            call.properties["$mcp_error_message"], "the thing failed badly",
            "the message is the tool's own text, without the handle block"
        );
        assert_eq!(
            call.properties["$mcp_parameters"]["request"]["params"]["arguments"],
            json!({})
        );
        assert_eq!(
            exception.properties["$mcp_conversation_id"],
            minted.as_str()
        );
        assert_eq!(exception.properties["$session_id"], derived.as_str());
    }
    assert_eq!(
        calls[0].properties["$mcp_response"]["content"][2]["text"],
        Value::from(texts(&minted_on_error)[2].clone()),
        "$mcp_response is the error result the client received"
    );
    assert_eq!(
        calls[1].properties["$mcp_response"]["content"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_protocol_error_keeps_an_echoed_handle_and_drops_a_minted_one() {
    let ingest = IngestServer::start();
    let analytics = builder(&ingest).build().unwrap();
    // Over stateless HTTP, where nothing but a handle groups a client's calls.
    let server = analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http_modern(&url, None, &[]).await;
    let first = client
        .call_tool(call("add", json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    let minted = handle_from(&first);
    let echoed = client
        .call_tool(call(
            "divide",
            json!({"a": 1, "b": 0, "conversation_id": minted}),
        ))
        .await;
    let unanchored = client
        .call_tool(call("divide", json!({"a": 1, "b": 0})))
        .await;
    for outcome in [echoed, unanchored] {
        match outcome {
            Err(rmcp::ServiceError::McpError(error)) => {
                assert_eq!(
                    error.message, "division by zero",
                    "the host's error, untouched"
                );
            }
            other => panic!("expected the host's protocol error, got {other:?}"),
        }
    }
    client.cancel().await.unwrap();

    let payloads = drained(&analytics, &ingest).await;
    let derived = posthog_mcp::session::derive_session_id(&minted);
    let calls = named(&payloads, "$mcp_tool_call");
    let exceptions = named(&payloads, "$exception");
    assert_eq!((calls.len(), exceptions.len()), (3, 2));
    let (echoed, unanchored) = (&calls[1].properties, &calls[2].properties);
    for call in [echoed, unanchored] {
        assert_eq!(call["$mcp_is_error"], true);
        assert_eq!(call["$mcp_error_type"], "validation");
        assert!(call.get("$mcp_response").is_none());
        assert_eq!(
            call["$mcp_parameters"]["request"]["params"]["arguments"],
            json!({"a": 1, "b": 0}),
            "conversation_id is removed"
        );
    }

    assert_eq!(
        echoed["$mcp_conversation_id"],
        minted.as_str(),
        "a handle the agent sent is recorded even though the call failed"
    );
    assert_eq!(echoed["$session_id"], derived.as_str());
    assert_eq!(
        exceptions[0].properties["$mcp_conversation_id"],
        minted.as_str()
    );
    assert_eq!(exceptions[0].properties["$session_id"], derived.as_str());

    assert!(
        unanchored.get("$mcp_conversation_id").is_none(),
        "a handle minted for a call without a result never reached the agent"
    );
    assert!(
        exceptions[1]
            .properties
            .get("$mcp_conversation_id")
            .is_none()
    );
    let session = &unanchored["$session_id"];
    assert!(
        session.as_str().unwrap().len() == 40,
        "a fresh session of its own, not one derived from the undelivered handle: {session}"
    );
    assert_ne!(session, derived.as_str());
    assert_eq!(&exceptions[1].properties["$session_id"], session);
}
