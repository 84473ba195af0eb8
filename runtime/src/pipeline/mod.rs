//! The capture pipeline: a request's record becomes its payloads — sanitized, truncated, built in the property
//! assembly order (a later write replaces an earlier one), passed through `before_send` and labelled.
//!
//! A request passes nine steps: (1) resolve its session, attribution, identity and hooks before the handler;
//! (2) dispatch to the handler; (3) hand the record to the delivery worker; then, on the worker, (4) sanitize,
//! (5) truncate, (6) build the payloads, (7) run `before_send`, (8) label and (9) deliver. Steps 4–8 live here.
//!
//! The request path only fills a [`RequestRecord`] with owned values and hands it to the delivery queue; every
//! step here runs on the delivery worker. The parts:
//!
//! - `handover`: the values the request path captures for the worker (params and results as JSON text, the
//!   attribution, tool and trace snapshots);
//! - `record`: the record and the pooled job box it lives in until the worker has run it;
//! - `build`: steps 4–8, from a record to its labelled payloads;
//! - `properties`: the properties those payloads are assembled from.
//!
//! The rest of the crate names everything as `crate::pipeline::X`.

mod build;
mod handover;
mod job;
mod properties;
mod record;

pub(crate) use build::{PipelineSettings, distinct_id, finish};
pub(crate) use handover::{
    Attribution, CaptureOptions, CapturedValue, Encoded, ToolFacts, TraceIds, with_request_meta,
};
pub(crate) use job::PooledRecord;
pub(crate) use properties::{
    attribution_properties, base_properties, is_modern_protocol, set_properties,
};
pub(crate) use record::{InputKeyNames, RequestRecord, boxed_map};
