//! [`TaskStore`]: rmcp's task store ([`TaskManager`]) with an analytics instance told how each task ends, so a
//! task-augmented `tools/call` is reported once, when its task's terminal status goes to the store, whether or
//! not a client ever asks for it with `tasks/get` (`docs/tasks.md`).
//!
//! The store wraps each operation it spawns: the operation's outcome (a result, [`TaskExit::Cancelled`] or
//! [`TaskExit::Error`]) is reported as it is handed to the store, and an operation dropped before it resolved (the
//! store's time-to-live sweep, or its shutdown) is reported when it is dropped. What the call's event needs is kept
//! in the analytics instance's memory, never in the task a client can read.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, DetailedTask, Task};
use rmcp::task_manager::{TaskContext, TaskExit, TaskFuture, TaskManager, TaskOptions};

use crate::analytics::{Analytics, TaskEnd};
use crate::capture::TaskBook;

/// The error rmcp's `TaskManager` records for a task whose time to live ran out before it completed.
const TTL_EXPIRED: &str = "task expired: TTL elapsed before completion";

/// rmcp's task store, [`TaskManager`], with every task it spawns watched by an analytics instance.
///
/// A `tools/call` your handler answers with a task (`CallToolResponse::Task`) sends nothing when the handle is
/// returned. Spawn the task's operation through a `TaskStore` and the call's `$mcp_tool_call` is sent once, when
/// the operation's outcome goes to the store: a result makes it the call's result (a failed call if the result is
/// `isError`), [`TaskExit::Error`] a failed call with the error's message, and [`TaskExit::Cancelled`] a failed
/// call of type `cancelled`. Its `$mcp_duration_ms` runs from the start of the `tools/call` to that moment. A task
/// the store's time-to-live sweep aborts is a failed call with the store's own error; one dropped by
/// [`TaskStore::shutdown`] a failed call of type `task_aborted`. Nobody needs to ask for the task with `tasks/get`.
///
/// The store works for both capture paths: a server wrapped by [`Analytics::instrument`](crate::Analytics::instrument)
/// and a gateway on the [manual API](crate::manual) report their calls through the same instance. Every other
/// method delegates to the [`TaskManager`], reachable with [`TaskStore::manager`]; a task spawned on the manager
/// directly is not watched.
///
/// ```no_run
/// use posthog_mcp::TaskStore;
/// use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, CreateTaskResult};
/// use rmcp::task_manager::TaskOptions;
///
/// # fn handler(analytics: &posthog_mcp::Analytics) -> CallToolResponse {
/// // One store per server, kept with the handler; built from the instance that instruments the server.
/// let tasks = TaskStore::new(analytics);
/// // In `call_tool`:
/// let task = tasks.spawn(TaskOptions::default(), |_context| {
///     Box::pin(async { Ok(CallToolResult::success(vec![ContentBlock::text("exported")])) })
/// });
/// CallToolResponse::Task(CreateTaskResult::new(task))
/// // In `get_task`, `update_task` and `cancel_task`: `tasks.get_task(&id)`, and so on.
/// # }
/// ```
#[derive(Clone)]
pub struct TaskStore {
    manager: TaskManager,
    analytics: Analytics,
}

impl std::fmt::Debug for TaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskStore")
            .field("analytics", &self.analytics)
            .finish_non_exhaustive()
    }
}

impl TaskStore {
    /// A new, empty store whose tasks `analytics` watches.
    pub fn new(analytics: &Analytics) -> Self {
        Self::with_manager(analytics, TaskManager::new())
    }

    /// `manager`, with the tasks spawned through this store watched by `analytics`.
    pub fn with_manager(analytics: &Analytics, manager: TaskManager) -> Self {
        Self {
            manager,
            analytics: analytics.clone(),
        }
    }

    /// The task manager behind the store, for anything the store does not wrap.
    pub fn manager(&self) -> &TaskManager {
        &self.manager
    }

    /// Spawns an operation as a task and returns its seed state for a `CreateTaskResult`, as
    /// [`TaskManager::spawn`] does; its end is reported to the analytics instance.
    pub fn spawn<F>(&self, options: TaskOptions, make_future: F) -> Task
    where
        F: FnOnce(TaskContext) -> TaskFuture,
    {
        if !self.analytics.is_enabled() {
            return self.manager.spawn(options, make_future);
        }
        let analytics = self.analytics.clone();
        let ttl = options.ttl_ms.map(Duration::from_millis);
        // Before the manager notes the task's creation: a time to live run out for the manager has run out here.
        let spawned = Instant::now();
        self.manager.spawn(options, move |context| {
            let task_id = context.task_id().to_owned();
            let operation = make_future(context);
            Box::pin(Watched {
                operation,
                watch: Some(Watch {
                    analytics,
                    task_id,
                    spawned,
                    ttl,
                }),
            })
        })
    }

    /// The task's current state, for `tasks/get` ([`TaskManager::get_task`]).
    pub fn get_task(&self, task_id: &str) -> Result<DetailedTask, ErrorData> {
        self.manager.get_task(task_id)
    }

    /// Delivers input responses to the running operation, for `tasks/update` ([`TaskManager::update_task`]).
    pub fn update_task(
        &self,
        task_id: &str,
        input_responses: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Result<(), ErrorData> {
        self.manager.update_task(task_id, input_responses)
    }

    /// Asks the operation to stop, for `tasks/cancel` ([`TaskManager::cancel_task`]); the task is reported as
    /// cancelled when the operation stops with [`TaskExit::Cancelled`].
    pub fn cancel_task(&self, task_id: &str) -> Result<(), ErrorData> {
        self.manager.cancel_task(task_id)
    }

    /// How many tasks have not ended ([`TaskManager::running_task_count`]).
    pub fn running_task_count(&self) -> usize {
        self.manager.running_task_count()
    }

    /// Aborts every running task and forgets them all ([`TaskManager::shutdown`]); each aborted task's call is
    /// reported as failed, of type `task_aborted`.
    pub fn shutdown(&self) {
        self.manager.shutdown();
    }
}

/// A task's operation, watched: its outcome, or its being dropped before it resolved, is the task's end.
struct Watched {
    operation: TaskFuture,
    /// Taken when the end is reported, so it is reported once.
    watch: Option<Watch>,
}

/// What reporting one task's end needs.
struct Watch {
    analytics: Analytics,
    task_id: String,
    /// Just before the manager created the task, on the real clock its time to live is measured by.
    spawned: Instant,
    ttl: Option<Duration>,
}

impl Watch {
    fn now(&self) -> Duration {
        self.analytics.inner.clock.elapsed()
    }

    fn report(self, end: TaskEnd) {
        TaskBook::of(&self.analytics).ended(&self.task_id, end);
    }
}

impl Future for Watched {
    type Output = Result<CallToolResult, TaskExit>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match catch_unwind(AssertUnwindSafe(|| this.operation.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(outcome)) => {
                // Reported as the outcome goes to the store, which records it once this future returns.
                if let Some(watch) = this.watch.take() {
                    let at = watch.now();
                    watch.report(TaskEnd::of_outcome(&outcome, at));
                }
                Poll::Ready(outcome)
            }
            Err(payload) => {
                if let Some(watch) = this.watch.take() {
                    let at = watch.now();
                    watch.report(TaskEnd::panicked(&*payload, at));
                }
                // The operation's own panic goes on as it would without the store.
                resume_unwind(payload)
            }
        }
    }
}

impl Drop for Watched {
    /// An operation dropped before it resolved: the store's time-to-live sweep aborted it (and recorded it as
    /// failed), or the store shut down (and recorded nothing). Reported before the operation itself is dropped.
    fn drop(&mut self) {
        let Some(watch) = self.watch.take() else {
            return;
        };
        let at = watch.now();
        let expired = watch.ttl.is_some_and(|ttl| watch.spawned.elapsed() >= ttl);
        let end = if expired {
            TaskEnd::failed(&ErrorData::internal_error(TTL_EXPIRED, None), at)
        } else {
            TaskEnd::aborted(at)
        };
        watch.report(end);
    }
}
