//! Who a request is attributed to, decided in one place for every path: the client name and version, the protocol
//! version, the user agent and vendor, from the request's `_meta`, the handshake, the session's snapshot, the peer
//! rmcp recorded and the HTTP headers, in that order. Also the header helpers and the caller key of sessionless
//! HTTP requests.

use std::sync::Arc;

use rmcp::model::{ClientCapabilities, Implementation, InitializeRequestParams, RequestMetaObject};

use crate::identity::Fingerprint;
use crate::pipeline::Attribution;
use crate::session::{CallerKey, SessionSnapshot};

/// `Some` unless `value` is empty.
pub(crate) fn arc_str(value: &str) -> Option<Arc<str>> {
    (!value.is_empty()).then(|| Arc::from(value))
}

fn first_non_empty(candidates: impl IntoIterator<Item = Option<Arc<str>>>) -> Option<Arc<str>> {
    candidates.into_iter().flatten().find(|v| !v.is_empty())
}

/// Every header of an HTTP request as (lowercase name, value) pairs, in order.
pub(crate) fn header_pairs(
    parts: &http::request::Parts,
    reads: RequestReads<'_>,
) -> Vec<(String, String)> {
    parts
        .headers
        .iter()
        .filter(|(name, _)| reads.whole || reads.reads(name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The headers the request layer reads itself (names as `http` keeps them, lowercase); the credential header is
/// configured and checked beside them.
const READ_HEADERS: [&str; 8] = [
    "mcp-protocol-version",
    "mcp-session-id",
    "user-agent",
    "x-anthropic-client",
    "x-forwarded-for",
    "x-real-ip",
    "traceparent",
    "tracestate",
];

/// Which parts of an HTTP request the request layer copies (`capture::request_reads`).
#[derive(Clone, Copy)]
pub(crate) struct RequestReads<'a> {
    /// Every header and the extensions: a host hook or identify function may see the request.
    pub(crate) whole: bool,
    /// The header the credential is read from, when it is one.
    pub(crate) credential_header: Option<&'a str>,
}

impl RequestReads<'_> {
    /// Whether the header `name` (lowercase) is one the request layer reads.
    fn reads(&self, name: &str) -> bool {
        READ_HEADERS.contains(&name)
            || self
                .credential_header
                .is_some_and(|credential| credential.eq_ignore_ascii_case(name))
    }
}

/// A header's first value, trimmed; a blank one is absent.
pub(crate) fn first_header<'a>(
    headers: Option<&'a [(String, String)]>,
    name: &str,
) -> Option<&'a str> {
    headers?
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether `peer` is the stand-in rmcp's stateless HTTP transport builds for each request (no handshake took
/// place): rmcp's own name and version, no capabilities, no `_meta`. It is never reported as the client.
pub(crate) fn is_stand_in(peer: &InitializeRequestParams) -> bool {
    peer.meta.is_none()
        && peer.capabilities == ClientCapabilities::default()
        && peer.client_info == Implementation::default()
}

/// What one request says, or lets us know, about its client.
#[derive(Default, Clone, Copy)]
pub(crate) struct ClientSources<'a> {
    /// `initialize`: the client from the params and the requested protocol version. It wins over everything.
    pub handshake: Option<(&'a Implementation, &'a str)>,
    /// The request's `_meta` (2026-07-28 clients name themselves there on every request).
    pub meta: Option<&'a RequestMetaObject>,
    /// The session's snapshot: the handshake seen on this connection, or what a token carried.
    pub snapshot: Option<&'a SessionSnapshot>,
    /// The peer rmcp recorded (never its stateless stand-in).
    pub peer: Option<&'a InitializeRequestParams>,
    /// The HTTP headers, when the request came over HTTP.
    pub headers: Option<&'a [(String, String)]>,
}

/// The attribution of one request of the server `server` (its name and version).
pub(crate) fn attribute(server: &Attribution, sources: ClientSources<'_>) -> Attribution {
    let meta_client = sources.meta.and_then(RequestMetaObject::client_info);
    let snapshot = sources.snapshot;
    let peer = sources.peer;
    let (client_name, client_version) = match sources.handshake {
        Some((client, _)) => (arc_str(&client.name), arc_str(&client.version)),
        None => (
            first_non_empty([
                meta_client.as_ref().and_then(|c| arc_str(&c.name)),
                snapshot.and_then(|s| s.handshake_client_name.clone()),
                snapshot.and_then(|s| s.snapshot_client_name.clone()),
                peer.and_then(|p| arc_str(&p.client_info.name)),
            ]),
            first_non_empty([
                meta_client.as_ref().and_then(|c| arc_str(&c.version)),
                snapshot.and_then(|s| s.handshake_client_version.clone()),
                snapshot.and_then(|s| s.snapshot_client_version.clone()),
                peer.and_then(|p| arc_str(&p.client_info.version)),
            ]),
        ),
    };
    let protocol_version = match sources.handshake {
        Some((_, requested)) => arc_str(requested),
        None => first_non_empty([
            sources
                .meta
                .and_then(RequestMetaObject::protocol_version)
                .and_then(|v| arc_str(v.as_str())),
            first_header(sources.headers, "mcp-protocol-version")
                .filter(|v| v.len() <= 64)
                .map(Arc::from),
            snapshot.and_then(|s| s.negotiated_protocol.clone()),
            snapshot.and_then(|s| s.snapshot_protocol.clone()),
            peer.and_then(|p| arc_str(p.protocol_version.as_str())),
        ]),
    };
    Attribution {
        server_name: server.server_name.clone(),
        server_version: server.server_version.clone(),
        client_name,
        client_version,
        protocol_version,
        user_agent: first_header(sources.headers, "user-agent").map(Arc::from),
        vendor: first_header(sources.headers, "x-anthropic-client").map(Arc::from),
    }
}

/// Who a request over HTTP comes from. With a credential, its fingerprint and the client tell callers apart;
/// without one, the user agent and the forwarded client address stand in for it (see `docs/sessions.md`).
pub(crate) fn caller_key(
    fingerprint: Fingerprint,
    client_name: Option<Arc<str>>,
    client_version: Option<Arc<str>>,
    headers: Option<&[(String, String)]>,
) -> CallerKey {
    let credential = fingerprint.keyed();
    let origin = credential.is_none().then(|| {
        let agent = first_header(headers, "user-agent").unwrap_or("");
        let address = first_header(headers, "x-forwarded-for")
            .and_then(|hops| hops.split(',').next())
            .or_else(|| first_header(headers, "x-real-ip"))
            .unwrap_or("")
            .trim();
        Arc::from(format!("{agent}\u{0}{address}"))
    });
    CallerKey {
        credential,
        client_name,
        client_version,
        origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionSource;

    fn server() -> Attribution {
        Attribution {
            server_name: arc_str("srv"),
            server_version: arc_str("1"),
            ..Attribution::default()
        }
    }

    fn snapshot() -> SessionSnapshot {
        SessionSnapshot {
            session_id: Arc::from("ses_x"),
            source: SessionSource::Token,
            handshake_client_name: None,
            handshake_client_version: None,
            negotiated_protocol: None,
            snapshot_client_name: arc_str("from-token"),
            snapshot_client_version: arc_str("9"),
            snapshot_protocol: arc_str("2025-06-18"),
        }
    }

    #[test]
    fn the_handshake_names_the_client_of_an_initialize() {
        let client = Implementation::new("hand", "2");
        let snapshot = snapshot();
        let attribution = attribute(
            &server(),
            ClientSources {
                handshake: Some((&client, "2025-11-25")),
                snapshot: Some(&snapshot),
                ..ClientSources::default()
            },
        );
        assert_eq!(attribution.client_name.as_deref(), Some("hand"));
        assert_eq!(attribution.protocol_version.as_deref(), Some("2025-11-25"));
        assert_eq!(attribution.server_name.as_deref(), Some("srv"));
    }

    #[test]
    fn meta_wins_then_the_session_then_the_peer() {
        let snapshot = snapshot();
        let mut meta = serde_json::Map::new();
        meta.insert(
            "io.modelcontextprotocol/clientInfo".into(),
            serde_json::json!({"name": "from-meta", "version": "7"}),
        );
        let meta = RequestMetaObject::from(meta);
        let peer = InitializeRequestParams::new(
            ClientCapabilities::default(),
            Implementation::new("from-peer", "3"),
        );
        let with_meta = attribute(
            &server(),
            ClientSources {
                meta: Some(&meta),
                snapshot: Some(&snapshot),
                peer: Some(&peer),
                ..ClientSources::default()
            },
        );
        assert_eq!(with_meta.client_name.as_deref(), Some("from-meta"));
        assert_eq!(with_meta.client_version.as_deref(), Some("7"));
        let from_session = attribute(
            &server(),
            ClientSources {
                snapshot: Some(&snapshot),
                peer: Some(&peer),
                ..ClientSources::default()
            },
        );
        assert_eq!(from_session.client_name.as_deref(), Some("from-token"));
        assert_eq!(from_session.protocol_version.as_deref(), Some("2025-06-18"));
        let from_peer = attribute(
            &server(),
            ClientSources {
                peer: Some(&peer),
                ..ClientSources::default()
            },
        );
        assert_eq!(from_peer.client_name.as_deref(), Some("from-peer"));
    }

    #[test]
    fn rmcp_s_stateless_stand_in_is_recognized() {
        let stand_in =
            InitializeRequestParams::new(ClientCapabilities::default(), Implementation::default());
        assert!(is_stand_in(&stand_in));
        let real = InitializeRequestParams::new(
            ClientCapabilities::default(),
            Implementation::new("real-client", "1"),
        );
        assert!(!is_stand_in(&real));
    }

    #[test]
    fn headers_are_read_first_value_trimmed_and_blank_is_absent() {
        let headers = vec![
            ("user-agent".to_owned(), "  agent/1 ".to_owned()),
            ("user-agent".to_owned(), "second".to_owned()),
            ("mcp-session-id".to_owned(), "   ".to_owned()),
        ];
        assert_eq!(first_header(Some(&headers), "user-agent"), Some("agent/1"));
        assert_eq!(first_header(Some(&headers), "mcp-session-id"), None);
        assert_eq!(first_header(None, "user-agent"), None);
    }

    #[test]
    fn without_a_credential_the_caller_is_told_apart_by_agent_and_address() {
        let headers = |agent: &str, address: &str| {
            vec![
                ("user-agent".to_owned(), agent.to_owned()),
                ("x-forwarded-for".to_owned(), format!("{address}, 10.0.0.1")),
            ]
        };
        let key = |h: &Vec<(String, String)>| {
            caller_key(Fingerprint::NoCredential, arc_str("c"), None, Some(h))
        };
        assert_eq!(
            key(&headers("a/1", "1.2.3.4")),
            key(&headers("a/1", "1.2.3.4"))
        );
        assert_ne!(
            key(&headers("a/1", "1.2.3.4")),
            key(&headers("a/1", "5.6.7.8"))
        );
        assert_ne!(
            key(&headers("a/1", "1.2.3.4")),
            key(&headers("b/2", "1.2.3.4"))
        );
        let with_credential = caller_key(
            Fingerprint::Keyed(7),
            None,
            None,
            Some(&headers("a/1", "x")),
        );
        assert_eq!(
            with_credential.origin, None,
            "a credential needs no stand-in"
        );
    }
}
