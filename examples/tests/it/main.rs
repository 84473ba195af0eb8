//! The examples driven as a user runs them, one test binary: the calculator's HTTP mode through rmcp's client, its
//! binary stopped by signals, and the official TypeScript MCP client against it over stdio and HTTP.

mod calculator_http;
mod calculator_signals;
mod interop_typescript;
