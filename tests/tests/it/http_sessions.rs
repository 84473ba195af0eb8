//! Sessions and identity over real HTTP on 127.0.0.1, with rmcp's client in both protocol eras: one client is
//! one `$session_id` from its first event on, identify runs once per caller, and exactly one `$identify` merges
//! the session's anonymous events into the person (`$anon_distinct_id` = that session id).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthog_mcp::session::derive_session_id;
use posthog_mcp::{Analytics, Identity, RequestView};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{
    Client, WrapperOnlyServer, call, connect, connect_http, connect_http_as, connect_http_modern,
    delivered, reporting_to, serve_http, serve_http_with,
};
use serde_json::{Value, json};

/// An analytics instance whose identify function knows two bearer tokens and counts its calls. With
/// `anonymous_handshake`, it answers nothing for `initialize`, as a server that identifies its callers only once
/// they use a tool: the handshake is then an anonymous event to be merged.
struct World {
    ingest: IngestServer,
    analytics: Analytics,
    identify_calls: Arc<AtomicUsize>,
}

fn world(anonymous_handshake: bool) -> World {
    let ingest = IngestServer::start();
    let identify_calls = Arc::new(AtomicUsize::new(0));
    let counter = identify_calls.clone();
    let analytics = reporting_to(&ingest)
        .identify(move |view: RequestView| {
            counter.fetch_add(1, Ordering::SeqCst);
            let user = match view.bearer_token() {
                _ if anonymous_handshake && view.method() == "initialize" => None,
                Some("alice-token") => Some(
                    Identity::new("alice")
                        .with_property("plan", "pro")
                        .with_group("organization", "acme"),
                ),
                Some("bob-token") => Some(
                    Identity::new("bob")
                        .with_property("plan", "free")
                        .with_group("organization", "globex"),
                ),
                _ => None,
            };
            async move { user }
        })
        .build()
        .unwrap();
    World {
        ingest,
        analytics,
        identify_calls,
    }
}

impl World {
    async fn payloads(&self) -> Vec<Value> {
        delivered(&self.analytics, &self.ingest).await
    }
    fn identify_calls(&self) -> usize {
        self.identify_calls.load(Ordering::SeqCst)
    }
}

fn named<'a>(payloads: &'a [Value], event: &str) -> Vec<&'a Value> {
    payloads.iter().filter(|p| p["event"] == event).collect()
}

fn session_of(payload: &Value) -> &str {
    payload["properties"]["$session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("every event has a $session_id: {payload}"))
}

/// Everything a client does in a session: tools, a listing, resources and prompts.
async fn use_every_feature(client: &Client) {
    client.list_all_tools().await.unwrap();
    for i in 0..4 {
        client
            .call_tool(call("add", json!({"a": i, "b": 1})))
            .await
            .unwrap();
    }
    client.list_resources(None).await.unwrap();
    client.list_prompts(None).await.unwrap();
}

/// What PostHog shows for one identified client session: one `$session_id` on every event; the events before
/// identify returned a user are anonymous under that id; exactly one `$identify` merges it into `user`; every
/// later event belongs to `user`. Returns the session id.
fn assert_one_merged_session(payloads: &[Value], user: &str) -> String {
    let sessions: BTreeSet<&str> = payloads.iter().map(session_of).collect();
    assert_eq!(sessions.len(), 1, "one session: {sessions:?}");
    let session = sessions.into_iter().next().unwrap().to_owned();
    let identifies = named(payloads, "$identify");
    assert_eq!(identifies.len(), 1, "exactly one $identify");
    let identify = identifies[0];
    assert_eq!(identify["distinct_id"], user);
    assert_eq!(identify["properties"]["$anon_distinct_id"], session);
    let position = payloads
        .iter()
        .position(|p| p["event"] == "$identify")
        .unwrap();
    for (index, payload) in payloads.iter().enumerate() {
        if payload["event"] == "$identify" {
            continue;
        }
        if payload["distinct_id"] == user {
            assert!(
                payload["properties"]
                    .get("$process_person_profile")
                    .is_none(),
                "identified events keep person processing"
            );
        } else {
            assert!(
                index < position,
                "only events before the merge are anonymous"
            );
            assert_eq!(
                payload["distinct_id"], session,
                "anonymous under the session id"
            );
            assert_eq!(payload["properties"]["$process_person_profile"], false);
        }
    }
    session
}

fn is_derived(session: &str) -> bool {
    session.len() == 36
        && session.starts_with("ses_")
        && session[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_generated(session: &str) -> bool {
    session.len() == 40 && session.starts_with("ses_") && session[4..].contains('-')
}

/// What PostHog shows for an identified caller whose HTTP requests carry neither a conversation handle nor a
/// session: nothing groups the requests, so each tool call is a session of its own (a credential is never a
/// session; each call is anchored to a handle minted for it, which this client never echoes), every event
/// belongs to `user`, and one `$identify` merges the session it was first resolved on.
fn assert_identified_requests_each_in_their_own_session(payloads: &[Value], user: &str) {
    let calls = named(payloads, "$mcp_tool_call");
    let sessions: BTreeSet<&str> = calls.iter().map(|p| session_of(p)).collect();
    assert_eq!(
        sessions.len(),
        calls.len(),
        "one session per request: {sessions:?}"
    );
    for call in &calls {
        let handle = call["properties"]["$mcp_conversation_id"].as_str().unwrap();
        assert_eq!(session_of(call), derive_session_id(handle), "{call}");
    }
    for payload in payloads {
        assert_eq!(payload["distinct_id"], user, "{payload}");
        assert!(
            payload["properties"]
                .get("$process_person_profile")
                .is_none()
        );
    }
    let identifies = named(payloads, "$identify");
    assert_eq!(identifies.len(), 1, "exactly one $identify");
    let merged = identifies[0]["properties"]["$anon_distinct_id"]
        .as_str()
        .unwrap();
    assert!(
        payloads
            .iter()
            .any(|p| p["event"] != "$identify" && session_of(p) == merged)
    );
}

#[tokio::test]
async fn a_stateful_session_is_one_session_from_its_initialize_on() {
    let w = world(true);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), true).await;
    let client = connect_http(&url, Some("alice-token"), &[]).await;
    use_every_feature(&client).await;
    client.cancel().await.unwrap();

    let payloads = w.payloads().await;
    let initialize = named(&payloads, "$mcp_initialize");
    assert_eq!(initialize.len(), 1);
    assert_eq!(
        initialize[0]["distinct_id"],
        session_of(initialize[0]),
        "the handshake is anonymous"
    );
    let session = assert_one_merged_session(&payloads, "alice");
    assert!(
        is_derived(&session),
        "derived from the transport's session id: {session}"
    );
    assert_eq!(named(&payloads, "$mcp_tool_call").len(), 4);
    assert_eq!(
        w.identify_calls(),
        2,
        "once for the anonymous handshake, once for the user, then cached"
    );
}

#[tokio::test]
async fn a_stateless_server_mints_a_session_token_that_holds_from_initialize_on() {
    let w = world(true);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http(&url, Some("alice-token"), &[]).await;
    use_every_feature(&client).await;
    client.cancel().await.unwrap();

    let payloads = w.payloads().await;
    assert_eq!(named(&payloads, "$mcp_initialize").len(), 1);
    let session = assert_one_merged_session(&payloads, "alice");
    assert!(is_generated(&session), "a minted session id: {session}");
    for payload in &payloads {
        assert_eq!(
            payload["properties"]["$mcp_client_name"], "http-client",
            "the real client on every event, never rmcp's stand-in: {payload}"
        );
        assert_eq!(payload["properties"]["$mcp_client_version"], "2.0.0");
    }
    assert_eq!(w.identify_calls(), 2);
}

#[tokio::test]
async fn a_2026_07_28_caller_without_a_handle_has_a_session_per_request_and_is_identified_once() {
    let w = world(false);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http_modern(&url, Some("alice-token"), &[]).await;
    use_every_feature(&client).await;
    client.cancel().await.unwrap();

    let payloads = w.payloads().await;
    assert!(
        named(&payloads, "$mcp_initialize").is_empty(),
        "no handshake in this era"
    );
    assert_identified_requests_each_in_their_own_session(&payloads, "alice");
    for payload in named(&payloads, "$mcp_tool_call") {
        assert_eq!(payload["properties"]["$mcp_client_name"], "modern-client");
        assert_eq!(payload["properties"]["$mcp_protocol_version"], "2026-07-28");
    }
    assert_eq!(w.identify_calls(), 1, "identify runs once per caller");
    assert_eq!(w.analytics.session_stats().callers, 1);
}

#[tokio::test]
async fn an_anonymous_2026_07_28_client_without_a_handle_is_a_session_per_request() {
    let w = world(false);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), false).await;
    let client = connect_http_modern(&url, None, &[("user-agent", "agent/1")]).await;
    use_every_feature(&client).await;
    client.cancel().await.unwrap();

    let payloads = w.payloads().await;
    assert!(payloads.len() >= 7);
    // Neither the user agent nor the address groups requests: each is a session of its own, and no person.
    let sessions: BTreeSet<&str> = payloads.iter().map(session_of).collect();
    assert_eq!(
        sessions.len(),
        payloads.len(),
        "one session per request: {sessions:?}"
    );
    assert!(named(&payloads, "$identify").is_empty());
    for payload in &payloads {
        assert_eq!(payload["distinct_id"], payload["properties"]["$session_id"]);
        assert_eq!(payload["properties"]["$process_person_profile"], false);
    }
}

/// One raw `tools/call` over HTTP with `bearer` and session header `session`, as a client that presents a
/// session header it was never given would send it (rmcp's client refuses to).
async fn raw_call(url: &str, bearer: &str, session: &str, b: i64) {
    let body = json!({
        "jsonrpc": "2.0", "id": b, "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 1, "b": b}}
    });
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bearer {bearer}"))
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn two_credentials_never_share_a_session_or_an_identity_even_on_one_session_header() {
    let w = world(false);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), false).await;
    // Alice's own session, minted at her initialize; bob presents her session token as his own.
    let alice = connect_http(&url, Some("alice-token"), &[]).await;
    alice.list_all_tools().await.unwrap();
    let alice_session = session_of(&w.payloads().await[0]).to_owned();
    let stolen = posthog_mcp::session::SessionToken::new(alice_session.clone())
        .encode()
        .unwrap();
    let (alice_modern, bob_modern) = tokio::join!(
        connect_http_modern(&url, Some("alice-token"), &[]),
        connect_http_modern(&url, Some("bob-token"), &[])
    );
    let calls = (0..5).map(|i| {
        let (alice, alice_modern, bob_modern, url, stolen) =
            (&alice, &alice_modern, &bob_modern, &url, &stolen);
        async move {
            let (a, b, c, ()) = tokio::join!(
                alice.call_tool(call("add", json!({"a": i, "b": 1}))),
                alice_modern.call_tool(call("add", json!({"a": i, "b": 1}))),
                bob_modern.call_tool(call("add", json!({"a": i, "b": 2}))),
                raw_call(url, "bob-token", stolen, 2)
            );
            for result in [a, b, c] {
                result.unwrap();
            }
        }
    });
    futures::future::join_all(calls).await;
    for client in [alice, alice_modern, bob_modern] {
        client.cancel().await.unwrap();
    }

    let payloads = w.payloads().await;
    let mut sessions: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let tool_calls = named(&payloads, "$mcp_tool_call");
    assert_eq!(tool_calls.len(), 20);
    for call in tool_calls {
        let b = call["properties"]["$mcp_parameters"]["request"]["params"]["arguments"]["b"]
            .as_i64()
            .unwrap();
        let (user, org, plan) = if b == 1 {
            ("alice", "acme", "pro")
        } else {
            ("bob", "globex", "free")
        };
        assert_eq!(call["distinct_id"], user, "{call}");
        assert_eq!(
            call["properties"]["$groups"],
            json!({ "organization": org })
        );
        assert_eq!(call["properties"]["$set"], json!({ "plan": plan }));
        sessions.entry(user).or_default().insert(session_of(call));
    }
    assert!(
        sessions["bob"].contains(alice_session.as_str()),
        "bob used alice's session id"
    );
    assert_eq!(
        sessions["alice"].intersection(&sessions["bob"]).count(),
        1,
        "apart from the session both presented, each caller has its own: {sessions:?}"
    );
    for identify in named(&payloads, "$identify") {
        let user = identify["distinct_id"].as_str().unwrap();
        let org = if user == "alice" { "acme" } else { "globex" };
        assert_eq!(identify["properties"]["$groups"]["organization"], org);
    }
}

#[tokio::test]
async fn a_client_that_moves_to_the_2026_07_28_protocol_leaves_its_transport_session_behind() {
    let w = world(false);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), true).await;
    let legacy = connect_http(&url, Some("alice-token"), &[]).await;
    legacy
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    // The same client (name, version, credential), now speaking the sessionless protocol.
    let modern =
        connect_http_as(&url, Some("alice-token"), &[], "http-client", "2.0.0", true).await;
    modern
        .call_tool(call("add", json!({"a": 2, "b": 1})))
        .await
        .unwrap();
    legacy.cancel().await.unwrap();
    modern.cancel().await.unwrap();

    let payloads = w.payloads().await;
    let calls = named(&payloads, "$mcp_tool_call");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0]["properties"]["$mcp_protocol_version"],
        "2025-11-25"
    );
    assert!(is_derived(session_of(calls[0])), "the transport's session");
    assert_eq!(
        calls[1]["properties"]["$mcp_protocol_version"],
        "2026-07-28"
    );
    let handle = calls[1]["properties"]["$mcp_conversation_id"]
        .as_str()
        .unwrap();
    assert_eq!(
        session_of(calls[1]),
        derive_session_id(handle),
        "a session of its own, anchored to the handle minted for the call"
    );
    assert!(
        calls[0]["properties"].get("$mcp_conversation_id").is_none(),
        "no handle on a transport session"
    );
    for payload in &payloads {
        assert_eq!(payload["distinct_id"], "alice", "{payload}");
    }
    assert_eq!(
        named(&payloads, "$identify").len(),
        1,
        "announced once per identity and credential"
    );
}

#[tokio::test]
async fn two_server_processes_serving_one_client_alternately_each_merge_into_the_same_person() {
    // Two processes behind one load balancer: each keeps its own state, both report to one project.
    let w = world(false);
    let other = reporting_to(&w.ingest)
        .identify(|view: RequestView| {
            let user = (view.bearer_token() == Some("alice-token")).then(|| {
                Identity::new("alice")
                    .with_property("plan", "pro")
                    .with_group("organization", "acme")
            });
            async move { user }
        })
        .build()
        .unwrap();
    let (first, second) = (
        w.analytics.instrument(WrapperOnlyServer::default()),
        other.instrument(WrapperOnlyServer::default()),
    );
    let url_a = serve_http(move || first.clone(), false).await;
    let url_b = serve_http(move || second.clone(), false).await;
    let via_a = connect_http_modern(&url_a, Some("alice-token"), &[]).await;
    let via_b = connect_http_modern(&url_b, Some("alice-token"), &[]).await;
    for i in 0..6 {
        let client = if i % 2 == 0 { &via_a } else { &via_b };
        client
            .call_tool(call("add", json!({"a": i, "b": 1})))
            .await
            .unwrap();
    }
    via_a.cancel().await.unwrap();
    via_b.cancel().await.unwrap();
    assert!(other.flush(Duration::from_secs(10)).await);

    let payloads = w.payloads().await;
    let calls = named(&payloads, "$mcp_tool_call");
    let sessions: BTreeSet<&str> = calls.iter().map(|p| session_of(p)).collect();
    assert_eq!(sessions.len(), 6, "one session per request: {sessions:?}");
    let identifies = named(&payloads, "$identify");
    assert_eq!(identifies.len(), 2, "one $identify per process");
    for identify in identifies {
        let merged = identify["properties"]["$anon_distinct_id"]
            .as_str()
            .unwrap();
        assert!(sessions.contains(merged), "{merged} is a call's session");
    }
    for payload in named(&payloads, "$mcp_tool_call") {
        assert_eq!(
            payload["distinct_id"], "alice",
            "one person across processes"
        );
    }
}

#[tokio::test]
async fn instrumenting_per_request_shares_one_identity_cache() {
    let w = world(false);
    let analytics = w.analytics.clone();
    // A factory that instruments a new handler for every request, as stateless servers are often written.
    let url = serve_http(
        move || analytics.instrument(WrapperOnlyServer::default()),
        false,
    )
    .await;
    let client = connect_http(&url, Some("alice-token"), &[]).await;
    use_every_feature(&client).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    assert_one_merged_session(&payloads, "alice");
    assert_eq!(
        w.identify_calls(),
        1,
        "one cache for the server, not one per request"
    );
}

#[tokio::test]
async fn without_the_http_pieces_a_stateless_caller_is_still_identified_once() {
    let w = world(false);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http_with(move || server.clone(), false, false).await;
    let client = connect_http(&url, Some("alice-token"), &[]).await;
    use_every_feature(&client).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    assert_identified_requests_each_in_their_own_session(&payloads, "alice");
    assert_eq!(w.identify_calls(), 1, "identify runs once per caller");
    for payload in &payloads {
        assert_ne!(
            payload["properties"]["$mcp_client_name"], "rmcp",
            "rmcp's stand-in peer is never reported as the client"
        );
    }
}

#[tokio::test]
async fn two_concurrent_http_sessions_keep_their_own_identities() {
    let w = world(false);
    let server = w.analytics.instrument(WrapperOnlyServer::default());
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

    let payloads = w.payloads().await;
    let tool_calls = named(&payloads, "$mcp_tool_call");
    assert_eq!(tool_calls.len(), 10);
    let mut sessions = HashMap::new();
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
            .or_insert_with(BTreeSet::new)
            .insert(session_of(call).to_owned());
    }
    assert_eq!(sessions["alice"].len(), 1, "one session per client");
    assert_eq!(sessions["bob"].len(), 1, "one session per client");
    assert_ne!(sessions["alice"], sessions["bob"]);
    // Before the session manager was tracked, each client announced twice (a generated session at initialize,
    // then the derived one); one session is one announcement.
    assert_eq!(
        named(&payloads, "$identify").len(),
        2,
        "one $identify per client"
    );
}

#[tokio::test]
async fn stateless_http_requests_report_the_caller_s_user_agent() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let server = analytics.instrument(WrapperOnlyServer::default());
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
    assert!(session_of(call).starts_with("ses_"));
}

#[tokio::test]
async fn a_panicking_tool_is_recorded_and_the_panic_continues() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
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
