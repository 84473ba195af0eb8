//! The wrapper behind rmcp's streamable HTTP service: stateful sessions keep their own identity, stateless
//! requests are their own connections, and panics are recorded and then resumed.

use std::time::Duration;

use posthog_mcp::{Analytics, Identity, RequestView};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{
    Calculator, call, connect, connect_http, delivered, reporting_to, serve_http,
};
use serde_json::{Value, json};

fn identified(ingest: &IngestServer) -> Analytics {
    reporting_to(ingest)
        .identify(|view: RequestView| {
            let user = match view.bearer_token() {
                Some("alice-token") => {
                    Some(Identity::new("alice").with_group("organization", "acme"))
                }
                Some("bob-token") => {
                    Some(Identity::new("bob").with_group("organization", "globex"))
                }
                _ => None,
            };
            async move { user }
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_concurrent_http_sessions_keep_their_own_identities() {
    let ingest = IngestServer::start();
    let analytics = identified(&ingest);
    let server = analytics.instrument(Calculator::default());
    let url = serve_http(move || server.clone(), true).await;
    let (alice, bob) = tokio::join!(
        connect_http(&url, Some("alice-token"), &[]),
        connect_http(&url, Some("bob-token"), &[])
    );
    let calls = (0..5).map(|i| {
        let (alice, bob) = (&alice, &bob);
        async move {
            tokio::join!(
                alice.call_tool(call("add", json!({"a": i, "b": 1}))),
                bob.call_tool(call("add", json!({"a": i, "b": 2})))
            )
        }
    });
    for (a, b) in futures::future::join_all(calls).await {
        a.unwrap();
        b.unwrap();
    }
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let tool_calls: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["event"] == "$mcp_tool_call")
        .collect();
    assert_eq!(tool_calls.len(), 10);
    let mut sessions = std::collections::HashMap::new();
    for call in &tool_calls {
        let b = call["properties"]["$mcp_parameters"]["request"]["params"]["arguments"]["b"]
            .as_i64()
            .unwrap();
        let (user, org) = if b == 1 {
            ("alice", "acme")
        } else {
            ("bob", "globex")
        };
        assert_eq!(call["distinct_id"], user);
        assert_eq!(call["properties"]["$groups"]["organization"], org);
        sessions
            .entry(user)
            .or_insert_with(Vec::new)
            .push(call["properties"]["$session_id"].clone());
    }
    assert_eq!(sessions.len(), 2);
    for ids in sessions.values() {
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "one session per client"
        );
    }
    assert_ne!(sessions["alice"][0], sessions["bob"][0]);
    let identifies: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["event"] == "$identify")
        .collect();
    assert_eq!(
        identifies.len(),
        4,
        "each client announces once at initialize and once on its derived session"
    );
}

#[tokio::test]
async fn stateless_http_requests_are_each_their_own_connection() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let server = analytics.instrument(Calculator::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http(&url, None, &[("user-agent", "stateless-agent/3")]).await;
    let result = client
        .call_tool(call("add", json!({"a": 4, "b": 5})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "9");
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;
    let call = payloads
        .iter()
        .find(|p| p["event"] == "$mcp_tool_call")
        .unwrap();
    assert_eq!(
        call["properties"]["$mcp_client_user_agent"],
        "stateless-agent/3"
    );
    assert!(
        call["properties"]["$session_id"]
            .as_str()
            .unwrap()
            .starts_with("ses_")
    );
}

#[tokio::test]
async fn a_panicking_tool_is_recorded_and_the_panic_continues() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Calculator::default())).await;
    let outcome = tokio::time::timeout(
        Duration::from_secs(1),
        client.call_tool(call("explode", json!({}))),
    )
    .await;
    assert!(
        !matches!(outcome, Ok(Ok(_))),
        "the panic is not turned into a result"
    );
    let payloads = delivered(&analytics, &ingest).await;
    let call = payloads
        .iter()
        .find(|p| p["event"] == "$mcp_tool_call")
        .expect("the panicking call is recorded");
    assert_eq!(call["properties"]["$mcp_error_type"], "Panic");
    assert_eq!(call["properties"]["$mcp_error_message"], "kaboom");
    assert!(call["properties"].get("$mcp_response").is_none());
}
