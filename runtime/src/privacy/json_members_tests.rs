//! Unit tests of `json_members`, in a file of their own so that the module's file holds its code.

use super::*;
use crate::privacy::keys::REDACTED;

fn redacted(text: &str) -> String {
    redact_json_members(text).into_owned()
}

#[test]
fn a_json_member_inside_a_string_is_redacted_by_its_key() {
    assert_eq!(
        redacted(r#""password": "hunter2""#),
        r#""password": "[redacted]""#
    );
}

#[test]
fn a_text_block_that_repeats_structured_content_keeps_valid_json() {
    let text = r#"{"user":"ada","password":"hunter2"}"#;
    let once = redacted(text);
    assert_eq!(once, r#"{"user":"ada","password":"[redacted]"}"#);
    let parsed: serde_json::Value = serde_json::from_str(&once).expect("still JSON");
    assert_eq!(parsed["password"], REDACTED);
    assert!(matches!(redact_json_members(&once), Cow::Borrowed(_)));
}

#[test]
fn the_placeholder_is_the_one_every_redaction_writes_as_a_json_string() {
    assert_eq!(QUOTED_REDACTED, format!("\"{REDACTED}\""));
}

#[test]
fn keys_with_a_dash_an_underscore_or_no_separator_in_any_case_are_redacted() {
    for key in [
        "api key",
        "api-key",
        "api_key",
        "apikey",
        "API_KEY",
        "Api-Key",
        "ApiKey",
        "api_token",
        "apiToken",
        "access-token",
        "ACCESS_TOKEN",
        "refreshtoken",
        "Refresh_Token",
        "client-secret",
        "ClientSecret",
        "private_key",
        "PRIVATE-KEY",
        "privatekey",
        "Authorization",
        "COOKIE",
        "Set-Cookie",
        "x-api-key",
        "Token",
        "PASSWORD",
        "secret",
    ] {
        let text = format!(r#"{{"{key}": "s3cr3t", "n": 1}}"#);
        assert_eq!(
            redacted(&text),
            format!(r#"{{"{key}": "[redacted]", "n": 1}}"#),
            "{key}"
        );
    }
}

#[test]
fn numbers_booleans_and_null_become_the_quoted_placeholder() {
    assert_eq!(
        redacted(
            r#"{"token": 12345, "secret": -1.5e3, "password": true, "cookie": null, "pin": 7}"#
        ),
        r#"{"token": "[redacted]", "secret": "[redacted]", "password": "[redacted]", "cookie": "[redacted]", "pin": 7}"#
    );
}

#[test]
fn a_flat_array_value_is_redacted_whole() {
    assert_eq!(
        redacted(r#"{"Set-Cookie": ["a=1", "b=2"], "n": [1]}"#),
        r#"{"Set-Cookie": "[redacted]", "n": [1]}"#
    );
    assert_eq!(
        redacted("{\"token\": [\n  1,\n  \"two\",\n  false\n]}"),
        "{\"token\": \"[redacted]\"}"
    );
    assert_eq!(redacted(r#"{"token": []}"#), r#"{"token": "[redacted]"}"#);
}

#[test]
fn a_nested_object_value_is_left_alone() {
    for text in [
        r#"{"password": {"hash": "abc"}}"#,
        r#"{"token": [{"id": 1}]}"#,
        r#"{"token": [[1, 2]]}"#,
    ] {
        assert!(
            matches!(redact_json_members(text), Cow::Borrowed(_)),
            "{text}"
        );
    }
}

#[test]
fn json_escaped_inside_a_json_string_is_left_alone() {
    let text = r#"{"note": "{\"password\": \"hunter2\"}"}"#;
    assert!(matches!(redact_json_members(text), Cow::Borrowed(_)));
}

#[test]
fn a_string_cut_at_a_line_end_is_redacted_up_to_the_cut() {
    assert_eq!(
        redacted("log: {\"password\": \"hunter2\nnext line"),
        "log: {\"password\": \"[redacted]\"\nnext line"
    );
    assert_eq!(
        redacted("{\"password\": \"hunter2\r\n}"),
        "{\"password\": \"[redacted]\"\r\n}"
    );
}

#[test]
fn a_string_cut_at_the_end_of_the_text_is_redacted() {
    assert_eq!(
        redacted(r#"{"user":"ada","password":"hunt"#),
        r#"{"user":"ada","password":"[redacted]""#
    );
}

#[test]
fn a_string_cut_after_a_trailing_backslash_is_redacted_with_it() {
    assert_eq!(
        redacted(r#"{"password":"hunt\"#),
        r#"{"password":"[redacted]""#
    );
    assert_eq!(
        redacted("{\"password\":\"hunt\\\nrest"),
        "{\"password\":\"[redacted]\"\nrest"
    );
}

#[test]
fn escaped_quotes_inside_a_value_do_not_end_it() {
    assert_eq!(
        redacted(r#"{"password": "a\"b\\", "user": "ada"}"#),
        r#"{"password": "[redacted]", "user": "ada"}"#
    );
}

#[test]
fn keys_that_do_not_name_a_credential_and_prose_are_left_alone() {
    for text in [
        r#"{"token_count": 12, "max_tokens": 100, "author": "ada"}"#,
        r#"She said "password": it was the word of the day."#,
        r#"the "token" field"#,
        "no quotes at all: none",
    ] {
        assert!(
            matches!(redact_json_members(text), Cow::Borrowed(_)),
            "{text}"
        );
    }
}

#[test]
fn many_keys_that_are_not_credentials_cost_one_pass() {
    let text = r#"{"a": "x", "b": 1}, "#.repeat(20_000);
    assert!(matches!(redact_json_members(&text), Cow::Borrowed(_)));
}

#[test]
fn multibyte_text_around_a_member_keeps_its_characters() {
    assert_eq!(
        redacted(r#"é {"password": "日本語", "k": "ü"} ö"#),
        r#"é {"password": "[redacted]", "k": "ü"} ö"#
    );
}
