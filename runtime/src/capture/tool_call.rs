//! `tools/call`: the call's event from the handler's outcome and what the attribute reported through the per-call
//! slot. The arguments the crate owns (intent, model, conversation handle) and the handle's delivery to the agent
//! are in `agent_arguments.rs`.

use std::sync::Arc;

use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, Tool};

use super::agent_arguments::{AgentArguments, AgentSteps, deliver_handle, note_agent};
use super::input_keys::input_key_names;
pub(crate) use super::outcome::CallOutcome;
use super::outcome::{names_no_tool, record_response, result_error};
use super::{BeginOptions, CallerKeys, Incoming, Scope, ServerShared, errors};
use crate::analytics::CallerContext;
use crate::event::names;
use crate::intent;
use crate::pipeline::{CaptureOptions, ToolFacts, boxed_map};
use crate::session::Connection;
use crate::tool::{CallAnnotations, KnownTool, ToolSpec, registered_tool};

/// A `tools/call` between resolution and the handler's return.
pub(crate) struct PreparedCall {
    scope: Scope,
    name: String,
    known: Option<Arc<KnownTool>>,
    conversation: Option<(Arc<str>, bool)>,
    instructions: bool,
}

impl PreparedCall {
    /// The record being filled (what the adapter's `tracing` span reads).
    pub(crate) fn record(&self) -> &crate::pipeline::RequestRecord {
        &self.scope.record
    }

    /// Who the call is attributed to, for custom events captured inside the handler.
    pub(crate) fn caller(&self) -> Arc<CallerContext> {
        self.scope.caller()
    }

    /// The resolved intent, before sanitization.
    pub(crate) fn intent(&self) -> Option<&str> {
        self.scope
            .record
            .intent
            .as_ref()
            .map(|intent| intent.0.as_str())
    }

    /// The resolved model.
    pub(crate) fn llm_model(&self) -> Option<&str> {
        self.scope
            .record
            .llm_model
            .as_ref()
            .map(|model| model.0.as_str())
    }

    /// The conversation handle the call is anchored to.
    pub(crate) fn conversation_id(&self) -> Option<&str> {
        self.conversation.as_ref().map(|(handle, _)| &**handle)
    }
}

/// Step 1 of a `tools/call`, done synchronously or waiting for host hooks.
enum Prepare {
    /// Nothing to await: the common path.
    Ready(PreparedCall),
    /// An identify function, `event_properties` or the intent fallback must run first
    /// ([`ServerShared::prepare_call_hooks`]).
    Hooks(Box<PendingCall>),
}

/// A `tools/call` whose hooks have yet to run.
struct PendingCall {
    prepared: PreparedCall,
    incoming: Incoming,
    keys: CallerKeys,
    explicit: Option<(String, &'static str)>,
    want_view: bool,
}

/// How a `tools/call` began: answered by a virtual tool, or prepared for the host's handler with the request it
/// should see (the crate's own arguments taken out).
pub(crate) enum BegunCall {
    Answered(CallToolResult),
    Forward(PreparedCall, CallToolRequestParams),
}

/// The steps of a `tools/call`, the same whoever dispatches it (the rmcp wrapper or the manual API): how it
/// begins ([`ToolCalls::begin_tool_call`]), the arguments the crate owns, the intent and model, and how it ends
/// ([`ToolCalls::finish_call`]).
pub(crate) struct ToolCalls<'a> {
    pub(super) server: &'a ServerShared,
}

impl ServerShared {
    /// The steps of a `tools/call` on this server.
    pub(crate) fn tool_calls(&self) -> ToolCalls<'_> {
        ToolCalls { server: self }
    }
}

impl ToolCalls<'_> {
    /// The steps about the arguments the crate owns.
    pub(super) fn agent(&self) -> AgentSteps<'_> {
        AgentSteps {
            server: self.server,
        }
    }

    /// Step 1 of any `tools/call` (answered by the host or virtually): resolution on the conversation's session
    /// when there is a handle, then the intent (`explicit`, else the fallback's) and the model.
    pub(super) async fn begin_call(
        &self,
        connection: &Connection,
        incoming: &Incoming,
        event: &'static str,
        request: &CallToolRequestParams,
        explicit: Option<(String, &'static str)>,
        arguments: &AgentArguments,
    ) -> Scope {
        let mut scope = self
            .server
            .begin(
                connection,
                event,
                "tools/call",
                incoming,
                request,
                self.call_options(explicit.is_some(), arguments),
            )
            .await;
        scope.record.intent = self
            .agent()
            .intent(explicit, &mut scope)
            .await
            .map(Box::new);
        note_agent(&mut scope, arguments.model.clone(), arguments);
        scope
    }

    /// The options of step 1 for a `tools/call`: the conversation's session when there is a handle, and a view
    /// kept for the intent fallback when the call brings no intent of its own.
    fn call_options(&self, explicit: bool, arguments: &AgentArguments) -> BeginOptions<'static> {
        BeginOptions {
            want_view: !explicit && self.server.agent.intent_fallback.is_some(),
            session: arguments
                .conversation
                .as_ref()
                .map(|(handle, _)| Arc::from(crate::session::derive_session_id(handle))),
            ..BeginOptions::default()
        }
    }

    /// How every `tools/call` begins, whoever dispatches it (the rmcp wrapper or the manual API): a call to a
    /// virtual tool is answered and captured here; any other call has the crate's arguments taken out and its
    /// session, caller, intent and model resolved, and goes to the host's handler with the request that remains.
    /// [`Self::finish_call`] is its one end.
    pub(crate) async fn begin_tool_call(
        &self,
        connection: &Connection,
        incoming: Incoming,
        mut request: CallToolRequestParams,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> BegunCall {
        if let Some(kind) = self.server.catalog().virtual_route(&request.name, lookup) {
            // Boxed: a virtual tool's answer (rare) would otherwise set the size of every call's future.
            let answer = Box::pin(self.answer_virtual(connection, incoming, kind, request)).await;
            return BegunCall::Answered(answer);
        }
        let prepared = self
            .prepare_call(connection, incoming, &mut request, lookup)
            .await;
        BegunCall::Forward(prepared, request)
    }

    /// Step 1 for a `tools/call` the host answers.
    async fn prepare_call(
        &self,
        connection: &Connection,
        incoming: Incoming,
        request: &mut CallToolRequestParams,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> PreparedCall {
        match self.prepare_call_now(connection, incoming, request, lookup) {
            Prepare::Ready(prepared) => prepared,
            // Boxed: only a server with hooks keeps their state in the caller's future.
            Prepare::Hooks(pending) => Box::pin(self.prepare_call_hooks(pending, request)).await,
        }
    }

    /// Step 1 for a `tools/call` the host answers, without awaiting: ready unless a host hook must run first
    /// ([`Self::needs_hooks`]), in which case [`Self::prepare_call_hooks`] completes it.
    fn prepare_call_now(
        &self,
        connection: &Connection,
        incoming: Incoming,
        request: &mut CallToolRequestParams,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> Prepare {
        let name = request.name.to_string();
        let known = self.server.catalog().known_tool(&name, lookup);
        let owned = self.agent().ownership(&name, known.as_deref());
        let mut arguments = self.agent().take_agent_arguments(&incoming, request, owned);
        if arguments.conversation.is_none() && known.is_none() {
            arguments.conversation = self.agent().handle_for_unseen_tool(&name, request);
        }
        let meta = (!incoming.meta.is_empty()).then_some(&incoming.meta.0.0);
        let explicit = intent::stated_intent(meta, arguments.context.as_ref());
        let instructions =
            arguments.conversation.is_some() && known.as_ref().is_some_and(|k| k.instructions);
        let options = self.call_options(explicit.is_some(), &arguments);
        let want_view = options.want_view;
        let (mut scope, keys) = self.server.begin_now(
            connection,
            names::TOOL_CALL,
            "tools/call",
            &incoming,
            &*request,
            options,
        );
        note_agent(&mut scope, arguments.model.take(), &arguments);
        let agent = &self.server.agent;
        scope.record.input_keys = input_key_names(
            agent.input_keys,
            request.arguments.as_ref(),
            known.as_deref().map(|known| &*known.input),
            agent.input_aliases.get(name.as_str()),
        );
        let hooks = self.server.needs_hooks(want_view);
        let explicit = if hooks {
            explicit
        } else {
            // Without a fallback hook the intent is the explicit text or nothing (as `intent` resolves it).
            scope.record.intent = explicit.map(Box::new);
            None
        };
        let prepared = PreparedCall {
            scope,
            name,
            known,
            conversation: arguments.conversation,
            instructions,
        };
        if !hooks {
            return Prepare::Ready(prepared);
        }
        Prepare::Hooks(Box::new(PendingCall {
            prepared,
            incoming,
            keys,
            explicit,
            want_view,
        }))
    }

    /// The rest of step 1 when host hooks run: identity and `event_properties`, then the intent.
    async fn prepare_call_hooks(
        &self,
        pending: Box<PendingCall>,
        request: &CallToolRequestParams,
    ) -> PreparedCall {
        let PendingCall {
            mut prepared,
            incoming,
            keys,
            explicit,
            want_view,
        } = *pending;
        let scope = &mut prepared.scope;
        self.server
            .run_hooks(scope, "tools/call", &incoming, request, keys, want_view)
            .await;
        scope.record.intent = self.agent().intent(explicit, scope).await.map(Box::new);
        prepared
    }

    /// Steps 2–3 for a prepared call: the outcome is classified, the conversation handle delivered (which may
    /// add to `response`), and the record handed to the worker.
    pub(crate) fn finish_call(
        &self,
        prepared: PreparedCall,
        mut annotations: CallAnnotations,
        outcome: CallOutcome<'_>,
    ) {
        let PreparedCall {
            mut scope,
            name,
            known,
            conversation,
            instructions,
        } = prepared;
        // The attribute reports its spec from inside the handler; the link-time registry covers a handler the
        // attribute did not reach (and the manual API, which runs no handler of ours).
        let spec = annotations.spec.or_else(|| registered_tool(&name));
        if known.is_none() && spec.is_none() && names_no_tool(&outcome) {
            return self.unknown_tool(scope, name);
        }
        let record = &mut scope.record;
        describe_tool(record, name, known.as_deref(), spec);
        record.tool_properties = boxed_map(std::mem::take(&mut annotations.properties));
        let typed_error = annotations.error.take();
        let mut delivered = false;
        let mut parked = None;
        match outcome {
            CallOutcome::Response(response) => {
                // A typed error the attribute or the manual API reported makes the call a failure whatever
                // result the client was given.
                let is_error = typed_error.is_some()
                    || matches!(&*response, CallToolResponse::Complete(r) if r.is_error == Some(true));
                record.is_error = Some(is_error);
                // An instrumented tool whose body never started: rmcp could not extract its parameters, the
                // arguments, and answered with an error result.
                let rejected_arguments =
                    annotations.watched && spec.is_some() && !annotations.started;
                if is_error {
                    record.error = typed_error
                        .or_else(|| result_error(response, rejected_arguments))
                        .map(Box::new);
                }
                if let (Some((handle, minted)), CallToolResponse::Complete(result)) =
                    (&conversation, &mut *response)
                {
                    delivered = deliver_handle(result, handle, *minted, instructions);
                }
                parked = record_response(record, response);
            }
            CallOutcome::Error(error) => {
                record.is_error = Some(true);
                record.error = Some(Box::new(
                    typed_error.unwrap_or_else(|| errors::protocol_error(error)),
                ));
            }
            CallOutcome::Panic(panic) => {
                record.is_error = Some(true);
                record.error = Some(Box::new(errors::panic_error(panic)));
            }
        }
        if conversation.is_some_and(|(_, minted)| minted) && !delivered {
            // The agent never saw the handle: neither it nor the session derived from it describes this call.
            record.conversation_id = None;
            record.session_id = Arc::from(crate::session::generate_session_id());
        }
        match parked {
            // A task-augmented call is reported when its task ends (`tasks.rs`).
            Some(task_id) => self.server.tasks().park(scope, task_id),
            None => self.server.finish(scope),
        }
    }
}

impl ToolCalls<'_> {
    /// A call to a tool the server does not have is not a tool call: it is recorded as `$mcp_unknown_tool`, with
    /// the name the agent asked for and none of its arguments, and no exception.
    fn unknown_tool(&self, mut scope: Scope, name: String) {
        let record = &mut scope.record;
        record.event = names::UNKNOWN_TOOL;
        record.tool = Some(ToolFacts {
            name: std::borrow::Cow::Owned(name),
            verified: false,
            ..ToolFacts::default()
        });
        record.capture_parameters = false;
        record.input_keys = None;
        record.response = None;
        record.is_error = None;
        record.error = None;
        self.server.finish(scope);
    }
}

/// The tool on the record: its name, its description and category (the attribute's category first, then the
/// host's `_meta`), and, when it is instrumented (`spec`), the capture options its attribute chose.
fn describe_tool(
    record: &mut crate::pipeline::RequestRecord,
    name: String,
    known: Option<&KnownTool>,
    spec: Option<&'static ToolSpec>,
) {
    let mut facts = ToolFacts {
        // The name the request thread allocated is freed here, on it, when the spec holds the same one.
        name: match spec {
            Some(spec) if spec.name == name => std::borrow::Cow::Borrowed(spec.name),
            _ => std::borrow::Cow::Owned(name),
        },
        verified: known.is_some() || spec.is_some(),
        ..ToolFacts::default()
    };
    let (description, category) = known
        .map(|k| (k.description.clone(), k.category.clone()))
        .unwrap_or_default();
    facts.description = description;
    facts.category = spec
        .and_then(|spec| spec.category)
        .and_then(super::arc_str)
        .or(category);
    if let Some(spec) = spec {
        record.capture = CaptureOptions {
            args: spec.capture_args,
            response: spec.capture_response,
            redact: spec.redact,
        };
    }
    record.tool = Some(facts);
}
