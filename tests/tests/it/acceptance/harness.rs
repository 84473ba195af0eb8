//! What every acceptance scenario stands on: a host MCP server whose tools are described by data, served over
//! stateless Streamable HTTP on 127.0.0.1 either wrapped by `Analytics::instrument` (the automatic path) or
//! dispatched by a handler of its own through `posthog_mcp::manual` (the manual path), and a 2026-07-28 client
//! that carries no session. Events are read back from the local ingestion server after a flush.

use posthog_mcp::{Analytics, Builder};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Client, Ingested, ingested, reporting_to, serve_http};
use rmcp::model::*;
use serde_json::Value;

use super::host::{Host, ManualHost};

/// Which of the crate's two capture paths a run goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `analytics.instrument(server)`.
    Automatic,
    /// A dispatcher of its own on `analytics.manual(..)`: `prepare_call`, the host's tool, `finish_call`.
    Manual,
}

/// Both paths, for the scenarios about a tool call.
pub const PATHS: [Path; 2] = [Path::Automatic, Path::Manual];

/// One scenario's world: the ingestion server, the analytics instance, the host and the URL it is served at.
pub struct World {
    pub ingest: IngestServer,
    pub analytics: Analytics,
    pub host: Host,
    pub url: String,
}

/// The Background: a fresh ingestion server and an SDK instance reporting to it (flushing is explicit).
pub fn background() -> (IngestServer, Builder) {
    let ingest = IngestServer::start();
    let builder = reporting_to(&ingest);
    (ingest, builder)
}

impl World {
    /// Serves `host` through `path` with the analytics `configure` makes of the Background's builder.
    pub async fn start(path: Path, host: Host, configure: impl FnOnce(Builder) -> Builder) -> Self {
        let (ingest, builder) = background();
        let analytics = configure(builder).build().expect("the SDK initializes");
        let url = serve(path, &analytics, &host).await;
        Self {
            ingest,
            analytics,
            host,
            url,
        }
    }

    /// A 2026-07-28 client with no session of its own.
    pub async fn client(&self) -> Client {
        modern_client(&self.url, "acceptance-client", "1.0.0").await
    }

    /// Flushes pending captures and returns what the ingestion server accepted.
    pub async fn flushed(&self) -> Vec<Ingested> {
        ingested(&self.analytics, &self.ingest).await
    }
}

/// Serves `host` on a new loopback port through `path`, its tasks in a store `analytics` watches; returns its URL.
pub async fn serve(path: Path, analytics: &Analytics, host: &Host) -> String {
    host.watch_tasks(analytics);
    let host = host.clone();
    match path {
        Path::Automatic => {
            let analytics = analytics.clone();
            serve_http(move || analytics.instrument(host.clone()), false).await
        }
        Path::Manual => {
            let tools = host.tools.iter().map(|t| t.tool.clone()).collect();
            let manual = analytics
                .manual(Implementation::new("acceptance-host", "1.0.0"))
                .with_tools(tools);
            serve_http(move || ManualHost::new(host.clone(), manual.clone()), false).await
        }
    }
}

/// A 2026-07-28 client named `name` `version` (client info in each request's `_meta`) that declares tasks.
pub async fn modern_client(url: &str, name: &str, version: &str) -> Client {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::{ClientLifecycleMode, ClientServiceExt};
    ClientConfig::new(
        ClientCapabilities::builder().enable_tasks().build(),
        Implementation::new(name, version),
    )
    .serve_with_lifecycle(
        StreamableHttpClientTransport::from_uri(url.to_owned()),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("the 2026-07-28 client connects")
}

/// Calls `name` with `arguments` and returns the complete result.
pub async fn call_ok(client: &Client, name: &'static str, arguments: Value) -> CallToolResult {
    client
        .call_tool(posthog_mcp_tests::fixtures::call(name, arguments))
        .await
        .unwrap_or_else(|error| panic!("calling {name} succeeds: {error}"))
}

/// Calls `name` once and returns whatever the server answered (a result, a task, an input round) or its error.
pub async fn call_raw(
    client: &Client,
    name: &'static str,
    arguments: Value,
) -> Result<CallToolResponse, rmcp::ServiceError> {
    client
        .call_tool_once(posthog_mcp_tests::fixtures::call(name, arguments))
        .await
}

/// The events named `name`.
pub fn named<'a>(events: &'a [Ingested], name: &str) -> Vec<&'a Ingested> {
    events.iter().filter(|e| e.event == name).collect()
}

/// The one event named `name`; fails unless there is exactly one.
pub fn only<'a>(events: &'a [Ingested], name: &str) -> &'a Ingested {
    let found = named(events, name);
    assert_eq!(found.len(), 1, "exactly one {name} event: {events:#?}");
    found[0]
}

/// The property `key` of the one event named `name`.
pub fn property<'a>(events: &'a [Ingested], name: &str, key: &str) -> &'a Value {
    only(events, name)
        .properties
        .get(key)
        .unwrap_or_else(|| panic!("{name} has property {key}: {events:#?}"))
}

/// Whether `actual` includes `expected`: every member of an expected object is in the actual one and includes
/// its value; any other value must be equal.
pub fn includes(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected
            .iter()
            .all(|(key, value)| actual.get(key).is_some_and(|a| includes(a, value))),
        _ => actual == expected,
    }
}

/// The text of every text block of `result`.
pub fn texts(result: &CallToolResult) -> Vec<String> {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect()
}

/// The handle in a result's last block, which must be a text block holding `{"conversation_id": ...}`.
pub fn returned_handle(result: &CallToolResult) -> String {
    let last = result
        .content
        .last()
        .and_then(|b| b.as_text())
        .expect("the result ends with a text block");
    let value: Value = serde_json::from_str(&last.text).expect("the last block is JSON");
    value["conversation_id"]
        .as_str()
        .expect("the last block names a conversation_id")
        .to_owned()
}

/// A non-empty string, else a failure naming `what`.
pub fn non_empty<'a>(value: &'a Value, what: &str) -> &'a str {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a string: {value}"));
    assert!(!text.is_empty(), "{what} is not empty");
    text
}
