//! Unit tests of `encode`: the pool's bound, and the bounded encoding written byte for byte as the formatter alone
//! writes it.

use super::formatter::WRITTEN_WHOLE_FROM;
use super::*;
use serde::Serializer;
use serde::ser::SerializeStruct;
use serde_json::{Value, json};

#[test]
fn the_buffer_pool_recycles_text_buffers_and_stays_bounded_in_bytes() {
    // Other tests of this binary share the pool; every assertion here holds whatever they do.
    let texts: Vec<Vec<u8>> = (0..200)
        .map(|n| {
            let text = "x".repeat(n * 300);
            encode_bounded(&json!({"n": n, "text": text, "again": text, "more": [text, text]}))
                .unwrap()
        })
        .collect();
    let largest = texts.iter().map(Vec::capacity).max().unwrap();
    assert!(largest > POOLED_CAPACITY, "some buffers are oversized");
    for text in texts {
        give_back(text);
    }
    let (count, bytes) = pooled();
    assert!(count > 0, "returned buffers are kept");
    assert!(bytes <= POOLED_BYTES, "{bytes} bytes pooled");

    // A returned buffer comes back empty and is written afresh.
    let text = encode_bounded(&json!({"a": 1})).unwrap();
    assert_eq!(text, br#"{"a":1}"#);
    give_back(text);
    assert_eq!(encode_bounded(&json!([true])).unwrap(), b"[true]");
}

/// What the formatter alone writes for `value` (the encoding before strings were shortened first).
fn formatter_only(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let next_bytes = Cell::new(None);
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, CutLongStrings::new(&next_bytes));
    value.serialize(&mut serializer).unwrap();
    out
}

#[test]
fn shortening_first_writes_the_same_bytes_at_every_length_around_the_cut() {
    let pieces = ["a", "é", "\n", "\"", "\u{1}", "QUJD", "🦀", " "];
    for piece in pieces {
        for extra in [0usize, 1, 2, 3, 10] {
            for base in [
                KEPT_STRING_CHARS - 2,
                KEPT_STRING_CHARS - 1,
                KEPT_STRING_CHARS,
            ] {
                let text: String = "x".repeat(base) + &piece.repeat(extra);
                let value = json!({"k": text, "list": [text, {"deep": text}], "n": 1});
                assert_eq!(
                    encode_bounded(&value).unwrap(),
                    formatter_only(&value),
                    "piece {piece:?}, base {base}, extra {extra}"
                );
            }
        }
    }
}

#[test]
fn a_long_string_written_whole_is_the_formatter_s_token_byte_for_byte() {
    // Every byte serde_json escapes, the ones it leaves (DEL, `/`, non-ASCII), base64 and prose, at lengths on
    // both sides of the threshold for writing a string whole and of the cut.
    let controls: String = (0u8..0x20).map(char::from).collect();
    let pieces = [
        controls.as_str(),
        "\"\\/\u{7f}",
        "é🦀 ",
        "QUJD+/=",
        "line\r\n",
        "plain words ",
    ];
    for piece in pieces {
        for length in [
            WRITTEN_WHOLE_FROM - 1,
            WRITTEN_WHOLE_FROM,
            5_000,
            KEPT_STRING_CHARS - 1,
            KEPT_STRING_CHARS,
            KEPT_STRING_CHARS + 1,
            KEPT_STRING_CHARS + 40,
        ] {
            let text: String = piece.chars().cycle().take(length).collect();
            let value = json!({ "text": text, "list": [text, { "deep": text }] });
            assert_eq!(
                encode_bounded(&value).unwrap(),
                formatter_only(&value),
                "piece {piece:?}, {length} characters"
            );
        }
    }
}

#[test]
fn a_string_of_many_escapes_is_cut_where_the_formatter_cut_it() {
    let text = "\n\"é".repeat(KEPT_STRING_CHARS);
    let value = json!({ "text": text, "b64": "QUJD".repeat(KEPT_STRING_CHARS) });
    assert_eq!(encode_bounded(&value).unwrap(), formatter_only(&value));
}

/// A type whose `Serialize` hands over a string it produced, as rmcp's result types do.
struct Reply(String);

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut reply = serializer.serialize_struct("Reply", 2)?;
        reply.serialize_field("text", &self.0)?;
        reply.serialize_field("more", &Some(vec![(1, self.0.as_str())]))?;
        reply.end()
    }
}

#[test]
fn strings_inside_structs_options_and_tuples_are_shortened_too() {
    let text = "y".repeat(10 * KEPT_STRING_CHARS);
    let encoded = encode_bounded(&Reply(text.clone())).unwrap();
    let value = json!({"text": text, "more": [[1, text]]});
    assert_eq!(encoded, formatter_only(&value));
    assert!(encoded.len() < 3 * KEPT_STRING_CHARS);
}

#[test]
fn a_long_string_is_written_in_place_after_what_the_buffer_already_holds() {
    let text = "z\"".repeat(WRITTEN_WHOLE_FROM);
    let mut out = b"prefix".to_vec();
    encode_bounded_into(&mut out, &text).unwrap();
    encode_bounded_into(&mut out, &Some(text.as_str())).unwrap();
    let mut expected = b"prefix".to_vec();
    expected.extend(formatter_only(&json!(text)));
    expected.extend(formatter_only(&json!(text)));
    assert_eq!(out, expected);
}

/// A struct with a long string and real bytes, as a type that serializes a byte buffer hands them over.
struct TextAndBytes(String, Vec<u8>);

impl Serialize for TextAndBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serializer.serialize_struct("TextAndBytes", 3)?;
        value.serialize_field("bytes", &Bytes(&self.1))?;
        value.serialize_field("text", &self.0)?;
        value.serialize_field("after", &Bytes(&self.1))?;
        value.end()
    }
}

struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

#[test]
fn real_bytes_beside_a_long_string_stay_an_array_of_numbers() {
    let text = "q".repeat(KEPT_STRING_CHARS + 10);
    let encoded = encode_bounded(&TextAndBytes(text.clone(), vec![0, 7, 255])).unwrap();
    let expected = json!({"bytes": [0, 7, 255], "text": text, "after": [0, 7, 255]});
    assert_eq!(encoded, formatter_only(&expected));
}

/// A struct whose second field cannot be written as JSON (a map with a key that is not a string).
struct FailsAfterText(String);

impl Serialize for FailsAfterText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serializer.serialize_struct("FailsAfterText", 2)?;
        value.serialize_field("text", &self.0)?;
        let bad: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        value.serialize_field("bad", &bad)?;
        value.end()
    }
}

#[test]
fn a_value_that_fails_to_encode_leaves_the_buffer_as_it_was() {
    let mut out = b"kept".to_vec();
    let failed = encode_bounded_into(&mut out, &FailsAfterText("w".repeat(5_000)));
    assert!(failed.is_err());
    assert_eq!(out, b"kept");
}

#[test]
fn the_boundary_after_a_count_of_characters_is_the_same_for_ascii_and_for_any_text() {
    for text in [
        "abcdef",
        "héllo wörld",
        "日本語テキスト",
        "ab日本",
        "a\u{1F600}bc",
    ] {
        let chars: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        for count in 0..=chars.len() + 2 {
            assert_eq!(
                char_boundary_after(text, count),
                chars.get(count).copied(),
                "{text:?} after {count} characters"
            );
        }
    }
}

#[test]
fn a_long_reply_grows_a_fresh_buffer_once_not_again_for_the_bytes_after_its_string() {
    let text = "word ".repeat(32_768 / 5);
    let reply = json!({"content": [{"type": "text", "text": text}], "isError": false});
    let mut out = Vec::with_capacity(256);
    encode_bounded_into(&mut out, &reply).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), reply);
    // Doubling for the closing bytes would leave about twice the text's length of capacity, and copy the string
    // a second time on the way.
    assert!(
        out.capacity() < text.len() + 2 * ROOM_AFTER_LONG_WRITE,
        "capacity {} for {} bytes",
        out.capacity(),
        out.len()
    );
}
