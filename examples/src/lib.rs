//! Shared pieces of the runnable examples.

pub mod calculator;
pub mod http;
