//! Clients on the 2026-07-28 protocol send no `initialize`: identity, session and client info must work from a
//! connection's first request.

use posthog_mcp::{Identity, RequestView};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, delivered, reporting_to};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::json;

#[tokio::test]
async fn a_discover_client_is_identified_and_attributed_from_its_first_request() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest)
        .identify(|view: RequestView| {
            let client = view.client_name().map(str::to_owned);
            async move { client.map(|name| Identity::new(format!("user-of-{name}"))) }
        })
        .build()
        .unwrap();
    let server = analytics.instrument(WrapperOnlyServer::default());
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("modern-client", "7.0.0"),
    )
    .serve_with_lifecycle(
        client_io,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("a discover client connects");
    let result = client
        .call_tool(call("add", json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    assert_eq!(result.content[0].as_text().unwrap().text, "3");
    client.cancel().await.unwrap();

    let payloads = delivered(&analytics, &ingest).await;
    assert!(
        payloads.iter().all(|p| p["event"] != "$mcp_initialize"),
        "no handshake on this protocol"
    );
    let call = payloads
        .iter()
        .find(|p| p["event"] == "$mcp_tool_call")
        .expect("the call is captured");
    assert_eq!(call["distinct_id"], "user-of-modern-client");
    assert_eq!(call["properties"]["$mcp_client_name"], "modern-client");
    assert_eq!(call["properties"]["$mcp_client_version"], "7.0.0");
    assert_eq!(call["properties"]["$mcp_protocol_version"], "2026-07-28");
    let identify = payloads
        .iter()
        .find(|p| p["event"] == "$identify")
        .expect("the first request announces");
    assert_eq!(
        identify["properties"]["$anon_distinct_id"],
        call["properties"]["$session_id"]
    );
}
