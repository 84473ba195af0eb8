//! Delivery against a real local ingestion server scripted to fail. Virtual time (a `ManualClock`) drives every
//! wait of the worker; real time only carries the HTTP round trips.

use std::collections::HashSet;
use std::time::Duration;

use posthog_mcp::clock::ManualClock;
use posthog_mcp::delivery::DeliveryOptions;
use posthog_mcp_tests::delivery::{
    advance_until, eventually, job, payload, posthog_delivery, test_options,
};
use posthog_mcp_tests::{Answer, IngestServer};

const REAL: Duration = Duration::from_secs(20);

fn uuids(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_exactly_once(events: &[serde_json::Value], expected: &[String]) {
    let arrived = uuids(events);
    let unique: HashSet<_> = arrived.iter().collect();
    assert_eq!(unique.len(), arrived.len(), "no payload arrives twice");
    let expected: HashSet<_> = expected.iter().collect();
    assert_eq!(unique, expected, "every payload arrives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_down_for_five_virtual_seconds_then_up_delivers_every_payload_exactly_once() {
    let server = IngestServer::start();
    server.go_down();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            batch_size: 50,
            ..test_options()
        },
        &clock,
    );
    let mut expected = Vec::new();
    for n in 0..120 {
        let p = payload(n);
        expected.push(p.uuid.to_string());
        delivery.enqueue(job(p));
    }
    // Five seconds of virtual time with ingestion refusing connections.
    for _ in 0..50 {
        clock.advance(Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The worker runs at the lowest priority: on a busy machine its attempts may trail the clock in real time.
    let retried = eventually(REAL, || delivery.stats().retried > 0).await;
    assert!(
        retried && delivery.stats().sent == 0,
        "{:?}",
        delivery.stats()
    );
    server.come_up();
    let done = advance_until(&clock, Duration::from_millis(500), REAL, || {
        server.events().len() >= 120
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    assert!(delivery.shutdown(Duration::from_secs(5)).await);
    assert_exactly_once(&server.events(), &expected);
    let stats = delivery.stats();
    assert_eq!((stats.sent, stats.dropped()), (120, 0));
    assert!(stats.is_balanced());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_server_errors_then_success_deliver_everything() {
    let server = IngestServer::start();
    server.answer_next([
        Answer::status(500),
        Answer::status(500),
        Answer::status(500),
    ]);
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    let mut expected = Vec::new();
    for n in 0..10 {
        let p = payload(n);
        expected.push(p.uuid.to_string());
        delivery.enqueue(job(p));
    }
    let done = advance_until(&clock, Duration::from_millis(200), REAL, || {
        server.events().len() >= 10
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    let requests = server.batch_requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 500, 200]
    );
    assert!(
        requests.iter().all(|r| r.uuids() == expected),
        "every resend carries the same uuids"
    );
    assert_exactly_once(&server.events(), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_with_retry_after_waits_that_long_before_the_next_request() {
    // The worker reads `Retry-After` itself and waits on the injected clock.
    let server = IngestServer::start();
    server.answer_next([Answer::status(429).retry_after(2)]);
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    delivery.enqueue(job(payload(1)));
    let flushing = tokio::spawn({
        let delivery = delivery.clone();
        async move { delivery.flush(Duration::from_secs(20)).await }
    });
    assert!(
        eventually(REAL, || delivery.stats().retried == 1
            && clock.sleepers() > 0)
        .await
    );
    // Just short of two virtual seconds: nothing is resent.
    clock.advance(Duration::from_millis(1999));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.batch_requests().len(),
        1,
        "no resend before Retry-After"
    );
    clock.advance(Duration::from_millis(1));
    assert!(flushing.await.unwrap());
    let requests = server.batch_requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    assert_eq!(requests[0].uuids(), requests[1].uuids());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    let server = IngestServer::start();
    let clock = ManualClock::default();
    let now = chrono::DateTime::<chrono::Utc>::from(posthog_mcp::clock::Clock::now(&clock));
    let at = (now + chrono::Duration::seconds(5)).to_rfc2822();
    server.answer_next([Answer::status(429).retry_after(at)]);
    let delivery = posthog_delivery(&server, test_options(), &clock);
    delivery.enqueue(job(payload(1)));
    let flushing = tokio::spawn({
        let delivery = delivery.clone();
        async move { delivery.flush(Duration::from_secs(20)).await }
    });
    assert!(
        eventually(REAL, || delivery.stats().retried == 1
            && clock.sleepers() > 0)
        .await
    );
    clock.advance(Duration::from_millis(4900));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.batch_requests().len(),
        1,
        "no resend before the date"
    );
    clock.advance(Duration::from_millis(200));
    assert!(flushing.await.unwrap());
    assert_eq!(server.events().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_without_retry_after_is_retried_and_delivered() {
    let server = IngestServer::start();
    server.answer_next([Answer::status(429), Answer::status(429)]);
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    delivery.enqueue(job(payload(1)));
    let first = advance_until(&clock, Duration::from_millis(100), REAL, || {
        !server.batch_requests().is_empty()
    })
    .await;
    assert!(first);
    // Backing off on the injected clock: without advancing it, no resend comes.
    assert!(
        eventually(REAL, || delivery.stats().retried == 1
            && clock.sleepers() > 0)
        .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.batch_requests().len(), 1);
    let done = advance_until(&clock, Duration::from_millis(250), REAL, || {
        server.events().len() == 1
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    assert_eq!(
        server
            .batch_requests()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [429, 429, 200]
    );
    assert_eq!(delivery.stats().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_payload_is_isolated_and_only_it_is_dropped() {
    let server = IngestServer::start();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            batch_size: 40,
            ..test_options()
        },
        &clock,
    );
    let mut expected = Vec::new();
    let mut bad = None;
    for n in 0..40 {
        let p = payload(n);
        if n == 23 {
            bad = Some(p.uuid.to_string());
        } else {
            expected.push(p.uuid.to_string());
        }
        delivery.enqueue(job(p));
    }
    server.reject_uuid(bad.clone().unwrap(), 400);
    assert!(delivery.flush(Duration::from_secs(10)).await);
    assert_exactly_once(&server.events(), &expected);
    let stats = delivery.stats();
    assert_eq!(
        (stats.dropped_rejected, stats.dropped(), stats.sent),
        (1, 1, 39)
    );
    assert!(stats.is_balanced());
    let rejected: Vec<_> = server
        .batch_requests()
        .into_iter()
        .filter(|r| !r.accepted())
        .collect();
    assert!(
        rejected
            .iter()
            .all(|r| r.uuids().contains(bad.as_ref().unwrap()))
    );
    assert!(
        rejected.len() <= 1 + 6,
        "bisection: at most log2(40) + 1 rejected requests, got {}",
        rejected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_too_large_for_the_server_arrive_in_smaller_batches() {
    let server = IngestServer::start();
    server.reject_batches_over(10, 413);
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    let mut expected = Vec::new();
    for n in 0..250 {
        let p = payload(n);
        expected.push(p.uuid.to_string());
        delivery.enqueue(job(p));
    }
    assert!(delivery.flush(Duration::from_secs(20)).await);
    assert_exactly_once(&server.events(), &expected);
    assert!(
        server
            .batch_requests()
            .iter()
            .filter(|r| r.accepted())
            .all(|r| r.batch().len() <= 10)
    );
    // Only the first batch is bisected; later batches use the size that went through.
    let refused = server
        .batch_requests()
        .iter()
        .filter(|r| !r.accepted())
        .count();
    assert!(refused <= 15, "{refused} refused requests");
    assert_eq!(delivery.stats().dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_the_excess_and_the_accounts_always_balance() {
    let server = IngestServer::start();
    server.go_down();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            capacity: 100,
            ..test_options()
        },
        &clock,
    );
    let mut accepted = 0u64;
    for n in 0..1000 {
        if delivery.enqueue(job(payload(n))) {
            accepted += 1;
        }
        let stats = delivery.stats();
        assert!(stats.is_balanced(), "after {n}: {stats:?}");
        if n % 100 == 0 {
            clock.advance(Duration::from_millis(300));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(eventually(REAL, || delivery.stats().jobs_pending == 0).await);
    let stats = delivery.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!(stats.sent, 0);
    assert!(stats.queued <= 100 && stats.in_flight <= 100, "{stats:?}");
    assert_eq!(
        stats.dropped_queue_full,
        1000 - stats.queued - stats.in_flight,
        "{stats:?}"
    );
    assert!(accepted <= 200);
    assert_eq!(
        stats.peak_held, 100,
        "the queue filled up to its capacity and no further"
    );

    server.come_up();
    let kept = stats.queued + stats.in_flight;
    let done = advance_until(&clock, Duration::from_millis(500), REAL, || {
        let stats = delivery.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        server.events().len() as u64 >= kept
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
    assert!(delivery.shutdown(Duration::from_secs(5)).await);
    let stats = delivery.stats();
    assert_eq!(stats.sent, kept);
    assert!(stats.is_balanced(), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_five_thousand_queued_delivers_them_all_before_returning() {
    let server = IngestServer::start();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    let mut expected = Vec::new();
    for n in 0..5000 {
        let p = payload(n);
        expected.push(p.uuid.to_string());
        assert!(delivery.enqueue(job(p)));
    }
    assert!(delivery.shutdown(Duration::from_secs(60)).await);
    assert_exactly_once(&server.events(), &expected);
    assert_eq!(delivery.stats().sent, 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_api_key_pauses_delivery_and_payloads_keep_queueing() {
    let server = IngestServer::start();
    server.set_default(Answer::status(401));
    let clock = ManualClock::default();
    let delivery = posthog_delivery(
        &server,
        DeliveryOptions {
            batch_size: 5,
            ..test_options()
        },
        &clock,
    );
    for n in 0..5 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(eventually(REAL, || server.batch_requests().len() == 1).await);
    for n in 5..30 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(eventually(REAL, || delivery.stats().queued == 25).await);
    assert_eq!(
        server.batch_requests().len(),
        1,
        "paused: no request until the next probe"
    );
    assert_eq!(delivery.stats().dropped(), 0);
    server.set_default(Answer::ok());
    let done = advance_until(&clock, Duration::from_secs(5), REAL, || {
        server.events().len() == 30
    })
    .await;
    assert!(done, "{:?}", delivery.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_gateway_errors_are_retried_like_server_errors() {
    for status in [408, 502, 503, 504] {
        let server = IngestServer::start();
        server.answer_next([
            Answer::status(status),
            Answer::status(status),
            Answer::status(status),
        ]);
        let clock = ManualClock::default();
        let delivery = posthog_delivery(&server, test_options(), &clock);
        let p = payload(status as usize);
        let uuid = p.uuid.to_string();
        delivery.enqueue(job(p));
        let done = advance_until(&clock, Duration::from_millis(200), REAL, || {
            server.events().len() == 1
        })
        .await;
        assert!(done, "HTTP {status}: {:?}", delivery.stats());
        assert_exactly_once(&server.events(), &[uuid]);
        assert_eq!(server.batch_requests().len(), 4, "HTTP {status}");
        assert!(delivery.shutdown(Duration::from_secs(5)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_limit_pauses_delivery_until_the_project_recovers() {
    let server = IngestServer::start();
    server.set_default(Answer::status(402));
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    for n in 0..3 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(
        advance_until(&clock, Duration::from_millis(500), REAL, || !server
            .batch_requests()
            .is_empty())
        .await
    );
    assert!(eventually(REAL, || delivery.stats().retried > 0).await);
    assert_eq!(
        delivery.stats().dropped(),
        0,
        "a paused batch is held, not dropped"
    );
    server.set_default(Answer::ok());
    assert!(
        advance_until(&clock, Duration::from_secs(5), REAL, || server
            .events()
            .len()
            == 3)
        .await
    );
}
