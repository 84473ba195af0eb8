use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    #[posthog_tool(category = orders, capture_args = "no", capture_response, redact = "password")]
    async fn one(&self) -> String {
        String::new()
    }

    #[posthog_tool(redact = ["ok", 7, ""], crate = "not a path", category = "")]
    async fn two(&self) -> String {
        String::new()
    }
}

fn main() {}
