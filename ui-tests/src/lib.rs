//! ui tests of the `posthog-mcp` macros: see `tests/ui.rs` and `tests/tool_call_slot.rs`.

/// The runtime under another path, for the pass case that sets `crate = "…"` (Cargo refuses the same package
/// twice under two dependency names, so the rename is a re-export).
pub use posthog_mcp as ph;
