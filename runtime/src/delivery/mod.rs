//! The delivery queue to PostHog (CONTRACT §10): bounded, batched, retried, flushed on shutdown.
//!
//! STUB: the delivery issue replaces this file with the real queue and worker; the signatures are what the rest
//! of the runtime calls.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::event::Payload;

/// Work handed over by the request path: run on the delivery worker, it produces the payloads of one request
/// (sanitized, truncated, built, passed through `before_send`, labelled).
pub type Job = Box<dyn FnOnce() -> Vec<Payload> + Send + 'static>;

/// Where payloads go.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// PostHog's `/batch/` endpoint, through posthog-rs.
    PostHog {
        /// Project API key.
        api_key: String,
        /// Ingestion host, for example `https://us.i.posthog.com`.
        host: String,
    },
    /// JSON lines, one payload per line, on stderr or in a file; never stdout.
    Local(LocalTarget),
    /// Kept in memory, for tests.
    Memory(MemorySink),
    /// Dropped after processing (benchmarks).
    Discard,
}

/// The destination of the local sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTarget {
    /// Standard error.
    Stderr,
    /// A file, appended to.
    File(PathBuf),
}

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
        self.payloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    fn push(&self, payloads: Vec<Payload>) {
        self.payloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(payloads);
    }
}

/// Tunables of the queue and worker.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Most payloads held at once.
    pub capacity: usize,
    /// Most bytes held at once.
    pub max_bytes: usize,
    /// A batch is sent at this many payloads...
    pub batch_size: usize,
    /// ...or this long after its first payload arrived.
    pub flush_interval: Duration,
    /// gzip request bodies.
    pub gzip: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_bytes: 64 * 1024 * 1024,
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            gzip: true,
        }
    }
}

/// Counters of what happened to every payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub enqueued: u64,
    pub sent: u64,
    pub retried: u64,
    pub dropped_queue_full: u64,
    pub dropped_rejected: u64,
    pub in_flight: u64,
}

/// A handle on the delivery queue; clones share it.
#[derive(Clone)]
pub struct Delivery {
    sink: SinkKind,
}

impl Delivery {
    /// Starts the worker.
    pub fn start(_options: DeliveryOptions, sink: SinkKind, _clock: Arc<dyn Clock>) -> Self {
        Self { sink }
    }
    /// Hands a job to the worker without waiting; `false` when the queue is full (the job is dropped and counted).
    pub fn enqueue(&self, job: Job) -> bool {
        let payloads = job();
        if let SinkKind::Memory(memory) = &self.sink {
            memory.push(payloads);
        }
        true
    }
    /// Sends everything queued; `true` if the queue drained before `timeout`.
    pub async fn flush(&self, _timeout: Duration) -> bool {
        true
    }
    /// Drains the queue (bounded by `timeout`) and stops the worker.
    pub async fn shutdown(&self, _timeout: Duration) -> bool {
        true
    }
    /// Current counters.
    pub fn stats(&self) -> DeliveryStats {
        DeliveryStats::default()
    }
}
