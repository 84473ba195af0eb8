//! No type in `runtime/src` has more than 15 methods: a type that grows past that is split into option types,
//! helper types or free functions of its module.
//!
//! A type's methods are the `fn` items of all its inherent `impl` blocks, over every file of `runtime/src`; trait
//! impls, unit-test files (`tests.rs`, `*_tests.rs`) and `mod tests` modules do not count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAX_METHODS: usize = 15;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.to_string_lossy().ends_with("tests.rs")
        {
            out.push(path);
        }
    }
}

fn code(line: &str) -> &str {
    line.split_once("//").map_or(line, |(code, _)| code)
}

/// The type an inherent `impl` header names (`impl<T: Bound> path::Name<T> where …`), or `None` for a trait impl.
fn inherent_type(header: &str) -> Option<String> {
    let mut rest = header.trim_start().strip_prefix("impl")?;
    if rest.starts_with('<') {
        let mut depth = 0;
        let end = rest.char_indices().find_map(|(at, c)| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(at)
        })?;
        rest = &rest[end + 1..];
    } else if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let target = rest.split(" where").next().unwrap_or(rest);
    if target.split_whitespace().any(|word| word == "for") {
        return None;
    }
    let path = target.trim().split(['<', '{', ' ']).next()?;
    let name = path.rsplit("::").next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

fn is_fn(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.iter().position(|w| *w == "fn").is_some_and(|at| {
        words[..at].iter().all(|w| {
            matches!(*w, "pub" | "async" | "const" | "unsafe" | "extern") || w.starts_with("pub(")
        })
    })
}

/// Methods per type in one file's text, outside `mod tests`.
fn count_methods(text: &str, counts: &mut BTreeMap<String, usize>) {
    let mut depth = 0i64;
    // The type of the inherent impl block being read and the depth of its body.
    let mut open: Option<(String, i64)> = None;
    let mut header: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("mod tests") {
            break;
        }
        let line = code(line);
        if header.is_none() && open.is_none() && line.trim_start().starts_with("impl") {
            header = Some(String::new());
        }
        if let Some(text) = &mut header {
            text.push(' ');
            text.push_str(line.split('{').next().unwrap_or(line));
            if line.contains('{') {
                if let Some(name) = inherent_type(text) {
                    // A one-line block: `impl Name { fn f() {} }`.
                    let body = line.split_once('{').map_or("", |(_, body)| body);
                    if is_fn(body) {
                        *counts.entry(name.clone()).or_default() += 1;
                    }
                    open = Some((name, depth + 1));
                }
                header = None;
            }
        } else if let Some((name, body)) = &open
            && depth == *body
            && is_fn(line)
        {
            *counts.entry(name.clone()).or_default() += 1;
        }
        depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
        if open.as_ref().is_some_and(|(_, body)| depth < *body) {
            open = None;
        }
    }
}

/// Methods per type over every source file of `runtime/src`.
fn methods_per_type() -> BTreeMap<String, usize> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "found the sources: {files:?}");
    let mut counts = BTreeMap::new();
    for file in files {
        count_methods(&std::fs::read_to_string(&file).unwrap(), &mut counts);
    }
    counts
}

#[test]
fn no_type_in_the_runtime_has_more_than_15_methods() {
    let counts = methods_per_type();
    assert!(
        counts.get("Builder").is_some_and(|&n| n >= 5),
        "the count no longer sees the builder's setters: {counts:?}"
    );
    assert!(
        counts.get("Analytics").is_some_and(|&n| n >= 5),
        "the count no longer sees the methods of a type spread over files: {counts:?}"
    );
    let large: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > MAX_METHODS)
        .map(|(name, n)| format!("`{name}`: {n} methods"))
        .collect();
    assert!(
        large.is_empty(),
        "split these into option types, helper types or free functions:\n{}",
        large.join("\n")
    );
}

#[test]
fn the_count_skips_trait_impls_nested_functions_and_unit_tests() {
    let text = "impl<T: Clone> crate::a::Thing<T>\nwhere\n    T: Send,\n{\n    pub fn one(&self) {\n        \
                fn nested() {}\n    }\n    pub(crate) async fn two(&self) {}\n}\n\
                impl Clone for Thing {\n    fn clone(&self) -> Self { todo!() }\n}\n\
                impl Other {\n    const N: usize = 1;\n    fn three() {}\n}\n\
                impl Thing<u8> { fn four() {} }\n\
                #[cfg(test)]\nmod tests {\n    impl Thing { fn test_only() {} }\n}\n";
    let mut counts = BTreeMap::new();
    count_methods(text, &mut counts);
    assert_eq!(
        counts,
        BTreeMap::from([("Thing".to_owned(), 3), ("Other".to_owned(), 1)])
    );
}
