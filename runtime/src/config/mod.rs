//! Configuration: the environment (`POSTHOG_API_KEY`, `POSTHOG_HOST`, `POSTHOG_MCP_LOCAL_SINK`) and a builder
//! for every configurable value. An invalid value is an error that names the option.
//!
//! `builder.rs` holds the [`Builder`] and its setters, `options.rs` the option groups it takes whole
//! ([`IdentityOptions`], [`EventOptions`], …) and `arguments.rs` the group of the arguments the crate owns
//! ([`ArgumentOptions`]); `settings.rs` reads the environment, checks the
//! values and resolves them into what the instance keeps (the sink, the identify function, the agent options).

mod arguments;
mod builder;
mod options;
mod settings;

pub use builder::Builder;
pub use arguments::{ArgumentOptions, InputKeys};
pub use options::{Destination, EventOptions, IdentityOptions, SessionOptions, VirtualToolOptions};
pub(crate) use settings::{AgentOptions, InputAliases};
pub(crate) use settings::{check_agent, resolve_identify, resolve_sink};
pub use settings::{ConfigError, DEFAULT_HOST};
