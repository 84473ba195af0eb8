//! rmcp accepts sync tool methods; the attribute keeps them sync.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ErrorData, tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Number {
    n: i64,
}

struct Math;

#[tool_router]
impl Math {
    #[posthog_tool(category = "math")]
    #[tool(name = "math.double")]
    fn double(&self, Parameters(Number { n }): Parameters<Number>) -> Result<String, ErrorData> {
        let doubled = n
            .checked_mul(2)
            .ok_or_else(|| ErrorData::invalid_params("overflow", None))?;
        posthog_mcp::set_property("doubled", doubled);
        Ok(doubled.to_string())
    }

    #[tool]
    #[posthog_tool]
    fn constant(&self) -> String {
        if true {
            return "42".into();
        }
        unreachable!()
    }
}

fn main() {
    let router = Math::tool_router();
    assert!(router.has_route("math.double"));
    assert!(router.has_route("constant"));
}

#[test]
fn compiles_and_runs() {
    main();
}
