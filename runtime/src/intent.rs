//! Owned arguments: the `context`, `llm_model` and `conversation_id` arguments the crate injects into tool
//! schemas, the rules that decide when it owns them, and how a call's values become `$mcp_intent`,
//! `$mcp_llm_model` and the conversation handle.
//!
//! Everything here is pure and cheap: schema edits work on copies, and resolution reads the arguments map the
//! request already carries. Agent-written text is never logged.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::hooks::IntentFallbackFn;
use crate::request::RequestView;

/// The injected intent argument.
pub(crate) const CONTEXT: &str = "context";
/// The injected model argument.
pub(crate) const LLM_MODEL: &str = "llm_model";
/// The injected conversation-handle argument.
pub(crate) const CONVERSATION_ID: &str = "conversation_id";

/// Whether `name` is one of the arguments the crate advertises on tools.
pub(crate) fn is_injected_name(name: &str) -> bool {
    matches!(name, CONTEXT | LLM_MODEL | CONVERSATION_ID)
}
/// The structured-content key that carries the conversation handle.
pub(crate) const INSTRUCTIONS: &str = "_mcp_instructions";

/// `$mcp_intent_source` values.
pub(crate) const SOURCE_CONTEXT: &str = "context_parameter";
pub(crate) const SOURCE_INFERRED: &str = "inferred";
/// `$mcp_llm_model_source` values.
pub(crate) const SOURCE_CLIENT_METADATA: &str = "client_metadata";
pub(crate) const SOURCE_SELF_REPORTED: &str = "self_reported";
/// The request metadata key under which a client states the model it runs and the user's intent.
const AI_INVOCATION: &str = "io.modelcontextprotocol/aiInvocation";

/// The `_meta` key some clients use to report the turn's model.
const TURN_METADATA: &str = "x-codex-turn-metadata";

/// What the `context` argument asks of the agent.
pub(crate) const CONTEXT_DESCRIPTION: &str = "Used for analytics only. In 15 to 25 words, written in the \
third person, say why this tool is being called and how that moves the user's overall goal forward. Give the \
abstract purpose only: never include, repeat, paraphrase or infer personal, sensitive or identifying details \
such as names, email addresses, phone numbers, IP addresses, account or record ids, or credentials, and refer \
to specific people, companies or things by a generic role instead (a customer, the vendor, a document). \
Example: \"The assistant is converting a measurement so the user can compare two product specifications in \
the same unit.\"";

/// What the `llm_model` argument asks of the agent.
pub(crate) const LLM_MODEL_DESCRIPTION: &str = "Used for analytics only. The exact identifier of the model \
you are running as, as given by your system prompt or environment, for example \"claude-sonnet-4-5\" or \
\"gpt-5-mini\". If you cannot tell for certain, send \"unknown\" rather than a guess.";

/// What the `conversation_id` argument asks of the agent.
pub(crate) const CONVERSATION_ID_DESCRIPTION: &str = "A conversation identifier issued by this server. \
Omit it on your first call: the server supplies one in that call's response. On every later call, send back \
exactly the value from the server's previous response. Never make one up, and make no parallel tool calls \
until you have received one.";

const INSTRUCTIONS_DESCRIPTION: &str = "Conversation metadata issued by the server.";
const INSTRUCTIONS_ID_DESCRIPTION: &str = "The conversation identifier issued by the server.";

/// Whether a schema's root is composed (`$ref`, `oneOf`, `allOf`, `anyOf`): the crate never edits those.
pub(crate) fn is_composed(schema: &Map<String, Value>) -> bool {
    ["$ref", "oneOf", "allOf", "anyOf"]
        .iter()
        .any(|key| schema.contains_key(*key))
}

/// Whether the crate may own argument `key` of a tool with this input schema: the root is not composed,
/// `properties` (when present) is an object, and it does not declare `key` (with any value, `false` included).
pub(crate) fn can_own(schema: &Map<String, Value>, key: &str) -> bool {
    if is_composed(schema) {
        return false;
    }
    match schema.get("properties") {
        None => true,
        Some(Value::Object(properties)) => !properties.contains_key(key),
        Some(_) => false,
    }
}

/// Adds argument `key` to `schema`, which the caller has checked with [`can_own`]: `properties` created if
/// missing, `additionalProperties: false` removed, the property added, and `key` appended to `required` when
/// `required` is true (never duplicated).
pub(crate) fn inject(
    schema: &mut Map<String, Value>,
    key: &str,
    description: &str,
    required: bool,
) {
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        schema.remove("additionalProperties");
    }
    if schema.is_empty() {
        schema.insert("type".into(), Value::from("object"));
    }
    let properties = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(properties) = properties {
        properties.insert(
            key.to_owned(),
            json!({"type": "string", "description": description}),
        );
    }
    if required {
        let list = schema
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        match list {
            Value::Array(items) => {
                if !items.iter().any(|item| item.as_str() == Some(key)) {
                    items.push(Value::from(key));
                }
            }
            other => *other = json!([key]),
        }
    }
}

/// Adds the optional `_mcp_instructions` property to a plain object output schema. Returns whether it
/// was added; composed schemas, schemas already declaring the key and non-object `properties` are skipped.
pub(crate) fn inject_instructions(schema: &mut Map<String, Value>) -> bool {
    if !can_own(schema, INSTRUCTIONS) {
        return false;
    }
    if schema
        .get("type")
        .is_some_and(|t| t.as_str() != Some("object"))
    {
        return false;
    }
    let properties = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(properties) = properties {
        properties.insert(
            INSTRUCTIONS.to_owned(),
            json!({
                "type": "object",
                "description": INSTRUCTIONS_DESCRIPTION,
                "properties": {
                    CONVERSATION_ID: {"type": "string", "description": INSTRUCTIONS_ID_DESCRIPTION}
                }
            }),
        );
        return true;
    }
    false
}

/// Whether an output schema declares `_mcp_instructions` once advertised: the host declared it, or the crate
/// adds it.
pub(crate) fn advertises_instructions(schema: &Map<String, Value>) -> bool {
    let declared = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key(INSTRUCTIONS));
    declared || inject_instructions(&mut schema.clone())
}

pub(crate) use crate::tool::Owned;

/// Which of the three arguments a tool with this input schema leaves to the crate ([`can_own`] for each).
pub(crate) fn ownable(schema: &Map<String, Value>) -> Owned {
    Owned {
        context: can_own(schema, CONTEXT),
        llm_model: can_own(schema, LLM_MODEL),
        conversation_id: can_own(schema, CONVERSATION_ID),
    }
}

/// The owned values one call carried, removed from its arguments.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub context: Option<Value>,
    pub llm_model: Option<Value>,
    pub conversation_id: Option<Value>,
}

/// Removes the owned arguments from `arguments` in place (before the handler and before `$mcp_parameters`).
pub(crate) fn take_owned(arguments: &mut Option<Map<String, Value>>, owned: Owned) -> Taken {
    let Some(arguments) = arguments.as_mut().filter(|_| owned.any()) else {
        return Taken::default();
    };
    let mut take = |own: bool, key: &str| {
        if own {
            arguments.shift_remove(key)
        } else {
            None
        }
    };
    Taken {
        context: take(owned.context, CONTEXT),
        llm_model: take(owned.llm_model, LLM_MODEL),
        conversation_id: take(owned.conversation_id, CONVERSATION_ID),
    }
}

/// An agent-written intent: a string whose trim is non-blank, trimmed.
pub(crate) fn explicit_intent(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?.trim();
    // An empty object's text is what some agents write for an argument they have nothing to say in.
    (!text.is_empty() && text != "{}").then(|| text.to_owned())
}

/// The intent a call states, with its source: the user's intent the client put in the request metadata
/// (`aiInvocation.userIntent`), which is the client's own account and wins, else the agent's `context` argument.
pub(crate) fn stated_intent(
    meta: Option<&Map<String, Value>>,
    context: Option<&Value>,
) -> Option<(String, &'static str)> {
    let from_meta = meta
        .and_then(|meta| meta.get(AI_INVOCATION))
        .and_then(|invocation| invocation.get("userIntent"));
    explicit_intent(from_meta)
        .map(|text| (text, SOURCE_CLIENT_METADATA))
        .or_else(|| explicit_intent(context).map(|text| (text, SOURCE_CONTEXT)))
}

/// A model value: a string, trimmed; blank or `unknown` (any case) is no value.
fn normalize_model(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    (!text.is_empty() && !text.eq_ignore_ascii_case("unknown")).then(|| text.to_owned())
}

/// The call's model, first hit wins: client metadata (`aiInvocation.model`, else a known client key with its own
/// `model`), else the owned `llm_model` argument.
pub(crate) fn resolve_model(
    meta: Option<&Map<String, Value>>,
    owned: Option<&Value>,
) -> Option<(String, &'static str)> {
    let from_meta = meta.and_then(|meta| {
        [AI_INVOCATION, TURN_METADATA]
            .iter()
            .find_map(|key| meta.get(*key)?.as_object()?.get("model"))
    });
    match from_meta {
        Some(model) => normalize_model(model).map(|m| (m, SOURCE_CLIENT_METADATA)),
        None => owned
            .and_then(normalize_model)
            .map(|m| (m, SOURCE_SELF_REPORTED)),
    }
}

/// Whether `text` is a UUIDv7 in the canonical hyphenated form (any case).
fn is_uuid_v7(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    for (index, byte) in bytes.iter().enumerate() {
        let ok = match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            14 => *byte == b'7',
            19 => matches!(byte.to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b'),
            _ => byte.is_ascii_hexdigit(),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The conversation handle: an echoed UUIDv7 (trimmed, lowercased) is kept; anything else is ignored and a fresh
/// one minted. Returns the handle and whether it was minted.
pub(crate) fn conversation_handle(value: Option<&Value>) -> (Arc<str>, bool) {
    match echoed_handle(value) {
        Some(handle) => (handle, false),
        None => {
            let mut buffer = uuid::Uuid::encode_buffer();
            let handle = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer);
            (Arc::from(&*handle), true)
        }
    }
}

/// The handle an agent echoed: a UUIDv7 (trimmed, lowercased); anything else is none.
pub(crate) fn echoed_handle(value: Option<&Value>) -> Option<Arc<str>> {
    let text = value.and_then(Value::as_str).map(str::trim)?;
    is_uuid_v7(text).then(|| Arc::from(text.to_ascii_lowercase()))
}

/// The text block that hands a freshly minted handle to the agent: compact JSON data, not an instruction.
pub(crate) fn handle_block(handle: &str) -> rmcp::model::ContentBlock {
    // Written directly rather than through a `Value`: this runs on every call that mints a handle.
    let handle = serde_json::to_string(handle).unwrap_or_default();
    let mut text = String::with_capacity(CONVERSATION_ID.len() + handle.len() + 5);
    text.push_str("{\"");
    text.push_str(CONVERSATION_ID);
    text.push_str("\":");
    text.push_str(&handle);
    text.push('}');
    rmcp::model::ContentBlock::text(text)
}

/// Runs the intent fallback; a panic, timeout or blank answer is no intent.
pub(crate) async fn run_fallback(
    fallback: &IntentFallbackFn,
    view: RequestView,
    timeout: Duration,
    clock: &Arc<dyn Clock>,
) -> Option<String> {
    let text = crate::hooks::run(|| fallback(view), timeout, clock, "intent_fallback")
        .await
        .flatten()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_handle_reaches_the_agent_as_compact_json_data() {
        let (handle, minted) = conversation_handle(None);
        assert!(minted);
        assert!(is_uuid_v7(&handle), "{handle}");
        let block = handle_block(&handle);
        let text = &block.as_text().expect("a text block").text;
        assert_eq!(*text, format!("{{\"conversation_id\":\"{handle}\"}}"));
        let parsed: Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(parsed, json!({ CONVERSATION_ID: &*handle }));
    }

    #[test]
    fn the_client_s_stated_intent_and_model_win_over_the_agent_s_arguments() {
        let meta = json!({"io.modelcontextprotocol/aiInvocation": {"userIntent": " Export the report. ", "model": "model-m"}});
        let meta = meta.as_object();
        assert_eq!(
            stated_intent(meta, Some(&json!("from context"))),
            Some(("Export the report.".to_owned(), SOURCE_CLIENT_METADATA))
        );
        assert_eq!(
            stated_intent(None, Some(&json!("from context"))),
            Some(("from context".to_owned(), SOURCE_CONTEXT))
        );
        assert_eq!(
            resolve_model(meta, Some(&json!("model-a"))),
            Some(("model-m".to_owned(), SOURCE_CLIENT_METADATA))
        );
        assert_eq!(
            resolve_model(None, Some(&json!("model-a"))),
            Some(("model-a".to_owned(), SOURCE_SELF_REPORTED))
        );
    }

    #[test]
    fn a_blank_or_empty_object_intent_is_no_intent() {
        for empty in ["", "   ", "{}", " {} "] {
            assert_eq!(
                explicit_intent(Some(&Value::from(empty))),
                None,
                "{empty:?}"
            );
        }
        assert_eq!(explicit_intent(Some(&json!(3))), None, "not a string");
        assert_eq!(
            explicit_intent(Some(&Value::from(" Find the docs. "))).as_deref(),
            Some("Find the docs.")
        );
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn injection_follows_n2() {
        let mut schema = object(json!({"type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "integer"}}, "required": ["a"]}));
        assert!(can_own(&schema, CONTEXT));
        inject(&mut schema, CONTEXT, "d", true);
        inject(&mut schema, CONTEXT, "d", true);
        assert_eq!(
            Value::Object(schema),
            json!({"type": "object", "properties": {"a": {"type": "integer"},
                "context": {"type": "string", "description": "d"}}, "required": ["a", "context"]})
        );
        let mut empty = Map::new();
        inject(&mut empty, CONVERSATION_ID, "d", false);
        assert_eq!(
            Value::Object(empty),
            json!({"type": "object", "properties": {"conversation_id": {"type": "string", "description": "d"}}})
        );
    }

    #[test]
    fn declared_or_composed_schemas_are_not_owned() {
        assert!(!can_own(
            &object(json!({"properties": {"context": false}})),
            CONTEXT
        ));
        assert!(!can_own(&object(json!({"oneOf": []})), CONTEXT));
        assert!(!can_own(&object(json!({"$ref": "#/x"})), CONTEXT));
        assert!(can_own(&object(json!({"type": "object"})), CONTEXT));
    }

    #[test]
    fn only_our_handles_are_accepted() {
        let minted = uuid::Uuid::now_v7().to_string().to_uppercase();
        let (handle, fresh) = conversation_handle(Some(&Value::from(format!(" {minted} "))));
        assert!(!fresh);
        assert_eq!(&*handle, minted.to_lowercase());
        for invented in [
            json!("conv-1"),
            json!(uuid::Uuid::new_v4().to_string()),
            json!(3),
        ] {
            let (handle, fresh) = conversation_handle(Some(&invented));
            assert!(fresh);
            assert!(is_uuid_v7(&handle));
        }
    }

    #[test]
    fn models_prefer_client_metadata() {
        let meta = object(json!({"x-codex-turn-metadata": {"model": " gpt-x "}}));
        assert_eq!(
            resolve_model(Some(&meta), Some(&json!("claude"))),
            Some(("gpt-x".into(), SOURCE_CLIENT_METADATA))
        );
        assert_eq!(
            resolve_model(None, Some(&json!("claude"))),
            Some(("claude".into(), SOURCE_SELF_REPORTED))
        );
        assert_eq!(resolve_model(None, Some(&json!("Unknown"))), None);
        assert_eq!(resolve_model(None, Some(&json!("  "))), None);
    }
}
