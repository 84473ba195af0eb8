//! `#[posthog_identify]` on a fn returning `Result<Option<Identity>, E>`.

use posthog_mcp::{Identity, RequestView, posthog_identify};

#[derive(Debug, thiserror::Error)]
#[error("the user directory is down")]
struct DirectoryDown;

mod auth {
    use super::*;

    #[posthog_identify]
    pub async fn who(req: &RequestView) -> Result<Option<Identity>, DirectoryDown> {
        match req.bearer_token() {
            Some("down") => Err(DirectoryDown),
            Some(token) => Ok(Some(Identity::new(token))),
            None => Ok(None),
        }
    }
}

#[tokio::main]
async fn main() {
    let registration = posthog_mcp::__private::v1::inventory::iter::<
        posthog_mcp::__private::v1::IdentifyRegistration,
    >
        .into_iter()
        .find(|registration| registration.name.ends_with("::auth::who"))
        .expect("`auth::who` is registered");
    let down = RequestView::new("tools/call", serde_json::Value::Null, "s")
        .with_headers([("authorization", "Bearer down")]);
    assert_eq!(
        (registration.func)(down).await.unwrap_err(),
        "the user directory is down"
    );
    let anonymous = RequestView::new("tools/call", serde_json::Value::Null, "s");
    assert_eq!((registration.func)(anonymous).await.unwrap(), None);
    let _ = auth::who;
}

#[test]
fn compiles_and_runs() {
    main();
}
