//! The [`Builder`]: every configurable value with its default, and one setter per option.

use std::future::Future;
use std::sync::Arc;

use super::arguments::ArgumentOptions;
use super::options::{
    Destination, EventOptions, IdentityOptions, SessionOptions, VirtualToolOptions,
};
use super::settings::{SinkChoice, env_value, local_sink_from_env};
use crate::clock::{Clock, SystemClock};
use crate::delivery::DeliveryOptions;
use crate::identity::{IntoIdentifyResult, SharedIdentify};
use crate::request::RequestView;

/// Builds an [`Analytics`](crate::Analytics) instance. Options come in groups, each a value with its own
/// defaults: [`DeliveryOptions`], [`IdentityOptions`], [`SessionOptions`], [`ArgumentOptions`],
/// [`VirtualToolOptions`] and [`EventOptions`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), posthog_mcp::ConfigError> {
/// use std::time::Duration;
/// use posthog_mcp::IdentityOptions;
/// let analytics = posthog_mcp::Analytics::builder()
///     .api_key("phc_example")
///     .host("https://eu.i.posthog.com")
///     .identity(IdentityOptions::default().identity_cache_ttl(Duration::from_secs(300)))
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
    pub(crate) identity: IdentityOptions,
    pub(crate) sessions: SessionOptions,
    pub(crate) arguments: ArgumentOptions,
    pub(crate) virtual_tools: VirtualToolOptions,
    pub(crate) events: EventOptions,
    pub(super) identify: Option<SharedIdentify>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            api_key: None,
            host: None,
            sink: SinkChoice::Auto,
            delivery: DeliveryOptions::default(),
            identity: IdentityOptions::default(),
            sessions: SessionOptions::default(),
            arguments: ArgumentOptions::default(),
            virtual_tools: VirtualToolOptions::default(),
            events: EventOptions::default(),
            identify: None,
            clock: Arc::new(SystemClock::default()),
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("host", &self.host.as_ref().map(|(h, _)| h))
            .field("sink", &self.sink)
            .field("identity", &self.identity)
            .field("sessions", &self.sessions)
            .field("arguments", &self.arguments)
            .field("virtual_tools", &self.virtual_tools)
            .field("events", &self.events)
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

    /// Where events go instead of PostHog: the local sink, memory (the `test-util` feature), nowhere after
    /// building them, or nowhere at all ([`Destination::Disabled`]: the wrapper only forwards).
    pub fn destination(mut self, destination: Destination) -> Self {
        self.sink = match destination.into_sink() {
            Some(sink) => SinkChoice::Explicit(sink),
            None => SinkChoice::Off,
        };
        self
    }

    /// Queue and batching options of the delivery worker.
    pub fn delivery(mut self, options: DeliveryOptions) -> Self {
        self.delivery = options;
        self
    }

    /// How callers are identified: the identity cache, identify's limits and the credential.
    pub fn identity(mut self, options: IdentityOptions) -> Self {
        self.identity = options;
        self
    }

    /// Limits of the sessions of sessionless HTTP callers and of the tasks awaited.
    pub fn sessions(mut self, options: SessionOptions) -> Self {
        self.sessions = options;
        self
    }

    /// The arguments the crate adds to instrumented tools: intent, model and conversation handle.
    pub fn arguments(mut self, options: ArgumentOptions) -> Self {
        self.arguments = options;
        self
    }

    /// The virtual tools `get_more_tools` and `send_feedback`.
    pub fn virtual_tools(mut self, options: VirtualToolOptions) -> Self {
        self.virtual_tools = options;
        self
    }

    /// The hooks over payloads and requests, `$exception` events and LLM trace spans.
    pub fn events(mut self, options: EventOptions) -> Self {
        self.events = options;
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
        self
    }

    /// The clock, for tests of timing behaviour (the `test-util` feature).
    #[cfg(feature = "test-util")]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}
