//! What one batch's delivery leaves behind: what it learned ([`Progress`]), the batch size it teaches later
//! batches, and closing it (leaving the in-flight list, its payloads handed back to be freed, flush waiters told).

use tracing::debug;

use super::queue::{Entry, Shared};

/// What one batch's delivery learned: whether it had to be split, how many payloads were isolated and dropped,
/// and the largest part that went through (a split that isolated nobody means the server refused the batch for
/// its size); `clean` while every answer was a success.
pub(super) struct Progress {
    pub(super) split: bool,
    pub(super) isolated: usize,
    pub(super) largest_delivered: usize,
    pub(super) clean: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            split: false,
            isolated: 0,
            largest_delivered: 0,
            clean: true,
        }
    }
}

/// A batch is done: it leaves the in-flight list, its settled parts go to the intake to be freed on the thread
/// that built them (counted against the byte bound until then; a parked intake is woken for them), the batch size
/// adapts to what the batch learned, and flush waiters see the progress.
pub(super) fn close_batch(
    shared: &Shared,
    first_seq: Option<u64>,
    batch_len: usize,
    batch_bytes: usize,
    progress: &Progress,
    mut done: Vec<Vec<Entry>>,
) {
    let mut state = shared.lock();
    if let Some(first) = first_seq
        && let Some(at) = state.in_flight_batches.iter().position(|seq| *seq == first)
    {
        state.in_flight_batches.swap_remove(at);
    }
    state.in_flight_bytes = state.in_flight_bytes.saturating_sub(batch_bytes);
    state.spent_bytes += batch_bytes;
    state.spent.append(&mut done);
    let wake_intake = state.intake_idle;
    adapt_batch_limit(
        &mut state,
        shared.options.batch_size,
        batch_len,
        progress.split,
        progress.isolated,
        progress.largest_delivered,
    );
    shared.publish_progress(&state);
    drop(state);
    if wake_intake {
        shared.intake_wake.notify_one();
    }
}

/// After a batch was refused for its size (split, nobody isolated), later batches use the largest size that went
/// through; after [`RELAX_AFTER`] full batches at that size it doubles again, back up to `batch_size`.
fn adapt_batch_limit(
    state: &mut super::queue::State,
    batch_size: usize,
    batch_len: usize,
    split: bool,
    isolated: usize,
    largest_delivered: usize,
) {
    if split && isolated == 0 && largest_delivered > 0 {
        if state.batch_limit != Some(largest_delivered) {
            debug!(
                limit = largest_delivered,
                "posthog-mcp: batches were too large; sending smaller ones"
            );
        }
        state.batch_limit = Some(largest_delivered);
        state.batches_at_limit = 0;
    } else if let Some(limit) = state.batch_limit
        && !split
        && batch_len >= limit
    {
        state.batches_at_limit += 1;
        if state.batches_at_limit >= RELAX_AFTER {
            let relaxed = limit.saturating_mul(2);
            state.batch_limit = (relaxed < batch_size).then_some(relaxed);
            state.batches_at_limit = 0;
        }
    }
}

/// Full batches at a lowered batch size before trying a larger one.
const RELAX_AFTER: u32 = 50;
