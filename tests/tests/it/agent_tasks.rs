//! Tasks reported when they end, through a real rmcp client that declares the tasks extension (SEP-2663) and a
//! hand-written server that answers `tools/call` with a task: the call's `$mcp_tool_call` is sent once, when a
//! `tasks/get` answer first shows the task terminal, with the task's own duration on the virtual clock, its
//! outcome and `$mcp_task_id`; a task never seen ending is reported as `task_timeout`, and beyond the capacity the
//! oldest as `task_untracked`; `tasks/get` and `tasks/cancel` reach the server untouched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog_mcp::clock::ManualClock;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Client, Ingested, ingested, reporting_to};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;

const CREATED: &str = "2026-12-02T06:00:00Z";

/// What the task server holds and what it was asked.
#[derive(Default)]
struct Board {
    tasks: HashMap<String, DetailedTask>,
    created: usize,
    gets: Vec<String>,
    cancels: Vec<String>,
}

/// A server whose one tool, `slow_job`, answers with a task; the test moves each task's state on the board.
#[derive(Clone, Default)]
struct TaskServer {
    board: Arc<Mutex<Board>>,
}

impl TaskServer {
    fn set(&self, id: &str, payload: TaskPayload) {
        let task = Task::new(id, TaskStatus::Working, CREATED, CREATED);
        self.board
            .lock()
            .unwrap()
            .tasks
            .insert(id.to_owned(), DetailedTask::new(task, payload));
    }
}

impl ServerHandler for TaskServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tool = Tool::new("slow_job", "runs for a while", Arc::new(JsonObject::new()));
        Ok(ListToolsResult::with_all_items(vec![tool]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let id = {
            let mut board = self.board.lock().unwrap();
            board.created += 1;
            format!("task-{}", board.created)
        };
        self.set(&id, TaskPayload::Working);
        let task = Task::new(id, TaskStatus::Working, CREATED, CREATED).with_poll_interval_ms(100);
        Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let mut board = self.board.lock().unwrap();
        board.gets.push(request.task_id.clone());
        match board.tasks.get(&request.task_id) {
            Some(task) => Ok(GetTaskResult::new(task.clone())),
            None => Err(ErrorData::invalid_params("no such task", None)),
        }
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.board
            .lock()
            .unwrap()
            .cancels
            .push(request.task_id.clone());
        Ok(())
    }
}

/// Connects a client that declares the tasks extension.
async fn connect_tasks<S: ServerHandler>(server: S) -> Client {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ClientConfig::new(
        ClientCapabilities::builder().enable_tasks().build(),
        Implementation::new("task-client", "1.0.0"),
    )
    .serve(client_io)
    .await
    .expect("the client connects")
}

struct World {
    ingest: IngestServer,
    analytics: posthog_mcp::Analytics,
    clock: ManualClock,
    server: TaskServer,
    client: Client,
}

async fn world(configure: impl FnOnce(posthog_mcp::Builder) -> posthog_mcp::Builder) -> World {
    let ingest = IngestServer::start();
    let clock = ManualClock::default();
    let analytics = configure(reporting_to(&ingest).clock(Arc::new(clock.clone())))
        .build()
        .unwrap();
    let server = TaskServer::default();
    let client = connect_tasks(analytics.instrument(server.clone())).await;
    World {
        ingest,
        analytics,
        clock,
        server,
        client,
    }
}

impl World {
    /// Starts `slow_job` and returns its task id.
    async fn start_job(&self) -> String {
        match self
            .client
            .call_tool_once(CallToolRequestParams::new("slow_job"))
            .await
            .unwrap()
        {
            CallToolResponse::Task(created) => created.task.task_id,
            other => panic!("the server answers with a task: {other:?}"),
        }
    }

    async fn poll(&self, id: &str) -> GetTaskResult {
        self.client.get_task(GetTaskParams::new(id)).await.unwrap()
    }

    async fn tool_calls(self) -> Vec<Ingested> {
        self.client.cancel().await.unwrap();
        ingested(&self.analytics, &self.ingest)
            .await
            .into_iter()
            .filter(|e| e.event == "$mcp_tool_call")
            .collect()
    }
}

fn failure() -> TaskPayload {
    let error = json!({"code": -32603, "message": "the job crashed"});
    TaskPayload::Failed {
        error: error.as_object().unwrap().clone(),
    }
}

#[tokio::test]
async fn a_failed_task_is_reported_once_with_its_own_duration() {
    let w = world(|b| b).await;
    let id = w.start_job().await;
    w.clock.advance(Duration::from_secs(5));
    assert_eq!(w.poll(&id).await.task.status(), TaskStatus::Working);
    w.server.set(&id, failure());
    w.clock.advance(Duration::from_secs(2));
    assert_eq!(w.poll(&id).await.task.status(), TaskStatus::Failed);
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(w.poll(&id).await.task.status(), TaskStatus::Failed);

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_task_id"], id.as_str());
    assert_eq!(
        p["$mcp_duration_ms"], 7000,
        "creation to the first terminal answer"
    );
    assert_eq!(p["$mcp_error_type"], "InternalError");
    assert_eq!(p["$mcp_error_message"], "the job crashed");
    assert_eq!(p["$mcp_tool_name"], "slow_job");
}

#[tokio::test]
async fn a_completed_task_is_reported_with_its_result() {
    let w = world(|b| b).await;
    let id = w.start_job().await;
    let result =
        serde_json::to_value(CallToolResult::success(vec![ContentBlock::text("done")])).unwrap();
    w.server.set(
        &id,
        TaskPayload::Completed {
            result: result.as_object().unwrap().clone(),
        },
    );
    w.clock.advance(Duration::from_millis(1500));
    w.poll(&id).await;

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], false);
    assert_eq!(p["$mcp_task_id"], id.as_str());
    assert_eq!(p["$mcp_duration_ms"], 1500);
    assert!(p.get("$mcp_error_type").is_none());
}

#[tokio::test]
async fn a_task_never_seen_ending_is_reported_as_timed_out() {
    let w = world(|b| {
        b.sessions(posthog_mcp::SessionOptions::default().task_timeout(Duration::from_secs(60)))
    })
    .await;
    let id = w.start_job().await;
    w.clock.advance(Duration::from_secs(59));
    assert_eq!(w.poll(&id).await.task.status(), TaskStatus::Working);
    w.clock.advance(Duration::from_secs(30));
    // Any later request the server sees (here a poll, still working) reports the overdue task.
    w.poll(&id).await;
    // A terminal state seen after the timeout reports nothing more.
    w.server.set(&id, failure());
    w.poll(&id).await;

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "task_timeout");
    assert_eq!(p["$mcp_task_id"], id.as_str());
    assert_eq!(
        p["$mcp_duration_ms"], 60_000,
        "the timeout, not the time it was noticed"
    );
}

#[tokio::test]
async fn tasks_get_and_cancel_reach_the_server_untouched() {
    let w = world(|b| b).await;
    let id = w.start_job().await;
    let answer = w.poll(&id).await;
    assert_eq!(answer.task.task.task_id, id);
    assert_eq!(answer.task.task.created_at, CREATED);
    assert_eq!(answer.task.payload, TaskPayload::Working);
    w.client
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap();
    let unknown = w.client.get_task(GetTaskParams::new("task-404")).await;
    assert!(unknown.is_err(), "the server's own error comes back");
    {
        let board = w.server.board.lock().unwrap();
        assert_eq!(board.gets, vec![id.clone(), "task-404".to_owned()]);
        assert_eq!(board.cancels, vec![id.clone()]);
    }
    w.server.set(&id, TaskPayload::Cancelled);
    w.clock.advance(Duration::from_secs(3));
    assert_eq!(w.poll(&id).await.task.status(), TaskStatus::Cancelled);

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "cancelled");
    assert_eq!(p["$mcp_duration_ms"], 3000);
}

#[tokio::test]
async fn more_tasks_than_the_capacity_report_the_oldest_as_untracked() {
    let w = world(|b| b.sessions(posthog_mcp::SessionOptions::default().task_capacity(2))).await;
    let first = w.start_job().await;
    w.clock.advance(Duration::from_secs(1));
    let second = w.start_job().await;
    w.clock.advance(Duration::from_secs(1));
    let third = w.start_job().await;
    w.clock.advance(Duration::from_secs(1));
    for id in [&first, &second, &third] {
        w.server.set(id, failure());
        w.poll(id).await;
    }

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 3, "{calls:?}");
    let by_task = |id: &str| {
        calls
            .iter()
            .find(|c| c.properties["$mcp_task_id"] == id)
            .unwrap_or_else(|| panic!("a call for {id}"))
            .properties
            .clone()
    };
    let oldest = by_task(&first);
    assert_eq!(oldest["$mcp_error_type"], "task_untracked");
    assert_eq!(
        oldest["$mcp_duration_ms"], 2000,
        "reported when the third task came"
    );
    assert_eq!(by_task(&second)["$mcp_error_type"], "InternalError");
    assert_eq!(by_task(&third)["$mcp_error_type"], "InternalError");
}
