//! The macros' compile-pass cases: each module is code a user may write, and its test checks at run time what the
//! expansion registered. They share one ordinary test binary; trybuild (`tests/ui.rs`) keeps only the cases that
//! must fail to compile, each with the message it guards.

mod above_tool;
mod below_tool;
mod identify;
mod identify_result;
mod intent_description;
mod options;
mod renamed_crate;
mod return_types;
mod sync_tool;
