use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    #[posthog_tool]
    const fn answer(&self) -> u32 {
        42
    }
}

fn main() {}
