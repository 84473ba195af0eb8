//! The request layer without an rmcp client: sessions, attribution and identity decided from what an adapter
//! hands over.

use std::any::TypeId;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmcp::model::{ClientCapabilities, Implementation, InitializeRequestParams};
use serde_json::Value;

use super::*;
use crate::{Identity, MemorySink};

fn server(identify_calls: Arc<AtomicUsize>) -> ServerShared {
    let analytics = crate::Analytics::builder()
        .destination(crate::Destination::Memory(MemorySink::new()))
        .identity(crate::IdentityOptions::default().without_registered_identify())
        .identify(move |view: RequestView| {
            identify_calls.fetch_add(1, Ordering::SeqCst);
            let user = view
                .bearer_token()
                .map(|token| Identity::new(format!("user-{token}")));
            async move { user }
        })
        .build()
        .unwrap();
    ServerShared::new(
        &analytics,
        TypeId::of::<()>(),
        &Implementation::new("srv", "1"),
    )
}

fn over_http(headers: &[(&str, &str)]) -> Incoming {
    Incoming {
        headers: Some(
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Incoming::default()
    }
}

async fn begin(server: &ServerShared, connection: &Connection, incoming: &Incoming) -> Scope {
    server
        .begin(
            connection,
            "$mcp_tool_call",
            "tools/call",
            incoming,
            &Value::Null,
            BeginOptions::default(),
        )
        .await
}

#[tokio::test]
async fn sessionless_http_requests_never_share_a_session_but_one_caller_is_identified_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = server(calls.clone());
    let alice = over_http(&[("authorization", "Bearer a")]);
    // Each request on a fresh connection, as rmcp's stateless transport builds one handler per request.
    let first = begin(&server, &Connection::new(), &alice).await;
    let second = begin(&server, &Connection::new(), &alice).await;
    assert_ne!(
        first.record.session_id, second.record.session_id,
        "a credential is never a session"
    );
    assert!(first.record.resolution.announce.is_some());
    assert!(second.record.resolution.announce.is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let bob = begin(
        &server,
        &Connection::new(),
        &over_http(&[("authorization", "Bearer b")]),
    )
    .await;
    assert_ne!(bob.record.session_id, first.record.session_id);
    assert_eq!(
        bob.record.resolution.identity.as_ref().unwrap().distinct_id,
        "user-b",
        "another credential is another caller"
    );
}

#[tokio::test]
async fn stdio_requests_never_use_the_caller_table() {
    let server = server(Arc::default());
    let one = begin(&server, &Connection::new(), &Incoming::default()).await;
    let other = begin(&server, &Connection::new(), &Incoming::default()).await;
    assert_ne!(
        one.record.session_id, other.record.session_id,
        "two connections are two sessions"
    );
    assert_eq!(server.state.callers.stats().callers, 0);
}

#[tokio::test]
async fn a_transport_session_is_derived_from_its_id() {
    let server = server(Arc::default());
    let mut handshake = over_http(&[("authorization", "Bearer a")]);
    handshake.transport_session = Some(Arc::from("transport-1"));
    let connection = Connection::new();
    let client = Implementation::new("cli", "2");
    let scope = server
        .begin(
            &connection,
            "$mcp_initialize",
            "initialize",
            &handshake,
            &Value::Null,
            BeginOptions {
                handshake: Some((&client, "2025-11-25")),
                ..BeginOptions::default()
            },
        )
        .await;
    assert_eq!(
        &*scope.record.session_id,
        crate::session::derive_session_id("transport-1")
    );
    assert_eq!(
        server.state.callers.stats().callers,
        0,
        "a request with a session of its own is cached under it"
    );
}

#[tokio::test]
async fn the_peer_rmcp_recorded_names_the_client_when_nothing_else_does() {
    let server = server(Arc::default());
    let real = Incoming {
        peer: Some(Arc::new(InitializeRequestParams::new(
            ClientCapabilities::default(),
            Implementation::new("real", "3"),
        ))),
        ..Incoming::default()
    };
    let scope = begin(&server, &Connection::new(), &real).await;
    assert_eq!(
        scope.record.attribution.client_name.as_deref(),
        Some("real")
    );
    assert_eq!(scope.record.attribution.server_name.as_deref(), Some("srv"));
}

#[test]
fn the_request_scope_holds_its_record_by_pointer() {
    // The scope lives inside the wrapped handler's future, which rmcp boxes and moves: the record (over 500 bytes)
    // sits in its pooled job box instead (`pipeline::PooledRecord`), so the scope stays a few words.
    let scope = std::mem::size_of::<super::Scope>();
    let prepared = std::mem::size_of::<super::tool_call::PreparedCall>();
    assert!(scope <= 128, "Scope is {scope} bytes");
    assert!(prepared <= 256, "PreparedCall is {prepared} bytes");
}

/// An HTTP request's parts with these headers.
fn parts_with(headers: &[(&str, &str)]) -> http::request::Parts {
    let mut request = http::Request::builder();
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

#[test]
fn without_a_hook_only_the_headers_the_crate_reads_are_copied() {
    let parts = parts_with(&[
        ("user-agent", "agent/1"),
        ("X-Api-Key", "k1"),
        ("cookie", "session=secret"),
        ("x-custom", "kept only for hooks"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
    ]);
    let narrow = RequestReads {
        whole: false,
        credential_header: Some("x-api-key"),
    };
    let names: Vec<String> = attribution::header_pairs(&parts, narrow)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["user-agent", "x-api-key", "traceparent"]);

    let whole = RequestReads {
        whole: true,
        credential_header: None,
    };
    assert_eq!(attribution::header_pairs(&parts, whole).len(), 5);
}

#[test]
fn a_server_with_an_identify_function_copies_every_header_for_its_view() {
    let shared = server(Arc::new(AtomicUsize::new(0)));
    assert!(request_reads(&shared).whole);
    let plain = crate::Analytics::builder()
        .destination(crate::Destination::Memory(MemorySink::new()))
        .identity(crate::IdentityOptions::default().without_registered_identify())
        .build()
        .unwrap();
    let plain = ServerShared::new(&plain, TypeId::of::<()>(), &Implementation::new("srv", "1"));
    let reads = request_reads(&plain);
    assert!(!reads.whole);
    assert_eq!(reads.credential_header, Some("authorization"));
}
