//! Interop with a client we did not write: runs `tests/interop` (npm `@modelcontextprotocol/sdk`, the official
//! TypeScript MCP client, at the exact version its `package.json` pins) against the `calculator` binary, over
//! stdio and streamable HTTP, with a local ingestion server recording the analytics.
//!
//! The npm packages are installed by `npm ci --prefix tests/interop` (`.ci/run` does it first); this test never
//! touches the network and fails, rather than skips, when they are missing.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(240);

#[test]
fn the_official_typescript_client_drives_the_calculator() {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    let sdk = interop.join("node_modules/@modelcontextprotocol/sdk/package.json");
    assert!(
        sdk.is_file(),
        "{} is missing: run `npm ci --prefix tests/interop` from the repository root first (.ci/run does)",
        interop.join("node_modules").display()
    );

    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "calculator.test.mjs"])
        .current_dir(&interop)
        .env("CALCULATOR_BIN", env!("CARGO_BIN_EXE_calculator"))
        .env_remove("NODE_OPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 20 or later is required): {e}"));

    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    // Shown by cargo when the test fails, or with `--nocapture`.
    println!("--- node --test stdout ---\n{stdout}\n--- node --test stderr ---\n{stderr}");

    match status {
        None => panic!("node --test did not finish within {LIMIT:?}"),
        Some(status) => assert!(
            status.success(),
            "node --test failed ({status}); its output is above"
        ),
    }
}
