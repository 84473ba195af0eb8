use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::*;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn schema(names: &[&str]) -> Map<String, Value> {
    let properties: Map<String, Value> = names
        .iter()
        .map(|name| ((*name).to_owned(), json!({"type": "string"})))
        .collect();
    object(json!({"type": "object", "properties": properties}))
}

fn aliases(entries: &[(&str, &[&str])]) -> InputAliases {
    InputAliases(
        entries
            .iter()
            .map(|(canonical, others)| {
                (
                    Arc::from(*canonical),
                    others.iter().map(|a| Arc::from(*a)).collect(),
                )
            })
            .collect(),
    )
}

fn keys(mode: InputKeys, arguments: Value, declared: &[&str]) -> Vec<String> {
    input_key_names(
        mode,
        Some(&object(arguments)),
        Some(&schema(declared)),
        None,
    )
    .unwrap()
    .keys
}

#[test]
fn declared_names_are_recorded_sorted_and_the_rest_as_one_redacted_entry() {
    let recorded = keys(
        InputKeys::Declared,
        json!({"query": "x", "limit": 3, "my email is ada@example.com": 1, "other": 2}),
        &["query", "limit"],
    );
    assert_eq!(recorded, ["limit", "query", "[redacted]"]);
}

#[test]
fn with_every_name_recorded_the_undeclared_follow_the_declared() {
    let recorded = keys(
        InputKeys::All,
        json!({"zeta": 1, "query": "x", "alpha": 2}),
        &["query"],
    );
    assert_eq!(recorded, ["query", "alpha", "zeta"]);
}

#[test]
fn a_name_over_64_characters_is_not_recorded() {
    let long = "n".repeat(65);
    let recorded = keys(InputKeys::All, json!({ long: 1, "query": "x" }), &["query"]);
    assert_eq!(recorded, ["query", "[redacted]"]);
    let exact = "n".repeat(64);
    let recorded = keys(InputKeys::All, json!({ exact.clone(): 1 }), &[]);
    assert_eq!(recorded, [exact]);
}

#[test]
fn the_crates_own_arguments_are_left_out_unless_the_tool_declares_them() {
    let recorded = keys(
        InputKeys::All,
        json!({"query": "x", "context": "why", "llm_model": "m", "conversation_id": "c"}),
        &["query", "context"],
    );
    assert_eq!(recorded, ["context", "query"]);
}

#[test]
fn at_most_twenty_names_and_no_room_left_for_the_redacted_entry() {
    let arguments: Map<String, Value> = (0..30).map(|i| (format!("k{i:02}"), json!(i))).collect();
    let declared: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
    let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
    let recorded = input_key_names(
        InputKeys::Declared,
        Some(&arguments),
        Some(&schema(&declared)),
        None,
    )
    .unwrap()
    .keys;
    assert_eq!(recorded.len(), 20);
    assert_eq!(recorded[0], "k00");
    assert_eq!(recorded[19], "k19");
}

#[test]
fn an_empty_call_records_an_empty_list_and_off_records_nothing() {
    assert!(keys(InputKeys::Declared, json!({}), &["query"]).is_empty());
    assert_eq!(
        input_key_names(InputKeys::Declared, None, None, None)
            .unwrap()
            .keys,
        Vec::<String>::new()
    );
    assert!(input_key_names(InputKeys::Off, Some(&object(json!({"q": 1}))), None, None).is_none());
}

#[test]
fn an_argument_sent_only_under_an_alias_names_the_first_alias_present() {
    let aliases = aliases(&[("query", &["q", "search"]), ("limit", &["max", "n"])]);
    let names = input_key_names(
        InputKeys::Declared,
        Some(&object(json!({"search": "x", "q": "y", "n": 3}))),
        Some(&schema(&["query", "limit"])),
        Some(&aliases),
    )
    .unwrap();
    assert_eq!(names.aliases_used, ["n:limit", "q:query"]);
    // Aliases are declared names, so they are recorded.
    assert_eq!(names.keys, ["n", "q", "search"]);
}

#[test]
fn an_argument_sent_under_its_own_name_uses_no_alias() {
    let aliases = aliases(&[("query", &["q"])]);
    let names = input_key_names(
        InputKeys::Declared,
        Some(&object(json!({"query": "x", "q": "y"}))),
        Some(&schema(&["query"])),
        Some(&aliases),
    )
    .unwrap();
    assert!(names.aliases_used.is_empty());
    assert_eq!(names.keys, ["q", "query"]);
}
