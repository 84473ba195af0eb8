//! `intent_description` lands in the tool's registered spec; a tool without it has none.

use posthog_mcp::posthog_tool;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct DateRange {
    from: String,
    to: String,
}

struct Reports;

#[tool_router]
impl Reports {
    /// Exports a report.
    #[posthog_tool(
        category = "reports",
        intent_description = "In 15 to 25 words, say which report the user is preparing and why \
                              this export helps; describe people and companies by role only."
    )]
    #[tool(name = "reports.export")]
    async fn export(&self, Parameters(range): Parameters<DateRange>) -> String {
        format!("{}..{}", range.from, range.to)
    }

    /// Lists reports.
    #[posthog_tool]
    #[tool(name = "reports.list")]
    async fn list(&self) -> String {
        String::new()
    }
}

fn main() {
    let router = Reports::tool_router();
    assert!(router.has_route("reports.export"));
    let export = posthog_mcp::tool::registered_tool("reports.export").unwrap();
    assert_eq!(
        export.intent_description,
        Some(
            "In 15 to 25 words, say which report the user is preparing and why this export helps; \
             describe people and companies by role only."
        )
    );
    assert_eq!(export.category, Some("reports"));
    let list = posthog_mcp::tool::registered_tool("reports.list").unwrap();
    assert_eq!(list.intent_description, None);
}

#[test]
fn compiles_and_runs() {
    main();
}
