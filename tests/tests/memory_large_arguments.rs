//! Alone in its binary, and part of the release load suite: it reads the process's peak resident memory
//! (`VmHWM`), which other tests running beside it would disturb.
//!
//! 300 calls whose arguments are 4 MB strings (echoed back, so each reply is 4 MB too) keep the process's memory
//! growth under the delivery byte budget plus a stated overhead, and delivery drains in seconds with nothing
//! dropped. Long string values are cut on the request path before any privacy pass, so a 4 MB value costs the
//! queue at most its 65,536 kept characters.

use std::time::{Duration, Instant};

use posthog_mcp::DeliveryOptions;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect, reporting_to};
use posthog_mcp_tests::process::peak_rss;
use serde_json::json;

const MIB: usize = 1024 * 1024;
/// The delivery byte budget of this test.
const BUDGET: usize = 16 * MIB;
/// What the process may grow beyond the budget: the allocator's slack around a few 4 MB buffers in flight, the
/// ingestion server's own bodies, the delivery worker's HTTP client.
const OVERHEAD: usize = 32 * MIB;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_calls_of_four_megabytes_stay_within_the_byte_budget_and_drain_in_seconds() {
    let calls = 300;
    let text = "a large argument, word after word; ".repeat(4 * MIB / 35);
    assert!(text.len() >= 4 * MIB - 64);

    // The transport's own peak (request and reply buffers of one 4 MB call) without analytics, as the baseline.
    let bare = connect(WrapperOnlyServer::default()).await;
    for _ in 0..5 {
        bare.call_tool(call("echo", json!({ "text": text })))
            .await
            .unwrap();
    }
    bare.cancel().await.unwrap();
    let baseline = peak_rss();

    let ingest = IngestServer::start();
    ingest.keep_bodies(false);
    let analytics = reporting_to(&ingest)
        .delivery(DeliveryOptions {
            max_bytes: BUDGET,
            ..DeliveryOptions::default()
        })
        .build()
        .unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let mut peak_held = 0;
    for _ in 0..calls {
        let result = client
            .call_tool(call("echo", json!({ "text": text })))
            .await
            .unwrap();
        assert_ne!(result.is_error, Some(true));
        peak_held = peak_held.max(analytics.stats().held_bytes);
    }
    client.cancel().await.unwrap();
    let growth = peak_rss().saturating_sub(baseline);

    let drain = Instant::now();
    assert!(analytics.flush(Duration::from_secs(30)).await);
    let drained_in = drain.elapsed();

    let stats = analytics.stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert!(
        stats.sent > calls,
        "every call and the handshake: {stats:?}"
    );
    assert!(
        peak_held <= BUDGET as u64,
        "held {peak_held} bytes against a budget of {BUDGET}"
    );
    assert!(
        growth <= BUDGET + OVERHEAD,
        "peak RSS grew {} MiB; the budget is {} MiB plus {} MiB overhead",
        growth / MIB,
        BUDGET / MIB,
        OVERHEAD / MIB
    );
    assert!(
        drained_in < Duration::from_secs(10),
        "drained in {drained_in:?}"
    );
    eprintln!(
        "peak RSS growth {:.1} MiB, peak held {:.1} MiB, drained in {drained_in:?}",
        growth as f64 / MIB as f64,
        peak_held as f64 / MIB as f64
    );
}
