//! Interop with a client we did not write: runs `tests/interop` (npm `@modelcontextprotocol/sdk`, the official
//! TypeScript MCP client, at the exact versions `tests/interop/package-lock.json` pins) against the `calculator`
//! binary, over stdio and streamable HTTP, with a local ingestion server recording the analytics.
//!
//! The test installs the client itself: when `tests/interop/node_modules` (ignored by git) is missing or was
//! installed from another lock file, it runs `npm ci` there, under a file lock so that concurrent test runs do not
//! install over each other. Without Node.js 20+ and npm it fails with a message saying what to install; it never
//! skips.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(240);

#[test]
fn the_official_typescript_client_drives_the_calculator() {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    require_node();
    install_the_client(&interop);

    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "calculator.test.mjs"])
        .current_dir(&interop)
        .env("CALCULATOR_BIN", env!("CARGO_BIN_EXE_calculator"))
        .env_remove("NODE_OPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node`: {e}\n{NEED_NODE}"));

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

const NEED_NODE: &str = "the interop test needs Node.js 20 or later and npm on PATH \
     (Debian/Ubuntu: `apt-get install nodejs npm`; elsewhere: https://nodejs.org)";

/// Fails the test, saying what to install, unless `node --version` is 20 or later.
fn require_node() {
    let output = Command::new("node")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node --version`: {e}\n{NEED_NODE}"));
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version
        .strip_prefix('v')
        .and_then(|rest| rest.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    assert!(
        output.status.success() && major.is_some_and(|major| major >= 20),
        "`node --version` says {version:?}: {NEED_NODE}"
    );
}

/// Written into `node_modules` after a successful install: the lock file it was installed from.
const STAMP: &str = "node_modules/.installed-from-package-lock.json";

/// Runs `npm ci` in `interop` unless its `node_modules` was installed from the current `package-lock.json`.
fn install_the_client(interop: &Path) {
    let lock = std::fs::read_to_string(interop.join("package-lock.json"))
        .expect("tests/interop/package-lock.json is committed");
    let installed =
        || std::fs::read_to_string(interop.join(STAMP)).is_ok_and(|stamp| stamp == lock);
    if installed() {
        return;
    }

    // One installer at a time across processes; the lock is released when `guard` is dropped.
    let guard =
        File::create(interop.join(".npm-install.lock")).expect("create the install lock file");
    guard.lock().expect("take the install lock");
    if installed() {
        return; // another test run installed it while we waited
    }
    match Command::new("npm").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        _ => panic!("cannot run `npm --version`: {NEED_NODE}"),
    }
    eprintln!(
        "installing the pinned TypeScript MCP client: npm ci in {}",
        interop.display()
    );
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(interop)
        .env_remove("NODE_OPTIONS")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `npm ci`: {e}\n{NEED_NODE}"));
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}):\n{}\n{}",
        interop.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        interop
            .join("node_modules/@modelcontextprotocol/sdk/package.json")
            .is_file(),
        "`npm ci` succeeded but did not install @modelcontextprotocol/sdk"
    );
    std::fs::write(interop.join(STAMP), &lock).expect("write the install stamp");
    drop(guard);
}
