//! The analytics instance: configuration, the delivery queue and the hooks shared by every server it
//! instruments, the process-wide instance that zero-config use starts lazily, and custom events.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::config::{AgentOptions, Builder, ConfigError};
use crate::delivery::{Delivery, DeliveryStats, LocalTarget, SinkKind};
use crate::event::Payload;
use crate::hooks::EventPropertiesFn;
use crate::identity::{
    CacheSettings, CredentialSource, Identity, IdentityResolver, SharedIdentify,
};
use crate::pipeline::{self, Attribution, PipelineSettings, PooledRecord};
use crate::session::{Callers, SessionStats};
use crate::tool::KnownTool;

/// One analytics instance: where events go and how they are built. Cheap to clone; clones share everything.
///
/// Most servers never name it: [`crate::instrument`] uses the process-wide instance configured from the
/// environment. Build one with [`Analytics::builder`] to configure hooks, identity or the sink in code.
#[derive(Clone)]
pub struct Analytics {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) delivery: Option<Delivery>,
    pub(crate) settings: Arc<PipelineSettings>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) event_properties: Option<EventPropertiesFn>,
    pub(crate) event_properties_timeout: Duration,
    pub(crate) agent: Arc<AgentOptions>,
    identify: Option<SharedIdentify>,
    cache_capacity: NonZeroUsize,
    cache_ttl: Duration,
    identify_timeout: Duration,
    identify_failure_ttl: Duration,
    credential: CredentialSource,
    /// The state of each server this instance instruments (identity cache, caller sessions), by server.
    servers: dashmap::DashMap<ServerKey, Arc<ServerState>>,
    pub(crate) session_capacity: NonZeroUsize,
    /// How long a task is awaited before it is reported as timed out.
    pub(crate) task_timeout: Duration,
    /// How many tasks each server awaits at once.
    pub(crate) task_capacity: NonZeroUsize,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics")
            .field("enabled", &self.is_enabled())
            .field("identify", &self.inner.identify.is_some())
            .finish_non_exhaustive()
    }
}

/// Who one intercepted request is attributed to: its session, client and server attribution and identity.
/// The wrapper puts it into each request context's extensions (as `Arc<CallerContext>`), so code running inside
/// a handler can attribute custom events to the caller with [`Analytics::capture_in`].
#[derive(Debug, Clone)]
pub struct CallerContext {
    pub(crate) session_id: Arc<str>,
    pub(crate) attribution: Attribution,
    pub(crate) identity: Option<Arc<Identity>>,
}

impl CallerContext {
    /// The request's `$session_id`.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The request's identity, when one was resolved.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }

    /// The caller of the request `context` belongs to, when the request came through an instrumented server.
    pub fn of(context: &rmcp::service::RequestContext<rmcp::RoleServer>) -> Option<Arc<Self>> {
        context.extensions.get::<Arc<Self>>().cloned()
    }
}

/// A custom event being built by [`Analytics::event`]. Without a caller or a distinct id it is anonymous
/// (`distinct_id` `anonymous`); with a caller it carries the request's session, attribution and identity; an
/// explicit distinct id names the person it is about (person processing on, as for identified events).
#[must_use = "a custom event is only sent by `capture()`"]
pub struct CustomEvent<'a> {
    analytics: &'a Analytics,
    name: &'a str,
    caller: Option<&'a CallerContext>,
    distinct_id: Option<String>,
    timestamp: Option<SystemTime>,
    uuid: Option<uuid::Uuid>,
    properties: Map<String, Value>,
}

impl<'a> CustomEvent<'a> {
    /// Attributes the event to the request `caller` describes (see [`CallerContext::of`]).
    pub fn caller(mut self, caller: &'a CallerContext) -> Self {
        self.caller = Some(caller);
        self
    }

    /// The person the event is about; it wins over the caller's identity.
    pub fn distinct_id(mut self, distinct_id: impl Into<String>) -> Self {
        self.distinct_id = Some(distinct_id.into());
        self
    }

    /// When the event happened (default: now).
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.timestamp = Some(at);
        self
    }

    /// The event's uuid (default: a fresh UUIDv7), for example to make a retried capture idempotent.
    pub fn uuid(mut self, uuid: uuid::Uuid) -> Self {
        self.uuid = Some(uuid);
        self
    }

    /// Adds a property; a later value for the same key wins.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Adds properties; later values for the same keys win.
    pub fn properties(mut self, properties: Map<String, Value>) -> Self {
        self.properties.extend(properties);
        self
    }

    /// Queues the event. The name must not be blank, nor an explicit distinct id; the properties are spread last
    /// and not sanitized.
    pub fn capture(self) -> Result<(), CaptureError> {
        if self.name.trim().is_empty() {
            return Err(CaptureError::EmptyName);
        }
        if self.distinct_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
            return Err(CaptureError::EmptyDistinctId);
        }
        let inner = &self.analytics.inner;
        let Some(delivery) = &inner.delivery else {
            return Ok(());
        };
        let identity = self.caller.and_then(|c| c.identity.as_deref());
        let session_id = self.caller.map(|c| &*c.session_id);
        let explicit = self.distinct_id.is_some();
        let distinct_id = self
            .distinct_id
            .unwrap_or_else(|| pipeline::distinct_id(identity, session_id));
        let at = self.timestamp.unwrap_or_else(|| inner.clock.now());
        let mut payload = Payload::new(self.name, distinct_id, chrono::DateTime::from(at));
        if let Some(uuid) = self.uuid {
            payload.uuid = uuid;
        }
        payload.properties = pipeline::base_properties(session_id, None, identity);
        let props = &mut payload.properties;
        if explicit && identity.is_none() {
            props.remove("$process_person_profile");
        }
        if let Some(caller) = self.caller {
            pipeline::attribution_properties(props, &caller.attribution);
        }
        pipeline::set_properties(props, identity);
        props.extend(self.properties);
        let settings = inner.settings.clone();
        let queued = delivery.enqueue(Box::new(move || {
            crate::privacy::fit_budget(&mut payload, false);
            pipeline::finish(vec![payload], &settings)
        }));
        if queued {
            Ok(())
        } else {
            Err(CaptureError::QueueFull)
        }
    }
}

/// Which server a [`ServerState`] belongs to: the handler's type and the name and version it reports.
type ServerKey = (TypeId, Option<Arc<str>>, Option<Arc<str>>);

/// The state of one server, kept by its analytics instance so that every `instrument` call for the same server
/// (one per HTTP session or request, as rmcp's session factories are often written) shares it: the identity
/// cache, the caller table of sessionless requests, what it learned about the host's tools, and whether the
/// host's first listing page used a virtual name.
pub(crate) struct ServerState {
    pub(crate) identity: IdentityResolver,
    pub(crate) callers: Callers,
    /// Facts about each known tool, read once from the host's `get_tool` or its listing.
    pub(crate) tools: dashmap::DashMap<String, Arc<KnownTool>>,
    /// The tool names of the host's last first listing page, which decide virtual routing; `None` until one
    /// succeeded.
    pub(crate) first_page: Mutex<Option<HashSet<String>>>,
    /// Skip warnings already logged, so a listing repeated per request warns once per tool and argument.
    pub(crate) warned: dashmap::DashMap<(String, &'static str), ()>,
    /// Task-augmented calls awaiting their terminal state (`capture/tasks.rs`), by task id.
    pub(crate) tasks: Mutex<HashMap<String, PendingTask>>,
}

/// A task-augmented `tools/call` whose event waits for the task to end.
pub(crate) struct PendingTask {
    /// The call's record, filled but for the outcome and the duration.
    pub(crate) record: PooledRecord,
    /// When the call began, on the instance's monotonic clock.
    pub(crate) started: Duration,
}

/// A custom event could not be captured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The name was empty or only whitespace; nothing was sent.
    #[error("a custom event needs a name: pass a non-empty event name to capture()")]
    EmptyName,
    /// An explicit distinct id was empty or only whitespace.
    #[error("a custom event's distinct_id must not be blank: pass the person's id, or leave it out")]
    EmptyDistinctId,
    /// The queue was full; the event was dropped and counted.
    #[error("the delivery queue is full; the event was dropped")]
    QueueFull,
}

impl Analytics {
    /// A builder with every option at its default.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// An instance configured from the environment (`POSTHOG_API_KEY`, `POSTHOG_HOST`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Builder::from_env().build()
    }

    pub(crate) fn start(
        builder: Builder,
        sink: Option<SinkKind>,
        identify: Option<SharedIdentify>,
        cache_capacity: NonZeroUsize,
    ) -> Self {
        match &sink {
            Some(SinkKind::Local(LocalTarget::Stderr)) => tracing::info!(
                "posthog-mcp: no POSTHOG_API_KEY set; events are written to stderr, one line each \
                 (POSTHOG_MCP_LOCAL_SINK=jsonl for JSON lines)"
            ),
            Some(SinkKind::Local(LocalTarget::StderrJsonLines)) => {
                tracing::info!(
                    "posthog-mcp: no POSTHOG_API_KEY set; events are written as JSON lines to stderr"
                )
            }
            Some(SinkKind::Local(LocalTarget::File(path))) => tracing::info!(
                path = %path.display(),
                "posthog-mcp: no POSTHOG_API_KEY set; events are written as JSON lines to a local file"
            ),
            None => tracing::debug!("posthog-mcp: analytics disabled"),
            _ => {}
        }
        let delivery =
            sink.map(|sink| Delivery::start(builder.delivery.clone(), sink, builder.clock.clone()));
        Self {
            inner: Arc::new(Inner {
                delivery,
                settings: Arc::new(PipelineSettings {
                    exception_autocapture: builder.exception_autocapture,
                    llm_traces: builder.llm_traces,
                    before_send: builder.before_send.clone(),
                }),
                clock: builder.clock.clone(),
                event_properties: builder.event_properties.clone(),
                event_properties_timeout: builder.event_properties_timeout,
                agent: Arc::new(builder.agent.clone()),
                identify,
                cache_capacity,
                cache_ttl: builder.cache_ttl,
                identify_timeout: builder.identify_timeout,
                identify_failure_ttl: builder.identify_failure_ttl,
                credential: builder.credential.clone(),
                servers: dashmap::DashMap::new(),
                session_capacity: NonZeroUsize::new(builder.session_capacity)
                    .unwrap_or(NonZeroUsize::MIN),
                task_timeout: builder.task_timeout.max(Duration::from_millis(1)),
                task_capacity: NonZeroUsize::new(builder.task_capacity)
                    .unwrap_or(NonZeroUsize::MIN),
            }),
        }
    }

    /// Whether events are captured at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.delivery.is_some()
    }

    /// The state of server `kind` reporting `name` and `version`: the one this instance keeps, or a new one.
    pub(crate) fn server_state(
        &self,
        kind: TypeId,
        name: Option<Arc<str>>,
        version: Option<Arc<str>>,
    ) -> Arc<ServerState> {
        self.inner
            .servers
            .entry((kind, name, version))
            .or_insert_with(|| {
                Arc::new(ServerState {
                    identity: self.new_resolver(),
                    callers: Callers::new(self.inner.session_capacity),
                    tools: dashmap::DashMap::new(),
                    first_page: Mutex::new(None),
                    warned: dashmap::DashMap::new(),
                    tasks: Mutex::new(HashMap::new()),
                })
            })
            .clone()
    }

    /// A fresh identity cache and session-record store for one server: two servers never share entries.
    fn new_resolver(&self) -> IdentityResolver {
        let inner = &self.inner;
        IdentityResolver::new(
            inner.identify.clone(),
            CacheSettings {
                capacity: inner.cache_capacity,
                ttl: inner.cache_ttl,
                failure_ttl: inner.identify_failure_ttl,
                timeout: inner.identify_timeout,
            },
            inner.credential.clone(),
            inner.clock.clone(),
        )
    }

    /// Hands a record to the delivery worker (step 3): no serialization here, no waiting.
    pub(crate) fn submit(&self, record: PooledRecord) {
        if let Some(delivery) = &self.inner.delivery {
            let settings = self.inner.settings.clone();
            let bytes = record.held_bytes();
            delivery.enqueue_reusable(record.into_job(settings), bytes);
        }
    }

    /// Captures a custom event outside any request: anonymous, `distinct_id` `anonymous`. The name is
    /// sent as given; the properties are spread last and not sanitized. Returns once the event is queued.
    pub fn capture(&self, name: &str, properties: Map<String, Value>) -> Result<(), CaptureError> {
        self.capture_for(None, name, properties)
    }

    /// Captures a custom event attributed to the request `context` belongs to: its `$session_id`,
    /// client, server and protocol attribution, and identity (`$set`, `$groups`). Outside an instrumented
    /// request it is captured as by [`Analytics::capture`].
    pub fn capture_in(
        &self,
        context: &rmcp::service::RequestContext<rmcp::RoleServer>,
        name: &str,
        properties: Map<String, Value>,
    ) -> Result<(), CaptureError> {
        self.capture_for(CallerContext::of(context).as_deref(), name, properties)
    }

    /// Captures a custom event attributed to `caller` (anonymous without one).
    pub fn capture_for(
        &self,
        caller: Option<&CallerContext>,
        name: &str,
        properties: Map<String, Value>,
    ) -> Result<(), CaptureError> {
        let mut event = self.event(name).properties(properties);
        event.caller = caller;
        event.capture()
    }

    /// A custom event with explicit fields, builder style; [`CustomEvent::capture`] queues it.
    ///
    /// ```
    /// # fn demo(analytics: &posthog_mcp::Analytics) -> Result<(), posthog_mcp::CaptureError> {
    /// analytics
    ///     .event("invoice_paid")
    ///     .distinct_id("user-42")
    ///     .timestamp(std::time::SystemTime::now())
    ///     .property("amount_eur", 120)
    ///     .capture()
    /// # }
    /// ```
    pub fn event<'a>(&'a self, name: &'a str) -> CustomEvent<'a> {
        CustomEvent {
            analytics: self,
            name,
            caller: None,
            distinct_id: None,
            timestamp: None,
            uuid: None,
            properties: Map::new(),
        }
    }

    /// Sends everything queued; `true` if it drained within `timeout`.
    pub async fn flush(&self, timeout: Duration) -> bool {
        match &self.inner.delivery {
            Some(delivery) => delivery.flush(timeout).await,
            None => true,
        }
    }

    /// Drains the queue (bounded by `timeout`) and stops delivery. Call it before the process exits.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        match &self.inner.delivery {
            Some(delivery) => delivery.shutdown(timeout).await,
            None => true,
        }
    }

    /// Delivery counters.
    pub fn stats(&self) -> DeliveryStats {
        self.inner
            .delivery
            .as_ref()
            .map(Delivery::stats)
            .unwrap_or_default()
    }

    /// The sessions this instance keeps for requests that carry none of their own (sessionless HTTP), summed
    /// over the servers it instruments.
    pub fn session_stats(&self) -> SessionStats {
        let mut total = SessionStats::default();
        for server in self.inner.servers.iter() {
            let stats = server.callers.stats();
            total.callers += stats.callers;
            total.evicted += stats.evicted;
            total.expired += stats.expired;
        }
        total
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }
}

impl Builder {
    /// Checks every value and starts the delivery worker.
    pub fn build(self) -> Result<Analytics, ConfigError> {
        let sink = self.resolve_sink()?;
        if self.cache_capacity == 0 {
            return Err(ConfigError::ZeroCapacity {
                option: "identity_cache_capacity",
            });
        }
        if self.session_capacity == 0 {
            return Err(ConfigError::ZeroCapacity {
                option: "session_capacity",
            });
        }
        if self.delivery.capacity == 0 {
            return Err(ConfigError::ZeroCapacity {
                option: "delivery.capacity",
            });
        }
        if self.delivery.batch_size == 0 {
            return Err(ConfigError::ZeroCapacity {
                option: "delivery.batch_size",
            });
        }
        if self.identify_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                option: "identify_timeout",
            });
        }
        if self.event_properties_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                option: "event_properties_timeout",
            });
        }
        self.check_agent()?;
        let identify = self.resolve_identify()?;
        let capacity = NonZeroUsize::new(self.cache_capacity).expect("checked above");
        Ok(Analytics::start(self, sink, identify, capacity))
    }
}

static GLOBAL: OnceLock<Analytics> = OnceLock::new();

/// The process-wide instance, started on first use from the environment. A configuration error is logged
/// (naming the variable) and leaves analytics disabled; it never fails the host.
pub fn global() -> &'static Analytics {
    GLOBAL.get_or_init(|| {
        Builder::from_env().build().unwrap_or_else(|error| {
            tracing::error!("posthog-mcp: analytics disabled: {error}");
            Builder::new()
                .disabled()
                .without_registered_identify()
                .build()
                .expect("a disabled instance always builds")
        })
    })
}

/// How long the end of the process waits for delivery: [`shutdown`], and a [`FlushGuard`] when dropped. Short
/// enough for the kill windows of common hosts (an MCP client commonly sends SIGTERM two seconds after closing a
/// stdio server's input).
const EXIT_BUDGET: Duration = Duration::from_secs(2);

/// Makes `builder`'s instance the process-wide one and returns a guard that flushes it when dropped. Fails if the
/// configuration is invalid or if the global instance was already started (explicitly or by first use).
///
/// Keep the guard for the whole of `main` (`let _analytics = posthog_mcp::init(..)?;`): when `main` returns,
/// whatever is still queued is delivered (at most 2 s), even if `shutdown().await` was forgotten.
pub fn init(builder: Builder) -> Result<FlushGuard, InitError> {
    let analytics = builder.build().map_err(InitError::Config)?;
    GLOBAL
        .set(analytics)
        .map_err(|_| InitError::AlreadyStarted)?;
    Ok(FlushGuard {
        analytics: GLOBAL.get().expect("just set"),
    })
}

/// A guard for the process-wide instance as zero-config use starts it (from the environment, on first use):
/// dropped at the end of `main`, it flushes whatever is still queued (at most 2 s).
///
/// ```no_run
/// # async fn serve() {}
/// #[tokio::main]
/// async fn main() {
///     let _analytics = posthog_mcp::guard(); // flushes when `main` returns
///     serve().await;
/// }
/// ```
pub fn guard() -> FlushGuard {
    FlushGuard {
        analytics: global(),
    }
}

/// Flushes the process-wide instance when dropped; see [`init`] and [`guard`]. It dereferences to the instance.
#[must_use = "keep the guard alive until the end of `main`: dropping it flushes analytics"]
#[derive(Debug)]
pub struct FlushGuard {
    analytics: &'static Analytics,
}

impl std::ops::Deref for FlushGuard {
    type Target = Analytics;

    fn deref(&self) -> &Analytics {
        self.analytics
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if let Some(delivery) = &self.analytics.inner.delivery
            && !delivery.flush_blocking(EXIT_BUDGET)
        {
            tracing::warn!(
                "posthog-mcp: the process is ending before every event was delivered; see the delivery summary"
            );
        }
    }
}

/// Why [`init`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(ConfigError),
    /// The process-wide instance already exists.
    #[error("posthog_mcp::init was called after the global analytics instance had already started")]
    AlreadyStarted,
}

/// Flushes and stops the process-wide instance, waiting at most 2 s. Call it after `service.waiting()`.
pub async fn shutdown() {
    if let Some(analytics) = GLOBAL.get()
        && !analytics.shutdown(EXIT_BUDGET).await
    {
        tracing::warn!("posthog-mcp: shutdown timed out before every event was delivered");
    }
}

/// Captures a custom event on the process-wide instance, anonymously. See [`Analytics::capture`].
pub fn capture(name: &str, properties: Map<String, Value>) -> Result<(), CaptureError> {
    global().capture(name, properties)
}

/// Captures a custom event on the process-wide instance, attributed to the request `context` belongs to. See
/// [`Analytics::capture_in`].
pub fn capture_in(
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
    name: &str,
    properties: Map<String, Value>,
) -> Result<(), CaptureError> {
    global().capture_in(context, name, properties)
}
