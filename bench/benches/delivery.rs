//! Delivery costs, measured with criterion beside a baseline in the same run:
//!
//! - `enqueue`: what handing one payload to the delivery queue costs the request path, beside a bare bounded
//!   channel (`tokio::sync::mpsc::Sender::try_send` of the same boxed job);
//! - `delivery`: payloads per second from enqueue to the local ingestion server (gzip and plain bodies), beside
//!   the discard sink (the same worker with no HTTP at all).
//!
//! - `gzip level`: compressing one batch body of 100 such payloads at each gzip level (time per body; the
//!   compressed size is printed once per level), which chose the level the sink uses.
//!
//! Run with `cd bench && cargo bench --bench delivery`. The payloads look like tool-call events (about
//! 30 properties, with parameters and a response).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use posthog_mcp::clock::SystemClock;
use posthog_mcp::delivery::{Delivery, DeliveryOptions, Job, SinkKind};
use posthog_mcp::event::Payload;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::delivery::TEST_API_KEY;
use serde_json::json;

/// A payload shaped like a `$mcp_tool_call` event.
fn tool_call_payload(n: u64) -> Payload {
    let mut payload = Payload::new("$mcp_tool_call", format!("ses_{n:x}"), chrono::Utc::now());
    let props = &mut payload.properties;
    for (key, value) in [
        ("$mcp_source", json!("mcp")),
        ("$session_id", json!(format!("ses_{n:x}"))),
        ("$process_person_profile", json!(false)),
        ("$mcp_server_name", json!("calculator")),
        ("$mcp_server_version", json!("1.4.2")),
        ("$mcp_client_name", json!("bench-client")),
        ("$mcp_client_version", json!("0.9.0")),
        ("$mcp_protocol_version", json!("2025-06-18")),
        ("$mcp_tool_name", json!("add")),
        ("$mcp_method", json!("tools/call")),
        ("$mcp_duration_ms", json!(3)),
        ("$mcp_is_error", json!(false)),
        (
            "$mcp_parameters",
            json!({"request": {"id": n, "jsonrpc": "2.0", "method": "tools/call",
                    "params": {"name": "add", "arguments": {"a": n, "b": 1}}}}),
        ),
        (
            "$mcp_response",
            json!({"content": [{"type": "text", "text": (n + 1).to_string()}], "isError": false}),
        ),
        (
            "$mcp_intent",
            json!("Adds two numbers to check the total of an invoice line"),
        ),
        ("$lib", json!(posthog_mcp::event::LIB_NAME)),
        ("$lib_version", json!(posthog_mcp::event::LIB_VERSION)),
        ("$is_server", json!(true)),
        ("$geoip_disable", json!(true)),
    ] {
        props.insert(key.into(), value);
    }
    payload
}

fn job(n: u64) -> Job {
    let payload = tool_call_payload(n);
    Box::new(move || vec![payload])
}

fn options(capacity: usize, gzip: bool) -> DeliveryOptions {
    DeliveryOptions {
        capacity,
        max_bytes: usize::MAX,
        gzip,
        ..DeliveryOptions::default()
    }
}

/// The request path's cost of one hand-over. Each sample enqueues its jobs (timed), then drains (untimed), so the
/// queue never fills and every hand-over is measured on the accepting path.
fn enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));

    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Job>(1 << 22);
    let (drained_tx, drained_rx) = std::sync::mpsc::channel::<u64>();
    let (count_tx, count_rx) = std::sync::mpsc::channel::<u64>();
    let drain = std::thread::spawn(move || {
        let mut done = 0u64;
        while let Ok(target) = count_rx.recv() {
            while done < target {
                match receiver.blocking_recv() {
                    Some(job) => drop(job()),
                    None => return,
                }
                done += 1;
            }
            let _ = drained_tx.send(done);
        }
    });
    let mut handed = 0u64;
    group.bench_function("baseline: bounded channel try_send", |b| {
        b.iter_custom(|iters| {
            let jobs: Vec<Job> = (0..iters).map(job).collect();
            let start = Instant::now();
            for job in jobs {
                assert!(sender.try_send(job).is_ok());
            }
            let took = start.elapsed();
            handed += iters;
            count_tx.send(handed).unwrap();
            drained_rx.recv().unwrap();
            took
        })
    });
    drop(count_tx);
    drop(sender);
    let _ = drain.join();

    let delivery = Delivery::start(
        options(1 << 22, true),
        SinkKind::Discard,
        Arc::new(SystemClock::default()),
    );
    group.bench_function("posthog-mcp: Delivery::enqueue", |b| {
        b.iter_custom(|iters| {
            let jobs: Vec<Job> = (0..iters).map(job).collect();
            let start = Instant::now();
            for job in jobs {
                assert!(delivery.enqueue(job));
            }
            let took = start.elapsed();
            assert!(delivery.flush_blocking(Duration::from_secs(60)));
            took
        })
    });
    assert_eq!(delivery.stats().dropped(), 0);
    group.finish();
}

/// Payloads per second from enqueue until the sink has them all.
fn delivery(c: &mut Criterion) {
    const N: u64 = 2_000;
    let mut group = c.benchmark_group("delivery");
    group.throughput(Throughput::Elements(N));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));

    let server = IngestServer::start();
    server.keep_bodies(false);
    let posthog = SinkKind::PostHog {
        api_key: TEST_API_KEY.into(),
        host: server.url(),
    };
    for (name, sink, gzip) in [
        ("baseline: discard sink", SinkKind::Discard, true),
        ("local ingestion server, gzip", posthog.clone(), true),
        ("local ingestion server, plain", posthog, false),
    ] {
        let delivery = Delivery::start(
            options(1 << 20, gzip),
            sink,
            Arc::new(SystemClock::default()),
        );
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let jobs: Vec<Job> = (0..N).map(job).collect();
                    let start = Instant::now();
                    for job in jobs {
                        assert!(delivery.enqueue(job));
                    }
                    assert!(delivery.flush_blocking(Duration::from_secs(60)));
                    took += start.elapsed();
                }
                took
            })
        });
        let stats = delivery.stats();
        assert_eq!(stats.dropped(), 0, "{stats:?}");
        assert_eq!(stats.sent, stats.enqueued, "{stats:?}");
    }
    group.finish();
}

/// gzip levels on one batch body of 100 tool-call payloads, written as the sink writes it.
fn gzip_level(c: &mut Criterion) {
    use std::io::Write;
    let payloads: Vec<Payload> = (0..100).map(tool_call_payload).collect();
    let mut body = br#"{"api_key":"phc_bench","batch":["#.to_vec();
    for (i, payload) in payloads.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        payload.write_json(&mut body);
    }
    body.extend_from_slice(br#"],"sent_at":"2026-12-01T22:30:00.000Z"}"#);
    let compress = |level: u32| {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(&body).unwrap();
        encoder.finish().unwrap()
    };
    let mut group = c.benchmark_group("gzip level");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.measurement_time(Duration::from_secs(2));
    for level in [1, 2, 3, 4, 6, 9] {
        let size = compress(level).len();
        eprintln!(
            "gzip level {level}: {} bytes -> {size} bytes (ratio {:.2}, {:.1}% of the original)",
            body.len(),
            body.len() as f64 / size as f64,
            100.0 * size as f64 / body.len() as f64
        );
        group.bench_function(format!("level {level}"), |b| {
            b.iter(|| compress(level).len())
        });
    }
    group.finish();
}

criterion_group!(benches, enqueue, delivery, gzip_level);
criterion_main!(benches);
