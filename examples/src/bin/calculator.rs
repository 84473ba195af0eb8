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
//! Identity: over HTTP, an auth middleware verifies `Authorization: Bearer <token>` against a small in-memory
//! table (`alice-token`, `bob-token`) and puts the caller's claims into the request; identify reads them. Over
//! stdio, `CALCULATOR_USER=<name>` makes every call come from distinct id `<name>`.
//!
//! stdout carries JSON-RPC on stdio, so nothing else is ever written there: logs go to stderr.

use std::io::IsTerminal;
use std::net::SocketAddr;

use axum::serve::{Listener as _, ListenerExt as _};
use examples::calculator::Calculator;
use posthog_mcp::{Identity, RequestView, posthog_identify};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;

/// Who is calling: over HTTP, the claims the auth middleware verified (see `examples::http`); over stdio,
/// `CALCULATOR_USER`.
#[posthog_identify]
async fn identify(request: &RequestView) -> Option<Identity> {
    examples::http::identify(request, std::env::var("CALCULATOR_USER").ok().as_deref())
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

/// ctrl-c and SIGTERM (what process managers and most MCP clients send), listened to from the start so that
/// none is missed between the first and the second.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// Resolves on the next ctrl-c or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.interrupt) => {}
                () = recv(&mut self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    /// Resolves on the first signal; from then on a second one ends the process at once (exit code 130), without
    /// waiting for open connections or for the last events to be delivered.
    async fn first(mut self) {
        self.next().await;
        tracing::info!("calculator: signal received, stopping (a second signal exits at once)");
        tokio::spawn(async move {
            self.next().await;
            tracing::warn!("calculator: second signal, exiting without waiting for delivery");
            std::process::exit(130);
        });
    }
}

async fn serve_stdio(signals: Signals) -> Result<(), Box<dyn std::error::Error>> {
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
        () = signals.first() => Ok(()),
    }
}

async fn serve_http(
    address: SocketAddr,
    stateless: bool,
    signals: Signals,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = StreamableHttpServerConfig::default();
    // Cancelling the service's token ends open sessions and their event streams, so the server can stop.
    let sessions = config.cancellation_token.clone();
    // One instrumented server, cloned for every session: one identity cache and one session table for all.
    let server = posthog_mcp::instrument(Calculator::new());
    // Requests naming the bound address in `Host` are accepted too, besides the loopback names.
    let extra_host = (!address.ip().is_unspecified()).then(|| address.ip().to_string());
    let router = examples::http::router(server, stateless, extra_host, config);
    // Small JSON-RPC replies must not wait for Nagle's algorithm (about 40 ms per request without this).
    let listener = tokio::net::TcpListener::bind(address).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let bound = listener.local_addr()?;
    tracing::info!(
        "calculator: serving streamable HTTP ({}) at http://{bound}/mcp",
        if stateless { "stateless" } else { "stateful" }
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            signals.first().await;
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

    let signals = Signals::listen();
    let served = match mode {
        Mode::Stdio => serve_stdio(signals).await,
        Mode::Http { address, stateless } => serve_http(address, stateless, signals).await,
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
}
