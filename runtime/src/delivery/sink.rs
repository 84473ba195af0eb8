//! Where batches go: PostHog's `/batch/` endpoint over HTTP, JSON lines on stderr or in a file, memory, or
//! nowhere.
//!
//! Every sink answers one batch with an [`Outcome`]; the worker owns what happens next (retry, split, pause,
//! drop).

use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use chrono::Utc;
use tracing::{debug, info, warn};

use crate::clock::Clock;

use super::retry::{Outcome, PauseCause};
#[cfg(feature = "test-util")]
use super::MemorySink;
use super::{DeliveryOptions, LocalTarget, SinkKind};
use crate::event::Payload;

/// The sink the worker drives; built on the worker thread.
pub(crate) enum Sink {
    PostHog(Box<PostHogSink>),
    Local(LocalSink),
    #[cfg(feature = "test-util")]
    Memory(MemorySink),
    Discard,
    #[cfg(test)]
    Scripted(tests_support::ScriptedSink),
}

impl Sink {
    /// Builds the sink (on the worker thread).
    pub(crate) fn build(kind: SinkKind, options: &DeliveryOptions, clock: Arc<dyn Clock>) -> Sink {
        match kind {
            SinkKind::PostHog { api_key, host } => {
                Sink::PostHog(Box::new(PostHogSink::build(api_key, host, options, clock)))
            }
            SinkKind::Local(target) => Sink::Local(LocalSink::open(target)),
            #[cfg(feature = "test-util")]
            SinkKind::Memory(memory) => Sink::Memory(memory),
            SinkKind::Discard => Sink::Discard,
        }
    }

    /// How many batches may be in flight at once: several for HTTP, where the round trip dominates; one for the
    /// local sinks, which answer at once and keep FIFO order.
    pub(crate) fn max_in_flight(&self, options: &DeliveryOptions) -> usize {
        match self {
            Sink::PostHog(_) => options.max_in_flight.max(1),
            #[cfg(test)]
            Sink::Scripted(_) => options.max_in_flight.max(1),
            _ => 1,
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
            #[cfg(feature = "test-util")]
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

/// PostHog's `/batch/` endpoint: the body is written here, straight from the payloads, and POSTed with reqwest
/// (the HTTP client posthog-rs brings, so no other client is compiled in). posthog-rs still provides the
/// endpoint: app hosts (`https://us.posthog.com`) map to ingestion hosts, and the `/batch/` path.
pub(crate) struct PostHogSink {
    client: Option<reqwest::Client>,
    url: String,
    api_key: String,
    gzip: bool,
    clock: Arc<dyn Clock>,
}

/// The gzip level of request bodies, chosen by measurement (BENCHMARKS.md, "gzip level"): on a batch of 100
/// tool-call events, level 2 is within 3% of level 6's size at 2.8 times its speed; level 1 is another 1.4 times
/// faster but 35% larger.
pub(crate) const GZIP_LEVEL: u32 = 2;

/// Response bodies are read (so the connection can be reused) up to this many bytes, then dropped unread.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

impl PostHogSink {
    fn build(
        api_key: String,
        host: String,
        options: &DeliveryOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        if api_key.trim().is_empty() {
            tracing::error!(
                "posthog-mcp: the PostHog API key is empty; PostHog will not receive events"
            );
        }
        let url =
            posthog_rs::EndpointManager::new(host.clone()).build_url(posthog_rs::Endpoint::Batch);
        let client = reqwest::Client::builder()
            .user_agent(crate::event::USER_AGENT)
            .timeout(options.request_timeout.max(Duration::from_millis(1)))
            .pool_max_idle_per_host(options.max_in_flight.max(1))
            .build();
        let client = match client {
            Ok(client) => Some(client),
            Err(_) => {
                tracing::error!(
                    "posthog-mcp: cannot build the HTTP client; events will be dropped"
                );
                None
            }
        };
        info!(host = %host, "posthog-mcp: sending events to PostHog");
        Self {
            client,
            url,
            api_key,
            gzip: options.gzip,
            clock,
        }
    }

    async fn send(&self, batch: &[&Payload]) -> Outcome {
        let Some(client) = &self.client else {
            return Outcome::Refused {
                reason: "no HTTP client".into(),
            };
        };
        let sent_at = chrono::DateTime::<Utc>::from(self.clock.now());
        let mut request = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        request = if self.gzip {
            // The JSON text is only an input to gzip: write it into a buffer this thread keeps between batches.
            let compressed = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                scratch.clear();
                encode_batch_into(&mut scratch, &self.api_key, batch, sent_at);
                let compressed = gzip(&scratch, GZIP_LEVEL);
                if scratch.capacity() > MAX_SCRATCH {
                    *scratch = Vec::new();
                }
                compressed
            });
            match compressed {
                Ok(compressed) => request
                    .header(reqwest::header::CONTENT_ENCODING, "gzip")
                    .body(compressed),
                Err(_) => request.body(encode_batch(&self.api_key, batch, sent_at)),
            }
        } else {
            request.body(encode_batch(&self.api_key, batch, sent_at))
        };
        match request.send().await {
            Err(error) => Outcome::Transient {
                reason: if error.is_timeout() {
                    "request timed out".into()
                } else {
                    "connection error".into()
                },
            },
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, sent_at));
                // Drain a bounded amount of the body so the connection goes back to the pool; never log it
                // (it could echo payload content).
                let mut read = 0usize;
                while read < MAX_RESPONSE_BODY {
                    match response.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                classify_status(status, retry_after)
            }
        }
    }
}

thread_local! {
    /// The uncompressed body of the batch being gzipped (on the sender's thread).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A scratch buffer grown beyond this by an unusually large batch is released afterwards.
const MAX_SCRATCH: usize = 4 * 1024 * 1024;

/// The `/batch/` body: `{"api_key": …, "batch": [ … ], "sent_at": …}`. `historical_migration` is left out (PostHog
/// reads its absence as `false`).
pub(crate) fn encode_batch(
    api_key: &str,
    batch: &[&Payload],
    sent_at: chrono::DateTime<Utc>,
) -> Vec<u8> {
    let estimate: usize = batch
        .iter()
        .map(|p| super::size::estimated_len(p) + 1)
        .sum();
    let mut out = Vec::with_capacity(estimate + api_key.len() + 64);
    encode_batch_into(&mut out, api_key, batch, sent_at);
    out
}

/// [`encode_batch`], appending to `out`.
pub(crate) fn encode_batch_into(
    out: &mut Vec<u8>,
    api_key: &str,
    batch: &[&Payload],
    sent_at: chrono::DateTime<Utc>,
) {
    out.extend_from_slice(b"{\"api_key\":");
    let _ = serde_json::to_writer(&mut *out, api_key);
    out.extend_from_slice(b",\"batch\":[");
    for (i, payload) in batch.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        payload.write_json(out);
    }
    out.extend_from_slice(b"],\"sent_at\":\"");
    out.extend_from_slice(crate::event::format_timestamp(sent_at).as_bytes());
    out.extend_from_slice(b"\"}");
}

/// gzip at `level` (0–9).
pub(crate) fn gzip(body: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::new(level.min(9)),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// `Retry-After` as seconds or as an HTTP date (relative to `now`).
fn parse_retry_after(value: &str, now: chrono::DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// What an HTTP status means for the batch (the table in `docs/delivery.md`). PostHog's server SDKs never retry
/// a 4xx other than 408 and 429; neither does this.
pub(crate) fn classify_status(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 => Outcome::Transient {
            reason: "HTTP 408".into(),
        },
        429 => Outcome::RateLimited { retry_after },
        400 | 413 => Outcome::Rejected {
            reason: format!("HTTP {status}"),
        },
        401 => Outcome::Paused {
            cause: PauseCause::Unauthorized,
        },
        402 => Outcome::Paused {
            cause: PauseCause::BillingLimit,
        },
        400..=499 => Outcome::Refused {
            reason: format!("HTTP {status}"),
        },
        _ => Outcome::Transient {
            reason: format!("HTTP {status}"),
        },
    }
}

/// One line per payload, on stderr or appended to a file: short and human-readable (stderr by default) or JSON
/// lines. Never stdout: on a stdio MCP server stdout is the protocol channel.
pub(crate) struct LocalSink {
    out: Mutex<LocalOut>,
    human: bool,
    failed_once: std::sync::atomic::AtomicBool,
}

/// One short line for a person reading stderr: `posthog-mcp event: $mcp_tool_call tool=add duration=3ms
/// outcome=ok distinct_id=ses_…`. Only the event name, the tool (or resource, or prompt) name, the duration,
/// the outcome and the distinct id: no parameters, no response, no agent-written text.
pub(crate) fn human_line(payload: &Payload, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let props = &payload.properties;
    let _ = write!(out, "posthog-mcp event: {}", payload.event);
    let name = ["$mcp_tool_name", "$mcp_resource_name", "$mcp_prompt_name"]
        .iter()
        .find_map(|key| props.get(*key).and_then(serde_json::Value::as_str));
    if let Some(name) = name {
        let _ = write!(out, " tool={}", name.escape_debug());
    }
    if let Some(ms) = props
        .get("$mcp_duration_ms")
        .and_then(serde_json::Value::as_u64)
    {
        let _ = write!(out, " duration={ms}ms");
    }
    match props
        .get("$mcp_is_error")
        .and_then(serde_json::Value::as_bool)
    {
        Some(true) => out.extend_from_slice(b" outcome=error"),
        Some(false) => out.extend_from_slice(b" outcome=ok"),
        None => {}
    }
    let _ = writeln!(out, " distinct_id={}", payload.distinct_id.escape_debug());
}

enum LocalOut {
    Stderr,
    File(LineWriter<File>),
}

impl LocalSink {
    fn open(target: LocalTarget) -> Self {
        let human = target == LocalTarget::Stderr;
        let out = match &target {
            LocalTarget::Stderr => {
                debug!("posthog-mcp: local sink writing one line per event to stderr");
                LocalOut::Stderr
            }
            LocalTarget::StderrJsonLines => {
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
            human,
            failed_once: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn write(&self, batch: &[&Payload]) -> Outcome {
        let mut text = Vec::new();
        for payload in batch {
            if self.human {
                human_line(payload, &mut text);
            } else {
                payload.write_json(&mut text);
                text.push(b'\n');
            }
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let result = match &mut *out {
            LocalOut::Stderr => {
                let mut stderr = std::io::stderr().lock();
                stderr.write_all(&text).and_then(|_| stderr.flush())
            }
            LocalOut::File(file) => file.write_all(&text).and_then(|_| file.flush()),
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
