//! Shared set-up of the benchmarks: the same calculator server with and without `#[posthog_tool]`, every variant
//! connected to a real rmcp client over an in-memory duplex transport, a tiny loopback HTTP sink for the variants
//! that send over HTTP, and CPU accounting through `getrusage`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use posthog_mcp::{Analytics, Identity, posthog_tool};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Deserialize;

/// Arguments of `add`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Pair {
    /// Left operand.
    pub a: i64,
    /// Right operand.
    pub b: i64,
}

/// Arguments of `blob`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BlobSize {
    /// Bytes of text in the reply.
    pub size: usize,
}

/// A reply of `size` bytes of text (the size series).
pub fn blob_text(size: usize) -> String {
    "word ".repeat(size / 5 + 1)[..size].to_owned()
}

/// The calculator as a plain rmcp server.
#[derive(Debug, Clone)]
pub struct Plain {
    tool_router: ToolRouter<Self>,
}

impl Default for Plain {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Plain {
    /// Adds two numbers.
    #[tool(description = "Add two numbers")]
    async fn add(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> String {
        (a + b).to_string()
    }

    /// A reply of `size` bytes.
    #[tool(description = "A reply of `size` bytes")]
    async fn blob(&self, Parameters(BlobSize { size }): Parameters<BlobSize>) -> String {
        blob_text(size)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Plain {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("bench-calc", "1.0.0");
        info
    }
}

/// The same calculator with `#[posthog_tool]` on its tool.
#[derive(Debug, Clone)]
pub struct Attributed {
    tool_router: ToolRouter<Self>,
}

impl Default for Attributed {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Attributed {
    /// Adds two numbers.
    #[posthog_tool]
    #[tool(description = "Add two numbers")]
    async fn add(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> String {
        (a + b).to_string()
    }

    /// A reply of `size` bytes.
    #[posthog_tool]
    #[tool(description = "A reply of `size` bytes")]
    async fn blob(&self, Parameters(BlobSize { size }): Parameters<BlobSize>) -> String {
        blob_text(size)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Attributed {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("bench-calc", "1.0.0");
        info
    }
}

/// A connected rmcp client.
pub type Client = RunningService<RoleClient, ClientConfig>;

/// Serves `server` over an in-memory duplex pipe and connects an rmcp client to it.
pub async fn connect<S: ServerHandler>(server: S) -> Client {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("bench-client", "1.0.0"),
    )
    .serve(client_io)
    .await
    .expect("the client connects")
}

/// The one request every variant gets: `add(1, 2)` plus the `context` and `llm_model` arguments that
/// posthog-rs's injected schema requires. The bare server ignores them; posthog-mcp owns `context` (its intent
/// argument, on by default) and passes `llm_model` through, which `Pair` ignores.
pub fn request() -> CallToolRequestParams {
    let serde_json::Value::Object(arguments) = serde_json::json!({
        "a": 1,
        "b": 2,
        "context": "Adding two numbers for the benchmark",
        "llm_model": "bench-model-1",
    }) else {
        unreachable!()
    };
    CallToolRequestParams::new("add").with_arguments(arguments)
}

/// `add(1, 2)` as [`request`], with an extra `pad` argument of `bytes` bytes (the argument size series).
pub fn request_with_argument(bytes: usize) -> CallToolRequestParams {
    let mut request = request();
    if let Some(arguments) = request.arguments.as_mut() {
        arguments.insert("pad".into(), serde_json::Value::from(blob_text(bytes)));
    }
    request
}

/// `blob(size)`: a reply of `size` bytes (the reply size series).
pub fn request_for_reply(size: usize) -> CallToolRequestParams {
    let serde_json::Value::Object(arguments) = serde_json::json!({
        "size": size,
        "context": "A large reply for the benchmark",
        "llm_model": "bench-model-1",
    }) else {
        unreachable!()
    };
    CallToolRequestParams::new("blob").with_arguments(arguments)
}

/// One `tools/call` round trip of `request`.
pub async fn call_with(client: &Client, request: CallToolRequestParams) {
    let result = client.call_tool(request).await.expect("the call succeeds");
    std::hint::black_box(result);
}

/// glibc's mmap threshold, fixed for every process that serves 2 MB values: left dynamic, it moves when a
/// 2 MB block is freed, and the same server then alternates between mapping each value afresh and serving it
/// from the heap (2.3 to 6 ms per call for the bare server). Fixed above the largest value, every variant serves
/// it from the heap; the trim threshold, fixed too (glibc leaves it at 128 KiB once the mmap threshold is set),
/// keeps the freed block in the heap instead of returning it and faulting it back in on the next call. Given as
/// `GLIBC_TUNABLES`, which glibc reads when the process starts.
pub const MMAP_THRESHOLD: &str =
    "glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=268435456";

/// One `tools/call` round trip; panics unless the answer is `3`.
pub async fn call(client: &Client) {
    let result = client
        .call_tool(request())
        .await
        .expect("the call succeeds");
    debug_assert_eq!(
        result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.as_str()),
        Some("3")
    );
    std::hint::black_box(result);
}

/// The compared variants of one tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Plain rmcp, no analytics.
    Bare,
    /// posthog-mcp's wrapper + `#[posthog_tool]`, events built on the worker and dropped.
    OursDiscard,
    /// As `OursDiscard`, with an identify function (one session: every call after the first is a cache hit).
    OursIdentify,
    /// As `OursDiscard`, delivered over HTTP to the loopback sink through posthog-mcp's PostHog sink.
    OursHttp,
    /// posthog-mcp's wrapper + `#[posthog_tool]`, analytics disabled (no key, local sink off).
    OursDisabled,
    /// posthog-mcp's wrapper, disabled, around the plain server (no attribute): the wrapper's share alone.
    OursDisabledNoAttr,
    /// posthog-rs 0.30 `mcp::instrument` with default options, sending to the loopback sink.
    PosthogRs,
}

impl Variant {
    /// Every variant, in report order.
    pub const ALL: [Variant; 7] = [
        Variant::Bare,
        Variant::OursDiscard,
        Variant::OursIdentify,
        Variant::OursHttp,
        Variant::OursDisabled,
        Variant::OursDisabledNoAttr,
        Variant::PosthogRs,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Bare => "bare_rmcp",
            Variant::OursDiscard => "posthog_mcp_discard",
            Variant::OursIdentify => "posthog_mcp_discard_identify",
            Variant::OursHttp => "posthog_mcp_http_loopback",
            Variant::OursDisabled => "posthog_mcp_disabled",
            Variant::OursDisabledNoAttr => "posthog_mcp_disabled_no_attr",
            Variant::PosthogRs => "posthog_rs_mcp",
        }
    }
}

/// Makes the process-wide posthog-mcp instance a disabled one, as "no key, local sink off" in the environment
/// would. `#[posthog_tool]` outside an enabled wrapper reports to this instance. Call once, before any variant.
pub fn init_global_disabled() {
    let _ = posthog_mcp::init(
        Analytics::builder()
            .destination(posthog_mcp::Destination::Disabled)
            .identity(posthog_mcp::IdentityOptions::default().without_registered_identify()),
    );
}

/// One connected variant and what must be flushed to account for its background work.
pub struct Setup {
    /// Which variant.
    pub variant: Variant,
    /// The connected client.
    pub client: Client,
    /// posthog-mcp's instance, when the variant has one of its own.
    pub ours: Option<Analytics>,
    /// posthog-rs's client, for the posthog-rs variant.
    pub theirs: Option<Arc<posthog_rs::Client>>,
}

impl Setup {
    /// Builds and connects `variant`; `sink` is the loopback HTTP sink's base URL. Must run inside a tokio
    /// runtime. Lists the tools once, as a real client does before calling.
    pub async fn new(variant: Variant, sink: &str) -> Setup {
        let mut ours = None;
        let mut theirs = None;
        let client = match variant {
            Variant::Bare => connect(Plain::default()).await,
            Variant::OursDiscard | Variant::OursIdentify | Variant::OursHttp => {
                let mut builder = Analytics::builder().identity(
                    posthog_mcp::IdentityOptions::default().without_registered_identify(),
                );
                builder = match variant {
                    Variant::OursHttp => builder.api_key("phc_bench").host(sink),
                    _ => builder.destination(posthog_mcp::Destination::Discard),
                };
                if variant == Variant::OursIdentify {
                    builder = builder.identify(|_view| async {
                        Some(Identity::new("bench-user").with_property("plan", "pro"))
                    });
                }
                let analytics = builder.build().expect("a valid configuration");
                let client = connect(analytics.instrument(Attributed::default())).await;
                ours = Some(analytics);
                client
            }
            Variant::OursDisabled => connect(posthog_mcp::instrument(Attributed::default())).await,
            Variant::OursDisabledNoAttr => connect(posthog_mcp::instrument(Plain::default())).await,
            Variant::PosthogRs => {
                let posthog = Arc::new(posthog_rs::client(("phc_bench", sink)).await);
                let client = connect(posthog_rs::mcp::instrument(
                    Plain::default(),
                    posthog.clone(),
                ))
                .await;
                theirs = Some(posthog);
                client
            }
        };
        client.list_all_tools().await.expect("tools/list succeeds");
        call(&client).await;
        Setup {
            variant,
            client,
            ours,
            theirs,
        }
    }

    /// Waits until every event captured so far has been handled by the variant's background delivery.
    pub async fn settle(&self) {
        if let Some(analytics) = &self.ours {
            assert!(
                analytics.flush(Duration::from_secs(30)).await,
                "posthog-mcp drained"
            );
        }
        if let Some(posthog) = &self.theirs {
            posthog.flush().await;
        }
    }
}

/// CPU time (user + system) of the whole process, all threads, from `getrusage(RUSAGE_SELF)`.
pub fn process_cpu() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

/// CPU time (user + system) of the calling thread, from `getrusage(RUSAGE_THREAD)`.
pub fn thread_cpu() -> Duration {
    rusage(libc::RUSAGE_THREAD)
}

/// CPU time of the delivery worker's threads (`posthog-mcp-delivery` and `posthog-mcp-delivery-jobs`, whose names
/// the kernel keeps as `posthog-mcp-del`), from each thread's `/proc/self/task/<tid>/schedstat`. Zero where `/proc`
/// is not readable.
pub fn delivery_threads_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut nanos = 0u64;
    for task in tasks.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|comm| comm.starts_with("posthog-mcp-del"));
        if !named {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) {
            nanos += stat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(nanos)
}

#[allow(unsafe_code)]
fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: `getrusage` only writes the struct we hand it.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(who, &mut usage), 0, "getrusage failed");
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// A minimal HTTP/1.1 server on loopback that reads each request and answers `200 {"status":1}`, standing in for
/// PostHog's `/batch/` endpoint. It counts requests and body bytes, and the CPU time its own threads spend, so
/// that the CPU report can subtract the sink (which is not part of the host's cost).
pub struct LoopbackSink {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests answered.
    pub requests: Arc<AtomicU64>,
    /// Body bytes received.
    pub bytes: Arc<AtomicU64>,
    /// CPU time spent by the sink's threads, in microseconds.
    pub cpu_micros: Arc<AtomicU64>,
}

impl LoopbackSink {
    /// Starts the sink on an ephemeral loopback port.
    pub fn start() -> LoopbackSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let requests = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let cpu_micros = Arc::new(AtomicU64::new(0));
        let counters = (requests.clone(), bytes.clone(), cpu_micros.clone());
        std::thread::Builder::new()
            .name("loopback-sink".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let counters = counters.clone();
                    std::thread::spawn(move || serve(stream, counters));
                }
            })
            .expect("spawn the sink");
        LoopbackSink {
            url,
            requests,
            bytes,
            cpu_micros,
        }
    }

    /// CPU time the sink's threads have used so far.
    pub fn cpu(&self) -> Duration {
        Duration::from_micros(self.cpu_micros.load(Ordering::Relaxed))
    }
}

fn serve(
    mut stream: TcpStream,
    (requests, bytes, cpu): (Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>),
) {
    let _ = stream.set_nodelay(true);
    let mut accounted = Duration::ZERO;
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Read the head.
        let head_end = loop {
            if let Some(end) = find(&buffer, b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    account(&cpu, &mut accounted);
                    return;
                }
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    account(&cpu, &mut accounted);
                    return;
                }
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        let body = br#"{"status":1}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(response.as_bytes()).is_err() || stream.write_all(body).is_err() {
            account(&cpu, &mut accounted);
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        bytes.fetch_add(length as u64, Ordering::Relaxed);
        account(&cpu, &mut accounted);
    }
}

fn account(total: &AtomicU64, accounted: &mut Duration) {
    let now = thread_cpu();
    let delta = now.saturating_sub(*accounted);
    *accounted = now;
    total.fetch_add(delta.as_micros() as u64, Ordering::Relaxed);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The identity-cache benchmark: one manual-API server with `sessions` live sessions, each already identified
/// once, so that every measured call is a cache hit among `sessions` entries.
pub mod identity_cache {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use posthog_mcp::manual::{ManualConnection, ManualRequest, ManualServer, Prepared};
    use posthog_mcp::{Analytics, Identity};
    use rmcp::model::{CallToolResult, ContentBlock, Implementation};

    /// A populated server.
    pub struct Populated {
        /// The server.
        pub server: ManualServer,
        /// One connection (session) per entry.
        pub connections: Vec<ManualConnection>,
        /// The request of each session (each carries its own bearer token).
        pub requests: Vec<ManualRequest>,
        /// How often the identify function ran.
        pub identify_calls: Arc<AtomicUsize>,
        /// The instance, to flush.
        pub analytics: Analytics,
    }

    /// Builds a discard-sink server whose identify function answers every token, with a cache large enough
    /// for `sessions`, and identifies `sessions` sessions once each. `identify: false` builds the same server
    /// with no identify function (no cache lookup at all), as a baseline.
    pub async fn populate(sessions: usize, identify: bool) -> Populated {
        let identify_calls = Arc::new(AtomicUsize::new(0));
        let counter = identify_calls.clone();
        let mut builder = Analytics::builder()
            .destination(posthog_mcp::Destination::Discard)
            .identity(
                posthog_mcp::IdentityOptions::default()
                    .without_registered_identify()
                    .identity_cache_capacity(sessions.max(1000)),
            );
        if identify {
            builder = builder.identify(move |view| {
                counter.fetch_add(1, Ordering::Relaxed);
                let user = view.bearer_token().unwrap_or("anon").to_owned();
                async move { Some(Identity::new(user).with_property("plan", "pro")) }
            });
        }
        let analytics = builder.build().expect("a valid configuration");
        let server = analytics
            .manual(Implementation::new("bench-gateway", "1.0.0"))
            .with_tools(vec![]);
        let mut connections = Vec::with_capacity(sessions);
        let mut requests = Vec::with_capacity(sessions);
        for i in 0..sessions {
            let connection = server.connection();
            let request = ManualRequest::new()
                .id(1)
                .header("authorization", format!("Bearer user-{i}"));
            one_call(&server, &connection, &request).await;
            connections.push(connection);
            requests.push(request);
            if i % 10_000 == 9_999 {
                // Keep the delivery queue from overflowing while populating.
                analytics.flush(std::time::Duration::from_secs(30)).await;
            }
        }
        analytics.flush(std::time::Duration::from_secs(30)).await;
        Populated {
            server,
            connections,
            requests,
            identify_calls,
            analytics,
        }
    }

    /// One prepared-and-finished `tools/call` through the manual API.
    pub async fn one_call(
        server: &ManualServer,
        connection: &ManualConnection,
        request: &ManualRequest,
    ) {
        match server
            .prepare_call(connection, request, super::request())
            .await
        {
            Prepared::Forward(call) => {
                let result = server.finish_call(
                    call,
                    Ok(CallToolResult::success(vec![ContentBlock::text("3")])),
                );
                std::hint::black_box(result.ok());
            }
            Prepared::Answered(_) => unreachable!("not a virtual tool"),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count), sorting them in place.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
