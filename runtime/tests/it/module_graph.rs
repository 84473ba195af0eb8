//! The runtime's layering, checked from its sources: each module imports only modules of its own layer or
//! below, and no two modules import each other in a circle. ARCHITECTURE.md draws the same graph.
//!
//! A module's imports are the `crate::<module>` paths in its code (comments excluded), over all files of the
//! module (`capture/*.rs` are `capture`, and `encode_tests.rs`, its unit tests, is `encode`).
//!
//! Inside each folder, no files import each other in a circle either. A file's imports of its siblings are the
//! `super::x`, `crate::<folder>::x` and (from `mod.rs`, the folder's root file) `self::x` and `use x::` paths in
//! its code; `x_tests.rs` (and `x.rs`'s own `mod tests`) belongs to `x` and names a sibling as `super::super::x`,
//! and `tests.rs` belongs to `mod.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first. A module may use modules of its own layer and of the layers before it.
const LAYERS: &[&[&str]] = &[
    &[
        "clock",
        "encode",
        "json_string",
        "recycle",
        "event",
        "request",
        "session",
        "privacy",
        "delivery",
        "tool",
        "hooks",
        "tool_error",
        "once",
    ],
    &["identity", "intent", "virtual_tools"],
    &["config", "pipeline"],
    &["analytics"],
    &["capture"],
    &["server", "manual", "attribute", "http", "task_store"],
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

/// The first import cycle in `graph`, as the path around it, if there is one (depth-first search for a back edge).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
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
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let cycle = find_cycle(&graph());
    assert!(
        cycle.is_none(),
        "an import cycle: {}",
        cycle.unwrap().join(" -> ")
    );
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

/// The comment-free code of `text`, lines kept.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment of each item a `use` tree names after a prefix: `x` in `x::Y`, each of `a`, `b` in
/// `{a::X, b}`.
fn first_segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(list) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let (mut depth, mut item_start, mut names) = (0, 0, Vec::new());
    for (at, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(&list[item_start..at]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(&list[item_start..at]));
                item_start = at + 1;
            }
            _ => {}
        }
    }
    names
}

/// The names `code` reaches through `prefix` (not itself the tail of a longer path).
fn named_after(code: &str, prefix: &str, names: &mut BTreeSet<String>) {
    let mut from = 0;
    while let Some(found) = code[from..].find(prefix) {
        let at = from + found;
        from = at + prefix.len();
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c == ':' || c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        names.extend(
            first_segments(&code[from..])
                .into_iter()
                .filter(|n| !matches!(n.as_str(), "" | "self" | "super" | "crate")),
        );
    }
}

/// One folder's file-level imports: by owning file (`mod` for `mod.rs` and `tests.rs`, `x` for `x.rs` and
/// `x_tests.rs`), the sibling files it names.
fn file_graph(dir: &Path, folder: &str) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    let owner = |stem: &str| match stem {
        "tests" => "mod".to_owned(),
        _ => stem.trim_end_matches("_tests").to_owned(),
    };
    let siblings: BTreeSet<String> = files
        .iter()
        .map(|p| owner(&p.file_stem().unwrap().to_string_lossy()))
        .collect();
    let in_folder = format!("crate::{folder}::");
    let mut graph: BTreeMap<String, BTreeSet<String>> = siblings
        .iter()
        .map(|s| (s.clone(), BTreeSet::new()))
        .collect();
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        // A file's own `mod tests` sits one level deeper than the file.
        let (body, unit_tests) = match code.find("\nmod tests") {
            Some(at) => code.split_at(at),
            None => (code.as_str(), ""),
        };
        let mut names = BTreeSet::new();
        named_after(&code, &in_folder, &mut names);
        match stem.as_str() {
            "mod" => {
                named_after(body, "self::", &mut names);
                for line in body.lines() {
                    let line = line.trim_start().trim_start_matches("pub ");
                    if let Some(path) = line.strip_prefix("use ") {
                        names.extend(first_segments(path));
                    }
                }
            }
            "tests" => named_after(&code, "super::", &mut names),
            _ if stem.ends_with("_tests") => named_after(&code, "super::super::", &mut names),
            _ => {
                named_after(body, "super::", &mut names);
                named_after(unit_tests, "super::super::", &mut names);
            }
        }
        let own = owner(&stem);
        let imports = graph.get_mut(&own).unwrap();
        imports.extend(
            names
                .into_iter()
                .filter(|n| *n != own && siblings.contains(n)),
        );
    }
    graph
}

/// Every folder of `runtime/src` (by its path from `src`, `::`-joined) and its file-level imports.
fn folder_graphs() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graphs = BTreeMap::new();
    let mut visit = vec![src.clone()];
    while let Some(dir) = visit.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let folder = path
                    .strip_prefix(&src)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("::");
                graphs.insert(folder.clone(), file_graph(&path, &folder));
                visit.push(path);
            }
        }
    }
    graphs
}

#[test]
fn no_files_import_each_other_in_a_circle_inside_a_folder() {
    let graphs = folder_graphs();
    assert!(
        graphs["delivery"]["worker"].contains("sink")
            && graphs["delivery"]["mod"].contains("queue"),
        "the reader no longer sees the imports between files: {:?}",
        graphs["delivery"]
    );
    let cycles: Vec<String> = graphs
        .iter()
        .filter_map(|(folder, graph)| {
            find_cycle(graph).map(|cycle| format!("{folder}/: {}", cycle.join(" -> ")))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "files that import each other in a circle (move the shared item down into the lower file or a new \
         one):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_file_check_reads_every_form_of_sibling_import() {
    let mut names = BTreeSet::new();
    let code = "use super::{\n    queue::{Entry, Shared},\n    retry::Outcome,\n    Local,\n};\n\
                let n = super::size::estimated_len(p);\nuse super::super::outside;\nuse crate::x::super::no;";
    named_after(code, "super::", &mut names);
    let expected: BTreeSet<String> = ["queue", "retry", "Local", "size"].map(String::from).into();
    assert_eq!(names, expected);
}
