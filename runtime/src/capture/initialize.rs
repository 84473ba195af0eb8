//! The handshake (`initialize`): its event, the handshake recorded on the connection, and the session token the
//! crate mints for a stateless HTTP server (`docs/sessions.md`, "Stateless servers: minting a token").

use rmcp::model::{Implementation, InitializeRequestParams, InitializeResult};

use super::attribution::first_header;
use super::{BeginOptions, Incoming, Scope, ServerShared};
use crate::event::names;
use crate::pipeline::Encoded;
use crate::session::{Connection, MintSlot, SessionToken};

/// An `initialize` between resolution and the host's answer.
pub(crate) struct Handshake {
    scope: Scope,
    client: Implementation,
    requested: String,
    mint: Option<MintSlot>,
}

/// Whether this `initialize` gets a minted session: it came over HTTP through the session layer (which left a
/// slot for the token), without a session header, on a transport that keeps no session of its own (no transport
/// id, and rmcp's stand-in as the peer, which only its stateless transport builds). The requested protocol
/// version does not matter: an `initialize` is a legacy-era request whatever it asks for.
fn mints(incoming: &Incoming) -> bool {
    incoming.mint.is_some()
        && incoming.transport_session.is_none()
        && incoming.peer.is_none()
        && first_header(incoming.headers.as_deref(), "mcp-session-id").is_none()
}

/// The `initialize` handshakes of one server: each connection's client, protocol version and session.
pub(crate) struct Handshakes<'a> {
    server: &'a ServerShared,
}

impl ServerShared {
    /// The handshakes of this server's connections.
    pub(crate) fn handshakes(&self) -> Handshakes<'_> {
        Handshakes { server: self }
    }
}

impl Handshakes<'_> {
    /// Step 1 of an `initialize`: a minted session first (so the handshake's own events use it), then the usual
    /// resolution.
    pub(crate) async fn begin_initialize(
        &self,
        connection: &Connection,
        incoming: &Incoming,
        request: &InitializeRequestParams,
    ) -> Handshake {
        let requested = request.protocol_version.to_string();
        let client = request.client_info.clone();
        let mint = if mints(incoming) {
            connection.start_token_session(self.server.analytics.inner.clock.elapsed());
            incoming.mint.clone()
        } else {
            if let Some(slot) = &incoming.mint {
                slot.fill(None);
            }
            None
        };
        let scope = self
            .server
            .begin(
                connection,
                names::INITIALIZE,
                "initialize",
                incoming,
                request,
                BeginOptions {
                    handshake: Some((&client, &requested)),
                    ..BeginOptions::default()
                },
            )
            .await;
        Handshake {
            scope,
            client,
            requested,
            mint,
        }
    }

    /// A successful `initialize`: the token (if minted) goes to the HTTP layer, the handshake is recorded on the
    /// connection, and the event captured.
    pub(crate) fn initialized(
        &self,
        connection: &Connection,
        handshake: Handshake,
        result: &InitializeResult,
    ) {
        let Handshake {
            mut scope,
            client,
            requested,
            mint,
        } = handshake;
        let negotiated = result.protocol_version.to_string();
        let negotiated = if negotiated.is_empty() {
            requested
        } else {
            negotiated
        };
        if let Some(mint) = mint {
            let token = SessionToken {
                sid: scope.record.session_id.to_string(),
                client_name: Some(client.name.clone()),
                client_version: Some(client.version.clone()),
                protocol_version: Some(negotiated.clone()),
            }
            .encode();
            if token.is_err() {
                tracing::debug!(
                    "posthog-mcp: no session token could be minted for this initialize"
                );
            }
            mint.fill(token.ok());
        }
        connection.record_handshake(
            &scope.record.session_id,
            Some(&client.name),
            Some(&client.version),
            Some(&negotiated),
        );
        scope.record.attribution.protocol_version = super::arc_str(&negotiated);
        scope.record.response = Some(Encoded::of(result));
        self.server.finish(scope);
    }

    /// A failing or panicking `initialize` emits nothing; the HTTP layer is released without a token.
    pub(crate) fn initialize_failed(&self, handshake: Handshake) {
        if let Some(mint) = handshake.mint {
            mint.fill(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over_http(headers: &[(&str, &str)]) -> Incoming {
        Incoming {
            headers: Some(
                headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            mint: Some(MintSlot::new().0),
            ..Incoming::default()
        }
    }

    #[test]
    fn only_a_sessionless_initialize_through_the_layer_mints() {
        assert!(mints(&over_http(&[])));
        assert!(
            !mints(&over_http(&[("mcp-session-id", "abc")])),
            "the client already has a session"
        );
        let stateful = Incoming {
            transport_session: Some("t-1".into()),
            ..over_http(&[])
        };
        assert!(!mints(&stateful), "the transport keeps its own session");
        let handshake_peer = Incoming {
            peer: Some(std::sync::Arc::new(InitializeRequestParams::new(
                Default::default(),
                Implementation::new("real", "1"),
            ))),
            ..over_http(&[])
        };
        assert!(
            !mints(&handshake_peer),
            "rmcp ran a real handshake: stateful"
        );
        assert!(
            !mints(&Incoming::default()),
            "no layer (or not HTTP): nothing to carry a token"
        );
    }
}
