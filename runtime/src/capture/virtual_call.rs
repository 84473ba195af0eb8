//! Calls to the crate's virtual tools: `get_more_tools` and `send_feedback` are answered here, without the host,
//! and captured as their own events, never as a `$mcp_tool_call`.

use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};

use super::Incoming;
use super::agent_arguments::deliver_handle;
use super::tool_call::ToolCalls;
use crate::event::names;
use crate::intent::{self, Owned};
use crate::pipeline::Encoded;
use crate::session::Connection;
use crate::virtual_tools::{self, Feedback, VirtualKind};

impl ToolCalls<'_> {
    /// Answers a call to a virtual tool and captures its one event.
    pub(crate) async fn answer_virtual(
        &self,
        connection: &Connection,
        incoming: Incoming,
        kind: VirtualKind,
        mut request: CallToolRequestParams,
    ) -> CallToolResult {
        let name = request.name.to_string();
        let owned = Owned {
            context: kind == VirtualKind::MoreTools,
            llm_model: self.server.agent.llm_model,
            conversation_id: self.server.agent.conversation_id,
        };
        let feedback = (kind == VirtualKind::Feedback).then(|| {
            Feedback::parse(
                request.arguments.as_ref(),
                &self.server.agent.feedback_extra_properties,
            )
        });
        let arguments = self
            .agent()
            .take_agent_arguments(&incoming, &mut request, owned);
        let explicit = match &feedback {
            Some(feedback) => feedback.intent().map(|text| (text, intent::SOURCE_CONTEXT)),
            None => intent::explicit_intent(arguments.context.as_ref())
                .map(|text| (text, intent::SOURCE_CONTEXT)),
        };
        let event = match kind {
            VirtualKind::MoreTools => names::MISSING_CAPABILITY,
            VirtualKind::Feedback => names::FEEDBACK,
        };
        let mut scope = self
            .begin_call(connection, &incoming, event, &request, explicit, &arguments)
            .await;
        scope.record.resource_name = Some(name);
        let reply = match &feedback {
            None => virtual_tools::MORE_TOOLS_REPLY.to_owned(),
            Some(feedback) => self.feedback_reply(feedback.clone()).await,
        };
        let mut result = CallToolResult::success(vec![ContentBlock::text(reply)]);
        if let Some((handle, minted)) = &arguments.conversation {
            deliver_handle(&mut result, handle, *minted, false);
        }
        // A report is free text that only the free-text pass sanitizes: its arguments are never captured raw.
        scope.record.capture_parameters = false;
        scope.record.feedback = feedback.map(Box::new);
        scope.record.is_error = Some(false);
        scope.record.response = Some(Encoded::of(&result));
        self.server.finish(scope);
        result
    }

    /// The feedback handler's reply, under its guard; the default reply when it has none to give.
    async fn feedback_reply(&self, feedback: Feedback) -> String {
        let Some(handler) = self.server.agent.feedback_handler.clone() else {
            return virtual_tools::FEEDBACK_REPLY.to_owned();
        };
        crate::hooks::run(
            move || handler(feedback),
            self.server.agent.feedback_handler_timeout,
            &self.server.analytics.inner.clock,
            "feedback_handler",
        )
        .await
        .flatten()
        .filter(|text| !text.trim().is_empty())
        .unwrap_or_else(|| virtual_tools::FEEDBACK_REPLY.to_owned())
    }
}
