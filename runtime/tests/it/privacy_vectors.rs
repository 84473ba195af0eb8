//! PostHog's cross-SDK redaction vectors: every case, both columns (`[input, generic_pass, free_text]`).

use posthog_mcp::privacy::{free_text, generic_string};

/// The vectors, embedded at compile time from the copy in `tests/vectors/` (see its README for provenance).
fn vectors() -> Vec<(String, String, String)> {
    serde_json::from_str(include_str!("vectors/redaction-goldens.json"))
        .expect("the vectors are a JSON array of string triples")
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
            (actual != *expected).then(|| {
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
            (actual != *expected).then(|| {
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
        if input == expected {
            assert!(
                matches!(generic_string(&input), std::borrow::Cow::Borrowed(_)),
                "{input:?}"
            );
        }
    }
}
