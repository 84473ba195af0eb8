use posthog_mcp::{Identity, RequestView, posthog_identify};

#[posthog_identify]
fn not_async(_req: &RequestView) -> Option<Identity> {
    None
}

#[posthog_identify]
async fn no_arguments() -> Option<Identity> {
    None
}

#[posthog_identify]
async fn by_value(_req: RequestView) -> Option<Identity> {
    None
}

#[posthog_identify]
async fn generic<T>(_req: &RequestView) -> Option<Identity> {
    None
}

#[posthog_identify]
async fn two(_req: &RequestView, _extra: u8) -> Option<Identity> {
    None
}

#[posthog_identify]
async fn no_return(_req: &RequestView) {}

#[posthog_identify]
async fn wrong_view(_req: &String) -> Option<Identity> {
    None
}

#[posthog_identify]
async fn wrong_return(_req: &RequestView) -> Option<String> {
    None
}

fn main() {}
