//! The end-to-end suite: real rmcp clients and servers over stdio, in-process pipes and HTTP on 127.0.0.1, with a
//! local ingestion server recording what PostHog would receive. One binary, so the dependency graph is linked
//! once; the tests that must own their process, and the release load suite, are binaries of their own beside it
//! (see CONTRIBUTING.md).

mod acceptance;
mod agent_intent_description;
mod agent_listing_pages;
mod agent_tasks;
mod agent_trace;
mod agent_trace_spans;
mod attribute_through_wrapper;
mod custom_events;
mod delivery_faults;
mod delivery_policy;
mod delivery_rmcp;
mod delivery_wire;
mod exit_flush;
mod forwarding;
mod http_sessions;
mod identity_scenarios;
mod modern_protocol;
mod privacy_end_to_end;
mod quiet_logs;
mod stdio_child;
mod task_store;
mod wrapper_capture;
