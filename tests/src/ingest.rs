//! A local PostHog ingestion server for end-to-end tests.
//!
//! [`IngestServer::start`] binds a real HTTP server (axum on hyper) to `127.0.0.1:0` on its own thread and tokio
//! runtime, so it keeps answering whatever the test does with its own runtime (blocking included), and it can be
//! used from `#[test]` and `#[tokio::test]` alike. Point the delivery sink at [`IngestServer::url`].
//!
//! - **Recording.** Every request is recorded ([`RecordedRequest`]: method, path, query, headers, raw and decoded
//!   body, the status it was answered with, when it arrived). Bodies are gunzipped when `Content-Encoding: gzip`
//!   or `?compression=gzip` says so, or when they start with the gzip magic bytes.
//! - **Reading.** [`IngestServer::events`] flattens the `batch` items of every *accepted* (2xx) `/batch/` request;
//!   [`IngestServer::requests`] returns everything; the `wait_for_*` methods wait (real time, bounded) until
//!   enough has arrived and return what is there when the timeout passes — assert on the length.
//! - **Scripting.** Each `/batch/` request is answered by, in order: the next queued answer
//!   ([`IngestServer::answer_next`]), else the first rule that matches ([`IngestServer::answer_when`] and the
//!   helpers [`IngestServer::reject_uuid`], [`IngestServer::reject_batches_over`]), else the default answer
//!   (200 `{"status": 1}`, changeable with [`IngestServer::set_default`]). An [`Answer`] has a status, an optional
//!   delay and an optional `Retry-After`. Other paths get 404.
//! - **Volume.** [`IngestServer::keep_bodies`]`(false)` keeps only `event`, `uuid` and `distinct_id` of each batch
//!   item and no raw bytes, for tests that send 100,000 events.
//! - **Outages.** [`IngestServer::go_down`] closes the listener and every open connection, so clients get
//!   "connection refused"; [`IngestServer::come_up`] listens again on the same port.
//! - **Wire conventions.** Every `/batch/` request is checked on arrival against PostHog's conventions: the
//!   `User-Agent` names this crate and its version; the content type is JSON and `Content-Encoding: gzip`
//!   matches the body; the body has only `api_key`, `batch`, `sent_at` (and at most
//!   `historical_migration: false`); `sent_at` and every item's `timestamp` are RFC 3339 with
//!   milliseconds and `Z`; every item has exactly the five envelope keys, a uuid, a non-empty event name and
//!   distinct id; `$lib`, `$lib_version` and `$lib_version__major/minor/patch` name this crate and agree; there is
//!   no `$os` or `$os_version`. [`IngestServer::wire_violations`] lists what broke them;
//!   [`IngestServer::assert_wire_conventions`] fails the test if anything did.
//! - **Concurrency.** [`IngestServer::peak_concurrent`] is the most `/batch/` requests the server was answering
//!   at once.
//!
//! ```no_run
//! # use posthog_mcp_tests::ingest::{IngestServer, Answer};
//! # use std::time::Duration;
//! # async fn demo() {
//! let server = IngestServer::start();
//! server.answer_next([Answer::status(500), Answer::status(500)]);
//! // ... point a PostHog sink at server.url(), send ...
//! let events = server.wait_for_events(10, Duration::from_secs(5)).await;
//! assert_eq!(events.len(), 10);
//! # }
//! ```

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How the server answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Waited (real time) before answering; the request is recorded on arrival.
    pub delay: Duration,
    /// The `Retry-After` header value, if any.
    pub retry_after: Option<String>,
    /// Response body.
    pub body: String,
}

impl Answer {
    /// 200 with PostHog's success body.
    pub fn ok() -> Self {
        Self::status(200)
    }
    /// An answer with this status (200 gets PostHog's success body, others a short error body).
    pub fn status(status: u16) -> Self {
        let body = if (200..300).contains(&status) {
            r#"{"status":1}"#.to_string()
        } else {
            format!(r#"{{"type":"scripted","code":"status_{status}","detail":"scripted failure"}}"#)
        };
        Self {
            status,
            delay: Duration::ZERO,
            retry_after: None,
            body,
        }
    }
    /// The same answer, sent after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    /// The same answer with a `Retry-After` header (seconds or an HTTP date).
    pub fn retry_after(mut self, value: impl ToString) -> Self {
        self.retry_after = Some(value.to_string());
        self
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/batch/`.
    pub path: String,
    /// Query string without `?`, if any.
    pub query: Option<String>,
    /// Headers, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body as received.
    pub raw_body: Vec<u8>,
    /// Whether the body was gzip-compressed.
    pub gzipped: bool,
    /// The decoded JSON body, when it parsed.
    pub body: Option<Value>,
    /// The status the server answered with.
    pub status: u16,
    /// When it arrived (real time).
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The `batch` items of the body (empty when there are none).
    pub fn batch(&self) -> Vec<Value> {
        self.body
            .as_ref()
            .and_then(|b| b.get("batch"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
    /// The `uuid` of every batch item.
    pub fn uuids(&self) -> Vec<String> {
        self.batch()
            .iter()
            .filter_map(|e| e.get("uuid").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
    /// Whether the server answered 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// Whether this is a `POST /batch/` (or `/batch`).
    pub fn is_batch(&self) -> bool {
        self.method == "POST" && (self.path == "/batch/" || self.path == "/batch")
    }
}

type Rule = Box<dyn Fn(&RecordedRequest) -> Option<Answer> + Send + Sync>;

#[derive(Default)]
struct Script {
    queued: VecDeque<Answer>,
    rules: Vec<Rule>,
    default: Option<Answer>,
}

struct Inner {
    addr: SocketAddr,
    violations: Mutex<Vec<String>>,
    concurrent: std::sync::atomic::AtomicUsize,
    peak_concurrent: std::sync::atomic::AtomicUsize,
    keep_bodies: std::sync::atomic::AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<Script>,
    /// Number of requests recorded so far.
    arrivals: watch::Sender<usize>,
    serving: Mutex<Option<JoinSet<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server; dropping it stops it.
pub struct IngestServer {
    inner: Arc<Inner>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for IngestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestServer")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl IngestServer {
    /// Starts a server on `127.0.0.1:0`, answering 200 to every batch.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ingest-server")
            .enable_all()
            .build()
            .expect("build the ingestion server's runtime");
        let listener = {
            let _entered = runtime.enter();
            bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind 127.0.0.1:0")
        };
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Inner {
            addr,
            violations: Mutex::new(Vec::new()),
            concurrent: std::sync::atomic::AtomicUsize::new(0),
            peak_concurrent: std::sync::atomic::AtomicUsize::new(0),
            keep_bodies: std::sync::atomic::AtomicBool::new(true),
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Script::default()),
            arrivals: watch::channel(0).0,
            serving: Mutex::new(None),
        });
        let server = Self {
            inner,
            runtime: Some(runtime),
        };
        server.serve(listener);
        server
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("runtime lives as long as the server")
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let _entered = self.runtime().enter();
        let mut tasks = JoinSet::new();
        let inner = self.inner.clone();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let accepted = connections.clone();
        tasks.spawn(async move {
            // Holding the connection set here means aborting this task aborts every connection too.
            let _connections = accepted.clone();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                lock(&accepted).spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        // A second task only to own the connections, so `go_down` can abort them.
        tasks.spawn(async move {
            let _keep = connections;
            std::future::pending::<()>().await;
        });
        *lock(&inner.serving) = Some(tasks);
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (give it to the sink as the host).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Closes the listener and every open connection: clients get "connection refused" until
    /// [`IngestServer::come_up`].
    pub fn go_down(&self) {
        let tasks = lock(&self.inner.serving).take();
        if let Some(mut tasks) = tasks {
            let _entered = self.runtime().enter();
            tasks.abort_all();
            // Wait until the listener and connections are really gone.
            self.block_on_server(async move { while tasks.join_next().await.is_some() {} });
        }
    }

    /// Listens again on the same port after [`IngestServer::go_down`].
    pub fn come_up(&self) {
        if lock(&self.inner.serving).is_some() {
            return;
        }
        let addr = self.inner.addr;
        let listener = self.block_on_server(async move {
            let mut attempts = 0;
            loop {
                match bind(addr) {
                    Ok(listener) => return listener,
                    Err(err) if attempts < 100 => {
                        attempts += 1;
                        let _ = err;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(err) => panic!("cannot listen on {addr} again: {err}"),
                }
            }
        });
        self.serve(listener);
    }

    /// Runs a future on the server's runtime from any context (sync, or inside another runtime).
    fn block_on_server<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.runtime().spawn(future);
        futures::executor::block_on(handle).expect("server task")
    }

    /// Queues answers for the next `/batch/` requests, in order (before any rule).
    pub fn answer_next(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.inner.script).queued.extend(answers);
    }

    /// Adds a rule: for a `/batch/` request with no queued answer left, the first rule returning `Some` answers.
    pub fn answer_when(
        &self,
        rule: impl Fn(&RecordedRequest) -> Option<Answer> + Send + Sync + 'static,
    ) {
        lock(&self.inner.script).rules.push(Box::new(rule));
    }

    /// Answers `status` (e.g. 400) to every batch containing an item with this uuid.
    pub fn reject_uuid(&self, uuid: impl ToString, status: u16) {
        let uuid = uuid.to_string();
        self.answer_when(move |request| {
            request
                .uuids()
                .contains(&uuid)
                .then(|| Answer::status(status))
        });
    }

    /// Answers `status` (e.g. 413) to every batch with more than `max_items` items.
    pub fn reject_batches_over(&self, max_items: usize, status: u16) {
        self.answer_when(move |request| {
            (request.batch().len() > max_items).then(|| Answer::status(status))
        });
    }

    /// The answer when nothing else applies (initially 200).
    pub fn set_default(&self, answer: Answer) {
        lock(&self.inner.script).default = Some(answer);
    }

    /// With `false`, later requests are recorded without raw bytes, and each batch item keeps only `event`,
    /// `uuid` and `distinct_id` (rules still see the full body; the wire checks cover the headers only). For
    /// high-volume tests.
    pub fn keep_bodies(&self, keep: bool) {
        self.inner
            .keep_bodies
            .store(keep, std::sync::atomic::Ordering::Relaxed);
    }

    /// Forgets queued answers, rules and the default.
    pub fn clear_script(&self) {
        *lock(&self.inner.script) = Script::default();
    }

    /// Every way a `/batch/` request so far broke PostHog's wire conventions (see the module documentation), one
    /// line each, naming the request by its arrival number.
    pub fn wire_violations(&self) -> Vec<String> {
        lock(&self.inner.violations).clone()
    }

    /// Fails (panics) if any `/batch/` request so far broke the wire conventions.
    pub fn assert_wire_conventions(&self) {
        let violations = self.wire_violations();
        assert!(
            violations.is_empty(),
            "the wire conventions were broken:\n{}",
            violations.join("\n")
        );
    }

    /// The most `/batch/` requests that were being answered at the same moment.
    pub fn peak_concurrent(&self) -> usize {
        self.inner
            .peak_concurrent
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// The `/batch/` requests so far, in arrival order.
    pub fn batch_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_batch)
            .collect()
    }

    /// The batch items of every accepted `/batch/` request, flattened, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.inner.requests)
            .iter()
            .filter(|r| r.is_batch() && r.accepted())
            .flat_map(|r| r.batch())
            .collect()
    }

    /// Waits (real time, at most `timeout`) until at least `n` events were accepted; returns them all.
    pub async fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<Value> {
        self.wait_until(timeout, move |requests| {
            requests
                .iter()
                .filter(|r| r.is_batch() && r.accepted())
                .map(|r| r.batch().len())
                .sum::<usize>()
                >= n
        })
        .await;
        self.events()
    }

    /// Waits (real time, at most `timeout`) until at least `n` requests arrived; returns them all.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.wait_until(timeout, move |requests| requests.len() >= n)
            .await;
        self.requests()
    }

    /// [`IngestServer::wait_for_events`] for synchronous tests.
    pub fn wait_for_events_blocking(&self, n: usize, timeout: Duration) -> Vec<Value> {
        futures::executor::block_on(self.wait_for_events(n, timeout))
    }

    /// Waits until `condition` holds for the recorded requests, or `timeout` passes (real time); `true` if it held.
    /// Works from any context: the timer runs on the server's runtime.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&[RecordedRequest]) -> bool + Send + Sync + 'static,
    ) -> bool {
        let inner = self.inner.clone();
        let mut arrivals = inner.arrivals.subscribe();
        let waiting = self.runtime().spawn(async move {
            let check = async {
                loop {
                    if condition(&lock(&inner.requests)) {
                        return;
                    }
                    if arrivals.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::time::timeout(timeout, check).await.is_ok()
        });
        waiting.await.unwrap_or(false)
    }
}

impl Drop for IngestServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn decode(
    headers: &HeaderMap,
    query: Option<&str>,
    raw: &[u8],
    keep: bool,
) -> (bool, Option<Value>) {
    let says_gzip = headers.get_all("content-encoding").iter().any(|v| {
        v.to_str()
            .map(|s| s.to_ascii_lowercase().contains("gzip"))
            .unwrap_or(false)
    }) || query
        .map(|q| q.split('&').any(|kv| kv == "compression=gzip"))
        .unwrap_or(false);
    let looks_gzip = raw.starts_with(&[0x1f, 0x8b]);
    if says_gzip || looks_gzip {
        let mut text = Vec::new();
        if flate2::read::GzDecoder::new(raw)
            .read_to_end(&mut text)
            .is_ok()
        {
            return (true, parse(&text, keep));
        }
    }
    (false, parse(raw, keep))
}

/// The body as JSON; without `keep`, only what [`slim`] keeps is parsed (much cheaper at volume).
fn parse(bytes: &[u8], keep: bool) -> Option<Value> {
    if keep {
        return serde_json::from_slice(bytes).ok();
    }
    #[derive(serde::Deserialize)]
    struct Slim {
        #[serde(default)]
        batch: Vec<SlimItem>,
    }
    #[derive(serde::Deserialize, serde::Serialize)]
    struct SlimItem {
        #[serde(default)]
        event: Value,
        #[serde(default)]
        uuid: Value,
        #[serde(default)]
        distinct_id: Value,
    }
    let slim: Slim = serde_json::from_slice(bytes).ok()?;
    Some(serde_json::json!({ "batch": slim.batch }))
}

fn slim(request: &mut RecordedRequest) {
    request.raw_body = Vec::new();
    let items = match &mut request.body {
        Some(Value::Object(body)) => body.get_mut("batch"),
        _ => None,
    };
    if let Some(Value::Array(items)) = items {
        for item in items.iter_mut() {
            if let Value::Object(fields) = item {
                fields.retain(|key, _| matches!(key.as_str(), "event" | "uuid" | "distinct_id"));
            }
        }
    }
}

/// The body as sent, gunzipped when it was compressed (empty when the server keeps slim bodies).
pub fn decoded_body(request: &RecordedRequest) -> Vec<u8> {
    if request.raw_body.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        let _ = flate2::read::GzDecoder::new(&request.raw_body[..]).read_to_end(&mut text);
        text
    } else {
        request.raw_body.clone()
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: RFC 3339, UTC, exactly three fractional digits, `Z`.
pub fn is_millisecond_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 24
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            23 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// The wire conventions (module documentation) broken by one `/batch/` request, as readable lines. With
/// `body == false` (the server keeps slim bodies, [`IngestServer::keep_bodies`]) only the headers are checked.
pub fn check_wire(request: &RecordedRequest, body: bool) -> Vec<String> {
    use posthog_mcp::event as labels;
    let mut broken = Vec::new();
    let expected_agent = format!("posthog-rs-mcp/{}", labels::LIB_VERSION);
    if request.header("user-agent") != Some(expected_agent.as_str()) {
        broken.push(format!(
            "User-Agent is {:?}, not {expected_agent:?}",
            request.header("user-agent")
        ));
    }
    if request.header("content-type") != Some("application/json") {
        broken.push(format!(
            "Content-Type is {:?}",
            request.header("content-type")
        ));
    }
    let says_gzip = request
        .header("content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if says_gzip != request.raw_body.starts_with(&[0x1f, 0x8b]) {
        broken.push("Content-Encoding does not match the body".into());
    }
    if !body {
        return broken;
    }
    let Some(Value::Object(body)) = &request.body else {
        broken.push("the body is not a JSON object".into());
        return broken;
    };
    for key in body.keys() {
        if !matches!(
            key.as_str(),
            "api_key" | "batch" | "sent_at" | "historical_migration"
        ) {
            broken.push(format!("unexpected top-level key {key:?}"));
        }
    }
    if body
        .get("historical_migration")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        broken.push("historical_migration is not false".into());
    }
    if body
        .get("api_key")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        broken.push("no api_key".into());
    }
    match body.get("sent_at").and_then(Value::as_str) {
        Some(sent_at) if is_millisecond_rfc3339(sent_at) => {}
        other => broken.push(format!(
            "sent_at {other:?} is not RFC 3339 with milliseconds and Z"
        )),
    }
    let Some(items) = body.get("batch").and_then(Value::as_array) else {
        broken.push("no batch array".into());
        return broken;
    };
    if items.is_empty() {
        broken.push("an empty batch".into());
    }
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item.as_object() else {
            broken.push(format!("item {i} is not an object"));
            continue;
        };
        let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["distinct_id", "event", "properties", "timestamp", "uuid"] {
            broken.push(format!("item {i} has the keys {keys:?}"));
        }
        match item.get("timestamp").and_then(Value::as_str) {
            Some(at) if is_millisecond_rfc3339(at) => {}
            other => broken.push(format!(
                "item {i}: timestamp {other:?} is not RFC 3339 with milliseconds and Z"
            )),
        }
        if item
            .get("uuid")
            .and_then(Value::as_str)
            .is_none_or(|u| uuid::Uuid::parse_str(u).is_err())
        {
            broken.push(format!("item {i}: no valid uuid"));
        }
        for key in ["event", "distinct_id"] {
            if item
                .get(key)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                broken.push(format!("item {i}: {key} is missing or empty"));
            }
        }
        let Some(props) = item.get("properties").and_then(Value::as_object) else {
            broken.push(format!("item {i}: properties is not an object"));
            continue;
        };
        let expected = [
            ("$lib", Value::from(labels::LIB_NAME)),
            ("$lib_version", Value::from(labels::LIB_VERSION)),
            (
                "$lib_version__major",
                Value::from(labels::LIB_VERSION_MAJOR),
            ),
            (
                "$lib_version__minor",
                Value::from(labels::LIB_VERSION_MINOR),
            ),
            (
                "$lib_version__patch",
                Value::from(labels::LIB_VERSION_PATCH),
            ),
        ];
        for (key, value) in expected {
            if props.get(key) != Some(&value) {
                broken.push(format!(
                    "item {i}: {key} is {:?}, not {value}",
                    props.get(key)
                ));
            }
        }
        for key in ["$os", "$os_version"] {
            if props.contains_key(key) {
                broken.push(format!("item {i}: {key} was sent"));
            }
        }
    }
    broken
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = Instant::now();
    let query = uri.query().map(str::to_owned);
    let keep = inner.keep_bodies.load(std::sync::atomic::Ordering::Relaxed);
    let (gzipped, decoded) = decode(&headers, query.as_deref(), &body, keep);
    let mut request = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query,
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        raw_body: body.to_vec(),
        gzipped,
        body: decoded,
        status: 0,
        received_at,
    };
    let answer = if request.is_batch() {
        let mut script = lock(&inner.script);
        match script.queued.pop_front() {
            Some(answer) => answer,
            None => script
                .rules
                .iter()
                .find_map(|rule| rule(&request))
                .or_else(|| script.default.clone())
                .unwrap_or_else(Answer::ok),
        }
    } else {
        Answer::status(404)
    };
    request.status = answer.status;
    if request.is_batch() {
        let broken = check_wire(&request, keep);
        if !broken.is_empty() {
            let mut violations = lock(&inner.violations);
            let number = lock(&inner.requests).len() + 1;
            violations.extend(broken.into_iter().map(|b| format!("request {number}: {b}")));
        }
    }
    if !inner.keep_bodies.load(std::sync::atomic::Ordering::Relaxed) {
        slim(&mut request);
    }
    let is_batch = request.is_batch();
    {
        let mut requests = lock(&inner.requests);
        requests.push(request);
        let count = requests.len();
        inner.arrivals.send_replace(count);
    }
    struct Answering<'a>(&'a Inner);
    impl Drop for Answering<'_> {
        fn drop(&mut self) {
            self.0
                .concurrent
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _answering = is_batch.then(|| {
        let now = inner
            .concurrent
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        inner
            .peak_concurrent
            .fetch_max(now, std::sync::atomic::Ordering::SeqCst);
        Answering(&inner)
    });
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response =
        (status, [("content-type", "application/json")], answer.body).into_response();
    if let Some(value) = answer.retry_after
        && let Ok(value) = value.parse()
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}
