//! The option group of the arguments the crate owns in a call ([`ArgumentOptions`]): the agent's intent, its model,
//! the conversation handle, and which argument names a call records ([`InputKeys`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;

use crate::hooks::IntentFallbackFn;
use crate::request::RequestView;

/// The arguments the crate adds to every tool and takes out of each call, for
/// [`Builder::arguments`](super::Builder::arguments): the agent's intent, its model and a conversation handle.
///
/// ```
/// let options = posthog_mcp::ArgumentOptions::default()
///     .intent(false)
///     .llm_model(false);
/// ```
#[derive(Clone)]
#[must_use]
pub struct ArgumentOptions {
    pub(crate) intent: bool,
    pub(crate) intent_description: Option<Arc<str>>,
    pub(crate) intent_fallback: Option<IntentFallbackFn>,
    pub(crate) intent_fallback_timeout: Duration,
    pub(crate) llm_model: bool,
    pub(crate) llm_model_description: Option<Arc<str>>,
    pub(crate) conversation_id: bool,
    pub(crate) input_keys: InputKeys,
    pub(crate) input_aliases: Vec<(String, String, Vec<String>)>,
}

/// Which argument names a call's `$mcp_input_keys` records, for [`ArgumentOptions::input_keys`]. Names only,
/// never values; a name over 64 characters, or one not recorded, shows as one `"[redacted]"` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InputKeys {
    /// No `$mcp_input_keys`.
    Off,
    /// The names the tool's input schema declares, and the aliases given with
    /// [`ArgumentOptions::input_aliases`] (the default): an agent's invented names are not recorded.
    #[default]
    Declared,
    /// Every name the agent sent, declared ones first.
    All,
}

impl Default for ArgumentOptions {
    fn default() -> Self {
        Self {
            intent: true,
            intent_description: None,
            intent_fallback: None,
            intent_fallback_timeout: Duration::from_secs(2),
            llm_model: true,
            llm_model_description: None,
            conversation_id: true,
            input_keys: InputKeys::default(),
            input_aliases: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ArgumentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgumentOptions")
            .field("intent", &self.intent)
            .field("intent_description", &self.intent_description)
            .field("intent_fallback", &self.intent_fallback.is_some())
            .field("intent_fallback_timeout", &self.intent_fallback_timeout)
            .field("llm_model", &self.llm_model)
            .field("llm_model_description", &self.llm_model_description)
            .field("conversation_id", &self.conversation_id)
            .field("input_keys", &self.input_keys)
            .field("input_aliases", &self.input_aliases)
            .finish()
    }
}

impl ArgumentOptions {
    /// Whether tools get a required `context` argument whose text becomes `$mcp_intent` (default on).
    pub fn intent(mut self, enabled: bool) -> Self {
        self.intent = enabled;
        self
    }

    /// Replaces the default description of the injected `context` argument. A tool's own
    /// `#[posthog_tool(intent_description = "…")]` takes precedence over it.
    pub fn intent_description(mut self, description: impl Into<String>) -> Self {
        self.intent_description = Some(Arc::from(description.into()));
        self
    }

    /// Infers an intent when a tool call carries no `context`. Runs before the handler, under
    /// [`ArgumentOptions::intent_fallback_timeout`] (default 2 s); a panic, timeout or blank text records no
    /// intent.
    pub fn intent_fallback<F, Fut>(mut self, fallback: F) -> Self
    where
        F: Fn(RequestView) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.intent_fallback = Some(Arc::new(move |view| fallback(view).boxed()));
        self
    }

    /// How long the intent fallback may take (default 2 s).
    pub fn intent_fallback_timeout(mut self, timeout: Duration) -> Self {
        self.intent_fallback_timeout = timeout;
        self
    }

    /// Whether the model is captured as `$mcp_llm_model`: from client metadata, else an injected `llm_model`
    /// argument (default on).
    pub fn llm_model(mut self, enabled: bool) -> Self {
        self.llm_model = enabled;
        self
    }

    /// Replaces the description of the injected `llm_model` argument.
    pub fn llm_model_description(mut self, description: impl Into<String>) -> Self {
        self.llm_model_description = Some(Arc::from(description.into()));
        self
    }

    /// Whether calls are anchored to a conversation handle the agent echoes in an optional `conversation_id`
    /// argument (default on). A handle is minted and appended to a result only where nothing else groups the
    /// client's calls: a stateless HTTP request without a session.
    pub fn conversation_id(mut self, enabled: bool) -> Self {
        self.conversation_id = enabled;
        self
    }

    /// Which argument names each call records in `$mcp_input_keys` (default [`InputKeys::Declared`]).
    pub fn input_keys(mut self, mode: InputKeys) -> Self {
        self.input_keys = mode;
        self
    }

    /// The other names tool `tool` accepts for its argument `argument`, in the order it looks for them. A call
    /// that sends the argument only under one of them records `"<alias>:<argument>"` in
    /// `$mcp_input_aliases_used` (the first alias present), and the aliases count as declared names for
    /// `$mcp_input_keys`. Every name must be 1 to 64 characters ([`ConfigError::InvalidArgumentName`]
    /// otherwise); calling it again for the same tool and argument adds to its aliases.
    ///
    /// [`ConfigError::InvalidArgumentName`]: super::ConfigError::InvalidArgumentName
    pub fn input_aliases(
        mut self,
        tool: impl Into<String>,
        argument: impl Into<String>,
        aliases: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.input_aliases.push((
            tool.into(),
            argument.into(),
            aliases.into_iter().map(Into::into).collect(),
        ));
        self
    }
}

