//! `tools/list`: what the crate learns from the host's listing (its tools, the first page's names that decide
//! virtual routing), and the listing as the agent sees it, decorated with the owned arguments and the virtual
//! tools. Schemas are edited copy-on-write, so the host's own values are never mutated; with every option off the
//! listing is returned as it came.

use std::collections::HashSet;
use std::sync::{Arc, MutexGuard};

use rmcp::ErrorData;
use rmcp::model::{ListToolsResult, Tool};

use super::{Scope, ServerShared, errors};
use crate::analytics::ServerState;
use crate::config::AgentOptions;
use crate::intent;
use crate::pipeline::Encoded;
use crate::tool::{KnownTool, registered_tool};
use crate::virtual_tools::{self, VirtualKind};

/// What the crate knows of one server's tools, and the listing it shows the agent: the facts read from the host's
/// `get_tool` or listing, the first page's names that decide virtual routing, and the decoration.
pub(crate) struct ToolCatalog<'a> {
    state: &'a ServerState,
    agent: &'a AgentOptions,
}

impl ServerShared {
    /// The server's tool catalog.
    pub(crate) fn catalog(&self) -> ToolCatalog<'_> {
        ToolCatalog {
            state: &self.state,
            agent: &self.agent,
        }
    }

    /// A `tools/list` outcome: decorated on success, captured either way.
    pub(crate) fn listed(
        &self,
        mut scope: Scope,
        outcome: Result<ListToolsResult, ErrorData>,
        first_page: bool,
    ) -> Result<ListToolsResult, ErrorData> {
        match outcome {
            Ok(listing) => {
                let listing = self.catalog().decorate_listing(listing, first_page);
                scope.record.is_error = Some(false);
                scope.record.response = Some(Encoded::of(&listing));
                self.finish(scope);
                Ok(listing)
            }
            Err(error) => {
                scope.record.is_error = Some(true);
                scope.record.error = Some(Box::new(errors::protocol_error(&error)));
                self.finish(scope);
                Err(error)
            }
        }
    }
}

impl ToolCatalog<'_> {
    fn first_page(&self) -> MutexGuard<'_, Option<HashSet<String>>> {
        self.state
            .first_page
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A call to an enabled virtual tool's name is answered virtually unless the host has a tool of that name,
    /// known from its first listing page or, before any listing, from its registry (`lookup`).
    pub(crate) fn virtual_route(
        &self,
        name: &str,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> Option<VirtualKind> {
        let agent = &self.agent;
        let kind = if agent.get_more_tools.as_deref() == Some(name) {
            VirtualKind::MoreTools
        } else if agent.send_feedback.as_deref() == Some(name) {
            VirtualKind::Feedback
        } else {
            return None;
        };
        let listed = self.first_page().as_ref().map(|names| names.contains(name));
        match listed {
            Some(listed) => (!listed).then_some(kind),
            None => self.known_tool(name, lookup).is_none().then_some(kind),
        }
    }

    /// What the crate knows about tool `name`: cached, else read from `lookup` (the host's `get_tool`).
    pub(crate) fn known_tool(
        &self,
        name: &str,
        lookup: &(dyn Fn(&str) -> Option<Tool> + Sync),
    ) -> Option<Arc<KnownTool>> {
        if let Some(known) = self.state.tools.get(name) {
            return Some(known.clone());
        }
        let known = known(&lookup(name)?);
        self.state.tools.insert(name.to_owned(), known.clone());
        Some(known)
    }

    /// Whether this server has not warned about `what` for `tool` yet (and will now).
    fn first_warning(&self, tool: &str, what: &'static str) -> bool {
        self.state
            .warned
            .insert((tool.to_owned(), what), ())
            .is_none()
    }

    pub(crate) fn warn_once(&self, tool: &str, what: &'static str) {
        if self.first_warning(tool, what) {
            tracing::warn!(
                tool,
                argument = what,
                "posthog-mcp: the tool's schema already declares this argument or is composed; it was left unchanged"
            );
        }
    }

    /// The host's listing decorated for the agent: `context`, then the virtual tools (first page only), the
    /// other owned arguments and `_mcp_instructions`.
    pub(crate) fn decorate_listing(
        &self,
        mut listing: ListToolsResult,
        first_page: bool,
    ) -> ListToolsResult {
        self.learn(&listing, first_page);
        if !self.agent.decorates() {
            return listing;
        }
        if self.agent.intent {
            self.inject_context(&mut listing);
        }
        if first_page {
            self.add_virtual_tools(&mut listing);
        }
        self.inject_agent_arguments(&mut listing);
        if self.agent.conversation_id {
            self.advertise_instructions(&mut listing);
        }
        listing
    }

    /// Remembers the listed tools and, for a first page, its names (which decide virtual routing); warns about a
    /// later page's tool that a virtual tool shadows.
    fn learn(&self, listing: &ListToolsResult, first_page: bool) {
        for tool in &listing.tools {
            if !self.state.tools.contains_key(&*tool.name) {
                self.state.tools.insert(tool.name.to_string(), known(tool));
            }
        }
        if first_page {
            *self.first_page() = Some(listing.tools.iter().map(|t| t.name.to_string()).collect());
            return;
        }
        let virtual_names = [&self.agent.get_more_tools, &self.agent.send_feedback];
        let first = self.first_page();
        for tool in &listing.tools {
            let shadowed = virtual_names
                .iter()
                .any(|v| v.as_deref() == Some(&*tool.name))
                && first.as_ref().is_some_and(|f| !f.contains(&*tool.name));
            if shadowed && self.first_warning(&tool.name, "virtual name on a later page") {
                tracing::warn!(
                    tool = %tool.name,
                    "posthog-mcp: a tool on a later listing page uses a virtual tool's name; calls to it are answered by the virtual tool"
                );
            }
        }
    }

    /// The `context` argument on every tool whose schema leaves room for it. Precedence of its description: the
    /// tool's own `#[posthog_tool(intent_description = "…")]`, then the builder's, then ours.
    fn inject_context(&self, listing: &mut ListToolsResult) {
        let default = self
            .agent
            .intent_description
            .as_deref()
            .unwrap_or(intent::CONTEXT_DESCRIPTION);
        for tool in &mut listing.tools {
            if intent::can_own(&tool.input_schema, intent::CONTEXT) {
                let description = registered_tool(&tool.name)
                    .and_then(|spec| spec.intent_description)
                    .unwrap_or(default);
                let schema = Arc::make_mut(&mut tool.input_schema);
                intent::inject(schema, intent::CONTEXT, description, true);
            } else {
                self.warn_once(&tool.name, intent::CONTEXT);
            }
        }
    }

    /// The enabled virtual tools, unless the host has a tool of the same name (which wins).
    fn add_virtual_tools(&self, listing: &mut ListToolsResult) {
        let agent = &self.agent;
        for (name, kind) in [
            (&agent.get_more_tools, VirtualKind::MoreTools),
            (&agent.send_feedback, VirtualKind::Feedback),
        ] {
            let Some(name) = name else { continue };
            if listing.tools.iter().any(|t| *t.name == **name) {
                if self.first_warning(name, "virtual name taken") {
                    tracing::warn!(
                        tool = %name,
                        "posthog-mcp: the server has its own tool with a virtual tool's name; the server's tool wins"
                    );
                }
                continue;
            }
            listing.tools.push(match kind {
                VirtualKind::MoreTools => virtual_tools::more_tools_tool(name),
                VirtualKind::Feedback => virtual_tools::feedback_tool(
                    name,
                    agent.feedback_description.as_deref(),
                    &agent.feedback_extra_properties,
                    &agent.feedback_extra_required,
                ),
            });
        }
    }

    /// `llm_model` and `conversation_id` on every tool whose schema allows them.
    fn inject_agent_arguments(&self, listing: &mut ListToolsResult) {
        let agent = &self.agent;
        let model_description = agent
            .llm_model_description
            .as_deref()
            .unwrap_or(intent::LLM_MODEL_DESCRIPTION);
        for (enabled, key, description, required) in [
            (agent.llm_model, intent::LLM_MODEL, model_description, true),
            (
                agent.conversation_id,
                intent::CONVERSATION_ID,
                intent::CONVERSATION_ID_DESCRIPTION,
                false,
            ),
        ] {
            if !enabled {
                continue;
            }
            for tool in &mut listing.tools {
                if intent::can_own(&tool.input_schema, key) {
                    let schema = Arc::make_mut(&mut tool.input_schema);
                    intent::inject(schema, key, description, required);
                } else {
                    self.warn_once(&tool.name, key);
                }
            }
        }
    }

    /// `_mcp_instructions` in the output schema of every tool that declares a plain object one.
    fn advertise_instructions(&self, listing: &mut ListToolsResult) {
        for tool in &mut listing.tools {
            let Some(output) = tool.output_schema.as_mut() else {
                continue;
            };
            let mut copy = (**output).clone();
            if intent::inject_instructions(&mut copy) {
                *output = Arc::new(copy);
            } else {
                self.warn_once(&tool.name, intent::INSTRUCTIONS);
            }
        }
    }
}

/// What the crate keeps of `tool`, its schemas read once.
fn known(tool: &Tool) -> Arc<KnownTool> {
    let instructions = tool
        .output_schema
        .as_deref()
        .is_some_and(intent::advertises_instructions);
    Arc::new(KnownTool::from_tool(
        tool,
        intent::ownable(&tool.input_schema),
        instructions,
    ))
}
