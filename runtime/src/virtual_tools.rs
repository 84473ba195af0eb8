//! The virtual tools `get_more_tools` and `send_feedback`, which the crate advertises and answers itself. This
//! module holds their descriptors, the lenient parsing of a feedback report, the type of the host's feedback
//! handler that receives it, the replies, and the `$mcp_feedback_*` properties built on the delivery worker.
//!
//! Every text the agent reads here is the crate's own wording. Agent-written text is never logged.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::privacy;

/// The default name of the missing-capability tool.
pub const GET_MORE_TOOLS: &str = "get_more_tools";
/// The default name of the feedback tool.
pub const SEND_FEEDBACK: &str = "send_feedback";

/// Keys a feedback extra may not use: the report's own fields, their short forms, and the arguments the crate
/// owns.
pub(crate) const RESERVED: [&str; 13] = [
    "feedback_type",
    "summary",
    "details",
    "friction_points",
    "suggested_improvement",
    "tool_name",
    "sentiment",
    "task_completed",
    "type",
    "tool",
    "context",
    "conversation_id",
    "llm_model",
];

const FEEDBACK_TYPES: [&str; 4] = ["missing_capability", "issue", "praise", "other"];
const SENTIMENTS: [&str; 4] = ["positive", "neutral", "negative", "mixed"];

const CAP_TEXT: usize = 2048;
const CAP_NAME: usize = 256;

const MORE_TOOLS_TITLE: &str = "Look for more tools";
const MORE_TOOLS_DESCRIPTION: &str = "Ask this server for further tools. Call it whenever a more specialised \
capability would serve the user's goal better than the tools you can see, even if one of them could be made to \
work as a fallback.";
const MORE_TOOLS_CONTEXT: &str = "The goal you are working towards and the kind of tool that would help you \
reach it.";
/// The acknowledgement `get_more_tools` answers with.
pub(crate) const MORE_TOOLS_REPLY: &str = "You have already been shown every tool this server offers. Your \
request has been noted and will be used to improve the tools available here.";

const FEEDBACK_TITLE: &str = "Send feedback to the server's developers";
const FEEDBACK_DESCRIPTION: &str = "Tell the developers of this server about your experience with its tools. \
Its main purpose is reporting a capability you needed but could not find here, even when you worked around it. \
Reports of tools that failed or were confusing, of error messages that did not help, and praise for tools that \
worked well are welcome too. This records your feedback; it does not change the tools available to you. Do not \
include personal information about the user.";
/// The reply when no feedback handler words one.
pub(crate) const FEEDBACK_REPLY: &str = "Thank you: your feedback has been passed on to the developers of this \
server. There are no further tools to discover, so please carry on with the tools already listed.";

/// Which virtual tool a call reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VirtualKind {
    MoreTools,
    Feedback,
}

fn annotations(title: &str) -> rmcp::model::ToolAnnotations {
    rmcp::model::ToolAnnotations::with_title(title)
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(true)
}

/// The `get_more_tools` descriptor.
pub(crate) fn more_tools_tool(name: &str) -> rmcp::model::Tool {
    let schema = json!({
        "type": "object",
        "properties": {"context": {"type": "string", "description": MORE_TOOLS_CONTEXT}},
        "required": ["context"]
    });
    let Value::Object(schema) = schema else {
        unreachable!()
    };
    rmcp::model::Tool::new(name.to_owned(), MORE_TOOLS_DESCRIPTION, Arc::new(schema))
        .annotate(annotations(MORE_TOOLS_TITLE))
}

/// The `send_feedback` descriptor, with the host's extra fields.
pub(crate) fn feedback_tool(
    name: &str,
    description: Option<&str>,
    extras: &Map<String, Value>,
    extra_required: &[String],
) -> rmcp::model::Tool {
    let mut properties = json!({
        "feedback_type": {
            "type": "string",
            "enum": FEEDBACK_TYPES,
            "description": "The kind of report. missing_capability: you needed a tool or an option that does \
    not exist; this is the most valuable report. issue: a tool failed, behaved unexpectedly or was confusing. \
    praise: a tool worked especially well. other: anything else."
        },
        "summary": {
            "type": "string",
            "description": "One self-contained sentence naming the capability you missed, or the tool concerned \
    and what went wrong with it."
        },
        "details": {
            "type": "string",
            "description": "What you tried, the values you used, any error text you received, and the \
    workaround you used, if any."
        },
        "friction_points": {
            "type": "string",
            "description": "The specific moments that slowed you down or made you hesitate."
        },
        "suggested_improvement": {
            "type": "string",
            "description": "The concrete change that would have helped you most."
        },
        "tool_name": {
            "type": "string",
            "description": "The existing tool this report is about; leave it empty for a missing capability."
        },
        "sentiment": {
            "type": "string",
            "enum": SENTIMENTS,
            "description": "Your overall experience with this server's tools."
        },
        "task_completed": {
            "type": "boolean",
            "description": "Whether you managed to complete the task anyway."
        }
    });
    if let Value::Object(properties) = &mut properties {
        for (key, schema) in extras {
            properties.insert(key.clone(), schema.clone());
        }
    }
    let mut required = vec![Value::from("feedback_type"), Value::from("summary")];
    required.extend(extra_required.iter().map(|k| Value::from(k.as_str())));
    let schema = json!({"type": "object", "properties": properties, "required": required});
    let Value::Object(schema) = schema else {
        unreachable!()
    };
    rmcp::model::Tool::new(
        name.to_owned(),
        description.unwrap_or(FEEDBACK_DESCRIPTION).to_owned(),
        Arc::new(schema),
    )
    .annotate(annotations(FEEDBACK_TITLE))
}

/// One `send_feedback` report as the agent sent it, parsed leniently. Texts are as written (not
/// sanitized): this is what the feedback handler receives for the host's own backend.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Feedback {
    /// `missing_capability`, `issue`, `praise` or `other` (anything else becomes `other`).
    pub feedback_type: &'static str,
    /// The one-sentence summary; empty when the agent sent none.
    pub summary: String,
    /// What was tried.
    pub details: Option<String>,
    /// What slowed the agent down.
    pub friction_points: Option<String>,
    /// The change that would have helped.
    pub suggested_improvement: Option<String>,
    /// The existing tool concerned.
    pub tool_name: Option<String>,
    /// `positive`, `neutral`, `negative` or `mixed`.
    pub sentiment: Option<&'static str>,
    /// Whether the task was completed anyway.
    pub task_completed: Option<bool>,
    /// The declared extra fields that were present and valid, in declaration order.
    pub extras: Map<String, Value>,
}

/// A host function that receives each `send_feedback` report and may word the reply.
pub(crate) type FeedbackHandlerFn =
    Arc<dyn Fn(Feedback) -> BoxFuture<'static, Option<String>> + Send + Sync>;

fn kept_text(arguments: &Map<String, Value>, key: &str) -> Option<String> {
    let text = arguments.get(key)?.as_str()?;
    (!text.trim().is_empty()).then(|| text.to_owned())
}

fn one_of(
    arguments: &Map<String, Value>,
    key: &str,
    values: &[&'static str],
) -> Option<&'static str> {
    let given = arguments.get(key)?.as_str()?;
    values.iter().copied().find(|v| *v == given)
}

fn has_type(value: &Value, declared: &str) -> bool {
    match declared {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value
            .as_f64()
            .is_some_and(|n| n.fract() == 0.0 && n.is_finite()),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn valid_extra(value: &Value, schema: &Value) -> bool {
    let type_ok = match schema.get("type") {
        None => true,
        Some(Value::String(declared)) => has_type(value, declared),
        Some(Value::Array(declared)) => declared
            .iter()
            .filter_map(Value::as_str)
            .any(|d| has_type(value, d)),
        Some(_) => false,
    };
    let enum_ok = match schema.get("enum") {
        Some(Value::Array(allowed)) => allowed.contains(value),
        _ => true,
    };
    type_ok && enum_ok
}

impl Feedback {
    /// Parses a report; never fails: an unknown `feedback_type` is `other`, blank text is dropped, and an extra
    /// is kept only when declared, of its declared type and inside its `enum`.
    pub(crate) fn parse(
        arguments: Option<&Map<String, Value>>,
        extras: &Map<String, Value>,
    ) -> Self {
        let empty = Map::new();
        let arguments = arguments.unwrap_or(&empty);
        let mut captured = Map::new();
        for (key, schema) in extras {
            if let Some(value) = arguments.get(key)
                && valid_extra(value, schema)
            {
                captured.insert(key.clone(), value.clone());
            }
        }
        Self {
            feedback_type: one_of(arguments, "feedback_type", &FEEDBACK_TYPES).unwrap_or("other"),
            summary: kept_text(arguments, "summary").unwrap_or_default(),
            details: kept_text(arguments, "details"),
            friction_points: kept_text(arguments, "friction_points"),
            suggested_improvement: kept_text(arguments, "suggested_improvement"),
            tool_name: kept_text(arguments, "tool_name"),
            sentiment: one_of(arguments, "sentiment", &SENTIMENTS),
            task_completed: arguments.get("task_completed").and_then(Value::as_bool),
            extras: captured,
        }
    }

    /// `$mcp_intent` for a feedback call: summary and details joined by a blank line, trimmed.
    pub(crate) fn intent(&self) -> Option<String> {
        let parts: Vec<&str> = [Some(self.summary.as_str()), self.details.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let joined = parts.join("\n\n");
        (!joined.is_empty()).then_some(joined)
    }

    /// The `$mcp_feedback_*` properties, sanitized and capped: runs on the delivery worker.
    pub(crate) fn properties(&self) -> Map<String, Value> {
        let text = |value: &str, cap: usize| Value::String(privacy::free_text_limited(value, cap));
        let mut props = Map::new();
        props.insert("$mcp_feedback_type".into(), Value::from(self.feedback_type));
        if !self.summary.is_empty() {
            props.insert(
                "$mcp_feedback_summary".into(),
                text(&self.summary, CAP_TEXT),
            );
        }
        for (key, value) in [
            ("$mcp_feedback_details", &self.details),
            ("$mcp_feedback_friction_points", &self.friction_points),
            (
                "$mcp_feedback_suggested_improvement",
                &self.suggested_improvement,
            ),
        ] {
            if let Some(value) = value {
                props.insert(key.into(), text(value, CAP_TEXT));
            }
        }
        if let Some(tool) = &self.tool_name {
            props.insert("$mcp_feedback_tool".into(), text(tool, CAP_NAME));
        }
        if let Some(sentiment) = self.sentiment {
            props.insert("$mcp_feedback_sentiment".into(), Value::from(sentiment));
        }
        if let Some(done) = self.task_completed {
            props.insert("$mcp_feedback_task_completed".into(), Value::Bool(done));
        }
        for (key, value) in &self.extras {
            let captured = if sensitive_key(key) {
                Value::from("[redacted]")
            } else {
                match value {
                    Value::String(s) => text(s, CAP_TEXT),
                    Value::Object(_) | Value::Array(_) => {
                        let mut copy = value.clone();
                        privacy::sanitize_parameters(&mut copy);
                        let json = serde_json::to_string(&copy).unwrap_or_default();
                        Value::String(privacy::truncate(&json, CAP_TEXT).into_owned())
                    }
                    other => other.clone(),
                }
            };
            props.insert(format!("$mcp_feedback_{key}"), captured);
        }
        props
    }
}

/// Whether key-based redaction applies to `key`, asked of the privacy pass itself.
fn sensitive_key(key: &str) -> bool {
    let mut probe = Value::Object(Map::from_iter([(key.to_owned(), Value::Null)]));
    privacy::sanitize_parameters(&mut probe);
    probe.get(key).is_some_and(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_is_lenient() {
        let extras =
            json!({"count": {"type": "integer"}, "level": {"type": "string", "enum": ["a", "b"]}});
        let args = json!({"feedback_type": "rant", "summary": "  ", "details": "tried x",
            "sentiment": "angry", "task_completed": "yes", "count": 3.0, "level": "c"});
        let feedback = Feedback::parse(args.as_object(), extras.as_object().unwrap());
        assert_eq!(feedback.feedback_type, "other");
        assert_eq!(feedback.summary, "");
        assert_eq!(feedback.details.as_deref(), Some("tried x"));
        assert_eq!(feedback.sentiment, None);
        assert_eq!(feedback.task_completed, None);
        assert_eq!(
            Value::Object(feedback.extras.clone()),
            json!({"count": 3.0})
        );
        assert_eq!(feedback.intent().as_deref(), Some("tried x"));
        assert!(sensitive_key("api_key"));
        assert!(!sensitive_key("ticket"));
    }
}
