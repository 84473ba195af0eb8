//! Unit tests of `secrets`, in a file of their own so that the module's file holds its code.

use super::*;

#[test]
fn a_pem_block_runs_to_its_end_line_or_to_the_end_of_the_text() {
    let block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
    assert_eq!(redact_secrets(&format!("a {block} b")), "a [redacted] b");
    assert_eq!(
        redact_secrets("x -----BEGIN PRIVATE KEY-----\nMIIE...cut"),
        "x [redacted]"
    );
    assert_eq!(
        redact_secrets("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"),
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"
    );
}

#[test]
fn the_shortest_shape_is_as_short_as_the_length_gate_allows() {
    assert_eq!("Basic dXNlcjpw".len(), SHORTEST_SHAPE);
    assert_eq!(redact_secrets("Basic dXNlcjpw"), "Basic [redacted]");
    assert_eq!(redact_secrets("Basic dXNlcjp"), "Basic dXNlcjp");
}

#[test]
fn the_three_usual_cases_of_each_word_are_recognized() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for name in [
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        "awsSecretAccessKey",
        "SecretAccessKey",
    ] {
        assert_eq!(
            redact_secrets(&format!("{name}={secret}")),
            format!("{name}=[redacted]")
        );
    }
    for scheme in ["Bearer", "bearer", "BEARER"] {
        assert_eq!(
            redact_secrets(&format!("{scheme} 0123456789abcdef")),
            format!("{scheme} [redacted]")
        );
    }
}

#[test]
fn a_block_whose_end_line_is_cut_short_does_not_expose_the_next_block() {
    // Found by the `secrets` fuzz target: the first END line's closing dashes were the second BEGIN's.
    let text = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-- \
                -----BEGIN PRIVATE KEY-----\nMIIEcanaryPemBody\n-----END PRIVATE KEY----- --- tail";
    assert_eq!(redact_secrets(text), "[redacted] --- tail");
}

#[test]
fn many_begin_lines_before_one_end_line_are_one_block() {
    let text = format!(
        "{}body\n-----END PRIVATE KEY----- after",
        "-----BEGIN PRIVATE KEY-----\n".repeat(10_000)
    );
    assert_eq!(redact_secrets(&text), "[redacted] after");
}

#[test]
fn a_jwt_after_basic_is_redacted_whole() {
    // Found by the `secrets` fuzz target: the JWT's header decodes to `{"alg":"HS256"}`, so `Basic` took it
    // and left the payload.
    assert_eq!(
        redact_secrets(
            "Authorization: Basic eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2ln next"
        ),
        "Authorization: Basic [redacted] next"
    );
}

#[test]
fn a_jwt_glued_to_an_aws_key_id_is_redacted_in_the_same_pass() {
    // Found by the `secrets` fuzz target (`.ci/fuzz`): the key id has no boundary after it, so the JWT behind
    // it only began a word once the key id had become `[redacted]`, and a second pass took it.
    let text = "x AKIAQ7ZC4NRTX2LMB6WEeyJzdWIiO-0NiJ9.AKIBEGINP4kR-c4IT0.c2ln a";
    let once = redact_secrets(text);
    assert_eq!(once, "x [redacted][redacted] a");
    assert_eq!(redact_secrets(&once), once);
}

#[test]
fn a_rejected_candidate_does_not_hide_a_credential_inside_it() {
    assert_eq!(
        redact_secrets("the bearer instrument ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        "the bearer instrument [redacted]"
    );
}
