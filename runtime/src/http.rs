//! The HTTP pieces (feature `http`) that let one client keep one session over rmcp's Streamable HTTP service:
//! [`track_sessions`] wraps a session manager so that a stateful session's `initialize` is attributed to the same
//! `$session_id` as the requests after it, and [`SessionLayer`] returns the session token the crate mints for a
//! stateless server's `initialize` in the `mcp-session-id` response header.
//!
//! ```no_run
//! # use rmcp::ServerHandler;
//! # #[derive(Clone)] struct MyServer;
//! # impl ServerHandler for MyServer {}
//! use std::sync::Arc;
//! use rmcp::transport::streamable_http_server::{
//!     StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
//! };
//!
//! let server = posthog_mcp::instrument(MyServer);
//! let service = StreamableHttpService::new(
//!     move || Ok(server.clone()),
//!     Arc::new(posthog_mcp::http::track_sessions(LocalSessionManager::default())),
//!     StreamableHttpServerConfig::default(),
//! );
//! let router: axum::Router = axum::Router::new()
//!     .nest_service("/mcp", service)
//!     .layer(posthog_mcp::http::SessionLayer::new());
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions as _, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

use crate::session::{MintSlot, TransportSession};

/// The session header of Streamable HTTP.
const SESSION_HEADER: &str = "mcp-session-id";

/// Wraps `manager` (rmcp's `LocalSessionManager`, or your own) so that each new session's id reaches the
/// instrumented server with the `initialize` request. Without it, rmcp creates the id after the handshake
/// request was read, and the handshake would be attributed to a session of its own.
pub fn track_sessions<M: SessionManager>(manager: M) -> TrackSessions<M> {
    TrackSessions(manager)
}

/// A session manager that forwards everything to the one it wraps; see [`track_sessions`].
#[derive(Debug, Clone, Default)]
pub struct TrackSessions<M>(pub M);

impl<M> TrackSessions<M> {
    /// The wrapped session manager.
    pub fn inner(&self) -> &M {
        &self.0
    }
}

impl<M: SessionManager> SessionManager for TrackSessions<M> {
    type Error = M::Error;
    type Transport = M::Transport;

    fn create_session(
        &self,
    ) -> impl Future<Output = Result<(SessionId, Self::Transport), Self::Error>> + Send {
        self.0.create_session()
    }

    fn initialize_session(
        &self,
        id: &SessionId,
        mut message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<ServerJsonRpcMessage, Self::Error>> + Send {
        if let ClientJsonRpcMessage::Request(request) = &mut message {
            request
                .request
                .extensions_mut()
                .insert(TransportSession(Arc::clone(id)));
        }
        self.0.initialize_session(id, message)
    }

    fn has_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.0.has_session(id)
    }

    fn close_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.0.close_session(id)
    }

    fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.0.create_stream(id, message)
    }

    fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.0.accept_message(id, message)
    }

    fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.0.create_standalone_stream(id)
    }

    fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.0.resume(id, last_event_id)
    }

    fn restore_session(
        &self,
        id: SessionId,
    ) -> impl Future<Output = Result<RestoreOutcome<Self::Transport>, Self::Error>> + Send {
        self.0.restore_session(id)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.0.event_store()
    }
}

/// A tower layer for rmcp's `StreamableHttpService` (or an axum router around it): when a stateless server
/// answers an `initialize`, it sets the `mcp-session-id` response header to the session token the crate minted,
/// so that the client's later requests carry its session, client name and protocol version. Responses that
/// already carry the header (stateful sessions) and all other requests pass through untouched.
#[derive(Debug, Clone, Copy)]
pub struct SessionLayer {
    wait: Duration,
}

impl Default for SessionLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionLayer {
    /// The layer, waiting at most 10 s for an `initialize` handler before it answers without a token.
    pub fn new() -> Self {
        Self {
            wait: Duration::from_secs(10),
        }
    }

    /// How long a streamed `initialize` response waits for the handler to mint its token (default 10 s). Only
    /// the response head waits, and only while the server's own `initialize` is still running.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            wait: self.wait,
        }
    }
}

/// The service [`SessionLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    wait: Duration,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for SessionService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Only a POST without a session can be an `initialize` that needs one.
        let minted = (request.method() == http::Method::POST
            && !request.headers().contains_key(SESSION_HEADER))
        .then(|| {
            let (slot, receiver) = MintSlot::new();
            request.extensions_mut().insert(slot);
            receiver
        });
        let response = self.inner.call(request);
        let wait = self.wait;
        Box::pin(async move {
            let mut response = response.await?;
            if let Some(mut receiver) = minted
                && !response.headers().contains_key(SESSION_HEADER)
            {
                // Almost every request has settled its slot by the time its response is ready (nothing minted:
                // the slot is gone); only a token still on its way needs a timer.
                let token = match receiver.try_recv() {
                    Ok(token) => Some(token),
                    Err(tokio::sync::oneshot::error::TryRecvError::Closed) => None,
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                        tokio::time::timeout(wait, receiver)
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                };
                if let Some(value) = token.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
                    response.headers_mut().insert(SESSION_HEADER, value);
                }
            }
            Ok(response)
        })
    }
}
