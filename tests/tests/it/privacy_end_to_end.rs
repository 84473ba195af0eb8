//! Secrets in arguments and error messages never leave the process: checked on what reached the local
//! ingestion server over HTTP.

use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect, delivered, reporting_to};
use serde_json::json;

#[tokio::test]
async fn a_password_a_url_credential_and_a_posthog_token_never_reach_ingestion() {
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let error = client
        .call_tool(call(
            "save_note",
            json!({"password": "hunter2", "note": "see https://u:p@x.io/?token=abc"}),
        ))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("phc_abcdefghijklmnopqrstuvwxyz0123"),
        "the client still gets the real error"
    );
    client.cancel().await.unwrap();

    let events = delivered(&analytics, &ingest).await;
    let call = events
        .iter()
        .find(|e| e["event"] == "$mcp_tool_call")
        .expect("the call is captured");
    let arguments = &call["properties"]["$mcp_parameters"]["request"]["params"]["arguments"];
    assert_eq!(arguments["password"], "[redacted]");
    assert_eq!(
        arguments["note"],
        "see https://[redacted]@x.io/?token=[redacted]"
    );
    assert_eq!(
        call["properties"]["$mcp_error_message"],
        "upstream refused project key [redacted] for this note"
    );
    let exception = events
        .iter()
        .find(|e| e["event"] == "$exception")
        .expect("the exception is captured");
    assert_eq!(
        exception["properties"]["$exception_list"][0]["value"],
        call["properties"]["$mcp_error_message"]
    );

    let requests = ingest.requests();
    assert!(!requests.is_empty());
    let everything: String = requests
        .iter()
        .map(|r| {
            let body = r.body.as_ref().expect("every request body decodes as JSON");
            format!("{}{:?}{:?}", body, r.headers, r.query)
        })
        .collect();
    assert!(
        everything.contains("$mcp_tool_call"),
        "the search covers the decoded bodies"
    );
    for secret in [
        "hunter2",
        "u:p@",
        "token=abc",
        "phc_abcdefghijklmnopqrstuvwxyz0123",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} reached the ingestion server"
        );
    }
}
