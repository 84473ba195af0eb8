//! The [`Builder`]: every configurable value with its default, and one setter per option.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use serde_json::{Map, Value};

use super::settings::{AgentOptions, SinkChoice, env_value, local_sink_from_env};
use crate::clock::{Clock, SystemClock};
use crate::delivery::{DeliveryOptions, LocalTarget, MemorySink, SinkKind};
use crate::event::{BeforeSend, Payload};
use crate::hooks::EventPropertiesFn;
use crate::identity::{CredentialSource, IntoIdentifyResult, SharedIdentify};
use crate::request::RequestView;

/// Builds an [`Analytics`](crate::Analytics) instance.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), posthog_mcp::ConfigError> {
/// use std::time::Duration;
/// let analytics = posthog_mcp::Analytics::builder()
///     .api_key("phc_example")
///     .host("https://eu.i.posthog.com")
///     .identity_cache_ttl(Duration::from_secs(300))
///     .build()?;
/// # analytics.shutdown(Duration::from_secs(1)).await; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Builder {
    pub(super) api_key: Option<String>,
    pub(super) host: Option<(String, &'static str)>,
    pub(super) sink: SinkChoice,
    pub(crate) delivery: DeliveryOptions,
    pub(crate) cache_capacity: usize,
    pub(crate) session_capacity: usize,
    pub(crate) task_timeout: Duration,
    pub(crate) task_capacity: usize,
    pub(crate) cache_ttl: Duration,
    pub(crate) identify_timeout: Duration,
    pub(crate) identify_failure_ttl: Duration,
    pub(crate) event_properties_timeout: Duration,
    pub(crate) exception_autocapture: bool,
    pub(crate) llm_traces: bool,
    pub(crate) before_send: Option<BeforeSend>,
    pub(crate) event_properties: Option<EventPropertiesFn>,
    pub(crate) credential: CredentialSource,
    pub(super) identify: Option<SharedIdentify>,
    pub(super) use_registry: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) agent: AgentOptions,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            api_key: None,
            host: None,
            sink: SinkChoice::Auto,
            delivery: DeliveryOptions::default(),
            cache_capacity: 1000,
            session_capacity: 10_000,
            task_timeout: Duration::from_secs(600),
            task_capacity: 1000,
            cache_ttl: Duration::from_secs(600),
            identify_timeout: Duration::from_secs(2),
            identify_failure_ttl: Duration::from_secs(30),
            event_properties_timeout: Duration::from_secs(2),
            exception_autocapture: true,
            llm_traces: false,
            before_send: None,
            event_properties: None,
            credential: CredentialSource::default(),
            identify: None,
            use_registry: true,
            clock: Arc::new(SystemClock::default()),
            agent: AgentOptions::default(),
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("host", &self.host.as_ref().map(|(h, _)| h))
            .field("sink", &self.sink)
            .field("cache_capacity", &self.cache_capacity)
            .field("cache_ttl", &self.cache_ttl)
            .field("identify_timeout", &self.identify_timeout)
            .field("exception_autocapture", &self.exception_autocapture)
            .field("llm_traces", &self.llm_traces)
            .field("intent", &self.agent.intent)
            .field("llm_model", &self.agent.llm_model)
            .field("conversation_id", &self.agent.conversation_id)
            .field("get_more_tools", &self.agent.get_more_tools)
            .field("send_feedback", &self.agent.send_feedback)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with every option at its default and nothing read from the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder that reads `POSTHOG_API_KEY`, `POSTHOG_HOST` and `POSTHOG_MCP_LOCAL_SINK` (for the local sink
    /// used when there is no key: `stderr`, the default, one short line per event; `jsonl`, JSON lines on stderr;
    /// `off`; or a file path, JSON lines appended to it).
    pub fn from_env() -> Self {
        let api_key = env_value("POSTHOG_API_KEY");
        let host = env_value("POSTHOG_HOST").map(|h| (h, "POSTHOG_HOST"));
        let sink = match api_key {
            None => local_sink_from_env(),
            Some(_) => SinkChoice::Auto,
        };
        Self {
            api_key,
            host,
            sink,
            ..Self::default()
        }
    }

    /// The project API key; events go to PostHog.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The ingestion host (default `https://us.i.posthog.com`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some((host.into(), "host"));
        self
    }

    /// Writes events to stderr (one short line each, or JSON lines) or as JSON lines to a file instead of sending
    /// them (never stdout).
    pub fn local_sink(mut self, target: LocalTarget) -> Self {
        self.sink = SinkChoice::Explicit(SinkKind::Local(target));
        self
    }

    /// Keeps events in memory, for tests (the `test-util` feature).
    #[cfg(feature = "test-util")]
    pub fn memory_sink(mut self, sink: MemorySink) -> Self {
        self.sink = SinkChoice::Explicit(SinkKind::Memory(sink));
        self
    }

    /// Builds events and throws them away (benchmarks of the full capture path).
    pub fn discard_sink(mut self) -> Self {
        self.sink = SinkChoice::Explicit(SinkKind::Discard);
        self
    }

    /// Captures nothing at all: the wrapper only forwards.
    pub fn disabled(mut self) -> Self {
        self.sink = SinkChoice::Off;
        self
    }

    /// Queue and batching options of the delivery worker.
    pub fn delivery(mut self, options: DeliveryOptions) -> Self {
        self.delivery = options;
        self
    }

    /// Identity cache capacity in entries (default 1,000); also bounds the session records.
    pub fn identity_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// How long identify is not called again for a caller after it failed for them (an error, a panic or a
    /// timeout; default 30 s), so a broken identify costs one timeout per caller per interval instead of one per
    /// request. Meanwhile that caller's requests are anonymous. Zero retries on every request.
    pub fn identify_failure_ttl(mut self, ttl: Duration) -> Self {
        self.identify_failure_ttl = ttl;
        self
    }

    /// How many callers of sessionless HTTP requests (2026-07-28 clients, stateless servers without the session
    /// layer) keep a session at once (default 10,000). The least recently seen caller is dropped first, and its
    /// next request starts a new session; drops are counted in [`Analytics::session_stats`](crate::Analytics::session_stats).
    pub fn session_capacity(mut self, capacity: usize) -> Self {
        self.session_capacity = capacity;
        self
    }

    /// How long a task-augmented `tools/call` may run before it is reported as unfinished (default 10
    /// minutes; `docs/tasks.md`). A task whose terminal state is not seen in time is reported once, as an error
    /// of type `task_timeout`; zero is treated as one millisecond.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = timeout;
        self
    }

    /// How many tasks are awaited at once (default 1,000; at least one). When full, the oldest is reported
    /// at once as an error of type `task_untracked` and forgotten.
    pub fn task_capacity(mut self, capacity: usize) -> Self {
        self.task_capacity = capacity;
        self
    }

    /// How long a resolved identity is reused (default 10 minutes); zero consults identify on every request.
    pub fn identity_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long the identify function may take (default 2 s).
    pub fn identify_timeout(mut self, timeout: Duration) -> Self {
        self.identify_timeout = timeout;
        self
    }

    /// How long the `event_properties` hook may take (default 2 s).
    pub fn event_properties_timeout(mut self, timeout: Duration) -> Self {
        self.event_properties_timeout = timeout;
        self
    }

    /// Whether errored requests also produce an `$exception` event (default on).
    pub fn exception_autocapture(mut self, enabled: bool) -> Self {
        self.exception_autocapture = enabled;
        self
    }

    /// Whether a tool call that carries W3C trace context (`traceparent` in `_meta` or, over HTTP, a header) also
    /// sends an `$ai_span`, so the call appears in the trace of the agent's LLM generations in PostHog's LLM
    /// analytics (default off; `docs/traces.md`).
    pub fn llm_traces(mut self, enabled: bool) -> Self {
        self.llm_traces = enabled;
        self
    }

    /// A hook that sees every payload before it is queued; returning `None` drops it.
    pub fn before_send(
        mut self,
        hook: impl Fn(Payload) -> Option<Payload> + Send + Sync + 'static,
    ) -> Self {
        self.before_send = Some(Arc::new(hook));
        self
    }

    /// Extra properties for every request's events, from the request view: spread last onto the request's
    /// event and its `$exception`, so they may override the crate's keys.
    pub fn event_properties<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(RequestView) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Map<String, Value>>> + Send + 'static,
    {
        self.event_properties = Some(Arc::new(move |view| hook(view).boxed()));
        self
    }

    /// Reads the identity-cache credential from header `name` instead of `authorization`.
    pub fn credential_header(mut self, name: impl Into<String>) -> Self {
        self.credential = CredentialSource::Header(name.into().to_ascii_lowercase());
        self
    }

    /// Extracts the identity-cache credential with a function of the request view.
    pub fn credential_fn(
        mut self,
        extract: impl Fn(&RequestView) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.credential = CredentialSource::Function(Arc::new(extract));
        self
    }

    /// The identify function, overriding any `#[posthog_identify]` function.
    pub fn identify<F, Fut>(mut self, identify: F) -> Self
    where
        F: Fn(RequestView) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: IntoIdentifyResult> + Send + 'static,
    {
        self.identify = Some(Arc::new(move |view| {
            let future = identify(view);
            Box::pin(async move { future.await.into_identify_result() })
        }));
        self.use_registry = false;
        self
    }

    /// Ignores `#[posthog_identify]` functions: every event is anonymous unless [`Builder::identify`] is set.
    pub fn without_registered_identify(mut self) -> Self {
        self.use_registry = false;
        self
    }

    /// The clock, for tests of timing behaviour (the `test-util` feature).
    #[cfg(feature = "test-util")]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether instrumented tools get a required `context` argument whose text becomes `$mcp_intent`
    /// (default on).
    pub fn intent(mut self, enabled: bool) -> Self {
        self.agent.intent = enabled;
        self
    }

    /// Replaces the default description of the injected `context` argument. A tool's own
    /// `#[posthog_tool(intent_description = "…")]` takes precedence over it.
    pub fn intent_description(mut self, description: impl Into<String>) -> Self {
        self.agent.intent_description = Some(Arc::from(description.into()));
        self
    }

    /// Infers an intent when a tool call carries no `context`. Runs before the handler, under
    /// [`Builder::intent_fallback_timeout`] (default 2 s); a panic, timeout or blank text records no intent.
    pub fn intent_fallback<F, Fut>(mut self, fallback: F) -> Self
    where
        F: Fn(RequestView) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.agent.intent_fallback = Some(Arc::new(move |view| fallback(view).boxed()));
        self
    }

    /// How long the intent fallback may take (default 2 s).
    pub fn intent_fallback_timeout(mut self, timeout: Duration) -> Self {
        self.agent.intent_fallback_timeout = timeout;
        self
    }

    /// Whether the model is captured as `$mcp_llm_model`: from client metadata, else an injected `llm_model`
    /// argument (default off).
    pub fn llm_model(mut self, enabled: bool) -> Self {
        self.agent.llm_model = enabled;
        self
    }

    /// Replaces the description of the injected `llm_model` argument.
    pub fn llm_model_description(mut self, description: impl Into<String>) -> Self {
        self.agent.llm_model_description = Some(Arc::from(description.into()));
        self
    }

    /// Whether the server hands out a conversation handle the agent echoes in an optional `conversation_id`
    /// argument (default off).
    pub fn conversation_id(mut self, enabled: bool) -> Self {
        self.agent.conversation_id = enabled;
        self
    }

    /// Whether the virtual `get_more_tools` tool is advertised and answered (default off); its calls
    /// become `$mcp_missing_capability` events.
    pub fn get_more_tools(mut self, enabled: bool) -> Self {
        self.agent.get_more_tools =
            enabled.then(|| Arc::from(crate::virtual_tools::GET_MORE_TOOLS));
        self
    }

    /// Enables `get_more_tools` under another name.
    pub fn get_more_tools_name(mut self, name: impl Into<String>) -> Self {
        self.agent.get_more_tools = Some(Arc::from(name.into()));
        self
    }

    /// Whether the virtual `send_feedback` tool is advertised and answered (default off); its calls become
    /// `$mcp_feedback` events.
    pub fn send_feedback(mut self, enabled: bool) -> Self {
        self.agent.send_feedback = enabled.then(|| Arc::from(crate::virtual_tools::SEND_FEEDBACK));
        self
    }

    /// Enables `send_feedback` under another name.
    pub fn send_feedback_name(mut self, name: impl Into<String>) -> Self {
        self.agent.send_feedback = Some(Arc::from(name.into()));
        self
    }

    /// Replaces the description of the `send_feedback` tool.
    pub fn send_feedback_description(mut self, description: impl Into<String>) -> Self {
        self.agent.feedback_description = Some(Arc::from(description.into()));
        self
    }

    /// Extra `send_feedback` fields: JSON-Schema property definitions by key, and the keys among them that are
    /// required. Each captured extra becomes `$mcp_feedback_<key>`. A reserved key or an undeclared required
    /// key makes [`Builder::build`] fail, naming it.
    pub fn send_feedback_extras(
        mut self,
        properties: Map<String, Value>,
        required: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.agent.feedback_extra_properties = properties;
        self.agent.feedback_extra_required = required.into_iter().map(Into::into).collect();
        self
    }

    /// Receives every `send_feedback` report, for example to forward it to the host's own backend, and may
    /// return the reply text the agent reads. Runs under a 2 s timeout; a panic, timeout or blank text keeps
    /// the default reply. The event is captured either way.
    pub fn feedback_handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(crate::virtual_tools::Feedback) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.agent.feedback_handler = Some(Arc::new(move |feedback| handler(feedback).boxed()));
        self
    }
}
