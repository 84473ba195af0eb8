//! End-to-end test support: a reference MCP server and client helpers (`fixtures`).

pub mod fixtures;
