//! The worker's intake: the task that runs the jobs handed over by the request path (catching panics), measures
//! each payload and moves it into the bounded buffer, registers flush markers and wakes the sender when there is
//! work for it, and frees the batches the sender has delivered (on the thread that built them); and the two
//! measures of a payload the queue's bounds count.

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::queue::{Entry, Item, Shared, warn_queue_full};
use super::size::held_size;

/// How long the intake stays awake after it ran out of work before it parks. While it lingers, newly admitted
/// jobs wake nobody (until a quarter of the queue waits): under a steady stream of requests the request path pays
/// no cross-thread wake-up per call, and the intake wakes once per linger and takes the jobs in one run, whose
/// code and data then stay in cache from one job to the next. It is also how long a payload may wait before it is
/// built. Real time: it only paces the worker's own wake-ups.
pub(super) const INTAKE_LINGER: Duration = Duration::from_millis(20);

pub(super) async fn intake(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let mut since_yield = 0usize;
    let mut lingered = false;
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        let (item, spent) = {
            let mut state = shared.lock();
            let item = state.items.pop_front();
            // Parking after a linger that brought nothing: the next admitted job wakes the intake. Notify keeps a
            // permit, so a job admitted between this unlock and the wait below is not missed.
            if item.is_none() && lingered {
                state.intake_idle = true;
            }
            let spent = std::mem::take(&mut state.spent);
            state.spent_bytes = 0;
            (item, spent)
        };
        // Freed here, on the thread that built them, outside the lock.
        drop(spent);
        match item {
            None if !lingered => {
                lingered = true;
                since_yield = 0;
                tokio::select! {
                    _ = tokio::time::sleep(INTAKE_LINGER) => {}
                    _ = shared.intake_wake.notified() => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            None => {
                tokio::select! {
                    _ = shared.intake_wake.notified() => {}
                    _ = stop.changed() => {}
                }
                // Woken only to free spent batches, the intake parks again at once; woken for a job, it lingers
                // after the run.
                lingered = shared.lock().items.is_empty();
                continue;
            }
            Some(Item::Job(job, bytes)) => run_job(&shared, job, bytes),
            Some(Item::Flush(request)) => {
                let target = {
                    let mut state = shared.lock();
                    let target = state.next_seq;
                    state.flush_target = state.flush_target.max(target);
                    state.sender_parked = None;
                    target
                };
                let mut progress = shared.progress.subscribe();
                tokio::spawn(async move {
                    let reached = tokio::time::timeout_at(
                        tokio::time::Instant::from_std(request.deadline),
                        progress.wait_for(|watermark| *watermark >= target),
                    )
                    .await;
                    let _ = request.reply.send(matches!(reached, Ok(Ok(_))));
                });
                shared.sender_wake.notify_one();
            }
        }
        lingered = false;
        since_yield += 1;
        if since_yield >= 8 {
            // Let the HTTP client's connection tasks (which share this thread) and flush waiters run between jobs:
            // a request of the sender waiting behind a long run of jobs slows delivery (measured: with runs of 64,
            // a tight loop of calls outran the sender in release builds).
            since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
}

/// Runs one job, measures its payloads and queues them (dropping the newest when the queue is full).
fn run_job(shared: &Shared, job: super::Work, job_bytes: usize) {
    let built = match job {
        super::Work::Once(job) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)),
        super::Work::Reusable(mut job) => {
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
            if built.is_ok() {
                job.recycle();
            }
            built
        }
    };
    let payloads = match built {
        Ok(payloads) => payloads,
        Err(_) => {
            warn!("posthog-mcp: building a request's events panicked; its events were dropped");
            let mut state = shared.lock();
            state.jobs_pending = state.jobs_pending.saturating_sub(1);
            state.jobs_bytes = state.jobs_bytes.saturating_sub(job_bytes);
            state.counters.jobs_failed += 1;
            return;
        }
    };
    let arrived = shared.clock.elapsed();
    let measured: Vec<(usize, crate::event::Payload)> = payloads
        .into_iter()
        .map(|p| (held_size(&p), p))
        .collect();
    let mut overflow = Vec::new();
    let (warn_full, wake_sender);
    {
        let mut state = shared.lock();
        state.jobs_pending = state.jobs_pending.saturating_sub(1);
        state.jobs_bytes = state.jobs_bytes.saturating_sub(job_bytes);
        let was_full = state.full_episode;
        for (bytes, payload) in measured {
            let seq = state.next_seq;
            state.next_seq += 1;
            state.counters.enqueued += 1;
            let slots_taken = state.buffer.len() + state.jobs_pending;
            if slots_taken >= shared.options.capacity.max(1)
                || state
                    .buffer_bytes
                    .saturating_add(state.in_flight_bytes)
                    .saturating_add(state.spent_bytes)
                    .saturating_add(bytes)
                    > shared.options.max_bytes
            {
                state.counters.dropped_queue_full += 1;
                state.full_episode = true;
                overflow.push(payload);
                continue;
            }
            state.buffer_bytes += bytes;
            state.buffer.push_back(Entry {
                seq,
                bytes,
                arrived,
                payload,
            });
        }
        warn_full = !was_full && state.full_episode;
        state.note_held();
        wake_sender = state.sender_needs_wake(shared.options.batch_size);
        shared.publish_progress(&state);
    }
    if wake_sender {
        shared.sender_wake.notify_one();
    }
    drop(overflow);
    if warn_full {
        warn_queue_full(shared);
    }
}
