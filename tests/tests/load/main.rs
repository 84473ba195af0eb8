//! The release load suite: volume and sustained-rate tests whose figures mean something only in an optimised
//! build. Built only with the `load` feature; `.ci/run` runs it once, after the main suite:
//! `cargo test --profile load -p posthog-mcp-tests --features load --test load --test memory_accounting --test memory_large_arguments`
//! (the `load` profile is release at opt-level 1).

mod sustained;
mod volume;
