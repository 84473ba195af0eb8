use std::future::Future;

use posthog_mcp::posthog_tool;

struct Server;

impl Server {
    // A future built by hand cannot be instrumented: the attribute wraps `async` bodies and sync bodies.
    #[posthog_tool]
    #[rmcp::tool]
    fn later(&self) -> impl Future<Output = String> + Send + 'static {
        std::future::ready(String::from("later"))
    }
}

fn main() {}
