//! The capture pipeline: a request's record becomes its payloads — sanitized, truncated, built in the property
//! assembly order (a later write replaces an earlier one), passed through `before_send` and labelled.
//!
//! A request passes nine steps: (1) resolve its session, attribution, identity and hooks before the handler;
//! (2) dispatch to the handler; (3) hand the record to the delivery worker; then, on the worker, (4) sanitize,
//! (5) truncate, (6) build the payloads, (7) run `before_send`, (8) label and (9) deliver. Steps 4–8 live here.
//!
//! The request path only fills a [`RequestRecord`] with owned values and hands it to the delivery queue; every
//! step here runs on the delivery worker.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::delivery::ReusableJob;
use crate::encode::{self, encode_bounded_into, give_back};
use crate::event::{
    BeforeSend, ErrorInfo, LIB_NAME, LIB_VERSION, LIB_VERSION_MAJOR, LIB_VERSION_MINOR,
    LIB_VERSION_PATCH, MCP_SOURCE, Payload, names,
};
use crate::identity::{Identity, Resolution};
use crate::privacy;
use crate::recycle::Pool;

/// A value captured on the request path and turned into JSON only on the worker.
pub(crate) trait Captured: Send + 'static {
    fn to_json(&self) -> Value;
    /// Roughly the bytes this value holds until the worker builds its event (for the delivery byte bound).
    fn held_bytes(&self) -> usize;
}

impl<T: Serialize + Send + 'static> Captured for T {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
    fn held_bytes(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// A value captured on the request path as JSON text in one buffer, parsed on the worker. One buffer crosses to
/// the worker thread instead of a cloned tree of many small allocations, and goes back to the request path's pool
/// afterwards (`encode::give_back`): freeing memory another thread allocated contends for that thread's allocator
/// arena (measured with glibc: a large share of the request path's added cost).
pub(crate) struct Encoded {
    /// The value's text, then (from `meta_at`) the request's `_meta` as text when it has one.
    text: Vec<u8>,
    /// Where the `_meta` text starts; `text.len()` when there is none. `_meta` is merged in as `_meta` unless the
    /// value has its own.
    meta_at: usize,
}

impl Encoded {
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> CapturedValue {
        Self::with_meta(value, None::<&()>)
    }

    /// `meta`: the request's `_meta`, when it is not empty.
    pub(crate) fn with_meta<T: Serialize + ?Sized, M: Serialize>(
        value: &T,
        meta: Option<&M>,
    ) -> CapturedValue {
        let mut text = encode::buffer();
        // A value that cannot be encoded is captured as nothing (parsed as `null`), as before.
        let _ = encode_bounded_into(&mut text, value);
        let meta_at = text.len();
        if let Some(meta) = meta {
            let _ = encode_bounded_into(&mut text, meta);
        }
        CapturedValue::Text(Self { text, meta_at })
    }

    fn held_bytes(&self) -> usize {
        self.text.capacity()
    }

    fn to_json(&self) -> Value {
        let (value, meta) = self.text.split_at(self.meta_at.min(self.text.len()));
        let value = serde_json::from_slice(value).unwrap_or(Value::Null);
        match (!meta.is_empty())
            .then(|| serde_json::from_slice(meta).ok())
            .flatten()
        {
            Some(meta) => with_request_meta(value, meta),
            None => value,
        }
    }
}

/// The buffer goes back to the request path's pool (`encode::give_back`) instead of being freed here, on the
/// worker.
impl Drop for Encoded {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.text));
    }
}

/// A request's params or result as the record holds it: as text (every request the server wrapper sees, held
/// inline so that no box crosses to the worker), or as any serializable value (the manual API's).
pub(crate) enum CapturedValue {
    Text(Encoded),
    Value(Box<dyn Captured>),
}

impl CapturedValue {
    /// Any serializable value, serialized on the worker.
    pub(crate) fn value<T: Serialize + Send + 'static>(value: T) -> Self {
        Self::Value(Box::new(value))
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => text.to_json(),
            Self::Value(value) => value.to_json(),
        }
    }

    pub(crate) fn held_bytes(&self) -> usize {
        match self {
            Self::Text(text) => text.held_bytes(),
            Self::Value(value) => value.held_bytes(),
        }
    }
}

/// Params with the request's `_meta` (which rmcp moves out of the params into the context) put back as `_meta`,
/// unless the params carry their own.
pub(crate) fn with_request_meta(mut params: Value, meta: Value) -> Value {
    match &mut params {
        Value::Object(object) => {
            object.entry("_meta").or_insert(meta);
        }
        Value::Null => params = serde_json::json!({ "_meta": meta }),
        _ => {}
    }
    params
}

/// Who and what a request is attributed to, snapshotted when its session resolved, so nothing awaited later
/// can change it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attribution {
    pub server_name: Option<Arc<str>>,
    pub server_version: Option<Arc<str>>,
    pub client_name: Option<Arc<str>>,
    pub client_version: Option<Arc<str>>,
    pub protocol_version: Option<Arc<str>>,
    pub user_agent: Option<Arc<str>>,
    pub vendor: Option<Arc<str>>,
}

/// Facts about the tool a `tools/call` named.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolFacts {
    /// The tool's name; borrowed from its `#[posthog_tool]` spec when it has one, so that no string the request
    /// thread allocated is freed on the worker.
    pub name: std::borrow::Cow<'static, str>,
    pub description: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
}

/// Per-tool capture options from `#[posthog_tool]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CaptureOptions {
    pub args: bool,
    pub response: bool,
    pub redact: &'static [&'static str],
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            args: true,
            response: true,
            redact: &[],
        }
    }
}

/// The W3C trace context a request carried (`capture/trace.rs`): the trace and the caller's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// The 128-bit trace id.
    pub trace_id: u128,
    /// The caller's 64-bit span id, this request's parent.
    pub parent_span_id: u64,
}

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
            trace: None,
        }
    }
}

/// `properties` boxed, or `None` when empty (the record's rarely used maps).
pub(crate) fn boxed_map(properties: Map<String, Value>) -> Option<Box<Map<String, Value>>> {
    (!properties.is_empty()).then(|| Box::new(properties))
}

/// What the worker needs besides the record.
#[derive(Clone, Default)]
pub(crate) struct PipelineSettings {
    pub exception_autocapture: bool,
    /// `Builder::llm_traces`: an `$ai_span` for each tool call with a trace id.
    pub llm_traces: bool,
    pub before_send: Option<BeforeSend>,
}

const CAP_NAME: usize = 256;
const CAP_TEXT: usize = 2048;
const DEPTH: usize = 10;
/// Room for the properties of one main event (a tool call has about 25, before the labels of step 8).
const PROPERTY_CAPACITY: usize = 32;

fn timestamp(at: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(at)
}

fn put_str(props: &mut Map<String, Value>, key: &str, value: Option<&str>, cap: usize) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        props.insert(
            key.to_owned(),
            Value::String(privacy::truncate(value, cap).into_owned()),
        );
    }
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

/// Steps 4–8 for one record: its `$identify`, main event and `$exception`, in that order. A panic anywhere drops
/// the record's payloads and logs a warning; the tool result is never affected.
pub(crate) fn process(record: RequestRecord, settings: &PipelineSettings) -> Vec<Payload> {
    let event = record.event;
    let built = catch_unwind(AssertUnwindSafe(|| {
        build(record, settings.exception_autocapture, settings.llm_traces)
    }));
    match built {
        Ok(payloads) => finish(payloads, settings),
        Err(_) => {
            tracing::warn!(
                event,
                "posthog-mcp: building this request's events failed; they were dropped"
            );
            Vec::new()
        }
    }
}

/// Steps 7–8 for payloads built elsewhere (custom events): `before_send`, then labels.
pub(crate) fn finish(payloads: Vec<Payload>, settings: &PipelineSettings) -> Vec<Payload> {
    payloads
        .into_iter()
        .filter_map(|payload| {
            let payload = match &settings.before_send {
                None => Some(payload),
                Some(hook) => {
                    let event = payload.event.clone();
                    catch_unwind(AssertUnwindSafe(|| hook(payload))).unwrap_or_else(|_| {
                        tracing::warn!(
                            event,
                            "posthog-mcp: the before_send hook panicked; that payload was dropped"
                        );
                        None
                    })
                }
            };
            payload.map(label)
        })
        .collect()
}

/// Step 8, the library labels: written after `before_send`, so hooks never lose them.
fn label(mut payload: Payload) -> Payload {
    let props = &mut payload.properties;
    props.insert("$lib".into(), Value::from(LIB_NAME));
    props.insert("$lib_version".into(), Value::from(LIB_VERSION));
    props.insert("$lib_version__major".into(), Value::from(LIB_VERSION_MAJOR));
    props.insert("$lib_version__minor".into(), Value::from(LIB_VERSION_MINOR));
    props.insert("$lib_version__patch".into(), Value::from(LIB_VERSION_PATCH));
    props.insert("$is_server".into(), Value::Bool(true));
    props.insert("$geoip_disable".into(), Value::Bool(true));
    payload
}

/// The distinct id: the identity's, else the session id, else `anonymous`.
pub(crate) fn distinct_id(identity: Option<&Identity>, session_id: Option<&str>) -> String {
    match (identity, session_id) {
        (Some(identity), _) => identity.distinct_id.clone(),
        (None, Some(session_id)) if !session_id.is_empty() => session_id.to_owned(),
        (None, _) => "anonymous".to_owned(),
    }
}

/// The properties every event starts with, in assembly order: `$mcp_source`, `$session_id`,
/// `$mcp_conversation_id`, then `$process_person_profile: false` when anonymous or else the identity's `$groups`.
/// Custom events outside a request have no session (`session_id` `None`).
pub(crate) fn base_properties(
    session_id: Option<&str>,
    conversation_id: Option<&str>,
    identity: Option<&Identity>,
) -> Map<String, Value> {
    // Sized for a tool call's properties, so building them does not regrow the map.
    let mut props = Map::with_capacity(PROPERTY_CAPACITY);
    props.insert("$mcp_source".into(), Value::from(MCP_SOURCE));
    if let Some(session_id) = session_id {
        props.insert("$session_id".into(), Value::from(session_id));
    }
    if let Some(conversation_id) = conversation_id {
        props.insert("$mcp_conversation_id".into(), Value::from(conversation_id));
    }
    match identity {
        None => {
            props.insert("$process_person_profile".into(), Value::Bool(false));
        }
        Some(identity) if !identity.groups.is_empty() => {
            props.insert("$groups".into(), json!(identity.groups));
        }
        Some(_) => {}
    }
    props
}

pub(crate) fn attribution_properties(props: &mut Map<String, Value>, attribution: &Attribution) {
    let fields = [
        ("$mcp_server_name", &attribution.server_name),
        ("$mcp_server_version", &attribution.server_version),
        ("$mcp_client_name", &attribution.client_name),
        ("$mcp_client_version", &attribution.client_version),
        ("$mcp_protocol_version", &attribution.protocol_version),
        ("$mcp_client_user_agent", &attribution.user_agent),
        ("$mcp_vendor_client", &attribution.vendor),
    ];
    for (key, value) in fields {
        put_str(props, key, value.as_deref(), CAP_NAME);
    }
}

pub(crate) fn set_properties(props: &mut Map<String, Value>, identity: Option<&Identity>) {
    if let Some(identity) = identity.filter(|i| !i.properties.is_empty()) {
        let mut set = Value::Object(identity.properties.clone());
        privacy::bound(&mut set, DEPTH);
        props.insert("$set".into(), set);
    }
}

fn resource_name(name: &str) -> Value {
    Value::String(privacy::truncate(&privacy::generic_string(name), CAP_NAME).into_owned())
}

/// `{"request": {"id", "jsonrpc", "method", "params"}}`, sanitized and bounded.
fn parameters(record: &RequestRecord, params: Option<Value>) -> Value {
    let mut request = Map::new();
    if let Some(id) = &record.request_id {
        request.insert("id".into(), id.clone());
    }
    request.insert("jsonrpc".into(), Value::from("2.0"));
    request.insert("method".into(), Value::from(record.method));
    if let Some(params) = params {
        request.insert("params".into(), params);
    }
    let mut value = json!({ "request": Value::Object(request) });
    privacy::sanitize_parameters(&mut value);
    privacy::bound(&mut value, DEPTH);
    value
}

fn captured_params(record: &RequestRecord) -> Option<Value> {
    let mut params = record.params.as_ref()?.to_json();
    if !record.capture.args
        && let Some(object) = params.as_object_mut()
    {
        object.remove("arguments");
    }
    if !record.capture.redact.is_empty()
        && let Some(arguments) = params.get_mut("arguments")
    {
        privacy::redact_fields(arguments, record.capture.redact);
    }
    Some(params)
}

fn build(record: RequestRecord, exception_autocapture: bool, llm_traces: bool) -> Vec<Payload> {
    let identity = record.resolution.identity.as_deref();
    let session_id = &*record.session_id;
    let distinct = distinct_id(identity, Some(session_id));
    let params = captured_params(&record);
    let mut payloads = Vec::with_capacity(2);

    if let (Some(announce), Some(identity)) = (record.resolution.announce, identity) {
        payloads.push(identify_payload(
            &record,
            identity,
            params.clone(),
            announce.at,
            announce.duration_ms,
        ));
    }

    let mut main = Payload::new(record.event, distinct.clone(), timestamp(record.started_at));
    let mut props = base_properties(
        Some(session_id),
        record.conversation_id.as_deref(),
        identity,
    );
    let resource = main_resource_name(&record);
    if let Some(resource) = &resource {
        props.insert("$mcp_resource_name".into(), resource_name(resource));
    }
    call_properties(&mut props, &record);
    if record.capture_parameters {
        props.insert("$mcp_parameters".into(), parameters(&record, params));
    }
    response_properties(&mut props, &record);
    set_properties(&mut props, identity);
    added_properties(&mut props, &record);
    main.properties = props;
    privacy::fit_budget(&mut main, true);

    let exception = match (&record.error, record.is_error) {
        (Some(error), Some(true)) if exception_autocapture => Some(exception_payload(
            &record,
            error,
            distinct,
            &main,
            resource.as_deref(),
        )),
        _ => None,
    };
    let span = match record.trace.as_deref() {
        Some(trace) if llm_traces && record.event == names::TOOL_CALL => {
            Some(ai_span_payload(&record, trace, &main))
        }
        _ => None,
    };
    payloads.push(main);
    payloads.extend(exception);
    payloads.extend(span);
    payloads
}

/// The main event's `$mcp_resource_name`: the tool's name on a tool call (a placeholder when it has none), the
/// placeholder on initialize, else the resource or prompt the request named.
fn main_resource_name(record: &RequestRecord) -> Option<String> {
    const UNKNOWN: &str = "Unknown Tool Name";
    match record.event {
        names::INITIALIZE => Some(UNKNOWN.to_owned()),
        names::TOOL_CALL => Some(
            record
                .tool
                .as_ref()
                .filter(|tool| !tool.name.is_empty())
                .map_or(UNKNOWN.to_owned(), |tool| tool.name.to_string()),
        ),
        _ => record.resource_name.clone(),
    }
}

/// What the request was and how it went: the tool, the agent's intent and model, the duration, the task and
/// trace it belongs to, the client attribution, and the outcome.
fn call_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
    if let Some(tool) = &record.tool {
        put_str(props, "$mcp_tool_name", Some(&tool.name), CAP_NAME);
        put_str(
            props,
            "$mcp_tool_description",
            tool.description.as_deref(),
            usize::MAX,
        );
        put_str(
            props,
            "$mcp_tool_category",
            tool.category.as_deref(),
            CAP_NAME,
        );
    }
    if let Some((intent, source)) = record.intent.as_deref() {
        let intent = privacy::truncate(&privacy::free_text(intent), CAP_TEXT).into_owned();
        props.insert("$mcp_intent".into(), Value::String(intent));
        props.insert("$mcp_intent_source".into(), Value::from(*source));
    }
    if let Some((model, source)) = record.llm_model.as_deref() {
        let model = privacy::generic_string(model);
        put_str(props, "$mcp_llm_model", Some(&model), CAP_NAME);
        props.insert("$mcp_llm_model_source".into(), Value::from(*source));
    }
    props.insert("$mcp_duration_ms".into(), Value::from(record.duration_ms));
    if let Some(task_id) = &record.task_id {
        let task_id = privacy::generic_string(task_id);
        put_str(props, "$mcp_task_id", Some(&task_id), CAP_NAME);
    }
    if let Some(trace) = &record.trace {
        trace_properties(props, trace);
    }
    attribution_properties(props, &record.attribution);
    if let Some(is_error) = record.is_error {
        props.insert("$mcp_is_error".into(), Value::Bool(is_error));
        if let (true, Some(error)) = (is_error, &record.error) {
            put_str(props, "$mcp_error_type", Some(&error.type_name), CAP_NAME);
            let message = privacy::generic_string(&error.message);
            put_str(props, "$mcp_error_message", Some(&message), CAP_TEXT);
        }
    }
}

/// `$mcp_response` (sanitized, when responses are captured) and, on `tools/list`, `$mcp_listed_tool_names`
/// (even when responses are not).
fn response_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
    let mut listed_names = None;
    if let Some(response) = record.response.as_ref().filter(|_| record.capture.response) {
        let mut response = response.to_json();
        strip_legacy_result_type(
            &mut response,
            record.attribution.protocol_version.as_deref(),
        );
        if record.event == names::TOOLS_LIST {
            listed_names = listed_tool_names(&response);
        }
        if !record.capture.redact.is_empty() {
            privacy::redact_fields(&mut response, record.capture.redact);
        }
        privacy::sanitize_response(&mut response);
        privacy::bound(&mut response, DEPTH);
        props.insert("$mcp_response".into(), response);
    } else if record.event == names::TOOLS_LIST {
        listed_names = record
            .response
            .as_ref()
            .and_then(|r| listed_tool_names(&r.to_json()));
    }
    if let Some(names) = listed_names {
        props.insert("$mcp_listed_tool_names".into(), names);
    }
}

/// What the host added, in order of precedence (later wins): properties the tool set during the call, the
/// `event_properties` hook's, and the feedback tool's.
fn added_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
    for (key, value) in record.tool_properties.iter().flat_map(|map| map.iter()) {
        props.insert(key.clone(), value.clone());
    }
    if let Some(extra) = record.event_properties.as_deref() {
        for (key, value) in extra {
            props.insert(key.clone(), value.clone());
        }
    }
    if let Some(feedback) = &record.feedback {
        props.extend(feedback.properties());
    }
}

/// `$mcp_trace_id` and `$mcp_parent_span_id`, lowercase hex as in `traceparent`.
fn trace_properties(props: &mut Map<String, Value>, trace: &TraceIds) {
    props.insert(
        "$mcp_trace_id".into(),
        Value::String(format!("{:032x}", trace.trace_id)),
    );
    props.insert(
        "$mcp_parent_span_id".into(),
        Value::String(format!("{:016x}", trace.parent_span_id)),
    );
}

/// A fresh span id: 16 lowercase hex digits, never all zeros.
fn new_span_id() -> String {
    let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
    format!("{:016x}", (high ^ low) | 1)
}

/// The `$ai_span` of a tool call with a trace id (`docs/traces.md`): a span of the agent's LLM trace, with the
/// main event's distinct id, session and person rules, and its sanitized arguments and result.
fn ai_span_payload(record: &RequestRecord, trace: &TraceIds, main: &Payload) -> Payload {
    let identity = record.resolution.identity.as_deref();
    let payload = Payload::new(names::AI_SPAN, main.distinct_id.clone(), main.timestamp);
    let mut props = base_properties(
        Some(&record.session_id),
        record.conversation_id.as_deref(),
        identity,
    );
    let main_props = &main.properties;
    props.insert(
        "$ai_trace_id".into(),
        Value::String(format!("{:032x}", trace.trace_id)),
    );
    props.insert("$ai_span_id".into(), Value::String(new_span_id()));
    props.insert(
        "$ai_parent_id".into(),
        Value::String(format!("{:016x}", trace.parent_span_id)),
    );
    if let Some(name) = main_props.get("$mcp_tool_name") {
        props.insert("$ai_span_name".into(), name.clone());
    }
    props.insert(
        "$ai_latency".into(),
        Value::from(record.duration_ms as f64 / 1000.0),
    );
    let is_error = record.is_error.unwrap_or(false);
    props.insert("$ai_is_error".into(), Value::Bool(is_error));
    if is_error {
        let error = main_props
            .get("$mcp_error_message")
            .or_else(|| main_props.get("$mcp_error_type"))
            .cloned()
            .unwrap_or_else(|| Value::from("error"));
        props.insert("$ai_error".into(), error);
    }
    if let Some(arguments) = main_props
        .get("$mcp_parameters")
        .and_then(|p| p.pointer("/request/params/arguments"))
    {
        props.insert("$ai_input_state".into(), arguments.clone());
    }
    if let Some(result) = main_props.get("$mcp_response") {
        props.insert("$ai_output_state".into(), result.clone());
    }
    for key in ["$mcp_tool_name", "$mcp_trace_id", "$mcp_parent_span_id"] {
        if let Some(value) = main_props.get(key) {
            props.insert(key.into(), value.clone());
        }
    }
    finish_companion(payload, props, record)
}

/// The end of a payload that accompanies the main event (`$exception`, `$ai_span`): `props`, then the client
/// attribution and the `event_properties` hook's properties (a later write wins), fitted to the event budget.
fn finish_companion(
    mut payload: Payload,
    mut props: Map<String, Value>,
    record: &RequestRecord,
) -> Payload {
    attribution_properties(&mut props, &record.attribution);
    if let Some(extra) = record.event_properties.as_deref() {
        for (key, value) in extra {
            props.insert(key.clone(), value.clone());
        }
    }
    payload.properties = props;
    privacy::fit_budget(&mut payload, false);
    payload
}

fn listed_tool_names(response: &Value) -> Option<Value> {
    let names: Vec<Value> = response
        .get("tools")?
        .as_array()?
        .iter()
        .filter_map(|tool| tool.get("name").cloned())
        .collect();
    (!names.is_empty()).then_some(Value::Array(names))
}

fn identify_payload(
    record: &RequestRecord,
    identity: &Identity,
    params: Option<Value>,
    at: SystemTime,
    duration_ms: u64,
) -> Payload {
    let session_id = &*record.session_id;
    let mut payload = Payload::new(names::IDENTIFY, identity.distinct_id.clone(), timestamp(at));
    let mut props = Map::new();
    props.insert("$mcp_source".into(), Value::from(MCP_SOURCE));
    props.insert("$session_id".into(), Value::from(session_id));
    if !identity.groups.is_empty() {
        props.insert("$groups".into(), json!(identity.groups));
    }
    if session_id != identity.distinct_id {
        props.insert("$anon_distinct_id".into(), Value::from(session_id));
    }
    let name = params
        .as_ref()
        .and_then(|p| p.get("name").or_else(|| p.get("uri")))
        .and_then(Value::as_str)
        .unwrap_or("Unknown")
        .to_owned();
    props.insert("$mcp_resource_name".into(), resource_name(&name));
    props.insert("$mcp_duration_ms".into(), Value::from(duration_ms));
    attribution_properties(&mut props, &record.attribution);
    props.insert("$mcp_parameters".into(), parameters(record, params));
    set_properties(&mut props, Some(identity));
    payload.properties = props;
    privacy::fit_budget(&mut payload, false);
    payload
}

fn exception_payload(
    record: &RequestRecord,
    error: &ErrorInfo,
    distinct_id: String,
    main: &Payload,
    resource: Option<&str>,
) -> Payload {
    let identity = record.resolution.identity.as_deref();
    let payload = Payload::new(names::EXCEPTION, distinct_id, main.timestamp);
    let conversation_id = main
        .properties
        .get("$mcp_conversation_id")
        .and_then(Value::as_str);
    let mut props = base_properties(Some(&record.session_id), conversation_id, identity);
    props.insert("$exception_list".into(), privacy::exception_list(error));
    props.insert("$exception_level".into(), Value::from("error"));
    if let Some(resource) = resource {
        props.insert("$mcp_resource_name".into(), resource_name(resource));
    }
    for key in [
        "$mcp_tool_name",
        "$mcp_tool_description",
        "$mcp_tool_category",
    ] {
        if let Some(value) = main.properties.get(key) {
            props.insert(key.into(), value.clone());
        }
    }
    finish_companion(payload, props, record)
}

/// Whether `version` is on the stateless 2026-07-28 protocol or later: `draft`, or a date at or after it.
pub(crate) fn is_modern_protocol(version: Option<&str>) -> bool {
    match version {
        Some("draft") => true,
        Some(v) => {
            let b = v.as_bytes();
            v.len() == 10
                && b.iter().enumerate().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        *c == b'-'
                    } else {
                        c.is_ascii_digit()
                    }
                })
                && v >= "2026-07-28"
        }
        None => false,
    }
}

/// rmcp removes `resultType: "complete"` from results sent to peers on older protocols, after the wrapper saw
/// them; `$mcp_response` is what the client received, so the worker removes it the same way.
fn strip_legacy_result_type(response: &mut Value, protocol: Option<&str>) {
    if is_modern_protocol(protocol) {
        return;
    }
    if let Value::Object(object) = response
        && object.get("resultType").and_then(Value::as_str) == Some("complete")
    {
        object.remove("resultType");
    }
}

#[cfg(test)]
mod protocol_tests {
    use super::*;

    #[test]
    fn only_2026_07_28_and_later_or_draft_count_as_modern() {
        assert!(is_modern_protocol(Some("2026-07-28")));
        assert!(is_modern_protocol(Some("2027-01-01")));
        assert!(is_modern_protocol(Some("draft")));
        assert!(!is_modern_protocol(Some("2025-11-25")));
        assert!(!is_modern_protocol(Some("2026-7-28")));
        assert!(!is_modern_protocol(None));
    }

    #[test]
    fn a_legacy_response_loses_the_result_type_the_client_never_saw() {
        let mut legacy = serde_json::json!({"resultType": "complete", "content": []});
        strip_legacy_result_type(&mut legacy, Some("2025-11-25"));
        assert!(legacy.get("resultType").is_none());
        let mut modern = serde_json::json!({"resultType": "complete", "content": []});
        strip_legacy_result_type(&mut modern, Some("2026-07-28"));
        assert_eq!(modern["resultType"], "complete");
    }
}

#[cfg(test)]
mod encode_tests {
    use super::*;
    use crate::encode::{KEPT_STRING_CHARS, TRUNCATION_MARKER, encode_bounded};

    fn worker_view(value: &Value) -> Value {
        let mut value = value.clone();
        privacy::sanitize_response(&mut value);
        privacy::bound(&mut value, DEPTH);
        value
    }

    #[test]
    fn small_values_encode_as_serde_json_does() {
        let value = json!({"a": 1, "b": [true, null, "x\n\"y\""], "c": {"d": 2.5}});
        assert_eq!(
            encode_bounded(&value).unwrap(),
            serde_json::to_vec(&value).unwrap()
        );
    }

    #[test]
    fn a_huge_string_is_cut_and_the_worker_marks_it_as_before() {
        let text = "word ".repeat(200_000);
        let value = json!({"content": [{"type": "text", "text": text}], "k": "é\t".repeat(40_000)});
        let encoded = encode_bounded(&value).unwrap();
        assert!(encoded.len() < 4 * KEPT_STRING_CHARS);
        let parsed: Value = serde_json::from_slice(&encoded).unwrap();
        let cut = parsed["content"][0]["text"].as_str().unwrap();
        assert_eq!(
            cut.chars().count(),
            KEPT_STRING_CHARS + TRUNCATION_MARKER.len()
        );
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert_eq!(worker_view(&parsed), worker_view(&value));
    }

    #[test]
    fn a_cut_base64_string_keeps_its_shape_for_the_binary_gate() {
        let value = json!({ "blob": "QUJD".repeat(100_000) });
        let parsed: Value = serde_json::from_slice(&encode_bounded(&value).unwrap()).unwrap();
        assert_eq!(parsed["blob"].as_str().unwrap().len(), KEPT_STRING_CHARS);
        assert_eq!(worker_view(&parsed), worker_view(&value));
        assert_eq!(worker_view(&parsed)["blob"], privacy::BINARY_STUB);
    }

    #[test]
    fn keys_are_never_cut() {
        let key = "k".repeat(KEPT_STRING_CHARS + 10);
        let mut map = Map::new();
        map.insert(key.clone(), Value::from(1));
        let parsed: Value =
            serde_json::from_slice(&encode_bounded(&Value::Object(map)).unwrap()).unwrap();
        assert_eq!(parsed[&key], 1);
    }
}
#[cfg(test)]
#[test]
fn the_record_stays_small_enough_to_move_cheaply() {
    // The record lives in its pooled job box (`PooledRecord`, 128 boxes at most), which glibc serves from its
    // per-thread cache only below about 1 KB. What most requests lack is boxed (pipeline.rs, `RequestRecord`); a
    // new field that is not belongs behind a `Box` too.
    let size = std::mem::size_of::<RequestRecord>();
    assert!(size <= 640, "RequestRecord is {size} bytes");
}
