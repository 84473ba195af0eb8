//! Sustained load: with the local ingestion server answering every batch after 100 ms, 10,000 tool calls per
//! second for 10 seconds arrive with none dropped. A release-build figure (a debug build cannot make the calls that
//! fast), measured by hand on a quiet machine: the load suite ignores it unless asked for
//! (`cargo test --release -p posthog-mcp-tests --features load --test load -- --include-ignored sustained`).

use std::time::{Duration, Instant};

use posthog_mcp::{Analytics, DeliveryOptions};
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect};
use posthog_mcp_tests::{Answer, IngestServer};
use serde_json::json;

const RATE: u64 = 10_000;
const SECONDS: u64 = 10;

#[ignore = "a figure that needs the machine to itself: run by hand with -- --include-ignored sustained"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_calls_per_second_for_ten_seconds_with_a_100_ms_round_trip_lose_nothing() {
    let server = IngestServer::start();
    server.keep_bodies(false);
    server.set_default(Answer::ok().delayed(Duration::from_millis(100)));
    let analytics = Analytics::builder()
        .api_key("phc_sustained")
        .host(server.url())
        .delivery(DeliveryOptions::default())
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .build()
        .unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let total = RATE * SECONDS;
    let start = Instant::now();
    let mut made = 0u64;
    let mut peak_held = 0u64;
    while made < total {
        // Paced: the calls due by now, then a short sleep; the pace never runs ahead of 10,000/s.
        let due = ((start.elapsed().as_secs_f64() * RATE as f64) as u64).min(total);
        while made < due {
            let result = client
                .call_tool(call("add", json!({"a": made, "b": 1})))
                .await
                .unwrap();
            assert_eq!(result.is_error, Some(false));
            made += 1;
        }
        peak_held = peak_held.max(analytics.stats().peak_held);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = start.elapsed();
    assert!(analytics.shutdown(Duration::from_secs(60)).await);
    let stats = analytics.stats();
    let rate = total as f64 / took.as_secs_f64();
    eprintln!(
        "{total} calls in {took:?} ({rate:.0}/s) against a 100 ms ingestion round trip; peak held {}; \
         peak concurrent requests {}; {stats:?}",
        stats.peak_held,
        server.peak_concurrent()
    );
    assert!(
        rate >= 0.95 * RATE as f64,
        "the client made only {rate:.0} calls/s"
    );
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert!(stats.is_balanced());
    let tool_calls = server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$mcp_tool_call")
        .count() as u64;
    assert_eq!(tool_calls, total);
}
