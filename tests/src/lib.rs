//! End-to-end test support: a reference MCP server and client helpers ([`fixtures`]), a local PostHog ingestion
//! server for tests over real HTTP ([`ingest`]), helpers for delivery tests ([`delivery`]), log capture
//! ([`logs`]) and the process's memory ([`process`]).

pub mod delivery;
pub mod fixtures;
pub mod ingest;
pub mod logs;
pub mod process;

pub use ingest::{Answer, IngestServer, RecordedRequest};

/// The repository README's examples, compiled as doctests (the runtime crate's own README is its crate page).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RepositoryReadme;
