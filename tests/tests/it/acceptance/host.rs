//! The host MCP server the scenarios describe (tools given as data, an optional page size and resource), and
//! a dispatcher of its own in front of it that reports through `posthog_mcp::manual`.

use std::sync::{Arc, Mutex, OnceLock};

use posthog_mcp::manual::{ManualConnection, ManualRequest, ManualServer, Prepared};
use posthog_mcp::{Analytics, TaskStore};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::task_manager::TaskOptions;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

/// What a host tool answers.
#[derive(Clone)]
pub enum Reply {
    /// One text block.
    Text(String),
    /// An `isError: true` result with one text block.
    ErrorResult(String),
    /// A JSON-RPC error from the handler: the Rust form of a thrown error.
    Throw(String),
    /// Structured content and a text block holding the same JSON.
    Structured(Value),
    /// A text block followed by a PNG image block of `n` bytes (base64 in the result).
    TextAndImage(String, usize),
    /// A task handle (`resultType: "task"`) from the host's task store; its operation completes with one text
    /// block once the host releases its tasks ([`Host::release_tasks`]).
    Task,
    /// The first round asks for input with one `elicitation/create` request; a retry that carries input
    /// responses completes with the text.
    InputThen(String),
}

/// One host tool: its listing entry and its answer.
#[derive(Clone)]
pub struct HostTool {
    pub tool: Tool,
    pub reply: Reply,
}

/// A tool whose schema declares the given string properties.
pub fn tool(name: &'static str, properties: &[&str], reply: Reply) -> HostTool {
    let props: serde_json::Map<String, Value> = properties
        .iter()
        .map(|p| ((*p).to_owned(), json!({"type": "string"})))
        .collect();
    let schema = json!({"type": "object", "properties": props});
    HostTool {
        tool: Tool::new(
            name,
            format!("The {name} tool"),
            Arc::new(schema.as_object().unwrap().clone()),
        ),
        reply,
    }
}

/// The scenario's most common tool: `search_docs` declaring `query`, answering `text`.
pub fn search_docs(text: &str) -> HostTool {
    tool("search_docs", &["query"], Reply::Text(text.to_owned()))
}

/// What the host received and holds.
#[derive(Default)]
pub struct Board {
    /// Each call's tool name and arguments, as the host's handler received them.
    pub received: Vec<(String, JsonObject)>,
}

/// The host MCP server: tools, an optional page size for `tools/list`, and an optional text resource.
#[derive(Clone, Default)]
pub struct Host {
    pub tools: Arc<Vec<HostTool>>,
    pub page_size: Option<usize>,
    pub resource: Option<(&'static str, &'static str)>,
    pub board: Arc<Mutex<Board>>,
    /// The host's task store, watched by the analytics instance it is served with.
    pub tasks: Arc<OnceLock<TaskStore>>,
    /// `true` once the host's task operations may complete.
    pub released: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Host {
    pub fn with(tools: Vec<HostTool>) -> Self {
        Self {
            tools: Arc::new(tools),
            ..Self::default()
        }
    }

    /// Keeps the host's tasks in a store `analytics` watches (the first instance it is served with).
    pub fn watch_tasks(&self, analytics: &Analytics) {
        let _ = self.tasks.set(TaskStore::new(analytics));
    }

    /// The host's task store.
    pub fn store(&self) -> &TaskStore {
        self.tasks
            .get()
            .expect("the host is served, so it has a task store")
    }

    /// Lets every task operation of the host complete, now and from now on.
    pub fn release_tasks(&self) {
        self.released.send_replace(true);
    }

    /// Task `id` once its store has recorded it terminal. Waits for the task's operation, which runs on its own
    /// tokio task, by yielding to it; reads the store directly, so it is not a `tasks/get`.
    pub async fn ended(&self, id: &str) -> DetailedTask {
        for _ in 0..10_000 {
            let task = self.store().get_task(id).expect("the store knows the task");
            if task.status().is_terminal() {
                return task;
            }
            tokio::task::yield_now().await;
        }
        panic!("task {id} never ended");
    }

    /// The arguments the handler received for each call of `name`, in order.
    pub fn received(&self, name: &str) -> Vec<Value> {
        let board = self.board.lock().unwrap();
        board
            .received
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, args)| Value::Object(args.clone()))
            .collect()
    }

    fn answer(&self, request: CallToolRequestParams) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let Some(found) = self.tools.iter().find(|t| t.tool.name == name) else {
            return Err(ErrorData::invalid_params(
                format!("tool {name} not found"),
                None,
            ));
        };
        self.board
            .lock()
            .unwrap()
            .received
            .push((name.clone(), request.arguments.clone().unwrap_or_default()));
        Ok(match &found.reply {
            Reply::Text(text) => {
                CallToolResult::success(vec![ContentBlock::text(text.clone())]).into()
            }
            Reply::ErrorResult(text) => {
                CallToolResult::error(vec![ContentBlock::text(text.clone())]).into()
            }
            Reply::Throw(message) => return Err(ErrorData::internal_error(message.clone(), None)),
            Reply::Structured(value) => {
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
                result.structured_content = Some(value.clone());
                result.into()
            }
            Reply::TextAndImage(text, bytes) => CallToolResult::success(vec![
                ContentBlock::text(text.clone()),
                ContentBlock::image(image_data(*bytes), "image/png"),
            ])
            .into(),
            Reply::Task => {
                let mut released = self.released.subscribe();
                let task = self.store().spawn(TaskOptions::default(), |_context| {
                    Box::pin(async move {
                        let _ = released.wait_for(|released| *released).await;
                        Ok(CallToolResult::success(vec![ContentBlock::text(
                            "exported",
                        )]))
                    })
                });
                CallToolResponse::Task(CreateTaskResult::new(task))
            }
            Reply::InputThen(text) => {
                if request.input_responses.is_some() {
                    CallToolResult::success(vec![ContentBlock::text(text.clone())]).into()
                } else {
                    let mut requests = InputRequests::new();
                    requests.insert("confirm".to_owned(), elicitation_request());
                    CallToolResponse::InputRequired(InputRequiredResult::new(
                        Some(requests),
                        Some("round-1".into()),
                    ))
                }
            }
        })
    }
}

/// `n` bytes of a PNG-looking payload, base64-encoded as an image block carries it.
pub fn image_data(n: usize) -> String {
    use std::fmt::Write as _;
    // Base64 of arbitrary bytes without a codec dependency: every 3 input bytes become 4 alphabet characters.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(n / 3 * 4 + 4);
    for i in 0..n / 3 {
        for k in 0..4 {
            let _ = write!(out, "{}", ALPHABET[(i * 7 + k * 13) % 64] as char);
        }
    }
    out
}

fn elicitation_request() -> InputRequest {
    serde_json::from_value(json!({
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": "Deploy to production?",
            "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
        }
    }))
    .expect("an elicitation/create input request")
}

impl ServerHandler for Host {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_tasks()
                .build(),
        );
        info.server_info = Implementation::new("acceptance-host", "1.0.0");
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let all: Vec<Tool> = self.tools.iter().map(|t| t.tool.clone()).collect();
        let Some(size) = self.page_size else {
            return Ok(ListToolsResult::with_all_items(all));
        };
        let start: usize = request
            .and_then(|r| r.cursor)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let end = (start + size).min(all.len());
        let mut page = ListToolsResult::with_all_items(all[start..end].to_vec());
        page.next_cursor = (end < all.len()).then(|| end.to_string());
        Ok(page)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools
            .iter()
            .find(|t| t.tool.name == name)
            .map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.answer(request)
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.store()
            .get_task(&request.task_id)
            .map(GetTaskResult::new)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(
            self.resource
                .iter()
                .map(|(uri, _)| Resource::new(*uri, "guide"))
                .collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match self.resource {
            Some((uri, text)) if request.uri == uri => {
                Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri)]).into())
            }
            _ => Err(ErrorData::resource_not_found("no such resource", None)),
        }
    }
}

/// The host behind a dispatcher of its own that reports through the manual API. One handler serves one
/// request (the transport is stateless), so each gets its own connection, as a stateless gateway would.
#[derive(Clone)]
pub struct ManualHost {
    host: Host,
    manual: ManualServer,
    connection: ManualConnection,
}

impl ManualHost {
    pub fn new(host: Host, manual: ManualServer) -> Self {
        let connection = manual.connection();
        Self {
            host,
            manual,
            connection,
        }
    }
}

/// What a gateway knows about one request: its id, `_meta` and HTTP headers.
fn manual_request(context: &RequestContext<RoleServer>) -> ManualRequest {
    let mut request = ManualRequest::new()
        .id(serde_json::to_value(&context.id).unwrap_or(Value::Null))
        .meta(context.meta.clone());
    if let Some(parts) = context.extensions.get::<http::request::Parts>() {
        for (name, value) in &parts.headers {
            if let Ok(value) = value.to_str() {
                request = request.header(name.as_str(), value);
            }
        }
    }
    request
}

impl ServerHandler for ManualHost {
    fn get_info(&self) -> ServerConfig {
        self.host.get_info()
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let manual = manual_request(&context);
        let outcome = self.host.list_tools(request.clone(), context).await;
        self.manual
            .prepare_list(&self.connection, &manual, request, outcome)
            .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let manual = manual_request(&context);
        match self
            .manual
            .prepare_call(&self.connection, &manual, request)
            .await
        {
            Prepared::Answered(result) => Ok(result.into()),
            Prepared::Forward(call) => match self.host.answer(call.request().clone()) {
                Ok(CallToolResponse::Complete(result)) => {
                    self.manual.finish_call(call, Ok(result)).map(Into::into)
                }
                Err(error) => self.manual.finish_call(call, Err(error)).map(Into::into),
                // A task handle or an input round: the whole answer goes in.
                Ok(other) => self.manual.finish_call_response(call, Ok(other)),
            },
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let answer = self.host.get_task(request, context).await;
        // A gateway forwarding `tasks/get` hands each answer over (the store has reported the end already).
        if let Ok(answer) = &answer {
            self.manual.observe_task(&answer.task);
        }
        answer
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.host.read_resource(request, context).await
    }
}
