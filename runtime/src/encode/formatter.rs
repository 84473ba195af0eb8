//! The formatter the bounded encoding writes with: compact JSON whose string values are cut at what the worker
//! could keep, and the same cut written by the crate for a long string, byte for byte.

use std::cell::Cell;

use serde_json::ser::Formatter;

use crate::json_string;

/// The characters of a string value kept by the bounded encoding: the longest string the worker keeps whole
/// (`MAX_STRING_CHARS`, 32,768) and 2,048 more. The worker's privacy passes read a string's first 1,024
/// characters past that limit, so they see the same text as in the whole value, and a string the passes do not
/// shorten is still over the limit and cut and marked there exactly as before. Kept this close to the limit, a
/// cut value's text fits a buffer the pool takes back (`POOLED_CAPACITY`).
pub(crate) const KEPT_STRING_CHARS: usize = 32_768 + 2_048;
/// The marker appended to a truncated string, as `privacy::truncate` writes it.
pub(crate) const TRUNCATION_MARKER: &str = "...";

/// The formatter of the bounded encoding: compact JSON, long string values cut.
pub(super) struct CutLongStrings<'o> {
    in_key: bool,
    chars: usize,
    cut: bool,
    base64_shaped: bool,
    /// Whether the next byte array is a long string's kept characters (`shorten::NextBytes`).
    next_bytes: &'o Cell<Option<bool>>,
}

impl<'o> CutLongStrings<'o> {
    pub(super) fn new(next_bytes: &'o Cell<Option<bool>>) -> Self {
        Self {
            in_key: false,
            chars: 0,
            cut: false,
            base64_shaped: true,
            next_bytes,
        }
    }

    fn keep(&mut self, chars: usize) -> bool {
        if self.in_key {
            return true;
        }
        if self.chars + chars > KEPT_STRING_CHARS {
            self.cut = true;
            return false;
        }
        self.chars += chars;
        true
    }
}

fn base64_or_data_url(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '+' | '/' | '\n' | '\r' | '=' | '-' | '_' | '%' | ':' | ';' | ','
        )
}

impl Formatter for CutLongStrings<'_> {
    fn begin_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.chars = 0;
        self.cut = false;
        self.base64_shaped = true;
        writer.write_all(b"\"")
    }

    fn end_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        if self.cut && !self.base64_shaped {
            writer.write_all(TRUNCATION_MARKER.as_bytes())?;
        }
        self.cut = false;
        writer.write_all(b"\"")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if self.in_key {
            return writer.write_all(fragment.as_bytes());
        }
        if self.cut {
            return Ok(());
        }
        let room = KEPT_STRING_CHARS - self.chars;
        let kept = match char_boundary_after(fragment, room) {
            Some(end) => {
                self.cut = true;
                &fragment[..end]
            }
            None => fragment,
        };
        self.chars += kept.chars().count();
        // Every character of base64 and data URLs is ASCII, so bytes decide it (and prose stops at its first).
        self.base64_shaped =
            self.base64_shaped && kept.bytes().all(|b| base64_or_data_url(char::from(b)));
        writer.write_all(kept.as_bytes())
    }

    /// A long string's kept characters (as [`kept_whole`] chose them), written as a JSON string in one pass;
    /// any other byte array as serde_json writes it.
    fn write_byte_array<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> std::io::Result<()> {
        let Some(marked) = self.next_bytes.take() else {
            return serde_json::ser::CompactFormatter.write_byte_array(writer, value);
        };
        writer.write_all(b"\"")?;
        json_string::escape_to(writer, value)?;
        if marked {
            writer.write_all(TRUNCATION_MARKER.as_bytes())?;
        }
        writer.write_all(b"\"")
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        if self.cut || !self.keep(1) {
            return Ok(());
        }
        if !matches!(
            escape,
            serde_json::ser::CharEscape::LineFeed | serde_json::ser::CharEscape::CarriageReturn
        ) {
            self.base64_shaped = false;
        }
        serde_json::ser::CompactFormatter.write_char_escape(writer, escape)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.in_key = true;
        serde_json::ser::CompactFormatter.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        self.in_key = false;
        serde_json::ser::CompactFormatter.end_object_key(writer)
    }
}

/// The longest prefix of `text` that [`CutLongStrings`] needs to see to write exactly what it would write for
/// all of `text`: one character past what it keeps, so that it still cuts and marks. The formatter counts
/// source characters (an escape is one), so the output is the same byte for byte.
pub(super) fn shortened(text: &str) -> &str {
    match char_boundary_after(text, KEPT_STRING_CHARS + 1) {
        Some(end) => &text[..end],
        None => text,
    }
}

/// The byte offset of character `count` of `text` (where its first `count` characters end), or `None` when
/// `text` has no more than `count` characters. Text whose first `count` bytes are ASCII (most text) is answered
/// from the bytes at once, without decoding a character.
pub(crate) fn char_boundary_after(text: &str, count: usize) -> Option<usize> {
    if text.len() <= count {
        return None;
    }
    if text.as_bytes()[..count].is_ascii() {
        return Some(count);
    }
    text.char_indices().nth(count).map(|(end, _)| end)
}

/// A string this long or longer reaches the formatter as the bytes of what it keeps ([`kept_whole`]), written in
/// one pass instead of through serde_json's character-by-character escaping, which costs several times more per
/// byte.
pub(super) const WRITTEN_WHOLE_FROM: usize = 512;

/// What [`CutLongStrings`] keeps of `text`: its first [`KEPT_STRING_CHARS`] characters, and whether the truncation
/// marker follows them (it was cut, and not every kept character is of base64 or a data URL's). The formatter
/// writes them escaped as serde_json escapes them, byte for byte what it writes for the whole `text`.
pub(super) fn kept_whole(text: &str) -> (&str, bool) {
    match char_boundary_after(text, KEPT_STRING_CHARS) {
        Some(end) => {
            let kept = &text[..end];
            (
                kept,
                !kept.bytes().all(|b| base64_or_data_url(char::from(b))),
            )
        }
        None => (text, false),
    }
}
