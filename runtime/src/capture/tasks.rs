//! Task-augmented `tools/call` (SEP-2663): the call's event waits until its task ends. A call answered with a
//! task is parked by task id; the first terminal state seen in a `tasks/get` answer reports it with the task's
//! own duration and outcome, and a task not seen ending within the timeout (or pushed out of the bounded table)
//! is reported as an error (`docs/tasks.md`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, DetailedTask, TaskPayload};
use serde_json::Value;

use super::{Scope, ServerShared, errors};
use crate::analytics::{Analytics, PendingTask};
use crate::event::ErrorInfo;
use crate::pipeline::Encoded;

/// `$mcp_error_type` of a task whose terminal state was not seen within the timeout.
pub(crate) const TASK_TIMEOUT: &str = "task_timeout";
/// `$mcp_error_type` of a task forgotten because too many tasks were awaited at once.
pub(crate) const TASK_UNTRACKED: &str = "task_untracked";
/// `$mcp_error_type` of a cancelled task.
pub(crate) const TASK_CANCELLED: &str = "cancelled";

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

/// The task-augmented calls of one server whose events wait for their tasks to end.
pub(crate) struct TaskBook<'a> {
    tasks: &'a Mutex<HashMap<String, PendingTask>>,
    analytics: &'a Analytics,
}

impl ServerShared {
    /// The server's parked task calls.
    pub(crate) fn tasks(&self) -> TaskBook<'_> {
        TaskBook {
            tasks: &self.state.tasks,
            analytics: &self.analytics,
        }
    }
}

impl TaskBook<'_> {
    /// A `tools/call` answered with task `task_id`: its event waits for the task's end.
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
        self.sweep();
        let capacity = self.analytics.inner.task_capacity.get();
        let evicted = {
            let Ok(mut tasks) = self.tasks.lock() else {
                return;
            };
            let mut evicted = None;
            if tasks.len() >= capacity && !tasks.contains_key(&task_id) {
                let oldest = tasks
                    .iter()
                    .min_by_key(|(_, pending)| pending.started)
                    .map(|(id, _)| id.clone());
                evicted = oldest.and_then(|id| tasks.remove(&id));
            }
            tasks.insert(task_id, PendingTask { record, started });
            evicted
        };
        if let Some(pending) = evicted {
            tracing::debug!(
                capacity,
                "posthog-mcp: too many tasks awaited; the oldest is reported as untracked"
            );
            let message = format!("more than {capacity} tasks were awaited at once");
            self.report(pending, None, Some(synthetic(TASK_UNTRACKED, message)));
        }
    }

    /// A task's state as the server answered it (`tasks/get`): the first terminal state of a parked task
    /// reports its call.
    pub(crate) fn observe(&self, task: &DetailedTask) {
        self.sweep();
        if !task.status().is_terminal() {
            return;
        }
        let pending = match self.tasks.lock() {
            Ok(mut tasks) => tasks.remove(&task.task.task_id),
            Err(_) => None,
        };
        let Some(mut pending) = pending else {
            return;
        };
        let record = &mut pending.record;
        let error = match &task.payload {
            TaskPayload::Completed { result } => {
                let value = Value::Object(result.clone());
                match serde_json::from_value::<CallToolResult>(value) {
                    Ok(result) => {
                        record.response = Some(Encoded::of(&result));
                        (result.is_error == Some(true)).then(|| errors::result_error(&result))
                    }
                    Err(_) => {
                        record.response = Some(Encoded::of(result));
                        None
                    }
                }
            }
            TaskPayload::Failed { error } => {
                match serde_json::from_value::<ErrorData>(Value::Object(error.clone())) {
                    Ok(error) => Some(errors::protocol_error(&error)),
                    Err(_) => Some(synthetic("Error", "the task failed".to_owned())),
                }
            }
            _ => Some(synthetic(
                TASK_CANCELLED,
                "the task was cancelled".to_owned(),
            )),
        };
        let now = self.analytics.inner.clock.elapsed();
        self.report(pending, Some(now), error);
    }

    /// Reports every parked task older than the timeout as timed out.
    pub(crate) fn sweep(&self) {
        let timeout = self.analytics.inner.task_timeout;
        let now = self.analytics.inner.clock.elapsed();
        let expired: Vec<PendingTask> = match self.tasks.lock() {
            Ok(mut tasks) => {
                if tasks.is_empty() {
                    return;
                }
                let ids: Vec<String> = tasks
                    .iter()
                    .filter(|(_, pending)| now.saturating_sub(pending.started) >= timeout)
                    .map(|(id, _)| id.clone())
                    .collect();
                ids.iter().filter_map(|id| tasks.remove(id)).collect()
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
            let ended = pending.started.saturating_add(timeout);
            let message = format!(
                "the task was not seen ending within {} ms",
                timeout.as_millis()
            );
            self.report(pending, Some(ended), Some(synthetic(TASK_TIMEOUT, message)));
        }
    }

    /// Submits a parked call: `ended` on the monotonic clock (now when `None`), `error` when it failed.
    fn report(&self, pending: PendingTask, ended: Option<Duration>, error: Option<ErrorInfo>) {
        let PendingTask {
            mut record,
            started,
        } = pending;
        let ended = ended.unwrap_or_else(|| self.analytics.inner.clock.elapsed());
        let elapsed = ended.saturating_sub(started);
        record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        record.is_error = Some(error.is_some());
        record.error = error.map(Box::new);
        self.analytics.submit(record);
    }
}
