//! `#[posthog_identify]` keeps the fn callable as written and registers it.

use posthog_mcp::{Identity, RequestView, posthog_identify};

#[posthog_identify]
async fn identify(req: &RequestView) -> Option<Identity> {
    let user = req.header("x-user")?;
    Some(
        Identity::new(user)
            .with_property("plan", "pro")
            .with_group("company", "acme"),
    )
}

#[tokio::main]
async fn main() {
    let view = RequestView::new("tools/call", serde_json::Value::Null, "ses_1")
        .with_headers([("X-User", "alice@example.com")]);
    // The fn itself is unchanged.
    assert_eq!(
        identify(&view).await.unwrap().distinct_id,
        "alice@example.com"
    );
    // The registration names it and calls it through the erased shim.
    let registrations: Vec<_> = posthog_mcp::__private::v1::inventory::iter::<
        posthog_mcp::__private::v1::IdentifyRegistration,
    >
        .into_iter()
        .filter(|registration| registration.location.contains("/identify.rs:"))
        .collect();
    assert_eq!(registrations.len(), 1, "one fn, one registration");
    assert!(
        registrations[0].name.ends_with("::identify"),
        "{}",
        registrations[0].name
    );
    assert!(
        registrations[0].location.ends_with("identify.rs:6"),
        "{}",
        registrations[0].location
    );
    let resolved = (registrations[0].func)(view).await.unwrap().unwrap();
    assert_eq!(resolved.distinct_id, "alice@example.com");
}

#[test]
fn compiles_and_runs() {
    main();
}
