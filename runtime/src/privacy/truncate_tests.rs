//! Unit tests of `truncate`, in a file of their own so that the module's file holds its code.

use chrono::Utc;
use serde_json::json;

use super::*;

#[test]
fn the_last_resort_keeps_the_error_message_and_the_tool_name() {
    let mut payload = Payload::new("$mcp_tool_call", "d", Utc::now());
    for n in 0..400 {
        payload
            .properties
            .insert(format!("host_{n}"), json!("h".repeat(1_000)));
    }
    payload
        .properties
        .insert("$mcp_error_message".into(), json!("upstream timed out"));
    payload
        .properties
        .insert("$mcp_tool_name".into(), json!("query"));
    last_resort(&mut payload);
    assert!(payload_len(&payload) <= MAX_EVENT_BYTES);
    assert_eq!(payload.properties["$mcp_error_message"], "upstream timed out");
    assert_eq!(payload.properties["$mcp_tool_name"], "query");
}

#[test]
fn truncation_counts_chars_and_the_marker_counts_inside_the_limit() {
    assert_eq!(truncate("héllo wörld", 8), "héllo...");
    assert_eq!(truncate("héllo wörld", 11), "héllo wörld");
    assert_eq!(truncate("héllo wörld!", 11), "héllo wö...");
    assert_eq!(truncate("héllo", 5), "héllo");
    assert_eq!(truncate("日本語テキスト", 6), "日本語...");
    assert_eq!(truncate("日本語テキスト", 7), "日本語テキスト");
}

#[test]
fn a_limit_shorter_than_the_marker_keeps_that_many_characters() {
    assert_eq!(truncate("héllo", 0), "");
    assert_eq!(truncate("héllo", 1), "h");
    assert_eq!(truncate("héllo", 2), "hé");
    assert_eq!(truncate("héllo", 3), "...");
    assert_eq!(truncate("hé", 2), "hé");
}

#[test]
fn strings_over_the_cap_are_cut_and_exactly_the_cap_is_kept() {
    let mut value = json!([
        "a".repeat(MAX_STRING_CHARS),
        "é".repeat(MAX_STRING_CHARS + 1)
    ]);
    bound(&mut value, MAX_DEPTH);
    assert_eq!(value[0].as_str().unwrap().chars().count(), MAX_STRING_CHARS);
    assert_eq!(value[1].as_str().unwrap().chars().count(), MAX_STRING_CHARS);
    assert!(value[1].as_str().unwrap().ends_with(MARKER));
}

#[test]
fn containers_at_remaining_depth_zero_collapse() {
    let mut value = json!({"a": {"b": [1, {"c": 2}]}});
    bound(&mut value, 2);
    assert_eq!(value, json!({"a": {"b": "[Array]"}}));
    let mut value = json!({"a": {"b": {}}});
    bound(&mut value, 1);
    assert_eq!(value, json!({"a": "[Object]"}));
}

#[test]
fn levels_zero_to_nine_keep_their_shape_at_depth_ten() {
    let mut value = json!(1);
    for _ in 0..11 {
        value = json!([value]);
    }
    bound(&mut value, MAX_DEPTH);
    let mut cursor = &value;
    for _ in 0..10 {
        cursor = &cursor[0];
    }
    assert_eq!(cursor, &json!("[Array]"));
}

#[test]
fn breadth_keeps_the_first_hundred_and_marks_the_rest() {
    let mut value = json!({"list": (0..150).collect::<Vec<_>>()});
    let mut object = Map::new();
    for i in 0..120 {
        object.insert(format!("k{i}"), json!(i));
    }
    value["object"] = Value::Object(object);
    bound(&mut value, MAX_DEPTH);
    let list = value["list"].as_array().unwrap();
    assert_eq!(list.len(), 101);
    assert_eq!(list[99], 99);
    assert_eq!(list[100], MAX_PROPERTIES);
    let object = value["object"].as_object().unwrap();
    assert_eq!(object.len(), 101);
    assert_eq!(object.keys().nth(99).unwrap(), "k99");
    assert_eq!(object["..."], MAX_PROPERTIES);
}

#[test]
fn json_len_matches_serde_json() {
    let value = json!({"a\n\u{1}": [1, -2.5, 1e300, null, true, false, "x\"\\é\u{7f}"], "b": {}, "c": []});
    assert_eq!(json_len(&value), serde_json::to_vec(&value).unwrap().len());
    let integers = json!([
        0,
        9,
        10,
        99,
        100,
        -1,
        -9,
        -10,
        u64::MAX,
        i64::MIN,
        i64::MAX,
        0.5,
        -0.0
    ]);
    assert_eq!(
        json_len(&integers),
        serde_json::to_vec(&integers).unwrap().len()
    );
    for text in [
        "",
        "plain",
        "tab\there",
        "\u{1f}",
        "\"",
        "\\",
        "é€😀",
        "\u{7f}\u{0}",
    ] {
        let value = json!(text);
        assert_eq!(
            json_len(&value),
            serde_json::to_vec(&value).unwrap().len(),
            "{text:?}"
        );
    }
}

#[test]
fn payload_len_matches_the_encoded_payload() {
    let mut payload = Payload::new("$mcp_tool_call", "user-1", Utc::now());
    payload
        .properties
        .insert("$mcp_parameters".into(), json!({"x": [1, 2, "three"]}));
    assert_eq!(payload_len(&payload), payload.encoded_len());
    let empty = Payload::new("e", "", Utc::now());
    assert_eq!(payload_len(&empty), empty.encoded_len());
    for year in [0, 9999, 10_000, -1] {
        let at = chrono::NaiveDate::from_ymd_opt(year, 1, 2)
            .unwrap()
            .and_hms_milli_opt(3, 4, 5, 6)
            .unwrap()
            .and_utc();
        let payload = Payload::new("e", "u", at);
        assert_eq!(payload_len(&payload), payload.encoded_len(), "year {year}");
    }
}

#[test]
fn the_ladder_collapses_deep_structure_before_cutting_strings() {
    let mut payload = Payload::new("$mcp_tool_call", "u", Utc::now());
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"deep": {"text": "x".repeat(2_000), "i": i}}))
        .collect();
    payload.properties.insert(
        "$mcp_response".into(),
        json!({"items": items, "nextCursor": "abc"}),
    );
    payload
        .properties
        .insert("$session_id".into(), json!("s".repeat(300)));
    fit_budget(&mut payload, true);
    assert!(payload.encoded_len() <= MAX_EVENT_BYTES);
    assert_eq!(payload.properties["$mcp_response"]["nextCursor"], "abc");
    assert_eq!(payload.properties["$session_id"], json!("s".repeat(300)));
}

#[test]
fn non_main_payloads_only_get_their_strings_cut() {
    let mut payload = Payload::new("$exception", "u", Utc::now());
    payload.properties.insert(
        "$exception_list".into(),
        json!([{"value": "v".repeat(200_000), "deep": {"a": {}}}]),
    );
    payload
        .properties
        .insert("$mcp_source".into(), json!("m".repeat(500)));
    fit_budget(&mut payload, false);
    assert!(payload.encoded_len() <= MAX_EVENT_BYTES);
    assert_eq!(
        payload.properties["$exception_list"][0]["deep"],
        json!({"a": {}})
    );
    assert_eq!(payload.properties["$mcp_source"], json!("m".repeat(500)));
    assert!(
        payload.properties["$exception_list"][0]["value"]
            .as_str()
            .unwrap()
            .ends_with(MARKER)
    );
}

#[test]
fn a_payload_within_the_budget_is_untouched() {
    let mut payload = Payload::new("$mcp_tool_call", "u", Utc::now());
    payload.properties.insert(
        "$mcp_response".into(),
        json!({"a": {"b": {"c": "x".repeat(1_000)}}}),
    );
    let before = payload.clone();
    fit_budget(&mut payload, true);
    assert_eq!(payload, before);
}

#[test]
fn keys_over_256_characters_are_cut_and_strings_are_left_to_the_passes() {
    let long_key = "k".repeat(300);
    let mut value = json!({ long_key: "v".repeat(40_000), "short": 1 });
    bound_structure(&mut value, MAX_DEPTH);
    let object = value.as_object().unwrap();
    let key = object.keys().next().unwrap();
    assert_eq!(
        key,
        &format!("{}{MARKER}", "k".repeat(MAX_KEY_CHARS - MARKER.len()))
    );
    assert_eq!(object[key].as_str().unwrap().len(), 40_000);
    assert_eq!(object["short"], 1);
}
