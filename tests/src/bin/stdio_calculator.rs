//! The test calculator served over stdio with zero configuration: `posthog_mcp::instrument` reads the
//! environment, and `posthog_mcp::shutdown` flushes when the client closes stdin.

use posthog_mcp_tests::fixtures::WrapperOnlyServer;
use rmcp::ServiceExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = posthog_mcp::instrument(WrapperOnlyServer::default())
        .serve(rmcp::transport::stdio())
        .await?;
    service.waiting().await?;
    posthog_mcp::shutdown().await;
    Ok(())
}
