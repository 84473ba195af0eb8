//! What each answer of PostHog does to a batch (the table in `docs/delivery.md`), how many batches are in flight,
//! and the summary logged when delivery stops, checked against the local ingestion server. Virtual time (a
//! `ManualClock`) drives every wait of the worker; real time only carries the HTTP round trips.

use std::time::Duration;

use posthog_mcp::clock::ManualClock;
use posthog_mcp::delivery::DeliveryOptions;
use posthog_mcp_tests::delivery::{advance_until, job, payload, posthog_delivery, test_options};
use posthog_mcp_tests::{Answer, IngestServer, logs};

const REAL: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_is_dropped_without_a_retry() {
    let server = IngestServer::start();
    server.answer_next([Answer::status(403)]);
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    for n in 0..10 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(delivery.flush(Duration::from_secs(10)).await);
    // Virtual time passing brings no resend either.
    clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.batch_requests().len(), 1, "one request, no retry");
    let stats = delivery.stats();
    assert_eq!(
        (stats.dropped_refused, stats.retried, stats.sent),
        (10, 0, 0)
    );
    assert!(stats.is_balanced());
    // Delivery goes on: the next batch is sent.
    delivery.enqueue(job(payload(10)));
    assert!(delivery.flush(Duration::from_secs(10)).await);
    assert_eq!(server.events().len(), 1);
    server.assert_wire_conventions();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_4xx_other_than_408_and_429_is_ever_retried() {
    for status in [403, 404, 405, 409, 410, 411, 415, 422, 451] {
        let server = IngestServer::start();
        server.answer_next([Answer::status(status)]);
        let clock = ManualClock::default();
        let delivery = posthog_delivery(&server, test_options(), &clock);
        delivery.enqueue(job(payload(1)));
        assert!(delivery.flush(Duration::from_secs(10)).await, "{status}");
        clock.advance(Duration::from_secs(60));
        assert_eq!(server.batch_requests().len(), 1, "{status} was retried");
        assert_eq!(delivery.stats().dropped_refused, 1, "{status}");
        let _ = delivery.shutdown(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_408_is_retried_and_delivered() {
    let server = IngestServer::start();
    server.answer_next([Answer::status(408)]);
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    delivery.enqueue(job(payload(1)));
    let done = advance_until(&clock, Duration::from_millis(200), REAL, || {
        server.events().len() == 1
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    let statuses: Vec<_> = server.batch_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [408, 200]);
    assert_eq!(delivery.stats().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_max_retries_a_failing_batch_is_dropped_and_counted() {
    let server = IngestServer::start();
    server.set_default(Answer::status(503));
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            max_retries: Some(3),
            ..test_options()
        },
        &clock,
    );
    for n in 0..5 {
        delivery.enqueue(job(payload(n)));
    }
    let done = advance_until(&clock, Duration::from_secs(1), REAL, || {
        delivery.stats().dropped_retries_exhausted == 5
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    // The first attempt and three retries, then nothing more.
    clock.advance(Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.batch_requests().len(), 4);
    let stats = delivery.stats();
    assert_eq!((stats.sent, stats.retried, stats.dropped()), (0, 15, 5));
    assert!(stats.is_balanced());
    server.assert_wire_conventions();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_max_retries_a_failing_batch_is_resent_until_it_goes_through() {
    let server = IngestServer::start();
    server.answer_next((0..12).map(|_| Answer::status(503)));
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    delivery.enqueue(job(payload(1)));
    let done = advance_until(&clock, Duration::from_secs(30), REAL, || {
        server.events().len() == 1
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    assert_eq!(server.batch_requests().len(), 13);
    assert_eq!(delivery.stats().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_batches_are_in_flight_at_once_but_never_more_than_max_in_flight() {
    let server = IngestServer::start();
    server.keep_bodies(false);
    server.set_default(Answer::ok().delayed(Duration::from_millis(200)));
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            batch_size: 10,
            max_in_flight: 3,
            ..test_options()
        },
        &clock,
    );
    for n in 0..200 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(delivery.flush(Duration::from_secs(20)).await);
    assert_eq!(server.events().len(), 200);
    assert_eq!(delivery.stats().sent, 200);
    let peak = server.peak_concurrent();
    assert!(peak <= 3, "{peak} requests at once");
    assert!(peak >= 2, "batches were sent one at a time");
    server.assert_wire_conventions();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_ingestion_fails_only_one_batch_is_in_flight() {
    let server = IngestServer::start();
    server.set_default(Answer::status(503).delayed(Duration::from_millis(50)));
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            batch_size: 10,
            max_in_flight: 4,
            ..test_options()
        },
        &clock,
    );
    for n in 0..100 {
        delivery.enqueue(job(payload(n)));
    }
    let _ = advance_until(
        &clock,
        Duration::from_millis(500),
        Duration::from_secs(2),
        || server.batch_requests().len() >= 6,
    )
    .await;
    assert_eq!(server.peak_concurrent(), 1);
    assert!(delivery.stats().in_flight <= 10, "{:?}", delivery.stats());
    let _ = delivery.shutdown(Duration::from_millis(100)).await;
}

#[test]
fn shutdown_logs_one_line_summing_up_delivery() {
    let logs = logs::capture(tracing::Level::INFO);

    let server = IngestServer::start();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            batch_size: 4,
            max_in_flight: 1,
            ..test_options()
        },
        &clock,
    );
    // Ten payloads in batches of four: the second batch is refused with a 403.
    server.answer_next([Answer::ok(), Answer::status(403)]);
    for n in 0..10 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(futures::executor::block_on(
        delivery.shutdown(Duration::from_secs(10))
    ));
    assert!(!delivery.enqueue(job(payload(99))));
    assert!(futures::executor::block_on(
        delivery.shutdown(Duration::from_secs(1))
    ));

    let text = logs.text();
    let summaries: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("delivery stopped"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary line:\n{text}");
    let line = summaries[0];
    assert!(line.contains("WARN"), "something was dropped: {line}");
    for field in [
        "sent=6",
        "dropped=4",
        "dropped_refused=4",
        "dropped_queue_full=0",
        "dropped_rejected=0",
        "dropped_retries_exhausted=0",
        "dropped_closed=0",
        "undelivered=0",
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
    // The later refused payload and second shutdown add no line; stats still count it.
    assert_eq!(delivery.stats().dropped_closed, 1);
}

#[test]
fn a_clean_shutdown_logs_its_summary_at_info() {
    let logs = logs::capture(tracing::Level::INFO);
    let server = IngestServer::start();
    let delivery = posthog_delivery(&server, test_options(), &ManualClock::default());
    for n in 0..3 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(futures::executor::block_on(
        delivery.shutdown(Duration::from_secs(10))
    ));
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("delivery stopped"))
        .unwrap_or_else(|| panic!("no summary in:\n{text}"));
    assert!(
        line.contains("INFO") && line.contains("sent=3") && line.contains("dropped=0"),
        "{line}"
    );
}

/// On a core shared with the host, a request that becomes ready must not wait for the worker's time slice: the
/// delivery threads run at the lowest normal priority (niceness 19).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_threads_run_at_the_lowest_normal_priority() {
    let server = IngestServer::start();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    delivery.enqueue(job(payload(0)));
    assert!(delivery.flush(Duration::from_secs(10)).await);
    let niceness: Vec<i64> = std::fs::read_dir("/proc/self/task")
        .expect("the process's threads")
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            if !name.starts_with("posthog-mcp-del") {
                return None;
            }
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // Fields after the parenthesised name: state is field 3, niceness field 19.
            let after_name = &stat[stat.rfind(')')? + 2..];
            after_name.split(' ').nth(16)?.parse().ok()
        })
        .collect();
    assert!(
        niceness.contains(&19),
        "delivery threads and their niceness: {niceness:?}"
    );
}
