//! The secret net: key names judged by their parts, credential shapes found in every string, and one canary per
//! kind planted in arguments, nested keys, responses and free text, none of which may survive.

use posthog_mcp::privacy::{
    free_text, generic_string, is_secret_key, redact_secrets, sanitize_parameters,
    sanitize_response,
};
use serde_json::{Value, json};

/// One realistic, made-up credential of each kind the detectors know, assembled at run time.
fn canaries() -> Vec<(&'static str, String)> {
    let alnum36 = "Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc";
    vec![
        (
            "jwt",
            format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
                "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkNhbmFyeSJ9",
                "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
            ),
        ),
        ("aws access key id", format!("AKIA{}", "Q7ZC4NRTX2LMB6WE")),
        (
            "aws temporary key id",
            format!("ASIA{}", "Y3KD8PFQ1VHR5GTU"),
        ),
        ("stripe live secret", format!("sk_live_{}", &alnum36[..24])),
        ("stripe test secret", format!("sk_test_{}", &alnum36[4..28])),
        ("stripe restricted", format!("rk_live_{}", &alnum36[8..32])),
        (
            "hyphenated live key",
            format!("sk-live-{}", &alnum36[2..22]),
        ),
        ("openai key", format!("sk-proj-{}", alnum36)),
        ("github personal", format!("ghp_{alnum36}")),
        ("github oauth", format!("gho_{alnum36}")),
        ("github server", format!("ghs_{alnum36}")),
        ("github user", format!("ghu_{alnum36}")),
        (
            "github fine-grained",
            format!("github_pat_11{}_{}", &alnum36[..20], alnum36),
        ),
        ("slack bot", format!("xoxb-1234567890-{}", &alnum36[..24])),
        ("slack user", format!("xoxp-1234567890-{}", &alnum36[..24])),
        ("posthog personal", format!("phx_{alnum36}")),
        ("posthog project", format!("phc_{alnum36}")),
        (
            "google api key",
            format!("AIza{}", &format!("{alnum36}abcdefgh")[..35]),
        ),
        ("gitlab", format!("glpat-{}", &alnum36[..20])),
    ]
}

/// A canary that is only recognized in context: what must not survive is the part after the name or scheme.
fn contextual_canaries() -> Vec<(&'static str, String, String)> {
    let aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned();
    let bearer = "9f8e7d6c5b4a39281706f5e4d3c2b1a0".to_owned();
    let basic = "Y2FuYXJ5LXVzZXI6Y2FuYXJ5LXBhc3N3b3Jk".to_owned(); // canary-user:canary-password
    let pem_body = "MIIEowIBAAKCAQEAcanaryPemBodyLine".to_owned();
    vec![
        (
            "aws secret access key",
            format!("aws_secret_access_key = {aws_secret}"),
            aws_secret,
        ),
        (
            "bearer token",
            format!("Authorization: Bearer {bearer}"),
            bearer,
        ),
        (
            "basic credentials",
            format!("Authorization: Basic {basic}"),
            basic,
        ),
        (
            "pem private key",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----"),
            pem_body,
        ),
    ]
}

/// Every planted value and what must not be found: the whole canary, or the secret part of a contextual one.
fn plantings() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = canaries()
        .into_iter()
        .map(|(_, canary)| (canary.clone(), canary))
        .collect();
    all.extend(
        contextual_canaries()
            .into_iter()
            .map(|(_, planted, secret)| (planted, secret)),
    );
    all
}

fn assert_absent(haystack: &str, secret: &str) {
    assert!(
        !haystack.contains(secret),
        "{secret:?} survived in {haystack:?}"
    );
}

#[test]
fn every_canary_alone_is_redacted_whole() {
    for (kind, canary) in canaries() {
        assert_eq!(redact_secrets(&canary), "[redacted]", "{kind}");
        assert_eq!(generic_string(&canary), "[redacted]", "{kind}");
        assert_eq!(free_text(&canary), "[redacted]", "{kind}");
    }
}

#[test]
fn every_canary_in_free_text_is_redacted_and_the_prose_is_kept() {
    for (kind, canary) in canaries() {
        let text = format!("Deploying with {canary}, then retrying.");
        assert_eq!(
            free_text(&text),
            "Deploying with [redacted], then retrying.",
            "{kind}"
        );
        assert_eq!(
            generic_string(&text),
            "Deploying with [redacted], then retrying.",
            "{kind}"
        );
    }
}

#[test]
fn a_contextual_credential_loses_its_value_and_keeps_its_name_or_scheme() {
    assert_eq!(
        redact_secrets("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "aws_secret_access_key = [redacted]"
    );
    assert_eq!(
        redact_secrets("Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        "Authorization: Bearer [redacted]"
    );
    assert_eq!(
        redact_secrets("Authorization: Basic Y2FuYXJ5LXVzZXI6Y2FuYXJ5LXBhc3N3b3Jk"),
        "Authorization: Basic [redacted]"
    );
    for (kind, planted, secret) in contextual_canaries() {
        assert_absent(&free_text(&format!("see {planted} now")), &secret);
        assert_absent(&generic_string(&format!("see {planted} now")), &secret);
        assert!(!redact_secrets(&planted).contains(&secret), "{kind}");
    }
}

#[test]
fn a_jwt_in_free_text_is_redacted() {
    let jwt = &canaries()[0].1;
    assert_eq!(
        free_text(&format!("the session {jwt} expired")),
        "the session [redacted] expired"
    );
}

#[test]
fn bearer_sk_live_in_free_text_is_redacted() {
    assert_eq!(
        free_text("retry with Bearer sk-live-4f9a8b7c6d5e4f3a2b1c"),
        "retry with Bearer [redacted]"
    );
}

#[test]
fn an_aws_access_key_id_in_free_text_is_redacted() {
    assert_eq!(
        free_text("key AKIAQ7ZC4NRTX2LMB6WE was rotated"),
        "key [redacted] was rotated"
    );
}

#[test]
fn an_aws_key_id_glued_to_the_next_word_is_still_redacted() {
    assert_eq!(
        redact_secrets("AKIAQ7ZC4NRTX2LMB6WEand more"),
        "[redacted]and more"
    );
}

#[test]
fn a_cut_off_pem_block_is_redacted_to_the_end() {
    assert_eq!(
        generic_string("cert: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA..."),
        "cert: [redacted]"
    );
}

#[test]
fn ordinary_text_that_resembles_a_credential_is_kept() {
    for text in [
        "the bearer of bad news",
        "a bearer instrument",
        "basic understanding of the problem",
        "Basic usage",
        "task-force-management-group",
        "sk-learn is a library",
        "sk-some-long-kebab-case-name-without-digits",
        "AKIA is four letters",
        "eyJ alone, or eyJhbGciOiJIUzI1NiJ9 without a payload",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "ghp_short",
        "the xox-team meets on Monday",
        "[redacted]",
        "Bearer [redacted]",
        "plain text with no secrets",
    ] {
        assert_eq!(redact_secrets(text), text);
        assert!(matches!(
            redact_secrets(text),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

#[test]
fn the_secret_pass_is_idempotent() {
    for (planted, _) in plantings() {
        let once = redact_secrets(&format!("a {planted} b")).into_owned();
        assert_eq!(redact_secrets(&once), once);
    }
}

#[test]
fn credential_key_names_are_matched_by_their_parts() {
    for key in [
        "db_password",
        "DB_PASSWORD",
        "PassWord",
        "passwd",
        "dbPassword",
        "userpassword",
        "db_pwd",
        "passphrase",
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        "awsSecretAccessKey",
        "aws_access_key_id",
        "x-api-key",
        "X-Api-Key",
        "XApiKey",
        "api.key",
        "APIKey",
        "client_secret",
        "clientSecret",
        "privateKey",
        "private-key",
        "ssh_private_key",
        "signing_key",
        "refresh_token",
        "refreshToken",
        "access_token",
        "id_token",
        "github_token",
        "authToken",
        "oauth2Token",
        "x-auth-token",
        "csrf_token",
        "session_token",
        "access_tokens",
        "webhookSecret",
        "secrets",
        "credentials",
        "aws_credentials",
        "Proxy-Authorization",
        "session_cookie",
        "Cookies",
        "jwt",
        "auth",
        "Auth",
    ] {
        assert!(is_secret_key(key), "{key} should be redacted");
    }
}

#[test]
fn every_listed_credential_key_name_is_still_redacted() {
    for key in [
        "authorization",
        "Authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "apikey",
        "apiKey",
        "api-key",
        "api_key",
        "apitoken",
        "api-token",
        "api_token",
        "accesstoken",
        "access-token",
        "access_token",
        "refreshtoken",
        "refresh-token",
        "refresh_token",
        "token",
        "Token",
        "password",
        "secret",
        "clientsecret",
        "client-secret",
        "client_secret",
        "privatekey",
        "private-key",
        "private_key",
    ] {
        assert!(is_secret_key(key), "{key} should be redacted");
    }
}

#[test]
fn harmless_keys_that_contain_credential_words_are_kept() {
    for key in [
        "token_count",
        "tokenCount",
        "max_tokens",
        "maxTokens",
        "tokens",
        "token_type",
        "tokenizer",
        "page_token",
        "nextPageToken",
        "NextToken",
        "continuation_token",
        "author",
        "authorName",
        "authority",
        "keyboard",
        "key",
        "keys",
        "sort_key",
        "primary_key",
        "public_key",
        "publicKey",
        "cache_key",
        "idempotency_key",
        "monkey",
        "secretary",
        "passwordless",
        "pwd",
        "PWD",
        "OLDPWD",
        "country_code",
        "session_id",
        "signature",
        "description",
        "",
        "_",
    ] {
        assert!(!is_secret_key(key), "{key} should be kept");
    }
}

#[test]
fn nested_credential_keys_are_redacted_and_harmless_siblings_kept() {
    let mut value = json!({"request": {"params": {"arguments": {
        "config": {"db": {"db_password": "canary-pw", "passwd": "canary-passwd", "host": "db.internal"}},
        "aws": [{"aws_secret_access_key": "canary-aws", "region": "eu-west-1"}],
        "headers": {"x-api-key": "canary-header", "Accept": "application/json"},
        "oauth": {"client_secret": "canary-client", "refresh_token": {"nested": "canary-refresh"}},
        "privateKey": ["canary-private"],
        "usage": {"token_count": 12, "max_tokens": 100, "author": "Ada", "keyboard": "qwerty", "secretary": "Bob"}
    }}}});
    sanitize_parameters(&mut value);
    let arguments = &value["request"]["params"]["arguments"];
    assert_eq!(arguments["config"]["db"]["db_password"], "[redacted]");
    assert_eq!(arguments["config"]["db"]["passwd"], "[redacted]");
    assert_eq!(arguments["config"]["db"]["host"], "db.internal");
    assert_eq!(arguments["aws"][0]["aws_secret_access_key"], "[redacted]");
    assert_eq!(arguments["aws"][0]["region"], "eu-west-1");
    assert_eq!(arguments["headers"]["x-api-key"], "[redacted]");
    assert_eq!(arguments["headers"]["Accept"], "application/json");
    assert_eq!(arguments["oauth"]["client_secret"], "[redacted]");
    assert_eq!(arguments["oauth"]["refresh_token"], "[redacted]");
    assert_eq!(arguments["privateKey"], "[redacted]");
    assert_eq!(
        arguments["usage"],
        json!({"token_count": 12, "max_tokens": 100, "author": "Ada", "keyboard": "qwerty", "secretary": "Bob"})
    );
}

#[test]
fn a_credential_used_as_an_object_key_is_redacted_in_the_key() {
    let token = format!("ghp_{}", "Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc");
    let mut value = json!({"accounts": {token.clone(): {"scopes": ["repo"]}, "plain": 1}});
    sanitize_parameters(&mut value);
    let serialized = value.to_string();
    assert_absent(&serialized, &token);
    assert_eq!(
        value,
        json!({"accounts": {"[redacted]": {"scopes": ["repo"]}, "plain": 1}})
    );
}

/// The canary harness at the level of the pure passes: every planting in arguments (as a value, under a nested
/// harmless key, as a key), in a response (text block and structured content) and in free text.
#[test]
fn no_canary_survives_any_pass_in_any_position() {
    for (planted, secret) in plantings() {
        let mut parameters = json!({"request": {"params": {"arguments": {
            "note": planted,
            "deep": {"level": [{"text": format!("before {planted} after")}]},
            planted.clone(): "as a key",
        }}}});
        sanitize_parameters(&mut parameters);
        assert_absent(&parameters.to_string(), &secret);

        let mut response = json!({
            "content": [{"type": "text", "text": format!("result: {planted}")}],
            "structuredContent": {"value": planted, "list": [planted]},
        });
        sanitize_response(&mut response);
        assert_absent(&response.to_string(), &secret);

        assert_absent(
            &free_text(&format!("I will use {planted} to deploy")),
            &secret,
        );
        let as_value: Value = Value::String(generic_string(&planted).into_owned());
        assert_absent(&as_value.to_string(), &secret);
    }
}

mod generated {
    use proptest::prelude::*;

    use super::*;

    /// A credential of a random kind with a random body, and what must not survive of it.
    fn credential() -> impl Strategy<Value = (String, String)> {
        let whole = |s: String| (s.clone(), s);
        prop_oneof![
            "[A-Za-z0-9]{36}".prop_map(move |b| whole(format!("ghp_{b}"))),
            "[A-Za-z0-9]{30,50}".prop_map(move |b| whole(format!("gho_{b}"))),
            "[0-9]{10}-[A-Za-z0-9]{24}".prop_map(move |b| whole(format!("xoxb-{b}"))),
            "[A-Z0-9]{16}".prop_map(move |b| whole(format!("AKIA{b}"))),
            "[A-Za-z0-9]{24,40}".prop_map(move |b| whole(format!("sk_live_{b}"))),
            "[A-Za-z0-9_-]{10,30}\\.[A-Za-z0-9_-]{10,40}\\.[A-Za-z0-9_-]{0,43}"
                .prop_map(move |b| whole(format!("eyJ{b}"))),
            "[A-Za-z0-9]{16,40}[0-9]".prop_map(|b| (format!("Bearer {b}"), b)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn no_generated_credential_survives_the_passes(
            (planted, secret) in credential(),
            before in prop_oneof![Just(" "), Just("\n"), Just("\""), Just("("), Just("token: "), Just("")],
            after in prop_oneof![Just(" "), Just("."), Just(","), Just(")"), Just("\n"), Just("")],
            words in "[a-z ]{0,20}",
        ) {
            let text = format!("{words}{before}{planted}{after}{words}");
            let text = if before.is_empty() { format!("{planted}{after}{words}") } else { text };
            prop_assert!(!redact_secrets(&text).contains(&secret));
            prop_assert!(!generic_string(&text).contains(&secret));
            prop_assert!(!free_text(&text).contains(&secret));
            let mut value = json!({"deep": [{"note": text.clone()}], text.clone(): 1});
            sanitize_parameters(&mut value);
            prop_assert!(!value.to_string().contains(&secret));
        }
    }
}
