//! The optional events the crate declares capabilities for: input rounds, tool listings, the missing-capability
//! and feedback tools (off by default, so not advertised), and declared extra report arguments.

use posthog_mcp::{Identity, RequestView};
use rmcp::model::*;
use serde_json::{Value, json};

use super::harness::*;
use super::host::*;

#[tokio::test]
async fn a_round_that_asks_for_more_input_is_recorded() {
    let host = Host::with(vec![tool(
        "deploy",
        &[],
        Reply::InputThen("deployed".into()),
    )]);
    let world = World::start(Path::Automatic, host, |b| b).await;
    let client = world.client().await;
    let first = call_raw(&client, "deploy", json!({}))
        .await
        .expect("the first round answers");
    assert!(
        matches!(first, CallToolResponse::InputRequired(_)),
        "{first:?}"
    );
    let events = world.flushed().await;
    let round = only(&events, "$mcp_input_required");
    assert_eq!(round.properties["$mcp_tool_name"], "deploy");
    assert_eq!(
        round.properties["$mcp_input_request_methods"],
        json!(["elicitation/create"])
    );
    assert!(
        round.properties["$mcp_duration_ms"].is_number(),
        "{round:#?}"
    );
}

#[tokio::test]
async fn a_tool_listing_records_names_and_only_the_result_envelope() {
    let tools = (0..101)
        .map(|i| {
            tool(
                Box::leak(format!("tool_{i:03}").into_boxed_str()),
                &[],
                Reply::Text("ok".into()),
            )
        })
        .collect();
    let mut host = Host::with(tools);
    host.page_size = Some(100);
    let world = World::start(Path::Automatic, host, |b| b).await;
    let client = world.client().await;
    // One `tools/list` request: the first page.
    let page = client.list_tools(None).await.expect("the listing answers");
    assert_eq!(page.tools.len(), 100);
    let events = world.flushed().await;
    let first = named(&events, "$mcp_tools_list")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a $mcp_tools_list event: {events:#?}"));
    let names = first.properties["$mcp_listed_tool_names"]
        .as_array()
        .expect("an array of names");
    assert_eq!(names.len(), 100);
    assert!(names.iter().all(Value::is_string), "{names:?}");
    let response = first.properties["$mcp_response"].to_string();
    assert!(response.contains("nextCursor"), "{response}");
    assert!(!response.contains("tools"), "{response}");
}

#[tokio::test]
async fn a_missing_capability_report_carries_its_text_as_intent() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.virtual_tools(posthog_mcp::VirtualToolOptions::default().get_more_tools(true))
        })
        .await;
        let client = world.client().await;
        call_ok(
            &client,
            "get_more_tools",
            json!({"context": "export a dashboard to PDF"}),
        )
        .await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_missing_capability", "$mcp_intent"),
            "export a dashboard to PDF",
            "{path:?}"
        );
        assert!(
            named(&events, "$mcp_tool_call").is_empty(),
            "{path:?}: {events:#?}"
        );
    }
}

#[tokio::test]
async fn the_virtual_tools_are_not_advertised_by_default() {
    let world = World::start(Path::Automatic, Host::with(vec![search_docs("ok")]), |b| b).await;
    let client = world.client().await;
    let listing = client.list_tools(None).await.expect("the listing answers");
    let names: Vec<&str> = listing.tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"search_docs"), "{names:?}");
    assert!(!names.contains(&"send_feedback"), "{names:?}");
    assert!(!names.contains(&"get_more_tools"), "{names:?}");
}

#[tokio::test]
async fn a_feedback_report_becomes_one_feedback_event() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.virtual_tools(posthog_mcp::VirtualToolOptions::default().send_feedback(true))
                .identify(|_view: RequestView| async { Some(Identity::new("user-1")) })
        })
        .await;
        let client = world.client().await;
        let report = json!({
            "feedback_type": "issue",
            "summary": "search_docs ignored my filter; reach me at ada@example.com",
            "tool_name": "search_docs",
            "sentiment": "negative"
        });
        call_ok(&client, "send_feedback", report).await;
        let events = world.flushed().await;
        let feedback = only(&events, "$mcp_feedback");
        let p = &feedback.properties;
        assert_eq!(p["$mcp_feedback_type"], "issue", "{path:?}");
        assert_eq!(p["$mcp_feedback_tool"], "search_docs", "{path:?}");
        assert_eq!(p["$mcp_feedback_sentiment"], "negative", "{path:?}");
        let summary = p["$mcp_feedback_summary"].as_str().expect("a summary");
        assert!(
            summary.contains("search_docs ignored my filter"),
            "{path:?}: {summary}"
        );
        assert!(!p.contains_key("$mcp_parameters"), "{path:?}: {p:?}");
        non_empty(&p["$session_id"], "$session_id");
        for event in &events {
            let text = format!(
                "{} {}",
                event.distinct_id,
                serde_json::to_string(&event.properties).unwrap()
            );
            assert!(!text.contains("ada@example.com"), "{path:?}: {event:#?}");
        }
        assert!(
            named(&events, "$mcp_tool_call").is_empty(),
            "{path:?}: {events:#?}"
        );
    }
}

#[tokio::test]
async fn only_declared_extra_report_arguments_are_captured() {
    for path in PATHS {
        let declared = json!({"severity": {"type": "integer"}});
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.virtual_tools(
                posthog_mcp::VirtualToolOptions::default()
                    .send_feedback(true)
                    .send_feedback_extras(
                        declared.as_object().unwrap().clone(),
                        Vec::<String>::new(),
                    ),
            )
        })
        .await;
        let client = world.client().await;
        let report = json!({"feedback_type": "issue", "summary": "search is slow", "severity": 3, "invented": "x"});
        call_ok(&client, "send_feedback", report).await;
        let events = world.flushed().await;
        let feedback = only(&events, "$mcp_feedback");
        assert_eq!(
            feedback.properties.get("$mcp_feedback_severity"),
            Some(&json!(3)),
            "{path:?}: {feedback:#?}"
        );
        assert!(
            !feedback.properties.contains_key("$mcp_feedback_invented"),
            "{path:?}: {feedback:#?}"
        );
    }
}
