//! What an event may carry: intent with personal data removed, arguments in the request's shape without the
//! crate's own arguments, credentials redacted, media and resource bodies never sent, and a bounded size.

use serde_json::{Value, json};

use super::harness::*;
use super::host::*;

#[tokio::test]
async fn the_context_argument_is_advertised_captured_as_intent_and_removed() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        let listing = client.list_tools(None).await.expect("the listing answers");
        let docs = listing
            .tools
            .iter()
            .find(|t| t.name == "search_docs")
            .expect("search_docs is listed");
        assert_eq!(
            docs.input_schema
                .get("properties")
                .and_then(|p| p.get("context"))
                .and_then(|c| c.get("type")),
            Some(&json!("string")),
            "{path:?}: the advertised schema declares a string context: {:?}",
            docs.input_schema
        );
        call_ok(
            &client,
            "search_docs",
            json!({"query": "flags", "context": "find the flags docs"}),
        )
        .await;
        let events = world.flushed().await;
        assert_eq!(
            world.host.received("search_docs"),
            [json!({"query": "flags"})],
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_intent"),
            "find the flags docs",
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_intent_source"),
            "context_parameter",
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn a_tool_that_declares_its_own_context_keeps_it_as_data_not_intent() {
    for path in PATHS {
        let summarize = tool("summarize", &["context"], Reply::Text("summary".into()));
        let world = World::start(path, Host::with(vec![summarize]), |b| b).await;
        let client = world.client().await;
        call_ok(
            &client,
            "summarize",
            json!({"context": "the meeting notes"}),
        )
        .await;
        let events = world.flushed().await;
        assert_eq!(
            world.host.received("summarize"),
            [json!({"context": "the meeting notes"})],
            "{path:?}"
        );
        let call = only(&events, "$mcp_tool_call");
        assert!(
            !call.properties.contains_key("$mcp_intent"),
            "{path:?}: {call:#?}"
        );
        let expected =
            json!({"request": {"params": {"arguments": {"context": "the meeting notes"}}}});
        let parameters = &call.properties["$mcp_parameters"];
        assert!(includes(parameters, &expected), "{path:?}: {parameters}");
    }
}

#[tokio::test]
async fn personal_data_in_the_intent_is_redacted() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        call_ok(
            &client,
            "search_docs",
            json!({"query": "orders", "context": "find orders for alice@example.com"}),
        )
        .await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_intent"),
            "find orders for [redacted]",
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn arguments_are_captured_in_the_request_shape_with_injected_arguments_removed() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        call_ok(
            &client,
            "search_docs",
            json!({"query": "flags", "context": "find docs"}),
        )
        .await;
        let events = world.flushed().await;
        let parameters = property(&events, "$mcp_tool_call", "$mcp_parameters");
        let expected = json!({"request": {"method": "tools/call", "params": {"name": "search_docs", "arguments": {"query": "flags"}}}});
        assert!(includes(parameters, &expected), "{path:?}: {parameters}");
        // `includes` lets extra members through: the injected one must be gone, not merely unexpected.
        let arguments = &parameters["request"]["params"]["arguments"];
        assert_eq!(arguments, &json!({"query": "flags"}), "{path:?}");
    }
}

/// A property as the JSON text it would be sent as.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn credentials_in_arguments_and_error_text_are_redacted() {
    for path in PATHS {
        let failing =
            Reply::Throw("GET https://svc:hunter2@internal.test/doc?token=abc failed".into());
        let world = World::start(
            path,
            Host::with(vec![tool("fetch_page", &["url", "api_key"], failing)]),
            |b| b,
        )
        .await;
        let client = world.client().await;
        let arguments = json!({"url": "https://svc:hunter2@internal.test/doc?token=abc", "api_key": "sk-live-123"});
        let _ = call_raw(&client, "fetch_page", arguments).await;
        let events = world.flushed().await;
        let parameters = text_of(property(&events, "$mcp_tool_call", "$mcp_parameters"));
        for secret in ["hunter2", "sk-live-123", "token=abc"] {
            assert!(
                !parameters.contains(secret),
                "{path:?}: {secret} in {parameters}"
            );
        }
        let message = text_of(property(&events, "$mcp_tool_call", "$mcp_error_message"));
        for secret in ["hunter2", "token=abc"] {
            assert!(!message.contains(secret), "{path:?}: {secret} in {message}");
        }
    }
}

#[tokio::test]
async fn a_credential_in_a_results_json_text_copy_is_redacted() {
    for path in PATHS {
        let user = json!({"user": "ada", "password": "hunter2"});
        let world = World::start(
            path,
            Host::with(vec![tool("get_user", &[], Reply::Structured(user))]),
            |b| b,
        )
        .await;
        let client = world.client().await;
        call_ok(&client, "get_user", json!({})).await;
        let events = world.flushed().await;
        let response = property(&events, "$mcp_tool_call", "$mcp_response");
        let first_text = response["content"]
            .as_array()
            .and_then(|blocks| blocks.iter().find(|b| b["type"] == "text"))
            .and_then(|b| b["text"].as_str())
            .unwrap_or_else(|| panic!("{path:?}: the response has a text block: {response}"));
        let parsed: Value = serde_json::from_str(first_text).expect("the text block is JSON");
        assert_eq!(
            parsed,
            json!({"user": "ada", "password": "[redacted]"}),
            "{path:?}"
        );
        assert!(
            !text_of(response).contains("hunter2"),
            "{path:?}: {response}"
        );
    }
}

#[tokio::test]
async fn a_successful_calls_response_is_captured_by_default() {
    for path in PATHS {
        let world = World::start(
            path,
            Host::with(vec![search_docs("Found 3 results")]),
            |b| b,
        )
        .await;
        let client = world.client().await;
        call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        let response = text_of(property(&events, "$mcp_tool_call", "$mcp_response"));
        assert!(response.contains("Found 3 results"), "{path:?}: {response}");
    }
}

#[tokio::test]
async fn media_in_a_result_is_never_sent() {
    for path in PATHS {
        let screenshot = tool(
            "screenshot",
            &[],
            Reply::TextAndImage("done".into(), 200 * 1024),
        );
        let world = World::start(path, Host::with(vec![screenshot]), |b| b).await;
        let client = world.client().await;
        call_ok(&client, "screenshot", json!({})).await;
        let events = world.flushed().await;
        let response = text_of(property(&events, "$mcp_tool_call", "$mcp_response"));
        assert!(response.contains("done"), "{path:?}: {response}");
        let data = image_data(200 * 1024);
        let middle = data.len() / 2;
        for piece in [
            &data[..64],
            &data[middle..middle + 64],
            &data[data.len() - 64..],
        ] {
            assert!(
                !response.contains(piece),
                "{path:?}: image data in the response"
            );
        }
    }
}

#[tokio::test]
async fn a_very_large_response_still_produces_a_bounded_event() {
    for path in PATHS {
        let export = tool("export", &[], Reply::Text("x".repeat(2 * 1024 * 1024)));
        let world = World::start(path, Host::with(vec![export]), |b| b).await;
        let client = world.client().await;
        call_ok(&client, "export", json!({})).await;
        let events = world.flushed().await;
        let call = only(&events, "$mcp_tool_call");
        let size = serde_json::to_vec(&call.properties).unwrap().len();
        assert!(
            size <= 102_400,
            "{path:?}: serialized properties are {size} bytes"
        );
        assert_eq!(call.properties["$mcp_tool_name"], "export", "{path:?}");
    }
}

#[tokio::test]
async fn a_resources_contents_never_reach_posthog() {
    let mut host = Host::with(vec![]);
    host.resource = Some(("docs://guide", "RESOURCE-BODY-7f3a"));
    let world = World::start(Path::Automatic, host, |b| b).await;
    let client = world.client().await;
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("docs://guide"))
        .await
        .expect("the resource is read");
    let received = serde_json::to_string(&read).unwrap();
    assert!(
        received.contains("RESOURCE-BODY-7f3a"),
        "the client gets the body: {received}"
    );
    let events = world.flushed().await;
    assert!(!events.is_empty(), "the read was captured");
    for event in &events {
        let text = serde_json::to_string(&event.properties).unwrap();
        assert!(
            !text.contains("RESOURCE-BODY-7f3a")
                && !event.distinct_id.contains("RESOURCE-BODY-7f3a"),
            "{event:#?}"
        );
    }
}
