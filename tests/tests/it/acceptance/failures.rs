//! Failed calls: an error result and a thrown error, a typed error's name, and calls to tools that do not exist.

use posthog_mcp::posthog_tool;
use posthog_mcp_tests::fixtures::serve_http;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::*;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};

use super::harness::*;
use super::host::*;

async fn failed_call_is_an_error(reply: Reply, message: &str) {
    for path in PATHS {
        let world = World::start(
            path,
            Host::with(vec![tool("fetch_page", &["url"], reply.clone())]),
            |b| b,
        )
        .await;
        let client = world.client().await;
        let _ = call_raw(&client, "fetch_page", json!({"url": "https://example.com"})).await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_is_error"),
            &json!(true),
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_tool_call", "$mcp_error_message"),
            message,
            "{path:?}"
        );
        non_empty(
            property(&events, "$mcp_tool_call", "$mcp_error_type"),
            "$mcp_error_type",
        );
    }
}

#[tokio::test]
async fn a_failed_tool_call_is_captured_as_an_error_is_error() {
    failed_call_is_an_error(Reply::ErrorResult("403 Forbidden".into()), "403 Forbidden").await;
}

#[tokio::test]
async fn a_failed_tool_call_is_captured_as_an_error_thrown_error() {
    failed_call_is_an_error(
        Reply::Throw("upstream timed out".into()),
        "upstream timed out",
    )
    .await;
}

/// The handler's own error type.
#[derive(Debug, thiserror::Error)]
#[error("upstream timed out")]
pub struct UpstreamTimeout;

impl IntoContents for UpstreamTimeout {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

/// A server whose `query` tool fails with [`UpstreamTimeout`]; the attribute lets the crate see the type.
#[derive(Clone)]
struct QueryServer {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl QueryServer {
    #[posthog_tool]
    #[tool(description = "Query the upstream")]
    async fn query(&self) -> Result<String, UpstreamTimeout> {
        Err(UpstreamTimeout)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for QueryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The last path segment of a type name, so `a::b::UpstreamTimeout` names `UpstreamTimeout`.
pub fn names_type(value: &Value, type_name: &str) -> bool {
    value
        .as_str()
        .is_some_and(|t| t.rsplit("::").next() == Some(type_name))
}

#[tokio::test]
async fn a_thrown_errors_type_names_the_failure() {
    let (ingest, builder) = background();
    let analytics = builder.build().unwrap();
    let served = analytics.clone();
    let url = serve_http(
        move || {
            served.instrument(QueryServer {
                tool_router: QueryServer::tool_router(),
            })
        },
        false,
    )
    .await;
    let client = modern_client(&url, "acceptance-client", "1.0.0").await;
    let _ = call_raw(&client, "query", json!({})).await;
    let events = posthog_mcp_tests::fixtures::ingested(&analytics, &ingest).await;

    let call = property(&events, "$mcp_tool_call", "$mcp_error_type");
    assert!(
        names_type(call, "UpstreamTimeout"),
        "the call's error type: {call}"
    );
    let exception = only(&events, "$exception");
    let first = &exception.properties["$exception_list"][0]["type"];
    assert!(
        names_type(first, "UpstreamTimeout"),
        "the first exception's type: {first}"
    );
    assert_eq!(exception.properties["$exception_level"], "error");
    assert_eq!(exception.properties["$mcp_tool_name"], "query");
    assert_eq!(
        exception.properties["$session_id"],
        *property(&events, "$mcp_tool_call", "$session_id")
    );
}

#[tokio::test]
async fn a_thrown_errors_type_names_the_failure_manual() {
    // A gateway that caught the handler's typed error hands it over as it is.
    let (ingest, builder) = background();
    let analytics = builder.build().unwrap();
    let server = analytics.manual(rmcp::model::Implementation::new("gateway", "1.0.0"));
    let connection = server.connection();
    let prepared = server
        .prepare_call(
            &connection,
            &posthog_mcp::manual::ManualRequest::new().id(1),
            posthog_mcp_tests::fixtures::call("query", json!({})),
        )
        .await;
    let posthog_mcp::manual::Prepared::Forward(prepared) = prepared else {
        panic!("query is the host's tool: {prepared:?}");
    };
    let _ = server.finish_call_with_error(
        prepared,
        Err(rmcp::ErrorData::internal_error("upstream timed out", None)),
        &posthog_mcp::ToolError::thrown(UpstreamTimeout),
    );
    let events = posthog_mcp_tests::fixtures::ingested(&analytics, &ingest).await;
    let call = property(&events, "$mcp_tool_call", "$mcp_error_type");
    assert!(
        names_type(call, "UpstreamTimeout"),
        "the call's error type: {call}"
    );
    let first = &only(&events, "$exception").properties["$exception_list"][0]["type"];
    assert!(
        names_type(first, "UpstreamTimeout"),
        "the first exception's type: {first}"
    );
}

#[tokio::test]
async fn a_call_to_a_tool_that_does_not_exist_is_not_counted_as_a_call() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        let answer = call_raw(&client, "no_such_tool", json!({})).await;
        assert!(
            answer.is_err(),
            "{path:?}: the host refuses the call: {answer:?}"
        );
        let events = world.flushed().await;
        assert!(
            named(&events, "$mcp_tool_call").is_empty(),
            "{path:?}: {events:#?}"
        );
    }
}

/// Beyond the scenario: the agent echoes the conversation handle it was given to a tool that does not exist; the
/// unknown-tool event stays in that conversation, on the same session as the calls before it.
#[tokio::test]
async fn an_unknown_tool_that_was_sent_a_conversation_handle_stays_in_that_conversation() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        let handle = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        call_ok(
            &client,
            "search_docs",
            json!({"query": "flags", "conversation_id": handle}),
        )
        .await;
        let _ = call_raw(&client, "no_such_tool", json!({"conversation_id": handle})).await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_unknown_tool", "$mcp_conversation_id"),
            handle,
            "{path:?}"
        );
        assert_eq!(
            property(&events, "$mcp_unknown_tool", "$session_id"),
            property(&events, "$mcp_tool_call", "$session_id"),
            "{path:?}: one conversation, one session"
        );
        assert!(
            only(&events, "$mcp_unknown_tool")
                .properties
                .get("$mcp_parameters")
                .is_none(),
            "{path:?}: still none of its arguments"
        );
    }
}

#[tokio::test]
async fn a_call_to_a_tool_that_does_not_exist_is_recorded_as_unknown() {
    for path in PATHS {
        let world = World::start(path, Host::with(vec![search_docs("ok")]), |b| b).await;
        let client = world.client().await;
        let _ = call_raw(&client, "no_such_tool", json!({})).await;
        let events = world.flushed().await;
        assert_eq!(
            property(&events, "$mcp_unknown_tool", "$mcp_tool_name"),
            "no_such_tool",
            "{path:?}"
        );
    }
}
