//! What the crate knows about tools: the static spec `#[posthog_tool]` registers at link time, the facts read
//! from the host's own tool list, and the per-call slot through which the attribute reports to the wrapper (the
//! wrapper sets it as a task-local around the host's handler, so the attribute needs no parameter of its own).

use std::sync::{Arc, Mutex};

use rmcp::model::Tool;
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
    /// `intent_description = "..."`: this tool's description of the injected `context` argument, which takes
    /// precedence over [`ArgumentOptions::intent_description`](crate::ArgumentOptions::intent_description) and the default.
    pub intent_description: Option<&'static str>,
}

/// What the attribute learned during one call.
#[derive(Debug, Default)]
pub struct CallAnnotations {
    /// The spec of the tool that ran.
    pub spec: Option<&'static ToolSpec>,
    /// The typed error of a failing call.
    pub error: Option<ErrorInfo>,
    /// Properties the tool added to its own event.
    pub properties: Map<String, Value>,
    /// Whether the attribute saw the call fail: an `Err` of any type (protocol errors included), an `is_error`
    /// result, or a panic. The wrapper still classifies protocol errors and `is_error` results itself;
    /// for those the attribute leaves [`error`](Self::error) empty.
    pub is_error: bool,
    /// Whether the tool body panicked; [`error`](Self::error) then describes the panic (type `Panic`).
    pub panicked: bool,
    /// Whether the wrapper ran the host's handler with this slot as the current call's.
    pub watched: bool,
    /// Whether the tool body started: rmcp extracted every parameter, the arguments included.
    pub started: bool,
}

/// The slot the wrapper puts into the request's extensions; the attribute inside the tool fills it.
#[derive(Debug, Clone, Default)]
pub struct ToolCallSlot(pub(crate) Arc<Mutex<CallAnnotations>>);

impl ToolCallSlot {
    /// A slot for one call that the wrapper runs the handler with.
    pub(crate) fn watching() -> Self {
        let slot = Self::default();
        slot.with(|annotations| annotations.watched = true);
        slot
    }

    /// Runs `f` on the annotations; a poisoned lock is recovered, never propagated.
    pub fn with<R>(&self, f: impl FnOnce(&mut CallAnnotations) -> R) -> R {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Takes the annotations out, leaving defaults.
    pub fn take(&self) -> CallAnnotations {
        self.with(std::mem::take)
    }
}

/// What `#[posthog_tool]` registers at link time, so the wrapper knows at `tools/list` time which tools are
/// instrumented, and so which arguments the crate may add to their schemas, without any configuration.
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

tokio::task_local! {
    /// The slot of the tool call the wrapper is running on this task.
    static CURRENT_CALL: ToolCallSlot;
}

/// Runs `handler` (the host's `call_tool`) with `slot` as the current call's slot. rmcp awaits a tool's future on
/// the task that called `call_tool`, so the attribute inside finds the slot with `current_call`. A plain function
/// returning tokio's scope future: an `async fn` would hold `handler` twice (its argument and the awaited scope),
/// doubling the size of every wrapped call's future.
pub fn with_call_slot<F: std::future::Future>(
    slot: ToolCallSlot,
    handler: F,
) -> impl std::future::Future<Output = F::Output> {
    CURRENT_CALL.scope(slot, handler)
}

/// The slot of the tool call running on this task, when a wrapper set one.
pub(crate) fn current_call() -> Option<ToolCallSlot> {
    CURRENT_CALL.try_with(Clone::clone).ok()
}

/// Put into a request's extensions by a disabled wrapper: the attribute then captures nothing, instead of
/// reporting through the process-wide instance.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct CaptureOff;

/// Which of the three arguments the crate owns on one tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Owned {
    pub context: bool,
    pub llm_model: bool,
    pub conversation_id: bool,
}

impl Owned {
    pub(crate) fn any(self) -> bool {
        self.context || self.llm_model || self.conversation_id
    }
}

/// What the crate knows about one of the host's tools, read once from its `get_tool` or its listing.
pub(crate) struct KnownTool {
    pub description: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
    pub input: Arc<Map<String, Value>>,
    /// Which of the crate's arguments the input schema leaves free, read once (the options decide which are
    /// taken).
    pub ownable: Owned,
    /// Whether the output schema can carry `_mcp_instructions`, read once.
    pub instructions: bool,
}

impl KnownTool {
    /// `ownable` and `instructions`: what the caller read from the tool's input and output schemas.
    pub(crate) fn from_tool(tool: &Tool, ownable: Owned, instructions: bool) -> Self {
        let text = |value: &str| (!value.is_empty()).then(|| Arc::from(value));
        Self {
            description: tool.description.as_deref().and_then(text),
            category: tool
                .meta
                .as_ref()
                .and_then(|meta| meta.0.get("category"))
                .and_then(Value::as_str)
                .and_then(text),
            input: tool.input_schema.clone(),
            ownable,
            instructions,
        }
    }
}
