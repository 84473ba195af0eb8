use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    #[posthog_tool(category = "a", capture_args = false, category = "b")]
    async fn ping(&self) -> String {
        "pong".into()
    }
}

fn main() {}
