use posthog_mcp::posthog_tool;
use rmcp::{tool, tool_router};

struct Server;

#[tool_router]
impl Server {
    // A body that does not match the declared return type is reported against the user's code.
    #[posthog_tool]
    #[tool]
    async fn count(&self) -> String {
        42
    }
}

fn main() {}
