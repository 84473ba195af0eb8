//! The common `main` loses nothing when it forgets `shutdown().await`: the guard flushes when `main` returns.

use std::process::Command;
use std::time::Duration;

use posthog_mcp_tests::IngestServer;

#[tokio::test]
async fn a_main_that_forgets_shutdown_still_delivers_through_its_guard() {
    let ingest = IngestServer::start();
    let status = Command::new(env!("CARGO_BIN_EXE_forgets_shutdown"))
        .env("POSTHOG_API_KEY", "phc_exit_test")
        .env("POSTHOG_HOST", ingest.url())
        .env_remove("POSTHOG_MCP_LOCAL_SINK")
        .status()
        .expect("run the binary");
    assert!(status.success());
    let events = ingest.wait_for_events(1, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "forgot_shutdown");
}
