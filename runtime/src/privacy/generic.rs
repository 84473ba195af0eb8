//! The generic pass: the binary gate and PostHog tokens, plus key-based redaction, content-block stubs and the
//! per-tool `redact` fields, over JSON values of any depth.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::json_members::redact_json_members;
use super::keys::{REDACTED, is_credential_key};
use super::secrets::{chain, redact_credentials};
use super::truncate::{TEXT_BLOCK_CAP, drop_deep, truncate};

/// What a string that looks like binary data becomes.
pub const BINARY_STUB: &str = "[binary data redacted - not supported by PostHog MCP analytics]";

const IMAGE_STUB: &str = "[image content redacted - not supported by PostHog MCP analytics]";
const AUDIO_STUB: &str = "[audio content redacted - not supported by PostHog MCP analytics]";
const BLOB_STUB: &str =
    "[binary resource content redacted - not supported by PostHog MCP analytics]";

/// The smallest string the binary gate replaces, in characters.
pub(crate) const BINARY_MIN_CHARS: usize = 10_240;

/// The binary gate: whether a string is long enough and shaped like base64 to be replaced whole.
pub(crate) fn is_binary(text: &str) -> bool {
    if text.len() < BINARY_MIN_CHARS {
        return false;
    }
    let bytes = text.as_bytes();
    // (a) and (c) accept ASCII only, where bytes and characters count the same.
    let shaped = is_plain_base64(bytes) || is_url_safe_base64(bytes) || is_base64_data_url(text);
    shaped && (text.is_ascii() || text.chars().nth(BINARY_MIN_CHARS - 1).is_some())
}

/// `^[A-Za-z0-9+/\n\r]+=*$`
fn is_plain_base64(bytes: &[u8]) -> bool {
    let body_len = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'=').count();
    body_len > 0
        && bytes[..body_len]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'\n' | b'\r'))
}

/// Contains `-` or `_` and matches `^[A-Za-z0-9_-]+={0,2}$`.
fn is_url_safe_base64(bytes: &[u8]) -> bool {
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &bytes[..bytes.len() - padding];
    padding <= 2
        && !body.is_empty()
        && body.iter().any(|&b| b == b'-' || b == b'_')
        && body
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `data:<no comma or space>;base64,<payload>`, the percent-decoded payload without CR/LF matching
/// `^[A-Za-z0-9+/_-]+={0,2}$`.
fn is_base64_data_url(text: &str) -> bool {
    let Some(prefix) = text.get(..5) else {
        return false;
    };
    if !prefix.eq_ignore_ascii_case("data:") {
        return false;
    }
    let rest = &text[5..];
    let Some(comma) = rest.find(',') else {
        return false;
    };
    let header = &rest[..comma];
    if header.chars().any(char::is_whitespace) || header.len() < 7 {
        return false;
    }
    let Some(suffix) = header.get(header.len() - 7..) else {
        return false;
    };
    if !suffix.eq_ignore_ascii_case(";base64") {
        return false;
    }
    let payload = &rest.as_bytes()[comma + 1..];
    let mut body_len = 0usize;
    let mut padding = 0usize;
    let mut index = 0;
    while index < payload.len() {
        let mut byte = payload[index];
        index += 1;
        if byte == b'%' {
            let decoded = payload.get(index..index + 2).and_then(|hex| {
                let text = std::str::from_utf8(hex).ok()?;
                u8::from_str_radix(text, 16).ok()
            });
            if let Some(decoded) = decoded {
                byte = decoded;
                index += 2;
            }
        }
        match byte {
            b'\r' | b'\n' => {}
            b'=' => padding += 1,
            _ if padding > 0 => return false,
            b if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-') => {
                body_len += 1
            }
            _ => return false,
        }
    }
    body_len > 0 && padding <= 2
}

/// The whole generic string pass: binary gate, PostHog tokens, credential shapes, credential-keyed JSON members,
/// URLs.
pub(crate) fn generic_string(input: &str) -> Cow<'_, str> {
    if is_binary(input) {
        return Cow::Owned(BINARY_STUB.to_owned());
    }
    let text = chain(redact_credentials(input), redact_json_members);
    chain(text, super::url::redact_urls)
}

/// Replaces a value in place, dismantling the old one without recursion.
fn replace(slot: &mut Value, new: Value) {
    drop_deep(std::mem::replace(slot, new));
}

/// The generic pass on every string leaf and key redaction, at any depth; iterative.
pub(crate) fn sanitize_tree(root: &mut Value) {
    let mut stack: Vec<&mut Value> = vec![root];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => {
                if let Cow::Owned(new) = generic_string(text) {
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
