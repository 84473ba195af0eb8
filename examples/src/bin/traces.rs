//! `cargo run -p examples --bin traces`: a tool call made inside an agent's trace. The client sends W3C trace
//! context in the request's `_meta` (as MCP clients propagate OpenTelemetry); the server's events carry
//! `$mcp_trace_id`, `llm_traces(true)` adds an `$ai_span` for PostHog's LLM trace view, and a `tracing`
//! subscriber (here the fmt layer on stderr, standing in for an OpenTelemetry exporter) receives one
//! `mcp.server.request` span per request with the MCP semantic-convention attributes. See `docs/traces.md`.

use std::time::Duration;

use examples::calculator::Calculator;
use posthog_mcp::{Analytics, MemorySink};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, RequestMetaObject,
};
use tracing_subscriber::fmt::format::FmtSpan;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Every span is written to stderr when it closes, with its fields.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE)
        .with_env_filter("posthog_mcp::request=info")
        .init();

    let sink = MemorySink::new();
    let analytics = Analytics::builder()
        .destination(posthog_mcp::Destination::Memory(sink.clone()))
        .events(posthog_mcp::EventOptions::default().llm_traces(true))
        .build()?;

    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = analytics.instrument(Calculator::new());
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("agent", "1.0.0"),
    )
    .serve(client_io)
    .await?;

    // The agent's trace and the span of the generation that decided to call the tool.
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let mut params = CallToolRequestParams::new("add").with_arguments(
        serde_json::json!({"a": 2, "b": 3})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    params.meta = Some(meta);
    client.call_tool(params).await?;
    client.cancel().await?;

    analytics.flush(Duration::from_secs(5)).await;
    for payload in sink.payloads() {
        let props = &payload.properties;
        eprintln!(
            "{:<16} trace {} parent {} span {}",
            payload.event,
            props
                .get("$ai_trace_id")
                .or(props.get("$mcp_trace_id"))
                .and_then(|v| v.as_str())
                .unwrap_or("-"),
            props
                .get("$ai_parent_id")
                .or(props.get("$mcp_parent_span_id"))
                .and_then(|v| v.as_str())
                .unwrap_or("-"),
            props
                .get("$ai_span_id")
                .and_then(|v| v.as_str())
                .unwrap_or("-"),
        );
    }
    analytics.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
