//! `cargo run -p examples --bin demo`: an instrumented MCP server and an rmcp client in one process, a handful
//! of calls, and a table of the events they produced. No account or network needed: without `POSTHOG_API_KEY`
//! the events are written as JSON lines to a local file; with it, they go to PostHog.

use std::path::PathBuf;
use std::time::Duration;

use examples::calculator::Calculator;
use posthog_mcp::{Analytics, Identity, LocalTarget, RequestView};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use serde_json::{Value, json};

fn call(name: &'static str, arguments: Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name);
    match arguments {
        Value::Object(map) => params.with_arguments(map),
        _ => params,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api_key = std::env::var("POSTHOG_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    let events_file = std::env::temp_dir().join("posthog-mcp-demo-events.jsonl");
    let _ = std::fs::remove_file(&events_file);

    let mut builder = Analytics::builder().identify(|view: RequestView| {
        // Identify whoever sends `Bearer alice-token`; over this in-memory connection nobody does, so the demo
        // switches identity through the `_meta.user` field instead.
        let user = view.params()["_meta"]["user"].as_str().map(str::to_owned);
        async move {
            user.map(|user| {
                Identity::new(user.clone())
                    .with_property("name", user)
                    .with_property("plan", "pro")
                    .with_group("organization", "acme")
            })
        }
    });
    builder = builder.identity(
        posthog_mcp::IdentityOptions::default()
            .credential_fn(|view| view.params()["_meta"]["user"].as_str().map(str::to_owned)),
    );
    builder = match &api_key {
        Some(key) => {
            let host = std::env::var("POSTHOG_HOST")
                .unwrap_or_else(|_| posthog_mcp::DEFAULT_HOST.to_owned());
            println!("POSTHOG_API_KEY is set: events go to PostHog at {host}.");
            builder.api_key(key.clone()).host(host)
        }
        None => builder.destination(posthog_mcp::Destination::Local(LocalTarget::File(
            events_file.clone(),
        ))),
    };
    let analytics = builder.build()?;

    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = analytics.instrument(Calculator::new());
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("demo-client", "1.0.0"),
    )
    .serve(client_io)
    .await?;

    println!("Calling tools on an instrumented calculator...");
    client
        .call_tool(call("add", json!({"a": 2, "b": 3})))
        .await?;
    let _ = client
        .call_tool(call("divide", json!({"a": 1, "b": 0})))
        .await;
    let _ = client
        .call_tool(call("add", json!({"a": "two", "b": 3})))
        .await;
    client.call_tool(call("fail_result", json!({}))).await?;
    let mut identified = call("add", json!({"a": 40, "b": 2}));
    let mut meta = serde_json::Map::new();
    meta.insert("user".into(), json!("alice"));
    identified.meta = Some(meta.into());
    client.call_tool(identified).await?;
    client.cancel().await?;

    analytics.shutdown(Duration::from_secs(10)).await;
    if api_key.is_some() {
        println!("Done: the events were sent to PostHog.");
        return Ok(());
    }
    print_table(&events_file)?;
    Ok(())
}

fn print_table(path: &PathBuf) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    println!();
    println!(
        "{:<24} {:<44} {:<12} {:>8}  error",
        "event", "distinct_id", "tool", "ms"
    );
    println!("{}", "-".repeat(110));
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let props = &event["properties"];
        let cell = |key: &str| {
            props.get(key).map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
        };
        println!(
            "{:<24} {:<44} {:<12} {:>8}  {}",
            event["event"].as_str().unwrap_or(""),
            event["distinct_id"].as_str().unwrap_or(""),
            cell("$mcp_tool_name").unwrap_or_default(),
            cell("$mcp_duration_ms").unwrap_or_default(),
            match (cell("$mcp_error_type"), cell("$mcp_error_message")) {
                (Some(kind), Some(message)) => format!("{kind}: {message}"),
                (Some(kind), None) => kind,
                _ => String::new(),
            }
        );
    }
    println!();
    println!("The full JSON lines are in {}", path.display());
    Ok(())
}
