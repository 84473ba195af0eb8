//! The URL-credentials step of the generic pass, after the binary gate and PostHog tokens.
//!
//! Every URL-shaped run of the text is parsed as a WHATWG URL. Userinfo becomes `[redacted]` (the password goes),
//! and sensitive `key=value` fields of the query and the fragment (credential names, and signatures such as
//! `sig`, `signature` and `X-Amz-Signature`) get the value `[redacted]`. A run with nothing to redact is returned
//! byte for byte; only a run that changed is re-serialized by the `url` crate, and every placeholder in it is
//! written `[redacted]`, in brackets, never percent-encoded.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use url::{Url, form_urlencoded};

use super::keys::{REDACTED, is_credential_key};
use super::splice::Splice;
use super::secrets::redact_tokens;

/// JavaScript's `\s`, spelled out, so a run ends where it ends in PostHog's other SDKs.
const JS_SPACE: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// A URL-shaped run: a scheme, a colon, then anything up to a space, `<`, `>` or `"`.
static URL_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"[A-Za-z][A-Za-z0-9+.-]{{0,63}}:[^{JS_SPACE}<>"]+"#
    ))
    .expect("static pattern")
});

/// `scheme://`, where a second address may begin inside one run.
static AUTHORITY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z][A-Za-z0-9+.-]{0,63}://").expect("static pattern"));

const TRAILING_PUNCTUATION: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '\''];
const MAX_AUTHORITY_CHARS: usize = 8_192;
const MAX_FIELDS: usize = 128;
/// `[redacted]` as the `url` crate serializes it in userinfo and in fields.
const ENCODED_REDACTED: &str = "%5Bredacted%5D";

/// Whether values that hold a URL are sanitized (top level) or replaced whole (one level down).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Nested,
}

/// The URL pass over a whole text.
pub(super) fn redact_urls(text: &str) -> Cow<'_, str> {
    if !text.contains(':') {
        return Cow::Borrowed(text);
    }
    scan(text, Level::Top)
}

/// Whether `text` holds something URL-shaped.
fn holds_url(text: &str) -> bool {
    text.contains(':') && URL_RUN.is_match(text)
}

/// Rewrites each URL-shaped run of `text`, copying everything else.
fn scan(text: &str, level: Level) -> Cow<'_, str> {
    let mut splice = Splice::new(text);
    for run in URL_RUN.find_iter(text) {
        let whole = run.len() == text.len();
        let rewritten = rewrite_run(run.as_str(), level, !whole);
        if let Cow::Owned(new) = rewritten
            && new != run.as_str()
        {
            splice.replace(run.start(), run.end(), &new);
        }
    }
    splice.finish()
}

/// One run, which may hold several addresses written back to back.
fn rewrite_run(run: &str, level: Level, strip: bool) -> Cow<'_, str> {
    let starts = later_address_starts(run);
    if starts.is_empty() {
        return rewrite_address(run, level, strip);
    }
    let mut pieces: Vec<Cow<'_, str>> = Vec::with_capacity(starts.len() + 1);
    let mut from = 0;
    for &start in &starts {
        pieces.push(rewrite_address(&run[from..start], level, false));
        from = start;
    }
    pieces.push(rewrite_address(&run[from..], level, strip));
    if pieces.iter().all(|piece| matches!(piece, Cow::Borrowed(_))) {
        Cow::Borrowed(run)
    } else {
        Cow::Owned(pieces.concat())
    }
}

/// Offsets (after 0) where a new `scheme://` address begins, skipping ones that are a field value (after `=`).
fn later_address_starts(run: &str) -> Vec<usize> {
    if !run.contains("://") {
        return Vec::new();
    }
    let mut authorities = AUTHORITY
        .find_iter(run)
        .map(|found| found.start())
        .peekable();
    let mut starts = Vec::new();
    let (mut seen_query, mut seen_fragment, mut seen_fragment_query) = (false, false, false);
    let mut in_fields = false;
    let mut last_structural = '\0';
    for (offset, character) in run.char_indices() {
        let Some(&next) = authorities.peek() else {
            break;
        };
        if next == offset {
            if offset > 0 && last_structural != '=' {
                starts.push(offset);
            }
            authorities.next();
        }
        let delimiter = match character {
            '#' => !std::mem::replace(&mut seen_fragment, true),
            '?' if seen_fragment && last_structural == '=' => false,
            '?' if seen_fragment => !std::mem::replace(&mut seen_fragment_query, true),
            '?' => !std::mem::replace(&mut seen_query, true),
            _ => false,
        };
        if delimiter {
            last_structural = character;
            in_fields = true;
        } else if in_fields && (character == '=' || character == '&') {
            last_structural = character;
        }
    }
    starts
}

/// One address: the length guard, trailing punctuation, then parsing.
fn rewrite_address(text: &str, level: Level, strip: bool) -> Cow<'_, str> {
    if authority_too_long(text) {
        return Cow::Owned(REDACTED.to_owned());
    }
    let (address, suffix) = if strip {
        let address = text.trim_end_matches(TRAILING_PUNCTUATION);
        (address, &text[address.len()..])
    } else {
        (text, "")
    };
    match Url::parse(address) {
        Ok(url) => rewrite_url(url, text, address, suffix, level),
        Err(_) => Cow::Owned(format!("{REDACTED}{suffix}")),
    }
}

/// Whether the text starts with `scheme://` followed by an authority of more than 8,192 characters.
fn authority_too_long(text: &str) -> bool {
    let Some(found) = AUTHORITY.find(text) else {
        return false;
    };
    if found.start() != 0 {
        return false;
    }
    let authority = &text[found.end()..];
    if authority.len() <= MAX_AUTHORITY_CHARS {
        return false;
    }
    authority
        .chars()
        .take_while(|c| !matches!(c, '/' | '?' | '#' | '\\'))
        .nth(MAX_AUTHORITY_CHARS)
        .is_some()
}

fn too_many_fields(fields: &str) -> bool {
    fields.split('&').nth(MAX_FIELDS).is_some()
}

/// Splits a fragment at its first `?`.
fn split_fragment(fragment: &str) -> (&str, Option<&str>) {
    match fragment.split_once('?') {
        Some((head, tail)) => (head, Some(tail)),
        None => (fragment, None),
    }
}

fn rewrite_url<'a>(
    mut url: Url,
    text: &'a str,
    address: &str,
    suffix: &'a str,
    level: Level,
) -> Cow<'a, str> {
    let query = url.query().unwrap_or_default().to_owned();
    let fragment = url.fragment().unwrap_or_default().to_owned();
    let (head, tail) = split_fragment(&fragment);
    if too_many_fields(&query) || too_many_fields(head) || tail.is_some_and(too_many_fields) {
        return Cow::Owned(format!("{REDACTED}{suffix}"));
    }

    let userinfo_changed = redact_userinfo(&mut url);
    let query_fields = sanitize_fields(&query, level);
    if query_fields.changed {
        let serialized = query_fields.serialized.as_str();
        url.set_query((!serialized.is_empty()).then_some(serialized));
    }
    let new_fragment = sanitize_fragment(&fragment, level);
    let fragment_changed = new_fragment.value != fragment;
    if fragment_changed {
        url.set_fragment((!new_fragment.value.is_empty()).then_some(new_fragment.value.as_str()));
    }

    let changed = userinfo_changed || query_fields.changed || fragment_changed;
    let last_sensitive = if fragment.is_empty() {
        query_fields.last_sensitive
    } else {
        new_fragment.last_sensitive
    };
    let kept_suffix = if last_sensitive { "" } else { suffix };
    if !changed {
        if kept_suffix.len() == suffix.len() {
            return Cow::Borrowed(text);
        }
        return Cow::Owned(address.to_owned());
    }
    // The `url` crate percent-encodes the placeholder in userinfo and in fields; it reads `[redacted]`, which
    // decodes to itself, in every part of an address.
    let written = url.as_str().replace(ENCODED_REDACTED, REDACTED);
    let mut body = redact_tokens(&written).into_owned();
    body.push_str(kept_suffix);
    Cow::Owned(body)
}

/// Userinfo: the username becomes `[redacted]`, the password goes.
fn redact_userinfo(url: &mut Url) -> bool {
    let has_password = url.password().is_some_and(|password| !password.is_empty());
    if (url.username().is_empty() || url.username() == ENCODED_REDACTED) && !has_password {
        return false;
    }
    let _ = url.set_username(REDACTED);
    let _ = url.set_password(None);
    true
}

struct Fields {
    changed: bool,
    last_sensitive: bool,
    serialized: String,
}

/// An `&`-separated list of `key=value` fields (a query, or a part of a fragment).
fn sanitize_fields(fields: &str, level: Level) -> Fields {
    let mut result = Fields {
        changed: false,
        last_sensitive: false,
        serialized: String::new(),
    };
    if fields.is_empty() {
        return result;
    }
    let mut serializer = form_urlencoded::Serializer::new(String::with_capacity(fields.len() + 16));
    for (raw_name, raw_value) in form_urlencoded::parse(fields.as_bytes()) {
        let name = redact_tokens(&raw_name);
        let value = redact_tokens(&raw_value);
        let sanitized = sanitize_value(&name, &value, level);
        let value_changed = sanitized != value;
        result.changed |= name != raw_name || value != raw_value || value_changed;
        result.last_sensitive = is_sensitive_field(&name) || value_changed;
        serializer.append_pair(&name, &sanitized);
    }
    result.serialized = serializer.finish();
    result
}

fn sanitize_value<'a>(name: &str, value: &'a str, level: Level) -> Cow<'a, str> {
    if is_sensitive_field(name) || names_sensitive_piece(value) {
        return Cow::Borrowed(REDACTED);
    }
    if !holds_url(value) {
        return Cow::Borrowed(value);
    }
    match level {
        Level::Top => scan(value, Level::Nested),
        Level::Nested => Cow::Borrowed(REDACTED),
    }
}

/// A value such as `1;token=x`, where a `;`-piece names a sensitive key.
fn names_sensitive_piece(value: &str) -> bool {
    value.contains(';')
        && value
            .split(';')
            .any(|piece| is_sensitive_field(piece.split('=').next().unwrap_or_default()))
}

struct Part {
    value: String,
    last_sensitive: bool,
}

/// A fragment: a head and an optional tail after the first `?`, each fields when it holds `=`, else text.
fn sanitize_fragment(fragment: &str, level: Level) -> Part {
    let (head, tail) = split_fragment(fragment);
    let head = sanitize_part(head, level);
    let Some(tail) = tail else {
        return head;
    };
    // After a sensitive field, a `?` may belong to the secret itself, so the whole tail goes.
    let tail = if head.last_sensitive {
        Part {
            value: if tail.is_empty() {
                String::new()
            } else {
                REDACTED.to_owned()
            },
            last_sensitive: true,
        }
    } else {
        sanitize_part(tail, level)
    };
    Part {
        value: format!("{}?{}", head.value, tail.value),
        last_sensitive: tail.last_sensitive,
    }
}

fn sanitize_part(part: &str, level: Level) -> Part {
    if !part.contains('=') {
        let value = match level {
            Level::Top => scan(part, Level::Nested).into_owned(),
            Level::Nested if holds_url(part) => REDACTED.to_owned(),
            Level::Nested => part.to_owned(),
        };
        return Part {
            value,
            last_sensitive: false,
        };
    }
    let fields = sanitize_fields(part, level);
    let value = if fields.changed {
        fields.serialized
    } else {
        part.to_owned()
    };
    Part {
        value,
        last_sensitive: fields.last_sensitive,
    }
}

const SENSITIVE_SEGMENTS: &[&str] = &[
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "credential",
    "signature",
    "sig",
    "key",
    "hmac",
    "sas",
    "bearer",
    "jwt",
    "session",
    "sessionid",
];

/// A query or fragment key that names a credential.
pub(super) fn is_sensitive_field(name: &str) -> bool {
    if is_credential_key(name) {
        return true;
    }
    if ["code", "awsaccesskeyid", "googleaccessid", "policy"]
        .iter()
        .any(|whole| name.eq_ignore_ascii_case(whole))
    {
        return true;
    }
    name.split(['-', '_', '.', '/', ';']).any(|segment| {
        SENSITIVE_SEGMENTS
            .iter()
            .any(|word| segment.eq_ignore_ascii_case(word))
    })
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
