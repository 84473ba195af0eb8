//! Compile-fail cases of `#[posthog_tool]` and `#[posthog_identify]`: each guards one error message and its span.
//! The compile-pass cases are ordinary code in `tests/pass/`, so trybuild only checks these cases and never builds
//! the dependency graph with code generation.
//!
//! Regenerate the `.stderr` snapshots with `TRYBUILD=overwrite cargo test -p posthog-mcp-ui-tests --test ui`,
//! then read each one.

/// The compiler flags trybuild gives its case builds. Its dependency build passes the same ones but one
/// (`--diagnostic-width`), so on a fresh clone the whole graph was checked twice, once per flag set. Cargo ranks
/// `CARGO_ENCODED_RUSTFLAGS` above the configuration trybuild passes and trybuild leaves the variable alone: set
/// to the case builds' flags, both builds use one set and the graph is checked once.
const CASE_FLAGS: &[&str] = &[
    "--cfg",
    "trybuild",
    "--verbose",
    "-A",
    "dead_code",
    "--diagnostic-width=140",
];

#[test]
fn ui() {
    // SAFETY: this binary's only test, before trybuild starts any thread or process; nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var("CARGO_ENCODED_RUSTFLAGS", CASE_FLAGS.join("\u{1f}")) };
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
}
