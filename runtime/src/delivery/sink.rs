//! Where batches go: PostHog (through posthog-rs), JSON lines on stderr or in a file, memory, or nowhere.
//!
//! Every sink answers one batch with an [`Outcome`]; the worker owns what happens next (retry, split, pause).

use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tracing::{debug, info, warn};

use super::retry::{Outcome, PauseCause};
use super::{DeliveryOptions, LocalTarget, SinkKind};
use crate::event::Payload;

/// A sink that keeps every delivered payload in memory.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    payloads: Arc<Mutex<Vec<Payload>>>,
}

impl MemorySink {
    /// A new, empty memory sink.
    pub fn new() -> Self {
        Self::default()
    }
    /// Every payload delivered so far, in delivery order.
    pub fn payloads(&self) -> Vec<Payload> {
        self.lock().clone()
    }
    /// How many payloads were delivered so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    /// `true` while nothing was delivered.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
    /// Removes and returns everything delivered so far.
    pub fn take(&self) -> Vec<Payload> {
        std::mem::take(&mut *self.lock())
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Payload>> {
        self.payloads.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn push(&self, payloads: impl IntoIterator<Item = Payload>) {
        self.lock().extend(payloads);
    }
}

/// The sink the worker drives; built on the worker thread.
pub(crate) enum Sink {
    PostHog(Box<PostHogSink>),
    Local(LocalSink),
    Memory(MemorySink),
    Discard,
    #[cfg(test)]
    Scripted(tests_support::ScriptedSink),
}

impl Sink {
    /// Builds the sink; must run inside the worker's tokio runtime (posthog-rs's client is created there).
    pub(crate) async fn build(kind: SinkKind, options: &DeliveryOptions) -> Sink {
        match kind {
            SinkKind::PostHog { api_key, host } => {
                Sink::PostHog(Box::new(PostHogSink::build(api_key, host, options).await))
            }
            SinkKind::Local(target) => Sink::Local(LocalSink::open(target)),
            SinkKind::Memory(memory) => Sink::Memory(memory),
            SinkKind::Discard => Sink::Discard,
        }
    }

    /// Sends one batch and reports what happened. Never panics (a panic inside the sink counts as a rejection of
    /// that batch, so bisection isolates whatever provoked it).
    pub(crate) async fn send(&self, batch: &[&Payload]) -> Outcome {
        use futures::FutureExt;
        let attempt = std::panic::AssertUnwindSafe(self.send_inner(batch)).catch_unwind();
        match attempt.await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Rejected {
                reason: "the sink panicked".into(),
            },
        }
    }

    async fn send_inner(&self, batch: &[&Payload]) -> Outcome {
        match self {
            Sink::PostHog(sink) => sink.send(batch).await,
            Sink::Local(sink) => sink.write(batch),
            Sink::Memory(memory) => {
                memory.push(batch.iter().map(|p| (*p).clone()));
                Outcome::Delivered
            }
            Sink::Discard => Outcome::Delivered,
            #[cfg(test)]
            Sink::Scripted(sink) => sink.send(batch),
        }
    }
}

/// PostHog's `/batch/` endpoint through posthog-rs `capture_batch_immediate`.
pub(crate) struct PostHogSink {
    client: posthog_rs::Client,
}

/// How many attempts posthog-rs makes inside one `capture_batch_immediate` call. Two, so that a 429 *with*
/// `Retry-After` is honoured by posthog-rs itself (its error type drops the header value); everything after that
/// second attempt is the worker's policy. See the module documentation of `delivery`.
pub(crate) const POSTHOG_RS_ATTEMPTS: u32 = 2;
/// posthog-rs's own wait before its second attempt when no `Retry-After` was given (a quick retry that absorbs a
/// stale pooled connection); with `Retry-After` it waits `max(this, Retry-After)`.
pub(crate) const POSTHOG_RS_QUICK_RETRY_MS: u64 = 100;

impl PostHogSink {
    async fn build(api_key: String, host: String, options: &DeliveryOptions) -> Self {
        if api_key.trim().is_empty() {
            tracing::error!(
                "posthog-mcp: the PostHog API key is empty; PostHog will not receive events"
            );
        }
        let mut builder = posthog_rs::ClientOptionsBuilder::default();
        builder
            .api_key(api_key)
            .host(host.clone())
            .max_capture_attempts(POSTHOG_RS_ATTEMPTS)
            .retry_initial_backoff_ms(POSTHOG_RS_QUICK_RETRY_MS)
            .retry_max_backoff_ms(options.max_backoff.as_millis().clamp(1, u64::MAX as u128) as u64)
            .request_timeout_seconds(options.request_timeout.as_secs().max(1));
        if options.gzip {
            builder.capture_compression(posthog_rs::CaptureCompression::Gzip);
        }
        let client_options = match builder.build() {
            Ok(client_options) => client_options,
            Err(error) => {
                // Only reachable if a required option were missing; fall back to a disabled client.
                tracing::error!(
                    "posthog-mcp: invalid PostHog client options ({error}); events will not be sent"
                );
                posthog_rs::ClientOptionsBuilder::default()
                    .api_key(String::new())
                    .build()
                    .unwrap_or_else(|_| posthog_rs::ClientOptions::from(""))
            }
        };
        info!(host = %host, "posthog-mcp: sending events to PostHog");
        Self {
            client: posthog_rs::client(client_options).await,
        }
    }

    async fn send(&self, batch: &[&Payload]) -> Outcome {
        let events = batch.iter().map(|p| to_event(p)).collect::<Vec<_>>();
        match self.client.capture_batch_immediate(events, false).await {
            Ok(_) => Outcome::Delivered,
            Err(error) => classify(&error),
        }
    }
}

/// Maps posthog-rs's error onto the worker's policy. Messages are summarised, never copied: response bodies could
/// echo payload content.
pub(crate) fn classify(error: &posthog_rs::Error) -> Outcome {
    use posthog_rs::Error as E;
    match error {
        E::RateLimit => Outcome::RateLimited { retry_after: None },
        E::BadRequest(_) => Outcome::Rejected {
            reason: "HTTP 400/413".into(),
        },
        E::Serialization(_) => Outcome::Rejected {
            reason: "the batch could not be encoded".into(),
        },
        E::InvalidTimestamp(_) => Outcome::Rejected {
            reason: "invalid timestamp".into(),
        },
        E::Unauthorized => Outcome::Paused {
            cause: PauseCause::Unauthorized,
        },
        E::BillingLimitExceeded(_) => Outcome::Paused {
            cause: PauseCause::BillingLimit,
        },
        E::ServerError { status, .. } => Outcome::Transient {
            reason: format!("HTTP {status}"),
        },
        E::Connection(message) => Outcome::Transient {
            reason: summarise_connection_error(message),
        },
        _ => Outcome::Transient {
            reason: "unexpected client error".into(),
        },
    }
}

fn summarise_connection_error(message: &str) -> String {
    // posthog-rs formats unexpected statuses as "Unexpected HTTP status {status}: {body}"; keep the status only.
    if let Some(rest) = message.strip_prefix("Unexpected HTTP status ") {
        let status: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        return format!("HTTP {status}");
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        "request timed out".into()
    } else {
        "connection error".into()
    }
}

/// Converts a payload into a posthog-rs event: name, distinct id, every property, timestamp and uuid. Groups are
/// not passed separately: `properties.$groups` already carries them, and posthog-rs would overwrite it otherwise.
pub(crate) fn to_event(payload: &Payload) -> posthog_rs::Event {
    let mut event = posthog_rs::Event::new(payload.event.clone(), payload.distinct_id.clone());
    for (key, value) in &payload.properties {
        // Serialising a `serde_json::Value` cannot fail; passing a reference copies the value once.
        let _ = event.insert_prop(key.clone(), value);
    }
    if event.set_timestamp(payload.timestamp).is_err() {
        // posthog-rs refuses timestamps more than a second in the future (a skewed clock); send "now" instead.
        tracing::debug!(
            "posthog-mcp: an event timestamp was in the future; sending the current time instead"
        );
        let _ = event.set_timestamp(Utc::now());
    }
    event.set_uuid(payload.uuid);
    event
}

/// JSON lines, one payload per line, on stderr or appended to a file. Never stdout: on a stdio MCP server stdout
/// is the protocol channel.
pub(crate) struct LocalSink {
    out: Mutex<LocalOut>,
    failed_once: std::sync::atomic::AtomicBool,
}

enum LocalOut {
    Stderr,
    File(LineWriter<File>),
}

impl LocalSink {
    fn open(target: LocalTarget) -> Self {
        let out = match &target {
            LocalTarget::Stderr => {
                debug!("posthog-mcp: local sink writing JSON lines to stderr");
                LocalOut::Stderr
            }
            LocalTarget::File(path) => {
                match OpenOptions::new().create(true).append(true).open(path) {
                    Ok(file) => {
                        debug!(path = %path.display(), "posthog-mcp: local sink writing JSON lines to a file");
                        LocalOut::File(LineWriter::new(file))
                    }
                    Err(error) => {
                        warn!(
                            path = %path.display(),
                            kind = ?error.kind(),
                            "posthog-mcp: cannot open the events file; writing events as JSON lines to stderr instead"
                        );
                        LocalOut::Stderr
                    }
                }
            }
        };
        Self {
            out: Mutex::new(out),
            failed_once: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn write(&self, batch: &[&Payload]) -> Outcome {
        let mut text = String::new();
        for payload in batch {
            match serde_json::to_string(&payload.to_json()) {
                Ok(line) => {
                    text.push_str(&line);
                    text.push('\n');
                }
                Err(_) => {
                    return Outcome::Rejected {
                        reason: "the payload could not be encoded".into(),
                    };
                }
            }
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let result = match &mut *out {
            LocalOut::Stderr => {
                let mut stderr = std::io::stderr().lock();
                stderr
                    .write_all(text.as_bytes())
                    .and_then(|_| stderr.flush())
            }
            LocalOut::File(file) => file.write_all(text.as_bytes()).and_then(|_| file.flush()),
        };
        match result {
            Ok(()) => Outcome::Delivered,
            Err(error) => {
                if !self
                    .failed_once
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    warn!(kind = ?error.kind(), "posthog-mcp: writing events locally failed; retrying");
                }
                Outcome::Transient {
                    reason: format!("local write failed ({:?})", error.kind()),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::Outcome;
    use crate::event::Payload;

    /// A sink answering from a script (then `Delivered`), recording every batch it saw, for unit tests of the
    /// worker's policy without HTTP.
    #[derive(Clone, Default)]
    pub(crate) struct ScriptedSink {
        pub(crate) script: Arc<Mutex<VecDeque<Outcome>>>,
        #[allow(clippy::type_complexity)]
        pub(crate) reject: Arc<Mutex<Option<Box<dyn Fn(&Payload) -> bool + Send>>>>,
        pub(crate) seen: Arc<Mutex<Vec<Vec<Payload>>>>,
        /// Batches larger than this are rejected (a 413).
        pub(crate) max_batch: Arc<Mutex<Option<usize>>>,
        pub(crate) delivered: Arc<Mutex<Vec<Payload>>>,
    }

    impl ScriptedSink {
        pub(crate) fn send(&self, batch: &[&Payload]) -> Outcome {
            let batch: Vec<Payload> = batch.iter().map(|p| (*p).clone()).collect();
            self.seen.lock().unwrap().push(batch.clone());
            let scripted = self.script.lock().unwrap().pop_front();
            let too_large = self
                .max_batch
                .lock()
                .unwrap()
                .is_some_and(|max| batch.len() > max);
            let poisoned = self
                .reject
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|reject| batch.iter().any(reject));
            let rejected = scripted.is_none() && (too_large || poisoned);
            match scripted {
                Some(outcome) if outcome != Outcome::Delivered => return outcome,
                _ if rejected => {
                    return Outcome::Rejected {
                        reason: "HTTP 400".into(),
                    };
                }
                _ => {}
            }
            self.delivered.lock().unwrap().extend(batch);
            Outcome::Delivered
        }
    }
}
