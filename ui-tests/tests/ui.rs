//! Compile-fail cases of `#[posthog_tool]` and `#[posthog_identify]`: each guards one error message and its span.
//! The compile-pass cases are ordinary code in `tests/pass/`, so trybuild only checks its cases and never builds
//! the dependency graph for a second time with code generation.
//!
//! Regenerate the `.stderr` snapshots with `TRYBUILD=overwrite cargo test -p posthog-mcp-ui-tests --test ui`,
//! then read each one.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
}
