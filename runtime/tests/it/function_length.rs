//! No function in `runtime/src` runs over 80 lines (unit tests aside): a longer one is split into named steps.
//! No source file runs over 500 lines before its unit-test module (files named `tests.rs` aside): a longer one is
//! split by job into a folder.
//!
//! A function's length is counted from its `fn` line to the line where its braces balance again (braces in line
//! comments are ignored; the crate's string literals keep theirs balanced).

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 80;
const MAX_FILE_LINES: usize = 500;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            out.push(path);
        }
    }
}

/// Every source file of `runtime/src` but the `tests.rs` unit-test files.
fn runtime_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "found the sources: {files:?}");
    files
}

fn code(line: &str) -> &str {
    line.split_once("//").map_or(line, |(code, _)| code)
}

fn is_fn_start(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let qualifiers_only = words[..at].iter().all(|w| {
        matches!(*w, "pub" | "async" | "const" | "unsafe" | "extern") || w.starts_with("pub(")
    });
    let name = words.get(at + 1)?;
    (qualifiers_only && !line.trim_end().ends_with(';'))
        .then(|| name.split(['(', '<']).next().unwrap_or(name))
}

/// `(name, first line, length)` of every function over [`MAX_LINES`] in `text`, outside `mod tests`.
fn long_functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("mod tests") {
            break;
        }
        let Some(name) = is_fn_start(code(line)) else {
            continue;
        };
        let mut depth = 0i64;
        let mut opened = false;
        let mut end = start;
        for (at, line) in lines.iter().enumerate().skip(start) {
            let line = code(line);
            depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
            opened |= line.contains('{');
            end = at;
            if (opened && depth <= 0) || (!opened && line.trim_end().ends_with(';')) {
                break;
            }
        }
        let length = end - start + 1;
        if length > MAX_LINES {
            found.push((name.to_owned(), start + 1, length));
        }
    }
    found
}

#[test]
fn no_function_in_the_runtime_is_over_80_lines() {
    let files = runtime_sources();
    let mut long = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (name, line, length) in long_functions(&text) {
            long.push(format!(
                "{}:{line} `{name}`: {length} lines",
                file.display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_check_sees_a_long_function_and_skips_unit_tests() {
    let body = "    step();\n".repeat(MAX_LINES);
    let text = format!(
        "/// Docs {{\npub(crate) async fn long<T>(x: T) {{\n{body}}}\n\nfn short() {{}}\n\
         fn declared();\n#[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n"
    );
    assert_eq!(
        long_functions(&text),
        [("long".to_owned(), 2, MAX_LINES + 2)]
    );
}

/// How many lines `text` has before its unit-test module: the first top-level `#[cfg(test)]` that opens a
/// `mod` (a test-only item elsewhere in the file still counts as code).
fn lines_before_unit_tests(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|pair| pair[0].trim_end() == "#[cfg(test)]" && pair[1].starts_with("mod "))
        .unwrap_or(lines.len())
}

#[test]
fn no_source_file_runs_over_500_lines_before_its_unit_tests() {
    let files = runtime_sources();
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = lines_before_unit_tests(&std::fs::read_to_string(file).unwrap());
            (lines > MAX_FILE_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "split these by job into a folder:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_file_count_stops_at_the_unit_test_module_only() {
    let text =
        "use x;\n#[cfg(test)]\nfn helper() {}\n\n#[cfg(test)]\nmod tests {\n    fn t() {}\n}\n";
    assert_eq!(lines_before_unit_tests(text), 4);
    assert_eq!(lines_before_unit_tests("fn a() {}\nfn b() {}\n"), 2);
}
