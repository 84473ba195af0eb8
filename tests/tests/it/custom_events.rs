//! Custom events with explicit fields reach the ingestion server as written: the distinct id, timestamp and
//! uuid the host chose.

use std::time::{Duration, SystemTime};

use posthog_mcp::CaptureError;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{delivered, reporting_to};

#[tokio::test]
async fn a_custom_event_keeps_the_distinct_id_timestamp_and_uuid_it_was_given() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_633_600_123);
    let uuid = uuid::Uuid::now_v7();
    analytics
        .event("invoice_paid")
        .distinct_id("user-42")
        .timestamp(at)
        .uuid(uuid)
        .property("amount_eur", 120)
        .capture()
        .unwrap();
    analytics.event("page_anonymous").capture().unwrap();
    let events = delivered(&analytics, &ingest).await;
    let paid = events
        .iter()
        .find(|e| e["event"] == "invoice_paid")
        .unwrap();
    assert_eq!(paid["distinct_id"], "user-42");
    assert_eq!(paid["uuid"], uuid.to_string());
    assert_eq!(paid["timestamp"], "2025-12-02T00:00:00.123Z");
    assert_eq!(paid["properties"]["amount_eur"], 120);
    assert!(
        paid["properties"].get("$process_person_profile").is_none(),
        "an event about a named person keeps person processing on"
    );
    let anonymous = events
        .iter()
        .find(|e| e["event"] == "page_anonymous")
        .unwrap();
    assert_eq!(anonymous["distinct_id"], "anonymous");
    assert_eq!(anonymous["properties"]["$process_person_profile"], false);
}

#[test]
fn a_blank_name_or_distinct_id_is_refused_with_what_to_write() {
    let analytics = posthog_mcp::Analytics::builder()
        .destination(posthog_mcp::Destination::Discard)
        .identity(posthog_mcp::IdentityOptions::default().without_registered_identify())
        .build()
        .unwrap();
    assert_eq!(analytics.event(" ").capture(), Err(CaptureError::EmptyName));
    let blank = analytics.event("x").distinct_id("  ").capture();
    assert_eq!(blank, Err(CaptureError::EmptyDistinctId));
    assert!(blank.unwrap_err().to_string().contains("distinct_id"));
}
