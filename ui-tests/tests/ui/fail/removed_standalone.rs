use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    #[posthog_tool(standalone)]
    async fn lookup(&self) -> String {
        String::new()
    }
}

fn main() {}
