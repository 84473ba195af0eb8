//! The state the instance keeps for each server it instruments (identity cache, caller table, known tools),
//! shared by every `instrument` call for the same server.

use std::any::TypeId;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::Analytics;
use crate::identity::{CacheSettings, IdentityResolver};
use crate::session::{Callers, SessionStats};
use crate::tool::KnownTool;

/// Which server a [`ServerState`] belongs to: the handler's type and the name and version it reports.
pub(super) type ServerKey = (TypeId, Option<Arc<str>>, Option<Arc<str>>);

/// The state of one server, kept by its analytics instance so that every `instrument` call for the same server
/// (one per HTTP session or request, as rmcp's session factories are often written) shares it: the identity
/// cache, the caller table of sessionless requests, what it learned about the host's tools, and whether the
/// host's first listing page used a virtual name.
pub(crate) struct ServerState {
    pub(crate) identity: IdentityResolver,
    pub(crate) callers: Callers,
    /// Facts about each known tool, read once from the host's `get_tool` or its listing.
    pub(crate) tools: dashmap::DashMap<String, Arc<KnownTool>>,
    /// The tool names of the host's last first listing page, which decide virtual routing; `None` until one
    /// succeeded.
    pub(crate) first_page: Mutex<Option<HashSet<String>>>,
    /// Skip warnings already logged, so a listing repeated per request warns once per tool and argument.
    pub(crate) warned: dashmap::DashMap<(String, &'static str), ()>,
}

impl Analytics {
    /// The state of server `kind` reporting `name` and `version`: the one this instance keeps, or a new one.
    pub(crate) fn server_state(
        &self,
        kind: TypeId,
        name: Option<Arc<str>>,
        version: Option<Arc<str>>,
    ) -> Arc<ServerState> {
        self.inner
            .servers
            .entry((kind, name, version))
            .or_insert_with(|| {
                Arc::new(ServerState {
                    identity: new_resolver(self),
                    callers: Callers::new(self.inner.session_capacity),
                    tools: dashmap::DashMap::new(),
                    first_page: Mutex::new(None),
                    warned: dashmap::DashMap::new(),
                })
            })
            .clone()
    }

    /// The sessions this instance keeps for requests that carry none of their own (sessionless HTTP), summed
    /// over the servers it instruments.
    pub fn session_stats(&self) -> SessionStats {
        let mut total = SessionStats::default();
        for server in self.inner.servers.iter() {
            let stats = server.callers.stats();
            total.callers += stats.callers;
            total.evicted += stats.evicted;
            total.expired += stats.expired;
        }
        total
    }
}

/// A fresh identity cache and session-record store for one server: two servers never share entries.
fn new_resolver(analytics: &Analytics) -> IdentityResolver {
    let inner = &analytics.inner;
    IdentityResolver::new(
        inner.identify.clone(),
        CacheSettings {
            capacity: inner.cache_capacity,
            ttl: inner.cache_ttl,
            failure_ttl: inner.identify_failure_ttl,
            timeout: inner.identify_timeout,
        },
        inner.credential.clone(),
        inner.clock.clone(),
    )
}
