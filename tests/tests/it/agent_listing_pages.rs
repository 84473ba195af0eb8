//! Virtual tools and a paginated host listing, through a real rmcp client: a host tool that uses a virtual tool's
//! name only on a later `tools/list` page is shadowed by the virtual tool advertised on the first page, with a
//! logged warning. Events are read back from the local ingestion server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Ingested, call, connect, ingested, reporting_to};
use posthog_mcp_tests::logs::{self, LogCapture};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;

/// The host's description of its own tools, to tell them from the virtual ones.
const HOST_DESCRIPTION: &str = "A tool of the host";
const SECOND_PAGE: &str = "page-2";

/// A host whose listing has two pages: `lookup` on the first, its own `get_more_tools` and `send_feedback` on
/// the second. It answers every call itself and counts the calls it answered.
#[derive(Clone, Default)]
struct Paged {
    calls: Arc<AtomicUsize>,
}

fn host_tool(name: &'static str) -> Tool {
    Tool::new(
        name,
        HOST_DESCRIPTION,
        Arc::new(
            json!({"type": "object", "properties": {"q": {"type": "string"}}})
                .as_object()
                .unwrap()
                .clone(),
        ),
    )
}

fn page(cursor: Option<&str>) -> Option<(Vec<Tool>, Option<String>)> {
    match cursor {
        None => Some((vec![host_tool("lookup")], Some(SECOND_PAGE.to_owned()))),
        Some(SECOND_PAGE) => Some((
            vec![host_tool("get_more_tools"), host_tool("send_feedback")],
            None,
        )),
        Some(_) => None,
    }
}

impl ServerHandler for Paged {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("paged", "1.0.0");
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let cursor = request.and_then(|r| r.cursor);
        let (tools, next_cursor) = page(cursor.as_deref())
            .ok_or_else(|| ErrorData::invalid_params("unknown cursor", None))?;
        let mut listing = ListToolsResult::with_all_items(tools);
        listing.next_cursor = next_cursor;
        Ok(listing)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        [None, Some(SECOND_PAGE)]
            .into_iter()
            .flat_map(|cursor| page(cursor).map(|(tools, _)| tools).unwrap_or_default())
            .find(|tool| tool.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "the host answered {}",
            request.name
        ))])
        .into())
    }
}

/// The warnings that name `tool` in what `logs` captured (this thread: a `#[tokio::test]` runs the server's tasks
/// here).
fn warnings_about(logs: &LogCapture, tool: &str) -> Vec<String> {
    logs.lines()
        .into_iter()
        .filter(|line| line.contains("WARN") && line.contains(&format!("tool={tool}")))
        .collect()
}

fn names(listing: &ListToolsResult) -> Vec<&str> {
    listing.tools.iter().map(|t| &*t.name).collect()
}

fn text(result: &CallToolResult) -> &str {
    &result.content[0].as_text().unwrap().text
}

fn events<'a>(events: &'a [Ingested], name: &str) -> Vec<&'a Ingested> {
    events.iter().filter(|e| e.event == name).collect()
}

fn second_page() -> Option<PaginatedRequestParams> {
    Some(PaginatedRequestParams::default().with_cursor(Some(SECOND_PAGE.to_owned())))
}

#[tokio::test]
async fn a_real_tool_with_a_virtual_name_on_a_later_page_is_shadowed_with_a_warning() {
    let logs = logs::capture(tracing::Level::WARN);
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest)
        .virtual_tools(
            posthog_mcp::VirtualToolOptions::default()
                .get_more_tools(true)
                .send_feedback(true),
        )
        .build()
        .unwrap();
    let host = Paged::default();
    let host_calls = host.calls.clone();
    let client = connect(analytics.instrument(host)).await;

    let first = client.list_tools(None).await.unwrap();
    assert_eq!(
        names(&first),
        ["lookup", "get_more_tools", "send_feedback"],
        "the first page lacks both names, so both virtual tools are advertised there"
    );
    assert_eq!(first.next_cursor.as_deref(), Some(SECOND_PAGE));
    for virtual_tool in &first.tools[1..] {
        assert_ne!(
            virtual_tool.description.as_deref(),
            Some(HOST_DESCRIPTION),
            "{} is the crate's",
            virtual_tool.name
        );
        assert_eq!(
            virtual_tool.annotations.as_ref().unwrap().read_only_hint,
            Some(true)
        );
    }
    for name in ["get_more_tools", "send_feedback"] {
        assert!(warnings_about(&logs, name).is_empty(), "no warning yet");
    }

    let second = client.list_tools(second_page()).await.unwrap();
    assert_eq!(
        names(&second),
        ["get_more_tools", "send_feedback"],
        "the later page is the host's, with no virtual tool appended"
    );
    assert!(
        second
            .tools
            .iter()
            .all(|t| t.description.as_deref() == Some(HOST_DESCRIPTION))
    );
    for name in ["get_more_tools", "send_feedback"] {
        let warnings = warnings_about(&logs, name);
        assert_eq!(warnings.len(), 1, "one warning about {name}: {warnings:?}");
        assert!(
            warnings[0].contains("later listing page"),
            "{}",
            warnings[0]
        );
    }

    let more = client
        .call_tool(call(
            "get_more_tools",
            json!({"context": "Needs a currency converter."}),
        ))
        .await
        .unwrap();
    let feedback = client
        .call_tool(call(
            "send_feedback",
            json!({"feedback_type": "issue", "summary": "Lookup is slow."}),
        ))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    assert_eq!(
        host_calls.load(Ordering::SeqCst),
        0,
        "the host's shadowed tools are never called"
    );
    assert!(
        !text(&more).contains("the host answered"),
        "{}",
        text(&more)
    );
    assert!(
        !text(&feedback).contains("the host answered"),
        "{}",
        text(&feedback)
    );

    let delivered = ingested(&analytics, &ingest).await;
    let names: Vec<&str> = delivered.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        [
            "$mcp_initialize",
            "$mcp_tools_list",
            "$mcp_tools_list",
            "$mcp_missing_capability",
            "$mcp_feedback"
        ],
        "the virtual tools answered: no $mcp_tool_call"
    );
    let missing = &events(&delivered, "$mcp_missing_capability")[0].properties;
    assert_eq!(missing["$mcp_resource_name"], "get_more_tools");
    assert_eq!(missing["$mcp_intent"], "Needs a currency converter.");
    assert_eq!(missing["$mcp_response"]["content"][0]["text"], text(&more));
    let report = &events(&delivered, "$mcp_feedback")[0].properties;
    assert_eq!(report["$mcp_resource_name"], "send_feedback");
    assert_eq!(report["$mcp_feedback_summary"], "Lookup is slow.");
    assert_eq!(
        report["$mcp_response"]["content"][0]["text"],
        text(&feedback)
    );
}

#[tokio::test]
async fn without_the_virtual_tools_a_later_page_tool_keeps_its_name() {
    let logs = logs::capture(tracing::Level::WARN);
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let host = Paged::default();
    let host_calls = host.calls.clone();
    let client = connect(analytics.instrument(host)).await;

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        tools.iter().map(|t| &*t.name).collect::<Vec<_>>(),
        ["lookup", "get_more_tools", "send_feedback"]
    );
    let answer = client
        .call_tool(call("get_more_tools", json!({"q": "rates"})))
        .await
        .unwrap();
    assert_eq!(text(&answer), "the host answered get_more_tools");
    client.cancel().await.unwrap();
    assert_eq!(host_calls.load(Ordering::SeqCst), 1);
    assert!(warnings_about(&logs, "get_more_tools").is_empty());

    let delivered = ingested(&analytics, &ingest).await;
    let calls = events(&delivered, "$mcp_tool_call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].properties["$mcp_tool_name"], "get_more_tools");
    assert!(events(&delivered, "$mcp_missing_capability").is_empty());
}
