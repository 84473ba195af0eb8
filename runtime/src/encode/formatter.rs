//! The formatter the bounded encoding writes with: compact JSON whose string values are cut at what the worker
//! could keep, and the same cut written by the crate for a long string, byte for byte.

use std::cell::Cell;

use serde_json::ser::Formatter;

use crate::json_string;

/// The characters of a string value kept by [`encode_bounded`]: the longest string the worker keeps whole
/// (`MAX_STRING_CHARS`, 32,768) and 2,048 more. The worker's privacy passes read a string's first 1,024
/// characters past that limit, so they see the same text as in the whole value, and a string the passes do not
/// shorten is still over the limit and cut and marked there exactly as before. Kept this close to the limit, a
/// cut value's text fits a 64 KiB buffer, which the pool takes back.
pub(crate) const KEPT_STRING_CHARS: usize = 32_768 + 2_048;
/// The marker appended to a truncated string, as `privacy::truncate` writes it.
pub(crate) const TRUNCATION_MARKER: &str = "...";

/// The formatter of [`encode_bounded`]: compact JSON, long string values cut.
pub(super) struct CutLongStrings<'o> {
    in_key: bool,
    chars: usize,
    cut: bool,
    base64_shaped: bool,
    /// Set by [`Shorten`] when it has written a string's opening quote, characters and marker itself and asks
    /// serde_json to write an empty string: only the closing quote is then left to write.
    opened: &'o Cell<bool>,
}

impl<'o> CutLongStrings<'o> {
    pub(super) fn new(opened: &'o Cell<bool>) -> Self {
        Self {
            in_key: false,
            chars: 0,
            cut: false,
            base64_shaped: true,
            opened,
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
        if self.opened.replace(false) {
            return Ok(());
        }
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

/// A string this long or longer is written by [`open_string`] instead of through serde_json's
/// character-by-character escaping, which costs several times more per byte.
pub(super) const WRITTEN_WHOLE_FROM: usize = 512;

/// Writes into `out` what [`CutLongStrings`] would write for `text`, byte for byte, except the closing quote: the
/// opening quote, the first [`KEPT_STRING_CHARS`] characters escaped as serde_json escapes them (runs that need no
/// escape copied whole), and the truncation marker when it was cut, unless every kept character is of base64 or a
/// data URL's.
pub(super) fn open_string(out: &mut Vec<u8>, text: &str) {
    let (kept, cut) = match char_boundary_after(text, KEPT_STRING_CHARS) {
        Some(end) => (&text[..end], true),
        None => (text, false),
    };
    // Room for the quotes, the marker and what usually follows the string, so closing it does not reallocate.
    out.reserve(kept.len() + 2 + TRUNCATION_MARKER.len() + 64);
    out.push(b'"');
    json_string::escape_into(out, kept);
    if cut && !kept.bytes().all(|b| base64_or_data_url(char::from(b))) {
        out.extend_from_slice(TRUNCATION_MARKER.as_bytes());
    }
}
