//! A binary of its own: these tests mark tools as instrumented by name in the process-wide registry that
//! `#[posthog_tool]` fills at link time (`add`, `inspect`, `measure`, …), which would instrument the same names
//! for every other test in a shared binary. Together they register one consistent set.
//!
//! The agent-facing features over a real rmcp client: the injected `context` argument and the intent it carries,
//! the model, the virtual tools, and the manual API beside the wrapper.

mod agent_features;
mod agent_intent;
mod agent_manual;
