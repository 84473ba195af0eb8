//! Who is calling (CONTRACT §3): the identity type, the identify function and its registration, the identity
//! cache keyed by (session id, credential fingerprint), the session records and their merge rules.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

use crate::request::RequestView;

/// The person (and groups) behind a request, as returned by the identify function (CONTRACT §3.1 I3).
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
