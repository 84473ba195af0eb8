//! The reference calculator server: `add`, `divide` (fails with a typed [`CalcError`] on division by zero),
//! `fail_result` (an `is_error` result), a resource `mem://greeting` and a prompt `hello`. Every tool is marked
//! `#[posthog_tool]`, so the typed error reaches the analytics as `$mcp_error_type`.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData, RoleServer, ServerHandler, prompt, prompt_handler, prompt_router, tool,
    tool_handler, tool_router,
};
use serde::Deserialize;

/// Two operands.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Operands {
    /// Left operand.
    pub a: f64,
    /// Right operand.
    pub b: f64,
}

/// What `divide` can fail with.
///
/// rmcp turns the `Err` side of a tool's `Result<T, E>` into an error result (`isError: true`) when `E`
/// implements [`IntoContents`]; `E` need not be rmcp's `ErrorData`. `#[posthog_tool]` sees the typed error
/// itself and reports its type name and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    /// The divisor was zero.
    #[error("cannot divide {dividend} by zero")]
    DivisionByZero {
        /// The number that was to be divided.
        dividend: String,
    },
}

impl IntoContents for CalcError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

/// The calculator.
#[derive(Debug, Clone)]
pub struct Calculator {
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl Default for Calculator {
    fn default() -> Self {
        Self::new()
    }
}

impl Calculator {
    /// A calculator with its tools and prompts.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        }
    }
}

#[tool_router]
impl Calculator {
    /// Adds two numbers.
    #[posthog_tool]
    #[tool(description = "Add two numbers and return their sum")]
    async fn add(&self, Parameters(Operands { a, b }): Parameters<Operands>) -> String {
        (a + b).to_string()
    }

    /// Divides a by b; a zero divisor is a typed error the agent sees as an error result.
    #[posthog_tool]
    #[tool(description = "Divide a by b; fails when b is zero")]
    async fn divide(
        &self,
        Parameters(Operands { a, b }): Parameters<Operands>,
    ) -> Result<String, CalcError> {
        if b == 0.0 {
            return Err(CalcError::DivisionByZero {
                dividend: a.to_string(),
            });
        }
        Ok((a / b).to_string())
    }

    /// Always fails, as an error result the agent can read.
    #[posthog_tool]
    #[tool(description = "Always fails with an error result")]
    async fn fail_result(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text("this tool always fails")])
    }
}

#[prompt_router]
impl Calculator {
    /// Greets the user.
    #[prompt(name = "hello", description = "Say hello")]
    async fn hello(&self) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(
            Role::User,
            "Hello from the calculator",
        )]
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for Calculator {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        );
        info.server_info = Implementation::new("calculator", env!("CARGO_PKG_VERSION"));
        info
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "mem://greeting",
            "greeting",
        )]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri == "mem://greeting" {
            Ok(ReadResourceResult::new(vec![ResourceContents::text("Hello!", request.uri)]).into())
        } else {
            Err(ErrorData::resource_not_found("no such resource", None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `#[posthog_tool]` leaves the signature as written: the tools are plain methods a unit test can call.
    // (rmcp's `#[tool]` returns them as boxed futures.)

    #[tokio::test]
    async fn add_sums_its_operands() {
        let sum = Calculator::new()
            .add(Parameters(Operands { a: 2.0, b: 3.5 }))
            .await;
        assert_eq!(sum, "5.5");
    }

    #[tokio::test]
    async fn divide_refuses_a_zero_divisor_with_a_typed_error() {
        let calculator = Calculator::new();
        assert_eq!(
            calculator
                .divide(Parameters(Operands { a: 1.0, b: 0.0 }))
                .await,
            Err(CalcError::DivisionByZero {
                dividend: "1".into()
            })
        );
        assert_eq!(
            calculator
                .divide(Parameters(Operands { a: 9.0, b: 3.0 }))
                .await
                .unwrap(),
            "3"
        );
    }

    #[test]
    fn fail_result_is_an_error_result() {
        let result = block_on(Calculator::new().fail_result());
        assert_eq!(result.is_error, Some(true));
    }

    /// A tiny executor so that one test shows a tool called outside any async test harness.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }
}
