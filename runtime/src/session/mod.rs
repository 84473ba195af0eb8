//! Sessions: id formats, the derived-id hash shared with PostHog's other MCP SDKs, the session token carried in
//! `mcp-session-id`, one connection's session state with its resolution order and the 30-minute rollover of
//! generated ids, the caller table that gives sessionless HTTP requests a session (`callers.rs`), and the markers
//! the HTTP pieces hand to the wrapper through request extensions.

mod callers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

pub use callers::{CallerKey, Callers, SessionStats};

/// Generated ids roll over after this much inactivity.
pub const INACTIVITY_ROLLOVER: Duration = Duration::from_secs(30 * 60);

/// A fresh generated session id: `ses_` + a lowercase hyphenated UUIDv7.
pub fn generate_session_id() -> String {
    let mut buffer = uuid::Uuid::encode_buffer();
    let uuid = uuid::Uuid::now_v7().hyphenated();
    let mut id = String::with_capacity(4 + uuid::fmt::Hyphenated::LENGTH);
    id.push_str("ses_");
    id.push_str(uuid.encode_lower(&mut buffer));
    id
}

/// Whether `id` has one of the crate's session id forms: `ses_` + a lowercase hyphenated UUID (generated), or
/// `ses_` + 32 lowercase hex digits (derived).
pub fn is_crate_session_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("ses_") else {
        return false;
    };
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    match rest.len() {
        32 => rest.bytes().all(hex),
        36 => rest.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => hex(b),
        }),
        _ => false,
    }
}

/// The session id derived from `x`: `"ses_" + H(x) + H(x + "::salt")`, byte-compatible with PostHog's TypeScript
/// and Python MCP SDKs. `H` runs two 32-bit FNV-style accumulators over the UTF-16 code units of its input.
pub fn derive_session_id(input: &str) -> String {
    // One pass: the salted half carries on from the plain half's state over the salt's code units.
    let plain = input
        .encode_utf16()
        .fold(HalfHash::START, |hash, unit| hash.push(unit));
    let salted = "::salt"
        .encode_utf16()
        .fold(plain, |hash, unit| hash.push(unit));
    let mut id = String::with_capacity(36);
    id.push_str("ses_");
    for word in [plain.0, plain.1, salted.0, salted.1] {
        push_hex(&mut id, word);
    }
    id
}

/// One half of a derived id: the two 32-bit accumulators after the code units so far.
#[derive(Clone, Copy)]
struct HalfHash(u32, u32);

impl HalfHash {
    const START: Self = Self(0x8422_2325, 0xcbf2_9ce4);

    fn push(self, unit: u16) -> Self {
        let unit = u32::from(unit);
        Self(
            (self.0 ^ unit).wrapping_mul(0x1B3),
            (self.1 ^ unit).wrapping_mul(0x193),
        )
    }
}

/// `word` as eight lowercase hex digits.
fn push_hex(out: &mut String, word: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        out.push(char::from(DIGITS[((word >> (shift * 4)) & 0xf) as usize]));
    }
}

/// The session token: the session id plus what the client reported about itself, carried by clients of stateless
/// HTTP servers in the `mcp-session-id` header. Unsigned and unencrypted by design: it carries nothing secret, and
/// a forged `sid` never yields that session's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken {
    /// The session id (`sid`), 1–128 characters.
    pub sid: String,
    /// The client name (`cn`).
    pub client_name: Option<String>,
    /// The client version (`cv`).
    pub client_version: Option<String>,
    /// The protocol version (`pv`).
    pub protocol_version: Option<String>,
}

/// Why a token could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// A token needs a non-empty session id.
    #[error("a session token needs a non-empty session id (`sid`)")]
    EmptySessionId,
}

const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const TOKEN_FIELD_CAP: usize = 200;
const TOKEN_MAX_LEN: usize = 4096;
const SID_MAX_CHARS: usize = 128;

fn cut(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

fn non_empty_cut(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| cut(v, TOKEN_FIELD_CAP))
}

impl SessionToken {
    #[cfg(any(test, feature = "__internals"))]
    /// A token for session `sid` with no client information.
    pub fn new(sid: impl Into<String>) -> Self {
        Self {
            sid: sid.into(),
            client_name: None,
            client_version: None,
            protocol_version: None,
        }
    }

    /// Encodes the token: unpadded base64url of compact JSON with keys `sid`, `cn`, `cv`, `pv` in that order,
    /// the client fields only when non-empty and cut to 200 characters. An empty `sid` is an error.
    pub fn encode(&self) -> Result<String, TokenError> {
        if self.sid.is_empty() {
            return Err(TokenError::EmptySessionId);
        }
        let mut object = Map::new();
        object.insert("sid".into(), Value::String(self.sid.clone()));
        for (key, value) in [
            ("cn", &self.client_name),
            ("cv", &self.client_version),
            ("pv", &self.protocol_version),
        ] {
            if let Some(value) = non_empty_cut(value.as_deref()) {
                object.insert(key.into(), Value::String(value));
            }
        }
        let json = serde_json::to_string(&Value::Object(object))
            .map_err(|_| TokenError::EmptySessionId)?;
        Ok(URL_SAFE_NO_PAD.encode(json.as_bytes()))
    }

    /// Decodes a token; never fails and never panics: anything that is not a token gives `None`.
    pub fn decode(input: &str) -> Option<Self> {
        let length = input.chars().count();
        if length == 0 || length > TOKEN_MAX_LEN {
            return None;
        }
        let body = input.trim_end_matches('=');
        if input.len() - body.len() > 2
            || body.is_empty()
            || !body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        // The URL-safe alphabet is the standard one with `-`/`_` for `+`/`/`; padding was stripped above,
        // and trailing bits are tolerated as the other SDKs' decoders do.
        let bytes = LENIENT_URL_SAFE.decode(body.as_bytes()).ok()?;
        let text = String::from_utf8_lossy(&bytes);
        let Value::Object(object) = serde_json::from_str::<Value>(&text).ok()? else {
            return None;
        };
        let sid = object.get("sid")?.as_str()?;
        let sid_chars = sid.chars().count();
        if sid_chars == 0 || sid_chars > SID_MAX_CHARS {
            return None;
        }
        let field = |key: &str| non_empty_cut(object.get(key).and_then(Value::as_str));
        Some(Self {
            sid: sid.to_owned(),
            client_name: field("cn"),
            client_version: field("cv"),
            protocol_version: field("pv"),
        })
    }
}

/// Where a connection's current session id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSource {
    /// Generated by the crate; rolls over after 30 minutes of inactivity.
    Generated,
    /// Restored from a session token.
    Token,
    /// Derived from the transport's own session id.
    Transport,
    /// A fresh session of an HTTP request that carried neither a handle nor a transport session: nothing groups
    /// it with any other request.
    Fresh,
}

/// The session signals one request carries.
#[derive(Debug, Default, Clone)]
pub struct SessionSignals<'a> {
    /// The `mcp-session-id` header (first value, trimmed; blank is absent).
    pub session_header: Option<&'a str>,
    /// The id a stateful Streamable HTTP transport assigned, when it is not carried by the header above.
    pub transport_id: Option<&'a str>,
    /// For an HTTP request with neither: it gets a fresh session of its own, which the connection does not keep.
    pub fresh: bool,
}

/// The session facts a request is attributed with, snapshotted once it is resolved, so nothing awaited later
/// changes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// `$session_id`.
    pub session_id: Arc<str>,
    /// Where it came from.
    pub source: SessionSource,
    /// Client name from the handshake on this connection.
    pub handshake_client_name: Option<Arc<str>>,
    /// Client version from the handshake on this connection.
    pub handshake_client_version: Option<Arc<str>>,
    /// The protocol version negotiated on this connection.
    pub negotiated_protocol: Option<Arc<str>>,
    /// Client name restored from a token.
    pub snapshot_client_name: Option<Arc<str>>,
    /// Client version restored from a token.
    pub snapshot_client_version: Option<Arc<str>>,
    /// Protocol version restored from a token or persisted at `initialize`.
    pub snapshot_protocol: Option<Arc<str>>,
}

/// The session state of one connection (one stdio or in-memory transport, one stateful HTTP session).
#[derive(Debug, Default)]
pub struct Connection {
    state: Mutex<ConnectionState>,
}

#[derive(Debug, Default)]
struct ConnectionState {
    session_id: Option<Arc<str>>,
    source: Option<SessionSource>,
    last_activity: Duration,
    transport_id: Option<String>,
    handshake_client_name: Option<Arc<str>>,
    handshake_client_version: Option<Arc<str>>,
    negotiated_protocol: Option<Arc<str>>,
    snapshot_client_name: Option<Arc<str>>,
    snapshot_client_version: Option<Arc<str>>,
    snapshot_protocol: Option<Arc<str>>,
}

fn arc(value: Option<String>) -> Option<Arc<str>> {
    value.map(Arc::from)
}

impl Connection {
    /// A connection with no session yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnectionState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves the session of one request at monotonic time `now`, first match wins (a token in the header,
    /// the transport's id, the caller table's session, the connection's generated id), and snapshots what the
    /// request is attributed with.
    pub fn resolve(&self, signals: SessionSignals<'_>, now: Duration) -> SessionSnapshot {
        let mut state = self.lock();
        let header = signals
            .session_header
            .map(str::trim)
            .filter(|h| !h.is_empty());
        let token = header.and_then(SessionToken::decode);
        // Only the header is decoded as a token; a header that is no token is the transport's own id.
        let transport_id = signals
            .transport_id
            .or(if token.is_none() { header } else { None });
        if let Some(token) = token {
            // A token is unsigned: a `sid` that is none of the crate's own forms (anything a caller made up, such
            // as another user's id) is only ever used derived, so an anonymous event's `distinct_id` is always
            // one of ours.
            let sid = if is_crate_session_id(&token.sid) {
                Arc::from(token.sid.as_str())
            } else {
                Arc::from(derive_session_id(&token.sid))
            };
            state.session_id = Some(sid);
            state.source = Some(SessionSource::Token);
            state.snapshot_client_name = arc(token.client_name);
            state.snapshot_client_version = arc(token.client_version);
            state.snapshot_protocol = arc(token.protocol_version);
        } else if let Some(transport_id) = transport_id {
            let unchanged = state.transport_id.as_deref() == Some(transport_id)
                && state.source == Some(SessionSource::Transport);
            if !unchanged {
                state.session_id = Some(Arc::from(derive_session_id(transport_id)));
                state.transport_id = Some(transport_id.to_owned());
                state.source = Some(SessionSource::Transport);
            }
        } else if signals.fresh {
            state.session_id = Some(Arc::from(generate_session_id()));
            state.source = Some(SessionSource::Fresh);
        } else {
            let expired = state.source == Some(SessionSource::Generated)
                && now.saturating_sub(state.last_activity) > INACTIVITY_ROLLOVER;
            if state.session_id.is_none() || expired {
                state.session_id = Some(Arc::from(generate_session_id()));
                state.source = Some(SessionSource::Generated);
            }
        }
        state.last_activity = now;
        SessionSnapshot {
            session_id: state
                .session_id
                .clone()
                .expect("a session id was just resolved"),
            source: state.source.unwrap_or(SessionSource::Generated),
            handshake_client_name: state.handshake_client_name.clone(),
            handshake_client_version: state.handshake_client_version.clone(),
            negotiated_protocol: state.negotiated_protocol.clone(),
            snapshot_client_name: state.snapshot_client_name.clone(),
            snapshot_client_version: state.snapshot_client_version.clone(),
            snapshot_protocol: state.snapshot_protocol.clone(),
        }
    }

    /// Whether the connection's session came with the requests themselves (a token or a transport id), rather
    /// than being generated or looked up for them.
    pub fn has_own_session(&self) -> bool {
        matches!(
            self.lock().source,
            Some(SessionSource::Token | SessionSource::Transport)
        )
    }

    /// Replaces the session with a fresh generated id of source `token`, for an `initialize` that mints a token;
    /// returns it.
    pub fn start_token_session(&self, now: Duration) -> Arc<str> {
        let mut state = self.lock();
        let id: Arc<str> = Arc::from(generate_session_id());
        state.session_id = Some(id.clone());
        state.source = Some(SessionSource::Token);
        state.last_activity = now;
        id
    }

    /// Records a completed `initialize`: the client that performed it and the negotiated protocol version,
    /// persisted only if the connection's session id still equals `session_id`, so a delayed `initialize` never
    /// writes onto a newer session.
    pub fn record_handshake(
        &self,
        session_id: &str,
        client_name: Option<&str>,
        client_version: Option<&str>,
        protocol: Option<&str>,
    ) {
        let mut state = self.lock();
        let non_empty = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(Arc::from);
        state.handshake_client_name = non_empty(client_name).or(state.handshake_client_name.take());
        state.handshake_client_version =
            non_empty(client_version).or(state.handshake_client_version.take());
        if state.session_id.as_deref() == Some(session_id)
            && let Some(protocol) = non_empty(protocol)
        {
            state.negotiated_protocol = Some(protocol.clone());
            state.snapshot_protocol = Some(protocol);
        }
    }
}

/// The id a stateful Streamable HTTP transport assigned to a new session. [`crate::http::track_sessions`] puts it
/// into the `initialize` request's extensions, where the transport's own header is not yet present, so that the
/// handshake is attributed to the same session as every later request.
#[derive(Debug, Clone)]
pub struct TransportSession(pub Arc<str>);

/// Put by the HTTP layer into the extensions of a POST that carries no session header: where the wrapper sends
/// the session token it minted for a stateless `initialize`, for the layer to set as `mcp-session-id`. Dropping
/// the last clone without sending tells the layer that nothing was minted.
#[derive(Debug, Clone, Default)]
pub struct MintSlot(Arc<Mutex<Option<tokio::sync::oneshot::Sender<String>>>>);

impl MintSlot {
    #[cfg(any(test, feature = "__internals", feature = "http"))]
    /// A slot and the receiver the layer awaits.
    pub fn new() -> (Self, tokio::sync::oneshot::Receiver<String>) {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        (Self(Arc::new(Mutex::new(Some(sender)))), receiver)
    }

    /// Sends the minted token (first call wins); `None` releases the layer without a token.
    pub fn fill(&self, token: Option<String>) {
        let sender = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let (Some(sender), Some(token)) = (sender, token) {
            let _ = sender.send(token);
        }
    }
}


#[cfg(test)]
mod tests;
