//! The rmcp adapter: [`Instrumented`], a `ServerHandler` that forwards every method to the host's handler and
//! hands every request it captures to the request layer (`capture/`) around it. It only translates between
//! rmcp's types and the request layer; the host's result is returned untouched and a host panic is resumed.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;
use rmcp::model::*;
use rmcp::service::{MaybeSendFuture, NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use tracing::Instrument as _;

use crate::analytics::Analytics;
use crate::capture::trace;
use crate::capture::{
    BeginOptions, BegunCall, CallOutcome, Incoming, Scope, ServerShared, request_reads,
};
use crate::event::names;
use crate::pipeline::{CapturedValue, Encoded};
use crate::session::Connection;
use crate::tool::{CaptureOff, ToolCallSlot, with_call_slot};

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

macro_rules! forward {
    ($($(#[$attr:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {$(
        fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + MaybeSendFuture + '_ {
            self.inner.$name($($arg),*)
        }
    )*};
}

impl<S: ServerHandler> Instrumented<S> {
    fn enabled(&self) -> bool {
        self.server.analytics.is_enabled()
    }

    /// Captures one request handled by `call`: resolution before it, the outcome after it. `resource` names
    /// the event's `$mcp_resource_name`; `finish` turns the outcome into the event (`completed` for most kinds).
    async fn capture_request<P, R, Fut>(
        &self,
        (event, method): (&'static str, &'static str),
        request: P,
        mut context: RequestContext<RoleServer>,
        resource: Option<String>,
        call: impl FnOnce(P, RequestContext<RoleServer>) -> Fut,
        finish: impl FnOnce(&ServerShared, Scope, Outcome<R>) -> Result<R, ErrorData>,
    ) -> Result<R, ErrorData>
    where
        P: Serialize + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ErrorData>>,
    {
        if !self.enabled() {
            return call(request, context).await;
        }
        let incoming = Incoming::from_context(&context, request_reads(&self.server));
        let target = resource.as_deref().filter(|_| method == "prompts/get");
        let span = trace::request_span(
            method,
            target,
            &incoming.meta,
            incoming.headers.as_deref(),
            incoming.id.as_ref(),
        );
        let mut scope = self
            .server
            .begin(
                &self.connection,
                event,
                method,
                &incoming,
                &request,
                BeginOptions::default(),
            )
            .await;
        trace::record_resolved(&span, &scope.record);
        context.extensions.insert(scope.caller());
        scope.record.resource_name = resource;
        let outcome = AssertUnwindSafe(call(request, context))
            .catch_unwind()
            .instrument(span.clone())
            .await;
        trace::record_outcome(&span, &outcome, |_| false);
        finish(&self.server, scope, outcome)
    }
}

/// How the host's handler of a captured request ended: returned, or panicked.
type Outcome<R> = std::thread::Result<Result<R, ErrorData>>;

/// The usual end of a captured request: `capture` picks what of a successful result becomes `$mcp_response`.
fn completed<R>(
    capture: impl FnOnce(&R) -> Option<CapturedValue>,
) -> impl FnOnce(&ServerShared, Scope, Outcome<R>) -> Result<R, ErrorData> {
    move |server, scope, outcome| server.complete(scope, outcome, capture)
}

#[allow(deprecated)]
impl<S: ServerHandler> ServerHandler for Instrumented<S> {
    /// Boxed: once per session, and its state would otherwise set the size of every request's future.
    fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<InitializeResult, ErrorData>> + Send + '_ {
        Box::pin(async move {
            if !self.enabled() {
                return self.inner.initialize(request, context).await;
            }
            let incoming = Incoming::from_context(&context, request_reads(&self.server));
            let handshake = self
                .server
                .handshakes()
                .begin_initialize(&self.connection, &incoming, &request)
                .await;
            let peer = context.peer.clone();
            let fallback = request.clone();
            let outcome = AssertUnwindSafe(self.inner.initialize(request, context))
                .catch_unwind()
                .await;
            let Ok(Ok(result)) = outcome else {
                self.server.handshakes().initialize_failed(handshake);
                return match outcome {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
            };
            // A host `initialize` that skips recording the peer: later requests still know the client.
            if peer.peer_info().is_none() {
                peer.set_peer_info(fallback);
            }
            self.server
                .handshakes()
                .initialized(&self.connection, handshake, &result);
            Ok(result)
        })
    }

    /// A plain function returning one `async move` block that uses its captured parameters in place: an
    /// `async fn` with `mut` parameters keeps a second copy of the request and the context for the whole body,
    /// and this future sits inside the one rmcp spawns for every request.
    #[allow(clippy::manual_async_fn)]
    fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + Send + '_ {
        async move {
            if !self.enabled() {
                context.extensions.insert(CaptureOff);
                return self.inner.call_tool(request, context).await;
            }
            let incoming = Incoming::from_context(&context, request_reads(&self.server));
            let span = trace::request_span(
                "tools/call",
                Some(&request.name),
                &incoming.meta,
                incoming.headers.as_deref(),
                incoming.id.as_ref(),
            );
            let inner = &self.inner;
            let (prepared, request) = match self
                .server
                .tool_calls()
                .begin_tool_call(&self.connection, incoming, request, &|name| {
                    inner.get_tool(name)
                })
                .await
            {
                BegunCall::Answered(result) => return Ok(CallToolResponse::Complete(result)),
                BegunCall::Forward(prepared, request) => (prepared, request),
            };
            trace::record_resolved(&span, prepared.record());
            context.extensions.insert(prepared.caller());
            let slot = ToolCallSlot::watching();
            let handler = with_call_slot(
                slot.clone(),
                AssertUnwindSafe(self.inner.call_tool(request, context)).catch_unwind(),
            )
            .instrument(span.clone());
            let outcome = handler.await;
            trace::record_outcome(
                &span,
                &outcome,
                |response| matches!(response, CallToolResponse::Complete(result) if result.is_error == Some(true)),
            );
            let annotations = slot.take();
            let calls = self.server.tool_calls();
            match outcome {
                Ok(Ok(mut response)) => {
                    calls.finish_call(prepared, annotations, CallOutcome::Response(&mut response));
                    Ok(response)
                }
                Ok(Err(error)) => {
                    calls.finish_call(prepared, annotations, CallOutcome::Error(&error));
                    Err(error)
                }
                Err(panic) => {
                    calls.finish_call(prepared, annotations, CallOutcome::Panic(&*panic));
                    std::panic::resume_unwind(panic)
                }
            }
        }
    }

    fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, ErrorData>> + Send + '_ {
        let first_page = request.as_ref().and_then(|r| r.cursor.as_ref()).is_none();
        self.capture_request(
            (names::TOOLS_LIST, "tools/list"),
            request,
            context,
            None,
            |r, c| self.inner.list_tools(r, c),
            move |server, scope, outcome| match outcome {
                Ok(outcome) => server.listed(scope, outcome, first_page),
                Err(panic) => server.complete(scope, Err(panic), |_| None),
            },
        )
    }

    fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, ErrorData>> + Send + '_ {
        self.capture_request(
            (names::RESOURCES_LIST, "resources/list"),
            request,
            context,
            None,
            |r, c| self.inner.list_resources(r, c),
            completed(|result| Some(Encoded::of(result))),
        )
    }

    fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, ErrorData>> + Send + '_ {
        self.capture_request(
            (names::RESOURCES_LIST, "resources/templates/list"),
            request,
            context,
            None,
            |r, c| self.inner.list_resource_templates(r, c),
            completed(|result| Some(Encoded::of(result))),
        )
    }

    fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListPromptsResult, ErrorData>> + Send + '_ {
        self.capture_request(
            (names::PROMPTS_LIST, "prompts/list"),
            request,
            context,
            None,
            |r, c| self.inner.list_prompts(r, c),
            completed(|result| Some(Encoded::of(result))),
        )
    }

    fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceResponse, ErrorData>> + Send + '_ {
        let uri = request.uri.clone();
        // Resource bodies are never analytics.
        self.capture_request(
            (names::RESOURCE_READ, "resources/read"),
            request,
            context,
            Some(uri),
            |r, c| self.inner.read_resource(r, c),
            completed(|_| None),
        )
    }

    fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetPromptResponse, ErrorData>> + Send + '_ {
        let name = request.name.clone();
        self.capture_request(
            (names::PROMPT_GET, "prompts/get"),
            request,
            context,
            Some(name),
            |r, c| self.inner.get_prompt(r, c),
            completed(|response| match response {
                GetPromptResponse::Complete(result) => Some(Encoded::of(result)),
                GetPromptResponse::InputRequired(result) => Some(Encoded::of(result)),
                _ => None,
            }),
        )
    }

    /// Forwarded unchanged; a terminal state in the answer reports the task's `tools/call` (`capture/tasks.rs`).
    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let result = self.inner.get_task(request, context).await;
        if self.enabled()
            && let Ok(answer) = &result
        {
            self.server.tasks().observe(&answer.task);
        }
        result
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
