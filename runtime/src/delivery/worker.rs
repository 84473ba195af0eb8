//! The worker: a dedicated OS thread, `posthog-mcp-delivery`, with a tokio runtime of its own and two tasks.
//!
//! - *intake* (`intake.rs`, on the runtime's single thread, `posthog-mcp-delivery-jobs`) runs the jobs handed
//!   over by the request path (catching panics), measures each payload and moves it into the bounded buffer,
//!   and registers flush markers; the HTTP client's connection tasks share its thread, so it yields every few
//!   jobs;
//! - *sender* (on `posthog-mcp-delivery` itself) forms batches (at `batch_size` payloads, or when the oldest
//!   payload has waited `flush_interval`, or at once while a flush is pending) and delivers them, applying the
//!   retry policy: up to `max_in_flight` batches at once while delivery is healthy (every batch in flight is a
//!   future polled by the sender, so encoding and compressing bodies happens on this thread), one while it is
//!   failing or not yet proven.
//!
//! Wake-ups cost the host CPU, so each side wakes the other only when there is work: the request path wakes the
//! intake only once it has parked (after [`INTAKE_LINGER`](super::intake::INTAKE_LINGER) without work), and the intake wakes the sender only
//! when its buffer went from empty to not empty, a batch is full, or a flush is pending
//! ([`super::queue::State::sender_needs_wake`]).
//!
//! Every wait of the sender (batch interval, backoff, pause) goes through the injected
//! [`Clock`](crate::clock::Clock); flush and shutdown deadlines are real time, because they bound how long the
//! host waits.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error, info, warn};

use super::{DeliveryStats, SinkKind};
use super::batch::{Progress, close_batch};
use super::intake::intake;
use super::queue::{Entry, SenderParked, Shared};
use super::retry::{Backoff, Outcome, PauseCause};
use super::sink::Sink;
use crate::clock::Sleep;

thread_local! {
    static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is a delivery worker (where waiting for the worker would wait for ourselves).
pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER.with(|flag| flag.get())
}

/// The worker's runtime: the sender runs on the `posthog-mcp-delivery` thread itself (inside `block_on`) and the
/// intake on one runtime thread, `posthog-mcp-delivery-jobs`, so building payloads and encoding and sending
/// batches proceed in parallel when a second core is free (measured: about 20% more events/s than one thread).
fn build_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("posthog-mcp-delivery-jobs")
        .on_thread_start(|| {
            ON_WORKER.with(|flag| flag.set(true));
            yield_to_the_host();
        })
        .enable_all()
        .build()
}

/// Gives the calling delivery thread the lowest normal scheduling priority (the highest niceness), so that on a
/// core it shares with the host a request that becomes ready runs at once instead of waiting for the worker's
/// time slice; the worker still gets the time the host leaves idle, and a share under full load. Where the system
/// refuses, the thread keeps its priority.
fn yield_to_the_host() {
    if let Err(error) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::debug!(?error, "posthog-mcp: the delivery thread keeps its scheduling priority");
    }
}

/// Body of the worker thread.
pub(crate) fn run(shared: Arc<Shared>, kind: SinkKind) {
    ON_WORKER.with(|flag| flag.set(true));
    yield_to_the_host();
    struct ExitGuard(Arc<Shared>);
    impl Drop for ExitGuard {
        fn drop(&mut self) {
            self.0.mark_exited();
        }
    }
    let _guard = ExitGuard(shared.clone());

    let runtime = match build_runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            error!(kind = ?err.kind(), "posthog-mcp: cannot start the delivery runtime; events will be dropped");
            return;
        }
    };
    let sink = {
        let _entered = runtime.enter();
        Sink::build(kind, &shared.options, shared.clock.clone())
    };
    run_with_sink(&runtime, &shared, &sink);
    drop(sink);
    drop(runtime);
}

/// Body of a worker thread around a ready-made sink (unit tests).
#[cfg(test)]
pub(crate) fn run_ready(shared: Arc<Shared>, sink: Sink) {
    ON_WORKER.with(|flag| flag.set(true));
    struct ExitGuard(Arc<Shared>);
    impl Drop for ExitGuard {
        fn drop(&mut self) {
            self.0.mark_exited();
        }
    }
    let _guard = ExitGuard(shared.clone());
    let runtime = build_runtime().expect("test runtime");
    run_with_sink(&runtime, &shared, &sink);
}

pub(crate) fn run_with_sink(runtime: &tokio::runtime::Runtime, shared: &Arc<Shared>, sink: &Sink) {
    runtime.block_on(async {
        let intake = tokio::spawn(intake(shared.clone()));
        sender(shared, sink).await;
        intake.abort();
        let _ = intake.await;
        // The intake is gone: free the batches it would have freed, so nothing delivered stays counted.
        let spent = {
            let mut state = shared.lock();
            state.spent_bytes = 0;
            std::mem::take(&mut state.spent)
        };
        drop(spent);
    });
}

enum Step {
    Send(Vec<Entry>),
    Wait(Option<Duration>),
}

fn next_step(shared: &Shared) -> Step {
    let now = shared.clock.elapsed();
    let mut state = shared.lock();
    let Some(front) = state.buffer.front() else {
        state.sender_parked = Some(SenderParked::Empty);
        return Step::Wait(None);
    };
    let due = front.arrived + shared.options.flush_interval;
    let limit = state.batch_limit(shared.options.batch_size);
    state.sender_parked = None;
    if state.buffer.len() >= limit || state.flushing() || now >= due {
        let take = state.buffer.len().min(limit);
        let batch: Vec<Entry> = state.buffer.drain(..take).collect();
        let bytes: usize = batch.iter().map(|e| e.bytes).sum();
        state.buffer_bytes = state.buffer_bytes.saturating_sub(bytes);
        state.in_flight_bytes += bytes;
        state.in_flight += batch.len();
        if let Some(first) = batch.first() {
            state.in_flight_batches.push(first.seq);
        }
        // Room again: a later overflow is a new episode.
        state.full_episode = false;
        Step::Send(batch)
    } else {
        state.sender_parked = Some(SenderParked::Timer);
        Step::Wait(Some(due))
    }
}

async fn sender(shared: &Arc<Shared>, sink: &Sink) {
    use futures::StreamExt;
    let mut stop = shared.stop.subscribe();
    let mut timer: Option<(Duration, Sleep)> = None;
    let health = RefCell::new(Health::default());
    let max_in_flight = sink.max_in_flight(&shared.options);
    // Every batch in flight is one future here, polled on this thread: encoding bodies happens here, not on the
    // intake's thread, and the futures share `health` without locking.
    let mut in_flight = futures::stream::FuturesUnordered::new();
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        // Several batches only while delivery is known to be healthy: a failing or unknown endpoint gets one.
        let limit = if health.borrow().proven {
            max_in_flight
        } else {
            1
        };
        let mut wait_for = None;
        if in_flight.len() < limit {
            match next_step(shared) {
                Step::Send(batch) => {
                    timer = None;
                    in_flight.push(deliver(shared, sink, batch, &health));
                    continue;
                }
                Step::Wait(due) => wait_for = Some(due),
            }
        }
        match wait_for {
            Some(Some(due)) => {
                if timer.as_ref().map(|(at, _)| *at) != Some(due) {
                    let wait = due.saturating_sub(shared.clock.elapsed());
                    timer = Some((due, shared.clock.sleep(wait)));
                }
            }
            _ => timer = None,
        }
        let has_room = wait_for.is_some();
        tokio::select! {
            done = in_flight.next(), if !in_flight.is_empty() => {
                if done == Some(false) {
                    return;
                }
            }
            _ = shared.sender_wake.notified(), if has_room => {}
            _ = async { timer.as_mut().expect("guarded").1.as_mut().await }, if timer.is_some() => {
                timer = None;
            }
            _ = stop.changed() => {}
        }
    }
}

/// What the sender remembers across batches, to log each failure episode once and to open concurrency only
/// once delivery works.
#[derive(Default)]
struct Health {
    failing: bool,
    paused: Option<PauseCause>,
    /// A batch went through at once (no failure, no split) since the last failure.
    proven: bool,
    /// The last refusal warned about, so a run of refused batches logs once.
    refused: Option<String>,
    /// Batches were dropped after `max_retries` since the last success (warned once).
    exhausted: bool,
}

impl Health {
    fn failed(&mut self) {
        self.proven = false;
    }

    /// A batch went through: logs the recovery once, after a run of failures or a pause.
    fn recovered(&mut self) {
        if self.failing || self.paused.is_some() {
            info!("posthog-mcp: event delivery recovered");
        }
        self.failing = false;
        self.paused = None;
        self.exhausted = false;
    }

    /// A send failed and will be retried; `true` if this starts a run of failures (the one to warn about).
    fn failing_now(&mut self) -> bool {
        self.failed();
        !std::mem::replace(&mut self.failing, true)
    }

    /// A batch of `size` was refused and dropped: warns once per distinct reason in a row.
    fn refused(&mut self, reason: &str, size: usize) {
        if self.refused.as_deref() != Some(reason) {
            warn!(
                reason = %reason,
                "posthog-mcp: PostHog refused a batch of events; it was dropped (not retried)"
            );
            self.refused = Some(reason.to_owned());
        } else {
            debug!(size, reason = %reason, "posthog-mcp: batch refused and dropped");
        }
    }
}

/// Delivers one batch: resends it on transient failures and rate limits (up to `max_retries` times), splits it
/// on rejections until the offending payloads are isolated, drops it on other refusals, holds it while paused.
/// Returns `false` when the worker must stop.
async fn deliver(
    shared: &Shared,
    sink: &Sink,
    batch: Vec<Entry>,
    health: &RefCell<Health>,
) -> bool {
    let options = &shared.options;
    let mut stop = shared.stop.subscribe();
    let mut backoff = Backoff::new(options.initial_backoff, options.max_backoff);
    let batch_len = batch.len();
    let first_seq = batch.first().map(|e| e.seq);
    let batch_bytes: usize = batch.iter().map(|e| e.bytes).sum();
    let mut progress = Progress::default();
    let mut parts = vec![batch];
    // Settled parts, handed to the intake to free (see `State::spent`).
    let mut done = Vec::with_capacity(1);
    while let Some(mut part) = parts.pop() {
        let mut retries = 0u32;
        loop {
            let payloads: Vec<&crate::event::Payload> = part.iter().map(|e| &e.payload).collect();
            let outcome = tokio::select! {
                outcome = sink.send(&payloads) => outcome,
                _ = stop.wait_for(|stopped| *stopped) => return false,
            };
            let (wait, counts_as_retry) =
                match settle(shared, health, &mut backoff, &mut progress, &part, outcome) {
                    AfterAnswer::Settled => {
                        done.push(std::mem::take(&mut part));
                        break;
                    }
                    AfterAnswer::Split => {
                        let second = part.split_off(part.len() / 2);
                        parts.push(second);
                        parts.push(part);
                        break;
                    }
                    AfterAnswer::Retry { wait, counts } => (wait, counts),
                };
            if counts_as_retry {
                retries = retries.saturating_add(1);
            }
            if counts_as_retry && options.max_retries.is_some_and(|max| retries > max) {
                {
                    let mut health = health.borrow_mut();
                    if !health.exhausted {
                        warn!(
                            max_retries = options.max_retries,
                            "posthog-mcp: a batch of events was still failing after the last retry; it was dropped"
                        );
                        health.exhausted = true;
                    }
                }
                leave_flight(shared, part.len(), |counters| {
                    &mut counters.dropped_retries_exhausted
                });
                done.push(std::mem::take(&mut part));
                break;
            }
            shared.lock().counters.retried += part.len() as u64;
            tokio::select! {
                _ = shared.clock.sleep(wait) => {}
                _ = stop.wait_for(|stopped| *stopped) => return false,
            }
        }
    }
    if progress.clean {
        health.borrow_mut().proven = true;
    }
    close_batch(shared, first_seq, batch_len, batch_bytes, &progress, done);
    true
}

/// What [`deliver`] does with a part after an answer.
enum AfterAnswer {
    /// Sent or dropped, and counted.
    Settled,
    /// Rejected as a whole: send each half on its own.
    Split,
    /// Send it again after `wait`; `counts` whether this counts towards `max_retries`.
    Retry { wait: Duration, counts: bool },
}

/// Counts and logs one answer for `part` (at most one warning per kind of trouble until delivery recovers) and
/// says what to do next.
fn settle(
    shared: &Shared,
    health: &RefCell<Health>,
    backoff: &mut Backoff,
    progress: &mut Progress,
    part: &[Entry],
    outcome: Outcome,
) -> AfterAnswer {
    if !matches!(outcome, Outcome::Delivered) {
        progress.clean = false;
    }
    match outcome {
        Outcome::Delivered => {
            health.borrow_mut().recovered();
            backoff.reset();
            progress.largest_delivered = progress.largest_delivered.max(part.len());
            leave_flight(shared, part.len(), |counters| &mut counters.sent);
            AfterAnswer::Settled
        }
        Outcome::Rejected { reason } if part.len() == 1 => {
            // Identify the payload by uuid and name only: never its properties.
            warn!(
                uuid = %part[0].payload.uuid,
                event = %part[0].payload.event,
                reason = %reason,
                "posthog-mcp: PostHog rejected an event; it was dropped"
            );
            progress.isolated += 1;
            leave_flight(shared, 1, |counters| &mut counters.dropped_rejected);
            AfterAnswer::Settled
        }
        Outcome::Rejected { reason } => {
            debug!(size = part.len(), reason = %reason, "posthog-mcp: batch rejected; splitting it");
            progress.split = true;
            AfterAnswer::Split
        }
        Outcome::Refused { reason } => {
            health.borrow_mut().refused(&reason, part.len());
            leave_flight(shared, part.len(), |counters| &mut counters.dropped_refused);
            AfterAnswer::Settled
        }
        Outcome::Transient { reason } => {
            let wait = backoff.next_delay(None);
            if health.borrow_mut().failing_now() {
                warn!(reason = %reason, "posthog-mcp: sending events failed; retrying with backoff");
            } else {
                debug!(reason = %reason, attempt = backoff.attempts(), delay = ?wait, "posthog-mcp: retrying");
            }
            AfterAnswer::Retry { wait, counts: true }
        }
        Outcome::RateLimited { retry_after } => {
            let wait = backoff.next_delay(retry_after);
            if health.borrow_mut().failing_now() {
                warn!("posthog-mcp: PostHog is rate limiting; retrying with backoff");
            } else {
                debug!(attempt = backoff.attempts(), delay = ?wait, "posthog-mcp: rate limited; retrying");
            }
            AfterAnswer::Retry { wait, counts: true }
        }
        Outcome::Paused { cause } => {
            let mut health = health.borrow_mut();
            health.failed();
            if health.paused != Some(cause) {
                error!(
                    "posthog-mcp: {}. Event delivery is paused; events keep queueing up to capacity",
                    cause.describe()
                );
                health.paused = Some(cause);
            }
            // A pause is not a retry of this batch: it does not count towards `max_retries`.
            AfterAnswer::Retry {
                wait: backoff.pause_delay(),
                counts: false,
            }
        }
    }
}

/// `n` payloads leave the in-flight count for the counter `outcome` picks (sent, or dropped with its reason).
fn leave_flight(shared: &Shared, n: usize, outcome: impl FnOnce(&mut DeliveryStats) -> &mut u64) {
    let mut state = shared.lock();
    *outcome(&mut state.counters) += n as u64;
    state.in_flight = state.in_flight.saturating_sub(n);
}
