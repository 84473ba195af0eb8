//! What `#[posthog_tool]` knows at compile time and reports at run time: the tool's static spec, the per-call
//! annotations the attribute writes into the wrapper's slot (typed error, custom properties), and the fallback
//! that emits `$mcp_tool_call` itself when no wrapper is present.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::event::ErrorInfo;

/// Static facts about one instrumented tool, written by `#[posthog_tool]`.
#[derive(Debug)]
pub struct ToolSpec {
    /// The tool name: the sibling `#[tool(name = ...)]`, else the fn ident.
    pub name: &'static str,
    /// `category = "..."`.
    pub category: Option<&'static str>,
    /// `capture_args = false` turns this off.
    pub capture_args: bool,
    /// `capture_response = false` turns this off.
    pub capture_response: bool,
    /// `redact = [...]`: argument or response fields replaced by `[redacted]` before anything else sees them.
    pub redact: &'static [&'static str],
}

/// What the attribute learned during one call.
#[derive(Debug, Default)]
pub struct ToolAnnotations {
    /// The spec of the tool that ran.
    pub spec: Option<&'static ToolSpec>,
    /// The typed error of a failing call.
    pub error: Option<ErrorInfo>,
    /// Properties the tool added to its own event.
    pub properties: Map<String, Value>,
}

/// The slot the wrapper puts into the request's extensions; the attribute inside the tool fills it.
#[derive(Debug, Clone, Default)]
pub struct ToolCallSlot(pub(crate) Arc<Mutex<ToolAnnotations>>);

impl ToolCallSlot {
    /// Runs `f` on the annotations; a poisoned lock is recovered, never propagated.
    pub fn with<R>(&self, f: impl FnOnce(&mut ToolAnnotations) -> R) -> R {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Takes the annotations out, leaving defaults.
    pub fn take(&self) -> ToolAnnotations {
        self.with(std::mem::take)
    }
}

/// One tool call seen by `#[posthog_tool]` when no wrapper slot was present: the attribute reports it itself.
pub struct UnwrappedToolCall {
    /// The request context the tool was called with.
    pub context: rmcp::service::RequestContext<rmcp::RoleServer>,
    /// The tool's spec.
    pub spec: &'static ToolSpec,
    /// The runtime tool name (rmcp's `ToolName`), which may differ from the spec's for renamed routes.
    pub tool_name: String,
    /// Wall-clock start of the call.
    pub started_at: std::time::SystemTime,
    /// Whole milliseconds the call took.
    pub duration_ms: u64,
    /// The call's arguments as received.
    pub arguments: Option<Map<String, Value>>,
    /// The result as the client receives it (`CallToolResult` JSON); `None` after a protocol error or a panic.
    pub response: Option<Value>,
    /// Whether the call counts as an error (§7.1).
    pub is_error: bool,
    /// The error, when there is one.
    pub error: Option<ErrorInfo>,
    /// Properties the tool added to its own event.
    pub properties: Map<String, Value>,
}

/// What `#[posthog_tool]` registers at link time, so the wrapper knows at `tools/list` time which tools are
/// instrumented (CONTRACT §8.2 ownership) without any configuration.
#[derive(Debug)]
pub struct ToolRegistration {
    /// The tool's spec.
    pub spec: &'static ToolSpec,
}

inventory::collect!(ToolRegistration);

/// The spec of the instrumented tool named `name`, if any.
pub fn registered_tool(name: &str) -> Option<&'static ToolSpec> {
    inventory::iter::<ToolRegistration>
        .into_iter()
        .map(|r| r.spec)
        .find(|spec| spec.name == name)
}
