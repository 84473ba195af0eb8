//! Request values as JSON text, bounded by the event budget: what the request path hands to the worker for
//! params and replies. A string longer than the worker could ever keep is shortened before it is scanned for
//! escapes, and a long one is escaped by the crate, so a 1 MB reply costs the request thread no more than one at
//! the budget.
//!
//! `formatter.rs` cuts strings as serde_json writes them, and writes a long one whole; `shorten.rs` wraps the
//! serializer so that each string value reaches it shortened, and a long one by that whole-string route. The texts are written into buffers from a small shared pool
//! (`recycle::Pool`; [`give_back`] returns them once the worker has read them), so the common path frees no memory
//! on a thread other than the one that allocated it.

mod formatter;
mod shorten;

use std::cell::Cell;

use serde::Serialize;

use self::formatter::CutLongStrings;
pub(crate) use self::formatter::char_boundary_after;
#[cfg(test)]
pub(crate) use self::formatter::{KEPT_STRING_CHARS, TRUNCATION_MARKER};
use self::shorten::Shortened;
use crate::recycle::Pool;

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
    let next_bytes = Cell::new(None);
    let mut serializer =
        serde_json::Serializer::with_formatter(Text(&mut *out), CutLongStrings::new(&next_bytes));
    let written = Shortened(value, &next_bytes).serialize(&mut serializer);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// A write at least this long (a long string's kept text) makes room for the value's closing bytes too.
const LONG_WRITE: usize = 4096;
/// The room left after a long write: a value's closing brackets and short fields after its long string.
const ROOM_AFTER_LONG_WRITE: usize = 1024;

/// The text buffer as the serializer writes it. A long string arrives in one write; growing the buffer for it
/// alone would leave no room for the bytes after it, and the next short write would double the buffer and copy
/// the whole string again. So a long write reserves room for those bytes at once.
struct Text<'a>(&'a mut Vec<u8>);

impl std::io::Write for Text<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.len() >= LONG_WRITE && self.0.capacity() - self.0.len() < bytes.len() {
            self.0.reserve(bytes.len() + ROOM_AFTER_LONG_WRITE);
        }
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An empty buffer for [`encode_bounded_into`].
pub(crate) fn buffer() -> Vec<u8> {
    take_buffer()
}

/// The spare buffers in the pool hold at most this many bytes together (their capacity and their slot).
pub(crate) const POOLED_BYTES: usize = 1024 * 1024;
/// A buffer with more capacity than this is freed rather than pooled, so one large reply does not fill the pool.
/// A value with one string cut at [`KEPT_STRING_CHARS`] fits with room to spare: its text is about 35 KB (its
/// buffer grows once, with room for the bytes after the string), and a value with a few such strings still fits.
pub(crate) const POOLED_CAPACITY: usize = 128 * 1024;
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

#[cfg(test)]
mod tests;
