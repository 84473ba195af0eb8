//! A failure with an explicit label: the error a tool returns (or a gateway passes to the manual API) when it
//! knows what kind of failure it is. The label groups failures the same way on every server; the failure's own
//! type still names the exception, so error tracking groups by real types.

use std::borrow::Cow;
use std::fmt;

use crate::event::ErrorInfo;

/// The shared vocabulary of failure kinds: `$mcp_error_type` takes the kind's label, so failures group the same
/// way across servers and SDKs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The arguments were not valid for the tool (`validation`).
    Validation,
    /// The caller may not do this (`permission`).
    Permission,
    /// The call lacked context the tool needs, such as a missing selection or an unknown account (`missing_context`).
    MissingContext,
    /// Something took too long (`timeout`).
    Timeout,
    /// An upstream or the server itself limited the rate (`rate_limited`).
    RateLimited,
    /// An upstream API answered with a 4xx status (`api_4xx`).
    Api4xx,
    /// An upstream API answered with a 5xx status (`api_5xx`).
    Api5xx,
    /// The call was cancelled (`cancelled`).
    Cancelled,
    /// The call needed input the client never gave (`input_required`).
    InputRequired,
    /// A fault inside the server (`internal`).
    Internal,
    /// A label of the server's own, for a kind the vocabulary lacks. Keep it short and low-cardinality: never a
    /// message, an id or anything that varies per call.
    Other(Cow<'static, str>),
}

impl ErrorKind {
    /// The label `$mcp_error_type` carries.
    pub fn label(&self) -> &str {
        match self {
            Self::Validation => "validation",
            Self::Permission => "permission",
            Self::MissingContext => "missing_context",
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::Api4xx => "api_4xx",
            Self::Api5xx => "api_5xx",
            Self::Cancelled => "cancelled",
            Self::InputRequired => "input_required",
            Self::Internal => "internal",
            Self::Other(label) => label,
        }
    }
}

/// A tool failure, wrapping the error that caused it, with an explicit [`ErrorKind`] when the server knows one.
///
/// Return it from a tool marked `#[posthog_tool]` (as the `Err` of its `Result`), or pass it to
/// [`ManualServer::finish_call_with_error`](crate::manual::ManualServer::finish_call_with_error). The call's
/// `$mcp_error_type` is the kind's label, or without one the wrapped error's own type name; the `$exception` is
/// always named by that type and carries its message and `source()` chain; an upstream HTTP status becomes
/// `$mcp_error_status`.
///
/// ```
/// use posthog_mcp::{ErrorKind, ToolError};
///
/// #[derive(Debug)]
/// struct UpstreamTimeout;
/// impl std::fmt::Display for UpstreamTimeout {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("upstream timed out")
///     }
/// }
/// impl std::error::Error for UpstreamTimeout {}
///
/// let error = ToolError::new(ErrorKind::Timeout, UpstreamTimeout).with_status(504);
/// assert_eq!(error.kind().map(ErrorKind::label), Some("timeout"));
/// assert_eq!(error.to_string(), "upstream timed out");
/// ```
#[derive(Debug, Clone)]
pub struct ToolError {
    kind: Option<ErrorKind>,
    info: ErrorInfo,
    status: Option<u16>,
}

impl ToolError {
    /// A failure of `kind` caused by `error`, named by `error`'s own type.
    pub fn new<E: std::error::Error + 'static>(kind: ErrorKind, error: E) -> Self {
        Self {
            kind: Some(kind),
            ..Self::thrown(error)
        }
    }

    /// A failure caused by `error`, without a label: `$mcp_error_type` is `error`'s own type name.
    pub fn thrown<E: std::error::Error + 'static>(error: E) -> Self {
        let info = crate::event::typed_error_info::<E>(
            error.to_string(),
            crate::event::source_chain(&error),
        );
        Self {
            kind: None,
            info,
            status: None,
        }
    }

    /// A failure of `kind` with only a message: nothing was thrown, so the exception is the generic `Error`.
    pub fn message(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind: Some(kind),
            info: ErrorInfo {
                type_name: "Error".to_owned(),
                label: None,
                message: message.into(),
                synthetic: false,
                chain: Vec::new(),
                status: None,
            },
            status: None,
        }
    }

    /// The upstream HTTP status the failure came with (`$mcp_error_status`).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The failure's kind, when the server gave one.
    pub fn kind(&self) -> Option<&ErrorKind> {
        self.kind.as_ref()
    }

    /// The failure as the crate records it: the wrapped error's type, message and chain, with the kind's label.
    pub(crate) fn info(&self) -> ErrorInfo {
        ErrorInfo {
            label: self.kind.as_ref().map(|kind| kind.label().to_owned()),
            status: self.status,
            ..self.info.clone()
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.info.message)
    }
}

impl std::error::Error for ToolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct UpstreamTimeout;
    impl fmt::Display for UpstreamTimeout {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("upstream timed out")
        }
    }
    impl std::error::Error for UpstreamTimeout {}

    #[test]
    fn the_label_names_the_call_and_the_wrapped_type_names_the_exception() {
        let info = ToolError::new(ErrorKind::Validation, UpstreamTimeout).info();
        assert_eq!(info.label.as_deref(), Some("validation"));
        assert_eq!(info.type_name, "UpstreamTimeout");
        assert_eq!(info.message, "upstream timed out");
        assert_eq!(info.status, None);
        let thrown = ToolError::thrown(UpstreamTimeout).info();
        assert_eq!(
            (thrown.label, thrown.type_name.as_str()),
            (None, "UpstreamTimeout")
        );
    }

    #[test]
    fn every_kind_has_the_shared_vocabulary_s_label() {
        let labels: Vec<&str> = [
            ErrorKind::Validation,
            ErrorKind::Permission,
            ErrorKind::MissingContext,
            ErrorKind::Timeout,
            ErrorKind::RateLimited,
            ErrorKind::Api4xx,
            ErrorKind::Api5xx,
            ErrorKind::Cancelled,
            ErrorKind::InputRequired,
            ErrorKind::Internal,
        ]
        .iter()
        .map(ErrorKind::label)
        .map(|label| Box::leak(label.to_owned().into_boxed_str()) as &str)
        .collect();
        assert_eq!(
            labels,
            [
                "validation",
                "permission",
                "missing_context",
                "timeout",
                "rate_limited",
                "api_4xx",
                "api_5xx",
                "cancelled",
                "input_required",
                "internal"
            ]
        );
        assert_eq!(ErrorKind::Other("quota".into()).label(), "quota");
    }

    #[test]
    fn a_status_and_a_message_only_failure_are_kept() {
        let info = ToolError::message(ErrorKind::Api5xx, "bad gateway")
            .with_status(502)
            .info();
        assert_eq!(info.type_name, "Error");
        assert_eq!(info.status, Some(502));
        assert_eq!(info.label.as_deref(), Some("api_5xx"));
    }
}
