//! The description of the injected `context` argument, per tool: a tool's own `#[posthog_tool(intent_description =
//! "…")]` wins over `Builder::intent_description`, which wins over the crate's default. Checked on the listing a
//! real rmcp client receives and on the `$mcp_tools_list` and `$mcp_tool_call` events that reach the local
//! ingestion server.

use posthog_mcp::posthog_tool;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Ingested, call, connect, ingested, reporting_to};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};

/// The description `export` declares for itself; the attribute needs it as a literal, so it is repeated there.
const PER_TOOL: &str = "In 15 to 25 words, say which report the user is preparing and why this export helps; \
                        describe people and companies by role only.";

/// What the host configures on the builder.
const BUILDER: &str = "Say in one short sentence why the assistant is calling this tool.";

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Range {
    /// First day.
    from: String,
    /// Last day.
    to: String,
}

#[derive(Clone)]
struct Reports {
    tool_router: ToolRouter<Self>,
}

impl Default for Reports {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Reports {
    /// Exports a report; describes its own `context`.
    #[posthog_tool(
        intent_description = "In 15 to 25 words, say which report the user is preparing and why this export \
                              helps; describe people and companies by role only."
    )]
    #[tool(name = "reports.export", description = "Export a report")]
    async fn export(&self, Parameters(range): Parameters<Range>) -> String {
        format!("{}..{}", range.from, range.to)
    }

    /// Summarizes a report; instrumented without a description of its own.
    #[posthog_tool]
    #[tool(name = "reports.summarize", description = "Summarize a report")]
    async fn summarize(&self, Parameters(range): Parameters<Range>) -> String {
        format!("summary of {}..{}", range.from, range.to)
    }

    /// Not instrumented: never gets `context`.
    #[tool(name = "reports.ping", description = "Ping")]
    async fn ping(&self) -> String {
        "pong".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Reports {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("reports", "1.0.0");
        info
    }
}

/// The `context` description of tool `name` in a listing (a `tools/list` result or its captured `$mcp_response`).
fn context_description(tools: &Value, name: &str) -> Option<String> {
    let tool = tools
        .as_array()
        .expect("a tools array")
        .iter()
        .find(|tool| tool["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed"));
    tool["inputSchema"]["properties"]
        .get("context")
        .map(|context| {
            context["description"]
                .as_str()
                .expect("a string description")
                .to_owned()
        })
}

/// Lists through a real client, calls `reports.export` with a context, and returns the listing the client saw
/// and the events that reached `ingest`.
async fn list_and_call(
    builder: posthog_mcp::Builder,
    ingest: &IngestServer,
) -> (Value, Vec<Ingested>) {
    let analytics = builder.build().unwrap();
    let client = connect(analytics.instrument(Reports::default())).await;
    let tools = serde_json::to_value(client.list_all_tools().await.unwrap()).unwrap();
    let result = client
        .call_tool(call(
            "reports.export",
            json!({"from": "2024-01-01", "to": "2024-03-31",
                   "context": "  The assistant exports a quarterly report for a finance review.  "}),
        ))
        .await
        .unwrap();
    assert_eq!(
        result.content[0].as_text().unwrap().text,
        "2024-01-01..2024-03-31"
    );
    client.cancel().await.unwrap();
    (tools, ingested(&analytics, ingest).await)
}

fn event<'a>(events: &'a [Ingested], name: &str) -> &'a Ingested {
    events
        .iter()
        .find(|e| e.event == name)
        .unwrap_or_else(|| panic!("{name} arrived"))
}

#[tokio::test]
async fn a_per_tool_intent_description_replaces_the_default() {
    let ingest = IngestServer::start();
    let (tools, events) = list_and_call(reporting_to(&ingest), &ingest).await;

    assert_eq!(
        context_description(&tools, "reports.export").as_deref(),
        Some(PER_TOOL)
    );
    let default = context_description(&tools, "reports.summarize").expect("summarize gets context");
    assert_ne!(default, PER_TOOL, "another tool keeps the default");
    assert!(default.starts_with("Used for analytics only."), "{default}");
    assert_eq!(
        context_description(&tools, "reports.ping"),
        Some(default),
        "a tool without the attribute gets the context argument too"
    );

    assert_listing_event_names_the_tools_without_their_schemas(&events);
    let call = &event(&events, "$mcp_tool_call").properties;
    assert_eq!(
        call["$mcp_intent"],
        "The assistant exports a quarterly report for a finance review."
    );
    assert_eq!(call["$mcp_intent_source"], "context_parameter");
    assert_eq!(
        call["$mcp_parameters"]["request"]["params"]["arguments"],
        json!({"from": "2024-01-01", "to": "2024-03-31"}),
        "the owned context is removed"
    );
}

#[tokio::test]
async fn a_per_tool_intent_description_wins_over_the_builders() {
    let ingest = IngestServer::start();
    let (tools, events) = list_and_call(
        reporting_to(&ingest)
            .arguments(posthog_mcp::ArgumentOptions::default().intent_description(BUILDER)),
        &ingest,
    )
    .await;

    assert_eq!(
        context_description(&tools, "reports.export").as_deref(),
        Some(PER_TOOL)
    );
    assert_eq!(
        context_description(&tools, "reports.summarize").as_deref(),
        Some(BUILDER)
    );
    assert_eq!(
        context_description(&tools, "reports.ping").as_deref(),
        Some(BUILDER)
    );
    assert_listing_event_names_the_tools_without_their_schemas(&events);
}

/// The listing's event records which tools were listed, never the advertised schemas.
fn assert_listing_event_names_the_tools_without_their_schemas(events: &[Ingested]) {
    let listing = &event(events, "$mcp_tools_list").properties;
    let names = listing["$mcp_listed_tool_names"].as_array().unwrap();
    for name in ["reports.export", "reports.summarize", "reports.ping"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let response = listing.get("$mcp_response").map(ToString::to_string);
    assert!(
        !response.unwrap_or_default().contains("\"tools\""),
        "no tools array in {listing:?}"
    );
}

#[tokio::test]
async fn with_intent_off_a_per_tool_intent_description_injects_nothing() {
    let ingest = IngestServer::start();
    let (tools, events) = list_and_call(
        reporting_to(&ingest).arguments(posthog_mcp::ArgumentOptions::default().intent(false)),
        &ingest,
    )
    .await;

    for name in ["reports.export", "reports.summarize", "reports.ping"] {
        assert_eq!(context_description(&tools, name), None, "{name}");
    }
    let call = &event(&events, "$mcp_tool_call").properties;
    assert!(call.get("$mcp_intent").is_none());
    assert_eq!(
        call["$mcp_parameters"]["request"]["params"]["arguments"]["context"],
        "  The assistant exports a quarterly report for a finance review.  ",
        "an unowned context is ordinary data"
    );
}
