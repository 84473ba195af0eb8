//! The wrapper's futures stay a few hundred bytes larger than the host's own: rmcp spawns one task per request
//! holding the handler's future inline, and moves it on the way, so every byte here is copied on every call.
//! An `async fn` that holds its argument future while awaiting a wrapper of it (or keeps a second copy of its
//! `mut` parameters) doubles that size; these bounds catch it.

use std::future::Future;

use posthog_mcp::Instrumented;
use rmcp::ServerHandler;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientRequest};
use rmcp::service::{RequestContext, RoleServer, Service};

/// A host whose `call_tool` future carries a large state, as a real tool router's does.
struct Host;

impl ServerHandler for Host {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        let state = [request.name.len() as u8; 1024];
        tokio::task::yield_now().await;
        Ok(rmcp::model::CallToolResponse::Complete(
            CallToolResult::success(vec![rmcp::model::ContentBlock::text(format!(
                "{}",
                state[7]
            ))]),
        ))
    }
}

/// The size of the future `call` returns, read from its type (the closure is never called).
fn future_size<A, B, C, F: Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
    std::mem::size_of::<F>()
}

#[test]
fn a_wrapped_tool_call_future_is_the_hosts_plus_a_bounded_margin() {
    let host = future_size(|s: &'static Host, r, c| s.call_tool(r, c));
    let wrapped = future_size(|s: &'static Instrumented<Host>, r, c| s.call_tool(r, c));
    // Measured: the host's future plus about 860 bytes (its request, context, span, prepared call and slot);
    // the doubled layouts this guards against added 2,400 bytes or more.
    assert!(
        wrapped <= host + 1_200,
        "Instrumented::call_tool's future is {wrapped} bytes, the host's {host}"
    );
}

#[test]
fn the_task_rmcp_spawns_per_request_grows_by_a_bounded_margin() {
    let host = future_size(|s: &'static Host, r: ClientRequest, c| s.handle_request(r, c));
    let wrapped =
        future_size(|s: &'static Instrumented<Host>, r: ClientRequest, c| s.handle_request(r, c));
    assert!(
        wrapped <= host + 1_200,
        "the wrapped request future is {wrapped} bytes, the host's {host}"
    );
}
