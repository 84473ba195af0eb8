//! Task-augmented calls whose tasks run in a `posthog_mcp::TaskStore`, through a real rmcp client that declares
//! the tasks extension: the call's `$mcp_tool_call` is sent once, when the task's terminal status goes to the
//! store, without any `tasks/get`: completed with the task's result, failed with its error, cancelled, aborted
//! by the store's time to live or by its shutdown, or panicked. A task that ends before its handle is returned is
//! reported once with its own duration, and a `tasks/get` after the store reported sends nothing more. A gateway
//! on the manual API hands over a forwarded `tasks/get` answer with `ManualServer::observe_task`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog_mcp::TaskStore;
use posthog_mcp::clock::ManualClock;
use posthog_mcp::manual::{ManualRequest, Prepared};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Client, Ingested, call, ingested, reporting_to};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskContext, TaskExit, TaskFuture, TaskOptions};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use tokio::sync::{oneshot, watch};

/// What `slow_job` runs as its task.
type Operation = Arc<dyn Fn(TaskContext) -> TaskFuture + Send + Sync>;

/// A server whose one tool, `slow_job`, answers with a task spawned through its `TaskStore`.
#[derive(Clone)]
struct StoreServer {
    store: TaskStore,
    operation: Operation,
    options: TaskOptions,
    /// Waits until the task has ended before answering with its handle, then moves the clock by this much.
    end_first: Option<(ManualClock, Duration)>,
    gets: Arc<AtomicUsize>,
}

/// Task `id` once `store` has recorded it terminal: yields to the task's operation, which runs on its own tokio
/// task, until then. Reads the store directly, which is not a `tasks/get`.
async fn ended(store: &TaskStore, id: &str) -> DetailedTask {
    for _ in 0..10_000 {
        let task = store.get_task(id).expect("the store knows the task");
        if task.status().is_terminal() {
            return task;
        }
        tokio::task::yield_now().await;
    }
    panic!("task {id} never ended");
}

impl ServerHandler for StoreServer {
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
        let operation = self.operation.clone();
        let task = self
            .store
            .spawn(self.options.clone(), move |context| operation(context));
        if let Some((clock, later)) = &self.end_first {
            ended(&self.store, &task.task_id).await;
            clock.advance(*later);
        }
        Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.store
            .get_task(&request.task_id)
            .map(GetTaskResult::new)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.store.cancel_task(&request.task_id)
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
    server: StoreServer,
    client: Client,
}

/// A world whose `slow_job` runs `operation`; `setup` adjusts the server (task options, `end_first`).
async fn world(operation: Operation, setup: impl FnOnce(&mut StoreServer)) -> World {
    world_on(ManualClock::default(), operation, setup).await
}

/// [`world`], with the analytics instance on `clock`.
async fn world_on(
    clock: ManualClock,
    operation: Operation,
    setup: impl FnOnce(&mut StoreServer),
) -> World {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let mut server = StoreServer {
        store: TaskStore::new(&analytics),
        operation,
        options: TaskOptions::default(),
        end_first: None,
        gets: Arc::new(AtomicUsize::new(0)),
    };
    setup(&mut server);
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

    async fn ended(&self, id: &str) -> DetailedTask {
        ended(&self.server.store, id).await
    }

    /// Flushes and returns the `$mcp_tool_call` events sent so far.
    async fn tool_calls(&self) -> Vec<Ingested> {
        ingested(&self.analytics, &self.ingest)
            .await
            .into_iter()
            .filter(|e| e.event == "$mcp_tool_call")
            .collect()
    }
}

/// An operation that waits until `release` says so, then ends with `outcome`.
fn released(
    release: &watch::Sender<bool>,
    outcome: impl Fn() -> Result<CallToolResult, TaskExit> + Send + Sync + 'static,
) -> Operation {
    let release = release.clone();
    let outcome = Arc::new(outcome);
    Arc::new(move |_context| {
        let mut release = release.subscribe();
        let outcome = outcome.clone();
        Box::pin(async move {
            let _ = release.wait_for(|go| *go).await;
            outcome()
        })
    })
}

/// An operation that never ends; `dropped` resolves once the (first) operation is dropped.
fn endless() -> (Operation, oneshot::Receiver<()>) {
    let (held, dropped) = oneshot::channel::<()>();
    let held = Arc::new(Mutex::new(Some(held)));
    let operation: Operation = Arc::new(move |_context| {
        let held = held.lock().unwrap().take();
        Box::pin(async move {
            let _held = held;
            std::future::pending::<()>().await;
            Ok(CallToolResult::success(vec![]))
        })
    });
    (operation, dropped)
}

#[tokio::test]
async fn a_task_the_store_records_as_completed_is_one_call_with_its_result_and_duration() {
    let release = watch::Sender::new(false);
    let operation = released(&release, || {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            "exported",
        )]))
    });
    let w = world(operation, |_| {}).await;
    let id = w.start_job().await;
    w.clock.advance(Duration::from_millis(1500));
    assert!(w.tool_calls().await.is_empty(), "nothing while it runs");

    release.send_replace(true);
    assert_eq!(w.ended(&id).await.status(), TaskStatus::Completed);
    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], false);
    assert_eq!(p["$mcp_task_id"], id.as_str());
    assert_eq!(p["$mcp_tool_name"], "slow_job");
    assert_eq!(
        p["$mcp_duration_ms"], 1500,
        "from the call's start to the end"
    );
    assert_eq!(p["$mcp_response"]["content"][0]["text"], "exported");
    assert_eq!(w.server.gets.load(Ordering::SeqCst), 0, "no tasks/get");
}

#[tokio::test]
async fn a_task_the_store_records_as_failed_is_a_failed_call_with_its_message() {
    let release = watch::Sender::new(true);
    let operation = released(&release, || {
        Err(TaskExit::Error(ErrorData::internal_error(
            "database write failed",
            None,
        )))
    });
    let w = world(operation, |_| {}).await;
    let id = w.start_job().await;
    assert_eq!(w.ended(&id).await.status(), TaskStatus::Failed);

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "InternalError");
    assert_eq!(p["$mcp_error_message"], "database write failed");
}

#[tokio::test]
async fn a_task_the_store_records_as_cancelled_is_a_cancelled_call() {
    let operation: Operation = Arc::new(|context: TaskContext| {
        Box::pin(async move {
            context.cancelled().await;
            Err(TaskExit::Cancelled)
        })
    });
    let w = world(operation, |_| {}).await;
    let id = w.start_job().await;
    w.clock.advance(Duration::from_secs(3));
    w.client
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(w.ended(&id).await.status(), TaskStatus::Cancelled);

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "cancelled");
    assert_eq!(p["$mcp_duration_ms"], 3000);
    assert_eq!(w.server.gets.load(Ordering::SeqCst), 0, "no tasks/get");
}

#[tokio::test]
async fn a_task_that_finishes_before_its_handle_returns_is_reported_once() {
    let clock = ManualClock::default();
    let during = clock.clone();
    // The operation takes 250 ms; the handler returns the handle a second after the task ended.
    let operation: Operation = Arc::new(move |_context| {
        let clock = during.clone();
        Box::pin(async move {
            clock.advance(Duration::from_millis(250));
            Ok(CallToolResult::success(vec![ContentBlock::text("early")]))
        })
    });
    let later = clock.clone();
    let w = world_on(clock, operation, |server| {
        server.end_first = Some((later, Duration::from_secs(1)));
    })
    .await;
    let id = w.start_job().await;

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "sent when the handle returned: {calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], false);
    assert_eq!(p["$mcp_task_id"], id.as_str());
    assert_eq!(
        p["$mcp_duration_ms"], 250,
        "to the task's end, not to the handle"
    );

    // A client that polls the finished task afterwards sends nothing more.
    let answer = w.client.get_task(GetTaskParams::new(&id)).await.unwrap();
    assert_eq!(answer.task.status(), TaskStatus::Completed);
    assert_eq!(w.tool_calls().await.len(), 1);
}

#[tokio::test]
async fn a_tasks_get_after_the_store_reported_sends_nothing_more() {
    let release = watch::Sender::new(false);
    let operation = released(&release, || {
        Ok(CallToolResult::success(vec![ContentBlock::text("done")]))
    });
    let w = world(operation, |_| {}).await;
    let id = w.start_job().await;
    let working = w.client.get_task(GetTaskParams::new(&id)).await.unwrap();
    assert_eq!(working.task.status(), TaskStatus::Working);
    w.clock.advance(Duration::from_secs(1));
    release.send_replace(true);
    w.ended(&id).await;
    assert_eq!(w.tool_calls().await.len(), 1);

    w.clock.advance(Duration::from_secs(5));
    for _ in 0..2 {
        let answer = w.client.get_task(GetTaskParams::new(&id)).await.unwrap();
        assert_eq!(answer.task.status(), TaskStatus::Completed);
    }
    assert_eq!(w.server.gets.load(Ordering::SeqCst), 3, "the polls arrived");
    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].properties["$mcp_duration_ms"], 1000,
        "the store's end, not a later poll"
    );
}

#[tokio::test]
async fn a_task_aborted_by_its_time_to_live_is_a_failed_call() {
    let (operation, dropped) = endless();
    let w = world(operation, |server| {
        server.options = TaskOptions::default().with_ttl_ms(1);
    })
    .await;
    let id = w.start_job().await;
    // rmcp measures the time to live on the real clock and sweeps on its next call: ask until it has (the asking
    // call returns the failure it recorded; it is forgotten one time to live later).
    let recorded = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let task = w
                .server
                .store
                .get_task(&id)
                .expect("the store knows the task");
            if task.status().is_terminal() {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the store expires the task");
    let TaskPayload::Failed { error } = &recorded.payload else {
        panic!("the store records a failure: {recorded:?}");
    };
    // The sweep aborts the operation; its end is reported before the operation is dropped.
    assert!(dropped.await.is_err(), "the operation is dropped");

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "InternalError");
    assert_eq!(
        p["$mcp_error_message"], error["message"],
        "the store's error"
    );
    assert_eq!(
        p["$mcp_error_message"],
        "task expired: TTL elapsed before completion"
    );
}

#[tokio::test]
async fn a_task_the_store_shuts_down_is_a_failed_call_of_type_task_aborted() {
    let (operation, dropped) = endless();
    let w = world(operation, |_| {}).await;
    let id = w.start_job().await;
    w.clock.advance(Duration::from_secs(2));
    w.server.store.shutdown();
    assert!(dropped.await.is_err(), "the operation is dropped");

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_task_id"], id.as_str());
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "task_aborted");
    assert_eq!(p["$mcp_duration_ms"], 2000);
}

#[tokio::test]
async fn a_task_whose_operation_panics_is_a_failed_call_of_type_panic() {
    let (held, dropped) = oneshot::channel::<()>();
    let held = Arc::new(Mutex::new(Some(held)));
    let operation: Operation = Arc::new(move |_context| {
        let held = held.lock().unwrap().take();
        Box::pin(async move {
            let _held = held;
            tokio::task::yield_now().await;
            panic!("the export crashed");
        })
    });
    let w = world(operation, |_| {}).await;
    w.start_job().await;
    // The panic unwinds the operation (its values are dropped) after its end was reported, on this one thread.
    assert!(dropped.await.is_err(), "the operation is dropped");

    let calls = w.tool_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let p = &calls[0].properties;
    assert_eq!(p["$mcp_is_error"], true);
    assert_eq!(p["$mcp_error_type"], "Panic");
    assert_eq!(p["$mcp_error_message"], "the export crashed");
}

#[tokio::test]
async fn a_gateway_hands_a_forwarded_tasks_get_answer_to_the_manual_api() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let server = analytics.manual(Implementation::new("gateway", "1.0.0"));
    let connection = server.connection();
    let prepared = server
        .prepare_call(
            &connection,
            &ManualRequest::new().id(1),
            call("export", json!({})),
        )
        .await;
    let Prepared::Forward(prepared) = prepared else {
        panic!("export is the host's tool: {prepared:?}");
    };
    let created = "2026-12-02T06:00:00Z";
    let task = |status| Task::new("task-7", status, created, created);
    let handle = CallToolResponse::Task(CreateTaskResult::new(task(TaskStatus::Working)));
    let _ = server.finish_call_response(prepared, Ok(handle));
    server.observe_task(&DetailedTask::new(
        task(TaskStatus::Working),
        TaskPayload::Working,
    ));
    let events = ingested(&analytics, &ingest).await;
    assert!(
        events.iter().all(|e| e.event != "$mcp_tool_call"),
        "nothing while the task runs: {events:#?}"
    );

    let result =
        serde_json::to_value(CallToolResult::success(vec![ContentBlock::text("done")])).unwrap();
    let done = DetailedTask::new(
        task(TaskStatus::Completed),
        TaskPayload::Completed {
            result: result.as_object().unwrap().clone(),
        },
    );
    server.observe_task(&done);
    server.observe_task(&done);
    let events = ingested(&analytics, &ingest).await;
    let calls: Vec<_> = events
        .iter()
        .filter(|e| e.event == "$mcp_tool_call")
        .collect();
    assert_eq!(calls.len(), 1, "once: {events:#?}");
    assert_eq!(calls[0].properties["$mcp_is_error"], false);
    assert_eq!(calls[0].properties["$mcp_task_id"], "task-7");
}
