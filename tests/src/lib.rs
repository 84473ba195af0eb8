//! Test support: a local PostHog ingestion server ([`ingest`]) for end-to-end tests over real HTTP, and helpers
//! for delivery tests ([`delivery`]).

pub mod delivery;
pub mod ingest;

pub use ingest::{Answer, IngestServer, RecordedRequest};
