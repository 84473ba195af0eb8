//! `#[posthog_tool]` written below rmcp's `#[tool]`: it sees the boxed-future form rmcp produced.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Echo {
    text: String,
}

struct Server;

#[tool_router]
impl Server {
    /// Echoes the text back; `Ok("…".into())` must infer from the declared return type.
    #[tool(name = "echo")]
    #[posthog_tool(category = "text")]
    async fn echo(&self, Parameters(Echo { text }): Parameters<Echo>) -> Result<String, String> {
        if text.is_empty() {
            return Err("empty".into());
        }
        Ok(text)
    }

    /// Fails as a tool error.
    #[tool(description = "Fails as a tool error")]
    #[posthog_tool]
    async fn fail(&self) -> Result<String, String> {
        Err("boom".into())
    }
}

fn main() {
    let router = Server::tool_router();
    assert!(router.has_route("echo"));
    assert!(router.has_route("fail"));
    // Below `#[tool]` the spec is named after the fn.
    let spec = posthog_mcp::tool::registered_tool("echo").expect("registered at link time");
    assert_eq!(spec.category, Some("text"));
}

#[test]
fn compiles_and_runs() {
    main();
}
