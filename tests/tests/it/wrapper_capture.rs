//! The wrapper captures every request kind (initialize, listings, tool calls, resource reads, prompts) through a
//! real rmcp client, and never changes what the client receives.

use posthog_mcp::Analytics;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect, delivered, reporting_to};
use rmcp::model::*;
use serde_json::{Value, json};

fn events<'a>(payloads: &'a [Value], name: &str) -> Vec<&'a Value> {
    payloads.iter().filter(|p| p["event"] == name).collect()
}

#[tokio::test]
async fn every_request_kind_produces_its_main_event() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client.list_all_tools().await.unwrap();
    client
        .call_tool(call("add", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    client.list_resources(None).await.unwrap();
    client.list_resource_templates(None).await.unwrap();
    client
        .read_resource(ReadResourceRequestParams::new("mem://greeting"))
        .await
        .unwrap();
    client.list_prompts(None).await.unwrap();
    client
        .get_prompt(GetPromptRequestParams::new("hello"))
        .await
        .unwrap();
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let names: Vec<&str> = payloads
        .iter()
        .map(|p| p["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "$mcp_initialize",
            "$mcp_tools_list",
            "$mcp_tool_call",
            "$mcp_resources_list",
            "$mcp_resources_list",
            "$mcp_resource_read",
            "$mcp_prompts_list",
            "$mcp_prompt_get"
        ]
    );
    let session = payloads[0]["properties"]["$session_id"].clone();
    for payload in &payloads {
        assert_eq!(
            payload["properties"]["$session_id"], session,
            "one connection, one session"
        );
        assert_eq!(
            payload["properties"]["$mcp_source"],
            "posthog_mcp_analytics"
        );
        assert_eq!(payload["properties"]["$lib"], "posthog-rs-mcp");
        assert_eq!(payload["properties"]["$process_person_profile"], false);
        assert_eq!(payload["distinct_id"], session);
        assert_eq!(payload["properties"]["$mcp_server_name"], "calc-server");
        assert_eq!(payload["properties"]["$mcp_client_name"], "test-client");
        assert_eq!(payload["properties"]["$mcp_client_version"], "1.2.3");
        assert!(
            payload["properties"]["$mcp_protocol_version"]
                .as_str()
                .is_some()
        );
    }
    let templates = &payloads[4]["properties"]["$mcp_parameters"]["request"];
    assert_eq!(templates["method"], "resources/templates/list");
    let read = &payloads[5]["properties"];
    assert_eq!(read["$mcp_resource_name"], "mem://greeting");
    assert!(
        read.get("$mcp_response").is_none(),
        "resource bodies are never captured"
    );
    assert_eq!(payloads[7]["properties"]["$mcp_resource_name"], "hello");
}

#[tokio::test]
async fn a_successful_tool_call_carries_parameters_response_and_listed_names() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client.list_all_tools().await.unwrap();
    client
        .call_tool(call("add", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;

    let list = events(&payloads, "$mcp_tools_list")[0];
    let mut listed: Vec<&str> = list["properties"]["$mcp_listed_tool_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "add",
            "divide",
            "echo",
            "explode",
            "fail_result",
            "save_note"
        ]
    );
    assert_eq!(list["properties"]["$mcp_is_error"], false);

    let tool = &events(&payloads, "$mcp_tool_call")[0]["properties"];
    assert_eq!(tool["$mcp_tool_name"], "add");
    assert_eq!(tool["$mcp_resource_name"], "add");
    assert_eq!(tool["$mcp_is_error"], false);
    assert_eq!(tool["$mcp_parameters"]["request"]["method"], "tools/call");
    let request = tool["$mcp_parameters"]["request"].as_object().unwrap();
    assert!(
        request.get("jsonrpc").is_none() && request.get("id").is_none(),
        "only the method and params are captured: {request:?}"
    );
    assert_eq!(
        tool["$mcp_parameters"]["request"]["params"]["arguments"],
        json!({"a": 2, "b": 3})
    );
    assert_eq!(tool["$mcp_response"]["content"][0]["text"], "5");
    assert!(tool["$mcp_duration_ms"].is_u64());
    assert!(
        tool["$mcp_response"].get("resultType").is_none(),
        "a 2025-11-25 client never receives resultType"
    );
    assert!(tool.get("$mcp_error_type").is_none());
}

#[tokio::test]
async fn failures_are_classified_and_mirrored_by_exceptions() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    client
        .call_tool(call("divide", json!({"a": 1, "b": 0})))
        .await
        .unwrap_err();
    // rmcp 3.11 answers arguments that fail to deserialize with an error result, not a JSON-RPC error.
    client
        .call_tool(call("add", json!({"a": "two"})))
        .await
        .unwrap();
    client
        .call_tool(call("no_such_tool", json!({})))
        .await
        .unwrap_err();
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;

    // A call naming a tool the server does not have is not a tool call, and has no exception.
    let calls = events(&payloads, "$mcp_tool_call");
    assert_eq!(calls.len(), 3);
    let unknown = events(&payloads, "$mcp_unknown_tool");
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["properties"]["$mcp_tool_name"], "no_such_tool");
    assert!(unknown[0]["properties"].get("$mcp_parameters").is_none());
    assert!(unknown[0]["properties"].get("$mcp_is_error").is_none());
    let expected = [
        ("fail_result", "Error", "the thing failed badly"),
        ("divide", "validation", "division by zero"),
        ("add", "validation", "failed to deserialize parameters"),
    ];
    for (payload, (tool, error_type, message)) in calls.iter().zip(expected) {
        assert_eq!(payload["properties"]["$mcp_tool_name"], tool);
        assert_eq!(payload["properties"]["$mcp_is_error"], true);
        assert_eq!(
            payload["properties"]["$mcp_error_type"], error_type,
            "{tool}"
        );
        if !message.is_empty() {
            let actual = payload["properties"]["$mcp_error_message"]
                .as_str()
                .unwrap();
            assert!(actual.starts_with(message), "{actual}");
        }
    }
    assert!(
        calls[0]["properties"].get("$mcp_response").is_some(),
        "an error result is still the client's result"
    );
    assert!(
        calls[1]["properties"].get("$mcp_response").is_none(),
        "no response after a JSON-RPC error"
    );

    let exceptions = events(&payloads, "$exception");
    assert_eq!(exceptions.len(), 3);
    for (exception, call) in exceptions.iter().zip(&calls) {
        assert_eq!(exception["timestamp"], call["timestamp"]);
        assert_eq!(exception["distinct_id"], call["distinct_id"]);
        assert_ne!(exception["uuid"], call["uuid"]);
        assert_eq!(exception["properties"]["$exception_level"], "error");
        assert_eq!(
            exception["properties"]["$mcp_source"],
            "posthog_mcp_analytics"
        );
        assert_eq!(exception["properties"]["$mcp_interface"], "mcp");
        assert_eq!(
            exception["properties"]["$exception_source"],
            "mcp.tool_call"
        );
        // The exception is named by the failure's own type; a label such as `validation` names only the call.
        let own_type = match call["properties"]["$mcp_tool_name"].as_str() {
            Some("divide") => "InvalidParams",
            _ => "Error",
        };
        assert_eq!(
            exception["properties"]["$exception_list"][0]["type"],
            own_type
        );
        assert!(exception["properties"].get("$mcp_duration_ms").is_none());
        assert!(exception["properties"].get("$set").is_none());
    }
    assert_eq!(
        exceptions[0]["properties"]["$exception_list"][0]["mechanism"]["synthetic"],
        true
    );
    assert_eq!(
        exceptions[1]["properties"]["$exception_list"][0]["mechanism"]["synthetic"],
        false
    );
    assert_eq!(
        exceptions[2]["properties"]["$exception_list"][0]["value"],
        calls[2]["properties"]["$mcp_error_message"]
    );
}

#[tokio::test]
async fn with_exception_autocapture_off_no_exception_is_sent() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest)
        .events(posthog_mcp::EventOptions::default().exception_autocapture(false))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;
    assert!(events(&payloads, "$exception").is_empty());
    assert_eq!(
        events(&payloads, "$mcp_tool_call")[0]["properties"]["$mcp_error_type"],
        "Error"
    );
}

/// Runs one scenario against a server and returns what the client saw, as JSON.
async fn client_view<S: rmcp::ServerHandler>(server: S) -> Vec<Value> {
    let client = connect(server).await;
    let mut seen = Vec::new();
    for (name, args) in [
        ("add", json!({"a": 2, "b": 3})),
        ("fail_result", json!({})),
        ("divide", json!({"a": 1, "b": 0})),
        ("add", json!({"a": "x"})),
        ("nope", json!({})),
    ] {
        seen.push(match client.call_tool(call(name, args)).await {
            Ok(result) => serde_json::to_value(result).unwrap(),
            Err(error) => Value::String(error.to_string()),
        });
    }
    seen.push(serde_json::to_value(client.list_all_tools().await.unwrap()).unwrap());
    client.cancel().await.unwrap();
    seen
}

#[tokio::test]
async fn the_client_receives_exactly_what_an_uninstrumented_server_returns() {
    // With the arguments the crate adds to the listing and the handle it appends to results turned off.
    let ingest = IngestServer::start();
    let bare = client_view(WrapperOnlyServer::default()).await;
    let analytics = reporting_to(&ingest)
        .arguments(
            posthog_mcp::ArgumentOptions::default()
                .intent(false)
                .llm_model(false)
                .conversation_id(false),
        )
        .build()
        .unwrap();
    let wrapped = client_view(analytics.instrument(WrapperOnlyServer::default())).await;
    assert_eq!(bare, wrapped);
}

#[tokio::test]
async fn a_disabled_instance_captures_nothing_and_still_serves() {
    let analytics = Analytics::builder()
        .destination(posthog_mcp::Destination::Disabled)
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .build()
        .unwrap();
    assert!(!analytics.is_enabled());
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let result = client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "2");
    client.cancel().await.unwrap();
    assert_eq!(analytics.stats().enqueued, 0);
}

#[tokio::test]
async fn a_tool_call_records_its_name_arguments_and_result_but_not_the_request_meta() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let mut request = call("add", json!({"a": 2.5, "b": -1}));
    request.meta = Some(RequestMetaObject(MetaObject(
        json!({"trace": {"turn": 7, "tags": ["a", "b"]}})
            .as_object()
            .unwrap()
            .clone(),
    )));
    let result = client.call_tool(request).await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let call = events(&payloads, "$mcp_tool_call")[0];
    let params = &call["properties"]["$mcp_parameters"]["request"]["params"];
    assert_eq!(params["name"], "add");
    assert_eq!(params["arguments"], json!({"a": 2.5, "b": -1}));
    assert_eq!(
        params.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["name", "arguments"],
        "the request's `_meta` is never captured"
    );
    assert_eq!(
        call["properties"]["$mcp_response"]["content"],
        serde_json::to_value(&result.content).unwrap(),
        "the result as the client received it"
    );
}

#[tokio::test]
async fn every_event_names_the_server_build_and_a_bad_build_id_is_refused() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest)
        .events(posthog_mcp::EventOptions::default().server_build("0f3c2a9"))
        .build()
        .unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;
    assert!(payloads.len() >= 3, "{payloads:#?}");
    for payload in &payloads {
        assert_eq!(
            payload["properties"]["$mcp_server_build"], "0f3c2a9",
            "{payload}"
        );
    }

    for bad in [String::new(), "x".repeat(257)] {
        let error = reporting_to(&ingest)
            .events(posthog_mcp::EventOptions::default().server_build(bad))
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("server_build must be 1 to 256"),
            "{error}"
        );
    }
}
