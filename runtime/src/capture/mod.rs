//! One request's life between the adapters (the rmcp wrapper in `server.rs`, the manual API in `manual.rs`) and
//! the analytics instance: its session and attribution, its identity and
//! hooks, the tool-call, listing, handshake and virtual-tool paths, and the classification of how it ended. The
//! adapters only translate; every fact about a request is decided here, once.
//!
//! A request goes through [`ServerShared::begin`] (synchronous work first, so attribution is fixed before
//! anything is awaited), then the host's handler, then one of the `finish` paths, which hands an owned record to
//! the delivery worker.

mod agent_arguments;
mod attribution;
pub(crate) mod errors;
mod initialize;
mod input_keys;
mod listing;
mod outcome;
mod tasks;
mod tool_call;
pub mod trace;
mod virtual_call;

use std::cell::LazyCell;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{Implementation, InitializeRequestParams, NumberOrString, RequestMetaObject};
use rmcp::service::RequestContext;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::analytics::{Analytics, CallerContext, ServerState};
use crate::config::AgentOptions;
use crate::identity::Fingerprint;
use crate::pipeline::{Attribution, CapturedValue, Encoded, PooledRecord, RequestRecord};
use crate::request::{LazyParams, RequestView, ViewInner};
use crate::session::{Connection, MintSlot, SessionSignals, SessionSnapshot, TransportSession};

pub(crate) use attribution::first_header;
pub(crate) use tasks::TaskBook;
pub(crate) use tool_call::{BegunCall, CallOutcome, PreparedCall};

pub(crate) use attribution::RequestReads;
use attribution::{ClientSources, arc_str, attribute, caller_key, header_pairs, is_stand_in};

/// What one instrumented server shares across its connections: the analytics instance, the server's own state
/// (kept by the analytics instance per kind of server) and its attribution.
pub(crate) struct ServerShared {
    pub(crate) analytics: Analytics,
    state: Arc<ServerState>,
    /// The server's name and version; the rest is filled per request.
    server: Attribution,
    agent: Arc<AgentOptions>,
}

/// Where a request comes from: what the wrapper reads from rmcp's request context, or what a manual
/// dispatcher supplies.
#[derive(Default)]
pub(crate) struct Incoming {
    pub(crate) id: Option<Value>,
    pub(crate) meta: RequestMetaObject,
    pub(crate) headers: Option<Vec<(String, String)>>,
    /// The HTTP request's extensions (what an auth middleware put there), for the hooks' view.
    pub(crate) extensions: Option<http::Extensions>,
    pub(crate) peer: Option<Arc<InitializeRequestParams>>,
    /// The id a stateful HTTP transport assigned at `initialize` (`http::track_sessions`).
    pub(crate) transport_session: Option<Arc<str>>,
    /// Where a minted session token goes (`http::SessionLayer`).
    pub(crate) mint: Option<MintSlot>,
}

impl Incoming {
    /// What rmcp's request context says about the request. `reads`: which of its HTTP headers and extensions the
    /// request layer copies ([`request_reads`]).
    pub(crate) fn from_context(
        context: &RequestContext<RoleServer>,
        reads: RequestReads<'_>,
    ) -> Self {
        let parts = context.extensions.get::<http::request::Parts>();
        Self {
            id: Some(request_id(&context.id)),
            meta: context.meta.clone(),
            headers: parts.map(|parts| header_pairs(parts, reads)),
            extensions: parts
                .filter(|_| reads.whole)
                .map(|parts| parts.extensions.clone()),
            peer: context.peer.peer_info().filter(|peer| !is_stand_in(peer)),
            transport_session: context
                .extensions
                .get::<TransportSession>()
                .map(|session| session.0.clone()),
            mint: parts.and_then(|parts| parts.extensions.get::<MintSlot>().cloned()),
        }
    }
}

/// What the request layer copies from an HTTP request for `server`: everything when a host hook or identify
/// function may see the request (its view holds every header and the extensions), else only the headers the crate
/// reads itself, so a request behind a proxy that adds a dozen headers costs no more than one without.
pub(crate) fn request_reads(server: &ServerShared) -> RequestReads<'_> {
    let identity = &server.state.identity;
    let credential_header = identity.credential_header();
    RequestReads {
        whole: server.needs_hooks(server.agent.intent_fallback.is_some())
            || credential_header.is_none(),
        credential_header,
    }
}

pub(crate) fn request_id(id: &NumberOrString) -> Value {
    match id {
        NumberOrString::Number(n) => Value::from(*n),
        NumberOrString::String(s) => Value::from(&**s),
    }
}

/// Per-request choices for [`ServerShared::begin`].
#[derive(Default)]
pub(crate) struct BeginOptions<'a> {
    /// `initialize`: the client from the params and the requested protocol version.
    pub(crate) handshake: Option<(&'a Implementation, &'a str)>,
    /// Keep a request view for a hook that runs after `begin` (the intent fallback).
    pub(crate) want_view: bool,
    /// A session id that replaces the connection's (derived from a conversation handle).
    pub(crate) session: Option<Arc<str>>,
}

/// Request params and the request's `_meta`, as the hooks' [`RequestView`] sees them (serialized on demand).
struct ParamsWithMeta<P> {
    params: P,
    meta: RequestMetaObject,
}

impl<P: Serialize> ParamsWithMeta<P> {
    fn to_json(&self) -> Value {
        let value = serde_json::to_value(&self.params).unwrap_or(Value::Null);
        if self.meta.is_empty() {
            return value;
        }
        let meta = serde_json::to_value(&self.meta).unwrap_or(Value::Null);
        crate::pipeline::with_request_meta(value, meta)
    }
}

/// The request-path state of one captured request, between resolution and the handler's return.
pub(crate) struct Scope {
    /// In its job box from the start (see [`PooledRecord`]), so the scope and the wrapped future stay small.
    pub(crate) record: PooledRecord,
    started: Duration,
    view: Option<RequestView>,
}

impl Scope {
    /// Who the request is attributed to, for custom events captured inside the handler.
    pub(crate) fn caller(&self) -> Arc<CallerContext> {
        Arc::new(CallerContext {
            session_id: self.record.session_id.clone(),
            attribution: self.record.attribution.clone(),
            identity: self.record.resolution.identity.clone(),
        })
    }
}

/// The session a request resolved to, and the keys its identity is cached under.
struct ResolvedSession {
    snapshot: SessionSnapshot,
    keys: CallerKeys,
}

/// What the identity cache knows a request's caller by: the credential's fingerprint (HTTP only) and, for a
/// request whose session is its own and fresh, the caller table's stable key in place of that session.
#[derive(Clone, Default)]
pub(crate) struct CallerKeys {
    pub(crate) fingerprint: Option<Fingerprint>,
    pub(crate) identity_key: Option<Arc<str>>,
}

impl ServerShared {
    /// The shared part of server `kind` (the handler's type) reporting `server_info`: the state the analytics
    /// instance already keeps for it, or a new one.
    pub(crate) fn new(
        analytics: &Analytics,
        kind: std::any::TypeId,
        server_info: &Implementation,
    ) -> Self {
        let server = Attribution {
            server_name: arc_str(&server_info.name),
            server_version: arc_str(&server_info.version),
            ..Attribution::default()
        };
        let state = analytics.server_state(
            kind,
            server.server_name.clone(),
            server.server_version.clone(),
        );
        Self {
            analytics: analytics.clone(),
            state,
            server,
            agent: analytics.inner.agent.clone(),
        }
    }

    /// Step 1 of the pipeline: session, attribution, identity and `event_properties`, before the handler runs.
    pub(crate) async fn begin<P: Serialize + Clone + Send + Sync + 'static>(
        &self,
        connection: &Connection,
        event: &'static str,
        method: &'static str,
        incoming: &Incoming,
        params: &P,
        options: BeginOptions<'_>,
    ) -> Scope {
        let want_view = options.want_view;
        let (mut scope, keys) =
            self.begin_now(connection, event, method, incoming, params, options);
        if self.needs_hooks(want_view) {
            self.run_hooks(&mut scope, method, incoming, params, keys, want_view)
                .await;
        }
        scope
    }

    /// Whether step 1 awaits a host hook: an identify function, `event_properties`, or (`want_view`) a hook that
    /// runs after `begin` (the intent fallback). Without one, [`Self::begin_now`] is all of step 1.
    pub(crate) fn needs_hooks(&self, want_view: bool) -> bool {
        self.state.identity.has_identify()
            || self.analytics.inner.event_properties.is_some()
            || want_view
    }

    /// The synchronous part of step 1: session and attribution, the params encoded. Returns the scope and the
    /// keys the caller's identity is cached under, for [`Self::run_hooks`].
    pub(crate) fn begin_now<P: Serialize + Clone + Send + Sync + 'static>(
        &self,
        connection: &Connection,
        event: &'static str,
        method: &'static str,
        incoming: &Incoming,
        params: &P,
        options: BeginOptions<'_>,
    ) -> (Scope, CallerKeys) {
        let started_at = self.analytics.inner.clock.now();
        let started = self.analytics.inner.clock.elapsed();
        if options.handshake.is_none()
            && let Some(mint) = &incoming.mint
        {
            // Only an `initialize` mints: release the HTTP layer at once.
            mint.fill(None);
        }
        let resolved =
            self.resolve_session(connection, method, incoming, params, &options, started);
        let attribution = attribute(
            &self.server,
            ClientSources {
                handshake: options.handshake,
                meta: Some(&incoming.meta),
                snapshot: Some(&resolved.snapshot),
                peer: incoming.peer.as_deref(),
                headers: incoming.headers.as_deref(),
            },
        );
        let session_id = resolved.snapshot.session_id;
        let mut record = RequestRecord::new(event, method, session_id, started_at);
        record.request_id = incoming.id.clone();
        record.trace = trace::ids(&incoming.meta, incoming.headers.as_deref()).map(Box::new);
        record.params = Some(Encoded::with_meta(
            params,
            (!incoming.meta.is_empty()).then_some(&incoming.meta),
        ));
        record.attribution = attribution;
        let scope = Scope {
            record: PooledRecord::new(record),
            started,
            view: None,
        };
        (scope, resolved.keys)
    }

    /// The awaited part of step 1, when [`Self::needs_hooks`]: identity, `event_properties`, and the view kept
    /// for a later hook when `want_view`.
    pub(crate) async fn run_hooks<P: Serialize + Clone + Send + Sync + 'static>(
        &self,
        scope: &mut Scope,
        method: &'static str,
        incoming: &Incoming,
        params: &P,
        keys: CallerKeys,
        want_view: bool,
    ) {
        let record = &scope.record;
        // Only the hooks' view needs its own copy of the params (serialized if a hook asks for them), and
        // identify reads it only on a cache miss: with no other hook, a known caller's request builds none.
        let build_view = || {
            hooks_view(
                method,
                incoming,
                params,
                record.session_id.clone(),
                &record.attribution,
            )
        };
        // A credential read from a header is absent from a request without headers (stdio, in memory), so the
        // view is not needed to know it.
        let identity = &self.state.identity;
        let fingerprint = keys.fingerprint.or_else(|| {
            (incoming.headers.is_none() && identity.credential_header().is_some())
                .then_some(Fingerprint::NoCredential)
        });
        if !want_view && self.analytics.inner.event_properties.is_none() {
            let view = LazyCell::new(build_view);
            let resolution = identity
                .resolve(&record.session_id, view, fingerprint, keys.identity_key)
                .await;
            scope.record.resolution = resolution;
            return;
        }
        let view = build_view();
        let shared = LazyCell::new(|| view.clone());
        let resolution = identity
            .resolve(&record.session_id, shared, fingerprint, keys.identity_key)
            .await;
        scope.record.resolution = resolution;
        // The hook takes the view; it is copied only when a later hook keeps it too.
        let (for_hook, kept) = match (self.analytics.inner.event_properties.is_some(), want_view) {
            (true, true) => (Some(view.clone()), Some(view)),
            (true, false) => (Some(view), None),
            (false, _) => (None, want_view.then_some(view)),
        };
        if let Some(view) = for_hook {
            scope.record.event_properties = self.event_properties(view).await.map(Box::new);
        }
        scope.view = kept;
    }

    /// The session of one request (`docs/sessions.md`): a conversation handle, a token, the transport's session,
    /// the connection's own, or for an HTTP request with none of these a fresh one of its own. Credentials and
    /// addresses never make a session; they only key the identity cache of such a request (the caller table).
    fn resolve_session<P: Serialize + Clone + Send + Sync + 'static>(
        &self,
        connection: &Connection,
        method: &'static str,
        incoming: &Incoming,
        params: &P,
        options: &BeginOptions<'_>,
        now: Duration,
    ) -> ResolvedSession {
        let headers = incoming.headers.as_deref();
        let session_header = first_header(headers, "mcp-session-id");
        // Over HTTP the credential is read once: it keys the caller table here and the identity cache later.
        let fingerprint = headers
            .is_some()
            .then(|| self.http_fingerprint(method, incoming, params));
        let transport_id = incoming.transport_session.as_deref();
        // No transport session: each request stands alone, unless a conversation handle anchors it. Either way
        // the identity cache knows the caller by the caller table's key, so identify runs once per caller.
        let sessionless =
            session_header.is_none() && transport_id.is_none() && !connection.has_own_session();
        let identity_key = match (sessionless, fingerprint) {
            (true, Some(fingerprint)) => {
                // Only a client that names itself on every request (in `_meta`) is part of the key: a legacy
                // client without a session header names itself at `initialize` only.
                let client = incoming.meta.client_info();
                let key = caller_key(
                    fingerprint,
                    client.as_ref().and_then(|c| arc_str(&c.name)),
                    client.as_ref().and_then(|c| arc_str(&c.version)),
                    headers,
                );
                Some(self.state.callers.session(&key, now))
            }
            _ => None,
        };
        let mut snapshot = connection.resolve(
            SessionSignals {
                session_header,
                transport_id,
                fresh: identity_key.is_some() && options.session.is_none(),
            },
            now,
        );
        if let Some(session) = options.session.clone() {
            snapshot.session_id = session;
        }
        ResolvedSession {
            snapshot,
            keys: CallerKeys {
                fingerprint,
                identity_key,
            },
        }
    }

    /// The keyed fingerprint of an HTTP request's credential, read before its session is resolved (a credential
    /// function sees the request with an empty session id).
    fn http_fingerprint<P: Serialize + Clone + Send + Sync + 'static>(
        &self,
        method: &'static str,
        incoming: &Incoming,
        params: &P,
    ) -> Fingerprint {
        let identity = &self.state.identity;
        if identity.credential_header().is_some() {
            return identity.header_fingerprint(incoming.headers.as_deref());
        }
        identity.fingerprint(&hooks_view(
            method,
            incoming,
            params,
            Arc::from(""),
            &Attribution::default(),
        ))
    }

    async fn event_properties(&self, view: RequestView) -> Option<Map<String, Value>> {
        let inner = &self.analytics.inner;
        let hook = inner.event_properties.as_ref()?;
        crate::hooks::run(
            || hook(view),
            inner.event_properties_timeout,
            &inner.clock,
            "event_properties",
        )
        .await
        .flatten()
    }

    /// Steps 2–3: timing, then the record goes to the worker.
    pub(crate) fn finish(&self, mut scope: Scope) {
        let elapsed = self
            .analytics
            .inner
            .clock
            .elapsed()
            .saturating_sub(scope.started);
        scope.record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.analytics.submit(scope.record);
    }

    /// Records how a handler ended and returns its result unchanged; a panic is recorded, then resumed.
    /// `capture` picks what of a successful result becomes `$mcp_response`.
    pub(crate) fn complete<R>(
        &self,
        mut scope: Scope,
        outcome: std::thread::Result<Result<R, ErrorData>>,
        capture: impl FnOnce(&R) -> Option<CapturedValue>,
    ) -> Result<R, ErrorData> {
        match outcome {
            Ok(Ok(result)) => {
                scope.record.is_error = Some(false);
                scope.record.response = capture(&result);
                self.finish(scope);
                Ok(result)
            }
            Ok(Err(error)) => {
                scope.record.is_error = Some(true);
                scope.record.error = Some(Box::new(errors::protocol_error(&error)));
                self.finish(scope);
                Err(error)
            }
            Err(panic) => {
                scope.record.is_error = Some(true);
                scope.record.error = Some(Box::new(errors::panic_error(&*panic)));
                self.finish(scope);
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// The read-only view the hooks receive.
fn hooks_view<P: Serialize + Clone + Send + Sync + 'static>(
    method: &'static str,
    incoming: &Incoming,
    params: &P,
    session_id: Arc<str>,
    attribution: &Attribution,
) -> RequestView {
    let view_params = ParamsWithMeta {
        params: params.clone(),
        meta: incoming.meta.clone(),
    };
    RequestView::from_inner(ViewInner {
        method,
        params: LazyParams::new(move || view_params.to_json()),
        headers: incoming.headers.clone(),
        extensions: incoming.extensions.clone(),
        session_id,
        client_name: attribution.client_name.clone(),
        client_version: attribution.client_version.clone(),
        protocol_version: attribution.protocol_version.clone(),
    })
}

#[cfg(test)]
mod tests;
