//! Compile-pass and compile-fail cases of `#[posthog_tool]` and `#[posthog_identify]`.
//!
//! Regenerate the `.stderr` snapshots with `TRYBUILD=overwrite cargo test -p posthog-mcp-ui-tests --test ui`,
//! then read each one.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
