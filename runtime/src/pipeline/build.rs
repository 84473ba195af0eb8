//! Steps 4–8 on the delivery worker: a record becomes its payloads (`$identify` when an identity is announced,
//! the main event, `$exception` for a failed call, `$ai_span` for a traced tool call), each passed through
//! `before_send` and then labelled. Custom events, built elsewhere, take the last two steps only ([`finish`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::handover::TraceIds;
use super::properties::{
    added_properties, attribution_properties, base_properties, call_properties, parameters,
    resource_name, response_properties, set_properties,
};
use super::record::RequestRecord;
use crate::event::{
    BeforeSend, ErrorInfo, LIB_NAME, LIB_VERSION, LIB_VERSION_MAJOR, LIB_VERSION_MINOR,
    LIB_VERSION_PATCH, MCP_INTERFACE, Payload, names,
};
use crate::identity::Identity;
use crate::privacy;

/// What the worker needs besides the record.
#[derive(Clone, Default)]
pub(crate) struct PipelineSettings {
    pub exception_autocapture: bool,
    /// `Builder::llm_traces`: an `$ai_span` for each tool call with a trace id.
    pub llm_traces: bool,
    pub before_send: Option<BeforeSend>,
    /// `$mcp_server_build` on every payload.
    pub server_build: Option<std::sync::Arc<str>>,
}

fn timestamp(at: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(at)
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
            crate::once::warn_once!(
                "build failed",
                event,
                "posthog-mcp: building this request's events failed; they were dropped (later ones are logged at \
                 debug level)"
            );
            Vec::new()
        }
    }
}

/// Steps 7–8 for payloads built elsewhere (custom events): `before_send`, then labels. A tool call that the hook
/// drops takes its `$exception` with it: the exception describes that call and nothing else.
pub(crate) fn finish(payloads: Vec<Payload>, settings: &PipelineSettings) -> Vec<Payload> {
    let mut call_dropped = false;
    payloads
        .into_iter()
        .filter_map(|payload| {
            if call_dropped && payload.event == names::EXCEPTION {
                return None;
            }
            let is_call = payload.event == names::TOOL_CALL;
            let payload = match &settings.before_send {
                None => Some(payload),
                Some(hook) => {
                    let event = payload.event.clone();
                    catch_unwind(AssertUnwindSafe(|| hook(payload))).unwrap_or_else(|_| {
                        crate::once::warn_once!(
                            "before_send panicked",
                            event,
                            "posthog-mcp: the before_send hook panicked; that payload was dropped (later ones are logged at \
                             debug level)"
                        );
                        None
                    })
                }
            };
            call_dropped |= is_call && payload.is_none();
            payload.map(|payload| label(payload, settings.server_build.as_deref()))
        })
        .collect()
}

/// Step 8, the library labels and the server's build: written after `before_send`, so hooks never lose them.
fn label(mut payload: Payload, server_build: Option<&str>) -> Payload {
    let props = &mut payload.properties;
    if let Some(build) = server_build {
        props.insert("$mcp_server_build".into(), Value::from(build));
    }
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
        payloads.push(identify_payload(&record, identity, announce.at));
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
        names::UNKNOWN_TOOL | names::INPUT_REQUIRED => None,
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

/// `$identify` carries the identity and nothing of the request: the person, its groups and properties, the
/// session it merges (`$anon_distinct_id`), and who the client and server are. Never the arguments or the result.
fn identify_payload(record: &RequestRecord, identity: &Identity, at: SystemTime) -> Payload {
    let session_id = &*record.session_id;
    let mut payload = Payload::new(names::IDENTIFY, identity.distinct_id.clone(), timestamp(at));
    let mut props = Map::new();
    props.insert("$mcp_interface".into(), Value::from(MCP_INTERFACE));
    props.insert("$session_id".into(), Value::from(session_id));
    if !identity.groups.is_empty() {
        props.insert("$groups".into(), json!(identity.groups));
    }
    if session_id != identity.distinct_id {
        props.insert("$anon_distinct_id".into(), Value::from(session_id));
    }
    attribution_properties(&mut props, &record.attribution);
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
    props.insert("$exception_source".into(), Value::from("mcp.tool_call"));
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
