//! Any text to the secret net: `redact_secrets` and the key rule never panic, `redact_secrets` is idempotent, and
//! a known credential planted in the text (chosen by the first byte) survives neither `redact_secrets`, the
//! generic pass, the free-text pass, nor the JSON passes, as a value or as a key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use posthog_mcp::privacy::{
    free_text, generic_string, is_secret_key, redact_secrets, sanitize_parameters,
};
use serde_json::{Map, Value};

/// One made-up credential per kind, and the part of it that must not survive.
const CANARIES: &[(&str, &str)] = &[
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ",
        "eyJzdWIiOiJjYW5hcnkifQ",
    ),
    ("AKIAQ7ZC4NRTX2LMB6WE", "AKIAQ7ZC4NRTX2LMB6WE"),
    (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
    (
        "sk_live_Zq7XvB2nLmP4kR9sT1wY6uE3",
        "Zq7XvB2nLmP4kR9sT1wY6uE3",
    ),
    (
        "sk-proj-Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc",
        "Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc",
    ),
    (
        "ghp_Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc",
        "Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc",
    ),
    (
        "xoxb-1234567890-Zq7XvB2nLmP4kR9sT1wY6uE3",
        "Zq7XvB2nLmP4kR9sT1wY6uE3",
    ),
    (
        "phx_Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc",
        "Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEcanaryPemBody\n-----END PRIVATE KEY-----",
        "MIIEcanaryPemBody",
    ),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };

    let once = redact_secrets(text);
    assert_eq!(redact_secrets(&once), once, "redact_secrets is idempotent");
    let _ = is_secret_key(text);

    // Split the text in two around the planted credential, at a char boundary.
    let mut cut = (usize::from(selector) * 7) % (text.len() + 1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let (canary, secret) = CANARIES[usize::from(selector) % CANARIES.len()];
    if text
        .to_ascii_lowercase()
        .contains(&secret.to_ascii_lowercase())
    {
        // The secret's bytes are already in the text, outside any credential shape (a bare hex string, say):
        // finding them in the output proves nothing. Compared without ASCII case, because a pass may lowercase
        // what it rewrites (a URL's scheme and host are normalized), spelling the secret from `…B1A0://…`.
        return;
    }
    let planted = format!("{} {canary} {}", &text[..cut], &text[cut..]);
    for (pass, output) in [
        ("redact_secrets", redact_secrets(&planted).into_owned()),
        ("generic_string", generic_string(&planted).into_owned()),
        ("free_text", free_text(&planted)),
    ] {
        assert!(
            !output.contains(secret),
            "{pass} kept {secret:?}: {output:?}"
        );
    }

    let mut object = Map::new();
    object.insert(planted.clone(), Value::from(1));
    object.insert("note".into(), Value::String(planted));
    let mut value = Value::Object(object);
    sanitize_parameters(&mut value);
    // Each key and string as it is, not the serialized JSON: an escape such as `\u0019` before `f8e7…` would spell
    // a secret that no value holds.
    let Value::Object(object) = &value else {
        panic!("sanitize_parameters keeps an object an object: {value}");
    };
    for (key, child) in object {
        assert!(
            !key.contains(secret),
            "sanitize_parameters kept {secret:?} in the key {key:?}"
        );
        if let Value::String(text) = child {
            assert!(
                !text.contains(secret),
                "sanitize_parameters kept {secret:?}: {text:?}"
            );
        }
    }
});
