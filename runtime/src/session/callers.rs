//! The caller table: a stable key per caller for HTTP requests that carry no session of their own, keyed by the
//! caller's credential fingerprint and client, rolling over after 30 idle minutes, with its counters. Such a
//! request's session is fresh and its own; the key only lets the identity cache recognize the caller, so that
//! identify does not run on every request.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lru::LruCache;

use super::{INACTIVITY_ROLLOVER, generate_session_id};

/// Who a sessionless HTTP request comes from (a 2026-07-28 client, or a stateless server without the session
/// layer): the keyed fingerprint of its credential and the client it names. Without a credential, `origin` holds
/// the weaker signals that stand in for it (user agent and forwarded address).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallerKey {
    /// The credential's keyed fingerprint; `None` when the request presented none.
    pub credential: Option<u64>,
    /// The client name the request reports.
    pub client_name: Option<Arc<str>>,
    /// The client version the request reports.
    pub client_version: Option<Arc<str>>,
    /// Without a credential: what else tells callers of one client apart.
    pub origin: Option<Arc<str>>,
}

/// What the caller table holds and has let go (reported by [`crate::Analytics::session_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Callers with a session right now.
    pub callers: u64,
    /// Callers dropped because the table was full (least recently seen first).
    pub evicted: u64,
    /// Sessions that ended after 30 minutes without a request; the caller's next request starts a new one.
    pub expired: u64,
}

struct CallerEntry {
    session_id: Arc<str>,
    last_activity: Duration,
}

/// Sessions for requests that carry no session of their own, one per caller, rolling over after
/// [`INACTIVITY_ROLLOVER`] without a request. Bounded: the least recently seen caller is evicted at capacity.
pub struct Callers {
    entries: Mutex<LruCache<CallerKey, CallerEntry>>,
    evicted: AtomicU64,
    expired: AtomicU64,
}

impl Callers {
    /// A table for at most `capacity` callers.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(capacity)),
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<CallerKey, CallerEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session of a request from `key` at monotonic time `now`: the caller's current session, or a fresh
    /// generated id when it has none or its last request was more than 30 minutes ago.
    pub fn session(&self, key: &CallerKey, now: Duration) -> Arc<str> {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            if now.saturating_sub(entry.last_activity) <= INACTIVITY_ROLLOVER {
                entry.last_activity = now;
                return entry.session_id.clone();
            }
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
        let session_id: Arc<str> = Arc::from(generate_session_id());
        self.put(&mut entries, key, session_id.clone(), now);
        session_id
    }

    fn put(
        &self,
        entries: &mut LruCache<CallerKey, CallerEntry>,
        key: &CallerKey,
        session_id: Arc<str>,
        now: Duration,
    ) {
        let entry = CallerEntry {
            session_id,
            last_activity: now,
        };
        if let Some((old, _)) = entries.push(key.clone(), entry)
            && old != *key
        {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The table's counters.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            callers: self.lock().len() as u64,
            evicted: self.evicted.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn caller(credential: Option<u64>, client: &str) -> CallerKey {
        CallerKey {
            credential,
            client_name: Some(Arc::from(client)),
            client_version: Some(Arc::from("1.0")),
            origin: None,
        }
    }

    #[test]
    fn one_caller_keeps_one_session_until_30_idle_minutes_pass() {
        let callers = Callers::new(NonZeroUsize::new(10).unwrap());
        let alice = caller(Some(1), "cli");
        let first = callers.session(&alice, Duration::ZERO);
        assert_eq!(callers.session(&alice, 30 * MINUTE), first);
        assert_eq!(
            callers.session(&alice, 59 * MINUTE),
            first,
            "activity extends the session"
        );
        let rolled = callers.session(&alice, 90 * MINUTE);
        assert_ne!(rolled, first);
        assert_eq!(callers.stats().expired, 1);
    }

    #[test]
    fn two_credentials_or_two_clients_never_share_a_session() {
        let callers = Callers::new(NonZeroUsize::new(10).unwrap());
        let a = callers.session(&caller(Some(1), "cli"), Duration::ZERO);
        let b = callers.session(&caller(Some(2), "cli"), Duration::ZERO);
        let c = callers.session(&caller(Some(1), "other-cli"), Duration::ZERO);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_seen_caller_and_counts_it() {
        let callers = Callers::new(NonZeroUsize::new(2).unwrap());
        let first = callers.session(&caller(Some(1), "cli"), Duration::ZERO);
        callers.session(&caller(Some(2), "cli"), Duration::ZERO);
        callers.session(&caller(Some(3), "cli"), Duration::ZERO);
        assert_eq!(callers.stats().evicted, 1);
        assert_eq!(callers.stats().callers, 2);
        assert_ne!(callers.session(&caller(Some(1), "cli"), MINUTE), first);
    }
}
