//! Nothing is lost at volume: 100,000 sequential tool calls from a real rmcp client, as fast as it can make them,
//! all reach the local ingestion server.

use std::time::{Duration, Instant};

use posthog_mcp::DeliveryOptions;
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{WrapperOnlyServer, call, connect, reporting_to};
use serde_json::json;

/// 100,000 sequential calls with the default options (a 10,000-payload queue), as fast as the client can make
/// them: the worker keeps pace with the request path, so nothing is dropped between the tool call and the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_sequential_tool_calls_all_arrive() {
    sequential_tool_calls_all_arrive(100_000, DeliveryOptions::default()).await;
}

async fn sequential_tool_calls_all_arrive(calls_made: usize, options: DeliveryOptions) {
    let options_capacity = options.capacity;
    let server = IngestServer::start();
    server.keep_bodies(false);
    let analytics = reporting_to(&server).delivery(options).build().unwrap();
    let client = connect(analytics.instrument(WrapperOnlyServer::default())).await;
    let start = Instant::now();
    for i in 0..calls_made {
        let result = client
            .call_tool(call("add", json!({"a": i, "b": 1})))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(false));
    }
    let took = start.elapsed();
    assert!(analytics.shutdown(Duration::from_secs(120)).await);
    let stats = analytics.stats();
    eprintln!("{calls_made} tool calls in {took:?}; delivery {stats:?}");
    let tool_calls = server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$mcp_tool_call")
        .count();
    assert_eq!(tool_calls, calls_made);
    assert_eq!(stats.dropped(), 0);
    assert!(stats.is_balanced());
    assert!(stats.peak_held < options_capacity as u64, "{stats:?}");
}
