//! Delivery seen from a real rmcp client: tool calls never wait for ingestion. Nothing lost at volume is the
//! release load suite's (`tests/tests/load/volume.rs`).

use std::time::{Duration, Instant};

use posthog_mcp::{Analytics, DeliveryOptions};
use posthog_mcp_tests::fixtures::{Client, WrapperOnlyServer, call, connect};
use posthog_mcp_tests::{Answer, IngestServer};
use serde_json::json;

fn analytics(server: &IngestServer, options: DeliveryOptions) -> Analytics {
    Analytics::builder()
        .api_key("phc_rmcp_delivery")
        .host(server.url())
        .delivery(options)
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .build()
        .unwrap()
}

async fn calls(client: &Client, n: usize) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let result = client
            .call_tool(call("add", json!({"a": i, "b": 1})))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(false));
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_are_not_slowed_when_ingestion_answers_after_ten_seconds() {
    let server = IngestServer::start();
    server.set_default(Answer::ok().delayed(Duration::from_secs(10)));
    // Small batches, so requests to the slow server are in flight during the whole measurement.
    let analytics = analytics(
        &server,
        DeliveryOptions {
            batch_size: 10,
            ..DeliveryOptions::default()
        },
    );
    let plain = connect(WrapperOnlyServer::default()).await;
    let instrumented = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    calls(&plain, 50).await;
    calls(&instrumented, 50).await;
    assert!(
        server
            .wait_for_requests(1, Duration::from_secs(5))
            .await
            .len()
            == 1,
        "a batch is stuck in flight"
    );

    // Interleave the two so machine noise hits both alike; compare medians of rounds.
    let (mut plain_rounds, mut instrumented_rounds) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        plain_rounds.push(calls(&plain, 100).await);
        instrumented_rounds.push(calls(&instrumented, 100).await);
    }
    plain_rounds.sort();
    instrumented_rounds.sort();
    let (plain, instrumented) = (plain_rounds[2], instrumented_rounds[2]);
    let ratio = instrumented.as_secs_f64() / plain.as_secs_f64();
    eprintln!(
        "100 tool calls: uninstrumented {plain:?}, instrumented {instrumented:?}, ratio {ratio:.2}"
    );
    assert_eq!(
        analytics.stats().sent,
        0,
        "ingestion has not answered anything yet"
    );
    // Waiting for ingestion would cost 10 s per blocked call (a ratio in the thousands); the bound leaves room for
    // the wrapper's own work and a busy machine.
    assert!(ratio < 5.0, "instrumented calls are {ratio:.2}x slower");
    assert!(
        instrumented < Duration::from_secs(5),
        "no call waited for ingestion"
    );
    // Do not wait for the slow server.
    let _ = analytics.shutdown(Duration::from_millis(100)).await;
}
