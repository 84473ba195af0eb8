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

use crate::analytics::Analytics;
use crate::event::{ErrorInfo, names};
use crate::identity::IdentityResolver;
use crate::pipeline::{Attribution, CaptureOptions, Captured, RequestRecord, ToolFacts};
use crate::request::{LazyParams, RequestView, ViewInner};
use crate::session::{Connection, SessionSignals};
use crate::tool::{ToolCallSlot, UnwrappedToolCall};

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
    /// Wraps `server` so that its requests are captured by this instance. Each call makes a new instrumented
    /// server with its own identity cache; clones of the returned value are new connections of the same server.
    pub fn instrument<S: ServerHandler>(&self, server: S) -> Instrumented<S> {
        let info = server.get_info();
        let shared = ServerShared {
            analytics: self.clone(),
            identity: self.new_resolver(),
            server_name: non_empty(&info.server_info.name),
            server_version: non_empty(&info.server_info.version),
            tools: DashMap::new(),
        };
        Instrumented {
            inner: server,
            server: Arc::new(shared),
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

struct ServerShared {
    analytics: Analytics,
    identity: IdentityResolver,
    server_name: Option<Arc<str>>,
    server_version: Option<Arc<str>>,
    /// Description and category of each known tool, read once from the host's `get_tool`.
    tools: DashMap<String, (Option<Arc<str>>, Option<Arc<str>>)>,
}

/// Request params and the request's `_meta` (which rmcp moves into the context), serialized on the worker.
#[derive(Clone)]
struct ParamsWithMeta<P> {
    params: P,
    meta: RequestMetaObject,
}

impl<P: Serialize + Send + 'static> Captured for ParamsWithMeta<P> {
    fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(&self.params).unwrap_or(Value::Null);
        if self.meta.is_empty() {
            return value;
        }
        let meta = serde_json::to_value(&self.meta).unwrap_or(Value::Null);
        match &mut value {
            Value::Object(object) => {
                object.entry("_meta").or_insert(meta);
            }
            Value::Null => value = serde_json::json!({ "_meta": meta }),
            _ => {}
        }
        value
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
struct Scope {
    record: RequestRecord,
    started: Duration,
}

fn header_pairs(context: &RequestContext<RoleServer>) -> Option<Vec<(String, String)>> {
    let parts = context.extensions.get::<http::request::Parts>()?;
    Some(
        parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
    )
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
    async fn begin<P: Serialize + Clone + Send + Sync + 'static>(
        &self,
        connection: &Connection,
        event: &'static str,
        method: &'static str,
        context: &RequestContext<RoleServer>,
        params: P,
        handshake: Option<(&Implementation, &str)>,
    ) -> Scope {
        let analytics = &self.analytics;
        let started_at = analytics.now();
        let started = analytics.inner.clock.elapsed();
        let headers = header_pairs(context);
        let session_header = first_header(headers.as_deref(), "mcp-session-id");
        let snapshot = connection.resolve(
            SessionSignals {
                session_header,
                transport_id: None,
            },
            started,
        );

        let meta_client = context.meta.client_info();
        let peer_info = context.peer.peer_info();
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
                context
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

        let mut record = RequestRecord::new(event, method, snapshot.session_id.clone(), started_at);
        record.request_id = Some(match &context.id {
            NumberOrString::Number(n) => Value::from(*n),
            NumberOrString::String(s) => Value::from(&**s),
        });
        let params = ParamsWithMeta {
            params,
            meta: context.meta.clone(),
        };
        let needs_view = self.identity.has_identify() || analytics.inner.event_properties.is_some();
        let view_params = needs_view.then(|| params.clone());
        record.params = Some(Box::new(params));

        if let Some(view_params) = view_params {
            let view = RequestView::from_inner(ViewInner {
                method,
                params: LazyParams::new(move || view_params.to_json()),
                headers,
                session_id: snapshot.session_id.clone(),
                client_name: attribution.client_name.clone(),
                client_version: attribution.client_version.clone(),
                protocol_version: attribution.protocol_version.clone(),
            });
            record.resolution = self.identity.resolve(&view).await;
            record.event_properties = self.event_properties(view).await;
        }
        record.attribution = attribution;
        Scope { record, started }
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

    /// Steps 2–3: timing, then the record goes to the worker.
    fn finish(&self, mut scope: Scope) {
        let elapsed = self
            .analytics
            .inner
            .clock
            .elapsed()
            .saturating_sub(scope.started);
        scope.record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.analytics.submit(scope.record);
    }

    fn tool_facts(
        &self,
        inner: &impl ServerHandler,
        name: &str,
    ) -> (Option<Arc<str>>, Option<Arc<str>>) {
        if let Some(known) = self.tools.get(name) {
            return known.clone();
        }
        let Some(tool) = inner.get_tool(name) else {
            return (None, None);
        };
        let description = tool.description.as_deref().and_then(arc_str);
        let category = tool
            .meta
            .as_ref()
            .and_then(|meta| meta.0.get("category"))
            .and_then(Value::as_str)
            .and_then(arc_str);
        let facts = (description, category);
        self.tools.insert(name.to_owned(), facts.clone());
        facts
    }
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

/// Runs a list-style request: params captured, response captured on success.
macro_rules! capture_list {
    ($self:ident, $event:expr, $method:literal, $request:ident, $context:ident, $call:ident, $is_empty_ok:expr) => {{
        if !$self.server.analytics.is_enabled() {
            return $self.inner.$call($request, $context).await;
        }
        let scope = $self
            .server
            .begin(
                &$self.connection,
                $event,
                $method,
                &$context,
                $request.clone(),
                None,
            )
            .await;
        let outcome = AssertUnwindSafe($self.inner.$call($request, $context))
            .catch_unwind()
            .await;
        $self.complete(scope, outcome, |result| {
            Some(Box::new(result.clone()) as Box<dyn Captured>)
        })
    }};
}

impl<S: ServerHandler> Instrumented<S> {
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
        let mut scope = self
            .server
            .begin(
                &self.connection,
                names::INITIALIZE,
                "initialize",
                &context,
                request.clone(),
                Some((&client, &requested)),
            )
            .await;
        let peer = context.peer.clone();
        let fallback = request.clone();
        let outcome = AssertUnwindSafe(self.inner.initialize(request, context))
            .catch_unwind()
            .await;
        // A failing or panicking initialize emits nothing (§2.1).
        let Ok(Ok(result)) = outcome else {
            return match outcome {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            };
        };
        if peer.peer_info().is_none() {
            peer.set_peer_info(fallback);
        }
        let negotiated = result.protocol_version.to_string();
        let negotiated = if negotiated.is_empty() {
            requested
        } else {
            negotiated
        };
        self.connection.record_handshake(
            &scope.record.session_id,
            Some(&client.name),
            Some(&client.version),
            Some(&negotiated),
        );
        scope.record.attribution.protocol_version = arc_str(&negotiated);
        scope.record.response = Some(Box::new(result.clone()));
        self.server.finish(scope);
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.server.analytics.is_enabled() {
            return self.inner.call_tool(request, context).await;
        }
        let name = request.name.to_string();
        let mut scope = self
            .server
            .begin(
                &self.connection,
                names::TOOL_CALL,
                "tools/call",
                &context,
                request.clone(),
                None,
            )
            .await;
        let slot = ToolCallSlot::default();
        context.extensions.insert(slot.clone());
        let outcome = AssertUnwindSafe(self.inner.call_tool(request, context))
            .catch_unwind()
            .await;
        let annotations = slot.take();
        let record = &mut scope.record;
        let mut facts = ToolFacts {
            name: name.clone(),
            ..ToolFacts::default()
        };
        if let Some(spec) = annotations.spec {
            let (description, category) = self.server.tool_facts(&self.inner, &name);
            facts.description = description;
            facts.category = spec.category.and_then(arc_str).or(category);
            record.capture = CaptureOptions {
                args: spec.capture_args,
                response: spec.capture_response,
                redact: spec.redact,
            };
        }
        record.tool = Some(facts);
        record.tool_properties = annotations.properties;
        let typed_error = annotations.error;
        match outcome {
            Ok(Ok(response)) => {
                let is_error =
                    matches!(&response, CallToolResponse::Complete(r) if r.is_error == Some(true));
                record.is_error = Some(is_error);
                if is_error {
                    record.error = typed_error.or_else(|| match &response {
                        CallToolResponse::Complete(result) => Some(result_error(result)),
                        _ => None,
                    });
                }
                record.response = match &response {
                    CallToolResponse::Complete(result) => {
                        Some(Box::new(result.clone()) as Box<dyn Captured>)
                    }
                    CallToolResponse::InputRequired(result) => Some(Box::new(result.clone())),
                    CallToolResponse::Task(task) => Some(Box::new(task.clone())),
                    _ => None,
                };
                self.server.finish(scope);
                Ok(response)
            }
            Ok(Err(error)) => {
                record.is_error = Some(true);
                record.error = Some(typed_error.unwrap_or_else(|| protocol_error(&error)));
                self.server.finish(scope);
                Err(error)
            }
            Err(panic) => {
                record.is_error = Some(true);
                record.error = Some(panic_error(&*panic));
                self.server.finish(scope);
                std::panic::resume_unwind(panic)
            }
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        capture_list!(
            self,
            names::TOOLS_LIST,
            "tools/list",
            request,
            context,
            list_tools,
            true
        )
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        capture_list!(
            self,
            names::RESOURCES_LIST,
            "resources/list",
            request,
            context,
            list_resources,
            true
        )
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        capture_list!(
            self,
            names::RESOURCES_LIST,
            "resources/templates/list",
            request,
            context,
            list_resource_templates,
            true
        )
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        capture_list!(
            self,
            names::PROMPTS_LIST,
            "prompts/list",
            request,
            context,
            list_prompts,
            true
        )
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if !self.server.analytics.is_enabled() {
            return self.inner.read_resource(request, context).await;
        }
        let mut scope = self
            .server
            .begin(
                &self.connection,
                names::RESOURCE_READ,
                "resources/read",
                &context,
                request.clone(),
                None,
            )
            .await;
        scope.record.resource_name = Some(request.uri.clone());
        let outcome = AssertUnwindSafe(self.inner.read_resource(request, context))
            .catch_unwind()
            .await;
        self.complete(scope, outcome, |_| None)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if !self.server.analytics.is_enabled() {
            return self.inner.get_prompt(request, context).await;
        }
        let mut scope = self
            .server
            .begin(
                &self.connection,
                names::PROMPT_GET,
                "prompts/get",
                &context,
                request.clone(),
                None,
            )
            .await;
        scope.record.resource_name = Some(request.name.clone());
        let outcome = AssertUnwindSafe(self.inner.get_prompt(request, context))
            .catch_unwind()
            .await;
        self.complete(scope, outcome, |response| match response {
            GetPromptResponse::Complete(result) => {
                Some(Box::new(result.clone()) as Box<dyn Captured>)
            }
            GetPromptResponse::InputRequired(result) => Some(Box::new(result.clone())),
            _ => None,
        })
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
    let headers = header_pairs(context);
    let session_header = first_header(headers.as_deref(), "mcp-session-id");
    let connection = unwrapped_connection();
    let snapshot = connection.resolve(
        SessionSignals {
            session_header,
            transport_id: None,
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
    record.request_id = Some(match &context.id {
        NumberOrString::Number(n) => Value::from(*n),
        NumberOrString::String(s) => Value::from(&**s),
    });
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
