//! Any text as a request's `_meta` `traceparent`/`tracestate` or HTTP headers (issue 15, item 1): the parser
//! returns a trace context or `None`, never panics, and whatever it accepts has non-zero ids.

#![no_main]

use libfuzzer_sys::fuzz_target;
use posthog_mcp::trace_context::{extract, parse_traceparent};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((ids, _)) = parse_traceparent(text) {
        assert!(ids.trace_id != 0 && ids.parent_span_id != 0);
    }
    let mut middle = text.len() / 2;
    while !text.is_char_boundary(middle) {
        middle -= 1;
    }
    let (first, second) = text.split_at(middle);
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.insert("traceparent".into(), serde_json::Value::from(first));
    meta.insert("tracestate".into(), serde_json::Value::from(second));
    let headers = vec![
        ("traceparent".to_owned(), second.to_owned()),
        ("tracestate".to_owned(), first.to_owned()),
    ];
    let _ = extract(&meta, Some(&headers));
    let _ = extract(&rmcp::model::RequestMetaObject::new(), Some(&headers));
});
