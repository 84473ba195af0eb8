//! Unit tests of the queue, worker and policy, without HTTP (the fault tests against a real HTTP server live in
//! `tests/tests/delivery_*.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::retry::{Outcome, PauseCause};
use super::sink::Sink;
use super::sink::tests_support::ScriptedSink;
use super::*;
use crate::clock::ManualClock;

fn payload(n: usize) -> Payload {
    let mut payload = Payload::new("$mcp_tool_call", format!("user-{n}"), chrono::Utc::now());
    payload.properties.insert("n".into(), serde_json::json!(n));
    payload
}

fn job(n: usize) -> Job {
    Box::new(move || vec![payload(n)])
}

/// Polls `condition` for up to five real seconds (the worker runs on its own thread).
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn options() -> DeliveryOptions {
    DeliveryOptions {
        drop_timeout: Duration::from_millis(200),
        ..DeliveryOptions::default()
    }
}

fn scripted(
    options: DeliveryOptions,
    script: Vec<Outcome>,
) -> (Delivery, ScriptedSink, ManualClock) {
    let sink = ScriptedSink::default();
    sink.script.lock().unwrap().extend(script);
    let clock = ManualClock::default();
    let delivery = Delivery::start_with_sink(
        options,
        Sink::Scripted(sink.clone()),
        Arc::new(clock.clone()),
    );
    (delivery, sink, clock)
}

fn attempts(sink: &ScriptedSink) -> usize {
    sink.seen.lock().unwrap().len()
}

#[test]
fn a_flush_delivers_everything_to_the_memory_sink_in_batches() {
    let memory = MemorySink::new();
    let clock = ManualClock::default();
    let delivery = Delivery::start(options(), SinkKind::Memory(memory.clone()), Arc::new(clock));
    for n in 0..250 {
        assert!(delivery.enqueue(job(n)));
    }
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    let delivered = memory.payloads();
    assert_eq!(delivered.len(), 250);
    let order: Vec<_> = delivered
        .iter()
        .map(|p| p.properties["n"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(order, (0..250).collect::<Vec<_>>(), "FIFO order is kept");
    let stats = delivery.stats();
    assert_eq!(
        (stats.enqueued, stats.sent, stats.queued, stats.in_flight),
        (250, 250, 0, 0)
    );
    assert!(stats.is_balanced());
}

/// A memory-sink worker on a manual clock with three payloads handed over, its sender waiting for the batch
/// interval.
fn three_waiting_for_the_interval() -> (Delivery, MemorySink, ManualClock) {
    let memory = MemorySink::new();
    let clock = ManualClock::default();
    let delivery = Delivery::start(
        options(),
        SinkKind::Memory(memory.clone()),
        Arc::new(clock.clone()),
    );
    for n in 0..3 {
        delivery.enqueue(job(n));
    }
    wait_until("three payloads queued", || delivery.stats().queued == 3);
    wait_until("the sender sleeps on the clock", || clock.sleepers() > 0);
    (delivery, memory, clock)
}

#[test]
fn a_partial_batch_waits_for_the_interval_on_the_injected_clock() {
    let (_delivery, memory, clock) = three_waiting_for_the_interval();
    assert!(memory.is_empty());
    clock.advance(Duration::from_millis(999));
    std::thread::sleep(Duration::from_millis(20));
    assert!(memory.is_empty(), "nothing leaves before the interval");
    clock.advance(Duration::from_millis(1));
    wait_until("the batch leaves at 1 s", || memory.len() == 3);
}

#[test]
fn a_delivered_batch_is_freed_by_the_parked_intake_it_wakes() {
    let (delivery, memory, clock) = three_waiting_for_the_interval();
    wait_until("the intake has parked", || {
        delivery.inner.shared.lock().intake_idle
    });
    let queued_bytes = delivery.stats().held_bytes;
    assert!(queued_bytes > 0, "the built payloads count until they are freed");
    clock.advance(Duration::from_secs(1));
    wait_until("the batch leaves", || memory.len() == 3);
    // The sent batch goes back to the thread that built it; no new job arrives, so only the sender's wake-up
    // lets the intake free it.
    wait_until("the batch is freed", || delivery.stats().held_bytes == 0);
    let state = delivery.inner.shared.lock();
    assert!(state.spent.is_empty() && state.spent_bytes == 0);
}

#[test]
fn a_full_batch_leaves_without_waiting_for_the_interval() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        DeliveryOptions {
            batch_size: 10,
            ..options()
        },
        SinkKind::Memory(memory.clone()),
        Arc::new(ManualClock::default()),
    );
    for n in 0..25 {
        delivery.enqueue(job(n));
    }
    wait_until("two full batches", || memory.len() == 20);
    // The other five are built on the worker's intake, possibly after the two batches left: wait for them to be
    // queued, then check that they stay, waiting for the interval the injected clock never reaches.
    wait_until("the other five queued", || delivery.stats().queued == 5);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(memory.len(), 20, "a partial batch waits for the interval");
    assert_eq!(delivery.stats().queued, 5);
}

#[test]
fn a_panicking_job_loses_only_its_own_payloads() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        options(),
        SinkKind::Memory(memory.clone()),
        Arc::new(ManualClock::default()),
    );
    delivery.enqueue(job(1));
    delivery.enqueue(Box::new(|| panic!("boom while building")));
    delivery.enqueue(job(2));
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(memory.len(), 2);
    let stats = delivery.stats();
    assert_eq!(stats.jobs_failed, 1);
    assert!(stats.is_balanced());
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_it() {
    // Everything fails, so nothing leaves: capacity 10 plus one in-flight batch of 5 are kept.
    let (delivery, _sink, _clock) = scripted(
        DeliveryOptions {
            capacity: 10,
            batch_size: 5,
            ..options()
        },
        (0..1000)
            .map(|_| Outcome::Transient {
                reason: "down".into(),
            })
            .collect(),
    );
    let mut accepted = 0;
    for n in 0..100 {
        if delivery.enqueue(job(n)) {
            accepted += 1;
        }
        let stats = delivery.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        // Let the worker take the first batch in flight.
        if n == 4 {
            wait_until("first batch in flight", || delivery.stats().in_flight == 5);
        }
    }
    wait_until("all jobs built", || delivery.stats().jobs_pending == 0);
    let stats = delivery.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!(stats.in_flight, 5);
    assert_eq!(stats.queued, 10);
    assert_eq!(accepted, 15);
    assert_eq!(stats.dropped_queue_full, 85);
}

#[test]
fn a_byte_bound_drops_payloads_beyond_it() {
    let (delivery, _sink, _clock) = scripted(
        DeliveryOptions {
            max_bytes: super::size::held_size(&payload(0)) * 3 + 10,
            batch_size: 1000,
            ..options()
        },
        vec![],
    );
    for n in 0..5 {
        delivery.enqueue(job(n));
    }
    wait_until("all built", || delivery.stats().jobs_pending == 0);
    let stats = delivery.stats();
    assert_eq!((stats.queued, stats.dropped_queue_full), (3, 2));
}

#[test]
fn retry_after_is_honoured_on_the_injected_clock() {
    let (delivery, sink, clock) = scripted(
        options(),
        vec![Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        }],
    );
    delivery.enqueue(job(1));
    let flushed = std::thread::spawn({
        let delivery = delivery.clone();
        move || delivery.flush_blocking(Duration::from_secs(5))
    });
    wait_until("first attempt", || attempts(&sink) == 1);
    wait_until("backoff sleeping", || clock.sleepers() > 0);
    clock.advance(Duration::from_millis(1999));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(attempts(&sink), 1, "no request before Retry-After");
    clock.advance(Duration::from_millis(1));
    wait_until("second attempt", || attempts(&sink) == 2);
    assert!(flushed.join().unwrap());
    assert_eq!(sink.delivered.lock().unwrap().len(), 1);
    assert_eq!(delivery.stats().retried, 1);
}

#[test]
fn a_rate_limit_without_retry_after_is_retried_never_dropped() {
    let script = (0..6)
        .map(|_| Outcome::RateLimited { retry_after: None })
        .collect();
    let (delivery, sink, clock) = scripted(options(), script);
    delivery.enqueue(job(1));
    // The first wait is the batch interval, then one backoff per 429.
    for attempt in 1..=7 {
        wait_until("the worker sleeping", || clock.sleepers() > 0);
        clock.advance(Duration::from_secs(30));
        wait_until("attempt", || attempts(&sink) == attempt);
    }
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    let stats = delivery.stats();
    assert_eq!((stats.sent, stats.dropped()), (1, 0));
    let uuids: Vec<_> = sink
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|b| b[0].uuid)
        .collect();
    assert!(
        uuids.windows(2).all(|w| w[0] == w[1]),
        "every resend carries the same uuid"
    );
}

#[test]
fn a_rejected_payload_is_isolated_and_only_it_is_dropped() {
    let (delivery, sink, _clock) = scripted(
        DeliveryOptions {
            batch_size: 16,
            ..options()
        },
        vec![],
    );
    let bad = payload(7);
    let bad_uuid = bad.uuid;
    *sink.reject.lock().unwrap() = Some(Box::new(move |p| p.uuid == bad_uuid));
    for n in 0..16 {
        if n == 7 {
            let bad = bad.clone();
            delivery.enqueue(Box::new(move || vec![bad]));
        } else {
            delivery.enqueue(job(n));
        }
    }
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    let delivered = sink.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 15);
    assert!(delivered.iter().all(|p| p.uuid != bad_uuid));
    let stats = delivery.stats();
    assert_eq!(
        (stats.sent, stats.dropped_rejected, stats.dropped()),
        (15, 1, 1)
    );
    assert!(stats.is_balanced());
    // Bisection: 16 → 8 + 8 → 4 + 4 → 2 + 2 → 1 + 1, so log2(16) + 1 rejected attempts at most.
    assert!(
        attempts(&sink) <= 1 + 2 * 4 + 1,
        "{} attempts",
        attempts(&sink)
    );
}

#[test]
fn an_unauthorized_key_pauses_delivery_while_events_keep_queueing() {
    let (delivery, sink, clock) = scripted(
        DeliveryOptions {
            batch_size: 2,
            ..options()
        },
        vec![Outcome::Paused {
            cause: PauseCause::Unauthorized,
        }],
    );
    delivery.enqueue(job(1));
    delivery.enqueue(job(2));
    wait_until("first attempt", || attempts(&sink) == 1);
    for n in 3..10 {
        delivery.enqueue(job(n));
    }
    wait_until("queued", || delivery.stats().queued == 7);
    assert_eq!(attempts(&sink), 1, "paused: no further requests");
    wait_until("probe timer", || clock.sleepers() > 0);
    clock.advance(Duration::from_secs(30));
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(sink.delivered.lock().unwrap().len(), 9);
}

#[test]
fn shutdown_drains_then_refuses_new_jobs() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        options(),
        SinkKind::Memory(memory.clone()),
        Arc::new(ManualClock::default()),
    );
    for n in 0..5000 {
        delivery.enqueue(job(n));
    }
    assert!(futures::executor::block_on(
        delivery.shutdown(Duration::from_secs(10))
    ));
    assert_eq!(memory.len(), 5000);
    assert!(!delivery.enqueue(job(0)));
    let stats = delivery.stats();
    assert_eq!(stats.held_bytes, 0, "a stopped worker holds nothing: {stats:?}");
    assert_eq!(stats.dropped_closed, 1);
    assert!(stats.is_balanced());
    assert!(futures::executor::block_on(
        delivery.shutdown(Duration::from_secs(1))
    ));
}

#[test]
fn dropping_the_last_handle_drains() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        options(),
        SinkKind::Memory(memory.clone()),
        Arc::new(ManualClock::default()),
    );
    for n in 0..50 {
        delivery.enqueue(job(n));
    }
    drop(delivery);
    assert_eq!(memory.len(), 50);
}

#[test]
fn the_local_sink_writes_json_lines_to_a_file() {
    let path =
        std::env::temp_dir().join(format!("posthog-mcp-local-{}.jsonl", uuid::Uuid::new_v4()));
    let delivery = Delivery::start(
        options(),
        SinkKind::Local(LocalTarget::File(path.clone())),
        Arc::new(ManualClock::default()),
    );
    delivery.enqueue(job(1));
    delivery.enqueue(job(2));
    assert!(futures::executor::block_on(
        delivery.shutdown(Duration::from_secs(5))
    ));
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], payload_json(&lines[0]));
    assert_eq!(lines[1]["properties"]["n"], 2);
}

fn payload_json(value: &serde_json::Value) -> serde_json::Value {
    let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["event", "distinct_id", "properties", "timestamp", "uuid"]
    );
    value.clone()
}

#[test]
fn http_statuses_map_onto_the_policy() {
    use super::sink::classify_status;
    assert_eq!(classify_status(200, None), Outcome::Delivered);
    assert_eq!(classify_status(204, None), Outcome::Delivered);
    assert_eq!(
        classify_status(429, Some(Duration::from_secs(3))),
        Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    assert!(matches!(
        classify_status(408, None),
        Outcome::Transient { .. }
    ));
    for status in [500, 502, 503, 504, 599] {
        assert!(
            matches!(classify_status(status, None), Outcome::Transient { reason } if reason == format!("HTTP {status}"))
        );
    }
    for status in [400, 413] {
        assert!(matches!(
            classify_status(status, None),
            Outcome::Rejected { .. }
        ));
    }
    assert_eq!(
        classify_status(401, None),
        Outcome::Paused {
            cause: PauseCause::Unauthorized
        }
    );
    assert_eq!(
        classify_status(402, None),
        Outcome::Paused {
            cause: PauseCause::BillingLimit
        }
    );
    for status in [403, 404, 405, 409, 410, 415, 422, 451, 499] {
        assert!(
            matches!(classify_status(status, None), Outcome::Refused { reason } if reason == format!("HTTP {status}")),
            "{status} is dropped, not retried"
        );
    }
}

#[test]
fn a_batch_body_is_the_batch_envelope_with_the_payloads_in_order() {
    let payloads: Vec<Payload> = (0..3).map(payload).collect();
    let refs: Vec<&Payload> = payloads.iter().collect();
    let sent_at = chrono::DateTime::parse_from_rfc3339("2026-12-01T22:30:00.123456Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let body = super::sink::encode_batch("phc_\"key", &refs, sent_at);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["api_key", "batch", "sent_at"]);
    assert_eq!(json["api_key"], "phc_\"key");
    assert_eq!(json["sent_at"], "2026-12-01T22:30:00.123Z");
    let items: Vec<_> = payloads.iter().map(Payload::to_json).collect();
    assert_eq!(json["batch"], serde_json::Value::Array(items));
    let unzipped = {
        use std::io::Read;
        let zipped = super::sink::gzip(&body, super::sink::GZIP_LEVEL).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    assert_eq!(unzipped, body);
}

#[test]
fn the_clock_is_only_used_for_waits() {
    // The worker's waits run on the injected clock, not on real time: with a 10 ms interval, a lone payload is
    // still queued after 20 intervals of real time, and leaves once the manual clock moves by one interval.
    let clock = ManualClock::default();
    let memory = MemorySink::new();
    let interval = Duration::from_millis(10);
    let delivery = Delivery::start(
        DeliveryOptions {
            flush_interval: interval,
            ..options()
        },
        SinkKind::Memory(memory.clone()),
        Arc::new(clock.clone()),
    );
    delivery.enqueue(job(1));
    wait_until("queued", || delivery.stats().queued == 1);
    wait_until("the sender sleeps on the clock", || clock.sleepers() > 0);
    std::thread::sleep(interval * 20);
    assert!(memory.is_empty(), "real time alone sent the batch");
    assert_eq!(delivery.stats().queued, 1);
    clock.advance(interval);
    wait_until("the batch leaves on the manual clock", || memory.len() == 1);
}

#[test]
fn a_stuck_job_does_not_make_flush_overrun_its_timeout() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        options(),
        SinkKind::Memory(memory),
        Arc::new(ManualClock::default()),
    );
    delivery.enqueue(Box::new(|| {
        std::thread::sleep(Duration::from_secs(2));
        vec![]
    }));
    let start = Instant::now();
    assert!(!delivery.flush_blocking(Duration::from_millis(100)));
    assert!(!futures::executor::block_on(
        delivery.flush(Duration::from_millis(100))
    ));
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn the_last_handle_dropped_inside_a_job_does_not_deadlock() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        options(),
        SinkKind::Memory(memory.clone()),
        Arc::new(ManualClock::default()),
    );
    let captured = delivery.clone();
    let shared = delivery.inner.shared.clone();
    delivery.enqueue(job(1));
    delivery.enqueue(Box::new(move || {
        drop(captured);
        vec![payload(2)]
    }));
    drop(delivery);
    wait_until("the worker stopped", || *shared.exited.borrow());
}

#[test]
fn the_size_estimate_is_close_to_the_encoded_length() {
    let mut p = payload(12345);
    p.properties.insert(
        "nested".into(),
        serde_json::json!({"a": [1, true, null, "text"], "b": {"c": 1.5}}),
    );
    p.properties
        .insert("long".into(), serde_json::json!("x".repeat(10_000)));
    let exact = p.encoded_len() as f64;
    let estimate = super::size::estimated_len(&p) as f64;
    assert!(
        (estimate - exact).abs() / exact < 0.05,
        "estimate {estimate} vs exact {exact}"
    );
}

#[test]
fn after_a_batch_is_refused_for_its_size_later_batches_are_smaller() {
    let (delivery, sink, _clock) = scripted(options(), vec![]);
    *sink.max_batch.lock().unwrap() = Some(10);
    for n in 0..400 {
        delivery.enqueue(job(n));
    }
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(sink.delivered.lock().unwrap().len(), 400);
    assert_eq!(delivery.stats().dropped(), 0);
    let seen = sink.seen.lock().unwrap();
    let refused = seen.iter().filter(|batch| batch.len() > 10).count();
    // The first batch of 100 is bisected down to parts of 6 or 7 (1 + 2 + 4 + 8 = 15 refused parts); later
    // batches fit at once (without adapting, each of the 4 batches would cost 15).
    assert_eq!(refused, 15);
    let limit = delivery.inner.shared.lock().batch_limit;
    assert!(limit.is_some_and(|limit| limit <= 10), "{limit:?}");
}

#[test]
fn an_isolated_poison_payload_does_not_shrink_later_batches() {
    let (delivery, sink, _clock) = scripted(options(), vec![]);
    let bad = payload(0);
    let bad_uuid = bad.uuid;
    *sink.reject.lock().unwrap() = Some(Box::new(move |p| p.uuid == bad_uuid));
    delivery.enqueue(Box::new(move || vec![bad]));
    for n in 1..100 {
        delivery.enqueue(job(n));
    }
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(delivery.stats().dropped_rejected, 1);
    assert_eq!(delivery.inner.shared.lock().batch_limit, None);
}

#[test]
fn a_refused_batch_is_dropped_without_a_retry_and_counted() {
    let (delivery, sink, _clock) = scripted(
        options(),
        vec![Outcome::Refused {
            reason: "HTTP 403".into(),
        }],
    );
    for n in 0..5 {
        delivery.enqueue(job(n));
    }
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(attempts(&sink), 1, "no resend, no split");
    let stats = delivery.stats();
    assert_eq!(
        (
            stats.dropped_refused,
            stats.dropped(),
            stats.retried,
            stats.sent
        ),
        (5, 5, 0, 0)
    );
    assert!(stats.is_balanced());
    delivery.enqueue(job(9));
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(delivery.stats().sent, 1, "later batches are still sent");
}

#[test]
fn a_batch_still_failing_after_max_retries_is_dropped_and_counted() {
    let script = (0..10)
        .map(|_| Outcome::Transient {
            reason: "down".into(),
        })
        .collect();
    let (delivery, sink, clock) = scripted(
        DeliveryOptions {
            max_retries: Some(2),
            ..options()
        },
        script,
    );
    for n in 0..4 {
        delivery.enqueue(job(n));
    }
    let flushed = std::thread::spawn({
        let delivery = delivery.clone();
        move || delivery.flush_blocking(Duration::from_secs(5))
    });
    // The first attempt, then two resends after a backoff each.
    for attempt in 1..=3 {
        wait_until("attempt", || attempts(&sink) == attempt);
        if attempt < 3 {
            wait_until("backoff sleeping", || clock.sleepers() > 0);
            clock.advance(Duration::from_secs(30));
        }
    }
    assert!(flushed.join().unwrap());
    assert_eq!(attempts(&sink), 3, "no fourth attempt");
    let stats = delivery.stats();
    assert_eq!(
        (stats.dropped_retries_exhausted, stats.retried, stats.sent),
        (4, 8, 0)
    );
    assert!(stats.is_balanced());
}

#[test]
fn a_rate_limit_counts_towards_max_retries_but_a_pause_does_not() {
    let script = vec![
        Outcome::Paused {
            cause: PauseCause::Unauthorized,
        },
        Outcome::Paused {
            cause: PauseCause::Unauthorized,
        },
        Outcome::RateLimited { retry_after: None },
    ];
    let (delivery, sink, clock) = scripted(
        DeliveryOptions {
            max_retries: Some(1),
            ..options()
        },
        script,
    );
    delivery.enqueue(job(1));
    let flushed = std::thread::spawn({
        let delivery = delivery.clone();
        move || delivery.flush_blocking(Duration::from_secs(5))
    });
    for attempt in 1..=4 {
        wait_until("attempt", || attempts(&sink) == attempt);
        if attempt < 4 {
            wait_until("waiting on the clock", || clock.sleepers() > 0);
            clock.advance(Duration::from_secs(30));
        }
    }
    assert!(flushed.join().unwrap());
    let stats = delivery.stats();
    assert_eq!((stats.sent, stats.dropped()), (1, 0), "{stats:?}");
}

#[test]
fn the_stderr_sink_writes_one_short_readable_line_per_event() {
    let mut call = Payload::new("$mcp_tool_call", "user-1", chrono::Utc::now());
    for (key, value) in [
        ("$mcp_tool_name", serde_json::json!("math.add")),
        ("$mcp_duration_ms", serde_json::json!(3)),
        ("$mcp_is_error", serde_json::json!(false)),
        (
            "$mcp_parameters",
            serde_json::json!({"secret": "do not print"}),
        ),
        (
            "$mcp_intent",
            serde_json::json!("agent text, never printed"),
        ),
    ] {
        call.properties.insert(key.into(), value);
    }
    let mut failed = Payload::new("$mcp_resource_read", "ses_1", chrono::Utc::now());
    failed
        .properties
        .insert("$mcp_resource_name".into(), serde_json::json!("mem://x"));
    failed
        .properties
        .insert("$mcp_is_error".into(), serde_json::json!(true));
    let identify = Payload::new("$identify", "user-1", chrono::Utc::now());
    let mut out = Vec::new();
    for payload in [&call, &failed, &identify] {
        super::sink::human_line(payload, &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "posthog-mcp event: $mcp_tool_call tool=math.add duration=3ms outcome=ok distinct_id=user-1",
            "posthog-mcp event: $mcp_resource_read tool=mem://x outcome=error distinct_id=ses_1",
            "posthog-mcp event: $identify distinct_id=user-1",
        ]
    );
}

#[test]
fn jobs_holding_more_bytes_than_the_bound_are_refused_and_counted() {
    // Paused delivery: nothing leaves, so what the jobs hold adds up.
    let (delivery, sink, _clock) = scripted(
        DeliveryOptions {
            max_bytes: 10_000,
            batch_size: 1,
            ..options()
        },
        vec![Outcome::Paused {
            cause: PauseCause::Unauthorized,
        }],
    );
    assert!(delivery.enqueue_sized(job(0), 100));
    wait_until("first attempt", || attempts(&sink) == 1);
    let mut refused = 0;
    for n in 1..=20 {
        if !delivery.enqueue_sized(job(n), 4_000) {
            refused += 1;
        }
    }
    assert!(refused >= 17, "at most two 4 KB jobs fit in 10 KB: {refused} refused");
    let stats = delivery.stats();
    assert_eq!(stats.dropped_queue_full, refused);
    assert!(stats.is_balanced());
}

#[test]
fn a_shutdown_that_runs_out_of_time_counts_what_it_abandons_as_dropped() {
    let (delivery, sink, _clock) = scripted(
        DeliveryOptions {
            batch_size: 2,
            ..options()
        },
        vec![Outcome::Paused {
            cause: PauseCause::Unauthorized,
        }],
    );
    for n in 0..10 {
        delivery.enqueue(job(n));
    }
    wait_until("first attempt", || attempts(&sink) == 1);
    wait_until("built", || delivery.stats().jobs_pending == 0);
    assert!(!futures::executor::block_on(
        delivery.shutdown(Duration::from_millis(100))
    ));
    let stats = delivery.stats();
    assert_eq!(stats.queued + stats.in_flight, 0, "nothing is left as queued: {stats:?}");
    assert_eq!(stats.dropped_closed, 10, "{stats:?}");
    assert!(stats.is_balanced());
}

/// A reusable job that records where its box went.
struct Counted {
    n: usize,
    panics: bool,
    recycled: Arc<std::sync::Mutex<Vec<(usize, std::thread::ThreadId)>>>,
}

impl ReusableJob for Counted {
    fn run(&mut self) -> Vec<Payload> {
        assert!(!self.panics, "boom while building");
        vec![payload(self.n)]
    }

    fn recycle(self: Box<Self>) {
        let recycled = self.recycled.clone();
        recycled
            .lock()
            .unwrap()
            .push((self.n, std::thread::current().id()));
    }
}

#[test]
fn a_reusable_job_is_recycled_after_it_runs_or_when_refused_but_not_after_a_panic() {
    let memory = MemorySink::new();
    let delivery = Delivery::start(
        DeliveryOptions {
            max_bytes: 10_000,
            ..options()
        },
        SinkKind::Memory(memory.clone()),
        Arc::new(ManualClock::default()),
    );
    let recycled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let counted = |n, panics| {
        Box::new(Counted {
            n,
            panics,
            recycled: recycled.clone(),
        })
    };
    assert!(delivery.enqueue_reusable(counted(1, false), 100));
    assert!(delivery.enqueue_reusable(counted(2, true), 100));
    // More than the byte bound: refused on this thread, and its box handed back here.
    assert!(!delivery.enqueue_reusable(counted(3, false), 1_000_000));
    assert!(delivery.flush_blocking(Duration::from_secs(5)));
    assert_eq!(memory.len(), 1);
    let here = std::thread::current().id();
    let seen = recycled.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "the panicked job's box is dropped: {seen:?}");
    assert!(seen.contains(&(3, here)), "{seen:?}");
    assert!(
        seen.iter().any(|&(n, thread)| n == 1 && thread != here),
        "the run job is recycled on the worker: {seen:?}"
    );
    let stats = delivery.stats();
    assert_eq!(stats.jobs_failed, 1);
    assert_eq!(stats.dropped_queue_full, 1);
    assert!(stats.is_balanced(), "{stats:?}");
}
