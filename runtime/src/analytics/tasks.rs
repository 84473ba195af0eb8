//! The task-augmented calls an instance awaits, shared by every server it instruments and every task store built
//! on it: each call parked by task id until its task ends, and the ends a task store saw before their call was
//! parked. Task ids are unique per store (rmcp's are UUIDs), so one table serves all servers; what reads and
//! fills it is `capture/tasks.rs` (`docs/tasks.md`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::servers::ServerState;
use crate::event::ErrorInfo;
use crate::pipeline::{Encoded, PooledRecord};

/// The instance's awaited tasks. Both maps are bounded by `task_capacity` and swept by `task_timeout`.
#[derive(Default)]
pub(crate) struct TaskTable {
    /// Task-augmented calls awaiting their task's end, by task id.
    pub(crate) pending: HashMap<String, PendingTask>,
    /// Ends a task store reported for a task whose call was not parked (yet), by task id.
    pub(crate) ended: HashMap<String, TaskEnd>,
}

/// A task-augmented `tools/call` whose event waits for the task to end.
pub(crate) struct PendingTask {
    /// The call's record, filled but for the outcome and the duration.
    pub(crate) record: PooledRecord,
    /// When the call began, on the instance's monotonic clock.
    pub(crate) started: Duration,
    /// The server that answered the call with the task: only its own `tasks/get` answers are read for it.
    pub(crate) server: Option<Arc<ServerState>>,
}

/// How and when a task ended, as the call's event reports it.
pub(crate) struct TaskEnd {
    /// When it ended, on the instance's monotonic clock.
    pub(crate) at: Duration,
    /// The task's result, for a task that completed.
    pub(crate) response: Option<Encoded>,
    /// The failure, for a task that did not complete successfully.
    pub(crate) error: Option<ErrorInfo>,
}
