//! What the host chooses and reads of delivery: where payloads go ([`SinkKind`], [`LocalTarget`]), the tunables
//! of the queue and worker ([`DeliveryOptions`]) and the counters of what happened to every payload
//! ([`DeliveryStats`]).

use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "test-util")]
use super::MemorySink;

/// Where payloads go.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// PostHog's `/batch/` endpoint over HTTP.
    PostHog {
        /// Project API key.
        api_key: String,
        /// Ingestion host, for example `https://us.i.posthog.com`.
        host: String,
    },
    /// One line per payload on stderr (short and human-readable, or JSON) or in a file (JSON lines); never
    /// stdout.
    Local(LocalTarget),
    /// Kept in memory, for tests.
    #[cfg(feature = "test-util")]
    Memory(MemorySink),
    /// Dropped after processing (benchmarks).
    Discard,
}

/// The destination and format of the local sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTarget {
    /// Standard error, one short human-readable line per event: event, tool, duration, outcome, distinct id.
    Stderr,
    /// Standard error, one JSON object per line (the payload as PostHog would receive it).
    StderrJsonLines,
    /// A file, appended to, one JSON object per line.
    File(PathBuf),
}

/// Tunables of the queue and worker.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Most payloads held at once (built and waiting, plus jobs not yet run), not counting the batches in flight
    /// (at most [`DeliveryOptions::max_in_flight`] × [`DeliveryOptions::batch_size`] more).
    pub capacity: usize,
    /// Most bytes of built payloads held at once, in flight included (each estimated as the length of its JSON,
    /// without encoding it).
    pub max_bytes: usize,
    /// A batch is sent at this many payloads...
    pub batch_size: usize,
    /// ...or once its oldest payload has waited this long.
    pub flush_interval: Duration,
    /// gzip request bodies.
    pub gzip: bool,
    /// Most batches sent at once to PostHog (the local sinks send one at a time). More than one is used only
    /// while delivery is healthy: after any failure, one batch probes until a batch goes through cleanly.
    pub max_in_flight: usize,
    /// How many times one batch is resent after a transient failure or a rate limit before it is dropped and
    /// counted in [`DeliveryStats::dropped_retries_exhausted`]. `None` (the default) resends until it goes
    /// through, while new payloads queue up to [`DeliveryOptions::capacity`]. Probes while delivery is paused
    /// (401/402) do not count.
    pub max_retries: Option<u32>,
    /// First retry backoff (before jitter); doubles per failed attempt.
    pub initial_backoff: Duration,
    /// Longest backoff, also the cap on `Retry-After` and the interval between probes while paused.
    pub max_backoff: Duration,
    /// Timeout of one HTTP request (real time; whole seconds, at least 1).
    pub request_timeout: Duration,
    /// How long dropping the last delivery handle without shutting it down may block to drain.
    pub drop_timeout: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_bytes: 64 * 1024 * 1024,
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            gzip: true,
            max_in_flight: 16,
            max_retries: None,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            drop_timeout: Duration::from_secs(3),
        }
    }
}

/// Counters of what happened to every payload (see the module documentation for the invariant).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Payloads built and queued, plus jobs refused at the door (one each).
    pub enqueued: u64,
    /// Payloads the sink accepted.
    pub sent: u64,
    /// Payloads scheduled for a resend (a batch of 10 resent twice adds 20).
    pub retried: u64,
    /// Payloads dropped because the queue was full (count or bytes).
    pub dropped_queue_full: u64,
    /// Payloads PostHog rejected (400/413), isolated by splitting their batch.
    pub dropped_rejected: u64,
    /// Payloads of batches PostHog refused with a 4xx that no resend can fix (403, 404, …: every 4xx other than
    /// 400, 401, 402, 408, 413 and 429).
    pub dropped_refused: u64,
    /// Payloads of batches dropped after [`DeliveryOptions::max_retries`] resends.
    pub dropped_retries_exhausted: u64,
    /// Payloads handed over after shutdown began, or left unbuilt when the worker stopped.
    pub dropped_closed: u64,
    /// Payloads waiting for a batch.
    pub queued: u64,
    /// Payloads of the batch being sent (or waiting to be resent).
    pub in_flight: u64,
    /// Jobs handed over whose payloads are not built yet (not part of the payload counts).
    pub jobs_pending: u64,
    /// Jobs that panicked while building their payloads (their payloads never existed).
    pub jobs_failed: u64,
    /// The most queue slots ever held at once (queued payloads plus unbuilt jobs, the in-flight batch aside):
    /// how close the queue came to [`DeliveryOptions::capacity`].
    pub peak_held: u64,
    /// The bytes counted against [`DeliveryOptions::max_bytes`] right now: unbuilt jobs, queued payloads, the
    /// batches in flight, and delivered batches not yet freed (the worker frees them on the thread that built
    /// them, within moments).
    pub held_bytes: u64,
}

impl DeliveryStats {
    /// Every payload dropped, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_rejected
            + self.dropped_refused
            + self.dropped_retries_exhausted
            + self.dropped_closed
    }
    /// `enqueued == sent + dropped + queued + in_flight`.
    pub fn is_balanced(&self) -> bool {
        self.enqueued == self.sent + self.dropped() + self.queued + self.in_flight
    }
}
