//! Configuration: the environment (`POSTHOG_API_KEY`, `POSTHOG_HOST`, `POSTHOG_MCP_LOCAL_SINK`) and a builder
//! for every configurable value. An invalid value is an error that names the option.
//!
//! `builder.rs` holds the [`Builder`] and its option setters; `settings.rs` reads the environment, checks the
//! values and resolves them into what the instance keeps (the sink, the identify function, the agent options).

mod builder;
mod settings;

pub use builder::Builder;
pub(crate) use settings::AgentOptions;
pub use settings::{ConfigError, DEFAULT_HOST};
