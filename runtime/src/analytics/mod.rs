//! The analytics instance: configuration, the delivery queue and the hooks shared by every server it
//! instruments, the process-wide instance that zero-config use starts lazily, and custom events.
//!
//! This file holds the [`Analytics`] handle: starting it from a checked [`Builder`], handing records to the
//! delivery worker, flushing and shutting down. `servers.rs` keeps each instrumented server's state, `tasks.rs`
//! the task-augmented calls the instance awaits, `custom.rs` the custom events and the caller they are attributed
//! to, and `global.rs` the process-wide instance and the free functions over it.

mod custom;
mod global;
mod servers;
mod tasks;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{self, AgentOptions, Builder, ConfigError};
use crate::delivery::{Delivery, DeliveryStats, LocalTarget, SinkKind};
use crate::hooks::EventPropertiesFn;
use crate::identity::{CredentialSource, SharedIdentify};
use crate::pipeline::{PipelineSettings, PooledRecord};

pub use custom::{CallerContext, CaptureError, CustomEvent};
pub use global::{FlushGuard, InitError, capture, capture_in, global, guard, init, shutdown};
pub(crate) use servers::ServerState;
pub(crate) use tasks::{PendingTask, TaskEnd, TaskTable};
use servers::ServerKey;

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
    /// How many tasks the instance awaits at once (and how many early ends it keeps).
    pub(crate) task_capacity: NonZeroUsize,
    /// The task-augmented calls awaited by every server of this instance, and ends reported before their call.
    pub(crate) tasks: Mutex<TaskTable>,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics")
            .field("enabled", &self.is_enabled())
            .field("identify", &self.inner.identify.is_some())
            .finish_non_exhaustive()
    }
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

    /// Whether events are captured at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.delivery.is_some()
    }

    /// Hands a record to the delivery worker (step 3): no serialization here, no waiting.
    pub(crate) fn submit(&self, record: PooledRecord) {
        if let Some(delivery) = &self.inner.delivery {
            let settings = self.inner.settings.clone();
            let bytes = record.held_bytes();
            delivery.enqueue_reusable(record.into_job(settings), bytes);
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

}

/// Starts an instance from a checked builder: logs where events go and starts the delivery worker.
fn start(
    builder: Builder,
    sink: Option<SinkKind>,
    identify: Option<SharedIdentify>,
    cache_capacity: NonZeroUsize,
) -> Analytics {
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
    Analytics {
        inner: Arc::new(Inner {
            delivery,
            settings: Arc::new(PipelineSettings {
                exception_autocapture: builder.events.exception_autocapture,
                llm_traces: builder.events.llm_traces,
                before_send: builder.events.before_send.clone(),
                server_build: builder.events.server_build.clone(),
            }),
            clock: builder.clock.clone(),
            event_properties: builder.events.event_properties.clone(),
            event_properties_timeout: builder.events.event_properties_timeout,
            agent: Arc::new(AgentOptions::new(&builder.arguments, &builder.virtual_tools)),
            identify,
            cache_capacity,
            cache_ttl: builder.identity.cache_ttl,
            identify_timeout: builder.identity.identify_timeout,
            identify_failure_ttl: builder.identity.identify_failure_ttl,
            credential: builder.identity.credential.clone(),
            servers: dashmap::DashMap::new(),
            session_capacity: NonZeroUsize::new(builder.sessions.session_capacity)
                .unwrap_or(NonZeroUsize::MIN),
            task_timeout: builder.sessions.task_timeout.max(Duration::from_millis(1)),
            task_capacity: NonZeroUsize::new(builder.sessions.task_capacity)
                .unwrap_or(NonZeroUsize::MIN),
            tasks: Mutex::new(TaskTable::default()),
        }),
    }
}

impl Builder {
    /// Checks every value and starts the delivery worker.
    pub fn build(self) -> Result<Analytics, ConfigError> {
        let sink = config::resolve_sink(&self)?;
        if self.identity.cache_capacity == 0 {
            return Err(ConfigError::ZeroCapacity {
                option: "identity_cache_capacity",
            });
        }
        if self.sessions.session_capacity == 0 {
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
        if self.identity.identify_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                option: "identify_timeout",
            });
        }
        if self.events.event_properties_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                option: "event_properties_timeout",
            });
        }
        if let Some(build) = &self.events.server_build {
            let length = build.chars().count();
            if !(1..=256).contains(&length) {
                return Err(ConfigError::InvalidServerBuild { length });
            }
        }
        config::check_agent(&self.arguments, &self.virtual_tools)?;
        let identify = config::resolve_identify(&self)?;
        let capacity = NonZeroUsize::new(self.identity.cache_capacity).expect("checked above");
        Ok(start(self, sink, identify, capacity))
    }
}
