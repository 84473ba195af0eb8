//! Comments, docs and test names in the runtime, the macros, the tests and the examples state behaviour in their
//! own words: no line points at a contract document (`CONTRACT`), a section sign (`§`) or an issue number, and no
//! test is named after a numbered scenario (`s1_…`).

use std::path::{Path, PathBuf};

/// The source trees checked, relative to the runtime crate.
const ROOTS: [&str; 9] = [
    "src",
    "../macros/src",
    "tests",
    "../tests/tests",
    "../tests/src",
    "../ui-tests/tests",
    "../ui-tests/src",
    "../examples/tests",
    "../examples/src",
];

/// This file names the patterns it looks for, so it is the one file not checked.
const THIS_FILE: &str = "no_document_references.rs";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(THIS_FILE) {
            out.push(path);
        }
    }
}

/// Whether `line` cites an issue by number: the word `issue` or `issues` (any case), then spaces or `#`, then a
/// digit. `tissue 5` and an issue without a number pass.
fn cites_an_issue(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices("issue").any(|(at, word)| {
        let starts_a_word = lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let rest = &lower[at + word.len()..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        let number = rest.trim_start_matches([' ', '#']);
        starts_a_word
            && number.len() < rest.len()
            && number.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The name of a function declared on `line` that is named after a numbered scenario: `s`, digits, `_`.
fn numbered_scenario_fn(line: &str) -> Option<&str> {
    let code = line.split_once("//").map_or(line, |(code, _)| code);
    let words: Vec<&str> = code.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let name = words.get(at + 1)?.split(['(', '<']).next()?;
    let after_s = name.strip_prefix('s')?;
    let after_digits = after_s.trim_start_matches(|c: char| c.is_ascii_digit());
    (after_digits.len() < after_s.len() && after_digits.starts_with('_')).then_some(name)
}

/// `(line number, what is wrong)` for every offending line of `text`.
fn findings(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let what = if line.contains("CONTRACT") {
            "points at the contract document".to_owned()
        } else if line.contains('§') {
            "cites a section sign".to_owned()
        } else if cites_an_issue(line) {
            "cites an issue number".to_owned()
        } else if let Some(name) = numbered_scenario_fn(line) {
            format!("`{name}` is named after a numbered scenario")
        } else {
            continue;
        };
        found.push((index + 1, what));
    }
    found
}

#[test]
fn sources_and_tests_state_behaviour_without_document_references() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut checked = 0;
    for root in ROOTS {
        let mut files = Vec::new();
        rust_files(&base.join(root), &mut files);
        checked += files.len();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let shown = Path::new(root).join(file.strip_prefix(base.join(root)).unwrap());
            for (line, what) in findings(&text) {
                found.push(format!("{}:{line}: {what}", shown.display()));
            }
        }
    }
    assert!(checked > 100, "found the sources: {checked} files");
    assert!(
        found.is_empty(),
        "say what the code does instead of where a rule is written:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_every_kind_of_reference_and_nothing_else() {
    let text = "\
        // as CONTRACT 3.1 says\n\
        /// see § 4\n\
        // fixes issue 14\n\
        //! Issues #2 and 3\n\
        async fn s12_a_scenario() {}\n\
        pub(crate) fn s1_x<T>(t: T) {}\n\
        // an issue without a number, a tissue 5, the contract's terms\n\
        fn session_2() {}\n\
        fn s_plain() {}\n\
        let s1_value = 1;\n";
    let lines: Vec<usize> = findings(text).into_iter().map(|(line, _)| line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6]);
}
