//! The generic pass: the binary gate and PostHog tokens, plus key-based redaction, content-block stubs and the
//! per-tool `redact` fields, over JSON values of any depth.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::json_members::redact_json_members;
use super::keys::{REDACTED, is_credential_key};
use super::secrets::{chain, redact_credentials};
use crate::encode::char_boundary_after;
use super::truncate::{MARKER, MAX_STRING_CHARS, TEXT_BLOCK_CAP, drop_deep, truncate};

/// What a string that looks like binary data becomes.
pub const BINARY_STUB: &str = "[binary data redacted - not supported by PostHog MCP analytics]";

const IMAGE_STUB: &str = "[image content redacted - not supported by PostHog MCP analytics]";
const AUDIO_STUB: &str = "[audio content redacted - not supported by PostHog MCP analytics]";
const BLOB_STUB: &str =
    "[binary resource content redacted - not supported by PostHog MCP analytics]";

/// The smallest string the binary gate replaces, in characters.
pub(crate) const BINARY_MIN_CHARS: usize = 10_240;

/// The characters at each end of a string that the binary gate reads.
pub(crate) const BINARY_EDGE_CHARS: usize = 1_024;

/// The longest data URL header (the text between `data:` and the first comma) the gate reads.
const MAX_DATA_URL_HEADER: usize = 1_024;

/// The binary gate: whether a string is replaced whole by [`BINARY_STUB`]. It is when it is a `data:` URL whose
/// header ends in `;base64,`, or when it has 10,240 characters or more and its first and last 1,024 characters are
/// all base64 or base64url characters (line breaks allowed, up to two `=` of padding at the very end). The gate
/// reads only the two ends and the header, so its cost does not grow with the string.
pub(crate) fn is_binary(text: &str) -> bool {
    is_base64_data_url(text) || is_long_base64(text)
}

fn is_long_base64(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < BINARY_MIN_CHARS {
        return false;
    }
    let head = &bytes[..BINARY_EDGE_CHARS];
    let tail = &bytes[bytes.len() - BINARY_EDGE_CHARS..];
    let padding = tail.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 || !head.iter().all(|&b| is_base64_byte(b)) {
        return false;
    }
    if !tail[..tail.len() - padding]
        .iter()
        .all(|&b| is_base64_byte(b))
    {
        return false;
    }
    // Both ends are ASCII, so bytes count characters there; a middle with wider characters may bring the count
    // under the threshold. A string four bytes a character long at most has at least a quarter of its bytes.
    bytes.len() >= 4 * BINARY_MIN_CHARS || text.chars().nth(BINARY_MIN_CHARS - 1).is_some()
}

/// A character of base64 or base64url, or a line break of wrapped base64.
fn is_base64_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'-' | b'_' | b'\r' | b'\n')
}

/// `data:<header>;base64,…`, the scheme and the `;base64` in any case, the header at most 1,024 characters.
fn is_base64_data_url(text: &str) -> bool {
    let Some(prefix) = text.get(..5) else {
        return false;
    };
    if !prefix.eq_ignore_ascii_case("data:") {
        return false;
    }
    let window = &text.as_bytes()[5..text.len().min(5 + MAX_DATA_URL_HEADER + 1)];
    let Some(comma) = window.iter().position(|&b| b == b',') else {
        return false;
    };
    let header = &window[..comma];
    header.len() >= 7 && header[header.len() - 7..].eq_ignore_ascii_case(b";base64")
}

#[cfg(any(test, feature = "__internals"))]
/// The whole generic string pass: binary gate, PostHog tokens, credential shapes, credential-keyed JSON members,
/// URLs.
pub(crate) fn generic_string(input: &str) -> Cow<'_, str> {
    if is_binary(input) {
        return Cow::Owned(BINARY_STUB.to_owned());
    }
    generic_passes(input)
}

/// The generic pass after the binary gate: PostHog tokens, credential shapes, credential-keyed JSON members, URLs.
pub(crate) fn generic_passes(input: &str) -> Cow<'_, str> {
    let text = chain(redact_credentials(input), redact_json_members);
    chain(text, super::url::redact_urls)
}

/// The characters a string with a limit keeps past it while the passes run, so that a match crossing the limit is
/// seen whole.
pub(crate) const MARGIN_CHARS: usize = 1_024;

/// A string with a length limit, in the order that keeps the cost proportional to the limit: the binary gate on
/// the whole string, a cut to the limit plus [`MARGIN_CHARS`], the `passes`, then a cut to the limit (marked). When
/// the first cut removed text, the last cut also drops the passed text's last [`MARGIN_CHARS`] characters, where a
/// match the first cut split could otherwise slide under the limit after an earlier redaction shortened the text.
pub(crate) fn limited<'a>(
    input: &'a str,
    limit: usize,
    passes: for<'b> fn(&'b str) -> Cow<'b, str>,
) -> Cow<'a, str> {
    if is_binary(input) {
        return Cow::Owned(BINARY_STUB.to_owned());
    }
    let kept = limit.saturating_add(MARGIN_CHARS);
    let (first, cut) = match char_boundary_after(input, kept) {
        Some(at) => (&input[..at], true),
        None => (input, false),
    };
    let passed = passes(first);
    let target = if cut {
        // At least the marker's length, so a string that lost text still shows the cut.
        let shown = passed.chars().count().saturating_sub(MARGIN_CHARS);
        limit.min(shown.max(MARKER.len()))
    } else {
        limit
    };
    match passed {
        Cow::Borrowed(text) => truncate(text, target),
        Cow::Owned(text) => Cow::Owned(truncate(&text, target).into_owned()),
    }
}

/// Replaces a value in place, dismantling the old one without recursion.
fn replace(slot: &mut Value, new: Value) {
    drop_deep(std::mem::replace(slot, new));
}

/// Key redaction at any depth, then each remaining string leaf through [`limited`] at the string limit, so each
/// string costs what one at the limit does; iterative.
pub(crate) fn sanitize_tree(root: &mut Value) {
    let mut stack: Vec<&mut Value> = vec![root];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => {
                if let Cow::Owned(new) = limited(text, MAX_STRING_CHARS, generic_passes) {
                    *text = new;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => {
                rename_secret_keys(map);
                for (key, child) in map.iter_mut() {
                    if is_credential_key(key) {
                        if child.as_str() != Some(REDACTED) {
                            replace(child, Value::String(REDACTED.to_owned()));
                        }
                    } else {
                        stack.push(child);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Keys that hold a credential are rewritten, in place and in order. Two keys that become the same keep the later
/// value (both held a redacted credential).
fn rename_secret_keys(map: &mut Map<String, Value>) {
    if !map
        .keys()
        .any(|key| matches!(redact_credentials(key), Cow::Owned(_)))
    {
        return;
    }
    let old = std::mem::take(map);
    for (key, child) in old {
        let key = match redact_credentials(&key) {
            Cow::Owned(new) => new,
            Cow::Borrowed(_) => key,
        };
        if let Some(replaced) = map.insert(key, child) {
            drop_deep(replaced);
        }
    }
}

/// Each object key in `fields`, at any depth, gets the value `[redacted]`; iterative.
pub(crate) fn redact_named(root: &mut Value, fields: &[&str]) {
    if fields.is_empty() {
        return;
    }
    let mut stack: Vec<&mut Value> = vec![root];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if fields.contains(&key.as_str()) {
                        replace(child, Value::String(REDACTED.to_owned()));
                    } else {
                        stack.push(child);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The content blocks of a response, each kept or replaced by a stub: the `content` array of a tool result, and
/// the `content` of each prompt message.
pub(crate) fn rewrite_content_blocks(response: &mut Value) {
    let Value::Object(root) = response else {
        return;
    };
    if let Some(Value::Array(blocks)) = root.get_mut("content") {
        blocks.iter_mut().for_each(rewrite_block);
    }
    if let Some(Value::Array(messages)) = root.get_mut("messages") {
        for message in messages {
            match message.get_mut("content") {
                Some(Value::Array(blocks)) => blocks.iter_mut().for_each(rewrite_block),
                Some(block @ Value::Object(_)) => rewrite_block(block),
                _ => {}
            }
        }
    }
}

fn text_block(text: String) -> Value {
    let mut block = Map::with_capacity(2);
    block.insert("type".into(), Value::String("text".into()));
    block.insert("text".into(), Value::String(text));
    Value::Object(block)
}

/// One content block: kept (text, resource text, resource link) or replaced by a stub naming its kind.
fn rewrite_block(block: &mut Value) {
    let Value::Object(map) = block else {
        return;
    };
    let Some(kind) = map.get("type").and_then(Value::as_str) else {
        return;
    };
    let stub = match kind {
        "text" => {
            if let Some(Value::String(text)) = map.get_mut("text")
                && let Cow::Owned(cut) = truncate(text, TEXT_BLOCK_CAP)
            {
                *text = cut;
            }
            return;
        }
        "resource_link" => return,
        "resource" => {
            let holds_blob = map
                .get("resource")
                .and_then(Value::as_object)
                .is_some_and(|r| r.contains_key("blob"));
            if !holds_blob {
                return;
            }
            BLOB_STUB.to_owned()
        }
        "image" => IMAGE_STUB.to_owned(),
        "audio" => AUDIO_STUB.to_owned(),
        other => format!(
            "[unsupported content type \"{other}\" redacted - not supported by PostHog MCP analytics]"
        ),
    };
    replace(block, text_block(stub));
}

#[cfg(test)]
#[path = "generic_tests.rs"]
mod tests;
