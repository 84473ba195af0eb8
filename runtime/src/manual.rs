//! The manual API for dispatchers that do not run an rmcp `ServerHandler` through [`crate::Instrumented`]:
//! gateways, proxies, servers with their own routing. It drives the same internals as the wrapper — session
//! resolution, identity, listing decoration, owned arguments, virtual tools and the capture pipeline — so the same
//! traffic produces the same events.
//!
//! ```no_run
//! # use rmcp::{ErrorData, model::{CallToolRequestParams, CallToolResult}};
//! # async fn upstream(request: CallToolRequestParams) -> Result<CallToolResult, ErrorData> { todo!() }
//! # async fn gateway(analytics: posthog_mcp::Analytics, request: CallToolRequestParams)
//! #     -> Result<CallToolResult, ErrorData> {
//! use posthog_mcp::manual::{ManualRequest, Prepared};
//! let server = analytics.manual(rmcp::model::Implementation::new("gateway", "1.0.0"));
//! let connection = server.connection();
//! match server.prepare_call(&connection, &ManualRequest::new().id(7), request).await {
//!     // A virtual tool: answered and captured already.
//!     Prepared::Answered(result) => Ok(result),
//!     // Forward the request without the owned arguments, then report the outcome.
//!     Prepared::Forward(call) => {
//!         let outcome = upstream(call.request().clone()).await;
//!         server.finish_call(call, outcome)
//!     }
//! }
//! # }
//! ```

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, DetailedTask, Implementation,
    InitializeRequestParams, InitializeResult, ListToolsResult, PaginatedRequestParams,
    RequestMetaObject, Tool,
};
use serde_json::Value;

use crate::analytics::{Analytics, CallerContext};
use crate::capture::{BeginOptions, BegunCall, CallOutcome, Incoming, PreparedCall, ServerShared};
use crate::event::names;
use crate::session::Connection;
use crate::tool::CallAnnotations;

impl Analytics {
    /// A server for the manual API, attributed to `server_info` (`$mcp_server_name`, `$mcp_server_version`).
    pub fn manual(&self, server_info: Implementation) -> ManualServer {
        ManualServer {
            shared: Arc::new(ServerShared::new(
                self,
                std::any::TypeId::of::<ManualServer>(),
                &server_info,
            )),
            tools: Arc::new(Vec::new()),
        }
    }
}

/// One logical MCP server driven by a custom dispatcher. Cheap to clone; clones share the server.
#[derive(Clone)]
pub struct ManualServer {
    shared: Arc<ServerShared>,
    tools: Arc<Vec<Tool>>,
}

impl std::fmt::Debug for ManualServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualServer")
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

/// One connection (one client session) of a [`ManualServer`]: its session and handshake state.
#[derive(Debug, Clone, Default)]
pub struct ManualConnection(Arc<Connection>);

/// What the dispatcher knows about one request: its JSON-RPC id, `_meta`, HTTP headers and client.
#[derive(Debug, Clone, Default)]
pub struct ManualRequest {
    id: Option<Value>,
    meta: RequestMetaObject,
    headers: Option<Vec<(String, String)>>,
    client: Option<Arc<InitializeRequestParams>>,
}

impl ManualRequest {
    /// A request with nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON-RPC id, captured in `$mcp_parameters`.
    pub fn id(mut self, id: impl Into<Value>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The request's `_meta`.
    pub fn meta(mut self, meta: RequestMetaObject) -> Self {
        self.meta = meta;
        self
    }

    /// One HTTP header (the request came over HTTP); the name is lowercased.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers
            .get_or_insert_with(Vec::new)
            .push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The client's `initialize` params, when the dispatcher keeps them per connection.
    pub fn client(mut self, client: InitializeRequestParams) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    fn incoming(&self) -> Incoming {
        Incoming {
            id: self.id.clone(),
            meta: self.meta.clone(),
            headers: self.headers.clone(),
            peer: self.client.clone(),
            ..Incoming::default()
        }
    }
}

/// The outcome of [`ManualServer::prepare_call`].
#[derive(Debug)]
pub enum Prepared {
    /// The crate answered the call itself (a virtual tool); its event is already captured.
    Answered(CallToolResult),
    /// The host must run the call: forward [`PreparedToolCall::request`], then call
    /// [`ManualServer::finish_call`].
    Forward(Box<PreparedToolCall>),
}

/// A tool call resolved and ready for the host's handler.
pub struct PreparedToolCall {
    call: PreparedCall,
    request: CallToolRequestParams,
}

impl std::fmt::Debug for PreparedToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Arguments and intent are agent-written: never printed.
        f.debug_struct("PreparedToolCall")
            .field("tool", &self.request.name)
            .finish_non_exhaustive()
    }
}

impl PreparedToolCall {
    /// The request to hand to the host, with the crate's owned arguments removed.
    pub fn request(&self) -> &CallToolRequestParams {
        &self.request
    }

    /// The resolved intent (trimmed; sanitized only in the event).
    pub fn intent(&self) -> Option<&str> {
        self.call.intent()
    }

    /// The resolved model.
    pub fn llm_model(&self) -> Option<&str> {
        self.call.llm_model()
    }

    /// The conversation handle, when the option is on.
    pub fn conversation_id(&self) -> Option<&str> {
        self.call.conversation_id()
    }

    /// Who the call is attributed to, for [`Analytics::capture_for`].
    pub fn caller(&self) -> Arc<CallerContext> {
        self.call.caller()
    }
}

impl ManualServer {
    /// The host's tools, so that calls made before any listing know each tool's schema.
    pub fn with_tools(mut self, tools: Vec<Tool>) -> Self {
        self.tools = Arc::new(tools);
        self
    }

    /// A new connection.
    pub fn connection(&self) -> ManualConnection {
        ManualConnection::default()
    }

    /// Captures a successful `initialize` (`$mcp_initialize`) and records the handshake on `connection`.
    pub async fn capture_initialize(
        &self,
        connection: &ManualConnection,
        request: &ManualRequest,
        params: &InitializeRequestParams,
        result: &InitializeResult,
    ) {
        if !self.shared.analytics.is_enabled() {
            return;
        }
        let handshake = self
            .shared
            .handshakes()
            .begin_initialize(&connection.0, &request.incoming(), params)
            .await;
        self.shared
            .handshakes()
            .initialized(&connection.0, handshake, result);
    }

    /// Decorates the host's `tools/list` outcome for the agent (the injected
    /// arguments and the enabled virtual tools) and captures `$mcp_tools_list`. Send
    /// the returned listing to the client.
    pub async fn prepare_list(
        &self,
        connection: &ManualConnection,
        request: &ManualRequest,
        params: Option<PaginatedRequestParams>,
        host_outcome: Result<ListToolsResult, ErrorData>,
    ) -> Result<ListToolsResult, ErrorData> {
        let first_page = params.as_ref().and_then(|p| p.cursor.as_ref()).is_none();
        if !self.shared.analytics.is_enabled() {
            return host_outcome;
        }
        let scope = self
            .shared
            .begin(
                &connection.0,
                names::TOOLS_LIST,
                "tools/list",
                &request.incoming(),
                &params,
                BeginOptions::default(),
            )
            .await;
        self.shared.listed(scope, host_outcome, first_page)
    }

    /// Resolves a `tools/call`: a virtual tool is answered here; otherwise the owned arguments are removed and
    /// session, identity, intent, model and conversation handle resolved before the host runs it.
    pub async fn prepare_call(
        &self,
        connection: &ManualConnection,
        request: &ManualRequest,
        params: CallToolRequestParams,
    ) -> Prepared {
        let incoming = request.incoming();
        let tools = self.tools.clone();
        let lookup = move |name: &str| tools.iter().find(|t| t.name == name).cloned();
        match self
            .shared
            .tool_calls()
            .begin_tool_call(&connection.0, incoming, params, &lookup)
            .await
        {
            BegunCall::Answered(result) => Prepared::Answered(result),
            BegunCall::Forward(call, request) => {
                Prepared::Forward(Box::new(PreparedToolCall { call, request }))
            }
        }
    }

    /// Captures a prepared call that failed with `error`, a failure whose kind the host knows: `$mcp_error_type`
    /// is the kind's label, and the `$exception` is named by the wrapped error's own type. `outcome` is what the
    /// host answers the client with (an error result or a JSON-RPC error); it is returned with any conversation
    /// handle delivered.
    pub fn finish_call_with_error(
        &self,
        prepared: Box<PreparedToolCall>,
        outcome: Result<CallToolResult, ErrorData>,
        error: &crate::ToolError,
    ) -> Result<CallToolResult, ErrorData> {
        let annotations = CallAnnotations {
            is_error: true,
            error: Some(error.info()),
            ..CallAnnotations::default()
        };
        self.finish_with(prepared, annotations, outcome)
    }

    /// Captures the host's outcome of a prepared call (`$mcp_tool_call`, and `$exception` for an error) and
    /// returns what to send to the client: the result with any conversation handle delivered.
    pub fn finish_call(
        &self,
        prepared: Box<PreparedToolCall>,
        outcome: Result<CallToolResult, ErrorData>,
    ) -> Result<CallToolResult, ErrorData> {
        self.finish_with(prepared, CallAnnotations::default(), outcome)
    }

    /// Captures the host's whole answer to a prepared call, for a host that answers with more than a final
    /// result: a round that asks for more input (`$mcp_input_required`; the retry is prepared and finished as a
    /// call of its own) or a task handle (reported when its task ends: spawned through a [`crate::TaskStore`], or
    /// seen ending by [`ManualServer::observe_task`]; else as timed out). Returns the answer to send, with any
    /// conversation handle delivered.
    pub fn finish_call_response(
        &self,
        prepared: Box<PreparedToolCall>,
        outcome: Result<CallToolResponse, ErrorData>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool_calls = self.shared.tool_calls();
        let annotations = CallAnnotations::default();
        match outcome {
            Ok(mut response) => {
                tool_calls.finish_call(
                    prepared.call,
                    annotations,
                    CallOutcome::Response(&mut response),
                );
                Ok(response)
            }
            Err(error) => {
                tool_calls.finish_call(prepared.call, annotations, CallOutcome::Error(&error));
                Err(error)
            }
        }
    }

    /// Captures a prepared call whose handler panicked, for a host that runs its handlers in process under
    /// `catch_unwind`: the call fails as a `Panic` with the payload's text, as the wrapper records one. What the
    /// client receives is the host's to decide.
    pub fn finish_call_panicked(
        &self,
        prepared: Box<PreparedToolCall>,
        payload: &(dyn std::any::Any + Send),
    ) {
        self.shared.tool_calls().finish_call(
            prepared.call,
            CallAnnotations::default(),
            CallOutcome::Panic(payload),
        );
    }

    /// Reads the host's answer to a `tasks/get` the gateway forwarded: the first answer that shows a task
    /// terminal reports the `tools/call` this server answered with that task (through
    /// [`ManualServer::finish_call_response`]), once; later answers send nothing. A task spawned through a
    /// [`crate::TaskStore`] is reported when it ends, without this.
    pub fn observe_task(&self, task: &DetailedTask) {
        if self.shared.analytics.is_enabled() {
            self.shared.tasks().observe(task);
        }
    }

    fn finish_with(
        &self,
        prepared: Box<PreparedToolCall>,
        annotations: CallAnnotations,
        outcome: Result<CallToolResult, ErrorData>,
    ) -> Result<CallToolResult, ErrorData> {
        match outcome {
            Ok(result) => {
                let mut response = CallToolResponse::Complete(result);
                self.shared.tool_calls().finish_call(
                    prepared.call,
                    annotations,
                    CallOutcome::Response(&mut response),
                );
                match response {
                    CallToolResponse::Complete(result) => Ok(result),
                    _ => unreachable!("a complete result stays complete"),
                }
            }
            Err(error) => {
                self.shared.tool_calls().finish_call(
                    prepared.call,
                    annotations,
                    CallOutcome::Error(&error),
                );
                Err(error)
            }
        }
    }
}
