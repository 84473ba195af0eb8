//! The delivery queue to PostHog: bounded, batched, retried, drained on shutdown.
//!
//! # Shape
//!
//! The request path calls [`Delivery::enqueue`] with a [`Job`]: a closure that builds the request's payloads. The
//! push takes one short lock and never waits on anything else; when the queue is full the job is dropped, counted
//! and warned about once per episode.
//!
//! Everything else happens on a dedicated OS thread named `posthog-mcp-delivery` with a tokio runtime of its own
//! (whose single thread, `posthog-mcp-delivery-jobs`, runs the jobs and the HTTP client's connection tasks while
//! the sender works on the first). The host may run on any tokio runtime (or none): delivery neither competes
//! with its tasks nor depends on its runtime still running, so [`Delivery::shutdown`] and the `Drop` guard can
//! drain while the host's runtime winds down. Threads are woken only when there is work for them: the intake
//! stays awake briefly after a run of jobs (a steady stream of requests hands over with no wake-up per call), and
//! the sender is woken for a full batch, to start its batch timer, or for a flush. On those threads:
//!
//! - the jobs run (sanitize, build, label — a panicking job loses only its own payloads, and is counted in
//!   [`DeliveryStats::jobs_failed`]); each payload is measured (its JSON length, estimated without encoding it)
//!   and queued, bounded by [`DeliveryOptions::capacity`] payloads and [`DeliveryOptions::max_bytes`] bytes; when
//!   either bound is reached the newest payloads are dropped;
//! - batches of up to [`DeliveryOptions::batch_size`] leave when full, when their oldest payload has waited
//!   [`DeliveryOptions::flush_interval`], or at once during a flush; up to [`DeliveryOptions::max_in_flight`]
//!   batches are in flight at once while delivery is healthy, one while it fails or before a first batch went
//!   through;
//! - the retry policy (`retry.rs`) decides what an answer means (the table in `docs/delivery.md`): connection
//!   errors, timeouts, 5xx and 408 are resent with exponential backoff and jitter (200 ms initial, 30 s cap);
//!   429 is resent after `Retry-After`, or after a backoff when there is none; 400 and 413 split the batch in
//!   halves until the offending payloads are alone, and only those are dropped (counted, logged by uuid without
//!   content) — when the split isolated nobody, the refusal was about size and later batches use the largest
//!   size that went through (doubling again after 50 full batches); 401 and 402 pause delivery with one error
//!   naming the cause while new payloads keep queueing up to capacity; every other 4xx drops the batch at once
//!   (PostHog's server SDKs never retry a 4xx other than 408 and 429). With [`DeliveryOptions::max_retries`] a
//!   batch still failing after that many resends is dropped and counted. A resent batch carries the same
//!   payloads, hence the same uuids, so PostHog deduplicates them.
//!
//! All waits of the worker (batch interval, backoff, `Retry-After`, pause probes) go through the injected
//! [`Clock`], so tests drive them with [`crate::clock::ManualClock`]; so does `sent_at`. Flush and shutdown
//! deadlines are real time: they bound how long the host waits.
//!
//! # The request to PostHog
//!
//! The sink writes the `/batch/` body itself, straight from the payloads (no intermediate JSON tree, no copy of
//! the property maps; keys in one fixed order, so gzip sees the same key sequence event after event), gzips it
//! at a level chosen by measurement, and POSTs it with reqwest, the HTTP client posthog-rs depends on (so no
//! other HTTP or TLS stack is compiled in). The request carries `User-Agent: posthog-rs-mcp/<version>`.
//! posthog-rs still provides the endpoint (`EndpointManager`: app hosts such as `https://us.posthog.com` map to
//! ingestion hosts, plus the `/batch/` path). Its `Client` is not used: its `Event` keeps properties in a
//! `HashMap` (a second copy of every property tree, and a key order that changes from event to event, which
//! doubles gzip's work), it stamps its own `User-Agent`, `$lib_version__*` and `$os`, formats timestamps with
//! nine digits, hides `Retry-After`, and reports unexpected 4xx as connection errors.
//!
//! When delivery stops (shutdown, or the last handle dropped) one log line sums it up: sent, dropped by reason,
//! anything left undelivered.
//!
//! # Accounting
//!
//! [`DeliveryStats`] counts payloads; at every moment
//! `enqueued = sent + dropped_queue_full + dropped_rejected + dropped_closed + queued + in_flight`
//! ([`DeliveryStats::is_balanced`]). A job is counted when its payloads are built (`jobs_pending` until then); a
//! job refused at the door (queue full, or after shutdown) counts as one payload, since its payloads are never
//! built.

mod batch;
mod intake;
#[cfg(feature = "test-util")]
mod memory;
mod options;
mod queue;
pub(crate) mod retry;
mod sink;
mod size;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use options::{DeliveryOptions, DeliveryStats, LocalTarget, SinkKind};
#[cfg(feature = "test-util")]
pub use memory::MemorySink;

use crate::clock::Clock;
use crate::event::Payload;
use queue::{Admission, Shared};

/// Work handed over by the request path: run on the delivery worker, it produces the payloads of one request
/// (sanitized, truncated, built, passed through `before_send`, labelled).
pub type Job = Box<dyn FnOnce() -> Vec<Payload> + Send + 'static>;

/// A job whose box outlives its run: the worker calls [`ReusableJob::run`] and then hands the box back through
/// [`ReusableJob::recycle`] instead of freeing it. The request path's per-call job uses this so that the memory it
/// fills on the request thread is not freed on the worker (glibc's allocator leaves its fast path when another
/// thread frees its blocks). A box whose run panicked is dropped instead.
pub trait ReusableJob: Send + 'static {
    /// Builds the payloads; called once per hand-over.
    fn run(&mut self) -> Vec<Payload>;
    /// Returns the emptied box to wherever it came from (a pool); called after `run`, or on the request thread
    /// when the queue refused the job.
    fn recycle(self: Box<Self>);
}

/// What the queue holds for one hand-over.
pub(crate) enum Work {
    Once(Job),
    Reusable(Box<dyn ReusableJob>),
}

impl Work {
    /// A refused job leaves: a reusable one goes back to its pool (we are on the request thread).
    fn discard(self) {
        match self {
            Work::Once(job) => drop(job),
            Work::Reusable(job) => job.recycle(),
        }
    }
}

/// A handle on the delivery queue; clones share it. Dropping the last handle without calling
/// [`Delivery::shutdown`] drains for at most [`DeliveryOptions::drop_timeout`], blocking the dropping thread.
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Starts the worker thread.
    pub fn start(options: DeliveryOptions, sink: SinkKind, clock: Arc<dyn Clock>) -> Self {
        let shared = Arc::new(Shared::new(options, clock));
        let for_worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("posthog-mcp-delivery".into())
            .spawn(move || worker::run(for_worker, sink));
        if let Err(err) = spawned {
            tracing::error!(kind = ?err.kind(), "posthog-mcp: cannot start the delivery thread; events will be dropped");
            shared.mark_exited();
        }
        Self {
            inner: Arc::new(Inner { shared }),
        }
    }

    /// Starts a worker around a ready-made sink (unit tests of the policy).
    #[cfg(test)]
    pub(crate) fn start_with_sink(
        options: DeliveryOptions,
        sink: sink::Sink,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let shared = Arc::new(Shared::new(options, clock));
        let for_worker = shared.clone();
        std::thread::Builder::new()
            .name("posthog-mcp-delivery".into())
            .spawn(move || worker::run_ready(for_worker, sink))
            .expect("spawn the test worker");
        Self {
            inner: Arc::new(Inner { shared }),
        }
    }

    /// Hands a job to the worker without waiting; `false` when the queue is full or shut down (the job is dropped
    /// and counted).
    pub fn enqueue(&self, job: Job) -> bool {
        self.enqueue_sized(job, 0)
    }

    /// As [`Delivery::enqueue`], for a job that holds `bytes` until it runs: they count against
    /// [`DeliveryOptions::max_bytes`] with the built payloads, so large requests cannot pile up unbuilt.
    pub fn enqueue_sized(&self, job: Job, bytes: usize) -> bool {
        self.hand_over(Work::Once(job), bytes)
    }

    /// As [`Delivery::enqueue_sized`], for a job whose box is recycled after it runs (or when it is refused).
    pub fn enqueue_reusable(&self, job: Box<dyn ReusableJob>, bytes: usize) -> bool {
        self.hand_over(Work::Reusable(job), bytes)
    }

    fn hand_over(&self, job: Work, bytes: usize) -> bool {
        let shared = &self.inner.shared;
        match shared.admit(job, bytes) {
            Admission::Accepted => true,
            Admission::Full {
                job,
                first_of_episode,
            } => {
                job.discard();
                if first_of_episode {
                    queue::warn_queue_full(shared);
                }
                false
            }
            Admission::Closed(job) => {
                job.discard();
                tracing::debug!("posthog-mcp: an event was handed over after shutdown and dropped");
                false
            }
        }
    }

    /// Sends everything handed over before this call, without waiting for the batch interval; `true` if all of it
    /// was sent or dropped before `timeout` (real time). Works on any async runtime, or none.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        if worker::on_worker_thread() {
            // Called from inside a job: waiting here would wait for ourselves.
            return false;
        }
        match shared.request_flush(deadline) {
            Some(reply) => wait::until(deadline, reply).await.unwrap_or(false),
            None => shared.lock().stats().is_drained(),
        }
    }

    /// [`Delivery::flush`] for synchronous callers: blocks the calling thread for at most `timeout`.
    pub fn flush_blocking(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if worker::on_worker_thread() {
            return false;
        }
        match self.inner.shared.request_flush(deadline) {
            Some(reply) => wait::blocking(deadline, reply).unwrap_or(false),
            None => self.inner.shared.lock().stats().is_drained(),
        }
    }

    /// Drains the queue (bounded by `timeout`, real time) and stops the worker; `true` if everything handed over
    /// was sent or dropped. Payloads handed over afterwards are refused. Later calls return at once.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        shared.lock().closing = true;
        let drained = self.flush(timeout).await;
        shared.signal_stop();
        if !worker::on_worker_thread() {
            // The worker stops at its next await; give it until the deadline (and a little) to wind down.
            let mut exited = shared.exited.subscribe();
            let grace = deadline.max(Instant::now()) + Duration::from_millis(500);
            let _ = wait::until(grace, async move {
                exited.wait_for(|done| *done).await.map(|_| ())
            })
            .await;
        }
        // After the worker's exit, which counts what it abandoned as dropped: the summary gives final counts.
        log_summary(shared);
        drained
    }

    /// Current counters.
    pub fn stats(&self) -> DeliveryStats {
        self.inner.shared.lock().stats()
    }
}

impl DeliveryStats {
    fn is_drained(&self) -> bool {
        self.queued == 0 && self.in_flight == 0 && self.jobs_pending == 0
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let shared = &self.shared;
        if *shared.exited.borrow() {
            return;
        }
        shared.lock().closing = true;
        // On the worker thread itself (the last handle dropped inside a job), draining would wait for ourselves.
        if !worker::on_worker_thread() {
            let deadline = Instant::now() + shared.options.drop_timeout;
            let drained = shared
                .request_flush(deadline)
                .and_then(|reply| wait::blocking(deadline, reply))
                .unwrap_or(false);
            if !drained {
                tracing::warn!(
                    "posthog-mcp: delivery was dropped without shutdown and could not drain in time; \
                     undelivered events are lost"
                );
            }
        }
        shared.signal_stop();
        log_summary(shared);
    }
}

/// The one line that sums up delivery, logged once when delivery stops: what was sent, and what was dropped,
/// by reason. `info` when everything handed over was sent, `warn` otherwise.
fn log_summary(shared: &Shared) {
    if shared
        .summarized
        .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        return;
    }
    let stats = shared.lock().stats();
    let undelivered = stats.queued + stats.in_flight + stats.jobs_pending;
    macro_rules! summary {
        ($level:ident) => {
            tracing::$level!(
                sent = stats.sent,
                dropped = stats.dropped(),
                dropped_queue_full = stats.dropped_queue_full,
                dropped_rejected = stats.dropped_rejected,
                dropped_refused = stats.dropped_refused,
                dropped_retries_exhausted = stats.dropped_retries_exhausted,
                dropped_closed = stats.dropped_closed,
                undelivered,
                jobs_failed = stats.jobs_failed,
                retried = stats.retried,
                "posthog-mcp: delivery stopped: {} sent, {} dropped ({} queue full, {} rejected, {} refused, \
                 {} out of retries, {} after shutdown), {} undelivered",
                stats.sent,
                stats.dropped(),
                stats.dropped_queue_full,
                stats.dropped_rejected,
                stats.dropped_refused,
                stats.dropped_retries_exhausted,
                stats.dropped_closed,
                undelivered,
            )
        };
    }
    if stats.dropped() == 0 && undelivered == 0 {
        summary!(info);
    } else {
        summary!(warn);
    }
}

/// Bounded waits that do not rely on the worker being responsive (a job stuck in user code must not make
/// `flush`/`shutdown`/`Drop` overrun their deadline).
mod wait {
    use std::future::Future;
    use std::time::Instant;

    use tokio::sync::oneshot;

    /// Awaits `future` until `deadline`. The alarm is a short-lived helper thread, so this needs no particular
    /// async runtime (and no timer driver) on the caller's side.
    pub(super) async fn until<T, E>(
        deadline: Instant,
        future: impl Future<Output = Result<T, E>>,
    ) -> Option<T> {
        let (wake, alarm) = oneshot::channel::<()>();
        let timer = std::thread::Builder::new()
            .name("posthog-mcp-flush-timer".into())
            .spawn(move || {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                let _ = wake.send(());
            });
        if timer.is_err() {
            return future.await.ok();
        }
        let future = std::pin::pin!(future);
        match futures::future::select(future, alarm).await {
            futures::future::Either::Left((Ok(value), _)) => Some(value),
            _ => None,
        }
    }

    /// Blocks on `receiver` until `deadline`.
    pub(super) fn blocking<T>(deadline: Instant, mut receiver: oneshot::Receiver<T>) -> Option<T> {
        loop {
            match receiver.try_recv() {
                Ok(value) => return Some(value),
                Err(oneshot::error::TryRecvError::Closed) => return None,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests;
