//! `Instrumented<S>` forwards every `ServerHandler` method of rmcp 3.11 (32 of them) to the host's handler.
//!
//! A method the wrapper does not forward silently answers with rmcp's default instead of the host's override, so
//! each method has its own test. The inner handler, [`Probe`], overrides all 32 methods: each override records its
//! name and, where the method returns something, answers with a value rmcp's default never produces. Request and
//! notification methods are driven by a real rmcp client over an in-memory duplex transport (session lifecycle via
//! `initialize`, or the 2026-07-28 discover lifecycle for `server/discover` and `subscriptions/listen`). The
//! synchronous methods are also called directly on the wrapper.
//!
//! Logging (`set_level`) and `resources/subscribe`/`unsubscribe` are deprecated by rmcp (SEP-2577) but still
//! trait methods a host may override, so they are exercised too.
#![allow(deprecated)]

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog_mcp::{Analytics, Instrumented, MemorySink};
use rmcp::model::*;
use rmcp::service::{
    NotificationContext, PeerRequestOptions, RequestContext, RunningService, SubscriptionContext,
    SubscriptionEnd,
};
use rmcp::{
    ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient, RoleServer, ServerHandler,
    ServiceError, ServiceExt,
};
use serde_json::json;

const TOOL: &str = "probe-tool";
const SKILL_URI: &str = "skill://probe-skill/SKILL.md";
const DIRECTORY_URI: &str = "skill://probe-skill/templates";
const TASK_ID: &str = "probe-task";

type Log = Arc<Mutex<Vec<&'static str>>>;
type Client = RunningService<RoleClient, ClientConfig>;

fn server_implementation() -> Implementation {
    Implementation::new("probe-server", "7.7.7")
}

fn probe_tool() -> Tool {
    let schema = match json!({"type": "object"}) {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    };
    Tool::new(TOOL, "the probe's only tool", Arc::new(schema))
}

fn probe_skill() -> Skill {
    Skill::new(
        SKILL_URI,
        SkillFrontmatter::new("probe-skill", "A skill served by the probe"),
        SkillResources::Dynamic,
    )
}

/// The versions the probe supports: every version rmcp knows except 2024-11-05, so a narrowed list is observable.
fn probe_versions() -> Vec<ProtocolVersion> {
    ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .filter(|version| **version != ProtocolVersion::V_2024_11_05)
        .cloned()
        .collect()
}

/// The host's handler: overrides every `ServerHandler` method and records which ones ran.
#[derive(Clone, Default)]
struct Probe {
    log: Log,
}

impl Probe {
    fn hit(&self, method: &'static str) {
        self.log.lock().unwrap().push(method);
    }
}

impl ServerHandler for Probe {
    async fn ping(&self, _context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        self.hit("ping");
        Ok(())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        self.hit("initialize");
        context.peer.set_peer_info(request.clone());
        Ok(self
            .get_info()
            .with_instructions("from-inner-initialize")
            .with_protocol_version(request.protocol_version))
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, ErrorData> {
        self.hit("negotiate_initialize");
        Ok(self
            .get_info()
            .with_instructions("from-inner-negotiate-initialize")
            .with_protocol_version(request.protocol_version.clone()))
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.hit("supported_protocol_versions");
        Cow::Owned(probe_versions())
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        self.hit("discover");
        let mut result = DiscoverResult::new(
            vec![ProtocolVersion::V_2026_07_28],
            self.get_info().capabilities,
        )
        .with_server_info(server_implementation());
        result.instructions = Some("from-inner-discover".into());
        Ok(result)
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.hit("complete");
        Ok(CompleteResult::new(
            CompletionInfo::new(vec!["from-inner-complete".into()]).unwrap(),
        ))
    }

    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.hit("set_level");
        Ok(())
    }

    async fn get_prompt(
        &self,
        _request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.hit("get_prompt");
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            "from-inner-get-prompt",
        )])
        .into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.hit("list_prompts");
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "probe-prompt",
            Some("from-inner-list-prompts"),
            None,
        )]))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.hit("list_resources");
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "mem://probe",
            "from-inner-list-resources",
        )]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.hit("list_resource_templates");
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("mem://probe/{id}", "from-inner-list-resource-templates"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.hit("read_resource");
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            "from-inner-read-resource",
            request.uri,
        )])
        .into())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.hit("accepted_subscription_filter");
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.hit("listen");
        // rmcp's default waits for cancellation; the probe sends one notification and ends gracefully.
        context
            .sink()
            .notify_tool_list_changed()
            .await
            .expect("the accepted filter includes tools/list_changed");
        Ok(())
    }

    async fn subscribe(
        &self,
        _request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.hit("subscribe");
        Ok(())
    }

    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.hit("unsubscribe");
        Ok(())
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.hit("call_tool");
        Ok(CallToolResult::success(vec![ContentBlock::text("from-inner-call-tool")]).into())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.hit("list_tools");
        Ok(ListToolsResult::with_all_items(vec![probe_tool()]))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.hit("get_tool");
        (name == TOOL).then(probe_tool)
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        self.hit("on_custom_request");
        Ok(CustomResult::new(
            json!({"from": "inner", "method": request.method, "params": request.params}),
        ))
    }

    async fn on_cancelled(
        &self,
        _notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        self.hit("on_cancelled");
    }

    async fn on_progress(
        &self,
        _notification: ProgressNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        self.hit("on_progress");
    }

    async fn on_initialized(&self, _context: NotificationContext<RoleServer>) {
        self.hit("on_initialized");
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        self.hit("on_roots_list_changed");
    }

    async fn on_custom_notification(
        &self,
        _notification: CustomNotification,
        _context: NotificationContext<RoleServer>,
    ) {
        self.hit("on_custom_notification");
    }

    /// Not recorded: the wrapper itself and rmcp's dispatch read it on many paths. Its tests check the value.
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_completions()
                .enable_prompts()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_tasks()
                .enable_skills_with_directory_read()
                .build(),
        )
        .with_server_info(server_implementation())
        .with_instructions("from-inner-get-info")
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.hit("get_task");
        let task = Task::new(
            request.task_id,
            TaskStatus::Working,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        )
        .with_status_message("from-inner-get-task");
        Ok(GetTaskResult::new(DetailedTask::new(
            task,
            TaskPayload::Working,
        )))
    }

    async fn update_task(
        &self,
        _request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.hit("update_task");
        Ok(())
    }

    async fn cancel_task(
        &self,
        _request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.hit("cancel_task");
        Ok(())
    }

    async fn list_skills(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListSkillsResult, ErrorData> {
        self.hit("list_skills");
        Ok(ListSkillsResult::with_all_items(vec![probe_skill()]))
    }

    async fn get_skill(
        &self,
        _request: GetSkillRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetSkillResult, ErrorData> {
        self.hit("get_skill");
        Ok(GetSkillResult::new(probe_skill()))
    }

    async fn read_resource_directory(
        &self,
        _request: ReadResourceDirectoryRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceDirectoryResult, ErrorData> {
        self.hit("read_resource_directory");
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "skill://probe-skill/templates/from-inner.md",
            "from-inner-read-resource-directory",
        )]))
    }
}

fn analytics(sink: &MemorySink) -> Analytics {
    Analytics::builder()
        .destination(posthog_mcp::Destination::Memory(sink.clone()))
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .build()
        .unwrap()
}

fn wrap<S: ServerHandler>(inner: S) -> Instrumented<S> {
    analytics(&MemorySink::new()).instrument(inner)
}

fn serve<S: ServerHandler>(server: S) -> tokio::io::DuplexStream {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    client_io
}

/// A client on the session lifecycle (`initialize`), declaring the tasks extension.
fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::builder().enable_tasks().build(),
        Implementation::new("forwarding-client", "1.0.0"),
    )
}

/// Serves `server` and connects a session-lifecycle client to it.
async fn connect<S: ServerHandler>(server: S) -> Client {
    client_config()
        .serve(serve(server))
        .await
        .expect("the client connects")
}

/// Serves `server` and connects a client on the 2026-07-28 discover lifecycle (no `initialize`).
async fn connect_modern<S: ServerHandler>(server: S) -> Client {
    client_config()
        .serve_with_lifecycle(
            serve(server),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("the discover client connects")
}

/// A fresh probe wrapped by the analytics wrapper, with a handle on what the probe recorded.
fn wrapped_probe() -> (Instrumented<Probe>, Log) {
    let probe = Probe::default();
    let log = probe.log.clone();
    (wrap(probe), log)
}

fn recorded(log: &Log, method: &str) -> bool {
    log.lock().unwrap().contains(&method)
}

fn assert_recorded(log: &Log, method: &str) {
    assert!(
        recorded(log, method),
        "the inner `{method}` override was not reached; recorded: {:?}",
        log.lock().unwrap()
    );
}

/// Notifications are handled on a spawned task after the send returns: wait for the marker.
async fn wait_for(log: &Log, method: &str) {
    for _ in 0..500 {
        if recorded(log, method) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_recorded(log, method);
}

async fn send(client: &Client, request: ClientRequest) -> ServerResult {
    client
        .send_request(request)
        .await
        .expect("the request succeeds")
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle and protocol negotiation
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn ping_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = send(&client, ClientRequest::PingRequest(PingRequest::default())).await;
    assert!(matches!(result, ServerResult::EmptyResult(_)), "{result:?}");
    assert_recorded(&log, "ping");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn initialize_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let info = client.peer_info().expect("initialized");
    assert_eq!(info.instructions.as_deref(), Some("from-inner-initialize"));
    assert_recorded(&log, "initialize");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn negotiate_initialize_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let result = server
        .negotiate_initialize(&client_config())
        .expect("the probe negotiates");
    assert_eq!(
        result.instructions.as_deref(),
        Some("from-inner-negotiate-initialize")
    );
    assert_recorded(&log, "negotiate_initialize");
}

/// A host that overrides only `negotiate_initialize` (the hook rmcp documents for customizing the handshake).
struct NegotiateOnly;

impl ServerHandler for NegotiateOnly {
    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, ErrorData> {
        Ok(self
            .get_info()
            .with_instructions("negotiated-by-the-host")
            .with_protocol_version(request.protocol_version.clone()))
    }
}

#[tokio::test]
async fn negotiate_initialize_override_shapes_the_handshake_through_the_wrapper() {
    // rmcp's default `initialize` calls `negotiate_initialize` on the same handler, so end to end the wrapper's
    // `initialize` must reach the host's default `initialize`, which then uses the host's override.
    let client = connect(wrap(NegotiateOnly)).await;
    let info = client.peer_info().expect("initialized");
    assert_eq!(info.instructions.as_deref(), Some("negotiated-by-the-host"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn supported_protocol_versions_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    assert_eq!(
        server.supported_protocol_versions().into_owned(),
        probe_versions()
    );
    assert_recorded(&log, "supported_protocol_versions");

    // End to end: rmcp validates a request's `_meta` protocol version against the wrapper's list. rmcp's default
    // list contains 2024-11-05; the probe's does not, so the request is refused only if the override is reached.
    let client = connect(server).await;
    let mut meta = RequestMetaObject::new();
    meta.set_protocol_version(ProtocolVersion::V_2024_11_05);
    let handle = client
        .send_request_with_option(
            ClientRequest::PingRequest(PingRequest::default()),
            PeerRequestOptions::no_options().with_meta(meta),
        )
        .await
        .expect("the request is sent");
    match handle.await_response().await {
        Err(ServiceError::McpError(error)) => {
            assert_eq!(error.code, ErrorCode::UNSUPPORTED_PROTOCOL_VERSION);
        }
        other => panic!("expected an unsupported-version error, got {other:?}"),
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn discover_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect_modern(server).await;
    let info = client.peer_info().expect("discovered");
    assert_eq!(info.instructions.as_deref(), Some("from-inner-discover"));
    assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
    assert_recorded(&log, "discover");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn get_info_reaches_the_inner_handler() {
    let (server, _log) = wrapped_probe();
    let info = server.get_info();
    assert_eq!(info.server_info, server_implementation());
    assert_eq!(info.instructions.as_deref(), Some("from-inner-get-info"));

    // End to end: rmcp reads the wrapper's `get_info` when it ends a subscription gracefully and stamps the server
    // implementation into the final result's `_meta`.
    let client = connect_modern(server).await;
    let mut subscription = client
        .listen(SubscriptionFilter::builder().tools_list_changed().build())
        .await
        .expect("the subscription is acknowledged");
    while tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the subscription ends")
        .expect("no subscription error")
        .is_some()
    {}
    let Some(SubscriptionEnd::Graceful(result)) = subscription.end() else {
        panic!("expected a graceful end, got {:?}", subscription.end());
    };
    assert_eq!(result.meta.server_info(), Some(server_implementation()));
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Captured request methods (the wrapper records them, then runs the host's handler)
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn call_tool_reaches_the_inner_handler_and_is_captured() {
    let sink = MemorySink::new();
    let analytics = analytics(&sink);
    let probe = Probe::default();
    let log = probe.log.clone();
    let client = connect(analytics.instrument(probe)).await;
    let result = client
        .call_tool(CallToolRequestParams::new(TOOL))
        .await
        .expect("the tool answers");
    assert_eq!(
        result.content[0].as_text().map(|t| t.text.as_str()),
        Some("from-inner-call-tool")
    );
    assert_recorded(&log, "call_tool");
    client.cancel().await.unwrap();

    assert!(analytics.flush(Duration::from_secs(5)).await);
    let tool_calls: Vec<_> = sink
        .payloads()
        .into_iter()
        .filter(|p| p.event == "$mcp_tool_call")
        .collect();
    assert_eq!(tool_calls.len(), 1, "the call is captured once");
}

#[tokio::test]
async fn list_tools_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client.list_tools(None).await.unwrap();
    assert_eq!(
        result.tools.iter().map(|t| &*t.name).collect::<Vec<_>>(),
        [TOOL]
    );
    assert_recorded(&log, "list_tools");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn list_resources_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client.list_resources(None).await.unwrap();
    assert_eq!(result.resources.len(), 1);
    assert_eq!(result.resources[0].name, "from-inner-list-resources");
    assert_recorded(&log, "list_resources");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn list_resource_templates_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client.list_resource_templates(None).await.unwrap();
    assert_eq!(result.resource_templates.len(), 1);
    assert_eq!(
        result.resource_templates[0].name,
        "from-inner-list-resource-templates"
    );
    assert_recorded(&log, "list_resource_templates");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn read_resource_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client
        .read_resource(ReadResourceRequestParams::new("mem://probe"))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &result.contents[0] else {
        panic!("expected text contents, got {:?}", result.contents);
    };
    assert_eq!(text, "from-inner-read-resource");
    assert_recorded(&log, "read_resource");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn list_prompts_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client.list_prompts(None).await.unwrap();
    assert_eq!(result.prompts.len(), 1);
    assert_eq!(
        result.prompts[0].description.as_deref(),
        Some("from-inner-list-prompts")
    );
    assert_recorded(&log, "list_prompts");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn get_prompt_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client
        .get_prompt(GetPromptRequestParams::new("probe-prompt"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&result.messages[0]).unwrap()["content"]["text"],
        "from-inner-get-prompt"
    );
    assert_recorded(&log, "get_prompt");
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Forwarded request methods
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn complete_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("probe-prompt"),
            ArgumentInfo::new("argument", "f"),
        ))
        .await
        .unwrap();
    assert_eq!(result.completion.values, ["from-inner-complete"]);
    assert_recorded(&log, "complete");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn set_level_reaches_the_inner_handler() {
    // rmcp's default answers -32601; the probe accepts.
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .expect("the probe accepts the level");
    assert_recorded(&log, "set_level");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn subscribe_reaches_the_inner_handler() {
    // rmcp's default answers -32601; the probe accepts.
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .subscribe(SubscribeRequestParams::new("mem://probe"))
        .await
        .expect("the probe accepts the subscription");
    assert_recorded(&log, "subscribe");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn unsubscribe_reaches_the_inner_handler() {
    // rmcp's default answers -32601; the probe accepts.
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .unsubscribe(UnsubscribeRequestParams::new("mem://probe"))
        .await
        .expect("the probe accepts the unsubscription");
    assert_recorded(&log, "unsubscribe");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn accepted_subscription_filter_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let filter = SubscriptionFilter::builder().tools_list_changed().build();
    assert_eq!(
        server.accepted_subscription_filter(&filter),
        Some(filter.clone())
    );
    assert_recorded(&log, "accepted_subscription_filter");

    // End to end: rmcp's default (`None`) makes `subscriptions/listen` answer -32601; the probe accepts.
    let (server, log) = wrapped_probe();
    let client = connect_modern(server).await;
    let subscription = client
        .listen(filter.clone())
        .await
        .expect("the subscription is acknowledged");
    assert_eq!(subscription.acknowledged(), &filter);
    assert_recorded(&log, "accepted_subscription_filter");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn listen_reaches_the_inner_handler() {
    // rmcp's default sends nothing and waits for cancellation; the probe sends one notification and ends.
    let (server, log) = wrapped_probe();
    let client = connect_modern(server).await;
    let mut subscription = client
        .listen(SubscriptionFilter::builder().tools_list_changed().build())
        .await
        .expect("the subscription is acknowledged");
    let notification = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("a notification arrives")
        .expect("no subscription error");
    assert!(
        matches!(
            notification,
            Some(ServerNotification::ToolListChangedNotification(_))
        ),
        "{notification:?}"
    );
    let end = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the subscription ends")
        .expect("no subscription error");
    assert!(end.is_none());
    assert!(matches!(
        subscription.end(),
        Some(SubscriptionEnd::Graceful(_))
    ));
    assert_recorded(&log, "listen");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn get_tool_reaches_the_inner_handler() {
    // rmcp never calls `get_tool` on the served handler (only `#[tool_handler]` code calls it on itself), so it is
    // checked directly on the wrapper.
    let (server, log) = wrapped_probe();
    assert_eq!(server.get_tool(TOOL), Some(probe_tool()));
    assert_eq!(server.get_tool("unknown"), None);
    assert_recorded(&log, "get_tool");
}

#[tokio::test]
async fn on_custom_request_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = send(
        &client,
        ClientRequest::CustomRequest(CustomRequest::new("probe/custom", Some(json!({"x": 1})))),
    )
    .await;
    let ServerResult::CustomResult(CustomResult(value)) = result else {
        panic!("expected a custom result, got {result:?}");
    };
    assert_eq!(
        value,
        json!({"from": "inner", "method": "probe/custom", "params": {"x": 1}})
    );
    assert_recorded(&log, "on_custom_request");
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Tasks extension (SEP-2663): the server declares it, the client declares it at `initialize`
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_task_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client
        .get_task(GetTaskParams::new(TASK_ID))
        .await
        .expect("the probe knows the task");
    assert_eq!(result.task.task.task_id, TASK_ID);
    assert_eq!(
        result.task.task.status_message.as_deref(),
        Some("from-inner-get-task")
    );
    assert_recorded(&log, "get_task");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn update_task_reaches_the_inner_handler() {
    // rmcp's default answers -32601; the probe acknowledges.
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .update_task(UpdateTaskParams::new(TASK_ID, InputResponses::new()))
        .await
        .expect("the probe acknowledges");
    assert_recorded(&log, "update_task");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn cancel_task_reaches_the_inner_handler() {
    // rmcp's default answers -32601; the probe acknowledges.
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .cancel_task(CancelTaskParams::new(TASK_ID))
        .await
        .expect("the probe acknowledges");
    assert_recorded(&log, "cancel_task");
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Skills extension (SEP-2640): declared with directory reads
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_skills_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client.list_skills(None).await.expect("the probe lists");
    assert_eq!(result.skills, [probe_skill()]);
    assert_recorded(&log, "list_skills");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn get_skill_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client
        .get_skill(GetSkillRequestParams::new(SKILL_URI))
        .await
        .expect("the probe serves the skill");
    assert_eq!(result.skill, probe_skill());
    assert_recorded(&log, "get_skill");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn read_resource_directory_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    let result = client
        .read_resource_directory(ReadResourceDirectoryRequestParams::new(DIRECTORY_URI))
        .await
        .expect("the probe lists the directory");
    assert_eq!(result.resources.len(), 1);
    assert_eq!(
        result.resources[0].name,
        "from-inner-read-resource-directory"
    );
    assert_recorded(&log, "read_resource_directory");
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Client notifications
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn on_initialized_reaches_the_inner_handler() {
    // The client sends notifications/initialized right after the handshake.
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    wait_for(&log, "on_initialized").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn on_cancelled_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .notify_cancelled(CancelledNotificationParam::new(
            Some(RequestId::Number(4242)),
            Some("probe".into()),
        ))
        .await
        .unwrap();
    wait_for(&log, "on_cancelled").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn on_progress_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .notify_progress(ProgressNotificationParam::new(
            ProgressToken(NumberOrString::String("probe".into())),
            0.5,
        ))
        .await
        .unwrap();
    wait_for(&log, "on_progress").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn on_roots_list_changed_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client.notify_roots_list_changed().await.unwrap();
    wait_for(&log, "on_roots_list_changed").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn on_custom_notification_reaches_the_inner_handler() {
    let (server, log) = wrapped_probe();
    let client = connect(server).await;
    client
        .send_notification(ClientNotification::CustomNotification(
            CustomNotification::new("notifications/probe", Some(json!({"x": 1}))),
        ))
        .await
        .unwrap();
    wait_for(&log, "on_custom_notification").await;
    client.cancel().await.unwrap();
}
