//! `#[posthog_tool]` written above rmcp's `#[tool]` (the recommended order): it sees the `async fn` and reads the
//! tool name from `#[tool(name = "…")]`.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ErrorData, tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

struct Calculator;

#[tool_router]
impl Calculator {
    /// Adds two numbers; `?` and early `return` keep working inside an instrumented tool.
    #[posthog_tool]
    #[tool(name = "math.add")]
    async fn add(
        &self,
        Parameters(AddArgs { a, b }): Parameters<AddArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if a == 0 {
            return Ok(CallToolResult::success(vec![ContentBlock::text(
                b.to_string(),
            )]));
        }
        let sum = a
            .checked_add(b)
            .ok_or_else(|| ErrorData::invalid_params("overflow", None))?;
        posthog_mcp::set_property("magnitude", sum.abs());
        Ok(CallToolResult::success(vec![ContentBlock::text(
            sum.to_string(),
        )]))
    }

    /// Says hello; no `Parameters`, default name.
    #[posthog_tool]
    #[tool]
    async fn hello(&self) -> String {
        "hello".into()
    }
}

fn main() {
    let router = Calculator::tool_router();
    assert!(router.has_route("math.add"));
    assert!(router.has_route("hello"));
    let _ = Calculator::add_tool_attr();
    let spec = posthog_mcp::tool::registered_tool("math.add").expect("registered at link time");
    assert_eq!(spec.category, None);
    assert!(posthog_mcp::tool::registered_tool("hello").is_some());
}

#[test]
fn compiles_and_runs() {
    main();
}
