//! Inputs at the extremes: JSON nested 100,000 levels deep and a single 50 MB string.

use chrono::Utc;
use posthog_mcp::event::Payload;
use posthog_mcp::privacy::{
    BINARY_STUB, MAX_DEPTH, MAX_EVENT_BYTES, bound, drop_deep, fit_budget, free_text,
    generic_string, payload_len, redact_fields, sanitize_parameters, sanitize_response,
};
use serde_json::{Map, Value, json};

const DEEP: usize = 100_000;
const FIFTY_MB: usize = 50 * 1024 * 1024;

/// Arrays and objects alternating, `levels` deep, with a secret at the bottom. Built without recursion
/// (serde_json's parser stops at 128 levels).
fn deep_value(levels: usize) -> Value {
    let mut value = json!({"password": "hunter2", "note": "phc_abcdefghijklmnopqrstuvwxyz123"});
    for level in 0..levels {
        value = if level % 2 == 0 {
            Value::Array(vec![value])
        } else {
            let mut map = Map::new();
            map.insert("next".into(), value);
            Value::Object(map)
        };
    }
    value
}

fn depth_of(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// Finds the leaf object at the bottom of `deep_value`.
fn bottom(value: &Value) -> &Value {
    let mut cursor = value;
    loop {
        cursor = match cursor {
            Value::Array(items) => &items[0],
            Value::Object(map) if map.contains_key("next") => &map["next"],
            _ => return cursor,
        };
    }
}

#[test]
fn json_nested_100000_levels_deep_is_sanitized_without_overflowing_the_stack() {
    let mut value = deep_value(DEEP);
    redact_fields(&mut value, &["note"]);
    sanitize_parameters(&mut value);
    sanitize_response(&mut value);
    // The nesting limit comes before the passes, so what lay below level ten is gone before any string is read.
    assert_eq!(depth_of(&value), MAX_DEPTH);
    assert_eq!(bottom(&value), &json!("[Object]"));
    drop_deep(value);
}

#[test]
fn json_nested_100000_levels_deep_is_bounded_to_depth_ten() {
    let mut value = deep_value(DEEP);
    bound(&mut value, MAX_DEPTH);
    assert_eq!(depth_of(&value), MAX_DEPTH);
    // The root (level 0) is an object, and levels alternate, so level 10 is an object too.
    assert!(value.is_object());
    assert_eq!(bottom(&value), &json!("[Object]"));
    drop_deep(value);
}

#[test]
fn a_payload_holding_json_100000_levels_deep_is_measured_and_fitted() {
    for main in [true, false] {
        let mut payload = Payload::new("$mcp_tool_call", "user-1", Utc::now());
        payload
            .properties
            .insert("$mcp_response".into(), deep_value(DEEP));
        payload.properties.insert("custom".into(), deep_value(DEEP));
        assert!(payload_len(&payload) > MAX_EVENT_BYTES);
        fit_budget(&mut payload, main);
        assert!(payload_len(&payload) <= MAX_EVENT_BYTES);
        for (_, value) in std::mem::take(&mut payload.properties) {
            drop_deep(value);
        }
    }
}

#[test]
fn a_50_mb_string_of_prose_is_sanitized_and_bounded() {
    let mut text = "lorem ipsum dolor sit amet, ".repeat(FIFTY_MB / 28);
    text.push_str("https://user:pw@example.com/?token=abc phc_abcdefghijklmnopqrstuvwxyz123");
    let sanitized = generic_string(&text);
    assert!(sanitized.ends_with("https://[redacted]@example.com/?token=[redacted] [redacted]"));
    let mut value = json!({"note": sanitized.into_owned()});
    bound(&mut value, MAX_DEPTH);
    assert_eq!(value["note"].as_str().unwrap().chars().count(), 32_768);
}

#[test]
fn a_50_mb_base64_string_becomes_the_binary_stub_in_both_passes() {
    let blob = "QUJD".repeat(FIFTY_MB / 4);
    assert_eq!(generic_string(&blob), BINARY_STUB);
    assert_eq!(free_text(&blob), BINARY_STUB);
    let mut value = json!({"data": blob});
    sanitize_parameters(&mut value);
    assert_eq!(value["data"], BINARY_STUB);
}

#[test]
fn a_50_mb_intent_gets_the_free_text_pass() {
    let mut text = "call me ".repeat(FIFTY_MB / 8);
    text.push_str("at jane@example.com");
    let output = free_text(&text);
    assert!(output.ends_with("at [redacted]"));
}

#[test]
fn idempotence_has_one_known_exception_taken_from_the_vectors() {
    // Vector 223 percent-decodes a token out of the host; vector 105 then redacts the resulting unparseable host.
    // Both outputs are mandated, so a second pass over this one shape changes it again.
    let once = generic_string("https://u:p@%70hx_123456789012345678901234567890.example.com/")
        .into_owned();
    assert_eq!(once, "https://[redacted]@[redacted].example.com/");
    assert_eq!(generic_string(&once), "[redacted]");
}

#[test]
fn a_50_mb_string_leaf_is_sanitized_at_the_cost_of_one_at_the_limit() {
    let mut text = r#"{"user":"ada","password":"hunter2"} "#.to_owned();
    text.push_str(&"lorem ipsum dolor sit amet, ".repeat(FIFTY_MB / 28));
    let mut value = json!({"note": text});
    sanitize_parameters(&mut value);
    let note = value["note"].as_str().unwrap();
    assert!(note.starts_with(r#"{"user":"ada","password":"[redacted]"} lorem"#));
    assert_eq!(note.chars().count(), 32_768);
}
