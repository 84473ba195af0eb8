//! Every return type rmcp accepts keeps compiling, with `?`, early `return` and `.into()` inference intact.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolResult, ContentBlock, IntoContents};
use rmcp::{ErrorData, tool, tool_router};

#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("no order {0}")]
    Missing(u64),
    #[error("storage failed")]
    Storage(#[source] std::io::Error),
}

// rmcp sends an `Err` of a tool as an error result, so the error type must turn into content.
impl IntoContents for LookupError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct OrderId {
    id: u64,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Order {
    id: u64,
    total_cents: u64,
}

#[derive(Clone)]
struct Shop;

impl Shop {
    fn read(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id * 100)
    }
}

#[tool_router]
impl Shop {
    #[posthog_tool]
    #[tool]
    async fn plain_string(&self) -> String {
        "ok".into()
    }

    #[posthog_tool]
    #[tool]
    async fn nothing(&self) {}

    #[posthog_tool]
    #[tool]
    async fn call_tool_result(
        &self,
        Parameters(OrderId { id }): Parameters<OrderId>,
    ) -> Result<CallToolResult, ErrorData> {
        if id == 0 {
            return Err(ErrorData::invalid_params("id must not be 0", None));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(
            id.to_string(),
        )]))
    }

    #[posthog_tool]
    #[tool]
    async fn typed_error(
        &self,
        Parameters(OrderId { id }): Parameters<OrderId>,
    ) -> Result<String, LookupError> {
        if id == 0 {
            return Err(LookupError::Missing(id));
        }
        let total = self.read(id).map_err(LookupError::Storage)?;
        Ok(format!("{total}"))
    }

    #[posthog_tool]
    #[tool]
    async fn structured(&self, Parameters(OrderId { id }): Parameters<OrderId>) -> Json<Order> {
        Json(Order {
            id,
            total_cents: 100,
        })
    }

    #[posthog_tool]
    #[tool]
    async fn structured_or_error(
        &self,
        Parameters(OrderId { id }): Parameters<OrderId>,
    ) -> Result<Json<Order>, ErrorData> {
        let total_cents = self
            .read(id)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(Json(Order { id, total_cents }))
    }

    #[posthog_tool]
    #[tool]
    async fn error_result(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text("not today")])
    }

    #[posthog_tool]
    #[tool]
    async fn string_error(&self) -> Result<String, String> {
        Ok("fine".into())
    }
}

fn main() {
    let router = Shop::tool_router();
    for name in [
        "plain_string",
        "nothing",
        "call_tool_result",
        "typed_error",
        "structured",
        "structured_or_error",
        "error_result",
        "string_error",
    ] {
        assert!(router.has_route(name), "{name}");
    }
    // Output schema detection is syntactic (`Json<T>`): the attribute must leave the return type alone.
    assert!(Shop::structured_tool_attr().output_schema.is_some());
    assert!(
        Shop::structured_or_error_tool_attr()
            .output_schema
            .is_some()
    );
    // Input schema detection is syntactic (`Parameters<T>`) too.
    assert!(
        Shop::typed_error_tool_attr()
            .input_schema
            .get("properties")
            .is_some()
    );
}

#[test]
fn compiles_and_runs() {
    main();
}
