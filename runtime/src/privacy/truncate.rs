//! Truncation: per-field caps (layer 1), strings/depth/breadth of captured JSON (layer 2), and the 102,400-byte
//! event budget (layer 3). Every walker is iterative, so no input depth can overflow the stack.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::encode::char_boundary_after;
use crate::event::Payload;
use crate::json_string::needs_escape;

/// The marker appended to a truncated string.
pub(crate) const MARKER: &str = "...";
/// Layer 1 cap of a response `content[]` block of type `text`.
pub(crate) const TEXT_BLOCK_CAP: usize = 32_768;
/// Layer 2: the longest string kept whole.
pub(crate) const MAX_STRING_CHARS: usize = 32_768;
/// Layer 2: the longest object key kept whole.
pub(crate) const MAX_KEY_CHARS: usize = 256;
/// Layer 2: the depth a captured value starts with.
pub const MAX_DEPTH: usize = 10;
/// Layer 2: items per array, keys per object.
pub(crate) const MAX_BREADTH: usize = 100;
/// What stands for the items or keys cut by the breadth bound.
pub(crate) const MAX_PROPERTIES: &str = "[MaxProperties ~]";
/// Layer 3: the most UTF-8 bytes a payload's JSON may have.
pub const MAX_EVENT_BYTES: usize = 102_400;

/// The fields layer 2 bounds, and that the ladder re-bounds at decreasing depth.
const BOUNDED_FIELDS: [&str; 4] = [
    "$mcp_parameters",
    "$mcp_response",
    "$set",
    "$exception_list",
];
/// Properties the budget never shortens.
const NEVER_SHORTENED: [&str; 9] = [
    "$session_id",
    "$mcp_tool_name",
    "$mcp_interface",
    "$anon_distinct_id",
    "$mcp_conversation_id",
    "$mcp_source",
    "$process_person_profile",
    "$mcp_duration_ms",
    "$mcp_is_error",
];
const LADDER_MIN_CHARS: usize = 100;
const LADDER_ROUNDS: usize = 10;
const LADDER_SLACK: usize = 200;
const LADDER_MIN_CUT: usize = 10;

/// "Truncated to N": a string of more than `max` Unicode scalar values keeps its start and ends with the marker,
/// `max` characters in all, marker included (a limit shorter than the marker keeps the first `max` characters).
pub(crate) fn truncate(input: &str, max: usize) -> Cow<'_, str> {
    if input.len() <= max {
        return Cow::Borrowed(input);
    }
    // A limit shorter than the marker keeps the first `max` characters and no marker.
    let kept = max.checked_sub(MARKER.len()).unwrap_or(max);
    let Some(cut) = char_boundary_after(input, kept) else {
        return Cow::Borrowed(input);
    };
    // The string is too long only if more than `max - kept` characters follow the kept start.
    if max > kept && char_boundary_after(&input[cut..], max - kept).is_none() {
        return Cow::Borrowed(input);
    }
    if kept == max {
        return Cow::Owned(input[..cut].to_owned());
    }
    let mut out = String::with_capacity(cut + MARKER.len());
    out.push_str(&input[..cut]);
    out.push_str(MARKER);
    Cow::Owned(out)
}

fn truncate_in_place(text: &mut String, max: usize) {
    if let Cow::Owned(cut) = truncate(text, max) {
        *text = cut;
    }
}

/// Drops a value without recursion, however deep it is (`Value`'s own `Drop` recurses).
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, child)| child)),
            _ => {}
        }
    }
}

fn replace(slot: &mut Value, new: Value) {
    drop_deep(std::mem::replace(slot, new));
}

/// Layer 2 from `depth` remaining levels at the root; iterative.
pub(crate) fn bound(root: &mut Value, depth: usize) {
    bound_with(root, depth, true);
}

/// Layer 2 without the string limit: entries, nesting and keys only, which the privacy passes apply before
/// they read any string (each string then gets the passes and its limit together).
pub(crate) fn bound_structure(root: &mut Value, depth: usize) {
    bound_with(root, depth, false);
}

fn bound_with(root: &mut Value, depth: usize, strings: bool) {
    let mut stack: Vec<(&mut Value, usize)> = vec![(root, depth)];
    while let Some((value, remaining)) = stack.pop() {
        match value {
            Value::String(text) if strings => truncate_in_place(text, MAX_STRING_CHARS),
            Value::String(_) => {}
            Value::Array(_) if remaining == 0 => replace(value, Value::String("[Array]".into())),
            Value::Object(_) if remaining == 0 => replace(value, Value::String("[Object]".into())),
            Value::Array(items) => {
                if items.len() > MAX_BREADTH {
                    for cut in items.drain(MAX_BREADTH..) {
                        drop_deep(cut);
                    }
                    items.push(Value::String(MAX_PROPERTIES.into()));
                }
                stack.extend(items.iter_mut().map(|child| (child, remaining - 1)));
            }
            Value::Object(map) => {
                if map.len() > MAX_BREADTH {
                    let old = std::mem::take(map);
                    let mut kept = Map::with_capacity(MAX_BREADTH + 1);
                    for (index, (key, child)) in old.into_iter().enumerate() {
                        if index < MAX_BREADTH {
                            kept.insert(key, child);
                        } else {
                            drop_deep(child);
                        }
                    }
                    kept.insert(MARKER.into(), Value::String(MAX_PROPERTIES.into()));
                    *map = kept;
                }
                cut_long_keys(map);
                stack.extend(map.values_mut().map(|child| (child, remaining - 1)));
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Keys over [`MAX_KEY_CHARS`] characters are cut there (marked); of two keys that become the same, the later
/// value stays.
fn cut_long_keys(map: &mut Map<String, Value>) {
    if !map.keys().any(|key| key.len() > MAX_KEY_CHARS) {
        return;
    }
    let old = std::mem::take(map);
    for (key, child) in old {
        let key = match truncate(&key, MAX_KEY_CHARS) {
            Cow::Owned(cut) => cut,
            Cow::Borrowed(_) => key,
        };
        if let Some(replaced) = map.insert(key, child) {
            drop_deep(replaced);
        }
    }
}

/// The length of a string as a JSON string literal, as `serde_json` writes it.
fn json_string_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    // Most strings need no escape: one vectorized check, then the exact count only for the others.
    if !needs_escape(bytes) {
        return 2 + bytes.len();
    }
    2 + bytes
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0C => 2,
            0x00..=0x1F => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// The length of `value`'s compact JSON, as `serde_json::to_vec` writes it; iterative.
pub(crate) fn json_len(value: &Value) -> usize {
    json_len_with(&mut Vec::new(), value)
}

/// [`json_len`] with a work stack the caller provides (one for all the properties of a payload, so measuring
/// a payload allocates once, not once per property).
fn json_len_with<'a>(stack: &mut Vec<&'a Value>, value: &'a Value) -> usize {
    let mut total = 0;
    stack.clear();
    stack.push(value);
    while let Some(value) = stack.pop() {
        total += match value {
            Value::Null => 4,
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(number) => number_len(number),
            Value::String(text) => json_string_len(text),
            Value::Array(items) => {
                stack.extend(items.iter());
                2 + items.len().saturating_sub(1)
            }
            Value::Object(map) => {
                stack.extend(map.values());
                2 + map.len().saturating_sub(1)
                    + map
                        .keys()
                        .map(|key| json_string_len(key) + 1)
                        .sum::<usize>()
            }
        };
    }
    total
}

/// The length of a number as `serde_json` writes it (its `Display`), counted without allocating.
fn number_len(number: &serde_json::Number) -> usize {
    if let Some(value) = number.as_u64() {
        return decimal_digits(value);
    }
    if let Some(value) = number.as_i64() {
        // Negative here: `as_u64` took every non-negative integer.
        return 1 + decimal_digits(value.unsigned_abs());
    }
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0 += text.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = std::fmt::Write::write_fmt(&mut count, format_args!("{number}"));
    count.0
}

/// The number of decimal digits of `value` (1 for 0).
fn decimal_digits(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

fn properties_len(properties: &Map<String, Value>) -> usize {
    let mut stack = Vec::with_capacity(16);
    2 + properties.len().saturating_sub(1)
        + properties
            .iter()
            .map(|(key, value)| json_string_len(key) + 1 + json_len_with(&mut stack, value))
            .sum::<usize>()
}

/// The UTF-8 length of [`Payload::to_json`], computed without building or serializing it.
pub(crate) fn payload_len(payload: &Payload) -> usize {
    // {"event":…,"distinct_id":…,"properties":…,"timestamp":…,"uuid":…}
    const FIXED: usize = r#"{"event":,"distinct_id":,"properties":,"timestamp":,"uuid":}"#.len();
    const UUID_LITERAL: usize = 38;
    FIXED
        + json_string_len(&payload.event)
        + json_string_len(&payload.distinct_id)
        + properties_len(&payload.properties)
        + timestamp_literal_len(payload)
        + UUID_LITERAL
}

/// The length of the payload's timestamp as a JSON string: 26 for the 24-character `YYYY-MM-DDTHH:MM:SS.mmmZ`
/// form, which [`Payload::write_json`] writes for years 0–9999; measured in full otherwise.
fn timestamp_literal_len(payload: &Payload) -> usize {
    use chrono::Datelike;
    if (0..=9999).contains(&payload.timestamp.year()) {
        26
    } else {
        json_string_len(&payload.timestamp_string())
    }
}

/// Layer 3: holds the payload to the 102,400-byte event budget. A main event first has its captured JSON bounded
/// at ever smaller depths; then the longest strings are cut, round by round; the last resort removes properties.
pub(crate) fn fit_budget(payload: &mut Payload, main: bool) {
    if payload_len(payload) <= MAX_EVENT_BYTES {
        return;
    }
    if main {
        for depth in (1..MAX_DEPTH).rev() {
            for field in BOUNDED_FIELDS {
                if let Some(value) = payload.properties.get_mut(field) {
                    bound(value, depth);
                }
            }
            if payload_len(payload) <= MAX_EVENT_BYTES {
                return;
            }
        }
    }
    for _ in 0..LADDER_ROUNDS {
        let size = payload_len(payload);
        if size <= MAX_EVENT_BYTES {
            return;
        }
        if !shorten_longest_strings(
            &mut payload.properties,
            size - MAX_EVENT_BYTES + LADDER_SLACK,
        ) {
            break;
        }
    }
    if payload_len(payload) > MAX_EVENT_BYTES {
        last_resort(payload);
    }
}

/// One round of cutting the longest strings: returns whether any string was cut.
fn shorten_longest_strings(properties: &mut Map<String, Value>, target: usize) -> bool {
    let mut strings: Vec<(usize, &mut String)> = Vec::new();
    let mut stack: Vec<&mut Value> = properties
        .iter_mut()
        .filter(|(key, _)| !NEVER_SHORTENED.contains(&key.as_str()))
        .map(|(_, value)| value)
        .collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) if text.len() > LADDER_MIN_CHARS => {
                let chars = text.chars().count();
                if chars > LADDER_MIN_CHARS {
                    strings.push((chars, text));
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
    strings.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let mut remaining = target;
    let mut progress = false;
    for (chars, text) in strings {
        if remaining == 0 {
            break;
        }
        let cut = remaining.min(chars / 2);
        if cut < LADDER_MIN_CUT {
            continue;
        }
        let before = json_string_len(text);
        truncate_in_place(text, chars - cut);
        let after = json_string_len(text);
        remaining = remaining.saturating_sub(before.saturating_sub(after));
        progress = true;
    }
    progress
}

/// Beyond the truncation ladder, for payloads it cannot bring under the budget (many short strings, long keys):
/// the largest shortenable properties are removed until the payload fits.
fn last_resort(payload: &mut Payload) {
    crate::once::warn_once!(
        "event over budget",
        "posthog-mcp: an event was over the size budget after truncation; its largest properties were removed \
         (later ones are logged at debug level)"
    );
    let mut sizes: Vec<(usize, String)> = payload
        .properties
        .iter()
        // The error message is already cut to its limit; a failed call keeps it whatever else must go.
        .filter(|(key, _)| !NEVER_SHORTENED.contains(&key.as_str()) && *key != "$mcp_error_message")
        .map(|(key, value)| (json_string_len(key) + 2 + json_len(value), key.clone()))
        .collect();
    sizes.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let mut size = payload_len(payload);
    for (entry, key) in sizes {
        if size <= MAX_EVENT_BYTES {
            break;
        }
        if let Some(value) = payload.properties.shift_remove(&key) {
            drop_deep(value);
        }
        size = size.saturating_sub(entry);
    }
}

#[cfg(test)]
#[path = "truncate_tests.rs"]
mod tests;
