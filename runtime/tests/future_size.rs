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

fn call_tool_future<S: ServerHandler, F: Future>(
    _: impl FnOnce(&'static S, CallToolRequestParams, RequestContext<RoleServer>) -> F,
) -> usize {
    std::mem::size_of::<F>()
}

fn request_future<S: Service<RoleServer>, F: Future>(
    _: impl FnOnce(&'static S, ClientRequest, RequestContext<RoleServer>) -> F,
) -> usize {
    std::mem::size_of::<F>()
}

#[test]
fn a_wrapped_tool_call_future_is_the_hosts_plus_a_bounded_margin() {
    let host = call_tool_future::<Host, _>(|s, r, c| s.call_tool(r, c));
    let wrapped = call_tool_future::<Instrumented<Host>, _>(|s, r, c| s.call_tool(r, c));
    // Measured: the host's future plus about 860 bytes (its request, context, span, prepared call and slot);
    // the doubled layouts this guards against added 2,400 bytes or more.
    assert!(
        wrapped <= host + 1_200,
        "Instrumented::call_tool's future is {wrapped} bytes, the host's {host}"
    );
}

#[test]
fn the_task_rmcp_spawns_per_request_grows_by_a_bounded_margin() {
    let host = request_future::<Host, _>(|s, r, c| s.handle_request(r, c));
    let wrapped = request_future::<Instrumented<Host>, _>(|s, r, c| s.handle_request(r, c));
    assert!(
        wrapped <= host + 1_200,
        "the wrapped request future is {wrapped} bytes, the host's {host}"
    );
}
