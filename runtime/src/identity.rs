//! Who is calling: the identity type, the identify function and its registration, the identity cache keyed by
//! (session id, credential fingerprint), the session records and their merge rules.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::cell::LazyCell;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use lru::LruCache;
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::hooks::Guarded;
use crate::request::RequestView;

/// The person (and groups) behind a request, as returned by the identify function.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    /// Becomes the event's `distinct_id`. Blank means "no identity".
    pub distinct_id: String,
    /// Becomes `$set`, verbatim.
    pub properties: Map<String, Value>,
    /// Group type → group key; becomes `$groups`.
    pub groups: BTreeMap<String, String>,
}

impl Identity {
    /// An identity with only a distinct id.
    pub fn new(distinct_id: impl Into<String>) -> Self {
        Self {
            distinct_id: distinct_id.into(),
            ..Self::default()
        }
    }

    /// Adds a person property (`$set`).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Adds a group membership (`$groups`).
    pub fn with_group(
        mut self,
        group_type: impl Into<String>,
        group_key: impl Into<String>,
    ) -> Self {
        self.groups.insert(group_type.into(), group_key.into());
        self
    }
}

/// A boxed future returned by an identify function.
pub type IdentifyFuture =
    Pin<Box<dyn Future<Output = Result<Option<Identity>, String>> + Send + 'static>>;

/// The erased shape of an identify function: a request view in, an identity (or nothing, or an error) out.
pub type IdentifyFn = fn(RequestView) -> IdentifyFuture;

/// What `#[posthog_identify]` registers: the function and where it was written, so that two registrations can be
/// reported by name.
#[derive(Debug)]
pub struct IdentifyRegistration {
    /// The function's path, as written by the macro (`module_path!()::name`).
    pub name: &'static str,
    /// `file:line` of the function.
    pub location: &'static str,
    /// The function.
    pub func: IdentifyFn,
}

inventory::collect!(IdentifyRegistration);

/// What an identify function may return: `Option<Identity>` or `Result<Option<Identity>, E>` with `E: Display`.
pub trait IntoIdentifyResult {
    /// Normalizes the value; an error becomes its `Display`.
    fn into_identify_result(self) -> Result<Option<Identity>, String>;
}

impl IntoIdentifyResult for Option<Identity> {
    fn into_identify_result(self) -> Result<Option<Identity>, String> {
        Ok(self)
    }
}

impl<E: std::fmt::Display> IntoIdentifyResult for Result<Option<Identity>, E> {
    fn into_identify_result(self) -> Result<Option<Identity>, String> {
        self.map_err(|error| error.to_string())
    }
}

/// Where a request's credential is read from. It only ever feeds the keyed fingerprint of the identity cache;
/// neither the credential nor its fingerprint is logged or sent.
#[derive(Clone)]
pub enum CredentialSource {
    /// Every value of this header, in order (default: `authorization`).
    Header(String),
    /// A host function that extracts the credential from the request view.
    Function(CredentialFn),
}

/// A host function that extracts the credential from the request view.
pub type CredentialFn = Arc<dyn Fn(&RequestView) -> Option<String> + Send + Sync>;

impl Default for CredentialSource {
    fn default() -> Self {
        Self::Header("authorization".to_owned())
    }
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header(name) => f.debug_tuple("Header").field(name).finish(),
            Self::Function(_) => f.write_str("Function(..)"),
        }
    }
}

/// The keyed hash of a credential. `NoCredential` is a distinct variant, so no real credential can produce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Fingerprint {
    NoCredential,
    Keyed(u64),
}

impl Fingerprint {
    /// The keyed hash, or `None` for a request without a credential.
    pub(crate) fn keyed(self) -> Option<u64> {
        match self {
            Self::NoCredential => None,
            Self::Keyed(hash) => Some(hash),
        }
    }
}

/// The per-process random key of the fingerprint hash.
fn fingerprint_key() -> &'static RandomState {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    KEY.get_or_init(RandomState::new)
}

/// Every value of header `name`, in order, hashed with the per-process key.
fn header_fingerprint<'a>(
    name: &str,
    headers: impl Iterator<Item = &'a (String, String)>,
) -> Fingerprint {
    let mut hasher = fingerprint_key().build_hasher();
    let mut any = false;
    for (_, value) in headers.filter(|(key, _)| key.eq_ignore_ascii_case(name)) {
        if !value.trim().is_empty() {
            any = true;
        }
        hasher.write(value.as_bytes());
        hasher.write_u8(0xff);
    }
    if any {
        Fingerprint::Keyed(hasher.finish())
    } else {
        Fingerprint::NoCredential
    }
}

impl CredentialSource {
    pub(crate) fn fingerprint(&self, view: &RequestView) -> Fingerprint {
        let mut hasher = fingerprint_key().build_hasher();
        let mut any = false;
        match self {
            Self::Header(name) => return header_fingerprint(name, crate::request::header_pairs(view)),
            Self::Function(extract) => {
                let extracted = catch_unwind(AssertUnwindSafe(|| extract(view)))
                    .ok()
                    .flatten();
                if let Some(credential) = extracted.filter(|c| !c.trim().is_empty()) {
                    any = true;
                    hasher.write(credential.as_bytes());
                }
            }
        }
        if any {
            Fingerprint::Keyed(hasher.finish())
        } else {
            Fingerprint::NoCredential
        }
    }
}

/// A shareable identify function.
pub(crate) type SharedIdentify = Arc<dyn Fn(RequestView) -> IdentifyFuture + Send + Sync>;

/// The outcome of identity resolution for one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolution {
    /// The identity the request's events use; `None` means anonymous.
    pub identity: Option<Arc<Identity>>,
    /// Set when this request announces the identity with `$identify` (first seen, or changed, in the session).
    pub announce: Option<Announcement>,
}

/// When an announced identity was resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Announcement {
    pub at: SystemTime,
}

struct CacheEntry {
    identity: Arc<Identity>,
    written: Duration,
}

struct IdentityState {
    cache: LruCache<(Arc<str>, Fingerprint), CacheEntry>,
    records: LruCache<Arc<str>, Arc<Identity>>,
    /// When identify last failed (error, panic, timeout) for a key: it is not called again for that key until
    /// the failure TTL has passed, so a broken identify costs one timeout per caller per interval.
    failures: LruCache<(Arc<str>, Fingerprint), Duration>,
    /// Sessions with an anonymous request on record: their first identity must merge them (`$identify`).
    anonymous: LruCache<Arc<str>, ()>,
    /// The identity last announced per credential and distinct id, so that session ids a caller makes up cannot
    /// multiply `$identify` events.
    announced: LruCache<(Fingerprint, String), Arc<Identity>>,
}

/// Why a call of the identify function gave no identity.
enum NoIdentity {
    /// It answered nobody (or a blank distinct id): an anonymous caller, nothing to remember.
    Nobody,
    /// It failed; the words never include the function's own output.
    Failed(&'static str),
}

/// The identity cache, the session records and the identify function of one instrumented server.
pub(crate) struct IdentityResolver {
    identify: Option<SharedIdentify>,
    timeout: Duration,
    ttl: Duration,
    failure_ttl: Duration,
    credential: CredentialSource,
    clock: Arc<dyn Clock>,
    state: Mutex<IdentityState>,
}

/// How an [`IdentityResolver`] caches: capacity, TTL of identities, TTL of failures, and the call timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheSettings {
    pub capacity: NonZeroUsize,
    pub ttl: Duration,
    pub failure_ttl: Duration,
    pub timeout: Duration,
}

impl IdentityResolver {
    pub(crate) fn new(
        identify: Option<SharedIdentify>,
        settings: CacheSettings,
        credential: CredentialSource,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            identify,
            timeout: settings.timeout,
            ttl: settings.ttl,
            failure_ttl: settings.failure_ttl,
            credential,
            clock,
            state: Mutex::new(IdentityState {
                cache: LruCache::new(settings.capacity),
                records: LruCache::new(settings.capacity),
                failures: LruCache::new(settings.capacity),
                anonymous: LruCache::new(settings.capacity),
                announced: LruCache::new(settings.capacity),
            }),
        }
    }

    pub(crate) fn has_identify(&self) -> bool {
        self.identify.is_some()
    }

    /// The header the credential is read from; `None` when a host function extracts it from the request view.
    pub(crate) fn credential_header(&self) -> Option<&str> {
        match &self.credential {
            CredentialSource::Header(name) => Some(name),
            CredentialSource::Function(_) => None,
        }
    }

    /// The keyed fingerprint of the request's credential.
    pub(crate) fn fingerprint(&self, view: &RequestView) -> Fingerprint {
        self.credential.fingerprint(view)
    }

    /// The fingerprint of a credential read from a header, without a request view.
    pub(crate) fn header_fingerprint(&self, headers: Option<&[(String, String)]>) -> Fingerprint {
        let CredentialSource::Header(name) = &self.credential else {
            return Fingerprint::NoCredential;
        };
        header_fingerprint(name, headers.into_iter().flatten())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IdentityState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A valid cache entry for `key`, refreshing its recency; an expired one is removed and never used.
    fn cached(
        &self,
        state: &mut IdentityState,
        key: &(Arc<str>, Fingerprint),
    ) -> Option<Arc<Identity>> {
        if self.ttl.is_zero() {
            return None;
        }
        let now = self.clock.elapsed();
        let entry = state.cache.get(key)?;
        if now.saturating_sub(entry.written) < self.ttl {
            Some(entry.identity.clone())
        } else {
            state.cache.pop(key);
            None
        }
    }

    /// The identity of a request on `session_id`, cached under it or under `caller`; `fingerprint` when known. The
    /// view is built only if read (a credential function, identify on a miss): a cached caller's request builds none.
    pub(crate) async fn resolve(
        &self,
        session_id: &str,
        view: LazyCell<RequestView, impl FnOnce() -> RequestView>,
        fingerprint: Option<Fingerprint>,
        caller: Option<Arc<str>>,
    ) -> Resolution {
        let Some(identify) = self.identify.as_ref() else {
            return Resolution::default();
        };
        let key: (Arc<str>, Fingerprint) = (
            caller.unwrap_or_else(|| Arc::from(session_id)),
            fingerprint.unwrap_or_else(|| self.credential.fingerprint(&view)),
        );
        {
            let mut state = self.lock();
            if let Some(identity) = self.cached(&mut state, &key) {
                return Resolution {
                    identity: Some(identity),
                    announce: None,
                };
            }
            if let Some(failed) = state.failures.get(&key).copied() {
                if self.clock.elapsed().saturating_sub(failed) < self.failure_ttl {
                    state.anonymous.put(key.0.clone(), ());
                    return Resolution::default();
                }
                state.failures.pop(&key);
            }
        }
        let view: &RequestView = LazyCell::force(&view);
        match self.call(identify, view).await {
            Ok(next) => self.record(key, next),
            Err(outcome) => self.no_identity(view, key, outcome),
        }
    }

    /// An identity from the function: merges `next` with the session record, then, as one atomic step, decides
    /// the announcement and writes the cache entry and the session record.
    fn record(&self, key: (Arc<str>, Fingerprint), next: Identity) -> Resolution {
        let mut state = self.lock();
        let merged = match state.records.get(&key.0) {
            Some(prev) => Arc::new(merge(prev, next)),
            None => Arc::new(next),
        };
        let announce = match state.records.peek(&key.0) {
            // A change within the session is announced.
            Some(prev) => **prev != *merged,
            // A first identity for the session: it has anonymous events to merge, or this caller's identity was
            // not announced yet (or has changed since). A caller presenting ever new session ids is announced
            // once.
            None => {
                state.anonymous.contains(&key.0)
                    || state
                        .announced
                        .peek(&(key.1, merged.distinct_id.clone()))
                        .is_none_or(|last| **last != *merged)
            }
        };
        if announce {
            state
                .announced
                .put((key.1, merged.distinct_id.clone()), merged.clone());
        }
        state.anonymous.pop(&key.0);
        state.records.put(key.0.clone(), merged.clone());
        if !self.ttl.is_zero() {
            state.cache.put(
                key,
                CacheEntry {
                    identity: merged.clone(),
                    written: self.clock.elapsed(),
                },
            );
        }
        Resolution {
            identity: Some(merged),
            announce: announce.then(|| Announcement {
                at: self.clock.now(),
            }),
        }
    }

    /// No identity from the function. A failure is remembered for the failure TTL; the request uses an entry a
    /// concurrent request wrote meanwhile, else it is anonymous (and its session has anonymous events to merge
    /// later).
    fn no_identity(
        &self,
        view: &RequestView,
        key: (Arc<str>, Fingerprint),
        outcome: NoIdentity,
    ) -> Resolution {
        let mut state = self.lock();
        match outcome {
            // An anonymous caller is a normal answer, not worth a warning per request.
            NoIdentity::Nobody => tracing::debug!(
                method = view.method(),
                session_id = view.session_id(),
                "posthog-mcp: the identify function returned no identity; the request is anonymous"
            ),
            NoIdentity::Failed(reason) => {
                tracing::warn!(
                    method = view.method(),
                    session_id = view.session_id(),
                    retry_after_s = self.failure_ttl.as_secs(),
                    "posthog-mcp: {reason}; this caller is anonymous until identify is tried again"
                );
                if !self.failure_ttl.is_zero() {
                    state.failures.put(key.clone(), self.clock.elapsed());
                }
            }
        }
        let identity = self.cached(&mut state, &key);
        if identity.is_none() {
            state.anonymous.put(key.0.clone(), ());
        }
        Resolution {
            identity,
            announce: None,
        }
    }

    /// Calls the identify function under the timeout, catching panics. `Err` says why there is no identity,
    /// in words that never include the function's own output.
    async fn call(
        &self,
        identify: &SharedIdentify,
        view: &RequestView,
    ) -> Result<Identity, NoIdentity> {
        match crate::hooks::guard(|| identify(view.clone()), self.timeout, &self.clock).await {
            Guarded::Done(Ok(Some(identity))) if !identity.distinct_id.trim().is_empty() => {
                Ok(identity)
            }
            Guarded::Done(Ok(_)) => Err(NoIdentity::Nobody),
            Guarded::Done(Err(_)) => Err(NoIdentity::Failed(
                "the identify function returned an error",
            )),
            Guarded::Panicked => Err(NoIdentity::Failed("the identify function panicked")),
            Guarded::TimedOut => Err(NoIdentity::Failed("the identify function timed out")),
        }
    }
}

/// The same distinct id merges (new keys win, none removed; groups replaced only by a non-empty set); a different
/// distinct id starts from `next` alone.
fn merge(prev: &Identity, next: Identity) -> Identity {
    if prev.distinct_id != next.distinct_id {
        return next;
    }
    let mut properties = prev.properties.clone();
    for (key, value) in next.properties {
        properties.insert(key, value);
    }
    let groups = if next.groups.is_empty() {
        prev.groups.clone()
    } else {
        next.groups
    };
    Identity {
        distinct_id: next.distinct_id,
        properties,
        groups,
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
