//! The reference calculator's HTTP mode, as its binary serves it (`examples::http::router`), driven by rmcp's
//! client over real HTTP on 127.0.0.1 with the local ingestion server recording what PostHog would receive.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use examples::calculator::Calculator;
use posthog_mcp::{Analytics, RequestView};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{call, connect_http, delivered, reporting_to};
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use serde_json::{Value, json};

/// Serves the calculator's router on a loopback port; identify is the calculator's own (claims over HTTP).
async fn serve(analytics: &Analytics, stateless: bool) -> String {
    let mut config = StreamableHttpServerConfig::default();
    config.sse_keep_alive = None;
    let router = examples::http::router(
        analytics.instrument(Calculator::new()),
        stateless,
        None,
        config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}/mcp")
}

fn calculator_analytics(ingest: &IngestServer, calls: Arc<AtomicUsize>) -> Analytics {
    reporting_to(ingest)
        .identify(move |view: RequestView| {
            calls.fetch_add(1, Ordering::SeqCst);
            let identity = examples::http::identify(&view, None);
            async move { identity }
        })
        .build()
        .unwrap()
}

fn named<'a>(payloads: &'a [Value], event: &str) -> Vec<&'a Value> {
    payloads.iter().filter(|p| p["event"] == event).collect()
}

#[tokio::test]
async fn identify_reads_the_claims_the_auth_middleware_verified() {
    for stateless in [false, true] {
        let ingest = IngestServer::start();
        let calls = Arc::new(AtomicUsize::new(0));
        let analytics = calculator_analytics(&ingest, calls.clone());
        let url = serve(&analytics, stateless).await;
        let client = connect_http(&url, Some("alice-token"), &[]).await;
        for i in 0..3 {
            client
                .call_tool(call("add", json!({"a": i, "b": 1})))
                .await
                .unwrap();
        }
        client.cancel().await.unwrap();
        let payloads = delivered(&analytics, &ingest).await;
        let identify = named(&payloads, "$identify");
        assert_eq!(identify.len(), 1, "stateless: {stateless}");
        assert_eq!(identify[0]["distinct_id"], "alice");
        assert_eq!(
            identify[0]["properties"]["$set"],
            json!({"name": "Alice Liddell", "plan": "pro"})
        );
        let sessions: std::collections::BTreeSet<&str> = payloads
            .iter()
            .map(|p| p["properties"]["$session_id"].as_str().unwrap())
            .collect();
        assert_eq!(sessions.len(), 1, "one session (stateless: {stateless})");
        for tool_call in named(&payloads, "$mcp_tool_call") {
            assert_eq!(tool_call["distinct_id"], "alice");
            assert_eq!(
                tool_call["properties"]["$groups"],
                json!({"organization": "wonderland"})
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "identify once per caller");
    }
}

#[tokio::test]
async fn arguments_that_do_not_fit_the_tool_are_a_validation_failure() {
    let ingest = IngestServer::start();
    let analytics = calculator_analytics(&ingest, Arc::default());
    let url = serve(&analytics, false).await;
    let client = connect_http(&url, None, &[]).await;
    let rejected = client
        .call_tool(call("add", json!({"a": "two", "b": 1})))
        .await
        .unwrap();
    assert_eq!(
        rejected.is_error,
        Some(true),
        "rmcp answers with an error result"
    );
    let failing = client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    assert_eq!(failing.is_error, Some(true));
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    let calls = named(&payloads, "$mcp_tool_call");
    let add = calls
        .iter()
        .find(|c| c["properties"]["$mcp_tool_name"] == "add")
        .unwrap();
    assert_eq!(add["properties"]["$mcp_is_error"], true);
    assert_eq!(add["properties"]["$mcp_error_type"], "validation");
    assert!(
        add["properties"]["$mcp_error_message"]
            .as_str()
            .unwrap()
            .contains("deserialize"),
        "{add}"
    );
    // A tool body that ran and returned an error result is the plain `Error`.
    let failed = calls
        .iter()
        .find(|c| c["properties"]["$mcp_tool_name"] == "fail_result")
        .unwrap();
    assert_eq!(failed["properties"]["$mcp_error_type"], "Error");
    // Nothing was thrown in either call: both exceptions are the error result's, synthetic, of type `Error`; the
    // validation label names the call, never the exception.
    let exceptions = named(&payloads, "$exception");
    assert_eq!(exceptions.len(), 2, "{exceptions:#?}");
    for exception in exceptions {
        let first = &exception["properties"]["$exception_list"][0];
        assert_eq!(first["mechanism"]["synthetic"], json!(true), "{exception}");
        assert_eq!(first["type"], "Error", "{exception}");
    }
}
