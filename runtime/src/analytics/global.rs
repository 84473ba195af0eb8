//! The process-wide instance that zero-config use starts lazily from the environment, and the free functions
//! over it: `init`, `guard` and its [`FlushGuard`], `shutdown`, `capture` and `capture_in`.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Analytics, CaptureError};
use crate::config::{Builder, ConfigError};

static GLOBAL: OnceLock<Analytics> = OnceLock::new();

/// The process-wide instance, started on first use from the environment. A configuration error is logged
/// (naming the variable) and leaves analytics disabled; it never fails the host.
pub fn global() -> &'static Analytics {
    GLOBAL.get_or_init(|| {
        Builder::from_env().build().unwrap_or_else(|error| {
            tracing::error!("posthog-mcp: analytics disabled: {error}");
            Builder::new()
                .destination(crate::Destination::Disabled)
                .identity(crate::IdentityOptions::default().without_registered_identify())
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
