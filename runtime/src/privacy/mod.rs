//! Privacy and bounds: what may leave the process (CONTRACT §6 and §7.2).
//!
//! Pure functions over `serde_json::Value` and strings. The capture pipeline calls them on the delivery worker,
//! never on the tool path.
//!
//! STUB: the privacy issue replaces every body below; the signatures are what the pipeline calls.

use std::borrow::Cow;

use serde_json::Value;

use crate::event::{ErrorInfo, Payload};

/// The generic string pass (§6.2): binary gate, PostHog tokens, URL credentials.
pub fn generic_string(input: &str) -> Cow<'_, str> {
    Cow::Borrowed(input)
}

/// The free-text pass (§6.6) for intent and feedback text.
pub fn free_text(input: &str) -> String {
    input.to_owned()
}

/// `$mcp_parameters`: the generic pass on every string leaf and key-based redaction (§6.3), at any depth.
pub fn sanitize_parameters(_value: &mut Value) {}

/// `$mcp_response`: as [`sanitize_parameters`], then content blocks (§6.5) of tool results and prompt messages.
pub fn sanitize_response(_value: &mut Value) {}

/// The per-tool `redact = [...]` fields of `#[posthog_tool]`: each named field, at any depth, becomes
/// `[redacted]`. Applied before every other pass.
pub fn redact_fields(_value: &mut Value, _fields: &[&str]) {}

/// "Truncated to N" (§1.2): at most `max` Unicode scalar values, then `...`.
pub fn truncate(input: &str, max: usize) -> Cow<'_, str> {
    if input.chars().count() <= max {
        Cow::Borrowed(input)
    } else {
        let cut: String = input.chars().take(max).collect();
        Cow::Owned(cut + "...")
    }
}

/// Layer 2 of §6.7: strings, depth and breadth, starting from `depth` remaining levels.
pub fn bound(_value: &mut Value, _depth: usize) {}

/// Layer 3 of §6.7: holds the payload to the 102,400-byte budget. `main` selects the full ladder (main events);
/// other payloads get step 3 only.
pub fn fit_budget(_payload: &mut Payload, _main: bool) {}

/// `$exception_list` for one error (§7.2), with the generic pass and the caps applied to every value.
pub fn exception_list(error: &ErrorInfo) -> Value {
    serde_json::json!([{
        "type": error.type_name,
        "value": error.message,
        "mechanism": {"type": "generic", "handled": true, "synthetic": error.synthetic, "exception_id": 0},
    }])
}
