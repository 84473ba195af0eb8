//! Configuration: the environment (`POSTHOG_API_KEY`, `POSTHOG_HOST`, `POSTHOG_MCP_LOCAL_SINK`) and a builder
//! for every configurable value. An invalid value is an error that names the option.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::delivery::{DeliveryOptions, LocalTarget, MemorySink, SinkKind};
use crate::event::{BeforeSend, Payload};
use crate::hooks::{EventPropertiesFn, IntentFallbackFn};
use crate::identity::{CredentialSource, IdentifyRegistration, IntoIdentifyResult, SharedIdentify};
use crate::request::RequestView;
use crate::virtual_tools::FeedbackHandlerFn;

/// The default ingestion host, as in PostHog's other SDKs.
pub const DEFAULT_HOST: &str = "https://us.i.posthog.com";

/// The agent-facing options: which arguments the crate owns and which virtual tools it answers.
#[derive(Clone)]
pub(crate) struct AgentOptions {
    pub intent: bool,
    pub intent_description: Option<Arc<str>>,
    pub intent_fallback: Option<IntentFallbackFn>,
    pub intent_fallback_timeout: Duration,
    pub llm_model: bool,
    pub llm_model_description: Option<Arc<str>>,
    pub conversation_id: bool,
    pub get_more_tools: Option<Arc<str>>,
    pub send_feedback: Option<Arc<str>>,
    pub feedback_description: Option<Arc<str>>,
    pub feedback_extra_properties: Map<String, Value>,
    pub feedback_extra_required: Vec<String>,
    pub feedback_handler: Option<FeedbackHandlerFn>,
    pub feedback_handler_timeout: Duration,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            intent: true,
            intent_description: None,
            intent_fallback: None,
            intent_fallback_timeout: Duration::from_secs(2),
            llm_model: false,
            llm_model_description: None,
            conversation_id: false,
            get_more_tools: None,
            send_feedback: None,
            feedback_description: None,
            feedback_extra_properties: Map::new(),
            feedback_extra_required: Vec::new(),
            feedback_handler: None,
            feedback_handler_timeout: Duration::from_secs(2),
        }
    }
}

impl AgentOptions {
    /// Whether any option can change what the client sees.
    pub(crate) fn decorates(&self) -> bool {
        self.intent
            || self.llm_model
            || self.conversation_id
            || self.get_more_tools.is_some()
            || self.send_feedback.is_some()
    }
}

/// A configuration value that cannot be used. Each variant names the option or variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The ingestion host is not an `http` or `https` URL.
    #[error(
        "{option} must be an http(s) URL such as `https://us.i.posthog.com`, got `{value}`: {reason}"
    )]
    InvalidHost {
        /// `POSTHOG_HOST` or `host`.
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A capacity of zero.
    #[error("{option} must be at least 1")]
    ZeroCapacity {
        /// The option.
        option: &'static str,
    },
    /// A timeout of zero would refuse every call.
    #[error("{option} must be longer than zero")]
    ZeroTimeout {
        /// The option.
        option: &'static str,
    },
    /// Two functions are marked `#[posthog_identify]`.
    #[error(
        "two functions are marked #[posthog_identify]: `{first}` ({first_location}) and `{second}` \
         ({second_location}); keep the attribute on one of them, or choose one with Builder::identify"
    )]
    DuplicateIdentify {
        /// The first function.
        first: String,
        /// Where it is.
        first_location: String,
        /// The second function.
        second: String,
        /// Where it is.
        second_location: String,
    },
    /// A `send_feedback` extra property uses a key the crate reserves for its own fields.
    #[error(
        "send_feedback extra property `{field}` uses a reserved name (the core feedback fields and \
         context, conversation_id, llm_model, type, tool are reserved); rename it"
    )]
    ReservedFeedbackField {
        /// The extra property at fault.
        field: String,
    },
    /// A `send_feedback` extra required key has no matching extra property.
    #[error(
        "send_feedback lists `{field}` as a required extra field but declares no extra property of that name"
    )]
    UndeclaredFeedbackField {
        /// The required key at fault.
        field: String,
    },
    /// A virtual tool name is blank.
    #[error("{option} must not be blank")]
    BlankName {
        /// The option.
        option: &'static str,
    },
}

/// Where events go when no sink was chosen explicitly.
#[derive(Debug, Clone)]
enum SinkChoice {
    /// From the environment: PostHog with a key, else the local sink.
    Auto,
    Explicit(SinkKind),
    Off,
}

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
    api_key: Option<String>,
    host: Option<(String, &'static str)>,
    sink: SinkChoice,
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
    identify: Option<SharedIdentify>,
    use_registry: bool,
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

fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
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
        let mut builder = Self {
            api_key: env_value("POSTHOG_API_KEY"),
            host: env_value("POSTHOG_HOST").map(|h| (h, "POSTHOG_HOST")),
            ..Self::default()
        };
        if builder.api_key.is_none() {
            builder.sink = match env_value("POSTHOG_MCP_LOCAL_SINK").as_deref() {
                None => SinkChoice::Auto,
                Some(v) if v.eq_ignore_ascii_case("off") => SinkChoice::Off,
                Some(v) if v.eq_ignore_ascii_case("stderr") => {
                    SinkChoice::Explicit(SinkKind::Local(LocalTarget::Stderr))
                }
                Some(v) if v.eq_ignore_ascii_case("jsonl") => {
                    SinkChoice::Explicit(SinkKind::Local(LocalTarget::StderrJsonLines))
                }
                Some(path) => {
                    SinkChoice::Explicit(SinkKind::Local(LocalTarget::File(PathBuf::from(path))))
                }
            };
        }
        builder
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

    /// Keeps events in memory, for tests.
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

    /// The clock, for tests of timing behaviour.
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

    pub(crate) fn check_agent(&self) -> Result<(), ConfigError> {
        let agent = &self.agent;
        if agent.intent_fallback_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                option: "intent_fallback_timeout",
            });
        }
        if agent
            .get_more_tools
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(ConfigError::BlankName {
                option: "get_more_tools_name",
            });
        }
        if agent
            .send_feedback
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(ConfigError::BlankName {
                option: "send_feedback_name",
            });
        }
        check_extras(
            &agent.feedback_extra_properties,
            &agent.feedback_extra_required,
        )
    }

    pub(crate) fn resolve_sink(&self) -> Result<Option<SinkKind>, ConfigError> {
        let (host, option) = self
            .host
            .clone()
            .unwrap_or_else(|| (DEFAULT_HOST.to_owned(), "host"));
        let parsed = url::Url::parse(&host).map_err(|e| ConfigError::InvalidHost {
            option,
            value: host.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError::InvalidHost {
                option,
                value: host,
                reason: "the scheme must be http or https".into(),
            });
        }
        Ok(match (&self.sink, &self.api_key) {
            (SinkChoice::Off, _) => None,
            (SinkChoice::Explicit(sink), _) => Some(sink.clone()),
            (SinkChoice::Auto, Some(key)) => Some(SinkKind::PostHog {
                api_key: key.clone(),
                host: host.trim_end_matches('/').to_owned(),
            }),
            (SinkChoice::Auto, None) => Some(SinkKind::Local(LocalTarget::Stderr)),
        })
    }

    pub(crate) fn resolve_identify(&self) -> Result<Option<SharedIdentify>, ConfigError> {
        if self.identify.is_some() || !self.use_registry {
            return Ok(self.identify.clone());
        }
        let mut registered = inventory::iter::<IdentifyRegistration>.into_iter();
        let Some(first) = registered.next() else {
            return Ok(None);
        };
        if let Some(second) = registered.next() {
            return Err(ConfigError::DuplicateIdentify {
                first: first.name.to_owned(),
                first_location: first.location.to_owned(),
                second: second.name.to_owned(),
                second_location: second.location.to_owned(),
            });
        }
        let func = first.func;
        Ok(Some(Arc::new(move |view| func(view))))
    }

}

/// Build-time check of the feedback extras: no reserved key, every required key declared.
pub(crate) fn check_extras(
    properties: &Map<String, Value>,
    required: &[String],
) -> Result<(), ConfigError> {
    if let Some(field) = properties
        .keys()
        .find(|k| crate::virtual_tools::RESERVED.contains(&k.as_str()))
    {
        return Err(ConfigError::ReservedFeedbackField {
            field: field.clone(),
        });
    }
    if let Some(field) = required.iter().find(|k| !properties.contains_key(*k)) {
        return Err(ConfigError::UndeclaredFeedbackField {
            field: field.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_undeclared_extras_are_configuration_errors() {
        let extras = serde_json::json!({"summary": {"type": "string"}});
        assert_eq!(
            check_extras(extras.as_object().unwrap(), &[]),
            Err(ConfigError::ReservedFeedbackField {
                field: "summary".into()
            })
        );
        let extras = serde_json::json!({"ticket": {"type": "string"}});
        assert_eq!(
            check_extras(extras.as_object().unwrap(), &["severity".into()]),
            Err(ConfigError::UndeclaredFeedbackField {
                field: "severity".into()
            })
        );
        assert!(check_extras(extras.as_object().unwrap(), &["ticket".into()]).is_ok());
    }

    #[test]
    fn an_unparsable_host_names_the_option() {
        let error = Builder::new()
            .api_key("k")
            .host("not a url")
            .build()
            .err()
            .unwrap();
        assert!(matches!(
            error,
            ConfigError::InvalidHost { option: "host", .. }
        ));
        assert!(error.to_string().starts_with("host must be an http(s) URL"));
        let error = Builder::new().host("ftp://x.io").build().err().unwrap();
        assert!(matches!(error, ConfigError::InvalidHost { .. }));
    }

    #[test]
    fn a_zero_capacity_names_the_option() {
        let error = Builder::new()
            .disabled()
            .identity_cache_capacity(0)
            .build()
            .err()
            .unwrap();
        assert_eq!(
            error,
            ConfigError::ZeroCapacity {
                option: "identity_cache_capacity"
            }
        );
        assert_eq!(
            error.to_string(),
            "identity_cache_capacity must be at least 1"
        );
    }

    #[test]
    fn without_a_key_events_go_to_the_local_sink_on_stderr() {
        let sink = Builder::new().resolve_sink().unwrap();
        assert!(matches!(sink, Some(SinkKind::Local(LocalTarget::Stderr))));
        let sink = Builder::new()
            .api_key("phc_x")
            .host("http://127.0.0.1:9/")
            .resolve_sink()
            .unwrap();
        assert!(
            matches!(sink, Some(SinkKind::PostHog { host, .. }) if host == "http://127.0.0.1:9")
        );
    }
}
