//! Helpers for delivery tests: payloads, jobs, a PostHog-bound [`Delivery`] aimed at an [`IngestServer`], and a
//! driver that moves a [`ManualClock`] while waiting for something to happen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use posthog_mcp::clock::ManualClock;
use posthog_mcp::delivery::{Delivery, DeliveryOptions, Job, SinkKind};
use posthog_mcp::event::Payload;

use crate::ingest::IngestServer;

/// The API key the helpers send.
pub const TEST_API_KEY: &str = "phc_delivery_test";

/// Options for tests: defaults, with short real-time bounds so a failing test fails fast.
pub fn test_options() -> DeliveryOptions {
    DeliveryOptions {
        request_timeout: Duration::from_secs(5),
        drop_timeout: Duration::from_millis(500),
        ..DeliveryOptions::default()
    }
}

/// A labelled `$mcp_tool_call` payload numbered `n` (property `n`), timestamped now; labelled as the pipeline
/// labels (`$lib`, `$lib_version` and its parts), since delivery itself adds no property.
pub fn payload(n: usize) -> Payload {
    let mut payload = Payload::new(
        "$mcp_tool_call",
        format!("user-{}", n % 7),
        chrono::Utc::now(),
    );
    payload.properties.insert("n".into(), serde_json::json!(n));
    payload.properties.insert(
        "$lib".into(),
        serde_json::json!(posthog_mcp::event::LIB_NAME),
    );
    payload.properties.insert(
        "$lib_version".into(),
        serde_json::json!(posthog_mcp::event::LIB_VERSION),
    );
    for (key, value) in [
        ("$lib_version__major", posthog_mcp::event::LIB_VERSION_MAJOR),
        ("$lib_version__minor", posthog_mcp::event::LIB_VERSION_MINOR),
        ("$lib_version__patch", posthog_mcp::event::LIB_VERSION_PATCH),
    ] {
        payload
            .properties
            .insert(key.into(), serde_json::json!(value));
    }
    payload
}

/// A job producing exactly `payload`.
pub fn job(payload: Payload) -> Job {
    Box::new(move || vec![payload])
}

/// A delivery queue sending to `server` over HTTP, timed by `clock`.
pub fn posthog_delivery(
    server: &IngestServer,
    options: DeliveryOptions,
    clock: &ManualClock,
) -> Delivery {
    Delivery::start(
        options,
        SinkKind::PostHog {
            api_key: TEST_API_KEY.into(),
            host: server.url(),
        },
        Arc::new(clock.clone()),
    )
}

/// Advances `clock` by `step` every few real milliseconds until `condition` holds or `timeout` (real) passes;
/// returns whether it held. Virtual time moves only here, so the worker's waits are all that it shortens.
pub async fn advance_until(
    clock: &ManualClock,
    step: Duration,
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        clock.advance(step);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `condition` every few real milliseconds (without moving any clock) for at most `timeout`.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}
