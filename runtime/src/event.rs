//! Events as they leave the crate: the payload envelope (CONTRACT §1.4), the labels (§1.5), the captured error
//! description shared by the main event and its `$exception` (§7), and the names of every event and property.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// One PostHog event, as delivered: `event`, `distinct_id`, `properties`, `timestamp`, `uuid` (CONTRACT §1.4).
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

    /// The timestamp in the contract's format: ISO-8601 UTC, three fractional digits, `Z` (§1.2).
    pub fn timestamp_string(&self) -> String {
        format_timestamp(self.timestamp)
    }

    /// The payload as the JSON object PostHog receives in a batch (exactly the five envelope keys, §10 W3).
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

    /// The UTF-8 length of [`Payload::to_json`], the size the event budget (§6.7) is measured on.
    pub fn encoded_len(&self) -> usize {
        serde_json::to_vec(&self.to_json())
            .map(|bytes| bytes.len())
            .unwrap_or(usize::MAX)
    }
}

/// Formats a timestamp as the contract requires: `2026-11-25T09:30:12.345Z`.
pub fn format_timestamp(timestamp: DateTime<Utc>) -> String {
    timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What went wrong in one request, kept for `$mcp_error_type`, `$mcp_error_message` and `$exception_list`
/// (CONTRACT §7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorInfo {
    /// `$mcp_error_type`: a Rust type name without generic arguments, a JSON-RPC category, `Panic` or `Error`.
    pub type_name: String,
    /// `$mcp_error_message`: the error's `Display`, the protocol message, or the panic message.
    pub message: String,
    /// `true` only for an `is_error` result, where no error value exists.
    pub synthetic: bool,
    /// The `Display` of each `source()` in the error's chain, outermost first.
    pub chain: Vec<String>,
}

/// The value of `$mcp_source` on every event the crate builds.
pub const MCP_SOURCE: &str = "posthog_mcp_analytics";
/// The value of `$lib`.
pub const LIB_NAME: &str = "posthog-mcp-rs";
/// The value of `$lib_version`: this crate's package version.
pub const LIB_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Event names (CONTRACT §2.1).
pub mod names {
    /// Every successful `initialize`.
    pub const INITIALIZE: &str = "$mcp_initialize";
    /// Every `tools/list`.
    pub const TOOLS_LIST: &str = "$mcp_tools_list";
    /// Every `tools/call` not answered by a virtual tool.
    pub const TOOL_CALL: &str = "$mcp_tool_call";
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
}
