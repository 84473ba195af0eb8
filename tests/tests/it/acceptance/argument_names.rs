//! Beyond the scenarios, from the spec's property reference: the argument names a call records
//! (`$mcp_input_keys`) and the aliases it was sent under (`$mcp_input_aliases_used`), through both capture paths.

use posthog_mcp::{ArgumentOptions, InputKeys};
use serde_json::json;

use super::harness::*;
use super::host::*;

#[tokio::test]
async fn a_call_records_its_declared_argument_names_and_hides_the_others() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        call_ok(
            &client,
            "search_docs",
            json!({"query": "flags", "context": "find the flags docs", "ada@example.com": true}),
        )
        .await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_input_keys"),
            &json!(["query", "[redacted]"]),
            "{path:?}: the injected context is not the tool's; the invented name is not recorded"
        );
        assert!(
            only(&events, "$mcp_tool_call")
                .properties
                .get("$mcp_input_aliases_used")
                .is_none(),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn an_argument_sent_under_an_alias_is_recorded_with_the_name_it_stands_for() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.arguments(
                ArgumentOptions::default()
                    .input_keys(InputKeys::All)
                    .input_aliases("search_docs", "query", ["q", "search"]),
            )
        })
        .await;
        let client = world.client().await;
        call_ok(
            &client,
            "search_docs",
            json!({"search": "flags", "page": 2}),
        )
        .await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_input_aliases_used"),
            &json!(["search:query"]),
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_input_keys"),
            &json!(["search", "page"]),
            "{path:?}: the alias is a declared name; every other name is recorded after it"
        );
    }
}

#[tokio::test]
async fn with_argument_names_off_no_call_records_them() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| {
            b.arguments(ArgumentOptions::default().input_keys(InputKeys::Off))
        })
        .await;
        let client = world.client().await;
        call_ok(&client, "search_docs", json!({"query": "flags"})).await;
        let events = world.flushed().await;
        assert!(
            only(&events, "$mcp_tool_call")
                .properties
                .get("$mcp_input_keys")
                .is_none(),
            "{path:?}"
        );
    }
}

#[test]
fn an_alias_over_64_characters_is_a_configuration_error_naming_the_option() {
    let error = posthog_mcp::Analytics::builder()
        .arguments(ArgumentOptions::default().input_aliases(
            "search_docs",
            "query",
            ["q".repeat(65)],
        ))
        .build()
        .expect_err("the alias is too long");
    let text = error.to_string();
    assert!(text.contains("input_aliases"), "{text}");
    assert!(text.contains("search_docs"), "{text}");
}
