//! The manual API's own scenarios, the capability tags the crate declares, and a check that every scenario of
//! the feature has its test here.

use posthog_mcp::manual::{ManualRequest, Prepared};
use posthog_mcp_tests::fixtures::{call, ingested};
use rmcp::ErrorData;
use rmcp::model::Implementation;
use serde_json::json;

use posthog_mcp::{ErrorKind, ToolError};

use super::failures::{UpstreamTimeout, names_type};
use super::harness::*;
use super::host::*;

#[tokio::test]
async fn an_explicit_error_type_labels_the_call_but_not_the_exception() {
    let (ingest, builder) = background();
    let analytics = builder.build().unwrap();
    let server = analytics.manual(Implementation::new("gateway", "1.0.0"));
    let connection = server.connection();
    let prepared = server
        .prepare_call(
            &connection,
            &ManualRequest::new().id(1),
            call("query", json!({})),
        )
        .await;
    let Prepared::Forward(prepared) = prepared else {
        panic!("query is the host's tool: {prepared:?}");
    };
    // Error type "validation", thrown error of the host's own type `UpstreamTimeout`.
    let thrown = ToolError::new(ErrorKind::Validation, UpstreamTimeout);
    let _ = server.finish_call_with_error(
        prepared,
        Err(ErrorData::internal_error("upstream timed out", None)),
        &thrown,
    );
    let events = ingested(&analytics, &ingest).await;
    assert_eq!(
        property(&events, "$mcp_tool_call", "$mcp_error_type"),
        "validation"
    );
    let first = &only(&events, "$exception").properties["$exception_list"][0]["type"];
    assert!(
        names_type(first, "UpstreamTimeout"),
        "the first exception's type: {first}"
    );
}

#[tokio::test]
async fn a_manually_captured_call_matches_the_automatic_one() {
    let (ingest, builder) = background();
    let analytics = builder.build().unwrap();
    let host = Host::with(vec![search_docs("ok")]);
    let manual_url = serve(Path::Manual, &analytics, &host).await;
    let automatic_url = serve(Path::Automatic, &analytics, &host).await;
    let arguments = json!({"query": "flags", "context": "find the flags docs"});
    for url in [&manual_url, &automatic_url] {
        let client = modern_client(url, "acceptance-client", "1.0.0").await;
        call_ok(&client, "search_docs", arguments.clone()).await;
    }
    let events = ingested(&analytics, &ingest).await;
    let calls = named(&events, "$mcp_tool_call");
    assert_eq!(calls.len(), 2, "{events:#?}");
    for key in [
        "$mcp_tool_name",
        "$mcp_intent",
        "$mcp_parameters",
        "$mcp_is_error",
    ] {
        let (manual, automatic) = (calls[0].properties.get(key), calls[1].properties.get(key));
        assert!(manual.is_some(), "{key} is present: {:#?}", calls[0]);
        assert_eq!(manual, automatic, "{key} is the same on both paths");
    }
    for call in calls {
        non_empty(&call.properties["$session_id"], "$session_id");
    }
}

/// The optional behaviours the crate declares, by the feature's tags.
const CAPABILITIES: &[&str] = &[
    "@mcp_input_required_capable",
    "@mcp_unknown_tool_capable",
    "@mcp_tools_list_capable",
    "@mcp_task_store_capable",
    "@mcp_missing_capability_capable",
    "@mcp_feedback_capable",
];

/// The scenarios each capability tag covers in the feature.
const TAGGED: &[(&str, &[&str])] = &[
    (
        "@mcp_input_required_capable",
        &["A round that asks for more input is recorded"],
    ),
    (
        "@mcp_unknown_tool_capable",
        &["A call to a tool that does not exist is recorded as unknown"],
    ),
    (
        "@mcp_tools_list_capable",
        &["A tool listing records names and only the result envelope"],
    ),
    (
        "@mcp_task_store_capable",
        &["A task-backed call is counted once, when the task finishes"],
    ),
    (
        "@mcp_missing_capability_capable",
        &["A missing capability report carries its text as intent"],
    ),
    (
        "@mcp_feedback_capable",
        &[
            "A feedback report becomes one feedback event",
            "Only declared extra report arguments are captured",
        ],
    ),
];

/// Every scenario of the feature as it spells it; the outline's examples carry their case id in parentheses.
const SCENARIOS: &[&str] = &[
    "A successful tool call produces one event with the required properties",
    "A tool result reaches the client unchanged",
    "An unreachable PostHog endpoint does not affect the tool call",
    "A result that asks for more input is counted once, when the call completes",
    "A round that asks for more input is recorded",
    "A task handle is never counted as a successful call",
    "A task-backed call is counted once, when the task finishes",
    "Tool metadata from the server's tools is attached to calls, without a prior listing",
    "A failed tool call is captured as an error (is_error)",
    "A failed tool call is captured as an error (thrown_error)",
    "A thrown error's type names the failure",
    "An explicit error type labels the call but not the exception",
    "A call to a tool that does not exist is not counted as a call",
    "A call to a tool that does not exist is recorded as unknown",
    "The context argument is advertised, captured as intent, and removed",
    "A tool that declares its own context keeps it as data, not intent",
    "Personal data in the intent is redacted",
    "Clients without a session or handle never share a session",
    "A conversation handle keeps a stateless client's calls in one session",
    "A malformed conversation handle is replaced and never reaches the tool",
    "A conversation handle derives the canonical session id",
    "An anonymous call does not create a person",
    "An identified call processes the person",
    "A 2026-07-28 request identifies its client from _meta",
    "Arguments are captured in the request shape with injected arguments removed",
    "Credentials in arguments and error text are redacted",
    "A credential in a result's JSON text copy is redacted",
    "A successful call's response is captured by default",
    "A failing before-send hook drops the event",
    "Media in a result is never sent",
    "A very large response still produces a bounded event",
    "A tool listing records names and only the result envelope",
    "A missing capability report carries its text as intent",
    "The virtual tools are not advertised by default",
    "A feedback report becomes one feedback event",
    "Only declared extra report arguments are captured",
    "A resource's contents never reach PostHog",
    "A manually captured call matches the automatic one",
];

/// The module's source, where each scenario's test must be.
const SOURCE: &[&str] = &[
    include_str!("calls.rs"),
    include_str!("failures.rs"),
    include_str!("sessions.rs"),
    include_str!("privacy.rs"),
    include_str!("optional_events.rs"),
    include_str!("manual.rs"),
];

/// A scenario name as a test name: lowercase, apostrophes dropped, every other run of non-alphanumerics one `_`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().filter(|c| *c != '\'') {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// The attributes and signature of test `name`, if the module has it.
fn test_head(name: &str) -> Option<&'static str> {
    let signature = format!("async fn {name}()");
    SOURCE.iter().find_map(|source| {
        let at = source.find(&signature)?;
        let start = source[..at].rfind("#[tokio::test]")?;
        Some(&source[start..at])
    })
}

#[test]
fn every_scenario_of_the_feature_has_a_test() {
    assert_eq!(
        SCENARIOS.len(),
        38,
        "37 scenarios, one of them an outline of two"
    );
    let mut names: Vec<String> = SCENARIOS.iter().map(|s| snake(s)).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        SCENARIOS.len(),
        "every scenario has its own test name"
    );
    for scenario in SCENARIOS {
        let name = snake(scenario);
        assert!(
            test_head(&name).is_some(),
            "no test `{name}` for scenario {scenario:?}"
        );
    }
}

#[test]
fn the_crate_declares_all_six_capability_tags() {
    let mut declared = CAPABILITIES.to_vec();
    declared.sort_unstable();
    declared.dedup();
    assert_eq!(declared.len(), 6, "six distinct tags: {CAPABILITIES:?}");
    for (tag, scenarios) in TAGGED {
        assert!(CAPABILITIES.contains(tag), "{tag} is declared");
        for scenario in *scenarios {
            assert!(
                SCENARIOS.contains(scenario),
                "{scenario:?} is a scenario of the feature"
            );
            assert!(
                test_head(&snake(scenario)).is_some(),
                "{tag}: {scenario:?} has a test"
            );
        }
    }
}

#[test]
fn every_declared_capability_has_its_scenarios_running() {
    for (tag, scenarios) in TAGGED {
        for scenario in *scenarios {
            let head = test_head(&snake(scenario)).expect("the scenario has a test");
            assert!(!head.contains("#[ignore"), "{tag}: {scenario:?} is ignored");
        }
    }
}

/// A handler that panics is the same failure whoever dispatches it: the wrapper, which catches the panic around
/// the host's handler, and a gateway that runs its handlers under `catch_unwind` and hands the payload over.
#[tokio::test]
async fn a_panicking_handler_is_the_same_failure_through_the_manual_api() {
    use posthog_mcp_tests::IngestServer;
    use posthog_mcp_tests::fixtures::{WrapperOnlyServer, connect, reporting_to};

    let wrapped_ingest = IngestServer::start();
    let wrapped = reporting_to(&wrapped_ingest).build().unwrap();
    let client = connect(wrapped.instrument(WrapperOnlyServer::default())).await;
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        client.call_tool(call("explode", json!({}))),
    )
    .await;
    assert!(!matches!(outcome, Ok(Ok(_))), "the panic is not a result");
    let wrapped_events = ingested(&wrapped, &wrapped_ingest).await;

    let manual_ingest = IngestServer::start();
    let manual = reporting_to(&manual_ingest).build().unwrap();
    let server = manual.manual(Implementation::new("gateway", "1.0.0"));
    let connection = server.connection();
    let prepared = server
        .prepare_call(
            &connection,
            &ManualRequest::new().id(1),
            call("explode", json!({})),
        )
        .await;
    let Prepared::Forward(prepared) = prepared else {
        panic!("explode is the host's tool: {prepared:?}");
    };
    let payload = std::panic::catch_unwind(|| std::panic::panic_any::<&str>("kaboom")).unwrap_err();
    server.finish_call_panicked(prepared, payload.as_ref());
    let manual_events = ingested(&manual, &manual_ingest).await;

    for key in [
        "$mcp_tool_name",
        "$mcp_is_error",
        "$mcp_error_type",
        "$mcp_error_message",
    ] {
        assert_eq!(
            property(&manual_events, "$mcp_tool_call", key),
            property(&wrapped_events, "$mcp_tool_call", key),
            "{key}"
        );
    }
    assert_eq!(
        property(&manual_events, "$mcp_tool_call", "$mcp_error_type"),
        "Panic"
    );
    let exception_type = |events: &[posthog_mcp_tests::fixtures::Ingested]| {
        only(events, "$exception").properties["$exception_list"][0]["type"].clone()
    };
    assert_eq!(
        exception_type(&manual_events),
        exception_type(&wrapped_events)
    );
}
