//! Events as they leave the crate: the payload envelope and the `before_send` hook's type over it, its wire
//! encoding (one batch item, keys in a fixed order, written straight from the payload without building a JSON
//! tree), the library labels, the captured error description shared by the main event and its `$exception`, and
//! the names of every event and property.

use std::sync::Arc;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::json_string::{self, needs_escape};

/// One PostHog event, as delivered: `event`, `distinct_id`, `properties`, `timestamp`, `uuid`.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The event name.
    pub event: String,
    /// The person the event is about: the identity's distinct id, else the session id, else `anonymous`.
    pub distinct_id: String,
    /// Event properties.
    pub properties: Map<String, Value>,
    /// When the request started (for `$identify`: when the identity resolved).
    pub timestamp: DateTime<Utc>,
    /// A fresh UUIDv7; a retry resends the same one.
    pub uuid: Uuid,
}

impl Payload {
    /// A payload with a fresh UUIDv7 and no properties.
    pub fn new(
        event: impl Into<String>,
        distinct_id: impl Into<String>,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            event: event.into(),
            distinct_id: distinct_id.into(),
            properties: Map::new(),
            timestamp,
            uuid: Uuid::now_v7(),
        }
    }

    /// The timestamp as events carry it: ISO-8601 UTC, three fractional digits, `Z`.
    pub fn timestamp_string(&self) -> String {
        format_timestamp(self.timestamp)
    }

    /// The payload as the JSON object PostHog receives in a batch (exactly the five envelope keys).
    /// Builds a tree (copying every property); delivery writes [`Payload::write_json`] instead.
    pub fn to_json(&self) -> Value {
        let mut object = Map::with_capacity(5);
        object.insert("event".into(), Value::String(self.event.clone()));
        object.insert(
            "distinct_id".into(),
            Value::String(self.distinct_id.clone()),
        );
        object.insert("properties".into(), Value::Object(self.properties.clone()));
        object.insert("timestamp".into(), Value::String(self.timestamp_string()));
        object.insert("uuid".into(), Value::String(self.uuid.to_string()));
        Value::Object(object)
    }

    /// The UTF-8 length of [`Payload::to_json`], the size the 102,400-byte event budget is measured on.
    pub fn encoded_len(&self) -> usize {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut count = Count(0);
        match serde_json::to_writer(&mut count, self) {
            Ok(()) => count.0,
            Err(_) => usize::MAX,
        }
    }

    /// Appends the payload as one batch item, exactly as [`Payload::to_json`] would encode it (same keys, same
    /// order: `event`, `distinct_id`, `properties`, `timestamp`, `uuid`), without copying any property.
    ///
    /// Written by hand rather than through serde_json's serializer, byte for byte the same (a property test holds
    /// them equal): a string that needs no escape, nearly all of them, is copied whole after one vectorized check
    /// instead of being scanned a byte at a time.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"event\":");
        write_str(out, &self.event);
        out.extend_from_slice(b",\"distinct_id\":");
        write_str(out, &self.distinct_id);
        out.extend_from_slice(b",\"properties\":");
        write_object(out, &self.properties);
        out.extend_from_slice(b",\"timestamp\":");
        match timestamp_bytes(self.timestamp) {
            Some(bytes) => write_plain(out, &bytes),
            None => write_str(out, &format_timestamp(self.timestamp)),
        }
        out.extend_from_slice(b",\"uuid\":");
        let mut uuid = Uuid::encode_buffer();
        write_plain(out, self.uuid.hyphenated().encode_lower(&mut uuid).as_bytes());
        out.push(b'}');
    }
}

/// A host hook that sees every payload before it is labelled and queued; `None` drops that payload.
pub type BeforeSend = Arc<dyn Fn(Payload) -> Option<Payload> + Send + Sync>;

/// `bytes` between quotes; only for bytes that need no escape.
fn write_plain(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// A JSON string literal, as serde_json writes it.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        out.push(b'"');
        json_string::escape_into(out, text);
        out.push(b'"');
    } else {
        write_plain(out, text.as_bytes());
    }
}

/// Compact JSON of `value`, as `serde_json::to_writer` writes it. Recursive like serde_json's own serializer,
/// which this replaces on the same trees.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            let _ = serde_json::to_writer(&mut *out, number);
        }
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

/// Serializes as the batch item, the same bytes as [`Payload::write_json`].
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("event", &self.event)?;
        map.serialize_entry("distinct_id", &self.distinct_id)?;
        map.serialize_entry("properties", &self.properties)?;
        map.serialize_entry("timestamp", &Timestamp(self.timestamp))?;
        let mut uuid = Uuid::encode_buffer();
        map.serialize_entry("uuid", &*self.uuid.hyphenated().encode_lower(&mut uuid))?;
        map.end()
    }
}

/// A timestamp serialized as events carry it, without allocating.
struct Timestamp(DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match timestamp_bytes(self.0) {
            Some(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => serializer.serialize_str(text),
                Err(_) => serializer.serialize_str(&format_timestamp(self.0)),
            },
            None => serializer.serialize_str(&format_timestamp(self.0)),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for years 0–9999 (`None` otherwise).
fn timestamp_bytes(timestamp: DateTime<Utc>) -> Option<[u8; 24]> {
    let year = u32::try_from(timestamp.year())
        .ok()
        .filter(|y| *y <= 9999)?;
    let millis = (timestamp.nanosecond() % 1_000_000_000) / 1_000_000;
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, digits: usize, mut value: u32| {
        for i in (0..digits).rev() {
            out[at + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, timestamp.month());
    put(8, 2, timestamp.day());
    put(11, 2, timestamp.hour());
    put(14, 2, timestamp.minute());
    // A leap second (nanosecond >= 1e9) is written as :59.999-ish, as chrono's own formatting does.
    put(17, 2, timestamp.second());
    put(20, 3, millis);
    Some(out)
}

/// Formats a timestamp as events carry it: `2026-11-25T09:30:12.345Z` (RFC 3339, milliseconds, `Z`).
pub fn format_timestamp(timestamp: DateTime<Utc>) -> String {
    timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What went wrong in one request, kept for `$mcp_error_type`, `$mcp_error_message` and `$exception_list`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorInfo {
    /// The failure's own type: a Rust type's name without its module path or generic arguments, a JSON-RPC
    /// category, `Panic`, or `Error` where nothing was thrown. It names the `$exception`, and `$mcp_error_type`
    /// when there is no [`ErrorInfo::label`].
    pub type_name: String,
    /// An explicit low-cardinality label for `$mcp_error_type` (`validation`, `cancelled`, or one the server
    /// passes), which wins over the type name on the call's event and never names the exception.
    pub label: Option<String>,
    /// `$mcp_error_message`: the error's `Display`, the protocol message, or the panic message.
    pub message: String,
    /// `true` only for an `is_error` result, where no error value exists.
    pub synthetic: bool,
    /// The `Display` of each `source()` in the error's chain, outermost first.
    pub chain: Vec<String>,
    /// `$mcp_error_status`: the upstream HTTP status the failure came with, when the server says.
    pub status: Option<u16>,
}

/// The most sources an exception list holds after the error itself: 10 entries in all.
const MAX_CHAIN: usize = 9;

/// The `source()` chain of `error`, outermost first, at most [`MAX_CHAIN`] entries.
pub(crate) fn source_chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain = Vec::new();
    let mut next = error.source();
    while let Some(source) = next {
        if chain.len() == MAX_CHAIN {
            break;
        }
        chain.push(source.to_string());
        next = source.source();
    }
    chain
}

/// A typed error `E`: its own type name, `message`, its source chain.
pub(crate) fn typed_error_info<E: ?Sized>(message: String, chain: Vec<String>) -> ErrorInfo {
    ErrorInfo {
        type_name: own_type_name(std::any::type_name::<E>()),
        label: None,
        message,
        synthetic: false,
        chain,
        status: None,
    }
}

/// A type's own name from `std::any::type_name`: without its module path or generic arguments
/// (`app::errors::Timeout<u8>` is `Timeout`). A box or shared pointer around an error hides the error's type,
/// so it is the generic `Error`, as is anything without a name.
pub(crate) fn own_type_name(full: &str) -> String {
    let head = full.split_once('<').map_or(full, |(head, _)| head);
    let name = head.rsplit("::").next().unwrap_or(head).trim();
    match name {
        "" | "Box" | "Arc" | "Rc" => "Error".to_owned(),
        name if name.starts_with("dyn ") || name.starts_with('&') => "Error".to_owned(),
        name => name.to_owned(),
    }
}

/// The value of `$mcp_source` on every event the crate builds.
pub const MCP_SOURCE: &str = "posthog_mcp_analytics";
/// The value of `$mcp_interface` on every event: the call arrived through an MCP server.
pub const MCP_INTERFACE: &str = "mcp";
/// The value of `$lib`.
pub const LIB_NAME: &str = "posthog-rs-mcp";
/// The value of `$lib_version`: this crate's package version.
pub const LIB_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The value of `$lib_version__major`: the major part of [`LIB_VERSION`].
pub const LIB_VERSION_MAJOR: u64 = parse_version_part(env!("CARGO_PKG_VERSION_MAJOR"));
/// The value of `$lib_version__minor`: the minor part of [`LIB_VERSION`].
pub const LIB_VERSION_MINOR: u64 = parse_version_part(env!("CARGO_PKG_VERSION_MINOR"));
/// The value of `$lib_version__patch`: the patch part of [`LIB_VERSION`].
pub const LIB_VERSION_PATCH: u64 = parse_version_part(env!("CARGO_PKG_VERSION_PATCH"));
/// The `User-Agent` of every request to PostHog: this crate's name and version.
pub const USER_AGENT: &str = concat!("posthog-rs-mcp/", env!("CARGO_PKG_VERSION"));

const fn parse_version_part(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut value = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "a version part is a number");
        value = value * 10 + (bytes[i] - b'0') as u64;
        i += 1;
    }
    value
}

/// The names of the events the crate emits.
pub mod names {
    /// Every successful `initialize`.
    pub const INITIALIZE: &str = "$mcp_initialize";
    /// Every `tools/list`.
    pub const TOOLS_LIST: &str = "$mcp_tools_list";
    /// Every `tools/call` of a tool the server has that reached a final outcome.
    pub const TOOL_CALL: &str = "$mcp_tool_call";
    /// A round of a `tools/call` that asked the client for more input before it can complete.
    pub const INPUT_REQUIRED: &str = "$mcp_input_required";
    /// A `tools/call` naming a tool the server does not have: what the agent looked for and did not find.
    pub const UNKNOWN_TOOL: &str = "$mcp_unknown_tool";
    /// Every `resources/list` and `resources/templates/list`.
    pub const RESOURCES_LIST: &str = "$mcp_resources_list";
    /// Every `resources/read`.
    pub const RESOURCE_READ: &str = "$mcp_resource_read";
    /// Every `prompts/list`.
    pub const PROMPTS_LIST: &str = "$mcp_prompts_list";
    /// Every `prompts/get`.
    pub const PROMPT_GET: &str = "$mcp_prompt_get";
    /// A session's identity first observed or changed.
    pub const IDENTIFY: &str = "$identify";
    /// Next to an errored main event.
    pub const EXCEPTION: &str = "$exception";
    /// A call to `get_more_tools`.
    pub const MISSING_CAPABILITY: &str = "$mcp_missing_capability";
    /// A call to `send_feedback`.
    pub const FEEDBACK: &str = "$mcp_feedback";
    /// With `llm_traces` on, a tool call with a trace id, as a span of the agent's LLM trace.
    pub const AI_SPAN: &str = "$ai_span";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Payload {
        let timestamp = DateTime::parse_from_rfc3339("2026-12-01T22:30:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut payload = Payload::new("$mcp_tool_call", "user \"1\"", timestamp);
        payload
            .properties
            .insert("nested".into(), serde_json::json!({"a": [1, "é\n", null]}));
        payload.properties.insert("$lib".into(), LIB_NAME.into());
        payload
    }

    #[test]
    fn the_wire_encoding_is_the_json_envelope_with_the_same_keys_in_the_same_order() {
        let payload = sample();
        let mut written = Vec::new();
        payload.write_json(&mut written);
        assert_eq!(written, serde_json::to_vec(&payload.to_json()).unwrap());
        assert_eq!(payload.encoded_len(), written.len());
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let payload = sample();
        let json = payload.to_json();
        assert_eq!(json["timestamp"], "2026-12-01T22:30:00.123Z");
        let mut written = Vec::new();
        payload.write_json(&mut written);
        let parsed: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(parsed["timestamp"], "2026-12-01T22:30:00.123Z");
        for text in [
            "0001-01-01T00:00:00Z",
            "2026-02-28T23:59:59.999999Z",
            "9999-12-31T23:59:59.5Z",
        ] {
            let at = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            let fast = timestamp_bytes(at).unwrap();
            assert_eq!(std::str::from_utf8(&fast).unwrap(), format_timestamp(at));
        }
    }

    #[test]
    fn the_version_parts_agree_with_the_version() {
        assert_eq!(
            format!("{LIB_VERSION_MAJOR}.{LIB_VERSION_MINOR}.{LIB_VERSION_PATCH}"),
            LIB_VERSION.split(['-', '+']).next().unwrap()
        );
        assert_eq!(USER_AGENT, format!("posthog-rs-mcp/{LIB_VERSION}"));
    }
}
