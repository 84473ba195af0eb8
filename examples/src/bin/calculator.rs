//! The reference calculator server, instrumented with posthog-mcp.
//!
//! ```text
//! cargo run -p examples --bin calculator                               # stdio
//! cargo run -p examples --bin calculator -- --http 127.0.0.1:8000      # streamable HTTP at /mcp, stateful
//! cargo run -p examples --bin calculator -- --http 127.0.0.1:8000 --stateless
//! ```
//!
//! Configuration comes from the environment only: `POSTHOG_API_KEY` and `POSTHOG_HOST` (without a key, events
//! are written as JSON lines to stderr), `CALCULATOR_USER` to identify the stdio caller, `RUST_LOG` for logs.
//!
//! Identity: over HTTP, `Authorization: Bearer <token>` is looked up in a small in-memory table (`alice-token`,
//! `bob-token`); over stdio, `CALCULATOR_USER=<name>` makes every call come from distinct id `<name>`.
//!
//! stdout carries JSON-RPC on stdio, so nothing else is ever written there: logs go to stderr.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use examples::calculator::Calculator;
use posthog_mcp::{Identity, RequestView, posthog_identify};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

/// One known user.
struct User {
    /// The bearer token that authenticates them over HTTP.
    token: &'static str,
    /// Their PostHog distinct id.
    id: &'static str,
    name: &'static str,
    plan: &'static str,
    organization: &'static str,
}

/// The user table. A real server would ask its auth service instead.
const USERS: &[User] = &[
    User {
        token: "alice-token",
        id: "alice",
        name: "Alice Liddell",
        plan: "pro",
        organization: "wonderland",
    },
    User {
        token: "bob-token",
        id: "bob",
        name: "Bob Builder",
        plan: "free",
        organization: "fixit",
    },
];

fn identity_of(user: &User) -> Identity {
    Identity::new(user.id)
        .with_property("name", user.name)
        .with_property("plan", user.plan)
        .with_group("organization", user.organization)
}

/// Who is calling. Over HTTP: the bearer token's user, or anonymous when the token is missing or unknown. Over
/// stdio: `CALCULATOR_USER`.
#[posthog_identify]
async fn identify(request: &RequestView) -> Option<Identity> {
    resolve(request, std::env::var("CALCULATOR_USER").ok().as_deref())
}

/// The identify logic, with the stdio user passed in. A stdio user found in the table gets its properties; any
/// other name gets defaults, so every identified caller has person properties and an organization.
fn resolve(request: &RequestView, stdio_user: Option<&str>) -> Option<Identity> {
    if request.is_http() {
        let token = request.bearer_token()?;
        return USERS.iter().find(|u| u.token == token).map(identity_of);
    }
    let name = stdio_user?.trim();
    if name.is_empty() {
        return None;
    }
    Some(match USERS.iter().find(|u| u.id == name) {
        Some(user) => identity_of(user),
        None => Identity::new(name)
            .with_property("name", name)
            .with_property("plan", "free")
            .with_group("organization", "local"),
    })
}

/// How to serve, from the command line.
#[derive(Debug, PartialEq)]
enum Mode {
    Stdio,
    Http {
        address: SocketAddr,
        stateless: bool,
    },
}

const USAGE: &str = "usage: calculator [--http ADDR [--stateless]]\n\
    \n\
    Serves the calculator over stdio, or over streamable HTTP at http://ADDR/mcp with --http\n\
    (stateful sessions unless --stateless).\n\
    Environment: POSTHOG_API_KEY, POSTHOG_HOST, CALCULATOR_USER (stdio identity), RUST_LOG.";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Mode, String> {
    let mut http = None;
    let mut stateless = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http" => {
                let value = args
                    .next()
                    .ok_or("--http needs an address, e.g. 127.0.0.1:8000")?;
                let address = value
                    .parse()
                    .map_err(|e| format!("--http {value}: not a socket address ({e})"))?;
                http = Some(address);
            }
            "--stateless" => stateless = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    match http {
        Some(address) => Ok(Mode::Http { address, stateless }),
        None if stateless => Err("--stateless only applies with --http".into()),
        None => Ok(Mode::Stdio),
    }
}

/// Resolves on ctrl-c, or on SIGTERM where there is one (what process managers and most MCP clients send).
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve_stdio() -> Result<(), Box<dyn std::error::Error>> {
    let serve = async {
        let service = posthog_mcp::instrument(Calculator::new())
            .serve(rmcp::transport::stdio())
            .await?;
        tracing::info!("calculator: serving MCP over stdio");
        // Ends when the client closes stdin.
        service.waiting().await?;
        Ok(())
    };
    tokio::select! {
        served = serve => served,
        // Dropping the service on a signal cancels it.
        () = termination() => {
            tracing::info!("calculator: signal received, stopping");
            Ok(())
        }
    }
}

async fn serve_http(
    address: SocketAddr,
    stateless: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!stateless)
        .with_json_response(stateless);
    // Requests naming the bound address in `Host` are accepted too, besides the loopback names.
    if !address.ip().is_unspecified() {
        config.allowed_hosts.push(address.ip().to_string());
    }
    // Cancelling the service's token ends open sessions and their event streams, so the server can stop.
    let sessions = config.cancellation_token.clone();
    let service = StreamableHttpService::new(
        || Ok(posthog_mcp::instrument(Calculator::new())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tracing::info!(
        "calculator: serving streamable HTTP ({}) at http://{bound}/mcp",
        if stateless { "stateless" } else { "stateful" }
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            termination().await;
            tracing::info!("calculator: signal received, stopping");
            sessions.cancel();
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("calculator: {message}\n");
            }
            eprintln!("{USAGE}");
            std::process::exit(if message.is_empty() { 0 } else { 2 });
        }
    };

    let served = match mode {
        Mode::Stdio => serve_stdio().await,
        Mode::Http { address, stateless } => serve_http(address, stateless).await,
    };
    // Deliver whatever is still queued before the process ends (bounded; never hangs the exit).
    posthog_mcp::shutdown().await;
    let code = match served {
        Ok(()) => 0,
        Err(error) => {
            tracing::error!("calculator: {error}");
            1
        }
    };
    // Exit here rather than return: after a signal, tokio's stdin reader may still be blocked in a read that
    // would keep the runtime from shutting down. Everything worth keeping has been flushed above.
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&[]), Ok(Mode::Stdio));
        assert_eq!(
            parse(&["--http", "127.0.0.1:8000"]),
            Ok(Mode::Http {
                address: "127.0.0.1:8000".parse().unwrap(),
                stateless: false
            })
        );
        assert_eq!(
            parse(&["--stateless", "--http", "127.0.0.1:0"]),
            Ok(Mode::Http {
                address: "127.0.0.1:0".parse().unwrap(),
                stateless: true
            })
        );
        assert!(parse(&["--http"]).is_err());
        assert!(parse(&["--http", "nowhere"]).is_err());
        assert!(parse(&["--stateless"]).is_err());
        assert!(parse(&["--verbose"]).is_err());
    }

    fn view(headers: Option<&[(&str, &str)]>) -> RequestView {
        let view = RequestView::new("tools/call", serde_json::Value::Null, "session");
        match headers {
            Some(headers) => view.with_headers(headers.iter().copied()),
            None => view,
        }
    }

    #[test]
    fn bearer_tokens_resolve_through_the_table() {
        let alice = resolve(
            &view(Some(&[("Authorization", "Bearer alice-token")])),
            None,
        )
        .unwrap();
        assert_eq!(alice.distinct_id, "alice");
        assert_eq!(alice.properties["plan"], "pro");
        assert_eq!(alice.groups["organization"], "wonderland");
        let bob = resolve(&view(Some(&[("authorization", "Bearer bob-token")])), None).unwrap();
        assert_eq!(bob.distinct_id, "bob");
        // Unknown or missing tokens are anonymous, and the stdio variable never applies over HTTP.
        assert_eq!(
            resolve(&view(Some(&[("authorization", "Bearer nope")])), None),
            None
        );
        assert_eq!(resolve(&view(Some(&[])), Some("alice")), None);
    }

    #[test]
    fn the_stdio_user_comes_from_the_variable() {
        assert_eq!(resolve(&view(None), None), None);
        assert_eq!(resolve(&view(None), Some("  ")), None);
        let carol = resolve(&view(None), Some("carol")).unwrap();
        assert_eq!(carol.distinct_id, "carol");
        assert_eq!(carol.properties["name"], "carol");
        assert_eq!(carol.groups["organization"], "local");
        assert_eq!(
            resolve(&view(None), Some("alice")).unwrap().properties["plan"],
            "pro"
        );
    }
}
