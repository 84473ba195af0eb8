//! Any text given to the session-token decoder (CONTRACT §4.4): it returns a token or `None`, never panics.
//!
//! `posthog_mcp::session` is written on the main branch; this target compiles once that module is merged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use posthog_mcp::session::SessionToken;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = SessionToken::decode(text);
    }
});
