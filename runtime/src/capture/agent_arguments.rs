//! The arguments the crate owns in a `tools/call` (intent, model, conversation handle): which ones it owns for a
//! tool, taking them out of the request, resolving the model and the intent, noting them on the record, and
//! delivering the conversation handle to the agent.

use std::sync::Arc;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::Value;

use super::Incoming;
use super::Scope;
use super::ServerShared;
use crate::intent::{self, Owned};
use crate::tool::{KnownTool, registered_tool};

/// What a `tools/call` carried for the crate, taken out of its arguments.
pub(super) struct AgentArguments {
    /// The `context` argument, when owned.
    pub context: Option<Value>,
    /// The resolved model and its source.
    pub model: Option<(String, &'static str)>,
    /// The conversation handle and whether the crate minted it.
    pub conversation: Option<(Arc<str>, bool)>,
}

/// Whether the request arrived on a transport session: any connection that is not HTTP (stdio, in memory,
/// a socket: one client each), or an HTTP request whose transport carries a session id.
fn has_transport_session(incoming: &Incoming) -> bool {
    let Some(headers) = incoming.headers.as_deref() else {
        return true;
    };
    incoming.transport_session.is_some()
        || super::first_header(Some(headers), "mcp-session-id").is_some()
}

/// The steps of a call that concern the arguments the crate owns: which they are for a tool, taking them out, and
/// the intent and model they carry.
pub(super) struct AgentSteps<'a> {
    pub(super) server: &'a ServerShared,
}

impl AgentSteps<'_> {
    /// Removes the owned arguments from `request` (before the handler and before `$mcp_parameters`).
    pub(super) fn take_agent_arguments(
        &self,
        incoming: &Incoming,
        request: &mut CallToolRequestParams,
        owned: Owned,
    ) -> AgentArguments {
        let taken = intent::take_owned(&mut request.arguments, owned);
        AgentArguments {
            model: self.model(incoming, request, taken.llm_model.as_ref()),
            // A handle the agent echoes always anchors the call; a new one is minted only where nothing else
            // groups the client's requests, never on a transport session.
            conversation: if owned.conversation_id {
                match intent::echoed_handle(taken.conversation_id.as_ref()) {
                    Some(handle) => Some((handle, false)),
                    // Minted only where it will be used: never on a transport session.
                    None if has_transport_session(incoming) => None,
                    None => Some(intent::conversation_handle(None)),
                }
            } else {
                None
            },
            context: taken.context,
        }
    }

    /// The handle an agent echoed to a tool the crate cannot see (no schema, no attribute): such a tool keeps its
    /// arguments, but the handle still anchors the call, or the unknown tool's event, to its conversation.
    pub(super) fn handle_for_unseen_tool(
        &self,
        name: &str,
        request: &CallToolRequestParams,
    ) -> Option<(Arc<str>, bool)> {
        if !self.server.agent.conversation_id || registered_tool(name).is_some() {
            return None;
        }
        let handle = request.arguments.as_ref()?.get(intent::CONVERSATION_ID);
        intent::echoed_handle(handle).map(|handle| (handle, false))
    }

    /// Which arguments of tool `name` the crate owns: `context`, `llm_model` and `conversation_id` on every tool
    /// whose schema is known (from the registry, a listing or the attribute), each unless the schema declares it or
    /// is composed.
    pub(super) fn ownership(&self, name: &str, known: Option<&KnownTool>) -> Owned {
        let agent = &self.server.agent;
        if !(agent.intent || agent.llm_model || agent.conversation_id) {
            return Owned::default();
        }
        let ownable = match known {
            Some(known) => known.ownable,
            // The attribute's tool without a schema: an empty schema leaves all three free.
            None if registered_tool(name).is_some() => intent::ownable(&serde_json::Map::new()),
            // A tool the crate cannot see: it cannot prove the arguments are its own, so it takes none.
            None => return Owned::default(),
        };
        Owned {
            context: agent.intent && ownable.context,
            llm_model: agent.llm_model && ownable.llm_model,
            conversation_id: agent.conversation_id && ownable.conversation_id,
        }
    }

    /// The call's model: client metadata first, else the owned `llm_model` argument; nothing when the option is
    /// off.
    fn model(
        &self,
        incoming: &Incoming,
        request: &CallToolRequestParams,
        owned: Option<&Value>,
    ) -> Option<(String, &'static str)> {
        if !self.server.agent.llm_model {
            return None;
        }
        let meta = if incoming.meta.is_empty() {
            request.meta.as_ref().map(|m| &m.0.0)
        } else {
            Some(&incoming.meta.0.0)
        };
        intent::resolve_model(meta, owned)
    }

    /// The call's intent: the one it states (with its source), else the fallback's.
    pub(super) async fn intent(
        &self,
        explicit: Option<(String, &'static str)>,
        scope: &mut Scope,
    ) -> Option<(String, &'static str)> {
        if explicit.is_some() {
            return explicit;
        }
        let fallback = self.server.agent.intent_fallback.as_ref()?;
        let view = scope.view.take()?;
        intent::run_fallback(
            fallback,
            view,
            self.server.agent.intent_fallback_timeout,
            &self.server.analytics.inner.clock,
        )
        .await
        .map(|text| (text, intent::SOURCE_INFERRED))
    }
}

/// Delivers the conversation handle: `_mcp_instructions` into object structured content when the tool advertises
/// it, and for a minted handle a data block appended to the content. Returns whether the handle reached the agent.
pub(super) fn deliver_handle(
    result: &mut CallToolResult,
    handle: &str,
    minted: bool,
    instructions: bool,
) -> bool {
    let mut delivered = false;
    if instructions
        && let Some(Value::Object(structured)) = result.structured_content.as_mut()
        && !structured.contains_key(intent::INSTRUCTIONS)
    {
        structured.insert(
            intent::INSTRUCTIONS.to_owned(),
            serde_json::json!({ intent::CONVERSATION_ID: handle }),
        );
        delivered = true;
    }
    if minted {
        result.content.push(intent::handle_block(handle));
        delivered = true;
    }
    delivered
}

/// The agent's arguments on the record: the resolved model and the conversation handle.
pub(super) fn note_agent(
    scope: &mut Scope,
    model: Option<(String, &'static str)>,
    arguments: &AgentArguments,
) {
    scope.record.llm_model = model.map(Box::new);
    scope.record.conversation_id = arguments
        .conversation
        .as_ref()
        .map(|(handle, _)| handle.clone());
}
