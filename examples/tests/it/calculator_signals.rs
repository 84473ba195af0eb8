//! The calculator binary over stdio, stopped by signals while its last events cannot be delivered (ingestion hangs):
//! one SIGTERM stops it gracefully within the exit budget, a second one during that flush ends it at once.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use posthog_mcp_tests::{Answer, IngestServer};

/// The calculator over stdio, reporting to an ingestion server that never answers in time, initialized by one
/// client request (so `$mcp_initialize` is waiting to be delivered).
fn initialized_calculator(ingest: &IngestServer) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_calculator"))
        .env("POSTHOG_API_KEY", "phc_signal_test")
        .env("POSTHOG_HOST", ingest.url())
        .env_remove("POSTHOG_MCP_LOCAL_SINK")
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the calculator");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"signal-test","version":"1.0.0"}}}}}}"#
    )
    .unwrap();
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut reply = String::new();
    stdout.read_line(&mut reply).unwrap();
    assert!(reply.contains(r#""id":1"#), "initialize answered: {reply}");
    // Keep stdin open (the server must stop on the signal, not on end of input).
    std::mem::forget(stdin);
    let lines = stderr_lines(child.stderr.take().unwrap());
    (child, lines)
}

/// stderr, line by line, read on a thread of its own.
fn stderr_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// Waits (up to 30 s) for a stderr line containing `needle`.
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(error) => panic!("no stderr line with {needle:?}: {error}"),
        }
    }
}

fn hung_ingestion() -> IngestServer {
    let ingest = IngestServer::start();
    ingest.set_default(Answer::ok().delayed(Duration::from_secs(600)));
    ingest
}

#[test]
fn one_sigterm_stops_gracefully_and_counts_what_it_could_not_deliver() {
    let ingest = hung_ingestion();
    let (mut child, lines) = initialized_calculator(&ingest);
    sigterm(&child);
    wait_for_line(&lines, "signal received");
    // The delivery summary names what was left behind: the initialize event, dropped at exit.
    let summary = wait_for_line(&lines, "delivery stopped");
    assert!(
        summary.contains("0 sent, 1 dropped")
            && summary.contains("1 after shutdown), 0 undelivered"),
        "{summary}"
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
}

#[test]
fn a_second_sigterm_during_the_final_flush_exits_at_once() {
    let ingest = hung_ingestion();
    let (mut child, lines) = initialized_calculator(&ingest);
    sigterm(&child);
    wait_for_line(&lines, "signal received");
    sigterm(&child);
    wait_for_line(&lines, "second signal");
    let status = child.wait().unwrap();
    // 130, not the graceful 0: the process did not wait out the flush's budget.
    assert_eq!(status.code(), Some(130));
}
