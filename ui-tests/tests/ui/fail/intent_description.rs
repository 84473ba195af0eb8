use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    #[posthog_tool(intent_description = "   ")]
    async fn blank(&self) -> String {
        String::new()
    }

    #[posthog_tool(intent_description = "Why the report is exported.", intent_description = "Again.")]
    async fn twice(&self) -> String {
        String::new()
    }

    #[posthog_tool(intent_description = why)]
    async fn not_a_string(&self) -> String {
        String::new()
    }
}

fn main() {}
