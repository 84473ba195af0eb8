//! JSON written inside a string: the value of a member whose key names a credential becomes `"[redacted]"`.
//!
//! A tool that returns `structuredContent` also returns the same object as JSON text in a content block, so a
//! credential the key rule took out of the object would otherwise stay readable in the text. The pass finds each
//! `"key":` whose key is a credential key (`keys.rs`) and replaces its value when the value is a string, a number,
//! `true`, `false`, `null`, or a flat array of those; the placeholder is written as a JSON string, so JSON text
//! stays valid JSON. A string value may be cut off at a line end or at the end of the text (a truncated text, a
//! log line), even right after a `\`; it is redacted up to the cut. A value that is an object, an array that holds
//! an object or an array, and JSON escaped inside a JSON string are left alone.
//!
//! One left-to-right pass of one regex (linear in the text) finds the keys; each value is read once, from where
//! its key ends, so the pass stays linear in the text.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::keys::is_credential_key;
use super::splice::Splice;

/// A quoted key without escapes or line breaks, then a colon. The key and the whitespace around the colon are
/// bounded, so a search restarted after a key that is not a credential rescans at most one key's length.
static MEMBER_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""([^"\\\r\n]{1,128})"[ \t\r\n]{0,16}:[ \t\r\n]{0,16}"#).expect("static pattern")
});

/// What a redacted member value becomes: the placeholder as a JSON string.
const QUOTED_REDACTED: &str = "\"[redacted]\"";

/// Each credential-keyed JSON member value in `text` becomes `"[redacted]"`. Borrows when nothing changed.
pub(crate) fn redact_json_members(text: &str) -> Cow<'_, str> {
    if !text.contains("\"") || !text.contains(':') {
        return Cow::Borrowed(text);
    }
    let mut splice = Splice::new(text);
    let mut at = 0;
    while let Some(found) = MEMBER_KEY.captures_at(text, at) {
        let (Some(whole), Some(key)) = (found.get(0), found.get(1)) else {
            break;
        };
        at = whole.end();
        if !is_credential_key(key.as_str()) {
            continue;
        }
        let Some(end) = value_end(text.as_bytes(), whole.end()) else {
            continue;
        };
        at = end;
        if &text[whole.end()..end] == QUOTED_REDACTED {
            continue;
        }
        splice.replace(whole.end(), end, QUOTED_REDACTED);
    }
    splice.finish()
}

/// Where the scalar or flat array that starts at `start` ends (exclusive), or `None` when no value the pass
/// redacts starts there. Every end is at an ASCII byte or the end of the text, so it is a char boundary.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => Some(string_end(bytes, start).0),
        b'[' => flat_array_end(bytes, start),
        _ => scalar_end(bytes, start),
    }
}

/// The end of the string that opens at `start`, and whether it was closed: past its closing quote; at a line
/// break or the end of the text for a string cut off there (past a `\` right before the cut).
fn string_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut index = start + 1;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'"' => return (index + 1, true),
            b'\r' | b'\n' => return (index, false),
            b'\\' => match bytes.get(index + 1) {
                None | Some(b'\r' | b'\n') => return (index + 1, false),
                Some(_) => index += 2,
            },
            _ => index += 1,
        }
    }
    (bytes.len(), false)
}

/// The end of a number, `true`, `false` or `null` at `start`.
fn scalar_end(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start..];
    for literal in [&b"true"[..], b"false", b"null"] {
        if rest.starts_with(literal) {
            return Some(start + literal.len());
        }
    }
    if !matches!(rest.first(), Some(b'-' | b'0'..=b'9')) {
        return None;
    }
    let length = rest
        .iter()
        .take_while(|&&b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        .count();
    Some(start + length)
}

/// The end of an array of scalars that opens at `start`: past its `]`, or at the cut when the text ends inside
/// it. `None` when it holds an object or an array, or anything that is not JSON.
fn flat_array_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut index = start + 1;
    let mut expect_item = true;
    loop {
        while bytes.get(index).is_some_and(u8::is_ascii_whitespace) {
            index += 1;
        }
        let Some(&byte) = bytes.get(index) else {
            return Some(bytes.len());
        };
        match byte {
            b']' => return Some(index + 1),
            b',' if !expect_item => {
                expect_item = true;
                index += 1;
            }
            b'"' if expect_item => {
                let (end, closed) = string_end(bytes, index);
                if !closed {
                    return Some(end);
                }
                index = end;
                expect_item = false;
            }
            _ if expect_item => {
                index = scalar_end(bytes, index)?;
                expect_item = false;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
#[path = "json_members_tests.rs"]
mod tests;
