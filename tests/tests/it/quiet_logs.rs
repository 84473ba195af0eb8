//! Logs stay quiet under load: 10,000 anonymous calls (identify answers nobody) and a broken identify do not log
//! a line per request. The request path runs on this test's thread (a current-thread runtime), where the
//! capturing subscriber is installed.

use std::time::Duration;

use posthog_mcp::RequestView;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect};
use posthog_mcp_tests::logs::{self, LogCapture};
use serde_json::json;

/// Our log lines (rmcp's own are not ours to count).
fn ours(logs: &LogCapture) -> Vec<String> {
    logs.lines()
        .into_iter()
        .filter(|line| line.contains("posthog"))
        .collect()
}

async fn calls_with(identify_fails: bool, calls: usize) -> Vec<String> {
    let logs = logs::capture(tracing::Level::INFO);
    let analytics = posthog_mcp::Analytics::builder()
        .destination(posthog_mcp::Destination::Discard)
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .identify(move |_view: RequestView| async move {
            if identify_fails {
                Err("backend down")
            } else {
                Ok(None)
            }
        })
        .build()
        .unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    for i in 0..calls {
        client
            .call_tool(call("add", json!({"a": i, "b": 1})))
            .await
            .unwrap();
    }
    client.cancel().await.unwrap();
    assert!(analytics.flush(Duration::from_secs(10)).await);
    ours(&logs)
}

#[tokio::test]
async fn ten_thousand_anonymous_calls_log_no_line_per_request() {
    let lines = calls_with(false, 10_000).await;
    let warnings = lines.iter().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 0, "an anonymous caller is no warning: {lines:?}");
    assert!(
        lines.len() <= 2,
        "{} lines: {:?}",
        lines.len(),
        &lines[..lines.len().min(10)]
    );
}

#[tokio::test]
async fn a_broken_identify_warns_once_per_caller_and_interval_not_per_request() {
    let lines = calls_with(true, 1_000).await;
    let warnings: Vec<&String> = lines.iter().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("identify"), "{warnings:?}");
}
