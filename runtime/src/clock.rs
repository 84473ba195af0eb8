//! Time, injected: the wall clock that stamps events, the monotonic clock that measures TTLs, rollovers and
//! backoff, and a sleep. Production uses [`SystemClock`]; tests drive a [`ManualClock`] and never sleep for real.

use std::future::Future;
use std::pin::Pin;
#[cfg(feature = "test-util")]
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A boxed sleep future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The source of time for everything in the crate that measures or waits; tests replace it with a
/// [`ManualClock`] through `Builder::clock` (the `test-util` feature).
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time, for event timestamps.
    fn now(&self) -> SystemTime;
    /// Monotonic time elapsed since an arbitrary fixed origin, for TTLs, rollovers and backoff.
    fn elapsed(&self) -> Duration;
    /// A future that completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The real clock: `SystemTime`, `Instant` and `tokio::time::sleep`.
#[derive(Debug, Clone)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(feature = "test-util")]
/// A clock that moves only when told to, for tests of timing behaviour.
///
/// [`ManualClock::advance`] moves both the wall and the monotonic time and wakes every sleeper whose deadline has
/// passed.
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

#[cfg(feature = "test-util")]
struct ManualState {
    wall: SystemTime,
    elapsed: Duration,
    sleepers: Vec<(Duration, tokio::sync::oneshot::Sender<()>)>,
}

#[cfg(feature = "test-util")]
impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("ManualClock")
            .field("elapsed", &state.elapsed)
            .finish()
    }
}

#[cfg(feature = "test-util")]
impl Default for ManualClock {
    fn default() -> Self {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000))
    }
}

#[cfg(feature = "test-util")]
impl ManualClock {
    /// A manual clock whose wall time starts at `wall`.
    pub fn new(wall: SystemTime) -> Self {
        Self {
            state: Arc::new(Mutex::new(ManualState {
                wall,
                elapsed: Duration::ZERO,
                sleepers: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves time forward by `by`, waking the sleepers that are due.
    pub fn advance(&self, by: Duration) {
        let due = {
            let mut state = self.lock();
            state.wall += by;
            state.elapsed += by;
            let now = state.elapsed;
            let (due, waiting): (Vec<_>, Vec<_>) = state
                .sleepers
                .drain(..)
                .partition(|(deadline, _)| *deadline <= now);
            state.sleepers = waiting;
            due
        };
        for (_, waker) in due {
            let _ = waker.send(());
        }
    }

    /// How many sleeps are waiting for time to move.
    pub fn sleepers(&self) -> usize {
        self.lock()
            .sleepers
            .iter()
            .filter(|(_, tx)| !tx.is_closed())
            .count()
    }
}

#[cfg(feature = "test-util")]
impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.lock().wall
    }
    fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }
    fn sleep(&self, duration: Duration) -> Sleep {
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut state = self.lock();
            let deadline = state.elapsed + duration;
            if duration.is_zero() {
                let _ = tx.send(());
            } else {
                state.sleepers.push((deadline, tx));
            }
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_completes_only_once_time_is_advanced_past_it() {
        let clock = ManualClock::default();
        let mut sleep = clock.sleep(Duration::from_secs(2));
        assert!(futures::poll!(&mut sleep).is_pending());
        clock.advance(Duration::from_secs(1));
        assert!(futures::poll!(&mut sleep).is_pending());
        clock.advance(Duration::from_secs(1));
        assert!(futures::poll!(&mut sleep).is_ready());
        assert_eq!(clock.elapsed(), Duration::from_secs(2));
    }
}
