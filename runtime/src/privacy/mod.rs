//! Privacy and bounds: what may leave the process, in captured values and in exception lists.
//!
//! Pure functions over `serde_json::Value` and strings. The capture pipeline calls them on the delivery worker,
//! never on the tool path. Every pass is linear in its input, and every walker over JSON is iterative, so neither
//! a long string nor a deeply nested value can stall or overflow the worker.
//!
//! - [`generic_string`]: the pass every captured string gets (binary gate, PostHog tokens, credential shapes,
//!   credential-keyed members of JSON written in the string, URL credentials).
//! - [`free_text`](fn@free_text): the pass for agent-written text, which adds personal data.
//! - [`redact_secrets`], [`is_secret_key`]: the secret net both passes and the key rule use (credential shapes in
//!   text; key names judged by their parts).
//! - [`sanitize_parameters`], [`sanitize_response`], [`redact_fields`]: the passes over captured JSON.
//! - [`truncate`](fn@truncate), [`bound`], [`fit_budget`]: the three truncation layers.
//! - [`exception_list`]: `$exception_list` for an error.

mod exception;
mod free_text;
mod generic;
mod json_members;
mod keys;
mod secrets;
mod splice;
mod truncate;
mod url;

use std::borrow::Cow;

use serde_json::Value;

use crate::event::{ErrorInfo, Payload};

// The entry points below that the crate itself does not call exist for the tests, fuzz targets and benchmarks.
#[cfg(any(test, feature = "__internals"))]
pub use generic::BINARY_STUB;
pub use truncate::MAX_DEPTH;
#[cfg(any(test, feature = "__internals"))]
pub use truncate::{MAX_EVENT_BYTES, drop_deep};

#[cfg(any(test, feature = "__internals"))]
/// The generic string pass: binary gate, PostHog tokens, credential shapes ([`redact_secrets`]), the value of
/// each JSON member in the text whose key names a credential (written `"[redacted]"`, so JSON text stays JSON),
/// URL credentials. Borrows when nothing changed.
///
/// Idempotent except for one shape the vectors mandate: a token percent-encoded in a URL's host is decoded and
/// redacted to `[redacted]` inside the host (vector 223), and a second pass redacts that unparseable URL whole
/// (vector 105).
pub fn generic_string(input: &str) -> Cow<'_, str> {
    generic::generic_string(input)
}

#[cfg(any(test, feature = "__internals"))]
/// The free-text pass for intent and feedback text: binary gate, PostHog tokens, credential shapes
/// ([`redact_secrets`]), credential-keyed JSON members, personal data, URLs.
pub fn free_text(input: &str) -> String {
    free_text::free_text(input)
}

/// The generic pass for a string with a length limit of `limit` characters: the binary gate on the whole
/// string, then the other steps on at most `limit` plus 1,024 characters, then the cut to the limit (marked with
/// `...`). Costs what a string of `limit` characters does, however long `input` is. Every captured string with a
/// limit takes this rather than [`generic_string`] followed by [`truncate`](fn@truncate).
pub fn generic_limited(input: &str, limit: usize) -> String {
    generic::limited(input, limit, generic::generic_passes).into_owned()
}

/// The free-text pass for a string with a length limit (the intent, feedback text), in the order of
/// [`generic_limited`].
pub fn free_text_limited(input: &str, limit: usize) -> String {
    generic::limited(input, limit, free_text::free_text_passes).into_owned()
}

#[cfg(any(test, feature = "__internals"))]
/// Well-known credential shapes in `text` become `[redacted]`; borrows when there are none.
///
/// PostHog keys (`phc_…`, `phx_…`); JWTs; AWS access key ids (`AKIA…`, `ASIA…`) and secret access keys named in
/// context (`aws_secret_access_key = …`); `Bearer …` and `Basic …` credentials (the scheme is kept); Stripe
/// (`sk_live_…`, `sk_test_…`, `rk_live_…`, `sk-live-…`, `whsec_…`), OpenAI-style (`sk-…`), GitHub (`ghp_`, `gho_`,
/// `ghs_`, `ghu_`, `ghr_`, `github_pat_`), Slack (`xox[abeprs]-`, `xapp-`), GitLab, Google API, npm, PyPI, Hugging
/// Face and SendGrid keys; PEM and PGP private key blocks (to their END line, or to the end of a cut-off text).
///
/// Part of [`generic_string`] and [`free_text`](fn@free_text), so every string that gets either pass gets this
/// one. Linear in the input (one pass of one `regex` automaton, plus a literal search for PEM blocks);
/// idempotent; never panics.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    secrets::redact_credentials(text)
}

#[cfg(any(test, feature = "__internals"))]
/// Whether an object key names a credential: a listed name (`authorization`, `api_key`, `token`, …) whole and in
/// any case, or a key name judged by its parts (split on `_`, `-`, `.`, whitespace and camelCase). `db_password`,
/// `passwd`, `aws_secret_access_key`, `x-api-key`, `client_secret`, `privateKey`, `refresh_token` are;
/// `token_count`, `max_tokens`, `page_token`, `author`, `keyboard`, `secretary`, `pwd` are not.
pub fn is_secret_key(key: &str) -> bool {
    keys::is_credential_key(key)
}

/// `$mcp_parameters`: first the entry, nesting and key limits of [`bound`] (strings aside), then key-based
/// redaction (by [`is_secret_key`]) at any depth, then every remaining string leaf through
/// [`generic_limited`] at the 32,768-character string limit. Object keys get the token and credential-shape
/// steps ([`redact_secrets`]). The cost is bounded by the limits, not by the size of the value.
pub fn sanitize_parameters(value: &mut Value) {
    truncate::bound_structure(value, MAX_DEPTH);
    generic::sanitize_tree(value);
}

/// `$mcp_response`: as [`sanitize_parameters`] (`structuredContent` included), then content blocks of a
/// tool result's `content` and of each prompt message's `content`.
pub fn sanitize_response(value: &mut Value) {
    truncate::bound_structure(value, MAX_DEPTH);
    generic::sanitize_tree(value);
    generic::rewrite_content_blocks(value);
}

/// The per-tool `redact = [...]` fields of `#[posthog_tool]`: each named field, at any depth, becomes
/// `[redacted]`. Applied before every other pass.
pub fn redact_fields(value: &mut Value, fields: &[&str]) {
    generic::redact_named(value, fields);
}

/// "Truncated to N": at most `max` Unicode scalar values, then `...`. Never cuts inside a char.
pub fn truncate(input: &str, max: usize) -> Cow<'_, str> {
    truncate::truncate(input, max)
}

/// Layer 2 of truncation: strings, depth and breadth, starting from `depth` remaining levels (normally
/// [`MAX_DEPTH`]).
pub fn bound(value: &mut Value, depth: usize) {
    truncate::bound(value, depth);
}

/// Layer 3 of truncation: holds the payload to the 102,400-byte budget. `main` selects the full ladder (main
/// events); other payloads only get their longest strings cut.
pub fn fit_budget(payload: &mut Payload, main: bool) {
    truncate::fit_budget(payload, main);
}

#[cfg(any(test, feature = "__internals"))]
/// The UTF-8 length of the payload's JSON, as [`Payload::encoded_len`] measures it, computed without recursion.
pub fn payload_len(payload: &Payload) -> usize {
    truncate::payload_len(payload)
}

/// `$exception_list` for one error, with the generic pass and the caps applied to every value.
pub fn exception_list(error: &ErrorInfo) -> Value {
    exception::exception_list(error)
}

#[cfg(any(test, feature = "__internals"))]
/// `$mcp_error_message`: the generic pass, then the 2,048 cap.
pub fn error_message(message: &str) -> String {
    exception::exception_value(message)
}

#[cfg(any(test, feature = "__internals"))]
/// `$mcp_error_type`: the 256 cap only.
pub fn error_type(type_name: &str) -> Cow<'_, str> {
    truncate::truncate(type_name, exception::TYPE_CAP)
}
