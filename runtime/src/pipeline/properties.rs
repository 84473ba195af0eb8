//! The properties payloads are assembled from, in the main event's assembly order (a later write replaces an
//! earlier one): the base properties, what the call was and how it went, the parameters, the response, `$set`,
//! then what the host added. Values from the request, the agent and the identity are sanitized and capped as they
//! are written; what the host added is written as given. Custom events reuse the base properties, the attribution
//! and `$set`.

use serde_json::{Map, Value, json};

use super::handover::{Attribution, TraceIds};
use super::record::RequestRecord;
use crate::event::{MCP_INTERFACE, MCP_SOURCE, names};
use crate::identity::Identity;
use crate::privacy;

const CAP_NAME: usize = 256;
const CAP_TEXT: usize = 2048;
const DEPTH: usize = 10;
/// Room for the properties of one main event (a tool call has about 25, before the labels of step 8).
const PROPERTY_CAPACITY: usize = 32;

fn put_str(props: &mut Map<String, Value>, key: &str, value: Option<&str>, cap: usize) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        props.insert(
            key.to_owned(),
            Value::String(privacy::truncate(value, cap).into_owned()),
        );
    }
}

/// The properties every event starts with, in assembly order: `$mcp_source`, `$mcp_interface`, `$session_id`,
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
    props.insert("$mcp_interface".into(), Value::from(MCP_INTERFACE));
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

pub(super) fn resource_name(name: &str) -> Value {
    Value::String(privacy::generic_limited(name, CAP_NAME))
}

/// `{"request": {"method", "params"}}`, sanitized and bounded. The params keep what the agent asked for and
/// nothing the protocol carries around it: a tool call's are only its `name` and `arguments` (`{}` when it sent
/// none), and no request's keep `_meta` or a retry's `inputResponses` and `requestState`, which carry the user's
/// answers and the server's state.
pub(super) fn parameters(record: &RequestRecord, params: Option<Value>) -> Value {
    let mut request = Map::new();
    request.insert("method".into(), Value::from(record.method));
    if let Some(mut params) = params {
        if let Some(object) = params.as_object_mut() {
            if record.method == "tools/call" {
                object.retain(|key, _| key == "name" || key == "arguments");
                if record.capture.args {
                    object
                        .entry("arguments")
                        .or_insert_with(|| Value::Object(Map::new()));
                }
            } else {
                for key in ["_meta", "inputResponses", "requestState"] {
                    object.remove(key);
                }
            }
        }
        // A request without params of its own (a listing's first page) shows none, however it was dispatched.
        let empty = params.is_null() || params.as_object().is_some_and(Map::is_empty);
        if !empty || record.method == "tools/call" {
            request.insert("params".into(), params);
        }
    }
    // Built directly: `json!` would copy the whole tree through the serializer.
    let mut outer = Map::with_capacity(1);
    outer.insert("request".into(), Value::Object(request));
    let mut value = Value::Object(outer);
    privacy::sanitize_parameters(&mut value);
    privacy::bound(&mut value, DEPTH);
    value
}

/// What the request was and how it went: the tool, the agent's intent and model, the duration, the task and
/// trace it belongs to, the client attribution, and the outcome.
pub(super) fn call_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
    if let Some(tool) = &record.tool {
        if tool.verified {
            put_str(props, "$mcp_tool_name", Some(&tool.name), CAP_NAME);
        } else {
            let name = privacy::free_text_limited(&tool.name, CAP_NAME);
            put_str(props, "$mcp_tool_name", Some(&name), CAP_NAME);
        }
        put_str(
            props,
            "$mcp_tool_description",
            tool.description.as_deref(),
            CAP_TEXT,
        );
        put_str(
            props,
            "$mcp_tool_category",
            tool.category.as_deref(),
            CAP_TEXT,
        );
    }
    if let Some((intent, source)) = record.intent.as_deref() {
        let intent = privacy::free_text_limited(intent, CAP_TEXT);
        props.insert("$mcp_intent".into(), Value::String(intent));
        props.insert("$mcp_intent_source".into(), Value::from(*source));
    }
    if let Some((model, source)) = record.llm_model.as_deref() {
        let model = privacy::generic_limited(model, CAP_NAME);
        put_str(props, "$mcp_llm_model", Some(&model), CAP_NAME);
        props.insert("$mcp_llm_model_source".into(), Value::from(*source));
    }
    props.insert("$mcp_duration_ms".into(), Value::from(record.duration_ms));
    if let Some(names) = record
        .input_keys
        .as_deref()
        .filter(|_| record.event == names::TOOL_CALL)
    {
        props.insert("$mcp_input_keys".into(), json!(names.keys));
        if !names.aliases_used.is_empty() {
            props.insert("$mcp_input_aliases_used".into(), json!(names.aliases_used));
        }
    }
    if let Some(methods) = &record.input_request_methods {
        props.insert("$mcp_input_request_methods".into(), json!(methods));
    }
    if let Some(task_id) = &record.task_id {
        let task_id = privacy::generic_limited(task_id, CAP_NAME);
        put_str(props, "$mcp_task_id", Some(&task_id), CAP_NAME);
    }
    if let Some(trace) = &record.trace {
        trace_properties(props, trace);
    }
    attribution_properties(props, &record.attribution);
    if let Some(is_error) = record.is_error {
        props.insert("$mcp_is_error".into(), Value::Bool(is_error));
        if let (true, Some(error)) = (is_error, &record.error) {
            let error_type = error.label.as_deref().unwrap_or(&error.type_name);
            put_str(props, "$mcp_error_type", Some(error_type), CAP_NAME);
            let message = privacy::generic_limited(&error.message, CAP_TEXT);
            put_str(props, "$mcp_error_message", Some(&message), CAP_TEXT);
            if let Some(status) = error.status {
                props.insert("$mcp_error_status".into(), Value::from(status));
            }
        }
    }
}

/// `$mcp_response` (sanitized, when responses are captured) and, on `tools/list`, the listing's own record.
pub(super) fn response_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
    if record.event == names::TOOLS_LIST {
        listing_properties(props, record);
        return;
    }
    if let Some(response) = record.response.as_ref().filter(|_| record.capture.response) {
        let mut response = response.to_json();
        strip_legacy_result_type(
            &mut response,
            record.attribution.protocol_version.as_deref(),
        );
        if !record.capture.redact.is_empty() {
            privacy::redact_fields(&mut response, record.capture.redact);
        }
        privacy::sanitize_response(&mut response);
        privacy::bound(&mut response, DEPTH);
        props.insert("$mcp_response".into(), response);
    }
}

/// A listing describes the server's catalogue: `$mcp_listed_tool_names` holds the names on the page, and
/// `$mcp_response` only the page's envelope (its cursor, `_meta` and the like), never the tools themselves,
/// whatever the response option says; an empty envelope is left out.
fn listing_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
    let Some(mut response) = record.response.as_ref().map(|r| r.to_json()) else {
        return;
    };
    let tools = response
        .as_object_mut()
        .and_then(|object| object.remove("tools"));
    props.insert("$mcp_listed_tool_names".into(), listed_tool_names(tools));
    strip_legacy_result_type(
        &mut response,
        record.attribution.protocol_version.as_deref(),
    );
    if response
        .as_object()
        .is_some_and(|envelope| !envelope.is_empty())
    {
        privacy::sanitize_response(&mut response);
        privacy::bound(&mut response, DEPTH);
        props.insert("$mcp_response".into(), response);
    }
}

/// What the host added, in order of precedence (later wins): properties the tool set during the call, the
/// `event_properties` hook's, and the feedback tool's.
pub(super) fn added_properties(props: &mut Map<String, Value>, record: &RequestRecord) {
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

fn listed_tool_names(tools: Option<Value>) -> Value {
    let names = match tools {
        Some(Value::Array(tools)) => tools
            .into_iter()
            .filter_map(|mut tool| tool.get_mut("name").map(Value::take))
            .filter(Value::is_string)
            .map(|name| resource_name(name.as_str().unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    };
    Value::Array(names)
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
    fn the_kept_text_holds_everything_the_worker_reads_of_a_long_string() {
        // The worker keeps 32,768 characters of a string and runs its passes on 1,024 more: a credential just
        // inside that window is redacted from the request path's cut text as from the whole value.
        let text = format!(
            "{}{}{}",
            "word ".repeat((32_768 - 100) / 5),
            r#" {"password":"hunter2","api_key":"sk-live-abcdef0123456789"} "#,
            "more ".repeat(40_000)
        );
        let value = json!({ "content": [{ "type": "text", "text": text }] });
        let parsed: Value = serde_json::from_slice(&encode_bounded(&value).unwrap()).unwrap();
        let seen = worker_view(&parsed);
        assert_eq!(seen, worker_view(&value));
        let kept = seen["content"][0]["text"].as_str().unwrap();
        assert!(!kept.contains("hunter2"), "the member's value is redacted");
        assert!(kept.ends_with(TRUNCATION_MARKER) && kept.chars().count() <= 32_768);
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
