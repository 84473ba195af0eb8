use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    #[posthog_tool]
    #[posthog_tool]
    async fn ping(&self) -> String {
        "pong".into()
    }
}

fn main() {}
