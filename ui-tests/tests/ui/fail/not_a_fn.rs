use posthog_mcp::{posthog_identify, posthog_tool};

#[posthog_tool]
struct NotATool;

#[posthog_identify]
const NOT_AN_IDENTIFY_FN: u8 = 0;

fn main() {}
