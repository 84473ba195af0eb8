//! Alone in its binary, and part of the release load suite: it reads the process's resident memory, which other
//! tests running beside it would disturb.
//!
//! The delivery byte budget measures what is really allocated. With ingestion hung, custom events of about 1.1 KB
//! fill the queue up to its byte budget; the process's resident memory grows by no more than twice what the budget
//! counted.

use std::time::Duration;

use posthog_mcp::{Analytics, DeliveryOptions};
use posthog_mcp_tests::process::rss;
use posthog_mcp_tests::{Answer, IngestServer};

const MIB: usize = 1024 * 1024;
const BUDGET: usize = 48 * MIB;

#[test]
fn a_full_queue_costs_at_most_twice_the_bytes_it_counts() {
    let ingest = IngestServer::start();
    ingest.keep_bodies(false);
    // Every batch hangs: nothing is ever sent while the queue fills.
    ingest.set_default(Answer::ok().delayed(Duration::from_secs(600)));
    let analytics = Analytics::builder()
        .api_key("phc_accounting")
        .host(ingest.url())
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .delivery(DeliveryOptions {
            max_bytes: BUDGET,
            capacity: 10_000_000,
            ..DeliveryOptions::default()
        })
        .build()
        .unwrap();
    let baseline = rss();
    let mut n = 0u64;
    while analytics.stats().dropped_queue_full == 0 {
        let mut event = analytics
            .event("order placed")
            .distinct_id(format!("user-{}", n % 1000));
        for k in 0..24 {
            event = event.property(
                format!("field_{k}"),
                format!("value {n} of field {k}, some text"),
            );
        }
        event = event.property("nested", serde_json::json!({"a": [1, 2, 3], "b": {"c": n}}));
        event.capture().unwrap();
        n += 1;
        if n.is_multiple_of(1000) {
            // Let the worker build what was handed over, so the payloads (not the jobs) fill the budget.
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(n < 10_000_000, "the byte budget never filled");
    }
    std::thread::sleep(Duration::from_millis(200));
    let stats = analytics.stats();
    let growth = rss().saturating_sub(baseline);
    eprintln!(
        "{n} events, held {:.1} MiB counted, RSS grew {:.1} MiB ({:.2}×), {stats:?}",
        stats.held_bytes as f64 / MIB as f64,
        growth as f64 / MIB as f64,
        growth as f64 / stats.held_bytes as f64
    );
    assert!(stats.held_bytes <= BUDGET as u64);
    assert!(stats.held_bytes as usize > BUDGET / 2, "the budget filled");
    assert!(
        growth <= 2 * stats.held_bytes as usize,
        "RSS grew {} MiB for {} MiB counted",
        growth / MIB,
        stats.held_bytes as usize / MIB
    );
}
