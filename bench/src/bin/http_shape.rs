//! What a remote server pays: one stateless Streamable HTTP server per variant, each in its own process pinned to
//! CPU 0, driven from this process pinned to CPU 1 over one keep-alive HTTP/1.1 connection.
//!
//! ```sh
//! cd bench && cargo run --release --bin http_shape -- [--calls N] [--rounds R] [--warmup W] [--python PYTHON] [--only LABEL]
//! cd bench && cargo run --release --bin http_shape -- --sessions N [--argument-bytes B] [--seconds S] [--rounds R]
//! ```
//!
//! `--python` adds PostHog's Python SDK and its own bare server (`python/server.py`, see `python/README.md`);
//! `--sessions` measures calls per second with N connections sending large arguments at once; `--only LABEL` runs the
//! payloads whose label starts with LABEL (`small`, `1 KB reply`, ...), for profiling one.
//!
//! The servers are built as `examples/src/http.rs` builds a stateless one: rmcp's `StreamableHttpService` with
//! `legacy_session_mode: false` (rmcp 3.11's name for stateless) and JSON responses, axum on 127.0.0.1 with
//! `TCP_NODELAY`, a multi-threaded tokio runtime as `#[tokio::main]` makes (one worker on one pinned core).
//!
//! - `bare`: the plain rmcp server (`Plain`), no posthog-mcp at all.
//! - `http`: `Analytics::instrument(Attributed)` behind `track_sessions` and `SessionLayer`, delivering over HTTP to
//!   a loopback `/batch/` endpoint that answers 200 (the bench's `LoopbackSink`, in this driving process, so its
//!   work is not counted as the server's).
//! - `discard`: the same, with `Destination::Discard` (events fully built on the worker, then dropped).
//!
//! Each call is a raw `tools/call` POST with `MCP-Protocol-Version: 2025-11-25` and no `initialize`. Server CPU
//! is the server process's user + system time, all threads, read before and after each batch; before each reading
//! the server flushes its analytics, so a batch's figure includes delivering that batch's events. The figure in
//! the table comes from `getrusage(RUSAGE_SELF)` in the server (microseconds); `/proc/<pid>/stat` (10 ms ticks) is
//! read too, and shown beside it as a cross-check.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::{Listener, ListenerExt};
use posthog_mcp_bench::MMAP_THRESHOLD;
use posthog_mcp_bench::{
    Attributed, LoopbackSink, Plain, median, process_cpu, request, request_for_reply,
    request_with_argument,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

const VARIANTS: [&str; 3] = ["bare", "http", "discard"];

/// With `--python PYTHON`: PostHog's Python SDK and its own bare server (`python/server.py`), each measured
/// against `python bare`.
const PYTHON_VARIANTS: [&str; 2] = ["python bare", "python posthog"];

/// The Python servers run this many times fewer calls per batch (a call costs them about a millisecond, a 2 MB
/// reply more than a second).
const PYTHON_DIVISOR: usize = 10;

/// One payload of the series.
#[derive(Clone, Copy)]
enum Payload {
    /// `add(1, 2)`.
    Small,
    /// `blob`: a reply of this many bytes.
    Reply(usize),
    /// `add(1, 2)` with a `pad` argument of this many bytes.
    Argument(usize),
}

impl Payload {
    fn bytes(self) -> usize {
        match self {
            Payload::Small => 0,
            Payload::Reply(bytes) | Payload::Argument(bytes) => bytes,
        }
    }
}

/// The payload series: the small `add` call, and replies and arguments of 1 KB, 100 KB and 2 MB.
const SIZES: [(&str, Payload); 7] = [
    ("small (add)", Payload::Small),
    ("1 KB reply", Payload::Reply(1024)),
    ("100 KB reply", Payload::Reply(100 * 1024)),
    ("2 MB reply", Payload::Reply(2_000_000)),
    ("1 KB argument", Payload::Argument(1024)),
    ("100 KB argument", Payload::Argument(100 * 1024)),
    ("2 MB argument", Payload::Argument(2_000_000)),
];

/// A 2 MB reply runs this many times fewer calls per batch than the others (its calls take milliseconds).
const LARGE_DIVISOR: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(variant) = flag("--serve") {
        let cpu = flag("--cpu").map(|c| c.parse::<usize>().expect("--cpu N"));
        serve(&variant, flag("--sink"), cpu);
        return;
    }
    let number = |name: &str, default: usize| {
        flag(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {v:?}"))
        })
    };
    let calls = number("--calls", 2000);
    let rounds = number("--rounds", 4);
    let warmup = number("--warmup", 200);
    if let Some(sessions) = flag("--sessions") {
        let sessions = sessions
            .parse()
            .unwrap_or_else(|_| panic!("--sessions takes a number, not {sessions:?}"));
        let bytes = number("--argument-bytes", 3_800_000);
        let seconds = number("--seconds", 3);
        concurrent(sessions, bytes, seconds, rounds);
        return;
    }
    drive(
        calls,
        rounds,
        warmup,
        flag("--python").as_deref(),
        flag("--only").as_deref(),
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The server side.

#[allow(unsafe_code)]
fn pin_to(cpu: usize) -> bool {
    // SAFETY: `sched_setaffinity` reads the set we hand it; pid 0 is the calling thread, whose later threads
    // inherit the mask.
    unsafe {
        let mut set = std::mem::zeroed::<libc::cpu_set_t>();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// The CPUs this process may run on.
#[allow(unsafe_code)]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `sched_getaffinity` only writes the set we hand it.
    unsafe {
        let mut set = std::mem::zeroed::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

fn config() -> StreamableHttpServerConfig {
    // As `examples/src/http.rs` builds it for `stateless`.
    StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
}

fn serve(variant: &str, sink: Option<String>, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        assert!(pin_to(cpu), "could not pin the server to CPU {cpu}");
    }
    // What `#[tokio::main]` builds: a multi-threaded runtime with one worker per allowed CPU.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let handle = runtime.handle().clone();
    runtime.block_on(async move {
        let (router, analytics) = match variant {
            "bare" => {
                let server = Plain::default();
                let service = StreamableHttpService::new(
                    move || Ok(server.clone()),
                    Arc::new(LocalSessionManager::default()),
                    config(),
                );
                (axum::Router::new().nest_service("/mcp", service), None)
            }
            "http" | "discard" => {
                let builder = posthog_mcp::Analytics::builder().identity(
                    posthog_mcp::IdentityOptions::default().without_registered_identify(),
                );
                let builder = if variant == "http" {
                    let sink = sink.expect("--sink URL for the http variant");
                    builder.api_key("phc_bench").host(sink)
                } else {
                    builder.destination(posthog_mcp::Destination::Discard)
                };
                let analytics = builder.build().expect("a valid configuration");
                let server = analytics.instrument(Attributed::default());
                let service = StreamableHttpService::new(
                    move || Ok(server.clone()),
                    Arc::new(posthog_mcp::http::track_sessions(
                        LocalSessionManager::default(),
                    )),
                    config(),
                );
                let router = axum::Router::new()
                    .nest_service("/mcp", service)
                    .layer(posthog_mcp::http::SessionLayer::new());
                (router, Some(analytics))
            }
            other => panic!("unknown variant {other:?}; one of {VARIANTS:?}"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port")
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        let address = listener.local_addr().expect("a bound address");
        // The control channel: each `cpu` line on stdin is answered, after a flush, with the process's CPU time
        // in microseconds; end of stdin ends the server.
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || control(handle, analytics))
            .expect("spawn the control thread");
        println!("listening {address}");
        std::io::stdout().flush().expect("stdout");
        axum::serve(listener, router).await.expect("serve");
    });
}

fn control(handle: tokio::runtime::Handle, analytics: Option<posthog_mcp::Analytics>) {
    let mut stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "cpu" {
            let drained = analytics
                .as_ref()
                .is_none_or(|a| handle.block_on(a.flush(Duration::from_secs(30))));
            let _ = writeln!(stdout, "cpu {} {drained}", process_cpu().as_micros());
            let _ = stdout.flush();
        }
    }
    std::process::exit(0);
}

// ---------------------------------------------------------------------------------------------------------------
// The driving side.

/// A server child process and its control pipes.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    connection: Connection,
    clock_ticks: u64,
}

impl Server {
    fn start(variant: &str, sink: &str, pin: bool, python: Option<&str>) -> Result<Server, String> {
        let mut command = match (variant.strip_prefix("python "), python) {
            (Some(sdk), Some(python)) => {
                let mut command = Command::new(python);
                command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/server.py"));
                command.args(["--variant", sdk, "--sink", sink]);
                command
            }
            _ => {
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let mut command = Command::new(exe);
                command.args(["--serve", variant, "--sink", sink]);
                command
            }
        };
        command.env("GLIBC_TUNABLES", MMAP_THRESHOLD);
        if pin {
            command.args(["--cpu", "0"]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let Some(address) = line.trim().strip_prefix("listening ") else {
            let status = child.wait().map_err(|e| e.to_string())?;
            return Err(format!(
                "no address from the server ({read} bytes: {line:?}); it exited with {status}"
            ));
        };
        let connection = Connection::open(address)?;
        // SAFETY: `sysconf` has no preconditions.
        #[allow(unsafe_code)]
        let clock_ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Ok(Server {
            child,
            stdin,
            stdout,
            connection,
            clock_ticks,
        })
    }

    /// The server's CPU time after flushing its analytics: (getrusage µs, /proc/<pid>/stat µs).
    fn cpu(&mut self) -> (u64, u64) {
        writeln!(self.stdin, "cpu").expect("the server's control pipe");
        self.stdin.flush().expect("the server's control pipe");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("the server's answer");
        let mut parts = line.split_whitespace().skip(1);
        let micros: u64 = parts
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("a CPU reading, not {line:?}"));
        assert_eq!(parts.next(), Some("true"), "the server drained its events");
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server's /proc stat");
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        (micros, ticks * 1_000_000 / self.clock_ticks)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive HTTP/1.1 connection, hand-rolled so the client's own cost stays small and identical for every
/// variant.
struct Connection {
    stream: TcpStream,
    host: String,
    buffer: Vec<u8>,
    request: Vec<u8>,
}

/// One answer: status, content type and body.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Connection {
    fn open(address: &str) -> Result<Connection, String> {
        let stream = TcpStream::connect(address).map_err(|e| format!("connect {address}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        Ok(Connection {
            stream,
            host: address.to_owned(),
            buffer: Vec::with_capacity(256 * 1024),
            request: Vec::with_capacity(4096),
        })
    }

    fn post(&mut self, body: &[u8]) -> Answer {
        self.request.clear();
        write!(
            self.request,
            "POST /mcp HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-11-25\r\n\
             content-length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .expect("write to a Vec");
        self.request.extend_from_slice(body);
        self.stream
            .write_all(&self.request)
            .expect("send the request");
        self.read_answer()
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).expect("read the answer");
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }

    fn read_answer(&mut self) -> Answer {
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill();
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_ascii_lowercase();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|v| v.trim().to_owned())
        };
        let content_type = header("content-type:").unwrap_or_default();
        let body = if let Some(length) = header("content-length:") {
            let length: usize = length.parse().expect("a content length");
            while self.buffer.len() < head_end + length {
                self.fill();
            }
            let body = self.buffer[head_end..head_end + length].to_vec();
            self.buffer.drain(..head_end + length);
            body
        } else if header("transfer-encoding:").is_some_and(|t| t.contains("chunked")) {
            self.buffer.drain(..head_end);
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(end) = find(&self.buffer, b"\r\n") {
                        break end;
                    }
                    self.fill();
                };
                let size = usize::from_str_radix(
                    std::str::from_utf8(&self.buffer[..line_end])
                        .expect("a chunk size")
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim(),
                    16,
                )
                .expect("a hexadecimal chunk size");
                while self.buffer.len() < line_end + 2 + size + 2 {
                    self.fill();
                }
                body.extend_from_slice(&self.buffer[line_end + 2..line_end + 2 + size]);
                self.buffer.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
            body
        } else {
            panic!("an answer with neither a length nor chunks: {head}");
        };
        Answer {
            status,
            content_type,
            body,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The JSON-RPC body of one call of the size series, id 1.
fn body_for(payload: Payload) -> Vec<u8> {
    let params = match payload {
        Payload::Small => request(),
        Payload::Reply(size) => request_for_reply(size),
        Payload::Argument(size) => request_with_argument(size),
    };
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params,
    }))
    .expect("a JSON body")
}

/// Checks one answer fully: a JSON (not SSE) 200 whose result is the expected text.
fn check_fully(answer: &Answer, payload: Payload) -> Result<(), String> {
    if answer.status != 200 {
        return Err(format!(
            "status {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    if !answer.content_type.starts_with("application/json") {
        return Err(format!("content type {:?}", answer.content_type));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|e| format!("not JSON: {e}"))?;
    let text = value["result"]["content"][0]["text"]
        .as_str()
        .ok_or_else(|| format!("no text result: {value}"))?;
    let ok = match payload {
        Payload::Small | Payload::Argument(_) => text == "3",
        Payload::Reply(size) => text.len() == size,
    };
    if !ok || value["result"]["isError"] == serde_json::Value::Bool(true) {
        return Err(format!(
            "unexpected result: {}",
            &text[..text.len().min(80)]
        ));
    }
    Ok(())
}

/// The cheap check on every measured answer: a 200 carrying a result.
fn check_quickly(answer: &Answer) {
    assert!(
        answer.status == 200
            && find(&answer.body[..answer.body.len().min(64)], b"\"result\"").is_some(),
        "a failed call: status {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
    );
}

/// One batch's figures.
#[derive(Clone, Copy)]
struct Batch {
    p50: f64,
    p99: f64,
    cpu: f64,
    cpu_stat: f64,
}

fn batch(server: &mut Server, body: &[u8], calls: usize) -> Batch {
    let mut times = Vec::with_capacity(calls);
    let (cpu_before, stat_before) = server.cpu();
    for _ in 0..calls {
        let start = Instant::now();
        let answer = server.connection.post(body);
        times.push(start.elapsed());
        check_quickly(&answer);
    }
    let (cpu_after, stat_after) = server.cpu();
    times.sort_unstable();
    let percentile = |p: f64| {
        let index = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[index].as_secs_f64() * 1e6
    };
    Batch {
        p50: percentile(0.50),
        p99: percentile(0.99),
        cpu: (cpu_after - cpu_before) as f64 / calls as f64,
        cpu_stat: (stat_after - stat_before) as f64 / calls as f64,
    }
}

fn spread(values: &[f64]) -> String {
    let mut v = values.to_vec();
    let m = median(&mut v);
    format!("{m:.1} ({:.1}–{:.1})", v[0], v[v.len() - 1])
}

fn delta(values: &[f64], bare: &[f64]) -> String {
    let mut d: Vec<f64> = values.iter().zip(bare).map(|(v, b)| v - b).collect();
    let m = median(&mut d);
    format!("{m:+.1} ({:+.1}–{:+.1})", d[0], d[d.len() - 1])
}

/// The variant whose figures `variant`'s Δ columns are measured against: its own SDK's bare server.
fn baseline(variants: &[&str], variant: &str) -> usize {
    let bare = if variant.starts_with("python ") {
        "python bare"
    } else {
        "bare"
    };
    variants.iter().position(|&v| v == bare).unwrap_or(0)
}

/// Calls per batch for `variant` and `payload`.
fn calls_for(variant: &str, payload: Payload, calls: usize) -> usize {
    let calls = if payload.bytes() >= 1_000_000 {
        calls / LARGE_DIVISOR
    } else {
        calls
    };
    if variant.starts_with("python ") {
        (calls / PYTHON_DIVISOR).max(3)
    } else {
        calls.max(10)
    }
}

fn drive(calls: usize, rounds: usize, warmup: usize, python: Option<&str>, only: Option<&str>) {
    // `--only LABEL`: the payloads whose label starts with LABEL (for profiling one of them).
    let sizes: Vec<(&str, Payload)> = SIZES
        .iter()
        .copied()
        .filter(|(name, _)| only.is_none_or(|only| name.starts_with(only)))
        .collect();
    let mut variants: Vec<&str> = VARIANTS.to_vec();
    if python.is_some() {
        variants.extend(PYTHON_VARIANTS);
    }
    let allowed = allowed_cpus();
    let pin = allowed.contains(&0) && allowed.contains(&1);
    if pin {
        assert!(pin_to(1), "could not pin the driver to CPU 1");
        println!("servers pinned to CPU 0, driver and loopback sink pinned to CPU 1");
    } else {
        println!(
            "UNPINNED: this process may run on CPUs {allowed:?} only (needs 0 and 1); servers and driver share them"
        );
    }
    let sink = LoopbackSink::start();
    let mut servers: Vec<(&str, Result<Server, String>)> = variants
        .iter()
        .map(|&v| (v, Server::start(v, &sink.url, pin, python)))
        .collect();
    for (variant, server) in &servers {
        if let Err(why) = server {
            println!("variant {variant} FAILED TO START: {why}");
        }
    }
    let bodies: Vec<Vec<u8>> = sizes
        .iter()
        .map(|(_, payload)| body_for(*payload))
        .collect();

    // Warm-up, each answer checked in full.
    for (variant, server) in &mut servers {
        let Ok(running) = server else { continue };
        let mut failure = None;
        'sizes: for ((_, payload), body) in sizes.iter().zip(&bodies) {
            let warmup = calls_for(variant, *payload, warmup);
            for _ in 0..warmup {
                if let Err(why) = check_fully(&running.connection.post(body), *payload) {
                    failure = Some(why);
                    break 'sizes;
                }
            }
        }
        if let Some(why) = failure {
            println!("variant {variant} FAILED its warm-up: {why}");
            *server = Err(why);
        }
    }

    // results[size][variant][round]
    let mut results = vec![vec![Vec::<Batch>::with_capacity(rounds); variants.len()]; sizes.len()];
    let started = Instant::now();
    for round in 0..rounds {
        for (s, body) in bodies.iter().enumerate() {
            for (v, (variant, server)) in servers.iter_mut().enumerate() {
                if let Ok(running) = server {
                    let calls = calls_for(variant, sizes[s].1, calls);
                    results[s][v].push(batch(running, body, calls));
                }
            }
        }
        eprintln!(
            "round {}/{rounds} done after {:.0} s",
            round + 1,
            started.elapsed().as_secs_f64()
        );
    }

    println!();
    println!(
        "{calls} calls per variant and size in each of {rounds} rounds (2 MB: {LARGE_DIVISOR}× fewer; Python \
         servers: {PYTHON_DIVISOR}× fewer), after {warmup} warm-up calls each (as many fewer); servers run with \
         GLIBC_TUNABLES={MMAP_THRESHOLD}; each cell: median over rounds (min–max); Δ: the difference to its own \
         SDK's bare server in the same round, median (min–max)"
    );
    println!();
    println!(
        "| payload | variant | p50 µs | Δ p50 | p99 µs | Δ p99 | server CPU µs/call | Δ CPU | CPU from /proc stat |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (s, (size_name, _)) in sizes.iter().enumerate() {
        let column =
            |v: usize, f: fn(&Batch) -> f64| results[s][v].iter().map(f).collect::<Vec<f64>>();
        for (v, (variant, server)) in servers.iter().enumerate() {
            if let Err(why) = server {
                println!("| {size_name} | {variant} | failed: {why} | | | | | | |");
                continue;
            }
            let base = baseline(&variants, variant);
            let d = |f: fn(&Batch) -> f64| {
                if v == base || results[s][base].is_empty() {
                    "".to_owned()
                } else {
                    delta(&column(v, f), &column(base, f))
                }
            };
            println!(
                "| {size_name} | {variant} | {} | {} | {} | {} | {} | {} | {} |",
                spread(&column(v, |b| b.p50)),
                d(|b| b.p50),
                spread(&column(v, |b| b.p99)),
                d(|b| b.p99),
                spread(&column(v, |b| b.cpu)),
                d(|b| b.cpu),
                spread(&column(v, |b| b.cpu_stat)),
            );
        }
    }
    if python.is_some() {
        compare_with_python(&variants, &sizes, &results);
    }
    println!();
    println!(
        "loopback sink: {} requests, {} body bytes (the http variant's deliveries)",
        sink.requests.load(std::sync::atomic::Ordering::Relaxed),
        sink.bytes.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// The median over rounds of `variant`'s added figure against its own bare server, for size `s`.
fn added(
    variants: &[&str],
    results: &[Vec<Vec<Batch>>],
    s: usize,
    variant: &str,
    f: fn(&Batch) -> f64,
) -> Option<f64> {
    let v = variants.iter().position(|&x| x == variant)?;
    let base = baseline(variants, variant);
    let (own, bare) = (&results[s][v], &results[s][base]);
    if own.is_empty() || own.len() != bare.len() {
        return None;
    }
    let mut d: Vec<f64> = own.iter().zip(bare).map(|(o, b)| f(o) - f(b)).collect();
    Some(median(&mut d))
}

/// What PostHog's Python SDK adds beside what posthog-mcp adds, per small call and per MB of reply.
fn compare_with_python(variants: &[&str], sizes: &[(&str, Payload)], results: &[Vec<Vec<Batch>>]) {
    let row = |name: &str| sizes.iter().position(|(n, _)| *n == name);
    println!();
    println!(
        "| added, each SDK against its own bare server | posthog.mcp (Python) | posthog-mcp (http) | ratio |"
    );
    println!("| --- | ---: | ---: | ---: |");
    let lines: [(&str, Option<usize>, fn(&Batch) -> f64, f64); 4] = [
        ("small call, p50 µs", row("small (add)"), |b| b.p50, 1.0),
        (
            "small call, server CPU µs",
            row("small (add)"),
            |b| b.cpu,
            1.0,
        ),
        ("per MB of reply, p50 µs", row("2 MB reply"), |b| b.p50, 2.0),
        (
            "per MB of reply, server CPU µs",
            row("2 MB reply"),
            |b| b.cpu,
            2.0,
        ),
    ];
    for (label, s, f, per) in lines {
        let Some(s) = s else { continue };
        let theirs = added(variants, results, s, "python posthog", f).map(|a| a / per);
        let ours = added(variants, results, s, "http", f).map(|a| a / per);
        let show = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{x:+.1}"));
        let ratio = match (theirs, ours) {
            (Some(t), Some(o)) if o > 0.0 => format!("{:.1}×", t / o),
            _ => "—".to_owned(),
        };
        println!("| {label} | {} | {} | {ratio} |", show(theirs), show(ours));
    }
}

/// `--sessions N`: N connections at once, each sending `add` calls with an argument of `bytes` as fast as the
/// server answers, for `seconds` per variant and round (variants interleaved): calls per second with analytics on
/// against bare.
fn concurrent(sessions: usize, bytes: usize, seconds: usize, rounds: usize) {
    let allowed = allowed_cpus();
    let pin = allowed.contains(&0) && allowed.contains(&1);
    if pin {
        assert!(pin_to(1), "could not pin the driver to CPU 1");
    }
    let sink = LoopbackSink::start();
    let mut servers: Vec<(&str, Server)> = VARIANTS
        .iter()
        .map(|&v| {
            let server = Server::start(v, &sink.url, pin, None)
                .unwrap_or_else(|why| panic!("variant {v} did not start: {why}"));
            (v, server)
        })
        .collect();
    let body = body_for(Payload::Argument(bytes));
    for (variant, server) in &mut servers {
        if let Err(why) = check_fully(&server.connection.post(&body), Payload::Argument(bytes)) {
            panic!("variant {variant} failed its warm-up: {why}");
        }
    }
    // per_second[variant][round]
    let mut per_second = vec![Vec::with_capacity(rounds); servers.len()];
    for _ in 0..rounds {
        for (v, (_, server)) in servers.iter_mut().enumerate() {
            let address = server.connection.host.clone();
            let deadline = Instant::now() + Duration::from_secs(seconds as u64);
            let started = Instant::now();
            let done: usize = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..sessions)
                    .map(|_| {
                        let (address, body) = (&address, &body);
                        scope.spawn(move || {
                            let mut connection = Connection::open(address).expect("a connection");
                            let mut calls = 0;
                            while Instant::now() < deadline {
                                check_quickly(&connection.post(body));
                                calls += 1;
                            }
                            calls
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("a session"))
                    .sum()
            });
            server.cpu();
            per_second[v].push(done as f64 / started.elapsed().as_secs_f64());
        }
    }
    println!(
        "{sessions} sessions at once, each sending `add` with a {bytes}-byte argument as fast as answered, {seconds} s \
         per variant in each of {rounds} rounds; median over rounds (min–max)"
    );
    println!();
    println!("| variant | calls per second | × bare (median of per-round ratios) |");
    println!("| --- | --- | ---: |");
    for (v, (variant, _)) in servers.iter().enumerate() {
        let mut ratios: Vec<f64> = per_second[v]
            .iter()
            .zip(&per_second[0])
            .map(|(own, bare)| own / bare)
            .collect();
        println!(
            "| {variant} | {} | {:.3} |",
            spread(&per_second[v]),
            median(&mut ratios)
        );
    }
}
