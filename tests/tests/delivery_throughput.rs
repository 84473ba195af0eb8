//! Throughput figures (printed; run with `--nocapture`): enqueue cost per payload, and end-to-end delivery rate
//! to the local ingestion server. Assertions are loose; the numbers are for the closing note.

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

#[test]
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

#[test]
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
