//! A `main` that captures one event and returns without calling `posthog_mcp::shutdown`: only the guard of
//! `posthog_mcp::guard()` stands between the event and the process exit. Configured from the environment.

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let _analytics = posthog_mcp::guard();
        posthog_mcp::capture("forgot_shutdown", serde_json::Map::new()).expect("queued");
    });
}
