//! Request values as JSON text, bounded by the event budget: what the request path hands to the worker for
//! params and replies. A string longer than the worker could ever keep is shortened before serde_json scans it
//! for escapes, so a 1 MB reply costs the request thread no more than one at the budget.
//!
//! The texts are written into buffers from a small shared pool (`recycle::Pool`; [`give_back`] returns them once
//! the worker has read them), so the common path frees no memory on a thread other than the one that allocated it.

use serde::Serialize;
use serde::ser::{
    SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};
use serde_json::ser::Formatter;

use crate::json_string;
use crate::recycle::Pool;

/// The characters of a string value kept by [`encode_bounded`]: the longest string the worker keeps whole
/// (`MAX_STRING_CHARS`, 32,768) and 2,048 more. The worker's privacy passes read a string's first 1,024
/// characters past that limit, so they see the same text as in the whole value, and a string the passes do not
/// shorten is still over the limit and cut and marked there exactly as before. Kept this close to the limit, a
/// cut value's text fits a 64 KiB buffer, which the pool takes back.
pub(crate) const KEPT_STRING_CHARS: usize = 32_768 + 2_048;
/// The marker appended to a truncated string, as `privacy::truncate` writes it.
pub(crate) const TRUNCATION_MARKER: &str = "...";

/// `value` as JSON text, each string value longer than [`KEPT_STRING_CHARS`] cut there, so the cost of a huge
/// value on the request path is bounded by the event budget rather than by the value. A cut string ends with the
/// truncation marker (`...`), unless every kept character is of base64 or a data URL's, which must stay of that
/// shape for the worker's binary gate (and is still over the worker's cap, so marked there). Object keys are
/// never cut. The request path appends with [`encode_bounded_into`]; this whole-value form serves the tests.
#[cfg(test)]
pub(crate) fn encode_bounded<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = take_buffer();
    match encode_bounded_into(&mut out, value) {
        Ok(()) => Ok(out),
        Err(error) => {
            give_back(out);
            Err(error)
        }
    }
}

/// As [`encode_bounded`], appending to `out` (a buffer from this module's pool, or one that goes back to it);
/// on an error `out` is left as it was.
pub(crate) fn encode_bounded_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    let start = out.len();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut *out, CutLongStrings::default());
    let written = Shortened(value).serialize(&mut serializer);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// An empty buffer for [`encode_bounded_into`].
pub(crate) fn buffer() -> Vec<u8> {
    take_buffer()
}

/// The spare buffers in the pool hold at most this many bytes together (their capacity and their slot).
pub(crate) const POOLED_BYTES: usize = 1024 * 1024;
/// A buffer with more capacity than this is freed rather than pooled, so one large reply does not fill the pool
/// (a value with a string cut at [`KEPT_STRING_CHARS`] fits).
pub(crate) const POOLED_CAPACITY: usize = 64 * 1024;
/// The capacity a fresh buffer starts with: room for a typical call's params or reply.
const FRESH_CAPACITY: usize = 256;

/// Spare text buffers (see `recycle`): allocated once and handed back and forth between the threads.
static POOL: Pool<Vec<u8>> = Pool::new(POOLED_BYTES, Vec::capacity);

/// An empty buffer: a pooled one when the pool has one and is not busy, else a fresh one.
fn take_buffer() -> Vec<u8> {
    POOL.take()
        .unwrap_or_else(|| Vec::with_capacity(FRESH_CAPACITY))
}

/// Returns a buffer [`encode_bounded`] made once its text is no longer needed. Kept when the pool has room and
/// the buffer is not oversized; freed otherwise.
pub(crate) fn give_back(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > POOLED_CAPACITY {
        return;
    }
    buffer.clear();
    drop(POOL.keep(buffer));
}

/// The spare buffers and the bytes they hold (for tests of the pool's bound).
#[cfg(test)]
fn pooled() -> (usize, usize) {
    POOL.inspect(|pool| (pool.len(), pool.iter().map(Vec::capacity).sum()))
}

/// The formatter of [`encode_bounded`]: compact JSON, long string values cut.
#[derive(Default)]
struct CutLongStrings {
    in_key: bool,
    chars: usize,
    cut: bool,
    base64_shaped: bool,
}

impl CutLongStrings {
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

impl Formatter for CutLongStrings {
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
fn shortened(text: &str) -> &str {
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

/// A string this long or longer is written as one JSON token built here ([`string_token`]) instead of through
/// serde_json's character-by-character escaping, which costs several times more per byte.
const WRITTEN_WHOLE_FROM: usize = 512;

/// `text` as the JSON string token [`CutLongStrings`] would write for it, byte for byte: its first
/// [`KEPT_STRING_CHARS`] characters, escaped as serde_json escapes them, and the truncation marker when it was cut
/// unless every kept character is of base64 or a data URL's. Runs that need no escape are copied whole.
fn string_token(text: &str) -> Vec<u8> {
    let (kept, cut) = match char_boundary_after(text, KEPT_STRING_CHARS) {
        Some(end) => (&text[..end], true),
        None => (text, false),
    };
    let mut token = Vec::with_capacity(kept.len() + 2 + TRUNCATION_MARKER.len());
    token.push(b'"');
    json_string::escape_into(&mut token, kept);
    if cut && !kept.bytes().all(|b| base64_or_data_url(char::from(b))) {
        token.extend_from_slice(TRUNCATION_MARKER.as_bytes());
    }
    token.push(b'"');
    token
}

/// `value` serialized through [`Shorten`].
struct Shortened<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Shortened<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Shorten(serializer))
    }
}

/// A serializer that hands every string value to the one it wraps [`shortened`], and everything else as is.
/// Map keys and field names pass whole (keys are never cut).
struct Shorten<S>(S);

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, value: $ty) -> Result<Self::Ok, Self::Error> {
            self.0.$method(value)
        })*
    };
}

impl<S: Serializer> Serializer for Shorten<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Shorten<S::SerializeSeq>;
    type SerializeTuple = Shorten<S::SerializeTuple>;
    type SerializeTupleStruct = Shorten<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Shorten<S::SerializeTupleVariant>;
    type SerializeMap = Shorten<S::SerializeMap>;
    type SerializeStruct = Shorten<S::SerializeStruct>;
    type SerializeStructVariant = Shorten<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_str(self, value: &str) -> Result<Self::Ok, Self::Error> {
        if value.len() >= WRITTEN_WHOLE_FROM {
            let token = string_token(value);
            if let Ok(raw) = serde_json::from_slice::<&serde_json::value::RawValue>(&token) {
                return raw.serialize(self.0);
            }
        }
        self.0.serialize_str(shortened(value))
    }

    fn serialize_none(self) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_some(&Shortened(value))
    }

    fn serialize_unit(self) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_newtype_struct(name, &Shortened(value))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Shortened(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        self.0.serialize_seq(len).map(Shorten)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Self::Error> {
        self.0.serialize_tuple(len).map(Shorten)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, Self::Error> {
        self.0.serialize_tuple_struct(name, len).map(Shorten)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        self.0
            .serialize_tuple_variant(name, index, variant, len)
            .map(Shorten)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        self.0.serialize_map(len).map(Shorten)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, Self::Error> {
        self.0.serialize_struct(name, len).map(Shorten)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        self.0
            .serialize_struct_variant(name, index, variant, len)
            .map(Shorten)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl<S: $trait> $trait for Shorten<S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
                self.0.$method(&Shortened(value))
            }

            fn end(self) -> Result<Self::Ok, Self::Error> {
                self.0.end()
            }
        })*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl<S: SerializeMap> SerializeMap for Shorten<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        self.0.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.0.serialize_value(&Shortened(value))
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), Self::Error> {
        self.0.serialize_entry(key, &Shortened(value))
    }

    fn end(self) -> Result<Self::Ok, Self::Error> {
        self.0.end()
    }
}

macro_rules! fields {
    ($($trait:ident),* $(,)?) => {
        $(impl<S: $trait> $trait for Shorten<S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.0.serialize_field(key, &Shortened(value))
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), Self::Error> {
                self.0.skip_field(key)
            }

            fn end(self) -> Result<Self::Ok, Self::Error> {
                self.0.end()
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
