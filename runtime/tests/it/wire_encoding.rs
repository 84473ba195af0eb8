//! The batch item the crate writes by hand (`Payload::write_json`) is byte for byte what serde_json writes for the
//! same payload, for any event name, distinct id, property tree and timestamp: PostHog parses what serde_json
//! would have sent, and the event budget measured on serde_json's length holds for the bytes that leave.

use chrono::{DateTime, TimeZone, Utc};
use posthog_mcp::Payload;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings with every kind of character JSON treats specially: quotes, backslashes, each control character,
/// DEL, multi-byte text and long plain runs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z_$]{0,40}",
        "[\"\\\\\u{0}-\u{1f}\u{7f}a é€😀]{0,24}",
        ("[a-z ]{200,600}", "[\"\\\\\n\u{1}]?").prop_map(|(run, tail)| run + &tail),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Any instant chrono can hold, years −262,143 to 262,142 included (the fast timestamp path covers 0–9999).
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    prop_oneof![(0i64..253_402_300_800_000), (min..=max),]
        .prop_map(|millis| Utc.timestamp_millis_opt(millis).unwrap())
}

fn payload() -> impl Strategy<Value = Payload> {
    (
        text(),
        text(),
        prop::collection::vec((text(), json()), 0..12),
        instant(),
    )
        .prop_map(|(event, distinct_id, properties, at)| {
            let mut payload = Payload::new(event, distinct_id, at);
            payload.properties = properties.into_iter().collect();
            payload
        })
}

proptest! {
    #[test]
    fn a_written_batch_item_is_what_serde_json_writes(payload in payload()) {
        let mut written = b"[".to_vec();
        payload.write_json(&mut written);
        let written = &written[1..];
        prop_assert_eq!(written, &serde_json::to_vec(&payload.to_json()).unwrap()[..]);
        prop_assert_eq!(written, &serde_json::to_vec(&payload).unwrap()[..]);
        prop_assert_eq!(payload.encoded_len(), written.len());
    }
}

#[test]
fn a_string_needing_an_escape_anywhere_is_escaped_there() {
    let at = Utc.timestamp_millis_opt(1_764_000_000_123).unwrap();
    for text in [
        "\"",
        "a\\",
        "\u{0}",
        "\u{1f}",
        "tab\there",
        "\u{7f}",
        "end\n",
    ] {
        let mut payload = Payload::new(text, text, at);
        payload.properties.insert(text.into(), Value::from(text));
        let mut written = Vec::new();
        payload.write_json(&mut written);
        let parsed: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(parsed["event"], text, "{text:?}");
        assert_eq!(parsed["properties"][text], text, "{text:?}");
        assert_eq!(written, serde_json::to_vec(&payload).unwrap(), "{text:?}");
    }
}
