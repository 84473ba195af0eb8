//! The rmcp integration: [`Instrumented`], a `ServerHandler` that forwards every method to the host's handler
//! and captures the requests of CONTRACT §2 around it.
//!
//! Per request: resolve the session and snapshot attribution (before anything is awaited), resolve identity and
//! `event_properties`, run the host handler (panics are recorded, then resumed), and hand an owned record to the
//! delivery worker. The host's result is returned untouched.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::FutureExt as _;
use rmcp::model::*;
use rmcp::service::{MaybeSendFuture, NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::analytics::{Analytics, CallerContext};
use crate::config::AgentOptions;
use crate::event::{ErrorInfo, names};
use crate::identity::{Fingerprint, IdentityResolver};
use crate::intent::{self, Owned};
use crate::pipeline::{Attribution, CaptureOptions, Captured, Encoded, RequestRecord, ToolFacts};
use crate::request::{LazyParams, RequestView, ViewInner};
use crate::session::{
    CallerKey, Callers, Connection, MintSlot, SessionSignals, SessionToken, TransportSession,
};
use crate::tool::{ToolAnnotations, ToolCallSlot, UnwrappedToolCall};
use crate::virtual_tools::{self, Feedback, VirtualKind};

/// Wraps `server` for the process-wide analytics instance (configured from the environment on first use).
///
/// ```no_run
/// # use rmcp::ServerHandler;
/// # #[derive(Clone)] struct MyServer;
/// # impl ServerHandler for MyServer {}
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rmcp::ServiceExt;
/// let service = posthog_mcp::instrument(MyServer).serve(rmcp::transport::stdio()).await?;
/// service.waiting().await?;
/// posthog_mcp::shutdown().await;
/// # Ok(()) }
/// ```
pub fn instrument<S: ServerHandler>(server: S) -> Instrumented<S> {
    crate::analytics::global().instrument(server)
}

impl Analytics {
    /// Wraps `server` so that its requests are captured by this instance. Clones of the returned value are new
    /// connections of the same server. Wrapping the same kind of server again (the same type, reporting the same
    /// name and version) also gives a new connection of the same server: its identity cache and sessions are
    /// kept by this instance, so a session factory may call `instrument` per session or per request.
    pub fn instrument<S: ServerHandler>(&self, server: S) -> Instrumented<S> {
        let info = server.get_info();
        Instrumented {
            inner: server,
            server: Arc::new(ServerShared::new(
                self,
                std::any::TypeId::of::<S>(),
                &info.server_info,
            )),
            connection: Arc::new(Connection::new()),
        }
    }
}

fn non_empty(value: &str) -> Option<Arc<str>> {
    (!value.is_empty()).then(|| Arc::from(value))
}

/// An rmcp server whose requests are captured. Build it with [`instrument`] or [`Analytics::instrument`].
pub struct Instrumented<S> {
    inner: S,
    server: Arc<ServerShared>,
    connection: Arc<Connection>,
}

/// `Clone` starts a new connection: rmcp's HTTP session manager builds one handler per session.
impl<S: Clone> Clone for Instrumented<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            server: self.server.clone(),
            connection: Arc::new(Connection::new()),
        }
    }
}

impl<S> Instrumented<S> {
    /// The host's handler.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

/// What one instrumented server shares across its connections: the analytics instance, the server's own state
/// and its attribution.
pub(crate) struct ServerShared {
    pub(crate) analytics: Analytics,
    state: Arc<ServerState>,
    server_name: Option<Arc<str>>,
    server_version: Option<Arc<str>>,
    agent: Arc<AgentOptions>,
}

/// The state of one server, kept by its analytics instance so that every `instrument` call for the same server
/// (one per HTTP session or request, as rmcp's session factories are often written) shares it: the identity
/// cache, the caller table of sessionless requests, what it learned about the host's tools, and whether the
/// host's first listing page used a virtual name.
pub(crate) struct ServerState {
    identity: IdentityResolver,
    callers: Callers,
    /// Facts about each known tool, read once from the host's `get_tool` or its listing.
    tools: DashMap<String, Arc<KnownTool>>,
    /// The tool names of the host's last first listing page (L4); `None` until one succeeded.
    first_page: std::sync::Mutex<Option<std::collections::HashSet<String>>>,
    /// Skip warnings already logged, so a listing repeated per request warns once per tool and argument.
    warned: DashMap<(String, &'static str), ()>,
}

impl ServerState {
    /// The caller table's counters.
    pub(crate) fn session_stats(&self) -> crate::session::SessionStats {
        self.callers.stats()
    }
}

/// Which server a [`ServerState`] belongs to: the handler's type and the name and version it reports.
pub(crate) type ServerKey = (std::any::TypeId, Option<Arc<str>>, Option<Arc<str>>);

/// What the crate knows about one of the host's tools.
pub(crate) struct KnownTool {
    description: Option<Arc<str>>,
    category: Option<Arc<str>>,
    input: Arc<Map<String, Value>>,
    output: Option<Arc<Map<String, Value>>>,
}

impl KnownTool {
    fn from_tool(tool: &Tool) -> Self {
        Self {
            description: tool.description.as_deref().and_then(arc_str),
            category: tool
                .meta
                .as_ref()
                .and_then(|meta| meta.0.get("category"))
                .and_then(Value::as_str)
                .and_then(arc_str),
            input: tool.input_schema.clone(),
            output: tool.output_schema.clone(),
        }
    }
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
    /// The id a stateful HTTP transport assigned at `initialize` ([`crate::http::track_sessions`]).
    pub(crate) transport_session: Option<Arc<str>>,
    /// Where a minted session token goes ([`crate::http::SessionLayer`]).
    pub(crate) mint: Option<MintSlot>,
}

impl Incoming {
    fn from_context(context: &RequestContext<RoleServer>) -> Self {
        let parts = context.extensions.get::<http::request::Parts>();
        Self {
            id: Some(request_id(&context.id)),
            meta: context.meta.clone(),
            headers: parts.map(header_pairs),
            extensions: parts.map(|parts| parts.extensions.clone()),
            peer: context.peer.peer_info().filter(|peer| !is_stand_in(peer)),
            transport_session: context
                .extensions
                .get::<TransportSession>()
                .map(|session| session.0.clone()),
            mint: parts.and_then(|parts| parts.extensions.get::<MintSlot>().cloned()),
        }
    }
}

/// Whether `peer` is the stand-in rmcp's stateless HTTP transport builds for each request (no handshake took
/// place): rmcp's own name and version, no capabilities, no `_meta`. It is never reported as the client.
fn is_stand_in(peer: &InitializeRequestParams) -> bool {
    peer.meta.is_none()
        && peer.capabilities == ClientCapabilities::default()
        && peer.client_info == Implementation::default()
}

fn request_id(id: &NumberOrString) -> Value {
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
    /// A session id that replaces the connection's (a conversation handle, §8.4).
    pub(crate) session: Option<Arc<str>>,
}

/// A `tools/call` between resolution and the handler's return (§1.3 steps 1–2).
pub(crate) struct PreparedCall {
    scope: Scope,
    name: String,
    known: Option<Arc<KnownTool>>,
    conversation: Option<(Arc<str>, bool)>,
    instructions: bool,
}

impl PreparedCall {
    /// Who the call is attributed to, for custom events captured inside the handler.
    pub(crate) fn caller(&self) -> Arc<CallerContext> {
        self.scope.caller()
    }

    /// The resolved intent, before sanitization.
    pub(crate) fn intent(&self) -> Option<&str> {
        self.scope
            .record
            .intent
            .as_ref()
            .map(|(text, _)| text.as_str())
    }

    /// The resolved model.
    pub(crate) fn llm_model(&self) -> Option<&str> {
        self.scope
            .record
            .llm_model
            .as_ref()
            .map(|(model, _)| model.as_str())
    }

    /// The conversation handle the call is anchored to.
    pub(crate) fn conversation_id(&self) -> Option<&str> {
        self.conversation.as_ref().map(|(handle, _)| &**handle)
    }
}

/// How the handler of a prepared call ended.
pub(crate) enum CallOutcome<'a> {
    Response(&'a mut CallToolResponse),
    Error(&'a ErrorData),
    Panic(&'a (dyn std::any::Any + Send)),
}

/// Request params and the request's `_meta`, as the hooks' [`RequestView`] sees them (serialized on demand).
struct ParamsWithMeta<P> {
    params: P,
    meta: RequestMetaObject,
}

impl<P: Serialize + Send + 'static> Captured for ParamsWithMeta<P> {
    fn to_json(&self) -> Value {
        let value = serde_json::to_value(&self.params).unwrap_or(Value::Null);
        if self.meta.is_empty() {
            return value;
        }
        let meta = serde_json::to_value(&self.meta).unwrap_or(Value::Null);
        crate::pipeline::with_request_meta(value, meta)
    }
}

fn request_meta(context: &RequestContext<RoleServer>) -> Option<Map<String, Value>> {
    if context.meta.is_empty() {
        return None;
    }
    match serde_json::to_value(&context.meta).ok()? {
        Value::Object(map) if !map.is_empty() => Some(map),
        _ => None,
    }
}

/// The request-path state of one captured request, between resolution and the handler's return.
pub(crate) struct Scope {
    pub(crate) record: RequestRecord,
    started: Duration,
    view: Option<RequestView>,
}

impl Scope {
    fn caller(&self) -> Arc<CallerContext> {
        Arc::new(CallerContext {
            session_id: self.record.session_id.clone(),
            attribution: self.record.attribution.clone(),
            identity: self.record.resolution.identity.clone(),
        })
    }
}

fn header_pairs(parts: &http::request::Parts) -> Vec<(String, String)> {
    parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Who a request over HTTP comes from. With a credential, its fingerprint and the client tell callers apart;
/// without one, the user agent and the forwarded client address stand in for it (see `docs/sessions.md`).
fn caller_key(
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

/// First value, trimmed, blank → absent (T9, §5.2).
fn first_header<'a>(headers: Option<&'a [(String, String)]>, name: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn first_non_empty(candidates: impl IntoIterator<Item = Option<Arc<str>>>) -> Option<Arc<str>> {
    candidates.into_iter().flatten().find(|v| !v.is_empty())
}

fn arc_str(value: &str) -> Option<Arc<str>> {
    non_empty(value)
}

impl ServerShared {
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
        let analytics = &self.analytics;
        let started_at = analytics.now();
        let started = analytics.inner.clock.elapsed();
        let handshake = options.handshake;
        let headers = incoming.headers.clone();
        if handshake.is_none()
            && let Some(mint) = &incoming.mint
        {
            // Only an `initialize` mints: release the HTTP layer at once.
            mint.fill(None);
        }
        let session_header = first_header(headers.as_deref(), "mcp-session-id");
        let meta_client = incoming.meta.client_info();
        let peer_info = incoming.peer.clone();
        // Over HTTP the credential is read once: it keys the caller table here and the identity cache below.
        let fingerprint = headers
            .is_some()
            .then(|| self.http_fingerprint(method, incoming, params));
        let transport_id = incoming.transport_session.as_deref();
        let sessionless = headers.is_some()
            && session_header.is_none()
            && transport_id.is_none()
            && options.session.is_none()
            && !connection.has_own_session();
        let caller_session = match (sessionless, fingerprint) {
            (true, Some(fingerprint)) => {
                // Only a client that names itself on every request (in `_meta`) is part of the key: a legacy
                // client without a session header names itself at `initialize` only.
                let client = meta_client.as_ref().and_then(|c| arc_str(&c.name));
                let version = meta_client.as_ref().and_then(|c| arc_str(&c.version));
                let key = caller_key(fingerprint, client, version, headers.as_deref());
                Some(self.state.callers.session(&key, started))
            }
            _ => None,
        };
        let from_caller_table = caller_session.is_some();
        let mut snapshot = connection.resolve(
            SessionSignals {
                session_header,
                transport_id,
                caller_session,
            },
            started,
        );
        if let Some(session) = options.session.clone() {
            snapshot.session_id = session;
        }
        let (client_name, client_version) = match handshake {
            Some((client, _)) => (arc_str(&client.name), arc_str(&client.version)),
            None => (
                first_non_empty([
                    meta_client.as_ref().and_then(|c| arc_str(&c.name)),
                    snapshot.handshake_client_name.clone(),
                    peer_info
                        .as_ref()
                        .and_then(|p| arc_str(&p.client_info.name)),
                    snapshot.snapshot_client_name.clone(),
                ]),
                first_non_empty([
                    meta_client.as_ref().and_then(|c| arc_str(&c.version)),
                    snapshot.handshake_client_version.clone(),
                    peer_info
                        .as_ref()
                        .and_then(|p| arc_str(&p.client_info.version)),
                    snapshot.snapshot_client_version.clone(),
                ]),
            ),
        };
        let protocol_version = match handshake {
            Some((_, requested)) => arc_str(requested),
            None => first_non_empty([
                incoming
                    .meta
                    .protocol_version()
                    .and_then(|v| arc_str(v.as_str())),
                first_header(headers.as_deref(), "mcp-protocol-version")
                    .filter(|v| v.len() <= 64)
                    .map(Arc::from),
                snapshot.negotiated_protocol.clone(),
                snapshot.snapshot_protocol.clone(),
            ]),
        };
        let attribution = Attribution {
            server_name: self.server_name.clone(),
            server_version: self.server_version.clone(),
            client_name,
            client_version,
            protocol_version,
            user_agent: first_header(headers.as_deref(), "user-agent").map(Arc::from),
            vendor: first_header(headers.as_deref(), "x-anthropic-client").map(Arc::from),
        };

        if let Some(fingerprint) = fingerprint
            && !from_caller_table
            && options.session.is_none()
        {
            // A request with a session of its own: its caller keeps that session if it later sends requests
            // without one (a client that moves to the sessionless protocol mid-flight).
            let key = caller_key(
                fingerprint,
                attribution.client_name.clone(),
                attribution.client_version.clone(),
                headers.as_deref(),
            );
            self.state
                .callers
                .remember(&key, &snapshot.session_id, started);
        }

        let mut record = RequestRecord::new(event, method, snapshot.session_id.clone(), started_at);
        record.request_id = incoming.id.clone();
        record.params = Some(Encoded::with_meta(
            params,
            (!incoming.meta.is_empty()).then_some(&incoming.meta),
        ));
        let needs_view = self.state.identity.has_identify()
            || analytics.inner.event_properties.is_some()
            || options.want_view;
        // Only the hooks' view needs its own copy of the params (serialized if a hook asks for them).
        let view_params = needs_view.then(|| ParamsWithMeta {
            params: params.clone(),
            meta: incoming.meta.clone(),
        });

        let mut kept_view = None;
        if let Some(view_params) = view_params {
            let view = RequestView::from_inner(ViewInner {
                method,
                params: LazyParams::new(move || view_params.to_json()),
                headers,
                extensions: incoming.extensions.clone(),
                session_id: snapshot.session_id.clone(),
                client_name: attribution.client_name.clone(),
                client_version: attribution.client_version.clone(),
                protocol_version: attribution.protocol_version.clone(),
            });
            record.resolution = self.state.identity.resolve(&view, fingerprint).await;
            record.event_properties = self.event_properties(view.clone()).await;
            kept_view = options.want_view.then_some(view);
        }
        record.attribution = attribution;
        Scope {
            record,
            started,
            view: kept_view,
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
        if !identity.credential_needs_view() {
            return identity.header_fingerprint(incoming.headers.as_deref());
        }
        let view_params = ParamsWithMeta {
            params: params.clone(),
            meta: incoming.meta.clone(),
        };
        identity.fingerprint(&RequestView::from_inner(ViewInner {
            method,
            params: LazyParams::new(move || view_params.to_json()),
            headers: incoming.headers.clone(),
            extensions: incoming.extensions.clone(),
            session_id: Arc::from(""),
            client_name: None,
            client_version: None,
            protocol_version: None,
        }))
    }

    /// The shared part of server `kind` (the handler's type) reporting `server_info`: the state the analytics
    /// instance already keeps for it, or a new one.
    pub(crate) fn new(
        analytics: &Analytics,
        kind: std::any::TypeId,
        server_info: &Implementation,
    ) -> Self {
        let server_name = non_empty(&server_info.name);
        let server_version = non_empty(&server_info.version);
        let key: ServerKey = (kind, server_name.clone(), server_version.clone());
        let state = analytics
            .inner
            .servers
            .entry(key)
            .or_insert_with(|| {
                Arc::new(ServerState {
                    identity: analytics.new_resolver(),
                    callers: Callers::new(analytics.inner.session_capacity),
                    tools: DashMap::new(),
                    first_page: std::sync::Mutex::new(None),
                    warned: DashMap::new(),
                })
            })
            .clone();
        Self {
            analytics: analytics.clone(),
            state,
            server_name,
            server_version,
            agent: analytics.inner.agent.clone(),
        }
    }

    async fn event_properties(&self, view: RequestView) -> Option<Map<String, Value>> {
        let inner = &self.analytics.inner;
        let hook = inner.event_properties.as_ref()?;
        let method = view.method().to_owned();
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| hook(view))) {
            Ok(future) => future,
            Err(_) => {
                tracing::warn!(
                    method,
                    "posthog-mcp: the event_properties hook panicked; no extra properties"
                );
                return None;
            }
        };
        let guarded = AssertUnwindSafe(future).catch_unwind();
        match futures::future::select(
            Box::pin(guarded),
            inner.clock.sleep(inner.event_properties_timeout),
        )
        .await
        {
            futures::future::Either::Left((Ok(properties), _)) => properties,
            futures::future::Either::Left((Err(_), _)) => {
                tracing::warn!(
                    method,
                    "posthog-mcp: the event_properties hook panicked; no extra properties"
                );
                None
            }
            futures::future::Either::Right(_) => {
                tracing::warn!(
                    method,
                    "posthog-mcp: the event_properties hook timed out; no extra properties"
                );
                None
            }
        }
    }

    /// A successful `initialize`: the handshake is recorded on the connection and the event captured.
    pub(crate) fn initialized(
        &self,
        connection: &Connection,
        mut scope: Scope,
        client: &Implementation,
        requested: String,
        result: &InitializeResult,
    ) {
        let negotiated = result.protocol_version.to_string();
        let negotiated = if negotiated.is_empty() {
            requested
        } else {
            negotiated
        };
        connection.record_handshake(
            &scope.record.session_id,
            Some(&client.name),
            Some(&client.version),
            Some(&negotiated),
        );
        scope.record.attribution.protocol_version = arc_str(&negotiated);
        scope.record.response = Some(Encoded::of(result));
        self.finish(scope);
    }

    /// A `tools/list` outcome: decorated on success (§8.7), captured either way.
    pub(crate) fn listed(
        &self,
        mut scope: Scope,
        outcome: Result<ListToolsResult, ErrorData>,
        first_page: bool,
    ) -> Result<ListToolsResult, ErrorData> {
        match outcome {
            Ok(listing) => {
                let listing = self.decorate_listing(listing, first_page);
                scope.record.is_error = Some(false);
                scope.record.response = Some(Encoded::of(&listing));
                self.finish(scope);
                Ok(listing)
            }
            Err(error) => {
                scope.record.is_error = Some(true);
                scope.record.error = Some(protocol_error(&error));
                self.finish(scope);
                Err(error)
            }
        }
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

    /// What the crate knows about tool `name`: cached, else read from `lookup` (the host's `get_tool`).
    pub(crate) fn known_tool(
        &self,
        name: &str,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> Option<Arc<KnownTool>> {
        if let Some(known) = self.state.tools.get(name) {
            return Some(known.clone());
        }
        let known = Arc::new(KnownTool::from_tool(&lookup(name)?));
        self.state.tools.insert(name.to_owned(), known.clone());
        Some(known)
    }

    fn warn_once(&self, tool: &str, what: &'static str) {
        if self
            .state
            .warned
            .insert((tool.to_owned(), what), ())
            .is_none()
        {
            tracing::warn!(
                tool,
                argument = what,
                "posthog-mcp: the tool's schema already declares this argument or is composed; it was left unchanged"
            );
        }
    }

    /// Which arguments of tool `name` the crate owns (§8.2): `context` on instrumented tools, `llm_model` and
    /// `conversation_id` on every tool whose schema is known, each unless the schema declares it or is composed.
    fn ownership(&self, name: &str, known: Option<&KnownTool>) -> Owned {
        let agent = &self.agent;
        if !(agent.intent || agent.llm_model || agent.conversation_id) {
            return Owned::default();
        }
        let registered = crate::tool::registered_tool(name).is_some();
        let empty = Map::new();
        let schema = match known {
            Some(known) => &*known.input,
            None if registered => &empty,
            None => return Owned::default(),
        };
        Owned {
            context: agent.intent && registered && intent::can_own(schema, intent::CONTEXT),
            llm_model: agent.llm_model && intent::can_own(schema, intent::LLM_MODEL),
            conversation_id: agent.conversation_id
                && intent::can_own(schema, intent::CONVERSATION_ID),
        }
    }

    /// A call is answered virtually only when the host's first listing page lacked the name (L4).
    pub(crate) fn virtual_route(&self, name: &str) -> Option<VirtualKind> {
        let agent = &self.agent;
        let kind = if agent.get_more_tools.as_deref() == Some(name) {
            VirtualKind::MoreTools
        } else if agent.send_feedback.as_deref() == Some(name) {
            VirtualKind::Feedback
        } else {
            return None;
        };
        let first = self
            .state
            .first_page
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*first {
            Some(names) if !names.contains(name) => Some(kind),
            _ => None,
        }
    }

    /// §8.7 L2: the host's listing decorated for the agent. Schemas are edited copy-on-write, so the host's
    /// own values are never mutated; with every option off the listing is returned as it came.
    pub(crate) fn decorate_listing(
        &self,
        mut listing: ListToolsResult,
        first_page: bool,
    ) -> ListToolsResult {
        let agent = self.agent.clone();
        for tool in &listing.tools {
            if !self.state.tools.contains_key(&*tool.name) {
                self.state
                    .tools
                    .insert(tool.name.to_string(), Arc::new(KnownTool::from_tool(tool)));
            }
        }
        let virtual_names = [agent.get_more_tools.clone(), agent.send_feedback.clone()];
        if first_page {
            let names = listing.tools.iter().map(|t| t.name.to_string()).collect();
            *self
                .state
                .first_page
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(names);
        } else {
            let first = self
                .state
                .first_page
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for tool in &listing.tools {
                let shadowed = virtual_names.iter().flatten().any(|v| **v == *tool.name)
                    && first.as_ref().is_some_and(|f| !f.contains(&*tool.name));
                if shadowed {
                    tracing::warn!(
                        tool = %tool.name,
                        "posthog-mcp: a tool on a later listing page uses a virtual tool's name; calls to it are answered by the virtual tool"
                    );
                }
            }
        }
        if !agent.decorates() {
            return listing;
        }
        // Precedence: the tool's own `#[posthog_tool(intent_description = "…")]`, then the builder's, then ours.
        let context_description = agent
            .intent_description
            .as_deref()
            .unwrap_or(intent::CONTEXT_DESCRIPTION);
        if agent.intent {
            for tool in &mut listing.tools {
                let Some(spec) = crate::tool::registered_tool(&tool.name) else {
                    continue;
                };
                if intent::can_own(&tool.input_schema, intent::CONTEXT) {
                    let description = spec.intent_description.unwrap_or(context_description);
                    let schema = Arc::make_mut(&mut tool.input_schema);
                    intent::inject(schema, intent::CONTEXT, description, true);
                } else {
                    self.warn_once(&tool.name, intent::CONTEXT);
                }
            }
        }
        if first_page {
            for (name, kind) in [
                (&agent.get_more_tools, VirtualKind::MoreTools),
                (&agent.send_feedback, VirtualKind::Feedback),
            ] {
                let Some(name) = name else { continue };
                if listing.tools.iter().any(|t| *t.name == **name) {
                    tracing::warn!(
                        tool = %name,
                        "posthog-mcp: the server has its own tool with a virtual tool's name; the server's tool wins"
                    );
                    continue;
                }
                listing.tools.push(match kind {
                    VirtualKind::MoreTools => virtual_tools::more_tools_tool(name),
                    VirtualKind::Feedback => virtual_tools::feedback_tool(
                        name,
                        agent.feedback_description.as_deref(),
                        &agent.feedback_extra_properties,
                        &agent.feedback_extra_required,
                    ),
                });
            }
        }
        for (enabled, key, description, required) in [
            (
                agent.llm_model,
                intent::LLM_MODEL,
                agent
                    .llm_model_description
                    .as_deref()
                    .unwrap_or(intent::LLM_MODEL_DESCRIPTION),
                true,
            ),
            (
                agent.conversation_id,
                intent::CONVERSATION_ID,
                intent::CONVERSATION_ID_DESCRIPTION,
                false,
            ),
        ] {
            if !enabled {
                continue;
            }
            for tool in &mut listing.tools {
                if intent::can_own(&tool.input_schema, key) {
                    let schema = Arc::make_mut(&mut tool.input_schema);
                    intent::inject(schema, key, description, required);
                } else {
                    self.warn_once(&tool.name, key);
                }
            }
        }
        if agent.conversation_id {
            for tool in &mut listing.tools {
                if crate::tool::registered_tool(&tool.name).is_none() {
                    continue;
                }
                let Some(output) = tool.output_schema.as_mut() else {
                    continue;
                };
                let mut copy = (**output).clone();
                if intent::inject_instructions(&mut copy) {
                    *output = Arc::new(copy);
                } else {
                    self.warn_once(&tool.name, intent::INSTRUCTIONS);
                }
            }
        }
        listing
    }

    /// Step 1 for a `tools/call` the host answers: owned arguments are removed from `request` (before the
    /// handler and before `$mcp_parameters`), then session, identity, intent, model and conversation handle.
    pub(crate) async fn prepare_call(
        &self,
        connection: &Connection,
        incoming: Incoming,
        request: &mut CallToolRequestParams,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> PreparedCall {
        let name = request.name.to_string();
        let known = self.known_tool(&name, lookup);
        let owned = self.ownership(&name, known.as_deref());
        let taken = intent::take_owned(&mut request.arguments, owned);
        let explicit = intent::explicit_intent(taken.context.as_ref());
        let model = self.model(&incoming, request, taken.llm_model.as_ref());
        let conversation = owned
            .conversation_id
            .then(|| intent::conversation_handle(taken.conversation_id.as_ref()));
        let instructions = conversation.is_some()
            && known
                .as_ref()
                .and_then(|k| k.output.as_deref())
                .is_some_and(|output| {
                    let declared = output
                        .get("properties")
                        .and_then(Value::as_object)
                        .is_some_and(|p| p.contains_key(intent::INSTRUCTIONS));
                    declared
                        || (crate::tool::registered_tool(&name).is_some()
                            && intent::advertises_instructions(output))
                });
        let mut scope = self
            .begin(
                connection,
                names::TOOL_CALL,
                "tools/call",
                &incoming,
                &*request,
                BeginOptions {
                    want_view: explicit.is_none() && self.agent.intent_fallback.is_some(),
                    session: conversation
                        .as_ref()
                        .map(|(handle, _)| Arc::from(crate::session::derive_session_id(handle))),
                    ..BeginOptions::default()
                },
            )
            .await;
        scope.record.intent = self.intent(explicit, &mut scope).await;
        scope.record.llm_model = model;
        scope.record.conversation_id = conversation.as_ref().map(|(handle, _)| handle.clone());
        PreparedCall {
            scope,
            name,
            known,
            conversation,
            instructions,
        }
    }

    /// §8.3: client metadata first, else the owned `llm_model` argument; nothing when the option is off.
    fn model(
        &self,
        incoming: &Incoming,
        request: &CallToolRequestParams,
        owned: Option<&Value>,
    ) -> Option<(String, &'static str)> {
        if !self.agent.llm_model {
            return None;
        }
        let meta = if incoming.meta.is_empty() {
            request.meta.as_ref().map(|m| &m.0.0)
        } else {
            Some(&incoming.meta.0.0)
        };
        intent::resolve_model(meta, owned)
    }

    /// §8.2 resolution: the explicit text, else the fallback's.
    async fn intent(
        &self,
        explicit: Option<String>,
        scope: &mut Scope,
    ) -> Option<(String, &'static str)> {
        if let Some(text) = explicit {
            return Some((text, intent::SOURCE_CONTEXT));
        }
        let fallback = self.agent.intent_fallback.as_ref()?;
        let view = scope.view.take()?;
        let inner = &self.analytics.inner;
        intent::run_fallback(
            fallback,
            view,
            self.agent.intent_fallback_timeout,
            &inner.clock,
        )
        .await
        .map(|text| (text, intent::SOURCE_INFERRED))
    }

    /// Steps 2–3 for a prepared call: the outcome is classified (§7.1), the conversation handle delivered
    /// (§8.4, which may add to `response`), and the record handed to the worker.
    pub(crate) fn finish_call(
        &self,
        prepared: PreparedCall,
        mut annotations: ToolAnnotations,
        outcome: CallOutcome<'_>,
    ) {
        let PreparedCall {
            mut scope,
            name,
            known,
            conversation,
            instructions,
        } = prepared;
        let record = &mut scope.record;
        let mut facts = ToolFacts {
            name,
            ..ToolFacts::default()
        };
        // The attribute reports its spec from inside the handler; the link-time registry covers a handler
        // the attribute did not reach (and the manual API, which runs no handler of ours).
        let spec = annotations
            .spec
            .or_else(|| crate::tool::registered_tool(&facts.name));
        if let Some(spec) = spec {
            let (description, category) = known
                .as_ref()
                .map(|k| (k.description.clone(), k.category.clone()))
                .unwrap_or_default();
            facts.description = description;
            facts.category = spec.category.and_then(arc_str).or(category);
            record.capture = CaptureOptions {
                args: spec.capture_args,
                response: spec.capture_response,
                redact: spec.redact,
            };
        }
        record.tool = Some(facts);
        record.tool_properties = std::mem::take(&mut annotations.properties);
        let typed_error = annotations.error.take();
        let mut delivered = false;
        match outcome {
            CallOutcome::Response(response) => {
                let is_error =
                    matches!(&*response, CallToolResponse::Complete(r) if r.is_error == Some(true));
                record.is_error = Some(is_error);
                // The attribute's parameter was extracted but the body never ran: a later parameter, the
                // arguments, failed to deserialize, which rmcp answers with an error result.
                let rejected_arguments = annotations.probed && !annotations.started;
                if is_error {
                    record.error = typed_error.or_else(|| match &*response {
                        CallToolResponse::Complete(result) if rejected_arguments => {
                            Some(invalid_arguments(result))
                        }
                        CallToolResponse::Complete(result) => Some(result_error(result)),
                        _ => None,
                    });
                }
                if let (Some((handle, minted)), CallToolResponse::Complete(result)) =
                    (&conversation, &mut *response)
                {
                    delivered = deliver_handle(result, handle, *minted, instructions);
                }
                record.response = match &*response {
                    CallToolResponse::Complete(result) => Some(Encoded::of(result)),
                    CallToolResponse::InputRequired(result) => Some(Encoded::of(result)),
                    CallToolResponse::Task(task) => Some(Encoded::of(task)),
                    _ => None,
                };
            }
            CallOutcome::Error(error) => {
                record.is_error = Some(true);
                record.error = Some(typed_error.unwrap_or_else(|| protocol_error(error)));
            }
            CallOutcome::Panic(panic) => {
                record.is_error = Some(true);
                record.error = Some(panic_error(panic));
            }
        }
        if conversation.is_some_and(|(_, minted)| minted) && !delivered {
            record.conversation_id = None;
        }
        self.finish(scope);
    }

    /// Answers a call to a virtual tool (§8.5, §8.6) and captures its one event; never a `$mcp_tool_call`.
    pub(crate) async fn answer_virtual(
        &self,
        connection: &Connection,
        incoming: Incoming,
        kind: VirtualKind,
        mut request: CallToolRequestParams,
    ) -> CallToolResult {
        let agent = self.agent.clone();
        let name = request.name.to_string();
        let owned = Owned {
            context: kind == VirtualKind::MoreTools,
            llm_model: agent.llm_model,
            conversation_id: agent.conversation_id,
        };
        let feedback = (kind == VirtualKind::Feedback)
            .then(|| Feedback::parse(request.arguments.as_ref(), &agent.feedback_extra_properties));
        let taken = intent::take_owned(&mut request.arguments, owned);
        let explicit = match &feedback {
            Some(feedback) => feedback.intent(),
            None => intent::explicit_intent(taken.context.as_ref()),
        };
        let model = self.model(&incoming, &request, taken.llm_model.as_ref());
        let conversation = owned
            .conversation_id
            .then(|| intent::conversation_handle(taken.conversation_id.as_ref()));
        let event = match kind {
            VirtualKind::MoreTools => names::MISSING_CAPABILITY,
            VirtualKind::Feedback => names::FEEDBACK,
        };
        let mut scope = self
            .begin(
                connection,
                event,
                "tools/call",
                &incoming,
                &request,
                BeginOptions {
                    want_view: explicit.is_none() && agent.intent_fallback.is_some(),
                    session: conversation
                        .as_ref()
                        .map(|(handle, _)| Arc::from(crate::session::derive_session_id(handle))),
                    ..BeginOptions::default()
                },
            )
            .await;
        scope.record.intent = self.intent(explicit, &mut scope).await;
        scope.record.llm_model = model;
        scope.record.resource_name = Some(name);
        let reply = match &feedback {
            None => virtual_tools::MORE_TOOLS_REPLY.to_owned(),
            Some(feedback) => self.feedback_reply(feedback.clone()).await,
        };
        let mut result = CallToolResult::success(vec![ContentBlock::text(reply)]);
        if let Some((handle, minted)) = &conversation {
            deliver_handle(&mut result, handle, *minted, false);
            scope.record.conversation_id = Some(handle.clone());
        }
        scope.record.capture_parameters = feedback.is_none();
        scope.record.feedback = feedback;
        scope.record.is_error = Some(false);
        scope.record.response = Some(Encoded::of(&result));
        self.finish(scope);
        result
    }

    async fn feedback_reply(&self, feedback: Feedback) -> String {
        let Some(handler) = self.agent.feedback_handler.clone() else {
            return virtual_tools::FEEDBACK_REPLY.to_owned();
        };
        let clock = self.analytics.inner.clock.clone();
        intent::run_guarded(
            move || handler(feedback),
            self.agent.feedback_handler_timeout,
            &clock,
            "feedback_handler",
        )
        .await
        .flatten()
        .filter(|text| !text.trim().is_empty())
        .unwrap_or_else(|| virtual_tools::FEEDBACK_REPLY.to_owned())
    }
}

/// §8.4 delivery: `_mcp_instructions` into object structured content when the tool advertises it, and for a
/// minted handle a data block appended to the content. Returns whether the handle reached the agent.
fn deliver_handle(
    result: &mut CallToolResult,
    handle: &str,
    minted: bool,
    instructions: bool,
) -> bool {
    let mut delivered = false;
    if instructions
        && let Some(Value::Object(structured)) = result.structured_content.as_mut()
        && !structured.contains_key(intent::INSTRUCTIONS)
    {
        structured.insert(
            intent::INSTRUCTIONS.to_owned(),
            serde_json::json!({ intent::CONVERSATION_ID: handle }),
        );
        delivered = true;
    }
    if minted {
        result.content.push(intent::handle_block(handle));
        delivered = true;
    }
    delivered
}

/// §7.3: JSON-RPC categories for protocol errors.
pub(crate) fn protocol_error(error: &ErrorData) -> ErrorInfo {
    let type_name = match error.code.0 {
        -32700 => Cow::Borrowed("ParseError"),
        -32600 => Cow::Borrowed("InvalidRequest"),
        -32601 => Cow::Borrowed("MethodNotFound"),
        -32602 => Cow::Borrowed("InvalidParams"),
        -32603 => Cow::Borrowed("InternalError"),
        -32002 => Cow::Borrowed("ResourceNotFound"),
        other => Cow::Owned(format!("JsonRpcError({other})")),
    };
    ErrorInfo {
        type_name: type_name.into_owned(),
        message: error.message.to_string(),
        synthetic: false,
        chain: Vec::new(),
    }
}

/// §7.1: an `is_error` result's text parts joined with single spaces, or `Unknown error`.
pub(crate) fn result_error(result: &CallToolResult) -> ErrorInfo {
    let joined = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    let message = joined.trim();
    ErrorInfo {
        type_name: "Error".into(),
        message: if message.is_empty() {
            "Unknown error".into()
        } else {
            message.to_owned()
        },
        synthetic: true,
        chain: Vec::new(),
    }
}

/// Arguments that did not fit the tool's parameters: a JSON-RPC `InvalidParams`, whatever rmcp answered with.
fn invalid_arguments(result: &CallToolResult) -> ErrorInfo {
    ErrorInfo {
        type_name: "InvalidParams".into(),
        synthetic: false,
        ..result_error(result)
    }
}

/// A panic payload as an error (§7.3).
pub(crate) fn panic_error(payload: &(dyn std::any::Any + Send)) -> ErrorInfo {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked with a payload that is not a string".to_owned());
    ErrorInfo {
        type_name: "Panic".into(),
        message,
        synthetic: false,
        chain: Vec::new(),
    }
}

macro_rules! forward {
    ($($(#[$attr:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {$(
        fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + MaybeSendFuture + '_ {
            self.inner.$name($($arg),*)
        }
    )*};
}

impl<S: ServerHandler> Instrumented<S> {
    /// Captures one request handled by `call`: resolution before it, the outcome after it. `resource` names
    /// the event's `$mcp_resource_name`; `capture` picks what of a successful result becomes `$mcp_response`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per request kind, in the forwarding table"
    )]
    async fn capture_request<P, R, F, Fut>(
        &self,
        event: &'static str,
        method: &'static str,
        request: P,
        mut context: RequestContext<RoleServer>,
        resource: Option<String>,
        call: F,
        capture: impl FnOnce(&R) -> Option<Box<dyn Captured>>,
    ) -> Result<R, ErrorData>
    where
        P: Serialize + Clone + Send + Sync + 'static,
        F: FnOnce(P, RequestContext<RoleServer>) -> Fut,
        Fut: Future<Output = Result<R, ErrorData>>,
    {
        if !self.server.analytics.is_enabled() {
            return call(request, context).await;
        }
        let mut scope = self
            .server
            .begin(
                &self.connection,
                event,
                method,
                &Incoming::from_context(&context),
                &request,
                BeginOptions::default(),
            )
            .await;
        context.extensions.insert(scope.caller());
        scope.record.resource_name = resource;
        let outcome = AssertUnwindSafe(call(request, context))
            .catch_unwind()
            .await;
        self.complete(scope, outcome, capture)
    }

    /// Records the handler's outcome and returns it unchanged (a panic is recorded, then resumed).
    fn complete<R>(
        &self,
        mut scope: Scope,
        outcome: std::thread::Result<Result<R, ErrorData>>,
        capture: impl FnOnce(&R) -> Option<Box<dyn Captured>>,
    ) -> Result<R, ErrorData> {
        match outcome {
            Ok(Ok(result)) => {
                scope.record.is_error = Some(false);
                scope.record.response = capture(&result);
                self.server.finish(scope);
                Ok(result)
            }
            Ok(Err(error)) => {
                scope.record.is_error = Some(true);
                scope.record.error = Some(protocol_error(&error));
                self.server.finish(scope);
                Err(error)
            }
            Err(panic) => {
                scope.record.is_error = Some(true);
                scope.record.error = Some(panic_error(&*panic));
                self.server.finish(scope);
                std::panic::resume_unwind(panic)
            }
        }
    }
}

#[allow(deprecated)]
impl<S: ServerHandler> ServerHandler for Instrumented<S> {
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        if !self.server.analytics.is_enabled() {
            return self.inner.initialize(request, context).await;
        }
        let requested = request.protocol_version.to_string();
        let client = request.client_info.clone();
        let incoming = Incoming::from_context(&context);
        // §4.5: a stateless HTTP transport keeps no session, so the crate mints one and the HTTP layer returns it
        // to the client as a token in `mcp-session-id`. An `initialize` belongs to the legacy era whatever version
        // it requests (the 2026-07-28 revision has no handshake; rmcp's client requests 2026-07-28 and settles
        // for the server's version), so the requested version does not decide.
        let mint = incoming.mint.clone().filter(|_| {
            incoming.transport_session.is_none()
                && incoming.peer.is_none()
                && first_header(incoming.headers.as_deref(), "mcp-session-id").is_none()
        });
        match &mint {
            Some(_) => {
                self.connection
                    .start_token_session(self.server.analytics.inner.clock.elapsed());
            }
            None => {
                if let Some(slot) = &incoming.mint {
                    slot.fill(None);
                }
            }
        }
        let scope = self
            .server
            .begin(
                &self.connection,
                names::INITIALIZE,
                "initialize",
                &incoming,
                &request,
                BeginOptions {
                    handshake: Some((&client, &requested)),
                    ..BeginOptions::default()
                },
            )
            .await;
        let peer = context.peer.clone();
        let fallback = request.clone();
        let outcome = AssertUnwindSafe(self.inner.initialize(request, context))
            .catch_unwind()
            .await;
        // A failing or panicking initialize emits nothing (§2.1).
        let Ok(Ok(result)) = outcome else {
            if let Some(mint) = &mint {
                mint.fill(None);
            }
            return match outcome {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            };
        };
        if peer.peer_info().is_none() {
            peer.set_peer_info(fallback);
        }
        if let Some(mint) = &mint {
            let negotiated = result.protocol_version.to_string();
            let token = SessionToken {
                sid: scope.record.session_id.to_string(),
                client_name: Some(client.name.clone()),
                client_version: Some(client.version.clone()),
                protocol_version: Some(if negotiated.is_empty() {
                    requested.clone()
                } else {
                    negotiated
                }),
            }
            .encode();
            if token.is_err() {
                tracing::debug!(
                    "posthog-mcp: no session token could be minted for this initialize"
                );
            }
            mint.fill(token.ok());
        }
        self.server
            .initialized(&self.connection, scope, &client, requested, &result);
        Ok(result)
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.server.analytics.is_enabled() {
            context.extensions.insert(crate::tool::CaptureOff);
            return self.inner.call_tool(request, context).await;
        }
        let incoming = Incoming::from_context(&context);
        if let Some(kind) = self.server.virtual_route(&request.name) {
            let result = self
                .server
                .answer_virtual(&self.connection, incoming, kind, request)
                .await;
            return Ok(CallToolResponse::Complete(result));
        }
        let inner = &self.inner;
        let prepared = self
            .server
            .prepare_call(&self.connection, incoming, &mut request, &|name| {
                inner.get_tool(name)
            })
            .await;
        context.extensions.insert(prepared.caller());
        let slot = ToolCallSlot::default();
        context.extensions.insert(slot.clone());
        let outcome = AssertUnwindSafe(self.inner.call_tool(request, context))
            .catch_unwind()
            .await;
        let annotations = slot.take();
        match outcome {
            Ok(Ok(mut response)) => {
                self.server.finish_call(
                    prepared,
                    annotations,
                    CallOutcome::Response(&mut response),
                );
                Ok(response)
            }
            Ok(Err(error)) => {
                self.server
                    .finish_call(prepared, annotations, CallOutcome::Error(&error));
                Err(error)
            }
            Err(panic) => {
                self.server
                    .finish_call(prepared, annotations, CallOutcome::Panic(&*panic));
                std::panic::resume_unwind(panic)
            }
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        if !self.server.analytics.is_enabled() {
            return self.inner.list_tools(request, context).await;
        }
        let mut context = context;
        let first_page = request.as_ref().and_then(|r| r.cursor.as_ref()).is_none();
        let scope = self
            .server
            .begin(
                &self.connection,
                names::TOOLS_LIST,
                "tools/list",
                &Incoming::from_context(&context),
                &request,
                BeginOptions::default(),
            )
            .await;
        context.extensions.insert(scope.caller());
        let outcome = AssertUnwindSafe(self.inner.list_tools(request, context))
            .catch_unwind()
            .await;
        match outcome {
            Ok(outcome) => self.server.listed(scope, outcome, first_page),
            Err(panic) => self.complete(scope, Err(panic), |_| None),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.capture_request(
            names::RESOURCES_LIST,
            "resources/list",
            request,
            context,
            None,
            |r, c| self.inner.list_resources(r, c),
            |result| Some(Encoded::of(result)),
        )
        .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.capture_request(
            names::RESOURCES_LIST,
            "resources/templates/list",
            request,
            context,
            None,
            |r, c| self.inner.list_resource_templates(r, c),
            |result| Some(Encoded::of(result)),
        )
        .await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.capture_request(
            names::PROMPTS_LIST,
            "prompts/list",
            request,
            context,
            None,
            |r, c| self.inner.list_prompts(r, c),
            |result| Some(Encoded::of(result)),
        )
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.clone();
        let call = |r, c| self.inner.read_resource(r, c);
        // Resource bodies are never analytics (§2.2).
        self.capture_request(
            names::RESOURCE_READ,
            "resources/read",
            request,
            context,
            Some(uri),
            call,
            |_| None,
        )
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let name = request.name.clone();
        let call = |r, c| self.inner.get_prompt(r, c);
        self.capture_request(
            names::PROMPT_GET,
            "prompts/get",
            request,
            context,
            Some(name),
            call,
            |response| match response {
                GetPromptResponse::Complete(result) => Some(Encoded::of(result)),
                GetPromptResponse::InputRequired(result) => Some(Encoded::of(result)),
                _ => None,
            },
        )
        .await
    }

    // Everything else is forwarded unchanged: one table, checked against rmcp's 32 methods by a test per method.
    forward! {
        fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData>;
        fn discover(&self, context: RequestContext<RoleServer>) -> Result<DiscoverResult, ErrorData>;
        fn complete(&self, request: CompleteRequestParams, context: RequestContext<RoleServer>) -> Result<CompleteResult, ErrorData>;
        #[allow(deprecated)]
        fn set_level(&self, request: SetLevelRequestParams, context: RequestContext<RoleServer>) -> Result<(), ErrorData>;
        fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData>;
        fn on_custom_request(&self, request: CustomRequest, context: RequestContext<RoleServer>) -> Result<CustomResult, ErrorData>;
        fn get_task(&self, request: GetTaskParams, context: RequestContext<RoleServer>) -> Result<GetTaskResult, ErrorData>;
        fn update_task(&self, request: UpdateTaskParams, context: RequestContext<RoleServer>) -> Result<(), ErrorData>;
        fn cancel_task(&self, request: CancelTaskParams, context: RequestContext<RoleServer>) -> Result<(), ErrorData>;
        fn list_skills(&self, request: Option<PaginatedRequestParams>, context: RequestContext<RoleServer>) -> Result<ListSkillsResult, ErrorData>;
        fn get_skill(&self, request: GetSkillRequestParams, context: RequestContext<RoleServer>) -> Result<GetSkillResult, ErrorData>;
        fn read_resource_directory(&self, request: ReadResourceDirectoryRequestParams, context: RequestContext<RoleServer>) -> Result<ReadResourceDirectoryResult, ErrorData>;
        fn on_cancelled(&self, notification: CancelledNotificationParam, context: NotificationContext<RoleServer>) -> ();
        fn on_progress(&self, notification: ProgressNotificationParam, context: NotificationContext<RoleServer>) -> ();
        fn on_initialized(&self, context: NotificationContext<RoleServer>) -> ();
        fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) -> ();
        fn on_custom_notification(&self, notification: CustomNotification, context: NotificationContext<RoleServer>) -> ();
    }

    #[allow(deprecated)]
    fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), ErrorData>> + MaybeSendFuture + '_ {
        self.inner.subscribe(request, context)
    }

    #[allow(deprecated)]
    fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), ErrorData>> + MaybeSendFuture + '_ {
        self.inner.unsubscribe(request, context)
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, ErrorData> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.get_tool(name)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }
}

/// Captures a tool call that `#[posthog_tool]` saw with no wrapper present.
pub(crate) fn capture_unwrapped(analytics: &Analytics, call: UnwrappedToolCall) {
    if !analytics.is_enabled() {
        return;
    }
    let context = &call.context;
    let headers = context
        .extensions
        .get::<http::request::Parts>()
        .map(header_pairs);
    let session_header = first_header(headers.as_deref(), "mcp-session-id");
    let connection = unwrapped_connection();
    let snapshot = connection.resolve(
        SessionSignals {
            session_header,
            ..SessionSignals::default()
        },
        analytics.inner.clock.elapsed(),
    );
    let client = context.peer.peer_info();
    let meta_client = context.meta.client_info();
    let attribution = Attribution {
        client_name: first_non_empty([
            meta_client.as_ref().and_then(|c| arc_str(&c.name)),
            client.as_ref().and_then(|c| arc_str(&c.client_info.name)),
        ]),
        client_version: first_non_empty([
            meta_client.as_ref().and_then(|c| arc_str(&c.version)),
            client
                .as_ref()
                .and_then(|c| arc_str(&c.client_info.version)),
        ]),
        protocol_version: first_non_empty([
            context
                .meta
                .protocol_version()
                .and_then(|v| arc_str(v.as_str())),
            client
                .as_ref()
                .and_then(|c| arc_str(c.protocol_version.as_str())),
        ]),
        user_agent: first_header(headers.as_deref(), "user-agent").map(Arc::from),
        vendor: first_header(headers.as_deref(), "x-anthropic-client").map(Arc::from),
        ..Attribution::default()
    };
    let mut record = RequestRecord::new(
        names::TOOL_CALL,
        "tools/call",
        snapshot.session_id,
        call.started_at,
    );
    record.request_id = Some(request_id(&context.id));
    let mut params = Map::new();
    params.insert("name".into(), Value::from(call.tool_name.clone()));
    if let Some(arguments) = call.arguments {
        params.insert("arguments".into(), Value::Object(arguments));
    }
    if let Some(meta) = request_meta(context) {
        params.insert("_meta".into(), Value::Object(meta));
    }
    record.params = Some(Box::new(Value::Object(params)));
    record.response = call.response.map(|r| Box::new(r) as Box<dyn Captured>);
    record.attribution = attribution;
    record.duration_ms = call.duration_ms;
    record.tool = Some(ToolFacts {
        name: call.tool_name,
        description: None,
        category: call.spec.category.and_then(arc_str),
    });
    record.capture = CaptureOptions {
        args: call.spec.capture_args,
        response: call.spec.capture_response,
        redact: call.spec.redact,
    };
    record.is_error = Some(call.is_error);
    record.error = call.error;
    record.tool_properties = call.properties;
    analytics.submit(record);
}

/// Without a wrapper there is no per-connection state: one process-wide connection stands in for it.
fn unwrapped_connection() -> &'static Connection {
    static CONNECTION: std::sync::OnceLock<Connection> = std::sync::OnceLock::new();
    CONNECTION.get_or_init(Connection::new)
}
