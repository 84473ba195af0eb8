//! Custom events: the caller a request's events are attributed to ([`CallerContext`]), the [`CustomEvent`]
//! builder and the [`Analytics`] functions that capture one, and why a capture can fail.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::Analytics;
use crate::event::Payload;
use crate::identity::Identity;
use crate::pipeline::{self, Attribution};


/// Who one intercepted request is attributed to: its session, client and server attribution and identity.
/// The wrapper puts it into each request context's extensions (as `Arc<CallerContext>`), so code running inside
/// a handler can attribute custom events to the caller with [`Analytics::capture_in`].
#[derive(Debug, Clone)]
pub struct CallerContext {
    pub(crate) session_id: Arc<str>,
    pub(crate) attribution: Attribution,
    pub(crate) identity: Option<Arc<Identity>>,
}

impl CallerContext {
    /// The request's `$session_id`.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The request's identity, when one was resolved.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }

    /// The caller of the request `context` belongs to, when the request came through an instrumented server.
    pub fn of(context: &rmcp::service::RequestContext<rmcp::RoleServer>) -> Option<Arc<Self>> {
        context.extensions.get::<Arc<Self>>().cloned()
    }
}

/// A custom event being built by [`Analytics::event`]. Without a caller or a distinct id it is anonymous
/// (`distinct_id` `anonymous`); with a caller it carries the request's session, attribution and identity; an
/// explicit distinct id names the person it is about (person processing on, as for identified events).
#[must_use = "a custom event is only sent by `capture()`"]
pub struct CustomEvent<'a> {
    analytics: &'a Analytics,
    name: &'a str,
    caller: Option<&'a CallerContext>,
    distinct_id: Option<String>,
    timestamp: Option<SystemTime>,
    uuid: Option<uuid::Uuid>,
    properties: Map<String, Value>,
}

impl<'a> CustomEvent<'a> {
    /// Attributes the event to the request `caller` describes (see [`CallerContext::of`]).
    pub fn caller(mut self, caller: &'a CallerContext) -> Self {
        self.caller = Some(caller);
        self
    }

    /// The person the event is about; it wins over the caller's identity.
    pub fn distinct_id(mut self, distinct_id: impl Into<String>) -> Self {
        self.distinct_id = Some(distinct_id.into());
        self
    }

    /// When the event happened (default: now).
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.timestamp = Some(at);
        self
    }

    /// The event's uuid (default: a fresh UUIDv7), for example to make a retried capture idempotent.
    pub fn uuid(mut self, uuid: uuid::Uuid) -> Self {
        self.uuid = Some(uuid);
        self
    }

    /// Adds a property; a later value for the same key wins.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Adds properties; later values for the same keys win.
    pub fn properties(mut self, properties: Map<String, Value>) -> Self {
        self.properties.extend(properties);
        self
    }

    /// Queues the event. The name must not be blank, nor an explicit distinct id; the properties are spread last
    /// and not sanitized.
    pub fn capture(self) -> Result<(), CaptureError> {
        if self.name.trim().is_empty() {
            return Err(CaptureError::EmptyName);
        }
        if self.distinct_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
            return Err(CaptureError::EmptyDistinctId);
        }
        let inner = &self.analytics.inner;
        let Some(delivery) = &inner.delivery else {
            return Ok(());
        };
        let identity = self.caller.and_then(|c| c.identity.as_deref());
        let session_id = self.caller.map(|c| &*c.session_id);
        let explicit = self.distinct_id.is_some();
        let distinct_id = self
            .distinct_id
            .unwrap_or_else(|| pipeline::distinct_id(identity, session_id));
        let at = self.timestamp.unwrap_or_else(|| inner.clock.now());
        let mut payload = Payload::new(self.name, distinct_id, chrono::DateTime::from(at));
        if let Some(uuid) = self.uuid {
            payload.uuid = uuid;
        }
        payload.properties = pipeline::base_properties(session_id, None, identity);
        let props = &mut payload.properties;
        if explicit && identity.is_none() {
            props.remove("$process_person_profile");
        }
        if let Some(caller) = self.caller {
            pipeline::attribution_properties(props, &caller.attribution);
        }
        pipeline::set_properties(props, identity);
        props.extend(self.properties);
        let settings = inner.settings.clone();
        let queued = delivery.enqueue(Box::new(move || {
            crate::privacy::fit_budget(&mut payload, false);
            pipeline::finish(vec![payload], &settings)
        }));
        if queued {
            Ok(())
        } else {
            Err(CaptureError::QueueFull)
        }
    }
}

/// A custom event could not be captured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The name was empty or only whitespace; nothing was sent.
    #[error("a custom event needs a name: pass a non-empty event name to capture()")]
    EmptyName,
    /// An explicit distinct id was empty or only whitespace.
    #[error("a custom event's distinct_id must not be blank: pass the person's id, or leave it out")]
    EmptyDistinctId,
    /// The queue was full; the event was dropped and counted.
    #[error("the delivery queue is full; the event was dropped")]
    QueueFull,
}

impl Analytics {

    /// Captures a custom event outside any request: anonymous, `distinct_id` `anonymous`. The name is
    /// sent as given; the properties are spread last and not sanitized. Returns once the event is queued.
    pub fn capture(&self, name: &str, properties: Map<String, Value>) -> Result<(), CaptureError> {
        self.capture_for(None, name, properties)
    }


    /// Captures a custom event attributed to the request `context` belongs to: its `$session_id`,
    /// client, server and protocol attribution, and identity (`$set`, `$groups`). Outside an instrumented
    /// request it is captured as by [`Analytics::capture`].
    pub fn capture_in(
        &self,
        context: &rmcp::service::RequestContext<rmcp::RoleServer>,
        name: &str,
        properties: Map<String, Value>,
    ) -> Result<(), CaptureError> {
        self.capture_for(CallerContext::of(context).as_deref(), name, properties)
    }


    /// Captures a custom event attributed to `caller` (anonymous without one).
    pub fn capture_for(
        &self,
        caller: Option<&CallerContext>,
        name: &str,
        properties: Map<String, Value>,
    ) -> Result<(), CaptureError> {
        let mut event = self.event(name).properties(properties);
        event.caller = caller;
        event.capture()
    }


    /// A custom event with explicit fields, builder style; [`CustomEvent::capture`] queues it.
    ///
    /// ```
    /// # fn demo(analytics: &posthog_mcp::Analytics) -> Result<(), posthog_mcp::CaptureError> {
    /// analytics
    ///     .event("invoice_paid")
    ///     .distinct_id("user-42")
    ///     .timestamp(std::time::SystemTime::now())
    ///     .property("amount_eur", 120)
    ///     .capture()
    /// # }
    /// ```
    pub fn event<'a>(&'a self, name: &'a str) -> CustomEvent<'a> {
        CustomEvent {
            analytics: self,
            name,
            caller: None,
            distinct_id: None,
            timestamp: None,
            uuid: None,
            properties: Map::new(),
        }
    }
}
