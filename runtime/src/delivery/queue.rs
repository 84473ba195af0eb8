//! The bounded queue shared by the request path and the worker, and the counters that account for every payload.
//!
//! One short `std::sync::Mutex` guards the state; it is held only to push, pop and count, never across I/O, a
//! job or user code, so the request path never waits for the network.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};

use super::{DeliveryOptions, DeliveryStats, Work};
use crate::clock::Clock;
use crate::event::Payload;

/// What the request path hands to the worker, in order.
pub(crate) enum Item {
    /// A job and the bytes it holds until it runs (the request's params and result as handed over).
    Job(Work, usize),
    Flush(FlushRequest),
}

/// "Tell me when everything handed over before this point is sent or dropped."
pub(crate) struct FlushRequest {
    pub(crate) deadline: std::time::Instant,
    pub(crate) reply: oneshot::Sender<bool>,
}

/// One built payload waiting in the queue or in flight.
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) bytes: usize,
    pub(crate) arrived: Duration,
    pub(crate) payload: Payload,
}

#[derive(Default)]
pub(crate) struct State {
    /// Jobs and flush markers not yet taken by the worker's intake.
    pub(crate) items: VecDeque<Item>,
    /// Jobs handed over whose payloads are not built yet (in `items` or being run); each holds one slot.
    pub(crate) jobs_pending: usize,
    /// Bytes the pending jobs hold (part of the byte bound, so large arguments cannot pile up unbuilt).
    pub(crate) jobs_bytes: usize,
    /// Built payloads waiting for a batch, oldest first.
    pub(crate) buffer: VecDeque<Entry>,
    pub(crate) buffer_bytes: usize,
    /// Sequence number of the next built payload.
    pub(crate) next_seq: u64,
    /// Payloads of the in-flight batch not yet resolved.
    pub(crate) in_flight: usize,
    /// The smallest sequence number of each batch in flight (at most `max_in_flight` of them).
    pub(crate) in_flight_batches: Vec<u64>,
    /// Estimated bytes of the payloads in flight (part of the byte bound, so memory stays bounded however many
    /// batches are in flight).
    pub(crate) in_flight_bytes: usize,
    /// Batches the sender is done with, waiting for the intake to free them: payloads are freed on the thread
    /// that built them, where the allocator takes its fast path (freed by the sender, each of a payload's many
    /// small blocks went back through the builder's arena lock, which the two threads then fought over).
    pub(crate) spent: Vec<Vec<Entry>>,
    /// Estimated bytes of the spent batches (part of the byte bound until they are freed).
    pub(crate) spent_bytes: usize,
    /// Flush markers ask the worker to send without waiting until every payload below this is resolved.
    pub(crate) flush_target: u64,
    pub(crate) counters: DeliveryStats,
    /// The batch size in use: `batch_size`, lowered after a batch was rejected for its size (see `worker`).
    pub(crate) batch_limit: Option<usize>,
    /// Full batches delivered at the lowered limit since it was last changed.
    pub(crate) batches_at_limit: u32,
    /// The intake found no work and is (about to be) parked: the next admitted job must wake it. While it is
    /// busy, or lingering after a run of jobs, admitting a job costs no cross-thread wake-up.
    pub(crate) intake_idle: bool,
    /// How the sender is (about to be) waiting, so the intake wakes it only when there is something for it to do.
    pub(crate) sender_parked: Option<SenderParked>,
    /// A queue-full episode is under way (warned once; reset when the queue has room again).
    pub(crate) full_episode: bool,
    /// `shutdown` began: new jobs are refused.
    pub(crate) closing: bool,
    /// The worker is gone (stopped or never started): nothing is accepted.
    pub(crate) stopped: bool,
}

/// Why the sender is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SenderParked {
    /// Nothing is buffered: the first built payload must wake it (to start the batch timer).
    Empty,
    /// A partial batch waits for its timer: only a full batch or a flush must wake it earlier.
    Timer,
}

impl State {
    /// The batch size in use (see [`State::batch_limit`]).
    pub(crate) fn batch_limit(&self, batch_size: usize) -> usize {
        self.batch_limit
            .unwrap_or(batch_size)
            .clamp(1, batch_size.max(1))
    }

    /// Whether a flush (or the flush that `shutdown` queues) wants everything sent without waiting for full
    /// batches. Only the flush marker decides, not `closing`: the marker sits behind every job admitted before it,
    /// so the batches it cuts hold every payload those jobs build.
    pub(crate) fn flushing(&self) -> bool {
        self.watermark() < self.flush_target
    }

    /// Called by the intake after it buffered payloads: whether the sender must be woken now (and, if so, marks
    /// it awake so that later payloads do not wake it again).
    pub(crate) fn sender_needs_wake(&mut self, batch_size: usize) -> bool {
        let wake = match self.sender_parked {
            None => false,
            Some(SenderParked::Empty) => !self.buffer.is_empty(),
            Some(SenderParked::Timer) => {
                self.buffer.len() >= self.batch_limit(batch_size) || self.flushing()
            }
        };
        if wake {
            self.sender_parked = None;
        }
        wake
    }

    /// Records the high-water mark of held slots ([`DeliveryStats::peak_held`]).
    pub(crate) fn note_held(&mut self) {
        let held = (self.jobs_pending + self.buffer.len()) as u64;
        self.counters.peak_held = self.counters.peak_held.max(held);
    }

    /// Estimated bytes held by jobs, buffered and in-flight payloads and spent batches (the byte bound's
    /// measure).
    pub(crate) fn held_bytes(&self) -> usize {
        self.jobs_bytes
            .saturating_add(self.buffer_bytes)
            .saturating_add(self.in_flight_bytes)
            .saturating_add(self.spent_bytes)
    }

    /// Every payload below this sequence number is sent or dropped.
    pub(crate) fn watermark(&self) -> u64 {
        self.in_flight_batches
            .iter()
            .copied()
            .min()
            .or_else(|| self.buffer.front().map(|e| e.seq))
            .unwrap_or(self.next_seq)
    }

    pub(crate) fn stats(&self) -> DeliveryStats {
        DeliveryStats {
            queued: self.buffer.len() as u64,
            in_flight: self.in_flight as u64,
            jobs_pending: self.jobs_pending as u64,
            held_bytes: self.held_bytes() as u64,
            ..self.counters
        }
    }
}

pub(crate) struct Shared {
    pub(crate) options: DeliveryOptions,
    pub(crate) clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Wakes the intake task (new items).
    pub(crate) intake_wake: Notify,
    /// Wakes the sender task (new payloads, a flush, shutdown).
    pub(crate) sender_wake: Notify,
    /// `true` once the worker must stop.
    pub(crate) stop: watch::Sender<bool>,
    /// The watermark (see [`State::watermark`]), for flush waiters.
    pub(crate) progress: watch::Sender<u64>,
    /// `true` once the worker thread has finished.
    pub(crate) exited: watch::Sender<bool>,
    /// The delivery summary was logged (once, at shutdown or when the last handle is dropped).
    pub(crate) summarized: std::sync::atomic::AtomicBool,
}

/// What `enqueue` decided, with anything that must be dropped or logged outside the lock.
pub(crate) enum Admission {
    Accepted,
    Full { job: Work, first_of_episode: bool },
    Closed(Work),
}

impl Shared {
    pub(crate) fn new(options: DeliveryOptions, clock: Arc<dyn Clock>) -> Self {
        Self {
            options,
            clock,
            state: Mutex::new(State::default()),
            intake_wake: Notify::new(),
            sender_wake: Notify::new(),
            stop: watch::channel(false).0,
            progress: watch::channel(0).0,
            exited: watch::channel(false).0,
            summarized: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The request path's push: never waits on anything but the short state lock.
    pub(crate) fn admit(&self, job: Work, bytes: usize) -> Admission {
        let mut state = self.lock();
        if state.closing || state.stopped {
            state.counters.enqueued += 1;
            state.counters.dropped_closed += 1;
            return Admission::Closed(job);
        }
        let held_bytes = state.held_bytes();
        if state.jobs_pending + state.buffer.len() >= self.options.capacity.max(1)
            || held_bytes.saturating_add(bytes) > self.options.max_bytes
        {
            state.counters.enqueued += 1;
            state.counters.dropped_queue_full += 1;
            let first_of_episode = !std::mem::replace(&mut state.full_episode, true);
            return Admission::Full {
                job,
                first_of_episode,
            };
        }
        state.items.push_back(Item::Job(job, bytes));
        state.jobs_pending += 1;
        state.jobs_bytes += bytes;
        state.note_held();
        // A parked intake is woken by the first job; a lingering one only when a quarter of the queue waits for it,
        // so a burst never fills the queue while the intake sleeps out its linger.
        let wake = std::mem::replace(&mut state.intake_idle, false)
            || state.jobs_pending == (self.options.capacity / 4).max(1);
        drop(state);
        if wake {
            self.intake_wake.notify_one();
        }
        Admission::Accepted
    }

    /// Queues a flush marker behind every job handed over so far; `None` when the worker is gone.
    pub(crate) fn request_flush(
        &self,
        deadline: std::time::Instant,
    ) -> Option<oneshot::Receiver<bool>> {
        let (reply, receiver) = oneshot::channel();
        let mut state = self.lock();
        if state.stopped {
            return None;
        }
        state
            .items
            .push_back(Item::Flush(FlushRequest { deadline, reply }));
        drop(state);
        self.intake_wake.notify_one();
        Some(receiver)
    }

    /// Publishes the watermark to flush waiters.
    pub(crate) fn publish_progress(&self, state: &State) {
        let watermark = state.watermark();
        self.progress.send_if_modified(|current| {
            if *current != watermark {
                *current = watermark;
                true
            } else {
                false
            }
        });
    }

    /// Asks the worker to stop now (whatever is still queued stays queued and is lost with the process).
    pub(crate) fn signal_stop(&self) {
        self.stop.send_replace(true);
        self.intake_wake.notify_one();
        self.sender_wake.notify_one();
    }

    /// Marks the worker gone and releases everything still waiting (flush markers answer `false`). Called by the
    /// worker thread on its way out, panics included.
    pub(crate) fn mark_exited(&self) {
        let items = {
            let mut state = self.lock();
            state.stopped = true;
            let items = std::mem::take(&mut state.items);
            for item in &items {
                if let Item::Job(_, bytes) = item {
                    // The job never ran: it leaves the pending count and counts as dropped on closing.
                    state.jobs_pending = state.jobs_pending.saturating_sub(1);
                    state.jobs_bytes = state.jobs_bytes.saturating_sub(*bytes);
                    state.counters.enqueued += 1;
                    state.counters.dropped_closed += 1;
                }
            }
            // Built payloads still waiting and batches whose answer will never be read are lost with the worker:
            // they are counted as dropped on closing, not left as queued or in flight.
            let abandoned = (state.buffer.len() + state.in_flight) as u64;
            state.counters.dropped_closed += abandoned;
            state.buffer.clear();
            state.buffer_bytes = 0;
            state.in_flight = 0;
            state.in_flight_batches.clear();
            state.in_flight_bytes = 0;
            items
        };
        drop(items);
        self.stop.send_replace(true);
        self.exited.send_replace(true);
    }
}

/// Logs that the queue is full and new payloads are dropped until it drains (once per episode; the callers
/// decide when).
pub(crate) fn warn_queue_full(shared: &Shared) {
    tracing::warn!(
        capacity = shared.options.capacity,
        max_bytes = shared.options.max_bytes,
        "posthog-mcp: the delivery queue is full; new events are dropped until it drains"
    );
}
