//! The release load suite: volume and sustained-rate tests whose figures mean something only in an optimised
//! build. Built only with the `load` feature; `.ci/run` runs it once, after the main suite:
//! `cargo test --release -p posthog-mcp-tests --features load --test load --test memory_accounting --test memory_large_arguments`.

mod sustained;
mod volume;
