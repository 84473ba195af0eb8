//! What a batch looks like on the wire, by PostHog's cross-SDK conventions: a gzipped JSON `POST` to `/batch/`,
//! its body and its items, checked at a real HTTP server (the local ingestion server also checks every request it
//! receives, see `IngestServer::wire_violations`).

use std::collections::BTreeSet;
use std::time::Duration;

use posthog_mcp::clock::ManualClock;
use posthog_mcp::delivery::DeliveryOptions;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::delivery::{TEST_API_KEY, job, payload, posthog_delivery, test_options};

async fn send_three(options: DeliveryOptions) -> (IngestServer, Vec<posthog_mcp::event::Payload>) {
    let server = IngestServer::start();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, options, &clock);
    let mut sent = Vec::new();
    for n in 0..3 {
        let mut p = payload(n);
        p.properties
            .insert("$groups".into(), serde_json::json!({"company": "acme"}));
        p.properties.insert(
            "nested".into(),
            serde_json::json!({"a": [1, 2, {"b": null}]}),
        );
        sent.push(p.clone());
        delivery.enqueue(job(p));
    }
    assert!(delivery.shutdown(Duration::from_secs(10)).await);
    (server, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_a_gzipped_json_post_to_batch_with_the_five_key_envelope() {
    let (server, sent) = send_three(test_options()).await;
    let requests = server.batch_requests();
    assert_eq!(requests.len(), 1, "three payloads, one flush, one request");
    let request = &requests[0];

    // A gzipped JSON `POST` to `/batch/` that names this crate in its user agent.
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/batch/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert!(request.gzipped);
    assert!(request.raw_body.starts_with(&[0x1f, 0x8b]));
    assert_eq!(
        request.header("user-agent"),
        Some(format!("posthog-rs-mcp/{}", posthog_mcp::event::LIB_VERSION).as_str())
    );

    // The body: the project token, `sent_at` in milliseconds, never a historical migration.
    let body = request.body.as_ref().expect("a JSON body");
    assert_eq!(body["api_key"], TEST_API_KEY);
    assert!(
        body["sent_at"]
            .as_str()
            .is_some_and(posthog_mcp_tests::ingest::is_millisecond_rfc3339),
        "{}",
        body["sent_at"]
    );
    assert!(
        body.get("historical_migration").is_none_or(|v| v == false),
        "never a historical migration"
    );
    let top: BTreeSet<_> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        top.is_subset(&BTreeSet::from([
            "api_key",
            "batch",
            "sent_at",
            "historical_migration"
        ])),
        "{top:?}"
    );

    // Each item: exactly the five envelope keys, the payload's uuid, the request start as its timestamp.
    let items = request.batch();
    assert_eq!(items.len(), 3);
    for (item, original) in items.iter().zip(&sent) {
        let keys: BTreeSet<_> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["event", "properties", "timestamp", "uuid", "distinct_id"])
        );
        assert_eq!(item["uuid"], original.uuid.to_string());
        assert_eq!(item["event"], original.event);
        assert_eq!(item["distinct_id"], original.distinct_id);
        let stamped =
            chrono::DateTime::parse_from_rfc3339(item["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(
            stamped.timestamp_millis(),
            original.timestamp.timestamp_millis(),
            "the request start"
        );
        for (key, value) in &original.properties {
            assert_eq!(
                &item["properties"][key], value,
                "property {key} arrives unchanged"
            );
        }
        assert_eq!(item["properties"]["$lib"], posthog_mcp::event::LIB_NAME);
        assert_eq!(
            item["timestamp"],
            posthog_mcp::event::format_timestamp(original.timestamp)
        );
    }
    server.assert_wire_conventions();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gzip_the_body_is_plain_json() {
    let (server, _) = send_three(DeliveryOptions {
        gzip: false,
        ..test_options()
    })
    .await;
    let request = &server.batch_requests()[0];
    assert!(!request.gzipped);
    assert_eq!(request.header("content-encoding"), None);
    assert_eq!(request.batch().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_and_sent_at_are_rfc3339_with_milliseconds_and_z() {
    let server = IngestServer::start();
    let clock = ManualClock::new(
        std::time::SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_164_200_987),
    );
    let delivery = posthog_delivery(&server, test_options(), &clock);
    let mut p = payload(1);
    p.timestamp = chrono::DateTime::parse_from_rfc3339("2026-12-01T22:30:00.123456789Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    delivery.enqueue(job(p));
    assert!(delivery.flush(Duration::from_secs(10)).await);
    let request = &server.batch_requests()[0];
    let body = request.body.as_ref().unwrap();
    assert_eq!(body["batch"][0]["timestamp"], "2026-12-01T22:30:00.123Z");
    // `sent_at` is the moment of the POST, read from the injected clock.
    assert_eq!(body["sent_at"], "2026-12-01T22:30:00.987Z");
    server.assert_wire_conventions();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lib_fields_name_this_crate_and_agree_and_no_os_is_sent_on_real_tool_calls() {
    use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect, delivered, reporting_to};
    let server = IngestServer::start();
    let analytics = reporting_to(&server).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    client
        .call_tool(call("add", serde_json::json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    let events = delivered(&analytics, &server).await;
    assert!(
        events.iter().any(|e| e["event"] == "$mcp_tool_call"),
        "{events:?}"
    );
    let version = posthog_mcp::event::LIB_VERSION;
    let parts: Vec<u64> = version
        .split(['-', '+'])
        .next()
        .unwrap()
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    for event in &events {
        let props = &event["properties"];
        assert_eq!(props["$lib"], "posthog-rs-mcp");
        assert_eq!(props["$lib_version"], version);
        assert_eq!(props["$lib_version__major"], parts[0]);
        assert_eq!(props["$lib_version__minor"], parts[1]);
        assert_eq!(props["$lib_version__patch"], parts[2]);
        assert!(props.get("$os").is_none() && props.get("$os_version").is_none());
    }
    server.assert_wire_conventions();
    let _ = analytics.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_order_is_the_same_from_event_to_event() {
    let server = IngestServer::start();
    let clock = ManualClock::default();
    let delivery = posthog_delivery(&server, test_options(), &clock);
    for n in 0..20 {
        delivery.enqueue(job(payload(n)));
    }
    assert!(delivery.flush(Duration::from_secs(10)).await);
    // Key order as sent (the recorded JSON keeps it: serde_json's `preserve_order`).
    let request = &server.batch_requests()[0];
    let text = String::from_utf8(posthog_mcp_tests::ingest::decoded_body(request)).unwrap();
    let first_props: Vec<String> = request.batch()[0]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for item in request.batch() {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["event", "distinct_id", "properties", "timestamp", "uuid"]
        );
        let props: Vec<String> = item["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(props, first_props);
    }
    assert!(text.starts_with(r#"{"api_key":"#), "{}", &text[..40]);
}

/// The checks of the ingestion server fail on what posthog-rs 0.30 sends (nanosecond timestamps, `+00:00`,
/// its own `User-Agent`, `$os`, version parts of another crate), so a regression to any of them fails a test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingestion_server_flags_what_breaks_the_wire_conventions() {
    let server = IngestServer::start();
    let body = serde_json::json!({
        "api_key": "phc_x",
        "historical_migration": false,
        "sent_at": "2026-11-25T04:11:05.959826480+00:00",
        "batch": [{
            "event": "$mcp_tool_call", "distinct_id": "u", "uuid": uuid::Uuid::now_v7().to_string(),
            "timestamp": "2026-11-25T04:11:05.880097770Z",
            "properties": {"$lib": "posthog-rs-mcp", "$lib_version": posthog_mcp::event::LIB_VERSION,
                "$lib_version__major": 0, "$lib_version__minor": 30, "$lib_version__patch": 0,
                "$os": "Debian", "$os_version": "12.0.0"}
        }]
    });
    let response = reqwest::Client::new()
        .post(format!("{}/batch/", server.url()))
        .header("content-type", "application/json")
        .header("user-agent", "posthog-rs/0.30.0")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let violations = server.wire_violations().join("\n");
    for expected in [
        "User-Agent",
        "sent_at",
        "timestamp",
        "$lib_version__minor",
        "$os was sent",
        "$os_version was sent",
    ] {
        assert!(
            violations.contains(expected),
            "{expected} not flagged in:\n{violations}"
        );
    }
}
