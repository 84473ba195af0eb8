//! PostHog's cross-SDK redaction vectors: every case, both columns (`[input, generic_pass, free_text]`).

use posthog_mcp::privacy::{free_text, generic_string};

/// The vectors, embedded at compile time from the copy in `tests/vectors/` (see its README for provenance).
fn vectors() -> Vec<(String, String, String)> {
    serde_json::from_str(include_str!("vectors/redaction-goldens.json"))
        .expect("the vectors are a JSON array of string triples")
}

/// The placeholder as the vectors write it inside a rewritten URL: percent-encoded once, or twice inside a URL
/// that is itself a field value.
const ENCODED: [&str; 2] = ["%5Bredacted%5D", "%255Bredacted%255D"];

/// Every placeholder written `[redacted]`.
fn bracketed(text: &str) -> String {
    ENCODED.iter().fold(text.to_owned(), |text, encoded| {
        text.replace(encoded, "[redacted]")
    })
}

/// Whether the pass's output `actual` matches the vector's `expected` for `input`. The vectors were written before
/// PostHog's MCP analytics rules asked for the placeholder in brackets inside a URL too, so an expected output
/// counts with every placeholder bracketed. An input that already holds the encoded placeholder is a second pass
/// over the old output: an address the pass leaves alone keeps it as written and one it rewrites brackets it, so
/// those cases are compared with the placeholders bracketed on both sides.
fn matches(input: &str, expected: &str, actual: &str) -> bool {
    if ENCODED.iter().any(|encoded| input.contains(encoded)) {
        bracketed(actual) == bracketed(expected)
    } else {
        actual == bracketed(expected)
    }
}

fn report(failures: &[String]) -> String {
    format!(
        "{} vector(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    )
}

#[test]
fn every_vector_matches_the_generic_pass_column() {
    let failures: Vec<String> = vectors()
        .iter()
        .enumerate()
        .filter_map(|(index, (input, expected, _))| {
            let actual = generic_string(input);
            (!matches(input, expected, &actual)).then(|| {
                format!(
                    "#{index}\n input:    {input:?}\n expected: {expected:?}\n actual:   {actual:?}"
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", report(&failures));
}

#[test]
fn every_vector_matches_the_free_text_column() {
    let failures: Vec<String> = vectors()
        .iter()
        .enumerate()
        .filter_map(|(index, (input, _, expected))| {
            let actual = free_text(input);
            (!matches(input, expected, &actual)).then(|| {
                format!(
                    "#{index}\n input:    {input:?}\n expected: {expected:?}\n actual:   {actual:?}"
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", report(&failures));
}

#[test]
fn an_unchanged_vector_is_borrowed_by_the_generic_pass() {
    for (input, expected, _) in vectors() {
        if input == expected && !ENCODED.iter().any(|encoded| input.contains(encoded)) {
            assert!(
                matches!(generic_string(&input), std::borrow::Cow::Borrowed(_)),
                "{input:?}"
            );
        }
    }
}
