//! The runtime crate's integration tests, one binary: the layering, size and wording rules read from the sources,
//! the privacy passes against properties, vectors and extremes, the wire encoding, future sizes, and the public API
//! snapshot (run by `.ci/public-api`).

mod function_length;
mod future_size;
mod module_graph;
mod no_document_references;
mod privacy_limits;
mod privacy_properties;
mod privacy_secrets;
mod privacy_vectors;
mod public_api;
mod type_size;
mod wire_encoding;
