//! Sessions and identity for clients that carry no session: separate clients, conversation handles, the
//! canonical session id derived from a handle, anonymous and identified calls, and client info from `_meta`.
//!
//! The feature's default has conversation anchoring on; the crate's default is off, so the scenarios that rely
//! on handles turn it on with `conversation_id(true)`.

use posthog_mcp::{Identity, RequestView};
use serde_json::json;

use super::harness::*;
use super::host::*;

#[tokio::test]
async fn clients_without_a_session_or_handle_never_share_a_session() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.arguments(posthog_mcp::ArgumentOptions::default().conversation_id(false))
        })
        .await;
        let a = world.client().await;
        let b = world.client().await;
        call_ok(&a, "search_docs", json!({"query": "flags"})).await;
        call_ok(&b, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        let calls = named(&events, "$mcp_tool_call");
        assert_eq!(calls.len(), 2, "{path:?}: {events:#?}");
        assert_ne!(
            calls[0].properties["$session_id"], calls[1].properties["$session_id"],
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn a_conversation_handle_keeps_a_stateless_clients_calls_in_one_session() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.arguments(posthog_mcp::ArgumentOptions::default().conversation_id(true))
        })
        .await;
        let client = world.client().await;
        let first = call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let handle = returned_handle(&first);
        call_ok(
            &client,
            "search_docs",
            json!({"query": "flags", "conversation_id": handle}),
        )
        .await;
        let events = world.flushed().await;
        let calls = named(&events, "$mcp_tool_call");
        assert_eq!(calls.len(), 2, "{path:?}: {events:#?}");
        assert_eq!(
            calls[0].properties["$session_id"], calls[1].properties["$session_id"],
            "{path:?}"
        );
        for call in calls {
            assert_eq!(
                call.properties["$mcp_conversation_id"],
                handle.as_str(),
                "{path:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_malformed_conversation_handle_is_replaced_and_never_reaches_the_tool() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.arguments(posthog_mcp::ArgumentOptions::default().conversation_id(true))
        })
        .await;
        let client = world.client().await;
        let result = call_ok(
            &client,
            "search_docs",
            json!({"query": "flags", "conversation_id": "not-a-uuid"}),
        )
        .await;
        let handle = returned_handle(&result);
        assert_ne!(handle, "not-a-uuid", "{path:?}: a new handle");
        assert_eq!(
            world.host.received("search_docs"),
            [json!({"query": "flags"})],
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn a_conversation_handle_derives_the_canonical_session_id() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.arguments(posthog_mcp::ArgumentOptions::default().conversation_id(true))
        })
        .await;
        let client = world.client().await;
        let arguments =
            json!({"query": "flags", "conversation_id": "0190f0e8-7a6b-7c3d-9e4f-5a6b7c8d9e0f"});
        call_ok(&client, "search_docs", arguments).await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_tool_call", "$session_id"),
            "ses_6df45f0102a182bcd5e8dd5dad6c65a0",
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn an_anonymous_call_does_not_create_a_person() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        let call = only(&events, "$mcp_tool_call");
        assert_eq!(
            json!(call.distinct_id),
            call.properties["$session_id"],
            "{path:?}"
        );
        assert_eq!(
            call.properties["$process_person_profile"],
            json!(false),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn an_identified_call_processes_the_person() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.identify(|_view: RequestView| async {
                Some(Identity::new("user-123").with_property("plan", "pro"))
            })
        })
        .await;
        let client = world.client().await;
        call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        let call = only(&events, "$mcp_tool_call");
        assert_eq!(call.distinct_id, "user-123", "{path:?}");
        assert_eq!(call.properties["$set"], json!({"plan": "pro"}), "{path:?}");
        assert_ne!(
            call.properties.get("$process_person_profile"),
            Some(&json!(false)),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn a_2026_07_28_request_identifies_its_client_from_meta() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = modern_client(&world.url, "claude-code", "2.1.0").await;
        call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_client_name"),
            "claude-code",
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_client_version"),
            "2.1.0",
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_protocol_version"),
            "2026-07-28",
            "{path:?}"
        );
    }
}
