//! Task-augmented `tools/call` (SEP-2663): the call's event waits until its task ends. A call answered with a
//! task is parked by task id in its analytics instance's table. Its end comes from a [`crate::TaskStore`], as the
//! operation's outcome goes to the store (an end that came before the call was parked is kept until it is), or
//! else from the first terminal state seen in a `tasks/get` answer of the same server. A task not seen ending
//! within the timeout (or pushed out of the bounded table) is reported as an error (`docs/tasks.md`).

use std::sync::Arc;
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, DetailedTask, TaskPayload};
use rmcp::task_manager::TaskExit;
use serde_json::{Map, Value};

use super::{Scope, ServerShared, errors};
use crate::analytics::{Analytics, PendingTask, ServerState, TaskEnd};
use crate::event::ErrorInfo;
use crate::pipeline::Encoded;

/// `$mcp_error_type` of a task whose terminal state was not seen within the timeout.
pub(crate) const TASK_TIMEOUT: &str = "task_timeout";
/// `$mcp_error_type` of a task forgotten because too many tasks were awaited at once.
pub(crate) const TASK_UNTRACKED: &str = "task_untracked";
/// `$mcp_error_type` of a cancelled task.
pub(crate) const TASK_CANCELLED: &str = "cancelled";
/// `$mcp_error_type` of a task whose operation was stopped before it ended, with no terminal status recorded
/// (the task store shut down, or the runtime did).
pub(crate) const TASK_ABORTED: &str = "task_aborted";

fn synthetic(type_name: &str, message: String) -> ErrorInfo {
    ErrorInfo {
        type_name: type_name.to_owned(),
        label: None,
        message,
        synthetic: true,
        chain: Vec::new(),
        status: None,
    }
}

impl TaskEnd {
    /// A task that completed with `result`: the result is the call's, an `isError` result a failed call.
    pub(crate) fn completed(result: &CallToolResult, at: Duration) -> Self {
        Self {
            at,
            response: Some(Encoded::of(result)),
            error: (result.is_error == Some(true)).then(|| errors::result_error(result)),
        }
    }

    /// A task that failed with `error`, classified as a JSON-RPC error is.
    pub(crate) fn failed(error: &ErrorData, at: Duration) -> Self {
        Self {
            at,
            response: None,
            error: Some(errors::protocol_error(error)),
        }
    }

    /// A cancelled task: a failed call of type `cancelled`.
    pub(crate) fn cancelled(at: Duration) -> Self {
        Self {
            at,
            response: None,
            error: Some(synthetic(
                TASK_CANCELLED,
                "the task was cancelled".to_owned(),
            )),
        }
    }

    /// A task whose operation was dropped before it ended, with no terminal status recorded.
    pub(crate) fn aborted(at: Duration) -> Self {
        Self {
            at,
            response: None,
            error: Some(synthetic(
                TASK_ABORTED,
                "the task was stopped before it ended".to_owned(),
            )),
        }
    }

    /// A task whose operation panicked: a failed call of type `Panic`, as a panicking handler is.
    pub(crate) fn panicked(payload: &(dyn std::any::Any + Send), at: Duration) -> Self {
        Self {
            at,
            response: None,
            error: Some(errors::panic_error(payload)),
        }
    }

    /// What a task operation resolved to, as rmcp's task store records it.
    pub(crate) fn of_outcome(outcome: &Result<CallToolResult, TaskExit>, at: Duration) -> Self {
        match outcome {
            Ok(result) => Self::completed(result, at),
            Err(TaskExit::Cancelled) => Self::cancelled(at),
            Err(TaskExit::Error(error)) => Self::failed(error, at),
        }
    }

    /// The payload of a task whose `tasks/get` answer shows it terminal.
    fn of_payload(payload: &TaskPayload, at: Duration) -> Self {
        let object = |map: &Map<String, Value>| Value::Object(map.clone());
        match payload {
            TaskPayload::Completed { result } => {
                match serde_json::from_value::<CallToolResult>(object(result)) {
                    Ok(result) => Self::completed(&result, at),
                    Err(_) => Self {
                        at,
                        response: Some(Encoded::of(result)),
                        error: None,
                    },
                }
            }
            TaskPayload::Failed { error } => {
                match serde_json::from_value::<ErrorData>(object(error)) {
                    Ok(error) => Self::failed(&error, at),
                    Err(_) => Self {
                        at,
                        response: None,
                        error: Some(synthetic("Error", "the task failed".to_owned())),
                    },
                }
            }
            _ => Self::cancelled(at),
        }
    }
}

/// The task-augmented calls an analytics instance awaits, as one server or one task store reaches them.
pub(crate) struct TaskBook<'a> {
    analytics: &'a Analytics,
    /// The server asking: the calls it parks are its own, and its `tasks/get` answers are read only for them.
    /// `None` for a task store, whose task ids are its own.
    server: Option<&'a Arc<ServerState>>,
}

impl ServerShared {
    /// The task calls of the server's analytics instance, as this server reaches them.
    pub(crate) fn tasks(&self) -> TaskBook<'_> {
        TaskBook {
            analytics: &self.analytics,
            server: Some(&self.state),
        }
    }
}

impl<'a> TaskBook<'a> {
    /// The task calls of `analytics`, as a task store reaches them.
    pub(crate) fn of(analytics: &'a Analytics) -> Self {
        Self {
            analytics,
            server: None,
        }
    }

    /// A `tools/call` answered with task `task_id`: its event waits for the task's end, or is sent now when a
    /// task store already reported that end.
    pub(super) fn park(&self, scope: Scope, task_id: String) {
        let Scope {
            mut record,
            started,
            view: _,
        } = scope;
        record.task_id = Some(task_id.as_str().into());
        // The creation answer is not the call's result: the terminal state's result replaces it.
        record.response = None;
        record.is_error = None;
        record.error = None;
        let pending = PendingTask {
            record,
            started,
            server: self.server.cloned(),
        };
        self.sweep();
        let capacity = self.analytics.inner.task_capacity.get();
        let (ended, evicted) = {
            let Ok(mut table) = self.analytics.inner.tasks.lock() else {
                return;
            };
            match table.ended.remove(&task_id) {
                Some(end) => (Some((pending, end)), None),
                None => {
                    let mut evicted = None;
                    if table.pending.len() >= capacity && !table.pending.contains_key(&task_id) {
                        let oldest = table
                            .pending
                            .iter()
                            .min_by_key(|(_, pending)| pending.started)
                            .map(|(id, _)| id.clone());
                        evicted = oldest.and_then(|id| table.pending.remove(&id));
                    }
                    table.pending.insert(task_id, pending);
                    (None, evicted)
                }
            }
        };
        if let Some((pending, end)) = ended {
            tracing::debug!("posthog-mcp: the task ended before its handle was returned");
            self.report(pending, end);
        }
        if let Some(pending) = evicted {
            tracing::debug!(
                capacity,
                "posthog-mcp: too many tasks awaited; the oldest is reported as untracked"
            );
            let message = format!("more than {capacity} tasks were awaited at once");
            let end = TaskEnd {
                at: self.now(),
                response: None,
                error: Some(synthetic(TASK_UNTRACKED, message)),
            };
            self.report(pending, end);
        }
    }

    /// A task's state as the server answered it (`tasks/get`): the first terminal state of a task this server
    /// parked reports its call.
    pub(crate) fn observe(&self, task: &DetailedTask) {
        self.sweep();
        if !task.status().is_terminal() {
            return;
        }
        let pending = match self.analytics.inner.tasks.lock() {
            Ok(mut table) => match table.pending.get(&task.task.task_id) {
                Some(pending) if self.owns(pending) => table.pending.remove(&task.task.task_id),
                _ => None,
            },
            Err(_) => None,
        };
        if let Some(pending) = pending {
            let end = TaskEnd::of_payload(&task.payload, self.now());
            self.report(pending, end);
        }
    }

    /// Task `task_id` ended as a task store recorded it: its parked call is reported, or, when the call is not
    /// parked yet, the end is kept (bounded by the capacity, for at most the timeout) until it is.
    pub(crate) fn ended(&self, task_id: &str, end: TaskEnd) {
        self.sweep();
        let capacity = self.analytics.inner.task_capacity.get();
        let pending = {
            let Ok(mut table) = self.analytics.inner.tasks.lock() else {
                return;
            };
            match table.pending.remove(task_id) {
                Some(pending) => pending,
                None => {
                    if table.ended.len() >= capacity && !table.ended.contains_key(task_id) {
                        let oldest = table
                            .ended
                            .iter()
                            .min_by_key(|(_, end)| end.at)
                            .map(|(id, _)| id.clone());
                        if let Some(id) = oldest {
                            table.ended.remove(&id);
                            tracing::debug!(
                                capacity,
                                "posthog-mcp: too many task ends kept for calls not parked; the oldest is forgotten"
                            );
                        }
                    }
                    table.ended.insert(task_id.to_owned(), end);
                    return;
                }
            }
        };
        self.report(pending, end);
    }

    /// Reports every parked task older than the timeout as timed out, and forgets task ends kept that long.
    pub(crate) fn sweep(&self) {
        let timeout = self.analytics.inner.task_timeout;
        let now = self.now();
        let expired: Vec<PendingTask> = match self.analytics.inner.tasks.lock() {
            Ok(mut table) => {
                table
                    .ended
                    .retain(|_, end| now.saturating_sub(end.at) < timeout);
                if table.pending.is_empty() {
                    return;
                }
                let ids: Vec<String> = table
                    .pending
                    .iter()
                    .filter(|(_, pending)| now.saturating_sub(pending.started) >= timeout)
                    .map(|(id, _)| id.clone())
                    .collect();
                ids.iter()
                    .filter_map(|id| table.pending.remove(id))
                    .collect()
            }
            Err(_) => return,
        };
        if !expired.is_empty() {
            tracing::debug!(
                count = expired.len(),
                "posthog-mcp: tasks not seen ending in time are reported as timed out"
            );
        }
        for pending in expired {
            let message = format!(
                "the task was not seen ending within {} ms",
                timeout.as_millis()
            );
            let end = TaskEnd {
                at: pending.started.saturating_add(timeout),
                response: None,
                error: Some(synthetic(TASK_TIMEOUT, message)),
            };
            self.report(pending, end);
        }
    }

    /// Whether `pending` is a call of the server asking (any call, for a task store).
    fn owns(&self, pending: &PendingTask) -> bool {
        match (self.server, &pending.server) {
            (Some(asking), Some(parked)) => Arc::ptr_eq(asking, parked),
            (None, _) => true,
            (Some(_), None) => false,
        }
    }

    fn now(&self) -> Duration {
        self.analytics.inner.clock.elapsed()
    }

    /// Submits a parked call with its task's end: the duration from the call's start to the end, the task's
    /// result when it completed, its failure when it did not.
    fn report(&self, pending: PendingTask, end: TaskEnd) {
        let PendingTask {
            mut record,
            started,
            server: _,
        } = pending;
        let TaskEnd {
            at,
            response,
            error,
        } = end;
        let elapsed = at.saturating_sub(started);
        record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        if response.is_some() {
            record.response = response;
        }
        record.is_error = Some(error.is_some());
        record.error = error.map(Box::new);
        self.analytics.submit(record);
    }
}

#[cfg(test)]
#[path = "tasks_tests.rs"]
mod tests;
