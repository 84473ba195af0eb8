//! Tool calls: the event a completed call produces, the result the client sees, an unreachable PostHog,
//! input rounds, task handles and the tool metadata an event carries.

use std::time::Duration;

use posthog_mcp_tests::Answer;
use rmcp::model::*;
use serde_json::json;

use super::harness::*;
use super::host::*;

#[tokio::test]
async fn a_successful_tool_call_produces_one_event_with_the_required_properties() {
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

        let call = only(&events, "$mcp_tool_call");
        let p = &call.properties;
        assert_eq!(p["$mcp_tool_name"], "search_docs", "{path:?}");
        assert_eq!(p["$mcp_is_error"], json!(false), "{path:?}");
        assert!(
            p["$mcp_duration_ms"].is_number(),
            "{path:?}: duration is a number: {p:?}"
        );
        assert_eq!(p["$mcp_source"], "posthog_mcp_analytics", "{path:?}");
        non_empty(&p["$session_id"], "$session_id");
        let lib = p["$lib"].as_str().expect("$lib is a string");
        assert!(
            lib.ends_with("-mcp"),
            "{path:?}: $lib {lib:?} ends with -mcp"
        );
    }
}

#[tokio::test]
async fn a_tool_result_reaches_the_client_unchanged() {
    for path in PATHS {
        // Conversation ids are off unless asked for: this is the crate's "anchoring disabled".
        let world = World::start(
            path,
            Host::with(vec![search_docs("Found 3 results")]),
            |b| b.arguments(posthog_mcp::ArgumentOptions::default().conversation_id(false)),
        )
        .await;
        let client = world.client().await;
        let result = call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        assert_eq!(
            result.content.len(),
            1,
            "{path:?}: exactly one block: {result:?}"
        );
        assert_eq!(texts(&result), ["Found 3 results"], "{path:?}");
        assert_ne!(result.is_error, Some(true), "{path:?}: isError false");
    }
}

#[tokio::test]
async fn an_unreachable_posthog_endpoint_does_not_affect_the_tool_call() {
    for path in PATHS {
        let world = World::start(
            path,
            Host::with(vec![search_docs("Found 3 results")]),
            |b| b,
        )
        .await;
        world.ingest.set_default(Answer::status(503));
        let client = world.client().await;
        let result = call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        // The flush cannot drain against a rejecting endpoint; it only has to give up without touching the call.
        let _ = world.analytics.flush(Duration::from_millis(500)).await;
        assert!(
            texts(&result).iter().any(|t| t == "Found 3 results"),
            "{path:?}: the result still carries the tool's text: {result:?}"
        );
        assert!(
            world.ingest.events().is_empty(),
            "{path:?}: the endpoint accepted nothing"
        );
    }
}

fn deploy_host() -> Host {
    Host::with(vec![tool(
        "deploy",
        &[],
        Reply::InputThen("deployed".into()),
    )])
}

async fn input_round_is_not_a_call(path: Path) {
    let world = World::start(path, deploy_host(), |b| b).await;
    let client = world.client().await;
    let first = call_raw(&client, "deploy", json!({}))
        .await
        .expect("the first round answers");
    let CallToolResponse::InputRequired(round) = first else {
        panic!("{path:?}: the first round asks for input: {first:?}");
    };
    let events = world.flushed().await;
    assert!(
        named(&events, "$mcp_tool_call").is_empty(),
        "{path:?}: no call yet: {events:#?}"
    );

    let mut responses = InputResponses::new();
    responses.insert(
        "confirm".into(),
        json!({"action": "accept", "content": {"ok": true}}),
    );
    let mut retry =
        posthog_mcp_tests::fixtures::call("deploy", json!({})).with_input_responses(responses);
    if let Some(state) = round.request_state {
        retry = retry.with_request_state(state);
    }
    let done = client
        .call_tool_once(retry)
        .await
        .expect("the retry answers");
    assert!(
        matches!(done, CallToolResponse::Complete(_)),
        "{path:?}: the retry completes: {done:?}"
    );
    let events = world.flushed().await;
    assert_eq!(
        named(&events, "$mcp_tool_call").len(),
        1,
        "{path:?}: one call in all: {events:#?}"
    );
}

#[tokio::test]
async fn a_result_that_asks_for_more_input_is_counted_once_when_the_call_completes() {
    input_round_is_not_a_call(Path::Automatic).await;
}

#[tokio::test]
async fn a_result_that_asks_for_more_input_is_counted_once_when_the_call_completes_manual() {
    // The manual dispatcher has no way to hand an input round to `finish_call`, so it reports only the
    // completing retry: what the scenario asks for, by omission.
    input_round_is_not_a_call(Path::Manual).await;
}

#[tokio::test]
async fn a_task_handle_is_never_counted_as_a_successful_call() {
    for path in PATHS {
        let world = World::start(
            path,
            Host::with(vec![tool("export_report", &[], Reply::Task)]),
            |b| b,
        )
        .await;
        let client = world.client().await;
        let answer = call_raw(&client, "export_report", json!({}))
            .await
            .expect("the call answers");
        assert!(
            matches!(answer, CallToolResponse::Task(_)),
            "{path:?}: a task handle: {answer:?}"
        );
        let events = world.flushed().await;
        assert!(
            named(&events, "$mcp_tool_call").is_empty(),
            "{path:?}: {events:#?}"
        );
    }
}

#[tokio::test]
async fn a_task_backed_call_is_counted_once_when_the_task_finishes() {
    for path in PATHS {
        let world = World::start(
            path,
            Host::with(vec![tool("export_report", &[], Reply::Task)]),
            |b| b,
        )
        .await;
        let client = world.client().await;
        let answer = call_raw(&client, "export_report", json!({}))
            .await
            .expect("the call answers");
        let CallToolResponse::Task(created) = answer else {
            panic!("{path:?}: a task handle: {answer:?}");
        };
        let events = world.flushed().await;
        assert!(
            named(&events, "$mcp_tool_call").is_empty(),
            "{path:?}: nothing while the task runs: {events:#?}"
        );
        // The task finishes and the host's store records it completed; nobody asks for it with tasks/get.
        world.host.release_tasks();
        let task = world.host.ended(&created.task.task_id).await;
        assert_eq!(task.status(), TaskStatus::Completed, "{path:?}");
        let events = world.flushed().await;
        assert_eq!(
            named(&events, "$mcp_tool_call").len(),
            1,
            "{path:?}: {events:#?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_is_error"),
            &json!(false),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn tool_metadata_from_the_servers_tools_is_attached_to_calls_without_a_prior_listing() {
    for path in PATHS {
        let mut docs = search_docs("ok");
        docs.tool.description = Some("Search the docs".into());
        docs.tool.meta = Some(MetaObject(
            json!({"category": "docs"}).as_object().unwrap().clone(),
        ));
        let world = World::start(path, Host::with(vec![docs]), |b| b).await;
        let client = world.client().await;
        call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        assert!(
            named(&events, "$mcp_tools_list").is_empty(),
            "{path:?}: no listing happened"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_tool_description"),
            "Search the docs",
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_tool_category"),
            "docs",
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_before_send_hook_drops_the_event() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.events(
                posthog_mcp::EventOptions::default()
                    .before_send(|_payload| panic!("the hook breaks")),
            )
        })
        .await;
        let client = world.client().await;
        let result = call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        assert!(
            named(&events, "$mcp_tool_call").is_empty(),
            "{path:?}: {events:#?}"
        );
        assert!(
            texts(&result).iter().any(|t| t == "ok"),
            "{path:?}: {result:?}"
        );
    }
}
