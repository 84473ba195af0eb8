//! Alone in its binary: it installs the process's only log subscriber, at TRACE, and reads every line any thread
//! writes.
//!
//! Planted credentials never leave the process, end to end: one made-up credential of each kind is planted in tool
//! arguments (as values, under nested credential-named keys, as an object key), in the intent (`context`) and in
//! a tool response, sent by a real rmcp client over a duplex transport; none may reach the local ingestion server
//! (bodies, headers, query) or the crate's logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use posthog_mcp::tool::{ToolRegistration, ToolSpec};
use posthog_mcp_tests::IngestServer;
use posthog_mcp_tests::fixtures::{Recorder, call, connect, delivered, reporting_to};
use serde_json::{Map, Value, json};

macro_rules! instrumented {
    ($($spec:ident = $name:literal),*) => {$(
        static $spec: ToolSpec = ToolSpec {
            name: $name,
            category: None,
            capture_args: true,
            capture_response: true,
            redact: &[],
            intent_description: None,
        };
        posthog_mcp::__private::v1::inventory::submit! { ToolRegistration { spec: &$spec } }
    )*};
}

instrumented!(ADD = "add", INSPECT = "inspect");

/// Everything the crate logs, at every level, from every thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

/// `(planted text, what must not be found)`: one per credential kind.
fn canaries() -> Vec<(String, String)> {
    let body = "Zq7XvB2nLmP4kR9sT1wY6uE3oI8aD5fG0hJc";
    let whole = |text: String| (text.clone(), text);
    vec![
        whole(format!(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
            "eyJzdWIiOiJjYW5hcnktMSJ9", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        )),
        whole(format!("AKIA{}", "Q7ZC4NRTX2LMB6WE")),
        whole(format!("ASIA{}", "Y3KD8PFQ1VHR5GTU")),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
        (
            "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0".into(),
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0".into(),
        ),
        whole(format!("sk-live-{}", &body[..20])),
        whole(format!("sk-proj-{body}")),
        whole(format!("sk_live_{}", &body[2..26])),
        whole(format!("sk_test_{}", &body[4..28])),
        whole(format!("rk_live_{}", &body[6..30])),
        whole(format!("ghp_{body}")),
        whole(format!("gho_{body}")),
        whole(format!("ghs_{body}")),
        whole(format!("ghu_{body}")),
        whole(format!("github_pat_11{}_{body}", &body[..20])),
        whole(format!("xoxb-1234567890-{}", &body[..24])),
        whole(format!("xoxp-1234567890-{}", &body[1..25])),
        whole(format!("phx_{body}")),
        whole(format!("phc_{body}")),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAcanaryPemBody\n-----END RSA PRIVATE KEY-----"
                .into(),
            "MIIEowIBAAKCAQEAcanaryPemBody".into(),
        ),
    ]
}

/// Values under credential-named keys: plain words, caught only by the key rule.
const KEYED: &[(&str, &str)] = &[
    ("db_password", "canary-db-password-value"),
    ("passwd", "canary-passwd-value"),
    ("aws_secret_access_key", "canary-aws-secret-value"),
    ("x-api-key", "canary-x-api-key-value"),
    ("client_secret", "canary-client-secret-value"),
    ("privateKey", "canary-private-key-value"),
    ("refresh_token", "canary-refresh-token-value"),
];

#[tokio::test]
async fn no_planted_credential_reaches_ingestion_or_the_logs() {
    let logs = logs();
    let ingest = IngestServer::start();
    let analytics = reporting_to(&ingest).build().unwrap();
    let client = connect(analytics.instrument(Recorder::default())).await;

    let canaries = canaries();
    let prose: Vec<String> = canaries
        .iter()
        .map(|(planted, _)| format!("then use {planted} for the deploy"))
        .collect();
    let mut keyed = Map::new();
    for (key, value) in KEYED {
        keyed.insert((*key).into(), json!(value));
    }
    let mut arguments = json!({
        "a": 1,
        "b": 2,
        "context": format!("Deploying for the user; {}", prose.join("; ")),
        "config": {"db": keyed},
        "notes": canaries.iter().map(|(planted, _)| json!(planted)).collect::<Vec<_>>(),
        "by_name": {},
    });
    for (planted, _) in &canaries {
        arguments["by_name"][planted.as_str()] = json!("as a key");
    }
    client.call_tool(call("add", arguments)).await.unwrap();
    // `inspect` echoes its arguments: the credentials come back in the response's text block.
    let echoed = client
        .call_tool(call("inspect", json!({"text": prose.join("\n")})))
        .await
        .unwrap();
    assert!(
        format!("{echoed:?}").contains(&canaries[0].1),
        "the tool really returned the credentials"
    );
    client.cancel().await.unwrap();

    let events = delivered(&analytics, &ingest).await;
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "$mcp_tool_call")
        .collect();
    assert_eq!(calls.len(), 2, "both calls were captured: {events:?}");
    let add = &calls[0]["properties"];
    let captured = &add["$mcp_parameters"]["request"]["params"]["arguments"];
    assert_eq!(captured["a"], 1, "the arguments were captured: {add}");
    assert_eq!(captured["config"]["db"]["db_password"], "[redacted]");
    assert!(
        add["$mcp_intent"]
            .as_str()
            .is_some_and(|intent| intent.starts_with("Deploying for the user; then use [redacted]")),
        "{}",
        add["$mcp_intent"]
    );
    let response = calls[1]["properties"]["$mcp_response"].to_string();
    assert!(response.contains("[redacted]"), "{response}");

    let requests = ingest.requests();
    let everything: String = requests
        .iter()
        .map(|r| {
            let body = r.body.as_ref().expect("every request body decodes as JSON");
            format!("{}{:?}{:?}", body, r.headers, r.query)
        })
        .collect();
    // rmcp traces every message it receives (its own logs, at TRACE/DEBUG); the crate's lines are the ones whose
    // target is `posthog_mcp…`.
    let all_logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let logged: String = all_logs
        .lines()
        .filter(|line| line.contains(" posthog_mcp"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all_logs.contains(" rmcp"),
        "the subscriber saw the run's logs"
    );
    for secret in canaries
        .iter()
        .map(|(_, secret)| secret.as_str())
        .chain(KEYED.iter().map(|(_, value)| *value))
    {
        assert!(
            !everything.contains(secret),
            "{secret:?} reached the ingestion server"
        );
        assert!(!logged.contains(secret), "{secret:?} was logged");
    }
}
