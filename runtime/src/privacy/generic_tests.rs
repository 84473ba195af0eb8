//! Unit tests of `generic`, in a file of their own so that the module's file holds its code.

use serde_json::json;

use super::*;

#[test]
fn base64_of_exactly_the_gate_length_is_binary_and_one_less_is_not() {
    let exact = "A".repeat(BINARY_MIN_CHARS);
    assert!(is_binary(&exact));
    assert!(!is_binary(&exact[1..]));
    assert_eq!(generic_string(&exact), BINARY_STUB);
}

#[test]
fn padded_base64_with_newlines_is_binary() {
    let blob = format!("{}\r\n{}==", "QUJD".repeat(1_500), "QUJD".repeat(1_500));
    assert!(is_binary(&blob));
}

#[test]
fn base64url_is_binary_and_more_than_two_pads_is_not() {
    let with_dash = format!("{}-_", "Ab".repeat(6_000));
    assert!(is_binary(&with_dash));
    let three_pads = format!("{with_dash}===");
    assert!(!is_binary(&three_pads));
}

#[test]
fn the_binary_placeholder_reads_exactly_as_specified() {
    assert_eq!(
        BINARY_STUB,
        "[binary data redacted - not supported by PostHog MCP analytics]"
    );
}

#[test]
fn only_the_first_and_last_1024_characters_decide_a_long_string() {
    let middle = "not base64, with spaces! ".repeat(400);
    let edge = "QUJD".repeat(BINARY_EDGE_CHARS / 4);
    let blob = format!("{edge}{middle}{edge}==");
    assert!(blob.chars().count() >= BINARY_MIN_CHARS);
    assert_eq!(generic_string(&blob), BINARY_STUB);
    let spaced_head = format!(" {}", &blob[1..]);
    assert!(!is_binary(&spaced_head));
    let spaced_tail = format!("{} ", &blob[..blob.len() - 1]);
    assert!(!is_binary(&spaced_tail));
}

#[test]
fn a_long_base64_string_of_wide_characters_in_the_middle_counts_characters_not_bytes() {
    let edge = "QUJD".repeat(BINARY_EDGE_CHARS / 4);
    // 10,239 characters in all, more than 10,240 bytes.
    let middle = "é".repeat(BINARY_MIN_CHARS - 1 - 2 * BINARY_EDGE_CHARS);
    let short = format!("{edge}{middle}{edge}");
    assert!(short.len() >= BINARY_MIN_CHARS);
    assert!(!is_binary(&short));
    let long = format!("{edge}{middle}A{edge}");
    assert!(is_binary(&long));
}

#[test]
fn a_base64_data_url_is_binary_at_any_length_and_prose_is_not() {
    let url = format!("DATA:image/png;BASE64,{}%3D%0A", "iVBO".repeat(3_000));
    assert!(is_binary(&url));
    assert_eq!(
        generic_string("data:image/png;base64,iVBORw0KGgo="),
        BINARY_STUB
    );
    assert!(is_binary("data:application/octet-stream;name=a b;base64,"));
    for text in [
        "data:text/plain,hello",
        "data:text/plain;charset=utf-8,base64",
        "data: the header ends in ;base64 but has no comma",
        "see data:image/png;base64,iVBO",
    ] {
        assert!(!is_binary(text), "{text}");
    }
    let prose = "lorem ipsum dolor ".repeat(1_000);
    assert!(!is_binary(&prose));
    assert!(matches!(generic_string(&prose), Cow::Borrowed(_)));
}

#[test]
fn posthog_tokens_are_redacted_on_word_boundaries() {
    assert_eq!(
        generic_string("key phc_abcdefghijklmnopqrstuvwxyz123 here"),
        "key [redacted] here"
    );
    assert_eq!(generic_string("phc_short"), "phc_short");
    assert_eq!(
        generic_string("xphc_abcdefghijklmnopqrstuvwxyz123"),
        "xphc_abcdefghijklmnopqrstuvwxyz123"
    );
}

#[test]
fn a_string_without_colon_or_ph_is_borrowed() {
    assert!(matches!(
        generic_string("plain words only"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn a_password_key_is_redacted_at_any_depth() {
    let mut value = json!({"a": [{"b": {"Password": {"nested": 1}}}], "password": 42, "count": 3});
    sanitize_tree(&mut value);
    assert_eq!(
        value,
        json!({"a": [{"b": {"Password": "[redacted]"}}], "password": "[redacted]", "count": 3})
    );
}

#[test]
fn named_fields_are_redacted_at_any_depth_and_others_kept() {
    let mut value = json!({"ssn": "1", "x": [{"ssn": {"deep": true}, "keep": "ssn"}]});
    redact_named(&mut value, &["ssn"]);
    assert_eq!(
        value,
        json!({"ssn": "[redacted]", "x": [{"ssn": "[redacted]", "keep": "ssn"}]})
    );
}

#[test]
fn a_text_block_repeating_structured_content_loses_the_password_too() {
    let mut value = json!({
        "content": [{"type": "text", "text": r#"{"user":"ada","password":"hunter2"}"#}],
        "structuredContent": {"user": "ada", "password": "hunter2"},
        "isError": false
    });
    sanitize_tree(&mut value);
    rewrite_content_blocks(&mut value);
    assert_eq!(value["structuredContent"]["password"], "[redacted]");
    assert_eq!(
        value["content"][0]["text"],
        r#"{"user":"ada","password":"[redacted]"}"#
    );
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

#[test]
fn a_string_within_its_limit_and_margin_is_cut_to_the_limit_after_the_passes() {
    let input = format!("token phc_{} {}", "a".repeat(30), "x".repeat(500));
    let output = limited(&input, 100, generic_passes);
    assert!(output.starts_with("token [redacted] xxx"));
    assert_eq!(chars(&output), 100);
    assert!(output.ends_with("..."));
}

#[test]
fn a_token_crossing_the_limit_is_recognized_whole_and_leaves_no_fragment() {
    let input = format!("{} phc_{} tail", "a".repeat(95), "b".repeat(40));
    let output = limited(&input, 100, generic_passes);
    assert_eq!(output, format!("{} [...", "a".repeat(95)));
    assert!(!output.contains("phc_"));
}

#[test]
fn a_json_member_crossing_the_limit_is_recognized_whole() {
    let input = format!(r#"{}{{"password": "hunter2"}}"#, "a".repeat(95));
    let output = limited(&input, 100, generic_passes);
    assert!(!output.contains("hunter"), "{output}");
}

#[test]
fn when_redaction_shortens_a_cut_string_the_margin_is_dropped_from_its_end() {
    // The token (1,004 characters) becomes `[redacted]`, so the passed text has 130 characters: 130 - 1,024 is
    // smaller than the limit, and nothing of the margin survives.
    let input = format!(
        "phc_{}{}{}",
        "A".repeat(1_000),
        "b".repeat(120),
        "c".repeat(5_000)
    );
    assert_eq!(limited(&input, 100, generic_passes), "...");
    // Without a redaction the passed text keeps its length, and the cut is at the limit.
    let plain = "d".repeat(5_000);
    assert_eq!(
        limited(&plain, 100, generic_passes),
        format!("{}...", "d".repeat(97))
    );
}

#[test]
fn the_binary_gate_reads_the_string_before_any_cut() {
    let base64 = "QUJD".repeat(20_000);
    assert_eq!(limited(&base64, 1_000, generic_passes), BINARY_STUB);
    // Base64 at the start only: the cut text would look binary, the whole string does not.
    let mixed = format!("{base64} and then prose");
    let output = limited(&mixed, 1_000, generic_passes);
    assert_eq!(output, format!("{}...", &base64[..997]));
}

#[test]
fn a_limited_string_counts_characters_not_bytes() {
    let input = "é".repeat(3_000);
    let output = limited(&input, 2_048, generic_passes);
    assert_eq!(chars(&output), 2_048);
}

#[test]
fn a_string_leaf_in_a_tree_gets_the_limit_and_the_passes_together() {
    let long = format!(
        r#"{{"user":"ada","password":"hunter2"}} {}"#,
        "x".repeat(100_000)
    );
    let mut value = json!({"text": long});
    sanitize_tree(&mut value);
    let text = value["text"].as_str().unwrap();
    assert!(text.starts_with(r#"{"user":"ada","password":"[redacted]"} xxx"#));
    assert_eq!(chars(text), MAX_STRING_CHARS);
}

#[test]
fn content_blocks_become_stubs_by_kind() {
    let mut value = json!({"content": [
        {"type": "text", "text": "hi"},
        {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        {"type": "audio", "data": "AAAA"},
        {"type": "resource", "resource": {"uri": "file:///a", "blob": "AAAA"}},
        {"type": "resource", "resource": {"uri": "file:///a", "text": "body"}},
        {"type": "resource_link", "uri": "file:///a"},
        {"type": "video"},
        7
    ]});
    rewrite_content_blocks(&mut value);
    let blocks = value["content"].as_array().unwrap();
    assert_eq!(blocks[0], json!({"type": "text", "text": "hi"}));
    assert_eq!(blocks[1]["text"], IMAGE_STUB);
    assert_eq!(blocks[2]["text"], AUDIO_STUB);
    assert_eq!(blocks[3]["text"], BLOB_STUB);
    assert_eq!(blocks[4]["resource"]["text"], "body");
    assert_eq!(blocks[5]["uri"], "file:///a");
    assert_eq!(
        blocks[6],
        json!({"type": "text",
            "text": "[unsupported content type \"video\" redacted - not supported by PostHog MCP analytics]"})
    );
    assert_eq!(blocks[7], 7);
}

#[test]
fn prompt_message_content_is_rewritten_as_object_or_array() {
    let mut value = json!({"messages": [
        {"role": "user", "content": {"type": "image", "data": "AAAA"}},
        {"role": "assistant", "content": [{"type": "audio", "data": "AAAA"}, {"type": "text", "text": "t"}]}
    ]});
    rewrite_content_blocks(&mut value);
    assert_eq!(value["messages"][0]["content"]["text"], IMAGE_STUB);
    assert_eq!(value["messages"][1]["content"][0]["text"], AUDIO_STUB);
    assert_eq!(value["messages"][1]["content"][1]["text"], "t");
}
