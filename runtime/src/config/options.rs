//! The option groups a [`Builder`](super::Builder) takes whole, each a value with its defaults and one setter per
//! option: where events go ([`Destination`]), identity ([`IdentityOptions`]), sessions and tasks
//! ([`SessionOptions`]), the virtual tools ([`VirtualToolOptions`]) and what each event holds ([`EventOptions`]).
//! The arguments the crate owns in a call ([`ArgumentOptions`](super::ArgumentOptions)) are in `arguments.rs`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use serde_json::{Map, Value};

#[cfg(feature = "test-util")]
use crate::delivery::MemorySink;
use crate::delivery::{LocalTarget, SinkKind};
use crate::event::{BeforeSend, Payload};
use crate::hooks::EventPropertiesFn;
use crate::identity::CredentialSource;
use crate::request::RequestView;
use crate::virtual_tools::{Feedback, FeedbackHandlerFn};

/// Where events go instead of PostHog, for [`Builder::destination`](super::Builder::destination). Without one,
/// events go to PostHog when an API key is set, else to the local sink on stderr.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Destination {
    /// Writes events to stderr (one short line each, or JSON lines) or as JSON lines to a file instead of sending
    /// them (never stdout).
    Local(LocalTarget),
    /// Keeps events in memory, for tests (the `test-util` feature).
    #[cfg(feature = "test-util")]
    Memory(MemorySink),
    /// Builds events and throws them away (benchmarks of the full capture path).
    Discard,
    /// Captures nothing at all: the wrapper only forwards.
    Disabled,
}

impl Destination {
    /// The sink this destination names; `None` captures nothing.
    pub(crate) fn into_sink(self) -> Option<SinkKind> {
        match self {
            Self::Local(target) => Some(SinkKind::Local(target)),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => Some(SinkKind::Memory(sink)),
            Self::Discard => Some(SinkKind::Discard),
            Self::Disabled => None,
        }
    }
}

/// How callers are identified, for [`Builder::identity`](super::Builder::identity): the identity cache, the
/// identify function's limits and the credential the cache is keyed by. The identify function itself is
/// [`Builder::identify`](super::Builder::identify).
///
/// ```
/// use std::time::Duration;
/// let options = posthog_mcp::IdentityOptions::default()
///     .identity_cache_ttl(Duration::from_secs(300))
///     .credential_header("x-api-key");
/// ```
#[derive(Clone)]
#[must_use]
pub struct IdentityOptions {
    pub(crate) cache_capacity: usize,
    pub(crate) cache_ttl: Duration,
    pub(crate) identify_timeout: Duration,
    pub(crate) identify_failure_ttl: Duration,
    pub(crate) credential: CredentialSource,
    pub(crate) use_registry: bool,
}

impl Default for IdentityOptions {
    fn default() -> Self {
        Self {
            cache_capacity: 1000,
            cache_ttl: Duration::from_secs(600),
            identify_timeout: Duration::from_secs(2),
            identify_failure_ttl: Duration::from_secs(30),
            credential: CredentialSource::default(),
            use_registry: true,
        }
    }
}

impl std::fmt::Debug for IdentityOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityOptions")
            .field("identity_cache_capacity", &self.cache_capacity)
            .field("identity_cache_ttl", &self.cache_ttl)
            .field("identify_timeout", &self.identify_timeout)
            .field("identify_failure_ttl", &self.identify_failure_ttl)
            .field("credential", &self.credential)
            .field("registered_identify", &self.use_registry)
            .finish()
    }
}

impl IdentityOptions {
    /// Identity cache capacity in entries (default 1,000); also bounds the session records.
    pub fn identity_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// How long a resolved identity is reused (default 10 minutes); zero consults identify on every request.
    pub fn identity_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long identify is not called again for a caller after it failed for them (an error, a panic or a
    /// timeout; default 30 s), so a broken identify costs one timeout per caller per interval instead of one per
    /// request. Meanwhile that caller's requests are anonymous. Zero retries on every request.
    pub fn identify_failure_ttl(mut self, ttl: Duration) -> Self {
        self.identify_failure_ttl = ttl;
        self
    }

    /// How long the identify function may take (default 2 s).
    pub fn identify_timeout(mut self, timeout: Duration) -> Self {
        self.identify_timeout = timeout;
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

    /// Ignores `#[posthog_identify]` functions: every event is anonymous unless
    /// [`Builder::identify`](super::Builder::identify) is set.
    pub fn without_registered_identify(mut self) -> Self {
        self.use_registry = false;
        self
    }
}

/// Limits of what is remembered, for [`Builder::sessions`](super::Builder::sessions): the sessions of
/// sessionless HTTP callers (per server) and the tasks awaited (per instance, over all its servers).
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionOptions {
    pub(crate) session_capacity: usize,
    pub(crate) task_timeout: Duration,
    pub(crate) task_capacity: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            session_capacity: 10_000,
            task_timeout: Duration::from_secs(600),
            task_capacity: 1000,
        }
    }
}

impl SessionOptions {
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

    /// How many tasks are awaited at once, over all the instance's servers (default 1,000; at least one). When
    /// full, the oldest is reported at once as an error of type `task_untracked` and forgotten. A
    /// [`TaskStore`](crate::TaskStore) keeps as many task ends that came before their call's handle was returned.
    pub fn task_capacity(mut self, capacity: usize) -> Self {
        self.task_capacity = capacity;
        self
    }
}

/// The virtual tools the wrapper advertises and answers itself, for
/// [`Builder::virtual_tools`](super::Builder::virtual_tools): `get_more_tools` and `send_feedback`, both off by
/// default.
///
/// ```
/// let options = posthog_mcp::VirtualToolOptions::default()
///     .get_more_tools(true)
///     .send_feedback_name("report_problem");
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct VirtualToolOptions {
    pub(crate) get_more_tools: Option<Arc<str>>,
    pub(crate) send_feedback: Option<Arc<str>>,
    pub(crate) feedback_description: Option<Arc<str>>,
    pub(crate) feedback_extra_properties: Map<String, Value>,
    pub(crate) feedback_extra_required: Vec<String>,
    pub(crate) feedback_handler: Option<FeedbackHandlerFn>,
}

impl std::fmt::Debug for VirtualToolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualToolOptions")
            .field("get_more_tools", &self.get_more_tools)
            .field("send_feedback", &self.send_feedback)
            .field("send_feedback_description", &self.feedback_description)
            .field("send_feedback_extras", &self.feedback_extra_properties)
            .field("feedback_handler", &self.feedback_handler.is_some())
            .finish_non_exhaustive()
    }
}

impl VirtualToolOptions {
    /// Whether the virtual `get_more_tools` tool is advertised and answered (default off); its calls
    /// become `$mcp_missing_capability` events.
    pub fn get_more_tools(mut self, enabled: bool) -> Self {
        self.get_more_tools = enabled.then(|| Arc::from(crate::virtual_tools::GET_MORE_TOOLS));
        self
    }

    /// Enables `get_more_tools` under another name.
    pub fn get_more_tools_name(mut self, name: impl Into<String>) -> Self {
        self.get_more_tools = Some(Arc::from(name.into()));
        self
    }

    /// Whether the virtual `send_feedback` tool is advertised and answered (default off); its calls become
    /// `$mcp_feedback` events.
    pub fn send_feedback(mut self, enabled: bool) -> Self {
        self.send_feedback = enabled.then(|| Arc::from(crate::virtual_tools::SEND_FEEDBACK));
        self
    }

    /// Enables `send_feedback` under another name.
    pub fn send_feedback_name(mut self, name: impl Into<String>) -> Self {
        self.send_feedback = Some(Arc::from(name.into()));
        self
    }

    /// Replaces the description of the `send_feedback` tool.
    pub fn send_feedback_description(mut self, description: impl Into<String>) -> Self {
        self.feedback_description = Some(Arc::from(description.into()));
        self
    }

    /// Extra `send_feedback` fields: JSON-Schema property definitions by key, and the keys among them that are
    /// required. Each captured extra becomes `$mcp_feedback_<key>`. A reserved key or an undeclared required
    /// key makes [`Builder::build`](super::Builder::build) fail, naming it.
    pub fn send_feedback_extras(
        mut self,
        properties: Map<String, Value>,
        required: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.feedback_extra_properties = properties;
        self.feedback_extra_required = required.into_iter().map(Into::into).collect();
        self
    }

    /// Receives every `send_feedback` report, for example to forward it to the host's own backend, and may
    /// return the reply text the agent reads. Runs under a 2 s timeout; a panic, timeout or blank text keeps
    /// the default reply. The event is captured either way.
    pub fn feedback_handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Feedback) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.feedback_handler = Some(Arc::new(move |feedback| handler(feedback).boxed()));
        self
    }
}

/// What each event holds and which events are sent, for [`Builder::events`](super::Builder::events): the host's
/// hooks over payloads and requests, `$exception` events and LLM trace spans.
///
/// ```
/// let options = posthog_mcp::EventOptions::default()
///     .exception_autocapture(false)
///     .before_send(|payload| Some(payload));
/// ```
#[derive(Clone)]
#[must_use]
pub struct EventOptions {
    pub(crate) before_send: Option<BeforeSend>,
    pub(crate) event_properties: Option<EventPropertiesFn>,
    pub(crate) event_properties_timeout: Duration,
    pub(crate) exception_autocapture: bool,
    pub(crate) llm_traces: bool,
    pub(crate) server_build: Option<Arc<str>>,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self {
            before_send: None,
            event_properties: None,
            event_properties_timeout: Duration::from_secs(2),
            exception_autocapture: true,
            llm_traces: false,
            server_build: None,
        }
    }
}

impl std::fmt::Debug for EventOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventOptions")
            .field("before_send", &self.before_send.is_some())
            .field("event_properties", &self.event_properties.is_some())
            .field("event_properties_timeout", &self.event_properties_timeout)
            .field("exception_autocapture", &self.exception_autocapture)
            .field("llm_traces", &self.llm_traces)
            .field("server_build", &self.server_build)
            .finish()
    }
}

impl EventOptions {
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

    /// The immutable id of the build that serves the calls (a commit SHA or an image digest), sent as
    /// `$mcp_server_build` on every event so that a change in behaviour can be tied to a deploy. 1 to 256
    /// characters; anything else is refused by `build` rather than cut.
    pub fn server_build(mut self, build: impl Into<String>) -> Self {
        self.server_build = Some(Arc::from(build.into()));
        self
    }
}
