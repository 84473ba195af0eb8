//! W3C trace context in: the `traceparent` (and its `tracestate`) a request carries in its `_meta` (SEP-414, the
//! form MCP clients use for OpenTelemetry propagation) or, over HTTP, in its headers. `_meta` wins; a value that
//! is not a valid `traceparent` is ignored, never an error and never a panic (fuzzed: `fuzz/fuzz_targets/
//! trace_context.rs`). The ids cross to the worker as two integers, so no allocation does.

use rmcp::model::RequestMetaObject;

use super::attribution::first_header;
use crate::pipeline::TraceIds;

/// The longest `tracestate` kept (W3C: 32 members of at most 256 characters; 512 is what vendors must propagate).
const TRACESTATE_MAX: usize = 512;

/// The trace context of one request: the incoming trace, the caller's span and its `tracestate`. The request
/// path needs only the ids (`ids`); the whole context is for the fuzz target and tests (`__internals`).
#[cfg_attr(not(feature = "__internals"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id and the parent (caller's) span id.
    pub ids: TraceIds,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
    /// The `tracestate` sent with this `traceparent`, when it is printable ASCII of at most 512 characters.
    pub tracestate: Option<String>,
}

/// Parses a W3C `traceparent`: `version-traceid-parentid-flags`, lowercase hex, neither id all zeros, version
/// `ff` invalid. Version `00` is exactly 55 characters; a later version may append `-…` fields (kept unread).
pub fn parse_traceparent(value: &str) -> Option<(TraceIds, u8)> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let bytes = value.as_bytes();
    if bytes.len() < 55 || !value.is_ascii() {
        return None;
    }
    let version = hex(&value[0..2])? as u8;
    if version == 0xff
        || (version == 0 && bytes.len() != 55)
        || (bytes.len() > 55 && bytes[55] != b'-')
    {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = hex(&value[3..35])?;
    let parent_span_id = u64::try_from(hex(&value[36..52])?).ok()?;
    let flags = hex(&value[53..55])? as u8;
    (trace_id != 0 && parent_span_id != 0).then_some((
        TraceIds {
            trace_id,
            parent_span_id,
        },
        flags,
    ))
}

/// Lowercase hex of at most 32 digits (W3C forbids uppercase).
fn hex(digits: &str) -> Option<u128> {
    if digits.is_empty()
        || digits.len() > 32
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    u128::from_str_radix(digits, 16).ok()
}

#[cfg_attr(not(feature = "__internals"), allow(dead_code))]
fn tracestate(value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    (!value.is_empty()
        && value.len() <= TRACESTATE_MAX
        && value.bytes().all(|b| (0x20..0x7f).contains(&b)))
    .then(|| value.to_owned())
}

/// The trace context of a request: `_meta`'s `traceparent` when it is valid, else the HTTP `traceparent` header
/// when it is; the `tracestate` comes from the same place as the `traceparent` it goes with.
#[cfg_attr(not(feature = "__internals"), allow(dead_code))]
pub fn extract(
    meta: &RequestMetaObject,
    headers: Option<&[(String, String)]>,
) -> Option<TraceContext> {
    let from_meta = meta
        .get_traceparent()
        .and_then(parse_traceparent)
        .map(|parsed| (parsed, meta.get_tracestate()));
    let (parsed, state) = from_meta.or_else(|| {
        let parsed = first_header(headers, "traceparent").and_then(parse_traceparent)?;
        Some((parsed, first_header(headers, "tracestate")))
    })?;
    Some(TraceContext {
        ids: parsed.0,
        flags: parsed.1,
        tracestate: tracestate(state),
    })
}

/// The ids only, for the request record (no allocation).
pub(crate) fn ids(
    meta: &RequestMetaObject,
    headers: Option<&[(String, String)]>,
) -> Option<TraceIds> {
    let from_meta = meta.get_traceparent().and_then(parse_traceparent);
    from_meta
        .or_else(|| first_header(headers, "traceparent").and_then(parse_traceparent))
        .map(|(ids, _)| ids)
}

/// The `tracing` span of one captured MCP request, named and attributed after the OpenTelemetry semantic
/// conventions for MCP (`docs/traces.md`). Fields known later are recorded by the adapter. Created with
/// `info_span!`: with no subscriber interested it is a disabled span and nothing else is done.
pub(crate) fn request_span(
    method: &'static str,
    target: Option<&str>,
    meta: &RequestMetaObject,
    headers: Option<&[(String, String)]>,
    request_id: Option<&serde_json::Value>,
) -> tracing::Span {
    let span = tracing::info_span!(
        target: "posthog_mcp::request",
        "mcp.server.request",
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        mcp.method.name = method,
        gen_ai.tool.name = tracing::field::Empty,
        gen_ai.operation.name = tracing::field::Empty,
        jsonrpc.request.id = tracing::field::Empty,
        mcp.session.id = tracing::field::Empty,
        mcp.protocol.version = tracing::field::Empty,
        error.type = tracing::field::Empty,
        trace.parent.trace_id = tracing::field::Empty,
        trace.parent.span_id = tracing::field::Empty,
    );
    if span.is_disabled() {
        return span;
    }
    match target {
        Some(target) => span.record("otel.name", format!("{method} {target}").as_str()),
        None => span.record("otel.name", method),
    };
    if method == "tools/call"
        && let Some(target) = target
    {
        span.record("gen_ai.tool.name", target);
        span.record("gen_ai.operation.name", "execute_tool");
    }
    match request_id {
        Some(serde_json::Value::String(id)) => {
            span.record("jsonrpc.request.id", id.as_str());
        }
        Some(id) => {
            span.record("jsonrpc.request.id", id.to_string().as_str());
        }
        None => {}
    }
    if let Some(ids) = self::ids(meta, headers) {
        span.record(
            "trace.parent.trace_id",
            format!("{:032x}", ids.trace_id).as_str(),
        );
        span.record(
            "trace.parent.span_id",
            format!("{:016x}", ids.parent_span_id).as_str(),
        );
    }
    span
}

/// Records what the request layer resolved: the session and the protocol version.
pub(crate) fn record_resolved(span: &tracing::Span, record: &crate::pipeline::RequestRecord) {
    if span.is_disabled() {
        return;
    }
    span.record("mcp.session.id", &*record.session_id);
    if let Some(version) = record.attribution.protocol_version.as_deref() {
        span.record("mcp.protocol.version", version);
    }
}

/// Records `error.type` of how the handler ended: the JSON-RPC error code, `tool_error` for a result that
/// `is_tool_error` says is one (`isError: true`), or `panic`.
pub(crate) fn record_outcome<R>(
    span: &tracing::Span,
    outcome: &std::thread::Result<Result<R, rmcp::ErrorData>>,
    is_tool_error: impl FnOnce(&R) -> bool,
) {
    if span.is_disabled() {
        return;
    }
    match outcome {
        Ok(Ok(result)) if is_tool_error(result) => {
            span.record("error.type", "tool_error");
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            span.record("error.type", error.code.0.to_string().as_str());
        }
        Err(_) => {
            span.record("error.type", "panic");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_valid_traceparent_gives_its_trace_and_parent_span() {
        let (ids, flags) = parse_traceparent(VALID).unwrap();
        assert_eq!(ids.trace_id, 0x0af7651916cd43dd8448eb211c80319c);
        assert_eq!(ids.parent_span_id, 0xb7ad6b7169203331);
        assert_eq!(flags, 1);
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01",
            "00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "é0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_may_append_fields() {
        let later = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future";
        assert!(parse_traceparent(later).is_some());
    }

    #[test]
    fn meta_wins_over_the_header_and_an_invalid_meta_falls_back_to_it() {
        let other = "00-11111111111111111111111111111111-2222222222222222-00";
        let headers = vec![
            ("traceparent".to_owned(), other.to_owned()),
            ("tracestate".to_owned(), "h=1".to_owned()),
        ];
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent(VALID);
        meta.set_tracestate("m=1");
        let context = extract(&meta, Some(&headers)).unwrap();
        assert_eq!(context.ids.parent_span_id, 0xb7ad6b7169203331);
        assert_eq!(context.tracestate.as_deref(), Some("m=1"));

        let mut invalid = RequestMetaObject::new();
        invalid.set_traceparent("garbage");
        let context = extract(&invalid, Some(&headers)).unwrap();
        assert_eq!(context.ids.parent_span_id, 0x2222222222222222);
        assert_eq!(context.tracestate.as_deref(), Some("h=1"));
        assert_eq!(ids(&invalid, Some(&headers)), Some(context.ids));
        assert_eq!(extract(&invalid, None), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_on_arbitrary_strings(input in ".{0,120}") {
            let _ = parse_traceparent(&input);
            let mut meta = RequestMetaObject::new();
            meta.set_traceparent(input.clone());
            meta.set_tracestate(input.clone());
            let headers = vec![("traceparent".to_owned(), input.clone())];
            let _ = extract(&meta, Some(&headers));
        }

        #[test]
        fn parsing_never_panics_on_traceparent_shaped_strings(
            input in "[0-9a-fA-F-]{0,3}-[0-9a-fA-Fx]{30,34}-[0-9a-f]{14,17}-[0-9a-f]{1,3}.{0,4}"
        ) {
            if let Some((ids, _)) = parse_traceparent(&input) {
                proptest::prop_assert!(ids.trace_id != 0 && ids.parent_span_id != 0);
                proptest::prop_assert_eq!(input.trim().len() >= 55, true);
            }
        }

        #[test]
        fn every_valid_traceparent_round_trips(trace in 1u128.., parent in 1u64.., flags: u8) {
            let text = format!("00-{trace:032x}-{parent:016x}-{flags:02x}");
            let (ids, parsed_flags) = parse_traceparent(&text).unwrap();
            proptest::prop_assert_eq!((ids.trace_id, ids.parent_span_id, parsed_flags), (trace, parent, flags));
        }
    }
}
