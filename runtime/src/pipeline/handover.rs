//! What the request path hands to the delivery worker besides plain fields: params and results captured as JSON
//! text and parsed only on the worker, and the snapshots taken when the request's
//! session resolved (attribution, the tool's facts and capture options, the trace context). Every value is owned,
//! so nothing the worker reads can change after the hand-over.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::encode::{self, encode_bounded_into, give_back};

/// A value captured on the request path as JSON text in one buffer, parsed on the worker. One buffer crosses to
/// the worker thread instead of a cloned tree of many small allocations, and goes back to the request path's pool
/// afterwards (`encode::give_back`): freeing memory another thread allocated contends for that thread's allocator
/// arena (measured with glibc: a large share of the request path's added cost).
pub(crate) struct Encoded {
    /// The value's text, then (from `meta_at`) the request's `_meta` as text when it has one.
    text: Vec<u8>,
    /// Where the `_meta` text starts; `text.len()` when there is none. `_meta` is merged in as `_meta` unless the
    /// value has its own.
    meta_at: usize,
}

impl Encoded {
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> CapturedValue {
        Self::with_meta(value, None::<&()>)
    }

    /// `meta`: the request's `_meta`, when it is not empty.
    pub(crate) fn with_meta<T: Serialize + ?Sized, M: Serialize>(
        value: &T,
        meta: Option<&M>,
    ) -> CapturedValue {
        let mut text = encode::buffer();
        // A value that cannot be encoded is captured as nothing (parsed as `null`), as before.
        let _ = encode_bounded_into(&mut text, value);
        let meta_at = text.len();
        if let Some(meta) = meta {
            let _ = encode_bounded_into(&mut text, meta);
        }
        Self { text, meta_at }
    }

    /// Roughly the bytes this value holds until the worker builds its event (for the delivery byte bound).
    pub(crate) fn held_bytes(&self) -> usize {
        self.text.capacity()
    }

    /// The value as JSON, with the request's `_meta` merged in.
    pub(crate) fn to_json(&self) -> Value {
        let (value, meta) = self.text.split_at(self.meta_at.min(self.text.len()));
        let value = serde_json::from_slice(value).unwrap_or(Value::Null);
        match (!meta.is_empty())
            .then(|| serde_json::from_slice(meta).ok())
            .flatten()
        {
            Some(meta) => with_request_meta(value, meta),
            None => value,
        }
    }
}

/// The buffer goes back to the request path's pool (`encode::give_back`) instead of being freed here, on the
/// worker.
impl Drop for Encoded {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.text));
    }
}

/// A request's params or result as the record holds it: JSON text, held inline so that no box crosses to the
/// worker.
pub(crate) type CapturedValue = Encoded;

/// Params with the request's `_meta` (which rmcp moves out of the params into the context) put back as `_meta`,
/// unless the params carry their own.
pub(crate) fn with_request_meta(mut params: Value, meta: Value) -> Value {
    match &mut params {
        Value::Object(object) => {
            object.entry("_meta").or_insert(meta);
        }
        Value::Null => params = serde_json::json!({ "_meta": meta }),
        _ => {}
    }
    params
}

/// Who and what a request is attributed to, snapshotted when its session resolved, so nothing awaited later
/// can change it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attribution {
    pub server_name: Option<Arc<str>>,
    pub server_version: Option<Arc<str>>,
    pub client_name: Option<Arc<str>>,
    pub client_version: Option<Arc<str>>,
    pub protocol_version: Option<Arc<str>>,
    pub user_agent: Option<Arc<str>>,
    pub vendor: Option<Arc<str>>,
}

/// Facts about the tool a `tools/call` named.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolFacts {
    /// The tool's name; borrowed from its `#[posthog_tool]` spec when it has one, so that no string the request
    /// thread allocated is freed on the worker.
    pub name: std::borrow::Cow<'static, str>,
    pub description: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
    /// Whether the name is known to be one of the server's tools; any other name is whatever the agent sent, and
    /// is sanitized as free text.
    pub verified: bool,
}

/// Per-tool capture options from `#[posthog_tool]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CaptureOptions {
    pub args: bool,
    pub response: bool,
    pub redact: &'static [&'static str],
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            args: true,
            response: true,
            redact: &[],
        }
    }
}

/// The W3C trace context a request carried (`capture/trace.rs`): the trace and the caller's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// The 128-bit trace id.
    pub trace_id: u128,
    /// The caller's 64-bit span id, this request's parent.
    pub parent_span_id: u64,
}
