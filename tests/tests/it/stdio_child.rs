//! The instrumented server as a child process over stdio, configured only by the environment. Every line it
//! writes to stdout must be JSON-RPC: analytics never prints there.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

async fn exchange(stdin: &mut tokio::process::ChildStdin, message: Value) {
    let mut line = serde_json::to_vec(&message).unwrap();
    line.push(b'\n');
    stdin.write_all(&line).await.unwrap();
    stdin.flush().await.unwrap();
}

/// Runs the stdio server with `env`, initializes, calls `add(20, 22)`, closes stdin and returns every line the
/// server wrote to stdout after asserting that each one is JSON-RPC.
async fn run_stdio_session(env: &[(&str, String)]) -> Vec<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stdio_calculator"));
    command
        .env_remove("POSTHOG_API_KEY")
        .env_remove("POSTHOG_HOST")
        .env("RUST_LOG", "trace");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();

    exchange(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "stdio-test", "version": "0.0.1"}}}),
    )
    .await;
    let mut lines = Vec::new();
    lines.push(
        stdout
            .next_line()
            .await
            .unwrap()
            .expect("an initialize response"),
    );
    exchange(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    exchange(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 20, "b": 22}}}),
    )
    .await;
    lines.push(
        stdout
            .next_line()
            .await
            .unwrap()
            .expect("a tools/call response"),
    );
    drop(stdin);
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(10), stdout.next_line()).await
    {
        lines.push(line);
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits")
        .unwrap();
    assert!(status.success());

    for line in &lines {
        let message: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON-RPC on stdout: {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
    }
    let answer: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "42");
    lines
}

#[tokio::test]
async fn a_zero_config_stdio_server_reports_to_posthog_and_flushes_on_exit() {
    let ingest = posthog_mcp_tests::IngestServer::start();
    run_stdio_session(&[
        ("POSTHOG_API_KEY", "phc_stdio_test".into()),
        ("POSTHOG_HOST", ingest.url()),
    ])
    .await;
    let recorded = ingest.events();
    let names: Vec<&str> = recorded
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["$mcp_initialize", "$mcp_tool_call"],
        "delivered before the process exited"
    );
    assert_eq!(
        recorded[1]["properties"]["$mcp_parameters"]["request"]["params"]["arguments"],
        json!({"a": 20, "b": 22})
    );
    let request = ingest
        .requests()
        .into_iter()
        .find(|r| r.is_batch())
        .unwrap();
    assert_eq!(request.batch()[0]["event"], "$mcp_initialize");
}

#[tokio::test]
async fn without_a_key_a_stdio_server_writes_json_lines_to_the_local_sink_never_stdout() {
    let events =
        std::env::temp_dir().join(format!("posthog-mcp-stdio-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&events);
    run_stdio_session(&[("POSTHOG_MCP_LOCAL_SINK", events.display().to_string())]).await;
    let recorded =
        std::fs::read_to_string(&events).expect("the local sink wrote the events before exit");
    let recorded: Vec<Value> = recorded
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = recorded
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["$mcp_initialize", "$mcp_tool_call"]);
    assert_eq!(recorded[0]["properties"]["$mcp_client_name"], "stdio-test");
    assert_eq!(recorded[1]["properties"]["$mcp_tool_name"], "add");
    let _ = std::fs::remove_file(&events);
}
