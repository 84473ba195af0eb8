//! The runtime's layering, checked from its sources: each module imports only modules of its own layer or
//! below, and no two modules import each other in a circle. ARCHITECTURE.md draws the same graph.
//!
//! A module's imports are the `crate::<module>` paths in its code (comments excluded), over all files of the
//! module (`capture/*.rs` are `capture`, and `encode_tests.rs`, its unit tests, is `encode`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first. A module may use modules of its own layer and of the layers before it.
const LAYERS: &[&[&str]] = &[
    &[
        "clock",
        "encode",
        "recycle",
        "event",
        "request",
        "session",
        "privacy",
        "delivery",
        "tool",
        "hooks",
        "tool_error",
    ],
    &["identity", "intent", "virtual_tools"],
    &["config", "pipeline"],
    &["analytics"],
    &["capture"],
    &["server", "manual", "attribute", "http"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| {
            panic!("module `{module}` is in no layer: add it to LAYERS and to ARCHITECTURE.md")
        })
}

/// Every module's imports, from the sources under `runtime/src`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut visit = vec![src.clone()];
    while let Some(path) = visit.pop() {
        if path.is_dir() {
            visit.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            // A module's unit tests in a file beside it (`encode_tests.rs`) belong to that module.
            .trim_end_matches("_tests")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let imports = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module && name.chars().next().unwrap().is_lowercase()
                {
                    imports.insert(name);
                }
            }
            // `use crate::{a, b}` lists.
            if let Some(list) = code.trim().strip_prefix("use crate::{") {
                for name in list.split([',', '}', ':']).map(str::trim) {
                    if !name.is_empty()
                        && name != module
                        && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        imports.insert(name.to_owned());
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn each_module_imports_only_its_own_layer_and_below() {
    let mut wrong = Vec::new();
    for (module, imports) in graph() {
        for import in imports {
            if layer_of(&import) > layer_of(&module) {
                wrong.push(format!("{module} -> {import}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports up the layers: {wrong:?}");
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let graph = graph();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "an import cycle: {}",
            cycle.unwrap().join(" -> ")
        );
    }
}

#[test]
fn the_check_sees_the_imports_it_guards() {
    // The graph is read from the sources: if the reader broke, both checks above would pass vacuously.
    let graph = graph();
    assert!(graph["server"].contains("capture"));
    assert!(graph["capture"].contains("analytics"));
    assert!(graph["analytics"].contains("delivery"));
    assert!(graph["clock"].is_empty());
}
