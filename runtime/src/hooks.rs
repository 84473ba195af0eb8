//! The host's hooks: the erased types of those that receive the request view (`event_properties`, the intent
//! fallback; identify's types are in `identity`, the feedback handler's beside its report in `virtual_tools`), and
//! the one guard every hook runs under — a timeout on the injected clock, and panics caught whether they happen
//! when the hook is called or while its future runs. A hook can only ever cost analytics, never the request.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Either};
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::request::RequestView;

/// A host function from the request view to extra event properties.
pub(crate) type EventPropertiesFn =
    Arc<dyn Fn(RequestView) -> BoxFuture<'static, Option<Map<String, Value>>> + Send + Sync>;

/// A host function from the request view to an inferred intent, used when the agent wrote none.
pub(crate) type IntentFallbackFn =
    Arc<dyn Fn(RequestView) -> BoxFuture<'static, Option<String>> + Send + Sync>;

/// How a guarded hook ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Guarded<T> {
    /// It returned this value in time.
    Done(T),
    /// It panicked, when called or while running.
    Panicked,
    /// It did not finish within its timeout; its future was dropped.
    TimedOut,
}

/// Runs the hook that `call` starts: the call and the future it returns are both guarded against panics, and
/// the future is dropped once `timeout` has passed on `clock`.
pub(crate) async fn guard<T, F>(
    call: impl FnOnce() -> F,
    timeout: Duration,
    clock: &Arc<dyn Clock>,
) -> Guarded<T>
where
    F: Future<Output = T> + Send,
{
    let future = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(future) => future,
        Err(_) => return Guarded::Panicked,
    };
    let guarded = AssertUnwindSafe(future).catch_unwind();
    match futures::future::select(Box::pin(guarded), clock.sleep(timeout)).await {
        Either::Left((Ok(value), _)) => Guarded::Done(value),
        Either::Left((Err(_), _)) => Guarded::Panicked,
        Either::Right(_) => Guarded::TimedOut,
    }
}

/// [`guard`] for a hook whose failure only loses its contribution: a panic or a timeout is logged once as a
/// warning naming the hook, and gives `None`.
pub(crate) async fn run<T, F>(
    call: impl FnOnce() -> F,
    timeout: Duration,
    clock: &Arc<dyn Clock>,
    hook: &'static str,
) -> Option<T>
where
    F: Future<Output = T> + Send,
{
    match guard(call, timeout, clock).await {
        Guarded::Done(value) => Some(value),
        Guarded::Panicked => {
            crate::once::warn_once!(
                "hook panicked",
                hook,
                "posthog-mcp: a hook panicked; its result is ignored (later ones are logged at debug level)"
            );
            None
        }
        Guarded::TimedOut => {
            crate::once::warn_once!(
                "hook timed out",
                hook,
                "posthog-mcp: a hook timed out; its result is ignored (later ones are logged at debug level)"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn clock() -> (ManualClock, Arc<dyn Clock>) {
        let clock = ManualClock::default();
        (clock.clone(), Arc::new(clock))
    }

    #[tokio::test]
    async fn a_hook_that_answers_in_time_gives_its_value() {
        let (_, clock) = clock();
        let value = guard(|| async { 7 }, Duration::from_secs(1), &clock).await;
        assert_eq!(value, Guarded::Done(7));
    }

    #[tokio::test]
    async fn a_panic_when_called_or_while_running_is_caught() {
        let (_, clock) = clock();
        let on_call = guard(
            || -> futures::future::Ready<u8> { panic!("on call") },
            Duration::from_secs(1),
            &clock,
        )
        .await;
        assert_eq!(on_call, Guarded::Panicked);
        let while_running = guard(
            || async {
                panic!("while running");
                #[allow(unreachable_code)]
                1u8
            },
            Duration::from_secs(1),
            &clock,
        )
        .await;
        assert_eq!(while_running, Guarded::Panicked);
    }

    #[tokio::test]
    async fn a_hook_that_never_answers_times_out_on_the_injected_clock() {
        let (manual, clock) = clock();
        let pending = guard(
            futures::future::pending::<u8>,
            Duration::from_secs(2),
            &clock,
        );
        let advance = async {
            tokio::task::yield_now().await;
            manual.advance(Duration::from_secs(2));
        };
        let (outcome, ()) = tokio::join!(pending, advance);
        assert_eq!(outcome, Guarded::TimedOut);
    }
}
