//! One `tracing` span per captured MCP request, named and attributed after the OpenTelemetry semantic conventions
//! for MCP, found by a `tracing_subscriber` layer that records every span, its fields and its parent; the host
//! handler's own spans are its children.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect, delivered, reporting_to};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Default)]
struct SeenSpan {
    name: String,
    fields: BTreeMap<String, String>,
    parent: Option<String>,
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(u64, SeenSpan)>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut seen = SeenSpan {
            name: attrs.metadata().name().to_owned(),
            ..SeenSpan::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        let parent = if attrs.is_contextual() {
            ctx.current_span().id().cloned()
        } else {
            attrs.parent().cloned()
        };
        seen.parent = parent
            .and_then(|p| ctx.span(&p))
            .map(|p| p.name().to_owned());
        self.0.lock().unwrap().push((id.into_u64(), seen));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, seen)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
}

impl Spans {
    fn named(&self, name: &str) -> Vec<SeenSpan> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| s.name == name)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

/// The calculator, with a span of its own inside every tool call.
#[derive(Clone, Default)]
struct Traced(WrapperOnlyServer);

impl ServerHandler for Traced {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let _inside = tracing::info_span!("host.tool").entered();
        drop(_inside);
        self.0.call_tool(request, context).await
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.0.list_tools(request, context).await
    }

    fn get_info(&self) -> ServerConfig {
        self.0.get_info()
    }
}

#[tokio::test]
async fn each_captured_request_is_one_span_with_the_mcp_semantic_convention_attributes() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Traced::default())).await;
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let mut params = call("add", json!({"a": 2, "b": 3}));
    params.meta = Some(meta);
    client.call_tool(params).await.unwrap();
    client
        .call_tool(call("fail_result", json!({})))
        .await
        .unwrap();
    client
        .call_tool(call("divide", json!({"a": 1, "b": 0})))
        .await
        .unwrap_err();
    client.list_all_tools().await.unwrap();
    client.cancel().await.unwrap();
    let payloads = delivered(&analytics, &ingest).await;
    let session = payloads[0]["properties"]["$session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let requests = spans.named("mcp.server.request");
    assert_eq!(
        requests.len(),
        4,
        "one span per captured request: {requests:#?}"
    );
    let add = &requests[0].fields;
    assert_eq!(add["otel.name"], "tools/call add");
    assert_eq!(add["otel.kind"], "server");
    assert_eq!(add["mcp.method.name"], "tools/call");
    assert_eq!(add["gen_ai.tool.name"], "add");
    assert_eq!(add["gen_ai.operation.name"], "execute_tool");
    assert!(add.contains_key("jsonrpc.request.id"), "{add:?}");
    assert_eq!(add["mcp.session.id"], session);
    assert_eq!(add["mcp.protocol.version"], "2025-11-25");
    assert_eq!(
        add["trace.parent.trace_id"],
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(add["trace.parent.span_id"], "b7ad6b7169203331");
    assert!(!add.contains_key("error.type"));

    assert_eq!(requests[1].fields["error.type"], "tool_error");
    assert!(!requests[1].fields.contains_key("trace.parent.trace_id"));
    assert_eq!(requests[2].fields["error.type"], "-32602", "invalid params");
    assert_eq!(requests[3].fields["otel.name"], "tools/list");
    assert!(!requests[3].fields.contains_key("gen_ai.tool.name"));

    let inside = spans.named("host.tool");
    assert_eq!(inside.len(), 3);
    for span in inside {
        assert_eq!(span.parent.as_deref(), Some("mcp.server.request"));
    }
}
