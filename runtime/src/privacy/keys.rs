//! Which object keys name a credential, and the placeholder every redaction writes. The other privacy files
//! build on this one, and it imports none of them.
//!
//! A key names a credential when it is one of the listed names as a whole, in any case (`authorization`,
//! `cookie`, `password`, `api_key`, `Refresh-Token`, `CLIENTSECRET`, …), or when its parts say so: a key is split
//! on `_`, `-`, `.`, whitespace and camelCase boundaries and judged on those parts, so `db_password`,
//! `aws_secret_access_key`, `x-api-key` and `privateKey` are credentials while `token_count`, `max_tokens`,
//! `author`, `keyboard` and `secretary` are not.

/// What a redacted value or match becomes.
pub(crate) const REDACTED: &str = "[redacted]";

/// Whether an object key names a credential: a listed name, whole and case-insensitively (`PassWord`), or a key
/// judged secret by its parts (`db_password`).
pub(crate) fn is_credential_key(key: &str) -> bool {
    !is_envelope_key(key) && (is_listed_credential_key(key) || is_secret_key(key))
}

/// Keys of the JSON-RPC and MCP envelope that every captured request and result has (none names a credential,
/// which a test checks against the full rule): answered without splitting them into parts.
fn is_envelope_key(key: &str) -> bool {
    matches!(
        key,
        "request"
            | "id"
            | "jsonrpc"
            | "method"
            | "params"
            | "name"
            | "arguments"
            | "_meta"
            | "content"
            | "type"
            | "text"
            | "isError"
            | "structuredContent"
    )
}

/// Whether a key is one of the listed credential names (`authorization`, `api_key`, `token`, …), whole and
/// case-insensitive.
fn is_listed_credential_key(key: &str) -> bool {
    const LONGEST: usize = 13;
    if key.len() > LONGEST || key.len() < 5 {
        return false;
    }
    let mut buffer = [0u8; LONGEST];
    let lowered = &mut buffer[..key.len()];
    lowered.copy_from_slice(key.as_bytes());
    lowered.make_ascii_lowercase();
    matches!(
        &*lowered,
        b"authorization"
            | b"cookie"
            | b"set-cookie"
            | b"x-api-key"
            | b"apikey"
            | b"api-key"
            | b"api_key"
            | b"apitoken"
            | b"api-token"
            | b"api_token"
            | b"accesstoken"
            | b"access-token"
            | b"access_token"
            | b"refreshtoken"
            | b"refresh-token"
            | b"refresh_token"
            | b"token"
            | b"password"
            | b"secret"
            | b"clientsecret"
            | b"client-secret"
            | b"client_secret"
            | b"privatekey"
            | b"private-key"
            | b"private_key"
    )
}

/// Parts that make any key secret, wherever they stand.
const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "credential",
    "credentials",
    "authorization",
    "jwt",
    // Compounds written as one lowercase word.
    "apikey",
    "apitoken",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "bearertoken",
    "sessiontoken",
    "privatekey",
    "secretkey",
    "accesskey",
    "clientsecret",
];

/// Parts before `key` (or `keys`) that make it a credential: `api_key`, `private_key`, `aws_access_key_id`.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "private",
    "secret",
    "access",
    "signing",
    "encryption",
    "master",
    "client",
    "auth",
    "ssh",
    "pgp",
    "gpg",
    "session",
    "license",
    "webhook",
];

/// Parts before a last `token` that make it a cursor, not a credential: `page_token`, `NextToken`.
const CURSOR_QUALIFIERS: &[&str] = &[
    "page",
    "next",
    "cursor",
    "continuation",
    "pagination",
    "sync",
];

/// Parts before a last `tokens` that make it a list of credentials (`max_tokens` is a count).
const TOKENS_QUALIFIERS: &[&str] = &[
    "access", "refresh", "api", "auth", "id", "bearer", "session",
];

fn is_one_of(part: &str, words: &[&str]) -> bool {
    words.iter().any(|word| part.eq_ignore_ascii_case(word))
}

fn ends_with_ignore_case(part: &str, suffix: &str) -> bool {
    part.len() > suffix.len()
        && part.as_bytes()[part.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Calls `each` with the parts of `key`: split on `_`, `-`, `.`, whitespace and camelCase boundaries (`privateKey`,
/// `APIKey` → `API` `Key`, `oauth2Token` → `oauth2` `Token`). Empty parts are skipped.
fn for_each_part<'k>(key: &'k str, mut each: impl FnMut(&'k str)) {
    let bytes = key.as_bytes();
    let mut start = 0;
    for index in 0..=bytes.len() {
        let separator = index == bytes.len()
            || matches!(bytes[index], b'_' | b'-' | b'.')
            || bytes[index].is_ascii_whitespace();
        let boundary = !separator && index > start && {
            let (before, here) = (bytes[index - 1], bytes[index]);
            let next_lower = bytes.get(index + 1).is_some_and(u8::is_ascii_lowercase);
            here.is_ascii_uppercase()
                && (before.is_ascii_lowercase()
                    || before.is_ascii_digit()
                    || (before.is_ascii_uppercase() && next_lower))
        };
        if separator || boundary {
            if index > start {
                each(&key[start..index]);
            }
            start = if separator { index + 1 } else { index };
        }
    }
}

/// Whether an object key names a credential, judged on its parts (see the module doc).
pub(crate) fn is_secret_key(key: &str) -> bool {
    let mut secret = false;
    let mut count = 0usize;
    let mut previous = "";
    let mut last = "";
    let mut before_last = "";
    for_each_part(key, |part| {
        if secret {
            return;
        }
        count += 1;
        secret = is_one_of(part, SECRET_PARTS)
            || ends_with_ignore_case(part, "password")
            || ends_with_ignore_case(part, "passwd")
            // `pwd` alone is the working directory of shell-like tools; `db_pwd` is a password.
            || (part.eq_ignore_ascii_case("pwd") && count > 1)
            || (is_one_of(part, &["key", "keys"]) && is_one_of(previous, KEY_QUALIFIERS));
        before_last = previous;
        previous = part;
        last = part;
    });
    if secret {
        return true;
    }
    (count == 1 && last.eq_ignore_ascii_case("auth"))
        || (last.eq_ignore_ascii_case("token") && !is_one_of(before_last, CURSOR_QUALIFIERS))
        || (last.eq_ignore_ascii_case("tokens") && is_one_of(before_last, TOKENS_QUALIFIERS))
        || is_one_of(last, &["cookie", "cookies"])
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
