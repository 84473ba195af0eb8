//! Unit tests of `url`, in a file of their own so that the module's file holds its code.

use super::*;

#[test]
fn userinfo_and_sensitive_query_fields_are_redacted() {
    assert_eq!(
        redact_urls("see https://user:pw@example.com/path?token=abc&page=2#frag"),
        "see https://[redacted]@example.com/path?token=[redacted]&page=2#frag"
    );
}

#[test]
fn trailing_punctuation_after_a_sensitive_value_is_dropped() {
    assert_eq!(
        redact_urls("https://example.com/?password=fakepass!!!"),
        "https://example.com/?password=[redacted]"
    );
}

#[test]
fn a_url_with_nothing_to_redact_is_borrowed_unchanged() {
    for text in [
        "go to https://example.com/docs, then stop.",
        "Error:foo",
        "at12:30",
        "file:/x",
    ] {
        assert!(
            matches!(redact_urls(text), Cow::Borrowed(t) if t == text),
            "{text}"
        );
    }
}

#[test]
fn sensitive_field_names_follow_segments_and_whole_names() {
    for name in [
        "code",
        "X-Amz-Security-Token",
        "sort_key",
        "AWSAccessKeyId",
        "Policy",
        "oauth_signature",
    ] {
        assert!(is_sensitive_field(name), "{name}");
    }
    for name in ["country_code", "keep", "page", "tokens", "monkey"] {
        assert!(!is_sensitive_field(name), "{name}");
    }
}

#[test]
fn an_unparseable_url_becomes_redacted_whole() {
    assert_eq!(redact_urls("http://[bad"), REDACTED);
}

#[test]
fn an_authority_over_the_limit_is_redacted_whole() {
    let long = format!(
        "see https://{}.example.com/x ok",
        "a".repeat(MAX_AUTHORITY_CHARS)
    );
    assert_eq!(redact_urls(&long), "see [redacted] ok");
    let fine = format!(
        "https://example.com/{}",
        "a".repeat(MAX_AUTHORITY_CHARS + 10)
    );
    assert_eq!(redact_urls(&fine), fine);
}

#[test]
fn more_than_128_query_fields_redact_the_whole_url() {
    let fields: Vec<String> = (0..129).map(|i| format!("k{i}=v")).collect();
    let url = format!("https://example.com/?{}", fields.join("&"));
    assert_eq!(redact_urls(&url), REDACTED);
    let fields: Vec<String> = (0..128).map(|i| format!("k{i}=v")).collect();
    let url = format!("https://example.com/?{}", fields.join("&"));
    assert_eq!(redact_urls(&url), url);
}

#[test]
fn addresses_run_together_are_handled_one_by_one() {
    assert_eq!(
        redact_urls("https://example.com/doc,https://user:pw@other.example.com/"),
        "https://example.com/doc,https://[redacted]@other.example.com/"
    );
}

#[test]
fn a_url_credential_reads_redacted_in_brackets() {
    let once =
        redact_urls("fetch https://ada:hunter2@api.example.com/v1?api_key=abc&page=2 now");
    assert_eq!(
        once,
        "fetch https://[redacted]@api.example.com/v1?api_key=[redacted]&page=2 now"
    );
    assert!(matches!(redact_urls(&once), Cow::Borrowed(_)));
}

#[test]
fn signature_fields_of_the_query_and_the_fragment_are_redacted() {
    assert_eq!(
        redact_urls(
            "https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Signature=ab12&sig=cd34&signature=ef56&size=3"
        ),
        "https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Signature=[redacted]&sig=[redacted]&signature=[redacted]&size=3"
    );
    assert_eq!(
        redact_urls("https://example.com/cb#access_token=abc&Refresh-Token=def&state=ok"),
        "https://example.com/cb#access_token=[redacted]&Refresh-Token=[redacted]&state=ok"
    );
}
