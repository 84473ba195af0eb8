//! Unit tests of `keys`, in a file of their own so that the module's file holds its code.

use super::*;

fn parts(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_part(key, |part| out.push(part.to_ascii_lowercase()));
    out
}

#[test]
fn keys_split_on_separators_and_camel_case() {
    assert_eq!(parts("db_password"), ["db", "password"]);
    assert_eq!(parts("x-api-key"), ["x", "api", "key"]);
    assert_eq!(parts("privateKey"), ["private", "key"]);
    assert_eq!(parts("APIKey"), ["api", "key"]);
    assert_eq!(parts("XApiKey"), ["x", "api", "key"]);
    assert_eq!(parts("oauth2Token"), ["oauth2", "token"]);
    assert_eq!(
        parts("AWS_SECRET_ACCESS_KEY"),
        ["aws", "secret", "access", "key"]
    );
    assert_eq!(parts("__a..b  c__"), ["a", "b", "c"]);
    assert!(parts("").is_empty());
    assert_eq!(parts("é_Ü"), ["é", "Ü"]);
}

#[test]
fn envelope_keys_are_not_credentials_by_the_full_rule_either() {
    for key in [
        "request",
        "id",
        "jsonrpc",
        "method",
        "params",
        "name",
        "arguments",
        "_meta",
        "content",
        "type",
        "text",
        "isError",
        "structuredContent",
    ] {
        assert!(is_envelope_key(key), "{key}");
        assert!(
            !is_listed_credential_key(key) && !is_secret_key(key),
            "{key}"
        );
    }
    assert!(!is_envelope_key("token") && is_credential_key("token"));
}

#[test]
fn credential_keys_match_case_insensitively_and_by_parts() {
    for key in [
        "Authorization",
        "apiKey",
        "Token",
        "api-key",
        "X-API-KEY",
        "client_secret",
        "PRIVATE_KEY",
        "my_password",
        "auth",
    ] {
        assert!(is_credential_key(key), "{key}");
    }
    for key in ["token_count", "tokens", "keys", "author"] {
        assert!(!is_credential_key(key), "{key}");
    }
}

#[test]
fn every_listed_credential_name_is_redacted_in_any_case() {
    let names = [
        "authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "apikey",
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
        "password",
        "secret",
        "clientsecret",
        "client-secret",
        "client_secret",
        "privatekey",
        "private-key",
        "private_key",
    ];
    for name in names {
        assert!(is_listed_credential_key(name), "{name}");
        for variant in [
            name.to_owned(),
            name.to_ascii_uppercase(),
            capitalized(name),
        ] {
            assert!(is_credential_key(&variant), "{variant}");
        }
    }
}

/// `api_key` → `Api_Key`: each part capitalized, as HTTP headers are written.
fn capitalized(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = matches!(c, '-' | '_');
    }
    out
}
