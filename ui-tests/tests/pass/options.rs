//! Every option of `#[posthog_tool]`, and extractors after the hidden one.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::tool::ToolName;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, RequestMetaObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Card {
    number: String,
    cvv: String,
}

struct Payments;

#[tool_router]
impl Payments {
    /// Charges a card.
    #[posthog_tool(
        category = "billing",
        capture_args = false,
        capture_response = false,
        redact = ["number", "cvv"],
        crate = "posthog_mcp",
    )]
    #[tool(name = "billing.charge", annotations(destructive_hint = true))]
    async fn charge(
        &self,
        Parameters(Card { number, cvv }): Parameters<Card>,
        context: RequestContext<RoleServer>,
        peer: Peer<RoleServer>,
        ToolName(name): ToolName,
        meta: RequestMetaObject,
    ) -> Result<CallToolResult, ErrorData> {
        let _ = (context.id, peer, meta);
        let digits = number.len() + cvv.len();
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "{name}: {digits}"
        ))]))
    }

    /// Takes fifteen extractors: the most an instrumented tool may keep.
    #[posthog_tool]
    #[tool]
    #[allow(clippy::too_many_arguments)]
    async fn wide(
        &self,
        _a: ToolName,
        _b: ToolName,
        _c: ToolName,
        _d: ToolName,
        _e: ToolName,
        _f: ToolName,
        _g: ToolName,
        _h: ToolName,
        _i: ToolName,
        _j: ToolName,
        _k: ToolName,
        _l: ToolName,
        _m: ToolName,
        _n: ToolName,
        _o: ToolName,
    ) -> String {
        String::new()
    }
}

fn main() {
    let router = Payments::tool_router();
    assert!(router.has_route("billing.charge"));
    assert!(router.has_route("wide"));
    let spec = posthog_mcp::tool::registered_tool("billing.charge").unwrap();
    assert_eq!(spec.category, Some("billing"));
    assert!(!spec.capture_args);
    assert!(!spec.capture_response);
    assert_eq!(spec.redact, ["number", "cvv"]);
}

#[test]
fn compiles_and_runs() {
    main();
}
