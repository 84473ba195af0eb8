use posthog_mcp::{Identity, RequestView, posthog_identify, posthog_tool};

struct Server;

impl Server {
    #[posthog_tool(categroy = "typo")]
    async fn ping(&self) -> String {
        "pong".into()
    }
}

#[posthog_identify(timeout = 5)]
async fn identify(_req: &RequestView) -> Option<Identity> {
    None
}

fn main() {}
