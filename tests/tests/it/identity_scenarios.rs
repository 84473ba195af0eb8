//! Who each event is attributed to, as the identify function, its cache and the session records decide, through
//! real rmcp clients. The caller's credential travels in the request's `_meta.credential` on in-memory
//! connections (where no HTTP headers exist) and in `Authorization` over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthog_mcp::clock::ManualClock;
use posthog_mcp::{Analytics, Builder, Identity, RequestView};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{
    Client, WrapperOnlyServer, call, connect, connect_http, delivered, reporting_to, serve_http,
};
use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use serde_json::{Value, json};

const MINUTE: Duration = Duration::from_secs(60);

/// What the identify function does for one credential.
#[derive(Clone, Copy)]
enum Answer {
    User(&'static str, &'static str),
    Nothing,
    Fail,
    Panic,
    Sleep,
}

struct World {
    ingest: IngestServer,
    clock: ManualClock,
    calls: Arc<AtomicUsize>,
    analytics: Analytics,
}

fn credential(view: &RequestView) -> Option<String> {
    view.params()["_meta"]["credential"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| view.bearer_token().map(str::to_owned))
}

/// An analytics instance whose identify function answers per credential through `answer`; the answer may
/// change over time through the shared `plan`.
fn world(answer: fn(Option<&str>) -> Answer, configure: impl FnOnce(Builder) -> Builder) -> World {
    let ingest = IngestServer::start();
    let clock = ManualClock::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let builder = reporting_to(&ingest)
        .clock(Arc::new(clock.clone()))
        .identity(posthog_mcp::IdentityOptions::default().credential_fn(credential))
        .identify(move |view: RequestView| {
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = answer(credential(&view).as_deref());
            async move {
                match answer {
                    Answer::User(id, plan) => Ok(Some(
                        Identity::new(id)
                            .with_property("name", id)
                            .with_property("plan", plan)
                            .with_group("organization", format!("org-{id}")),
                    )),
                    Answer::Nothing => Ok(None),
                    Answer::Fail => Err("backend down"),
                    Answer::Panic => panic!("identify blew up"),
                    Answer::Sleep => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        Ok(None)
                    }
                }
            }
        });
    let analytics = configure(builder).build().unwrap();
    World {
        ingest,
        clock,
        calls,
        analytics,
    }
}

impl World {
    /// Every event that reached the local ingestion server over HTTP.
    async fn payloads(&self) -> Vec<Value> {
        delivered(&self.analytics, &self.ingest).await
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn named<'a>(payloads: &'a [Value], event: &str) -> Vec<&'a Value> {
    payloads.iter().filter(|p| p["event"] == event).collect()
}

fn as_caller(name: &'static str, credential: &str) -> CallToolRequestParams {
    let mut meta = serde_json::Map::new();
    meta.insert("credential".into(), json!(credential));
    let mut params = call(name, json!({"text": "hi"}));
    params.meta = Some(RequestMetaObject::from(meta));
    params
}

async fn echo(client: &Client, credential: Option<&str>) -> String {
    let params = match credential {
        Some(credential) => as_caller("echo", credential),
        None => call("echo", json!({"text": "hi"})),
    };
    let result = client.call_tool(params).await.unwrap();
    result.content[0].as_text().unwrap().text.clone()
}

fn alice(credential: Option<&str>) -> Answer {
    match credential {
        Some("alice-token") => Answer::User("alice", "free"),
        Some("bob-token") => Answer::User("bob", "team"),
        _ => Answer::Nothing,
    }
}

#[tokio::test]
async fn a_stable_identity_is_resolved_once_and_announced_once() {
    let w = world(|_| Answer::User("user-42", "free"), |b| b);
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    for _ in 0..3 {
        echo(&client, None).await;
    }
    client.cancel().await.unwrap();
    assert_eq!(
        w.calls(),
        1,
        "initialize resolved it; the tool calls hit the cache"
    );
    let payloads = w.payloads().await;
    assert_eq!(named(&payloads, "$identify").len(), 1);
    for payload in &payloads {
        assert_eq!(payload["distinct_id"], "user-42");
        assert!(
            payload["properties"]
                .get("$process_person_profile")
                .is_none()
        );
    }
    assert_eq!(named(&payloads, "$mcp_tool_call").len(), 3);
    for call in named(&payloads, "$mcp_tool_call") {
        assert_eq!(
            call["properties"]["$set"],
            json!({"name": "user-42", "plan": "free"})
        );
        assert_eq!(
            call["properties"]["$groups"],
            json!({"organization": "org-user-42"})
        );
    }
}

#[tokio::test]
async fn after_the_ttl_an_unchanged_identity_is_resolved_again_but_not_announced() {
    let w = world(|_| Answer::User("user-42", "free"), |b| b);
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    for _ in 0..3 {
        echo(&client, None).await;
    }
    w.clock.advance(10 * MINUTE);
    echo(&client, None).await;
    client.cancel().await.unwrap();
    assert_eq!(w.calls(), 2);
    assert_eq!(named(&w.payloads().await, "$identify").len(), 1);
}

static PLAN: std::sync::Mutex<&str> = std::sync::Mutex::new("free");

#[tokio::test]
async fn a_changed_identity_after_the_ttl_is_announced_with_merged_properties() {
    *PLAN.lock().unwrap() = "free";
    let w = world(
        |_| {
            let plan = *PLAN.lock().unwrap();
            Answer::User("user-42", plan)
        },
        |b| b,
    );
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&client, None).await;
    *PLAN.lock().unwrap() = "pro";
    w.clock.advance(10 * MINUTE);
    echo(&client, None).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    let identifies = named(&payloads, "$identify");
    assert_eq!(identifies.len(), 2);
    assert_eq!(identifies[1]["properties"]["$set"]["plan"], "pro");
    assert_eq!(
        identifies[1]["properties"]["$set"]["name"], "user-42",
        "earlier keys are kept"
    );
}

#[tokio::test]
async fn another_caller_on_the_same_session_gets_only_their_own_identity() {
    let w = world(alice, |b| b);
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&client, Some("alice-token")).await;
    echo(&client, Some("bob-token")).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    let identifies = named(&payloads, "$identify");
    assert_eq!(identifies.len(), 2);
    assert_eq!(identifies[1]["distinct_id"], "bob");
    let calls = named(&payloads, "$mcp_tool_call");
    assert_eq!(calls[1]["distinct_id"], "bob");
    assert_eq!(
        calls[1]["properties"]["$set"],
        json!({"name": "bob", "plan": "team"})
    );
    assert_eq!(
        calls[1]["properties"]["$groups"],
        json!({"organization": "org-bob"})
    );
    assert_eq!(
        calls[0]["properties"]["$session_id"],
        calls[1]["properties"]["$session_id"]
    );
}

#[tokio::test]
async fn a_failing_resolution_for_another_caller_is_anonymous_never_the_first_callers() {
    for failure in [Answer::Fail, Answer::Panic, Answer::Nothing] {
        static FAILURE: std::sync::Mutex<Option<Answer>> = std::sync::Mutex::new(None);
        *FAILURE.lock().unwrap() = Some(failure);
        let w = world(
            |credential| match credential {
                Some("alice-token") => Answer::User("alice", "free"),
                _ => FAILURE.lock().unwrap().unwrap(),
            },
            |b| b,
        );
        let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
        echo(&client, Some("alice-token")).await;
        assert_eq!(echo(&client, Some("bob-token")).await, "hi");
        client.cancel().await.unwrap();
        let payloads = w.payloads().await;
        let calls = named(&payloads, "$mcp_tool_call");
        assert_eq!(calls[0]["distinct_id"], "alice");
        let session = &calls[1]["properties"]["$session_id"];
        assert_eq!(&calls[1]["distinct_id"], session, "bob is anonymous");
        assert_eq!(calls[1]["properties"]["$process_person_profile"], false);
        assert!(calls[1]["properties"].get("$set").is_none());
    }
}

#[tokio::test]
async fn a_slow_identify_is_abandoned_after_the_timeout_and_the_result_is_unchanged() {
    let w = world(|_| Answer::Sleep, |b| b);
    let clock = w.clock.clone();
    let ticker = tokio::spawn(async move {
        loop {
            if clock.sleepers() > 0 {
                clock.advance(Duration::from_secs(2));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    let result = client
        .call_tool(call("add", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    ticker.abort();
    assert_eq!(result.content[0].as_text().unwrap().text, "5");
    assert_eq!(result.is_error, Some(false));
    let payloads = w.payloads().await;
    let call = named(&payloads, "$mcp_tool_call")[0];
    assert_eq!(call["properties"]["$process_person_profile"], false);
    assert!(named(&payloads, "$identify").is_empty());
}

#[tokio::test]
async fn the_identify_event_merges_the_anonymous_initialize_session() {
    let w = world(alice, |b| b);
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&client, Some("alice-token")).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    let initialize = named(&payloads, "$mcp_initialize")[0];
    assert_eq!(initialize["properties"]["$process_person_profile"], false);
    let identify = named(&payloads, "$identify")[0];
    assert_eq!(
        identify["properties"]["$anon_distinct_id"],
        initialize["properties"]["$session_id"]
    );
    assert_eq!(identify["distinct_id"], "alice");
    let position = |event: &str| payloads.iter().position(|p| p["event"] == event).unwrap();
    assert!(
        position("$identify") < position("$mcp_tool_call"),
        "$identify is enqueued before its main event"
    );
}

#[tokio::test]
async fn without_an_identify_function_every_event_is_anonymous() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&client, Some("alice-token")).await;
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;
    assert!(payloads.len() >= 2);
    assert!(payloads.iter().all(|p| p["event"] != "$identify"));
    for payload in &payloads {
        assert_eq!(payload["properties"]["$session_id"], payload["distinct_id"]);
        assert_eq!(payload["properties"]["$process_person_profile"], false);
        assert!(payload["properties"].get("$set").is_none());
        assert!(payload["properties"].get("$groups").is_none());
    }
}

#[tokio::test]
async fn the_least_recently_used_session_is_evicted_at_capacity() {
    let w = world(
        |_| Answer::User("u", "free"),
        |b| {
            b.identity(
                posthog_mcp::IdentityOptions::default()
                    .credential_fn(credential)
                    .identity_cache_capacity(2),
            )
        },
    );
    let server = w.analytics.instrument(WrapperOnlyServer::default());
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(server.clone()).await);
    }
    assert_eq!(w.calls(), 3);
    echo(&clients[0], None).await;
    assert_eq!(
        w.calls(),
        4,
        "the first session was evicted, so identify is called again"
    );
    echo(&clients[2], None).await;
    assert_eq!(w.calls(), 4, "the third session is still cached");
    for client in clients {
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn two_instrumented_servers_never_share_cache_entries() {
    let w = world(|_| Answer::User("u", "free"), |b| b);
    let first = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    let second = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&first, None).await;
    echo(&second, None).await;
    assert_eq!(w.calls(), 2);
    first.cancel().await.unwrap();
    second.cancel().await.unwrap();
}

#[tokio::test]
async fn no_authorization_value_reaches_any_payload_over_http() {
    let w = world(alice, |b| {
        b.identity(posthog_mcp::IdentityOptions::default().credential_header("authorization"))
    });
    let analytics = w.analytics.clone();
    let server = analytics.instrument(WrapperOnlyServer::default());
    let url = serve_http(move || server.clone(), true).await;
    let client = connect_http(
        &url,
        Some("alice-token"),
        &[("user-agent", "agent-under-test/1.0")],
    )
    .await;
    echo(&client, None).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    assert!(!named(&payloads, "$identify").is_empty());
    let text = serde_json::to_string(&payloads).unwrap();
    assert!(
        !text.contains("alice-token"),
        "the credential never leaves the process"
    );
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "no authorization key in any payload"
    );
    let call = named(&payloads, "$mcp_tool_call")[0];
    assert_eq!(call["distinct_id"], "alice");
    assert_eq!(
        call["properties"]["$mcp_client_user_agent"],
        "agent-under-test/1.0"
    );
}

#[tokio::test]
async fn an_empty_distinct_id_counts_as_no_identity() {
    let w = world(|_| Answer::User("", "free"), |b| b);
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&client, None).await;
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    assert!(named(&payloads, "$identify").is_empty());
    for payload in &payloads {
        assert_eq!(payload["properties"]["$process_person_profile"], false);
    }
}

#[tokio::test]
async fn an_unidentified_session_never_carries_person_properties() {
    let w = world(|_| Answer::Nothing, |b| b);
    let client = connect(w.analytics.instrument(WrapperOnlyServer::default())).await;
    echo(&client, None).await;
    client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let payloads = w.payloads().await;
    assert!(payloads.len() >= 4);
    for payload in &payloads {
        assert!(payload["properties"].get("$set").is_none());
        assert_eq!(payload["properties"]["$process_person_profile"], false);
    }
}
