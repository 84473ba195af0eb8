//! The calculator over Streamable HTTP, set up the way we recommend for a remote MCP server behind an auth
//! layer: an auth middleware verifies the bearer token and puts the caller's [`Claims`] into the request's
//! extensions; identify reads them back ([`identify`]); one instrumented server is cloned for every session; the
//! session manager is wrapped by `posthog_mcp::http::track_sessions` and the router sits behind
//! `posthog_mcp::http::SessionLayer`, so each client is one PostHog session from its first event on.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use posthog_mcp::{Identity, Instrumented, RequestView};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

use crate::calculator::Calculator;

/// What the auth middleware verified about the caller. A real server would get it from its auth service or a
/// signed token; identify only reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user's PostHog distinct id.
    pub user_id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Billing plan.
    pub plan: &'static str,
    /// The user's organization.
    pub organization: &'static str,
}

/// The user table behind the bearer tokens `alice-token` and `bob-token`.
const USERS: &[(&str, Claims)] = &[
    (
        "alice-token",
        Claims {
            user_id: "alice",
            name: "Alice Liddell",
            plan: "pro",
            organization: "wonderland",
        },
    ),
    (
        "bob-token",
        Claims {
            user_id: "bob",
            name: "Bob Builder",
            plan: "free",
            organization: "fixit",
        },
    ),
];

/// The claims of the user with distinct id `user_id`, if the table has one.
pub fn known_user(user_id: &str) -> Option<&'static Claims> {
    USERS
        .iter()
        .map(|(_, claims)| claims)
        .find(|claims| claims.user_id == user_id)
}

/// The claims behind an `Authorization` header value (`Bearer <token>`), if the token is known.
pub fn verify(authorization: &str) -> Option<&'static Claims> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    USERS
        .iter()
        .find(|(known, _)| *known == token.trim())
        .map(|(_, claims)| claims)
}

/// An axum middleware: a known bearer token puts its [`Claims`] into the request's extensions. Unknown or
/// missing tokens pass through, so anonymous callers can still use the calculator (a real server might refuse
/// them with 401 here).
pub async fn authenticate(mut request: Request, next: Next) -> Response {
    let claims = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(verify);
    if let Some(claims) = claims {
        request.extensions_mut().insert(claims.clone());
    }
    next.run(request).await
}

/// The person behind claims.
pub fn identity_of(claims: &Claims) -> Identity {
    Identity::new(claims.user_id)
        .with_property("name", claims.name)
        .with_property("plan", claims.plan)
        .with_group("organization", claims.organization)
}

/// Who is calling. Over HTTP: the claims the auth middleware verified, or anonymous. Over stdio: `stdio_user`
/// (the calculator passes `CALCULATOR_USER`); a name from the table gets its properties, any other defaults.
pub fn identify(request: &RequestView, stdio_user: Option<&str>) -> Option<Identity> {
    if request.is_http() {
        return request.extension::<Claims>().map(identity_of);
    }
    let name = stdio_user?.trim();
    if name.is_empty() {
        return None;
    }
    Some(match known_user(name) {
        Some(claims) => identity_of(claims),
        None => Identity::new(name)
            .with_property("name", name)
            .with_property("plan", "free")
            .with_group("organization", "local"),
    })
}

/// The calculator's HTTP router at `/mcp`: `server` cloned per session (one identity cache for the server),
/// stateful sessions unless `stateless`, `allowed_hosts` extended by `extra_host`.
pub fn router(
    server: Instrumented<Calculator>,
    stateless: bool,
    extra_host: Option<String>,
    config: StreamableHttpServerConfig,
) -> axum::Router {
    let mut config = config
        .with_legacy_session_mode(!stateless)
        .with_json_response(stateless);
    if let Some(host) = extra_host {
        config.allowed_hosts.push(host);
    }
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(posthog_mcp::http::track_sessions(
            LocalSessionManager::default(),
        )),
        config,
    );
    axum::Router::new()
        .nest_service("/mcp", service)
        .layer(posthog_mcp::http::SessionLayer::new())
        .layer(axum::middleware::from_fn(authenticate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RequestView {
        RequestView::new("tools/call", serde_json::Value::Null, "session")
    }

    #[test]
    fn bearer_tokens_are_verified_through_the_table() {
        assert_eq!(verify("Bearer alice-token").unwrap().user_id, "alice");
        assert_eq!(verify("bearer  bob-token ").unwrap().user_id, "bob");
        assert_eq!(verify("Bearer nope"), None);
        assert_eq!(verify("Basic alice-token"), None);
    }

    #[test]
    fn over_http_identify_reads_the_verified_claims_and_nothing_else() {
        let alice = known_user("alice").unwrap().clone();
        let over_http = view()
            .with_headers([("authorization", "Bearer bob-token")])
            .with_extension(alice);
        let identity = identify(&over_http, Some("carol")).unwrap();
        assert_eq!(
            identity.distinct_id, "alice",
            "the claims, not the raw header"
        );
        assert_eq!(identity.properties["plan"], "pro");
        assert_eq!(identity.groups["organization"], "wonderland");
        let unverified = view().with_headers([("authorization", "Bearer bob-token")]);
        assert_eq!(identify(&unverified, Some("alice")), None);
    }

    #[test]
    fn over_stdio_the_user_comes_from_the_variable() {
        assert_eq!(identify(&view(), None), None);
        assert_eq!(identify(&view(), Some("  ")), None);
        let carol = identify(&view(), Some("carol")).unwrap();
        assert_eq!(carol.distinct_id, "carol");
        assert_eq!(carol.groups["organization"], "local");
        assert_eq!(
            identify(&view(), Some("alice")).unwrap().properties["plan"],
            "pro"
        );
    }
}
