//! The settings side of configuration: reading the environment, checking each value (a [`ConfigError`] names
//! the option at fault) and resolving a [`Builder`] into what the instance keeps: the sink, the identify
//! function and the agent-facing options.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::Builder;
use super::arguments::{ArgumentOptions, InputKeys};
use super::options::VirtualToolOptions;
use crate::delivery::{LocalTarget, SinkKind};
use crate::hooks::IntentFallbackFn;
use crate::identity::{IdentifyRegistration, SharedIdentify};
use crate::virtual_tools::FeedbackHandlerFn;

/// The default ingestion host, as in PostHog's other SDKs.
pub const DEFAULT_HOST: &str = "https://us.i.posthog.com";

/// The agent-facing options: which arguments the crate owns and which virtual tools it answers.
#[derive(Clone)]
pub(crate) struct AgentOptions {
    pub intent: bool,
    pub intent_description: Option<Arc<str>>,
    pub intent_fallback: Option<IntentFallbackFn>,
    pub intent_fallback_timeout: Duration,
    pub llm_model: bool,
    pub llm_model_description: Option<Arc<str>>,
    pub conversation_id: bool,
    pub input_keys: InputKeys,
    /// Per tool name, the other names its arguments accept.
    pub input_aliases: HashMap<String, InputAliases>,
    pub get_more_tools: Option<Arc<str>>,
    pub send_feedback: Option<Arc<str>>,
    pub feedback_description: Option<Arc<str>>,
    pub feedback_extra_properties: Map<String, Value>,
    pub feedback_extra_required: Vec<String>,
    pub feedback_handler: Option<FeedbackHandlerFn>,
    pub feedback_handler_timeout: Duration,
}

impl AgentOptions {
    /// The agent-facing options of a builder's argument and virtual-tool groups.
    pub(crate) fn new(arguments: &ArgumentOptions, tools: &VirtualToolOptions) -> Self {
        let arguments = arguments.clone();
        let tools = tools.clone();
        Self {
            intent: arguments.intent,
            intent_description: arguments.intent_description,
            intent_fallback: arguments.intent_fallback,
            intent_fallback_timeout: arguments.intent_fallback_timeout,
            llm_model: arguments.llm_model,
            llm_model_description: arguments.llm_model_description,
            conversation_id: arguments.conversation_id,
            input_keys: arguments.input_keys,
            input_aliases: group_aliases(arguments.input_aliases),
            get_more_tools: tools.get_more_tools,
            send_feedback: tools.send_feedback,
            feedback_description: tools.feedback_description,
            feedback_extra_properties: tools.feedback_extra_properties,
            feedback_extra_required: tools.feedback_extra_required,
            feedback_handler: tools.feedback_handler,
            feedback_handler_timeout: Duration::from_secs(2),
        }
    }

    /// Whether any option can change what the client sees.
    pub(crate) fn decorates(&self) -> bool {
        self.intent
            || self.llm_model
            || self.conversation_id
            || self.get_more_tools.is_some()
            || self.send_feedback.is_some()
    }
}

/// The other names one tool's arguments accept: per argument, its aliases in the order the server looks for them.
#[derive(Clone, Debug, Default)]
pub(crate) struct InputAliases(pub(crate) Vec<(Arc<str>, Vec<Arc<str>>)>);

/// The aliases given per (tool, argument), grouped by tool; repeated arguments add to their aliases.
fn group_aliases(given: Vec<(String, String, Vec<String>)>) -> HashMap<String, InputAliases> {
    let mut tools: HashMap<String, InputAliases> = HashMap::new();
    for (tool, argument, aliases) in given {
        let entries = &mut tools.entry(tool).or_default().0;
        let at = match entries.iter().position(|(name, _)| **name == *argument) {
            Some(at) => at,
            None => {
                entries.push((Arc::from(argument), Vec::new()));
                entries.len() - 1
            }
        };
        let known = &mut entries[at].1;
        for alias in aliases {
            if !known.iter().any(|a| **a == *alias) {
                known.push(Arc::from(alias));
            }
        }
    }
    tools
}

/// A configuration value that cannot be used. Each variant names the option or variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The ingestion host is not an `http` or `https` URL.
    #[error(
        "{option} must be an http(s) URL such as `https://us.i.posthog.com`, got `{value}`: {reason}"
    )]
    InvalidHost {
        /// `POSTHOG_HOST` or `host`.
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A capacity of zero.
    #[error("{option} must be at least 1")]
    ZeroCapacity {
        /// The option.
        option: &'static str,
    },
    /// A timeout of zero would refuse every call.
    #[error("{option} must be longer than zero")]
    ZeroTimeout {
        /// The option.
        option: &'static str,
    },
    /// Two functions are marked `#[posthog_identify]`.
    #[error(
        "two functions are marked #[posthog_identify]: `{first}` ({first_location}) and `{second}` \
         ({second_location}); keep the attribute on one of them, or choose one with Builder::identify"
    )]
    DuplicateIdentify {
        /// The first function.
        first: String,
        /// Where it is.
        first_location: String,
        /// The second function.
        second: String,
        /// Where it is.
        second_location: String,
    },
    /// A `send_feedback` extra property uses a key the crate reserves for its own fields.
    #[error(
        "send_feedback extra property `{field}` uses a reserved name (the core feedback fields and \
         context, conversation_id, llm_model, type, tool are reserved); rename it"
    )]
    ReservedFeedbackField {
        /// The extra property at fault.
        field: String,
    },
    /// A `send_feedback` extra required key has no matching extra property.
    #[error(
        "send_feedback lists `{field}` as a required extra field but declares no extra property of that name"
    )]
    UndeclaredFeedbackField {
        /// The required key at fault.
        field: String,
    },
    /// The server build id is empty or longer than 256 characters; it is never cut, since a cut id would name
    /// another build.
    #[error("server_build must be 1 to 256 characters (a commit SHA or an image digest), got {length}")]
    InvalidServerBuild {
        /// Its length in characters.
        length: usize,
    },
    /// A virtual tool name is blank.
    #[error("{option} must not be blank")]
    BlankName {
        /// The option.
        option: &'static str,
    },
    /// An argument name given to an option is empty or longer than 64 characters.
    #[error("{option}: argument name `{name}` of tool `{tool}` must be 1 to 64 characters")]
    InvalidArgumentName {
        /// The option.
        option: &'static str,
        /// The tool the name was given for.
        tool: String,
        /// The name.
        name: String,
    },
}

/// Where events go when no sink was chosen explicitly.
#[derive(Debug, Clone)]
pub(super) enum SinkChoice {
    /// From the environment: PostHog with a key, else the local sink.
    Auto,
    Explicit(SinkKind),
    Off,
}

pub(super) fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The local sink `POSTHOG_MCP_LOCAL_SINK` names, for a builder read from the environment without a key.
pub(super) fn local_sink_from_env() -> SinkChoice {
    match env_value("POSTHOG_MCP_LOCAL_SINK").as_deref() {
        None => SinkChoice::Auto,
        Some(v) if v.eq_ignore_ascii_case("off") => SinkChoice::Off,
        Some(v) if v.eq_ignore_ascii_case("stderr") => {
            SinkChoice::Explicit(SinkKind::Local(LocalTarget::Stderr))
        }
        Some(v) if v.eq_ignore_ascii_case("jsonl") => {
            SinkChoice::Explicit(SinkKind::Local(LocalTarget::StderrJsonLines))
        }
        Some(path) => SinkChoice::Explicit(SinkKind::Local(LocalTarget::File(PathBuf::from(path)))),
    }
}

/// Checks the agent-facing options: the intent fallback's timeout, the virtual tools' names and the feedback
/// extras.
pub(crate) fn check_agent(
    arguments: &ArgumentOptions,
    tools: &VirtualToolOptions,
) -> Result<(), ConfigError> {
        if arguments.intent_fallback_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                option: "intent_fallback_timeout",
            });
        }
        if tools
            .get_more_tools
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(ConfigError::BlankName {
                option: "get_more_tools_name",
            });
        }
        if tools
            .send_feedback
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(ConfigError::BlankName {
                option: "send_feedback_name",
            });
        }
        for (tool, argument, aliases) in &arguments.input_aliases {
            for name in std::iter::once(argument).chain(aliases) {
                let length = name.chars().count();
                if length == 0 || length > 64 || name.trim().is_empty() {
                    return Err(ConfigError::InvalidArgumentName {
                        option: "input_aliases",
                        tool: tool.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        check_extras(
            &tools.feedback_extra_properties,
            &tools.feedback_extra_required,
        )
    }

/// The sink a builder's key, host and destination name; `None` captures nothing.
pub(crate) fn resolve_sink(builder: &Builder) -> Result<Option<SinkKind>, ConfigError> {
        let (host, option) = builder
            .host
            .clone()
            .unwrap_or_else(|| (DEFAULT_HOST.to_owned(), "host"));
        let parsed = url::Url::parse(&host).map_err(|e| ConfigError::InvalidHost {
            option,
            value: host.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError::InvalidHost {
                option,
                value: host,
                reason: "the scheme must be http or https".into(),
            });
        }
        Ok(match (&builder.sink, &builder.api_key) {
            (SinkChoice::Off, _) => None,
            (SinkChoice::Explicit(sink), _) => Some(sink.clone()),
            (SinkChoice::Auto, Some(key)) => Some(SinkKind::PostHog {
                api_key: key.clone(),
                host: host.trim_end_matches('/').to_owned(),
            }),
            (SinkChoice::Auto, None) => Some(SinkKind::Local(LocalTarget::Stderr)),
        })
    }

/// The identify function: the builder's own, else the one `#[posthog_identify]` function unless registered ones
/// are ignored.
pub(crate) fn resolve_identify(builder: &Builder) -> Result<Option<SharedIdentify>, ConfigError> {
        if builder.identify.is_some() || !builder.identity.use_registry {
            return Ok(builder.identify.clone());
        }
        let mut registered = inventory::iter::<IdentifyRegistration>.into_iter();
        let Some(first) = registered.next() else {
            return Ok(None);
        };
        if let Some(second) = registered.next() {
            return Err(ConfigError::DuplicateIdentify {
                first: first.name.to_owned(),
                first_location: first.location.to_owned(),
                second: second.name.to_owned(),
                second_location: second.location.to_owned(),
            });
        }
        let func = first.func;
        Ok(Some(Arc::new(move |view| func(view))))
    }

/// Build-time check of the feedback extras: no reserved key, every required key declared.
pub(crate) fn check_extras(
    properties: &Map<String, Value>,
    required: &[String],
) -> Result<(), ConfigError> {
    if let Some(field) = properties
        .keys()
        .find(|k| crate::virtual_tools::RESERVED.contains(&k.as_str()))
    {
        return Err(ConfigError::ReservedFeedbackField {
            field: field.clone(),
        });
    }
    if let Some(field) = required.iter().find(|k| !properties.contains_key(*k)) {
        return Err(ConfigError::UndeclaredFeedbackField {
            field: field.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_undeclared_extras_are_configuration_errors() {
        let extras = serde_json::json!({"summary": {"type": "string"}});
        assert_eq!(
            check_extras(extras.as_object().unwrap(), &[]),
            Err(ConfigError::ReservedFeedbackField {
                field: "summary".into()
            })
        );
        let extras = serde_json::json!({"ticket": {"type": "string"}});
        assert_eq!(
            check_extras(extras.as_object().unwrap(), &["severity".into()]),
            Err(ConfigError::UndeclaredFeedbackField {
                field: "severity".into()
            })
        );
        assert!(check_extras(extras.as_object().unwrap(), &["ticket".into()]).is_ok());
    }

    #[test]
    fn an_unparsable_host_names_the_option() {
        let error = Builder::new()
            .api_key("k")
            .host("not a url")
            .build()
            .err()
            .unwrap();
        assert!(matches!(
            error,
            ConfigError::InvalidHost { option: "host", .. }
        ));
        assert!(error.to_string().starts_with("host must be an http(s) URL"));
        let error = Builder::new().host("ftp://x.io").build().err().unwrap();
        assert!(matches!(error, ConfigError::InvalidHost { .. }));
    }

    #[test]
    fn a_zero_capacity_names_the_option() {
        let error = Builder::new()
            .destination(crate::config::Destination::Disabled)
            .identity(crate::config::IdentityOptions::default().identity_cache_capacity(0))
            .build()
            .err()
            .unwrap();
        assert_eq!(
            error,
            ConfigError::ZeroCapacity {
                option: "identity_cache_capacity"
            }
        );
        assert_eq!(
            error.to_string(),
            "identity_cache_capacity must be at least 1"
        );
    }

    #[test]
    fn without_a_key_events_go_to_the_local_sink_on_stderr() {
        let sink = resolve_sink(&Builder::new()).unwrap();
        assert!(matches!(sink, Some(SinkKind::Local(LocalTarget::Stderr))));
        let sink = resolve_sink(&Builder::new().api_key("phc_x").host("http://127.0.0.1:9/")).unwrap();
        assert!(
            matches!(sink, Some(SinkKind::PostHog { host, .. }) if host == "http://127.0.0.1:9")
        );
    }
}
