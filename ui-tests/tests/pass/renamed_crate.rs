//! The runtime reached through another path, named with `crate = "…"`.

use posthog_mcp_ui_tests::ph;
use rmcp::{tool, tool_router};

struct Server;

#[tool_router]
impl Server {
    #[ph::posthog_tool(crate = "posthog_mcp_ui_tests::ph", category = "misc")]
    #[tool]
    async fn ping(&self) -> String {
        ph::set_property("pong", true);
        "pong".into()
    }
}

#[ph::posthog_identify(crate = "::posthog_mcp_ui_tests::ph")]
async fn identify(req: &ph::RequestView) -> Option<ph::Identity> {
    req.bearer_token().map(ph::Identity::new)
}

fn main() {
    assert!(Server::tool_router().has_route("ping"));
    let _ = identify;
}

#[test]
fn compiles_and_runs() {
    main();
}
