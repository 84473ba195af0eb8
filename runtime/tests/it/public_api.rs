//! The public API, as rustdoc sees it, against the checked-in snapshot `tests/public-api.txt`: every item a user
//! can name (modules, types, functions, constants, macros, re-exports), the inherent methods of each type, the
//! trait impls of each type, and the fields and variants of public types. A change to the public API is a
//! visible diff of that file.
//!
//! rustdoc's JSON output is unstable, and producing it builds the dependency graph once more in documentation
//! mode, so the README's test command leaves this test out (it is `#[ignore]`d). `.ci/public-api` runs it where CI
//! already documents the crate, in the same target directory:
//!
//! ```sh
//! bash .ci/public-api                     # check
//! UPDATE_PUBLIC_API=1 bash .ci/public-api # after an intended change: rewrite the snapshot, then read the diff
//! ```
//!
//! Run directly (`cargo test -p posthog-mcp --test it public_api -- --ignored`) without `RUSTDOC_JSON`, the test
//! produces the JSON itself in a target directory of its own (`target/public-api`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crate's rustdoc JSON: the file `RUSTDOC_JSON` names (as `.ci/public-api` produces it), or one produced
/// here with the toolchain that runs the test (`RUSTC_BOOTSTRAP=1`) in a target directory of its own.
fn rustdoc_json() -> Value {
    let path = match std::env::var_os("RUSTDOC_JSON") {
        Some(path) => PathBuf::from(path),
        None => produce_rustdoc_json(),
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read the rustdoc JSON at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn produce_rustdoc_json() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = manifest.join("../target/public-api");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(manifest)
        .args([
            "rustdoc",
            "-q",
            "-p",
            "posthog-mcp",
            "--lib",
            "--features",
            "http",
            "--",
        ])
        .args(["-Z", "unstable-options", "--output-format", "json"])
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTDOCFLAGS")
        .status()
        .expect("run cargo rustdoc");
    assert!(status.success(), "cargo rustdoc failed");
    target.join("doc/posthog_mcp.json")
}

struct Walker<'a> {
    index: &'a serde_json::Map<String, Value>,
    lines: BTreeSet<String>,
}

impl<'a> Walker<'a> {
    fn item(&self, id: &Value) -> Option<&'a Value> {
        self.index.get(&id.to_string())
    }

    /// Walks the item `id`, reachable as `path` (its name last).
    fn walk(&mut self, id: &Value, path: &str) {
        let Some(item) = self.item(id) else { return };
        let Some((kind, inner)) = item["inner"].as_object().and_then(|o| o.iter().next()) else {
            return;
        };
        match kind.as_str() {
            "use" => {
                let name = inner["name"].as_str().unwrap_or_default();
                let at = format!("{path}::{name}");
                match inner.get("id").filter(|id| self.item(id).is_some()) {
                    Some(target) => self.walk(target, &at),
                    None => {
                        self.lines.insert(format!(
                            "use {at} = {}",
                            inner["source"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
            "module" => {
                self.lines.insert(format!("mod {path}"));
                for child in inner["items"].as_array().into_iter().flatten() {
                    let name = self
                        .item(child)
                        .and_then(|c| c["name"].as_str())
                        .map(str::to_owned);
                    match name {
                        Some(name) => self.walk(child, &format!("{path}::{name}")),
                        None => self.walk(child, path),
                    }
                }
            }
            "struct" | "enum" | "union" | "trait" => {
                self.lines.insert(format!("{kind} {path}"));
                self.members(kind, inner, path);
            }
            other => {
                self.lines.insert(format!("{other} {path}"));
            }
        }
    }

    fn members(&mut self, kind: &str, inner: &'a Value, path: &str) {
        let ids: Vec<Value> = match kind {
            "struct" => match &inner["kind"] {
                Value::Object(k) if k.contains_key("plain") => {
                    k["plain"]["fields"].as_array().cloned().unwrap_or_default()
                }
                Value::Object(k) if k.contains_key("tuple") => {
                    k["tuple"].as_array().cloned().unwrap_or_default()
                }
                _ => Vec::new(),
            },
            "enum" => inner["variants"].as_array().cloned().unwrap_or_default(),
            "trait" => inner["items"].as_array().cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        for id in ids.iter().filter(|id| !id.is_null()) {
            if let Some(name) = self.item(id).and_then(|m| m["name"].as_str()) {
                self.lines.insert(format!("  {path}::{name}"));
            }
        }
        for impl_id in inner["impls"].as_array().into_iter().flatten() {
            let Some(imp) = self.item(impl_id).map(|i| i["inner"]["impl"].clone()) else {
                continue;
            };
            if imp["is_synthetic"] == true || !imp["blanket_impl"].is_null() {
                continue;
            }
            match imp["trait"]["path"].as_str() {
                Some(name) => {
                    self.lines.insert(format!("  impl {name} for {path}"));
                }
                None => {
                    for method in imp["items"].as_array().into_iter().flatten() {
                        let Some(method) = self.item(method) else {
                            continue;
                        };
                        if method["visibility"] == "public"
                            && let Some(name) = method["name"].as_str()
                        {
                            self.lines.insert(format!("  fn {path}::{name}"));
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[ignore = "needs rustdoc JSON, a second documentation build: `.ci/public-api` runs it"]
fn the_public_api_is_the_snapshot() {
    let json = rustdoc_json();
    let index = json["index"].as_object().expect("an index");
    let mut walker = Walker {
        index,
        lines: BTreeSet::new(),
    };
    walker.walk(&json["root"], "posthog_mcp");
    let actual: String = walker
        .lines
        .iter()
        .map(|line| format!("{line}\n"))
        .collect();
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/public-api.txt");
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&snapshot, &actual).unwrap();
        return;
    }
    assert!(
        actual.lines().count() > 50 && actual.contains("struct posthog_mcp::Analytics"),
        "the walk found the API: {actual}"
    );
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if actual != expected {
        let added: Vec<&str> = actual
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .collect();
        let removed: Vec<&str> = expected
            .lines()
            .filter(|l| !actual.lines().any(|a| a == *l))
            .collect();
        panic!(
            "the public API changed.\n  added: {added:#?}\n  removed: {removed:#?}\nIf intended, run \
             `UPDATE_PUBLIC_API=1 bash .ci/public-api` and commit runtime/tests/public-api.txt"
        );
    }
}
