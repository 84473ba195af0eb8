//! PostHog's normative MCP analytics acceptance feature (`acceptance/public/mcp-analytics.feature` in
//! PostHog/sdk-specs), one test per scenario, named after it. Each runs over stateless Streamable HTTP with a
//! 2026-07-28 client that carries no session, and checks what reached the local ingestion server. Scenarios
//! about a tool call run through both capture paths: `instrument` and the manual API.

mod argument_names;
mod calls;
mod failures;
mod harness;
mod host;
mod manual;
mod optional_events;
mod privacy;
mod sessions;
