//! The standalone report: a tool call that `#[posthog_tool(standalone)]` saw with no wrapper around it, turned
//! into a `$mcp_tool_call` with the same attribution rules as the wrapper's. Without a wrapper there is no
//! per-connection state, so one process-wide connection stands in for it.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::attribution::{ClientSources, arc_str, attribute, header_pairs, is_stand_in};
use super::request_id;
use crate::analytics::Analytics;
use crate::event::{ErrorInfo, names};
use crate::pipeline::{Attribution, CaptureOptions, CapturedValue, RequestRecord, ToolFacts};
use crate::session::{Connection, SessionSignals};
use crate::tool::ToolSpec;

/// One tool call seen by a standalone `#[posthog_tool]` with no wrapper around it: the attribute reports it.
pub(crate) struct UnwrappedToolCall {
    /// The request context the tool was called with.
    pub(crate) context: rmcp::service::RequestContext<rmcp::RoleServer>,
    /// The tool's spec.
    pub(crate) spec: &'static ToolSpec,
    /// The runtime tool name (rmcp's `ToolName`), which may differ from the spec's for renamed routes.
    pub(crate) tool_name: String,
    /// Wall-clock start of the call.
    pub(crate) started_at: std::time::SystemTime,
    /// Whole milliseconds the call took.
    pub(crate) duration_ms: u64,
    /// The call's arguments as received.
    pub(crate) arguments: Option<Map<String, Value>>,
    /// The result as the client receives it (`CallToolResult` JSON); `None` after a protocol error or a panic.
    pub(crate) response: Option<Value>,
    /// Whether the call counts as an error.
    pub(crate) is_error: bool,
    /// The error, when there is one.
    pub(crate) error: Option<ErrorInfo>,
    /// Properties the tool added to its own event.
    pub(crate) properties: Map<String, Value>,
}

/// Captures a tool call that a standalone `#[posthog_tool]` saw with no wrapper present.
pub(crate) fn capture_unwrapped(analytics: &Analytics, call: UnwrappedToolCall) {
    if !analytics.is_enabled() {
        return;
    }
    let context = &call.context;
    let headers = context
        .extensions
        .get::<http::request::Parts>()
        .map(header_pairs);
    let snapshot = unwrapped_connection().resolve(
        SessionSignals {
            session_header: super::first_header(headers.as_deref(), "mcp-session-id"),
            ..SessionSignals::default()
        },
        analytics.inner.clock.elapsed(),
    );
    let peer = context.peer.peer_info().filter(|peer| !is_stand_in(peer));
    let attribution = attribute(
        &Attribution::default(),
        ClientSources {
            meta: Some(&context.meta),
            snapshot: Some(&snapshot),
            peer: peer.as_deref(),
            headers: headers.as_deref(),
            ..ClientSources::default()
        },
    );
    let mut record = RequestRecord::new(
        names::TOOL_CALL,
        "tools/call",
        snapshot.session_id,
        call.started_at,
    );
    record.request_id = Some(request_id(&context.id));
    let mut params = Map::new();
    params.insert("name".into(), Value::from(call.tool_name.clone()));
    if let Some(arguments) = call.arguments {
        params.insert("arguments".into(), Value::Object(arguments));
    }
    if !context.meta.is_empty()
        && let Ok(Value::Object(meta)) = serde_json::to_value(&context.meta)
        && !meta.is_empty()
    {
        params.insert("_meta".into(), Value::Object(meta));
    }
    record.params = Some(CapturedValue::value(Value::Object(params)));
    record.response = call.response.map(CapturedValue::value);
    record.attribution = attribution;
    record.duration_ms = call.duration_ms;
    record.tool = Some(ToolFacts {
        name: call.tool_name.into(),
        description: None,
        category: call.spec.category.and_then(arc_str),
    });
    record.capture = CaptureOptions {
        args: call.spec.capture_args,
        response: call.spec.capture_response,
        redact: call.spec.redact,
    };
    record.is_error = Some(call.is_error);
    record.error = call.error.map(Box::new);
    record.tool_properties = crate::pipeline::boxed_map(call.properties);
    analytics.submit(crate::pipeline::PooledRecord::new(record));
}

fn unwrapped_connection() -> &'static Connection {
    static CONNECTION: OnceLock<Connection> = OnceLock::new();
    CONNECTION.get_or_init(Connection::new)
}
