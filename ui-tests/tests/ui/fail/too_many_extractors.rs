use posthog_mcp::posthog_tool;
use rmcp::handler::server::tool::ToolName;

struct Server;

impl Server {
    #[posthog_tool]
    #[allow(clippy::too_many_arguments)]
    async fn wide(
        &self,
        _a: ToolName,
        _b: ToolName,
        _c: ToolName,
        _d: ToolName,
        _e: ToolName,
        _f: ToolName,
        _g: ToolName,
        _h: ToolName,
        _i: ToolName,
        _j: ToolName,
        _k: ToolName,
        _l: ToolName,
        _m: ToolName,
        _n: ToolName,
        _o: ToolName,
        _p: ToolName,
        _q: ToolName,
    ) -> String {
        String::new()
    }
}

fn main() {}
