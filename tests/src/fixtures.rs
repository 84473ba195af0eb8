//! A small MCP server with every request kind the crate captures, and helpers that connect a real rmcp client
//! to it over an in-memory duplex transport.

use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::{RequestContext, RunningService};
use rmcp::{
    ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt, prompt, prompt_handler,
    prompt_router,
};
use rmcp::{tool, tool_handler, tool_router};
use serde::Deserialize;

/// Arguments of `add` and `divide`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Pair {
    /// Left operand.
    pub a: i64,
    /// Right operand.
    pub b: i64,
}

/// Arguments of `echo`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// What to echo.
    pub text: String,
}

/// Arguments of `save_note`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NoteArgs {
    /// A secret.
    pub password: String,
    /// Free text.
    pub note: String,
}

/// The reference server of the end-to-end tests. Unlike the example calculator (`examples/src/calculator.rs`),
/// no tool carries `#[posthog_tool]`: what reaches PostHog is what the wrapper (`instrument`) captures alone.
/// Besides the calculator's `add`, `divide`, `fail_result`, resource and prompt, it has the test-only tools
/// `echo`, `save_note` (a secret argument) and `explode` (a panic).
#[derive(Debug, Clone)]
pub struct WrapperOnlyServer {
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl Default for WrapperOnlyServer {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        }
    }
}

#[tool_router]
impl WrapperOnlyServer {
    /// Adds two numbers.
    #[tool(description = "Add two numbers")]
    async fn add(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> String {
        (a + b).to_string()
    }

    /// Divides; division by zero is a protocol error.
    #[tool(description = "Divide a by b")]
    async fn divide(
        &self,
        Parameters(Pair { a, b }): Parameters<Pair>,
    ) -> Result<CallToolResult, ErrorData> {
        if b == 0 {
            return Err(ErrorData::invalid_params("division by zero", None));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(
            (a / b).to_string(),
        )]))
    }

    /// Always answers with an error result.
    #[tool(description = "Fails with an error result")]
    async fn fail_result(&self) -> CallToolResult {
        CallToolResult::error(vec![
            ContentBlock::text("the thing failed"),
            ContentBlock::text("badly"),
        ])
    }

    /// Echoes its argument.
    #[tool(description = "Echo the text")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    /// Fails with an upstream error that quotes a PostHog project token.
    #[tool(description = "Save a note behind a password")]
    async fn save_note(
        &self,
        Parameters(_note): Parameters<NoteArgs>,
    ) -> Result<String, ErrorData> {
        Err(ErrorData::internal_error(
            "upstream refused project key phc_abcdefghijklmnopqrstuvwxyz0123 for this note",
            None,
        ))
    }

    /// Panics.
    #[tool(description = "Panics")]
    async fn explode(&self) -> String {
        panic!("kaboom")
    }
}

#[prompt_router]
impl WrapperOnlyServer {
    /// Greets.
    #[prompt(name = "hello", description = "Say hello")]
    async fn hello(&self) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(Role::User, "Hello there")]
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for WrapperOnlyServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        );
        info.server_info = Implementation::new("calc-server", "0.9.0");
        info
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "mem://greeting",
            "greeting",
        )]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri == "mem://greeting" {
            Ok(ReadResourceResult::new(vec![ResourceContents::text("hello", request.uri)]).into())
        } else {
            Err(ErrorData::resource_not_found("no such resource", None))
        }
    }
}

/// A connected client.
pub type Client = RunningService<RoleClient, ClientConfig>;

/// Serves `server` over an in-memory duplex transport and connects a client named `test-client` 1.2.3.
pub async fn connect<S: ServerHandler>(server: S) -> Client {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("test-client", "1.2.3"),
    )
    .serve(client_io)
    .await
    .expect("the client connects")
}

/// A `tools/call` request for `name` with JSON `arguments`.
pub fn call(name: &'static str, arguments: serde_json::Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name);
    match arguments {
        serde_json::Value::Object(map) => params.with_arguments(map),
        _ => params,
    }
}

/// Serves `factory`'s handlers over rmcp's streamable HTTP service at `http://127.0.0.1:<port>/mcp`, stateful
/// (one handler per session) or stateless (one per request), set up as the README recommends: the session
/// manager wrapped by `posthog_mcp::http::track_sessions` and the router behind `posthog_mcp::http::SessionLayer`.
/// Returns the URL.
pub async fn serve_http<S, F>(factory: F, stateful: bool) -> String
where
    S: ServerHandler,
    F: Fn() -> S + Send + Sync + 'static,
{
    serve_http_with(factory, stateful, true).await
}

/// As [`serve_http`]; `recommended: false` leaves out both HTTP pieces of posthog-mcp (what a server that never
/// added them sees).
pub async fn serve_http_with<S, F>(factory: F, stateful: bool, recommended: bool) -> String
where
    S: ServerHandler,
    F: Fn() -> S + Send + Sync + 'static,
{
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = stateful;
    config.sse_keep_alive = None;
    if !stateful {
        config.json_response = true;
    }
    let router = if recommended {
        let service = StreamableHttpService::new(
            move || Ok(factory()),
            std::sync::Arc::new(posthog_mcp::http::track_sessions(
                LocalSessionManager::default(),
            )),
            config,
        );
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(posthog_mcp::http::SessionLayer::new())
    } else {
        let service = StreamableHttpService::new(
            move || Ok(factory()),
            std::sync::Arc::new(LocalSessionManager::default()),
            config,
        );
        axum::Router::new().nest_service("/mcp", service)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}/mcp")
}

/// Connects a 2026-07-28 client named `modern-client` 7.0.0 to `url` (no `initialize`, no session header of its
/// own; client info in each request's `_meta`), with the same header options as [`connect_http`].
pub async fn connect_http_modern(
    url: &str,
    bearer: Option<&str>,
    extra: &[(&'static str, &str)],
) -> Client {
    connect_http_as(url, bearer, extra, "modern-client", "7.0.0", true).await
}

/// Connects a client named `name` `version` to `url`, legacy (with `initialize`) or 2026-07-28 (`modern`).
pub async fn connect_http_as(
    url: &str,
    bearer: Option<&str>,
    extra: &[(&'static str, &str)],
    name: &str,
    version: &str,
    modern: bool,
) -> Client {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::{ClientLifecycleMode, ClientServiceExt};
    let transport =
        StreamableHttpClientTransport::from_config(http_client_config(url, bearer, extra));
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(name, version),
    );
    if modern {
        client
            .serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("the 2026-07-28 HTTP client connects")
    } else {
        client
            .serve(transport)
            .await
            .expect("the HTTP client connects")
    }
}

fn http_client_config(
    url: &str,
    bearer: Option<&str>,
    extra: &[(&'static str, &str)],
) -> rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(bearer) = bearer {
        config = config.auth_header(bearer.to_owned());
    }
    let headers = extra
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(value).expect("a valid header value"),
            )
        })
        .collect();
    config.custom_headers(headers)
}

/// Connects a client named `http-client` 2.0.0 to `url`, sending `Authorization: Bearer <bearer>` when given,
/// plus `extra` headers on every request.
pub async fn connect_http(
    url: &str,
    bearer: Option<&str>,
    extra: &[(&'static str, &str)],
) -> Client {
    connect_http_as(url, bearer, extra, "http-client", "2.0.0", false).await
}

/// An analytics builder whose events go over HTTP to `ingest`, the local ingestion server.
pub fn reporting_to(ingest: &crate::ingest::IngestServer) -> posthog_mcp::Builder {
    posthog_mcp::Analytics::builder()
        .api_key("phc_test_project_key")
        .host(ingest.url())
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
}

/// Flushes `analytics` and returns every event `ingest` accepted, in arrival order.
pub async fn delivered(
    analytics: &posthog_mcp::Analytics,
    ingest: &crate::ingest::IngestServer,
) -> Vec<serde_json::Value> {
    assert!(
        analytics.flush(std::time::Duration::from_secs(10)).await,
        "delivery drained"
    );
    ingest.events()
}

/// One event as the local ingestion server received it over HTTP: its five envelope fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// `event`.
    pub event: String,
    /// `distinct_id`.
    pub distinct_id: String,
    /// `properties`, as they arrived (the crate's and its labels).
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// `uuid`.
    pub uuid: String,
    /// `timestamp`.
    pub timestamp: String,
}

impl Ingested {
    /// Reads one batch item; panics when an envelope field is missing or of the wrong type.
    pub fn from_json(item: &serde_json::Value) -> Self {
        let text = |key: &str| {
            item[key]
                .as_str()
                .unwrap_or_else(|| panic!("the batch item has a string `{key}`: {item}"))
                .to_owned()
        };
        Self {
            event: text("event"),
            distinct_id: text("distinct_id"),
            properties: item["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("the batch item has object `properties`: {item}"))
                .clone(),
            uuid: text("uuid"),
            timestamp: text("timestamp"),
        }
    }
}

/// Flushes `analytics` and returns every event `ingest` accepted, in arrival order, as [`Ingested`] envelopes.
pub async fn ingested(
    analytics: &posthog_mcp::Analytics,
    ingest: &crate::ingest::IngestServer,
) -> Vec<Ingested> {
    delivered(analytics, ingest)
        .await
        .iter()
        .map(Ingested::from_json)
        .collect()
}

/// Arguments of `lookup`, a tool that declares its own `context` argument.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LookupArgs {
    /// The host's own context value.
    pub context: String,
    /// What to look up.
    pub key: String,
}

/// The structured answer of `measure`.
#[derive(Debug, serde::Serialize, Deserialize, schemars::JsonSchema)]
pub struct Measurement {
    /// The measured value.
    pub value: i64,
}

/// A server for the agent-facing features: tools that show what their handler received, one that declares
/// its own `context`, one with structured output, one that captures a custom event.
#[derive(Clone)]
pub struct Recorder {
    tool_router: ToolRouter<Self>,
    analytics: Option<posthog_mcp::Analytics>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
            analytics: None,
        }
    }
}

impl Recorder {
    /// A recorder whose `track` tool captures custom events on `analytics`.
    pub fn with_analytics(analytics: posthog_mcp::Analytics) -> Self {
        Self {
            tool_router: Self::tool_router(),
            analytics: Some(analytics),
        }
    }
}

#[tool_router]
impl Recorder {
    /// Answers with the arguments exactly as the handler received them.
    #[tool(description = "Show the arguments the handler received")]
    async fn inspect(&self, Parameters(arguments): Parameters<JsonObject>) -> String {
        serde_json::to_string(&arguments).unwrap_or_default()
    }

    /// Adds two numbers.
    #[tool(description = "Add two numbers")]
    async fn add(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> String {
        (a + b).to_string()
    }

    /// Subtracts; never instrumented in the tests.
    #[tool(description = "Subtract b from a")]
    async fn subtract(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> String {
        (a - b).to_string()
    }

    /// Declares its own `context`.
    #[tool(description = "Look up a key")]
    async fn lookup(
        &self,
        Parameters(LookupArgs { context, key }): Parameters<LookupArgs>,
    ) -> String {
        format!("{key} in {context}")
    }

    /// Answers with structured content.
    #[tool(description = "Multiply two numbers, structured")]
    async fn measure(
        &self,
        Parameters(Pair { a, b }): Parameters<Pair>,
    ) -> rmcp::handler::server::wrapper::Json<Measurement> {
        rmcp::handler::server::wrapper::Json(Measurement { value: a * b })
    }

    /// Captures a custom event attributed to its caller.
    #[tool(description = "Record a custom event")]
    async fn track(&self, context: RequestContext<RoleServer>) -> String {
        let mut properties = serde_json::Map::new();
        properties.insert("report".into(), serde_json::Value::from("weekly"));
        match &self.analytics {
            Some(analytics) => match analytics.capture_in(&context, "report_generated", properties)
            {
                Ok(()) => "tracked".into(),
                Err(error) => error.to_string(),
            },
            None => "no analytics".into(),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Recorder {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("recorder", "1.0.0");
        info
    }
}
