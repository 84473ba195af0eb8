//! Unit tests of `identity`, in a file of their own so that the module's file holds its code.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::clock::ManualClock;

const MINUTE: Duration = Duration::from_secs(60);

struct Harness {
    clock: ManualClock,
    calls: Arc<AtomicUsize>,
    resolver: IdentityResolver,
}

/// A resolver whose identify function maps the bearer token to an identity via `answer`.
fn harness(capacity: usize, answer: fn(Option<&str>) -> Option<Identity>) -> Harness {
    let clock = ManualClock::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let identify: SharedIdentify = Arc::new(move |view: RequestView| {
        counter.fetch_add(1, Ordering::SeqCst);
        let identity = answer(view.bearer_token());
        Box::pin(async move { Ok(identity) })
    });
    let resolver = IdentityResolver::new(
        Some(identify),
        CacheSettings {
            capacity: NonZeroUsize::new(capacity).unwrap(),
            ttl: 10 * MINUTE,
            failure_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
        },
        CredentialSource::default(),
        Arc::new(clock.clone()),
    );
    Harness {
        clock,
        calls,
        resolver,
    }
}

fn view(session: &str, token: Option<&str>) -> RequestView {
    let view = RequestView::new("tools/call", Value::Null, session);
    match token {
        Some(token) => view.with_headers([("authorization", format!("Bearer {token}"))]),
        None => view,
    }
}

fn user(token: Option<&str>) -> Option<Identity> {
    token.map(|t| {
        Identity::new(format!("user-{t}"))
            .with_property("plan", "free")
            .with_group("org", "acme")
    })
}

impl IdentityResolver {
    async fn resolve_view(&self, view: &RequestView) -> Resolution {
        self.resolve(view.session_id(), LazyCell::new(|| view.clone()), None, None)
            .await
    }
}

#[tokio::test]
async fn only_a_cache_miss_builds_the_request_view() {
    let h = harness(1000, user);
    let built = std::cell::Cell::new(0);
    for _ in 0..3 {
        let view = LazyCell::new(|| {
            built.set(built.get() + 1);
            view("s1", Some("a"))
        });
        let fingerprint = Some(Fingerprint::NoCredential);
        let resolution = h.resolver.resolve("s1", view, fingerprint, None).await;
        assert!(resolution.identity.is_some());
    }
    // Only the first request, a cache miss, ran identify and needed the view.
    assert_eq!(built.get(), 1);
}

#[tokio::test]
async fn a_stable_identity_is_resolved_once_per_ttl_and_announced_once() {
    let h = harness(1000, user);
    let first = h.resolver.resolve_view(&view("s1", Some("a"))).await;
    assert!(first.announce.is_some());
    for _ in 0..2 {
        let again = h.resolver.resolve_view(&view("s1", Some("a"))).await;
        assert!(again.announce.is_none());
        assert_eq!(again.identity.unwrap().distinct_id, "user-a");
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    h.clock.advance(10 * MINUTE);
    let after_ttl = h.resolver.resolve_view(&view("s1", Some("a"))).await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
    assert!(
        after_ttl.announce.is_none(),
        "an unchanged identity is not announced again"
    );
}

#[tokio::test]
async fn another_credential_on_the_same_session_is_resolved_again_and_never_inherits() {
    let h = harness(1000, user);
    h.resolver.resolve_view(&view("s1", Some("a"))).await;
    let b = h.resolver.resolve_view(&view("s1", Some("b"))).await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
    assert_eq!(b.identity.unwrap().distinct_id, "user-b");
    assert!(b.announce.is_some());
}

#[tokio::test]
async fn a_failed_resolution_for_another_caller_is_anonymous() {
    let h = harness(1000, |token| {
        if token == Some("a") {
            user(token)
        } else {
            None
        }
    });
    h.resolver.resolve_view(&view("s1", Some("a"))).await;
    let b = h.resolver.resolve_view(&view("s1", Some("b"))).await;
    assert!(b.identity.is_none());
}

#[tokio::test]
async fn the_least_recently_used_session_is_evicted_at_capacity() {
    let h = harness(2, user);
    for session in ["s1", "s2", "s3", "s1"] {
        h.resolver.resolve_view(&view(session, Some("a"))).await;
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_failing_identify_is_not_retried_for_that_caller_until_the_failure_ttl_passes() {
    let clock = ManualClock::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let identify: SharedIdentify = Arc::new(move |view: RequestView| {
        counter.fetch_add(1, Ordering::SeqCst);
        let fails = view.bearer_token() == Some("broken");
        Box::pin(async move {
            if fails {
                Err("backend down".to_owned())
            } else {
                Ok(None)
            }
        })
    });
    let resolver = IdentityResolver::new(
        Some(identify),
        CacheSettings {
            capacity: NonZeroUsize::new(10).unwrap(),
            ttl: 10 * MINUTE,
            failure_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
        },
        CredentialSource::default(),
        Arc::new(clock.clone()),
    );
    for _ in 0..5 {
        assert!(
            resolver
                .resolve_view(&view("s1", Some("broken")))
                .await
                .identity
                .is_none()
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one failure per interval");
    resolver.resolve_view(&view("s1", Some("other"))).await;
    resolver.resolve_view(&view("s1", Some("other"))).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "another caller is not held back, and `nobody` is not remembered"
    );
    clock.advance(Duration::from_secs(30));
    resolver.resolve_view(&view("s1", Some("broken"))).await;
    assert_eq!(calls.load(Ordering::SeqCst), 4, "tried again after the TTL");
}

#[tokio::test]
async fn made_up_session_ids_cannot_multiply_announcements_but_an_anonymous_start_is_merged() {
    let h = harness(1000, user);
    for session in ["forged-1", "forged-2", "forged-3"] {
        h.resolver.resolve_view(&view(session, Some("a"))).await;
    }
    let announced = |s: &str, token: Option<&'static str>| {
        let h = &h;
        let s = s.to_owned();
        async move { h.resolver.resolve_view(&view(&s, token)).await.announce.is_some() }
    };
    assert!(!announced("forged-4", Some("a")).await, "one announcement per identity and credential");
    // A session that began anonymously is merged when its caller is identified.
    assert!(!announced("fresh", None).await);
    assert!(announced("fresh", Some("a")).await);
    // Another credential with the same user is announced on its own.
    assert!(announced("other", Some("b")).await);
}

#[tokio::test]
async fn a_blank_distinct_id_counts_as_no_identity() {
    let h = harness(1000, |_| Some(Identity::new("  ")));
    assert!(
        h.resolver
            .resolve_view(&view("s1", None))
            .await
            .identity
            .is_none()
    );
}

#[test]
fn the_same_distinct_id_merges_and_a_different_one_starts_afresh() {
    let prev = Identity::new("u")
        .with_property("a", 1)
        .with_property("plan", "free")
        .with_group("org", "x");
    let same = merge(&prev, Identity::new("u").with_property("plan", "pro"));
    assert_eq!(same.properties["a"], 1);
    assert_eq!(same.properties["plan"], "pro");
    assert_eq!(same.groups["org"], "x");
    let other = merge(&prev, Identity::new("v").with_property("plan", "pro"));
    assert_eq!(other, Identity::new("v").with_property("plan", "pro"));
}

#[test]
fn identities_are_equal_whatever_the_key_order() {
    let a = Identity::new("u")
        .with_property("x", 1)
        .with_property("y", 2);
    let b = Identity::new("u")
        .with_property("y", 2)
        .with_property("x", 1);
    assert_eq!(a, b);
}

#[test]
fn no_credential_has_its_own_fingerprint() {
    let source = CredentialSource::default();
    assert_eq!(
        source.fingerprint(&view("s", None)),
        Fingerprint::NoCredential
    );
    let blank = RequestView::new("x", Value::Null, "s").with_headers([("authorization", " ")]);
    assert_eq!(source.fingerprint(&blank), Fingerprint::NoCredential);
    assert_ne!(
        source.fingerprint(&view("s", Some("a"))),
        source.fingerprint(&view("s", Some("b")))
    );
}
