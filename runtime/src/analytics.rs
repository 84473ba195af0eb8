//! The analytics instance: configuration, identity, sessions and the delivery queue of one instrumented server.
//!
//! (Being written by the core issue.)

use crate::tool::UnwrappedToolCall;

/// Reports a tool call that `#[posthog_tool]` saw without a wrapper, through the global runtime.
pub(crate) fn capture_unwrapped_tool_call(call: UnwrappedToolCall) {
    let _ = call;
}
