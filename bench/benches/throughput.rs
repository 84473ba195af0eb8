//! Throughput figures, printed to stderr: enqueue cost per payload and delivery rate to the discard sink and to
//! the local ingestion server, and tool-call events built by the real pipeline from calls through an rmcp client.
//! Figures, not tests: run with `cd bench && cargo bench --bench throughput` (optimised). The criterion
//! bench beside it (`--bench delivery`) measures enqueue and delivery with statistics; this one adds the
//! pipeline's end-to-end rate. Each run still checks that every payload arrived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use posthog_mcp::clock::SystemClock;
use posthog_mcp::delivery::{Delivery, DeliveryOptions, SinkKind};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::delivery::{TEST_API_KEY, job, payload};

const N: usize = 20_000;

fn run(sink: SinkKind, options: DeliveryOptions) -> (Duration, Duration) {
    let delivery = Delivery::start(options, sink, Arc::new(SystemClock::default()));
    let payloads: Vec<_> = (0..N).map(payload).collect();
    let start = Instant::now();
    for p in payloads {
        assert!(delivery.enqueue(job(p)));
    }
    let enqueue = start.elapsed();
    assert!(delivery.flush_blocking(Duration::from_secs(300)));
    let total = start.elapsed();
    assert_eq!(delivery.stats().sent, N as u64);
    (enqueue, total)
}

fn report(what: &str, (enqueue, total): (Duration, Duration)) {
    eprintln!(
        "{what}: enqueue {:.2} µs/payload; delivered {N} in {total:?} = {:.0} payloads/s",
        enqueue.as_secs_f64() * 1e6 / N as f64,
        N as f64 / total.as_secs_f64()
    );
}

fn throughput_to_the_discard_sink() {
    report(
        "discard",
        run(
            SinkKind::Discard,
            DeliveryOptions {
                capacity: N,
                ..DeliveryOptions::default()
            },
        ),
    );
}

fn throughput_to_the_local_ingestion_server() {
    let server = IngestServer::start();
    server.keep_bodies(false);
    let sink = SinkKind::PostHog {
        api_key: TEST_API_KEY.into(),
        host: server.url(),
    };
    report(
        "posthog gzip",
        run(
            sink.clone(),
            DeliveryOptions {
                capacity: N,
                ..DeliveryOptions::default()
            },
        ),
    );
    report(
        "posthog plain",
        run(
            sink,
            DeliveryOptions {
                capacity: N,
                gzip: false,
                ..DeliveryOptions::default()
            },
        ),
    );
    assert_eq!(server.events().len(), 2 * N);
}

/// Tool-call events built by the real pipeline: how fast the worker builds and delivers them.
async fn throughput_of_tool_call_events_built_by_the_pipeline() {
    use posthog_mcp::Analytics;
    use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect};
    const CALLS: usize = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    let server = IngestServer::start();
    server.keep_bodies(false);
    for (what, builder) in [
        (
            "discard",
            Analytics::builder().destination(posthog_mcp::Destination::Discard),
        ),
        (
            "posthog",
            Analytics::builder()
                .api_key(TEST_API_KEY)
                .host(server.url()),
        ),
    ] {
        let options = DeliveryOptions {
            capacity: 2 * CALLS,
            ..DeliveryOptions::default()
        };
        let analytics = builder
            .delivery(options)
            .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
            .build()
            .unwrap();
        let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
        let start = Instant::now();
        for i in 0..CALLS {
            client
                .call_tool(call("add", serde_json::json!({"a": i, "b": 1})))
                .await
                .unwrap();
        }
        let calls = start.elapsed();
        let backlog = analytics.stats();
        assert!(analytics.flush(Duration::from_secs(120)).await);
        let total = start.elapsed();
        eprintln!(
            "{what}: {CALLS} calls in {calls:?} ({:.0}/s); backlog then {} queued + {} unbuilt; all delivered after \
             {total:?} ({:.0} events/s)",
            CALLS as f64 / calls.as_secs_f64(),
            backlog.queued,
            backlog.jobs_pending,
            analytics.stats().sent as f64 / total.as_secs_f64()
        );
        let _ = analytics.shutdown(Duration::from_secs(5)).await;
    }
}

fn main() {
    throughput_to_the_discard_sink();
    throughput_to_the_local_ingestion_server();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(throughput_of_tool_call_events_built_by_the_pipeline());
}
