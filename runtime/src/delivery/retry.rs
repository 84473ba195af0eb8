//! The retry policy: how long the worker waits before resending a batch.
//!
//! Exponential backoff with "equal jitter": attempt `n` (1-based) waits a random duration in `[d/2, d]` where
//! `d = min(initial · 2^(n-1), max)`. A `Retry-After` from the server is a floor: the wait is never shorter than
//! it (clamped to the cap, so a hostile header cannot stall delivery for hours). Jitter spreads the retries of many
//! server processes that failed at the same moment.

use std::time::Duration;

/// What a failed attempt asks of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The batch was accepted.
    Delivered,
    /// A connection error, a timeout, a 5xx or a 408: resend the same batch after a backoff.
    Transient {
        /// A short description for logs (no payload content, no header values).
        reason: String,
    },
    /// HTTP 429: resend after `Retry-After` when known, else after a backoff. Never dropped.
    RateLimited {
        /// The server's `Retry-After`, when the sink could read it.
        retry_after: Option<Duration>,
    },
    /// 400/413 (or a batch that cannot be encoded): split the batch until the offending payloads are isolated.
    Rejected {
        /// A short description for logs.
        reason: String,
    },
    /// Any other 4xx (403, 404, …): resending cannot help and the payloads are not at fault; drop the batch.
    Refused {
        /// A short description for logs.
        reason: String,
    },
    /// 401/402: nothing will succeed until the project is fixed; hold the batch and probe now and then.
    Paused {
        /// Which of the two, in words an operator can act on.
        cause: PauseCause,
    },
}

/// Why delivery is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseCause {
    /// HTTP 401: the project API key is missing, invalid or revoked.
    Unauthorized,
    /// HTTP 402: the project is over its billing limit.
    BillingLimit,
}

impl PauseCause {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            PauseCause::Unauthorized => {
                "PostHog rejected the project API key (HTTP 401 Unauthorized): check POSTHOG_API_KEY"
            }
            PauseCause::BillingLimit => {
                "PostHog refused events because the project is over its billing limit (HTTP 402)"
            }
        }
    }
}

/// Backoff state for one batch: grows with every failed attempt, reset by a success.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        Self::with_seed(initial, max, seed)
    }

    pub(crate) fn with_seed(initial: Duration, max: Duration, seed: u64) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// Failed attempts since the last success.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Forgets past failures (after a success).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The wait before the next attempt, counting one more failure.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let factor = 1u32
            .checked_shl(self.attempt.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        let ceiling = self.initial.saturating_mul(factor).min(self.max);
        let half = ceiling / 2;
        let spread = half.as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            self.next_random() % (spread + 1)
        };
        let delay = half + Duration::from_nanos(jitter);
        match retry_after {
            Some(floor) => delay.max(floor.min(self.max)),
            None => delay,
        }
    }

    /// The wait between probes while delivery is paused (401/402).
    pub(crate) fn pause_delay(&self) -> Duration {
        self.max
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: plenty for jitter, no dependency.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_from_the_initial_delay_with_jitter_and_stops_at_the_cap() {
        let mut backoff = Backoff::with_seed(200 * MS, Duration::from_secs(30), 42);
        let mut ceiling = 200 * MS;
        for _ in 0..20 {
            let delay = backoff.next_delay(None);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} outside [{:?}, {ceiling:?}]",
                ceiling / 2
            );
            ceiling = (ceiling * 2).min(Duration::from_secs(30));
        }
        assert_eq!(backoff.attempts(), 20);
        backoff.reset();
        assert!(backoff.next_delay(None) <= 200 * MS);
    }

    #[test]
    fn retry_after_is_a_floor_clamped_to_the_cap() {
        let mut backoff = Backoff::with_seed(200 * MS, Duration::from_secs(30), 7);
        assert!(backoff.next_delay(Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn jitter_differs_between_seeds() {
        let a: Vec<_> = {
            let mut b = Backoff::with_seed(200 * MS, Duration::from_secs(30), 1);
            (0..8).map(|_| b.next_delay(None)).collect()
        };
        let b: Vec<_> = {
            let mut b = Backoff::with_seed(200 * MS, Duration::from_secs(30), 99);
            (0..8).map(|_| b.next_delay(None)).collect()
        };
        assert_ne!(a, b);
    }
}
