//! The read-only view of one intercepted request that the identify function and the hooks receive: the MCP method,
//! the params as received, the HTTP headers and the HTTP request's extensions (what an auth middleware verified)
//! when the request came over HTTP, the resolved `$session_id` and the connection's client info. Nothing in it can
//! change session state.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

/// A read-only view of one request. Cheap to clone.
#[derive(Clone)]
pub struct RequestView {
    inner: Arc<ViewInner>,
}

pub(crate) struct ViewInner {
    pub(crate) method: &'static str,
    pub(crate) params: LazyParams,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) extensions: Option<http::Extensions>,
    pub(crate) session_id: Arc<str>,
    pub(crate) client_name: Option<Arc<str>>,
    pub(crate) client_version: Option<Arc<str>>,
    pub(crate) protocol_version: Option<Arc<str>>,
}

/// Params serialized on first use only: most requests hit the identity cache and never need them.
pub(crate) struct LazyParams {
    source: Option<Box<dyn Fn() -> Value + Send + Sync>>,
    value: OnceLock<Value>,
}

impl LazyParams {
    pub(crate) fn new(source: impl Fn() -> Value + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            value: OnceLock::new(),
        }
    }
    pub(crate) fn ready(value: Value) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        Self {
            source: None,
            value: cell,
        }
    }
    fn get(&self) -> &Value {
        self.value
            .get_or_init(|| self.source.as_ref().map_or(Value::Null, |source| source()))
    }
}

/// Every header of `view` as (lowercase name, value) pairs, in order.
pub(crate) fn header_pairs(view: &RequestView) -> impl Iterator<Item = &(String, String)> {
    view.inner.headers.iter().flatten()
}

impl std::fmt::Debug for RequestView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values and params can hold credentials: never print them.
        f.debug_struct("RequestView")
            .field("method", &self.inner.method)
            .field("session_id", &self.inner.session_id)
            .field("over_http", &self.inner.headers.is_some())
            .finish_non_exhaustive()
    }
}

impl RequestView {
    pub(crate) fn from_inner(inner: ViewInner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A view for tests and manual dispatchers: `method` with `params`, no headers, on session `session_id`.
    pub fn new(method: &'static str, params: Value, session_id: impl Into<Arc<str>>) -> Self {
        Self::from_inner(ViewInner {
            method,
            params: LazyParams::ready(params),
            headers: None,
            extensions: None,
            session_id: session_id.into(),
            client_name: None,
            client_version: None,
            protocol_version: None,
        })
    }

    /// The same view with HTTP headers (names are lowercased; repeated headers keep their order).
    pub fn with_headers<K: AsRef<str>, V: Into<String>>(
        self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let inner = Arc::unwrap_or_clone_inner(self.inner);
        Self::from_inner(ViewInner {
            headers: Some(
                headers
                    .into_iter()
                    .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()))
                    .collect(),
            ),
            ..inner
        })
    }

    /// The same view carrying `value` as an HTTP request extension, as an auth middleware would have put it
    /// there (for tests of an identify function; see [`RequestView::extension`]).
    pub fn with_extension<T: Clone + Send + Sync + 'static>(self, value: T) -> Self {
        let mut inner = Arc::unwrap_or_clone_inner(self.inner);
        inner
            .extensions
            .get_or_insert_with(http::Extensions::new)
            .insert(value);
        Self::from_inner(inner)
    }

    /// A value of type `T` from the HTTP request's extensions: what a tower or axum middleware in front of the
    /// MCP service put there with `request.extensions_mut().insert(..)`, such as the claims of a verified token.
    /// `None` when the request did not come over HTTP or carries no `T`.
    ///
    /// ```
    /// # use posthog_mcp::{Identity, RequestView};
    /// #[derive(Clone)]
    /// struct Claims { subject: String }
    ///
    /// async fn identify(request: &RequestView) -> Option<Identity> {
    ///     let claims = request.extension::<Claims>()?;
    ///     Some(Identity::new(&claims.subject))
    /// }
    /// ```
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.extensions.as_ref()?.get::<T>()
    }

    /// The MCP method, for example `tools/call`.
    pub fn method(&self) -> &str {
        self.inner.method
    }

    /// The request params as received, `_meta` included; `null` when the request had none.
    pub fn params(&self) -> &Value {
        self.inner.params.get()
    }

    /// Whether the request came over HTTP.
    pub fn is_http(&self) -> bool {
        self.inner.headers.is_some()
    }

    /// The first value of header `name` (case-insensitive), if the request came over HTTP and carried it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .flatten()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.inner
            .headers
            .iter()
            .flatten()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The bearer token of the `authorization` header, if any.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The resolved `$session_id`.
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// The client's name, when known.
    pub fn client_name(&self) -> Option<&str> {
        self.inner.client_name.as_deref()
    }

    /// The client's version, when known.
    pub fn client_version(&self) -> Option<&str> {
        self.inner.client_version.as_deref()
    }

    /// The protocol version, when known.
    pub fn protocol_version(&self) -> Option<&str> {
        self.inner.protocol_version.as_deref()
    }
}

trait UnwrapOrCloneInner {
    fn unwrap_or_clone_inner(this: Self) -> ViewInner;
}

impl UnwrapOrCloneInner for Arc<ViewInner> {
    fn unwrap_or_clone_inner(this: Self) -> ViewInner {
        match Arc::try_unwrap(this) {
            Ok(inner) => inner,
            Err(shared) => ViewInner {
                method: shared.method,
                params: LazyParams::ready(shared.params.get().clone()),
                headers: shared.headers.clone(),
                extensions: shared.extensions.clone(),
                session_id: shared.session_id.clone(),
                client_name: shared.client_name.clone(),
                client_version: shared.client_version.clone(),
                protocol_version: shared.protocol_version.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_matched_case_insensitively_and_repeated_values_keep_their_order() {
        let view = RequestView::new("tools/call", Value::Null, "ses_x").with_headers([
            ("Authorization", "Bearer abc"),
            ("X-Multi", "1"),
            ("x-multi", "2"),
        ]);
        assert_eq!(view.header("authorization"), Some("Bearer abc"));
        assert_eq!(view.bearer_token(), Some("abc"));
        assert_eq!(view.headers("X-MULTI").collect::<Vec<_>>(), ["1", "2"]);
        assert!(view.is_http());
    }

    #[test]
    fn an_auth_middleware_s_claims_are_read_by_type() {
        #[derive(Clone, Debug, PartialEq)]
        struct Claims(&'static str);
        let view =
            RequestView::new("tools/call", Value::Null, "ses_x").with_extension(Claims("alice"));
        assert_eq!(view.extension::<Claims>(), Some(&Claims("alice")));
        assert_eq!(view.extension::<String>(), None);
        assert_eq!(
            RequestView::new("tools/call", Value::Null, "ses_x").extension::<Claims>(),
            None
        );
    }

    #[test]
    fn a_stdio_request_has_no_headers() {
        let view = RequestView::new("tools/call", Value::Null, "ses_x");
        assert!(!view.is_http());
        assert_eq!(view.header("authorization"), None);
        assert_eq!(view.bearer_token(), None);
    }
}
