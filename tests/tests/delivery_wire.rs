//! CONTRACT §10 W1–W4: what a batch looks like on the wire, checked at a real HTTP server.

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
async fn a_batch_is_a_gzipped_json_post_to_batch_with_the_contract_envelope() {
    let (server, sent) = send_three(test_options()).await;
    let requests = server.batch_requests();
    assert_eq!(requests.len(), 1, "three payloads, one flush, one request");
    let request = &requests[0];

    // W1
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/batch/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert!(request.gzipped);
    assert!(request.raw_body.starts_with(&[0x1f, 0x8b]));
    assert!(request.header("user-agent").is_some());

    // W2
    let body = request.body.as_ref().expect("a JSON body");
    assert_eq!(body["api_key"], TEST_API_KEY);
    assert!(
        body["sent_at"]
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
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

    // W3 and W4
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
    }
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
