//! The awaited-task table without an rmcp client: ends kept for calls not parked stay bounded and are forgotten
//! after the timeout, and a server reads `tasks/get` answers only for the calls it parked.

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::TaskStatus;
use rmcp::model::{CallToolResult, ContentBlock, DetailedTask, Implementation, Task, TaskPayload};
use serde_json::Value;

use super::super::{BeginOptions, Incoming, ServerShared};
use super::{TaskBook, TaskEnd};
use crate::clock::Clock as _;
use crate::session::Connection;
use crate::{Analytics, ManualClock, MemorySink, SessionOptions};

fn analytics(sink: &MemorySink, clock: &ManualClock, sessions: SessionOptions) -> Analytics {
    Analytics::builder()
        .destination(crate::Destination::Memory(sink.clone()))
        .identity(crate::IdentityOptions::default().without_registered_identify())
        .clock(Arc::new(clock.clone()))
        .sessions(sessions)
        .build()
        .unwrap()
}

fn ended_ids(analytics: &Analytics) -> Vec<String> {
    let table = analytics.inner.tasks.lock().unwrap();
    let mut ids: Vec<String> = table.ended.keys().cloned().collect();
    ids.sort();
    ids
}

fn completed(id: &str) -> DetailedTask {
    let result =
        serde_json::to_value(CallToolResult::success(vec![ContentBlock::text("done")])).unwrap();
    let at = "2026-12-02T06:00:00Z";
    DetailedTask::new(
        Task::new(id, TaskStatus::Completed, at, at),
        TaskPayload::Completed {
            result: result.as_object().unwrap().clone(),
        },
    )
}

async fn park(server: &ServerShared, task_id: &str) {
    let scope = server
        .begin(
            &Connection::new(),
            "$mcp_tool_call",
            "tools/call",
            &Incoming::default(),
            &Value::Null,
            BeginOptions::default(),
        )
        .await;
    server.tasks().park(scope, task_id.to_owned());
}

async fn tool_calls(analytics: &Analytics, sink: &MemorySink) -> usize {
    assert!(analytics.flush(Duration::from_secs(5)).await);
    sink.payloads()
        .iter()
        .filter(|p| p.event == "$mcp_tool_call")
        .count()
}

#[tokio::test]
async fn ends_kept_for_calls_not_parked_are_bounded_by_the_capacity() {
    let (sink, clock) = (MemorySink::new(), ManualClock::default());
    let analytics = analytics(&sink, &clock, SessionOptions::default().task_capacity(2));
    let book = TaskBook::of(&analytics);
    for id in ["a", "b", "c"] {
        book.ended(id, TaskEnd::cancelled(clock.elapsed()));
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(ended_ids(&analytics), ["b", "c"], "the oldest is forgotten");
    assert_eq!(
        tool_calls(&analytics, &sink).await,
        0,
        "an end alone is no call"
    );
}

#[tokio::test]
async fn ends_kept_longer_than_the_timeout_are_forgotten() {
    let (sink, clock) = (MemorySink::new(), ManualClock::default());
    let sessions = SessionOptions::default().task_timeout(Duration::from_secs(60));
    let analytics = analytics(&sink, &clock, sessions);
    let book = TaskBook::of(&analytics);
    book.ended("a", TaskEnd::cancelled(clock.elapsed()));
    clock.advance(Duration::from_secs(59));
    book.sweep();
    assert_eq!(ended_ids(&analytics), ["a"]);
    clock.advance(Duration::from_secs(1));
    book.sweep();
    assert!(ended_ids(&analytics).is_empty());
}

#[tokio::test]
async fn a_server_reads_tasks_get_answers_only_for_the_calls_it_parked() {
    let (sink, clock) = (MemorySink::new(), ManualClock::default());
    let analytics = analytics(&sink, &clock, SessionOptions::default());
    let info = Implementation::new("srv", "1");
    let parking = ServerShared::new(&analytics, TypeId::of::<u8>(), &info);
    let other = ServerShared::new(&analytics, TypeId::of::<u16>(), &info);
    park(&parking, "task-1").await;

    other.tasks().observe(&completed("task-1"));
    assert_eq!(
        tool_calls(&analytics, &sink).await,
        0,
        "another server's task-1"
    );
    parking.tasks().observe(&completed("task-1"));
    assert_eq!(tool_calls(&analytics, &sink).await, 1);
}

#[tokio::test]
async fn a_task_store_end_reports_a_call_parked_by_any_server_once() {
    let (sink, clock) = (MemorySink::new(), ManualClock::default());
    let analytics = analytics(&sink, &clock, SessionOptions::default());
    let server = ServerShared::new(
        &analytics,
        TypeId::of::<u8>(),
        &Implementation::new("srv", "1"),
    );
    park(&server, "task-1").await;
    clock.advance(Duration::from_millis(700));
    let book = TaskBook::of(&analytics);
    book.ended("task-1", TaskEnd::cancelled(clock.elapsed()));
    book.ended("task-1", TaskEnd::cancelled(clock.elapsed()));
    server.tasks().observe(&completed("task-1"));
    let payloads = {
        assert!(analytics.flush(Duration::from_secs(5)).await);
        sink.payloads()
    };
    let calls: Vec<_> = payloads
        .iter()
        .filter(|p| p.event == "$mcp_tool_call")
        .collect();
    assert_eq!(calls.len(), 1, "{payloads:?}");
    assert_eq!(calls[0].properties["$mcp_duration_ms"], 700);
    assert_eq!(calls[0].properties["$mcp_error_type"], "cancelled");
}
