//! One request's record ([`RequestRecord`]) and the job box it lives in from the start of the request until the
//! delivery worker has built its payloads ([`PooledRecord`] around a [`RecordJob`]): the boxes come from a bounded
//! pool and go back to it after the worker ran them, so the box the request thread filled is not freed on the
//! worker.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::build::{PipelineSettings, process};
use super::handover::{Attribution, CaptureOptions, CapturedValue, ToolFacts, TraceIds};
use crate::delivery::ReusableJob;
use crate::event::{ErrorInfo, Payload};
use crate::identity::Resolution;
use crate::recycle::Pool;

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
    pub params: Option<CapturedValue>,
    pub response: Option<CapturedValue>,
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
            params: None,
            response: None,
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
            trace: None,
        }
    }
}

/// `properties` boxed, or `None` when empty (the record's rarely used maps).
pub(crate) fn boxed_map(properties: Map<String, Value>) -> Option<Box<Map<String, Value>>> {
    (!properties.is_empty()).then(|| Box::new(properties))
}

/// The per-call delivery job: one record and the settings to process it with, in a box that returns to
/// [`RECORD_JOBS`] once the worker has run it, so that the box the request thread filled is not freed on the
/// worker.
pub(crate) struct RecordJob {
    record: Option<RequestRecord>,
    settings: Option<Arc<PipelineSettings>>,
}

/// Spare job boxes: 128 × the size of a `RecordJob` (about 70 KB) at most.
static RECORD_JOBS: Pool<Box<RecordJob>> = Pool::new(128);

/// A request's record, held from the start in the box the worker will run it in (taken from the bounded pool of
/// spare job boxes). The request path's scope, and with it the wrapped handler's future that rmcp boxes and moves,
/// holds one pointer instead of the record; submitting it moves nothing. A record never submitted (a dropped
/// future) frees its box.
pub(crate) struct PooledRecord(Box<RecordJob>);

impl PooledRecord {
    /// `record`, in a spare box when the pool has one.
    pub(crate) fn new(record: RequestRecord) -> Self {
        let mut job = RECORD_JOBS.take().unwrap_or_else(|| {
            Box::new(RecordJob {
                record: None,
                settings: None,
            })
        });
        job.record = Some(record);
        Self(job)
    }

    /// The job that builds this record's payloads with `settings`.
    pub(crate) fn into_job(self, settings: Arc<PipelineSettings>) -> Box<RecordJob> {
        let mut job = self.0;
        job.settings = Some(settings);
        job
    }
}

impl std::ops::Deref for PooledRecord {
    type Target = RequestRecord;
    fn deref(&self) -> &RequestRecord {
        self.0
            .record
            .as_ref()
            .expect("a pooled record holds its record until submitted")
    }
}

impl std::ops::DerefMut for PooledRecord {
    fn deref_mut(&mut self) -> &mut RequestRecord {
        self.0
            .record
            .as_mut()
            .expect("a pooled record holds its record until submitted")
    }
}

impl ReusableJob for RecordJob {
    fn run(&mut self) -> Vec<Payload> {
        match (self.record.take(), self.settings.take()) {
            (Some(record), Some(settings)) => process(record, &settings),
            _ => Vec::new(),
        }
    }

    fn recycle(mut self: Box<Self>) {
        self.record = None;
        self.settings = None;
        // A box the pool refuses (full or busy) is freed here.
        drop(RECORD_JOBS.keep(self));
    }
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
