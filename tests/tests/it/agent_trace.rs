//! Trace context in, through real rmcp clients to the local ingestion server: a request's W3C `traceparent`
//! (`_meta`, or over HTTP a header; `_meta` wins; invalid values ignored) puts `$mcp_trace_id` and
//! `$mcp_parent_span_id` on its main events, and with `llm_traces` on a tool call also sends an `$ai_span`.

use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{
    WrapperOnlyServer, call, connect, connect_http, delivered, reporting_to, serve_http,
};
use rmcp::model::*;
use serde_json::{Value, json};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

fn with_meta(mut params: CallToolRequestParams, traceparent: &str) -> CallToolRequestParams {
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(traceparent);
    meta.set_tracestate("vendor=opaque");
    params.meta = Some(meta);
    params
}

fn events<'a>(payloads: &'a [Value], name: &str) -> Vec<&'a Value> {
    payloads.iter().filter(|p| p["event"] == name).collect()
}

#[tokio::test]
async fn a_meta_traceparent_puts_the_trace_and_parent_span_on_the_main_event() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client
        .call_tool(with_meta(
            call("add", json!({"a": 2, "b": 3})),
            &traceparent(TRACE, PARENT),
        ))
        .await
        .unwrap();
    client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let calls = events(&payloads, "$mcp_tool_call");
    assert_eq!(calls.len(), 2);
    let traced = &calls[0]["properties"];
    assert_eq!(traced["$mcp_trace_id"], TRACE);
    assert_eq!(traced["$mcp_parent_span_id"], PARENT);
    let params = &traced["$mcp_parameters"]["request"]["params"];
    assert!(
        params.get("_meta").is_none(),
        "the request's _meta is never captured: {params}"
    );
    let untraced = &calls[1]["properties"];
    assert!(untraced.get("$mcp_trace_id").is_none());
    assert!(untraced.get("$mcp_parent_span_id").is_none());
    assert!(
        events(&payloads, "$ai_span").is_empty(),
        "llm_traces is off by default"
    );
}

#[tokio::test]
async fn every_main_event_of_a_traced_request_carries_the_trace() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(traceparent(TRACE, PARENT));
    let mut params = GetPromptRequestParams::new("hello");
    params.meta = Some(meta);
    client.get_prompt(params).await.unwrap();
    client
        .call_tool(with_meta(
            call("divide", json!({"a": 1, "b": 0})),
            &traceparent(TRACE, PARENT),
        ))
        .await
        .unwrap_err();
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    for name in ["$mcp_prompt_get", "$mcp_tool_call"] {
        let event = events(&payloads, name);
        assert_eq!(event.len(), 1, "{name}");
        assert_eq!(event[0]["properties"]["$mcp_trace_id"], TRACE, "{name}");
        assert_eq!(
            event[0]["properties"]["$mcp_parent_span_id"], PARENT,
            "{name}"
        );
    }
}

#[tokio::test]
async fn invalid_traceparents_are_ignored_and_the_call_still_succeeds() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let invalid = [
        "not a traceparent".to_owned(),
        traceparent(&TRACE.to_uppercase(), PARENT),
        traceparent("00000000000000000000000000000000", PARENT),
        traceparent(TRACE, "0000000000000000"),
        format!("ff-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-01-more"),
        "é".repeat(60),
    ];
    for value in &invalid {
        let result = client
            .call_tool(with_meta(call("add", json!({"a": 2, "b": 3})), value))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(false));
    }
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let calls = events(&payloads, "$mcp_tool_call");
    assert_eq!(calls.len(), invalid.len());
    for event in calls {
        assert!(
            event["properties"].get("$mcp_trace_id").is_none(),
            "{event}"
        );
        assert!(event["properties"].get("$mcp_parent_span_id").is_none());
    }
}

#[tokio::test]
async fn over_http_a_traceparent_header_is_read_and_meta_wins_over_it() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let header_trace = "11111111111111111111111111111111";
    let header_parent = "2222222222222222";
    let header = traceparent(header_trace, header_parent);
    let instance = analytics.clone();
    let url = serve_http(
        move || instance.instrument(WrapperOnlyServer::default()),
        true,
    )
    .await;
    let client = connect_http(&url, None, &[("traceparent", &header)]).await;
    client
        .call_tool(call("add", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    client
        .call_tool(with_meta(
            call("add", json!({"a": 1, "b": 1})),
            &traceparent(TRACE, PARENT),
        ))
        .await
        .unwrap();
    client
        .call_tool(with_meta(call("add", json!({"a": 0, "b": 1})), "garbage"))
        .await
        .unwrap();
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let calls = events(&payloads, "$mcp_tool_call");
    assert_eq!(calls.len(), 3);
    let ids = |event: &Value| {
        (
            event["properties"]["$mcp_trace_id"].clone(),
            event["properties"]["$mcp_parent_span_id"].clone(),
        )
    };
    assert_eq!(ids(calls[0]), (json!(header_trace), json!(header_parent)));
    assert_eq!(ids(calls[1]), (json!(TRACE), json!(PARENT)), "_meta wins");
    assert_eq!(
        ids(calls[2]),
        (json!(header_trace), json!(header_parent)),
        "an invalid _meta value is ignored, the header stands"
    );
}

fn is_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[tokio::test]
async fn with_llm_traces_a_traced_tool_call_is_also_an_ai_span_of_the_agent_s_trace() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest)
        .events(posthog_mcp::EventOptions::default().llm_traces(true))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client
        .call_tool(with_meta(
            call("add", json!({"a": 2, "b": 3})),
            &traceparent(TRACE, PARENT),
        ))
        .await
        .unwrap();
    client
        .call_tool(with_meta(
            call("fail_result", json!({})),
            &traceparent(TRACE, "00f067aa0ba902b7"),
        ))
        .await
        .unwrap();
    client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(traceparent(TRACE, PARENT));
    let mut prompt = GetPromptRequestParams::new("hello");
    prompt.meta = Some(meta);
    client.get_prompt(prompt).await.unwrap();
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let calls = events(&payloads, "$mcp_tool_call");
    let spans = events(&payloads, "$ai_span");
    assert_eq!(
        spans.len(),
        2,
        "one per traced tool call, none for an untraced call or a prompt"
    );

    let (main, span) = (calls[0], spans[0]);
    let props = &span["properties"];
    assert_eq!(span["distinct_id"], main["distinct_id"]);
    assert_eq!(props["$session_id"], main["properties"]["$session_id"]);
    assert_eq!(
        props["$process_person_profile"],
        main["properties"]["$process_person_profile"]
    );
    assert_eq!(props["$ai_trace_id"], TRACE);
    assert_eq!(props["$ai_parent_id"], PARENT);
    assert!(is_hex(&props["$ai_span_id"], 16), "{props}");
    assert_ne!(props["$ai_span_id"], PARENT);
    assert_eq!(props["$ai_span_name"], "add");
    assert!(props["$ai_latency"].is_f64(), "{props}");
    assert!(props["$ai_latency"].as_f64().unwrap() >= 0.0);
    assert_eq!(props["$ai_is_error"], false);
    assert!(props.get("$ai_error").is_none());
    assert_eq!(props["$ai_input_state"], json!({"a": 2, "b": 3}));
    assert_eq!(
        props["$ai_input_state"],
        main["properties"]["$mcp_parameters"]["request"]["params"]["arguments"]
    );
    assert_eq!(
        props["$ai_output_state"],
        main["properties"]["$mcp_response"]
    );

    let failed = &spans[1]["properties"];
    assert_eq!(failed["$ai_parent_id"], "00f067aa0ba902b7");
    assert_eq!(failed["$ai_span_name"], "fail_result");
    assert_eq!(failed["$ai_is_error"], true);
    assert_eq!(
        failed["$ai_error"],
        calls[1]["properties"]["$mcp_error_message"]
    );
    assert_ne!(
        failed["$ai_span_id"], props["$ai_span_id"],
        "fresh span ids"
    );
}
