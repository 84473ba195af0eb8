//! Property tests over arbitrary JSON and text: the passes never panic, the budget always holds, sanitizing is
//! idempotent, and generated secrets never survive.

use chrono::Utc;
use posthog_mcp::event::Payload;
use posthog_mcp::privacy::{
    MAX_DEPTH, MAX_EVENT_BYTES, bound, fit_budget, free_text, generic_string, payload_len,
    redact_fields, sanitize_parameters, sanitize_response,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Text fragments that exercise every rule: URLs with credentials, tokens, emails, phones, plain words.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,12}",
        "\\PC{0,12}",
        Just("https://user:pw@example.com/p?token=abc&page=2#frag".to_owned()),
        Just("resource:guide?sig=x".to_owned()),
        Just("phc_abcdefghijklmnopqrstuvwxyz123".to_owned()),
        Just("jane@example.com".to_owned()),
        Just("+1 (415) 555-0142".to_owned()),
        Just("4111 1111 1111 1111".to_owned()),
        Just("2001:db8::1".to_owned()),
        Just("[redacted]".to_owned()),
        "[a-z]{1,6}:[a-z/?=&#:]{1,12}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..5).prop_map(|parts| parts.join(" "))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,8}",
        Just("password".to_owned()),
        Just("Token".to_owned()),
        Just("content".to_owned())
    ]
}

fn json(leaf_text: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        leaf_text.prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 12, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..12)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Strings long enough to push a payload over the budget: a fragment repeated up to 4,000 times.
fn long_text() -> BoxedStrategy<String> {
    (fragment(), 1usize..4_000)
        .prop_map(|(part, times)| part.repeat(times))
        .boxed()
}

/// Every value under a key named `password` (any case).
fn values_under_password(value: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (key, child) in map {
                    if key.eq_ignore_ascii_case("password") {
                        found.push(child.clone());
                    } else {
                        stack.push(child);
                    }
                }
            }
            _ => {}
        }
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn string_passes_never_panic_on_any_text(input in any::<String>(), shaped in text()) {
        let _ = generic_string(&input);
        let _ = free_text(&input);
        let _ = generic_string(&shaped);
        let _ = free_text(&shaped);
    }

    #[test]
    fn sanitize_and_truncate_never_panic_on_any_json(value in json(any::<String>().boxed())) {
        let mut parameters = value.clone();
        redact_fields(&mut parameters, &["note", "password"]);
        sanitize_parameters(&mut parameters);
        bound(&mut parameters, MAX_DEPTH);
        let mut response = value;
        sanitize_response(&mut response);
        bound(&mut response, 3);
    }

    #[test]
    fn a_payload_always_fits_the_budget_after_the_ladder(
        parameters in json(long_text()),
        response in json(long_text()),
        extra in long_text(),
        main in any::<bool>(),
    ) {
        let mut payload = Payload::new("$mcp_tool_call", "user-1", Utc::now());
        payload.properties.insert("$session_id".into(), json!("session-1"));
        payload.properties.insert("$mcp_parameters".into(), parameters);
        payload.properties.insert("$mcp_response".into(), response);
        payload.properties.insert("custom".into(), Value::String(extra));
        for field in ["$mcp_parameters", "$mcp_response"] {
            bound(payload.properties.get_mut(field).unwrap(), MAX_DEPTH);
        }
        fit_budget(&mut payload, main);
        let encoded = payload.encoded_len();
        prop_assert_eq!(payload_len(&payload), encoded);
        prop_assert!(encoded <= MAX_EVENT_BYTES, "{} bytes", encoded);
        prop_assert_eq!(&payload.properties["$session_id"], &json!("session-1"));
    }

    #[test]
    fn the_sanitize_pass_is_idempotent(value in json(text().boxed())) {
        let mut once = value;
        sanitize_response(&mut once);
        let mut twice = once.clone();
        sanitize_response(&mut twice);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn no_generated_posthog_token_survives_the_generic_pass(
        value in json(text().boxed()),
        prefix in "[a-z]",
        body in "[A-Za-z0-9_-]{19,40}[A-Za-z0-9]",
        before in prop_oneof![Just(" "), Just("/"), Just("="), Just("\n"), Just("https://x.test/?q=")],
        after in prop_oneof![Just(" "), Just("&x=1"), Just(","), Just("")],
    ) {
        let token = format!("ph{prefix}_{body}");
        let mut holder = json!({"wrapper": [value, {"note": format!("see{before}{token}{after}done")}]});
        sanitize_parameters(&mut holder);
        let serialized = serde_json::to_string(&holder).unwrap();
        prop_assert!(!serialized.contains(&token), "{}", serialized);
    }

    #[test]
    fn no_value_under_a_password_key_survives_the_generic_pass(value in json(text().boxed()), secret in json(text().boxed())) {
        let mut holder = json!({"a": [value, {"b": {"PassWord": secret.clone()}}], "password": secret});
        sanitize_parameters(&mut holder);
        let found = values_under_password(&holder);
        prop_assert!(found.len() >= 2);
        for value in found {
            prop_assert_eq!(value, json!("[redacted]"));
        }
    }

    #[test]
    fn no_generated_email_survives_the_free_text_pass(
        words in prop::collection::vec("[a-zA-Z]{1,8}", 0..6),
        local in "[a-z0-9._%+-]{1,20}",
        domain in "[a-z0-9][a-z0-9-]{0,15}(\\.[a-z0-9-]{1,10})?",
        tld in "[a-z]{2,6}",
        at in 0usize..6,
    ) {
        let email = format!("{local}@{domain}.{tld}");
        let mut words = words;
        words.insert(at.min(words.len()), email.clone());
        let output = free_text(&words.join(" "));
        prop_assert!(!output.contains(&email), "{}", output);
        prop_assert!(!output.contains(&format!("@{domain}.{tld}")), "{}", output);
    }
}
