//! One request's record ([`RequestRecord`]): everything the request contributes to its events, as owned values.
//! The pooled job box it lives in until the worker has built its payloads is in `job.rs`.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::handover::{Attribution, CaptureOptions, CapturedValue, ToolFacts, TraceIds};
use crate::event::ErrorInfo;
use crate::identity::Resolution;

/// Everything one intercepted request contributes to its events, as owned values. What most requests lack is
/// boxed, so the record (moved into the wrapped future and the delivery job) stays small.
pub(crate) struct RequestRecord {
    pub event: &'static str,
    pub started_at: SystemTime,
    pub duration_ms: u64,
    pub session_id: Arc<str>,
    pub resolution: Resolution,
    pub attribution: Attribution,
    pub method: &'static str,
    pub request_id: Option<Value>,
    /// Declared before `params` so that it is dropped first: the worker hands the response's buffer back to the
    /// text pool first and the params' buffer last, so the next call takes the small params buffer for its params
    /// and the large one for its response (the other way round, a long reply's text regrew its buffer every call).
    pub response: Option<CapturedValue>,
    pub params: Option<CapturedValue>,
    pub resource_name: Option<String>,
    pub tool: Option<ToolFacts>,
    pub is_error: Option<bool>,
    pub error: Option<Box<ErrorInfo>>,
    pub capture: CaptureOptions,
    pub event_properties: Option<Box<Map<String, Value>>>,
    /// `#[posthog_tool]`'s properties for this call; `None` when there are none.
    pub tool_properties: Option<Box<Map<String, Value>>>,
    /// `$mcp_conversation_id`, written right after `$session_id`.
    pub conversation_id: Option<Arc<str>>,
    /// The trimmed, not yet sanitized intent and its source.
    pub intent: Option<Box<(String, &'static str)>>,
    /// The trimmed, not yet sanitized model and its source.
    pub llm_model: Option<Box<(String, &'static str)>>,
    /// A `send_feedback` report: its `$mcp_feedback_*` properties are written last.
    pub feedback: Option<Box<crate::virtual_tools::Feedback>>,
    /// `false` leaves `$mcp_parameters` off the main event (`$mcp_feedback`).
    pub capture_parameters: bool,
    /// The incoming trace context: `$mcp_trace_id` / `$mcp_parent_span_id`, and the `$ai_span`'s ids. Boxed:
    /// untraced requests (most) keep the record one word larger only.
    pub trace: Option<Box<TraceIds>>,
    /// `$mcp_task_id`: the task a task-augmented `tools/call` created (reported when the task ends).
    pub task_id: Option<Box<str>>,
    /// `$mcp_input_request_methods`: what a round that asked for more input asked the client to do.
    pub input_request_methods: Option<Box<[String]>>,
    /// `$mcp_input_keys` and `$mcp_input_aliases_used` of a `tools/call`.
    pub input_keys: Option<Box<InputKeyNames>>,
}

/// The argument names a `tools/call` sent, as `capture/input_keys.rs` records them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct InputKeyNames {
    /// `$mcp_input_keys`: declared names sorted, then others sorted, then `"[redacted]"` for the rest.
    pub keys: Vec<String>,
    /// `$mcp_input_aliases_used`: `"<alias>:<argument>"`, sorted.
    pub aliases_used: Vec<String>,
}

impl RequestRecord {
    /// Roughly the bytes the record holds until the worker builds its events: the record itself, its params and
    /// its result (the delivery byte bound counts them while the job waits).
    pub(crate) fn held_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.params.as_ref().map_or(0, |p| p.held_bytes())
            + self.response.as_ref().map_or(0, |r| r.held_bytes())
    }

    /// A record for `event` with nothing captured yet.
    pub(crate) fn new(
        event: &'static str,
        method: &'static str,
        session_id: Arc<str>,
        started_at: SystemTime,
    ) -> Self {
        Self {
            event,
            started_at,
            duration_ms: 0,
            session_id,
            resolution: Resolution::default(),
            attribution: Attribution::default(),
            method,
            request_id: None,
            response: None,
            params: None,
            resource_name: None,
            tool: None,
            is_error: None,
            error: None,
            capture: CaptureOptions::default(),
            event_properties: None,
            tool_properties: None,
            conversation_id: None,
            intent: None,
            llm_model: None,
            feedback: None,
            capture_parameters: true,
            task_id: None,
            input_request_methods: None,
            input_keys: None,
            trace: None,
        }
    }
}

/// `properties` boxed, or `None` when empty (the record's rarely used maps).
pub(crate) fn boxed_map(properties: Map<String, Value>) -> Option<Box<Map<String, Value>>> {
    (!properties.is_empty()).then(|| Box::new(properties))
}

#[cfg(test)]
#[test]
fn the_record_stays_small_enough_to_move_cheaply() {
    // The record lives in its pooled job box (`PooledRecord`, 128 boxes at most), which glibc serves from its
    // per-thread cache only below about 1 KB. What most requests lack is boxed (see `RequestRecord`'s fields); a
    // new field that is not belongs behind a `Box` too.
    let size = std::mem::size_of::<RequestRecord>();
    assert!(size <= 640, "RequestRecord is {size} bytes");
}
