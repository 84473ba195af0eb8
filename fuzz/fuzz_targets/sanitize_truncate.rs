//! Any bytes: the string passes on the text, and, when the bytes are JSON, the sanitize and truncate passes on the
//! value and on a payload holding it. Nothing may panic, and the payload must fit the budget.

#![no_main]

use chrono::Utc;
use libfuzzer_sys::fuzz_target;
use posthog_mcp::event::Payload;
use posthog_mcp::privacy::{
    MAX_DEPTH, MAX_EVENT_BYTES, bound, drop_deep, fit_budget, free_text, generic_string,
    payload_len, redact_fields, sanitize_parameters, sanitize_response, truncate,
};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = generic_string(text);
    let _ = free_text(text);
    let _ = truncate(text, data.len() % 64);

    let value: Value =
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    let mut parameters = value.clone();
    redact_fields(&mut parameters, &["note"]);
    sanitize_parameters(&mut parameters);
    bound(&mut parameters, MAX_DEPTH);
    let mut response = value;
    sanitize_response(&mut response);
    bound(&mut response, MAX_DEPTH);

    for main in [true, false] {
        let mut payload = Payload::new("$mcp_tool_call", "fuzz", Utc::now());
        payload
            .properties
            .insert("$mcp_parameters".into(), parameters.clone());
        payload
            .properties
            .insert("$mcp_response".into(), response.clone());
        fit_budget(&mut payload, main);
        assert!(payload_len(&payload) <= MAX_EVENT_BYTES);
        for (_, value) in std::mem::take(&mut payload.properties) {
            drop_deep(value);
        }
    }
    drop_deep(parameters);
    drop_deep(response);
});
