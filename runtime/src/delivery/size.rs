//! What a payload weighs for the queue's byte bound: about the length of its JSON ([`estimated_len`], what a
//! batch's body is sized by) and about the memory it holds while it waits ([`held_size`]), both without
//! serialising it.

/// About the length of [`crate::event::Payload::to_json`] serialised, without building or serialising it: what
/// the byte bound of the queue counts. Strings count their bytes plus quotes (escapes are ignored).
pub(crate) fn estimated_len(payload: &crate::event::Payload) -> usize {
    fn value_len(value: &serde_json::Value) -> usize {
        use serde_json::Value;
        match value {
            Value::Null => 4,
            Value::Bool(b) => 4 + usize::from(!*b),
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(items) => 2 + items.iter().map(|v| value_len(v) + 1).sum::<usize>(),
            Value::Object(map) => map_len(map),
        }
    }
    fn map_len(map: &serde_json::Map<String, serde_json::Value>) -> usize {
        2 + map
            .iter()
            .map(|(k, v)| k.len() + 4 + value_len(v))
            .sum::<usize>()
    }
    // Envelope keys, quotes and separators, the 24-byte timestamp and the 36-byte uuid.
    const ENVELOPE: usize = 70 + 26 + 38;
    ENVELOPE + payload.event.len() + payload.distinct_id.len() + map_len(&payload.properties)
}

/// About the memory a built payload holds while it waits: what the byte bound of the queue counts. JSON text
/// length understates a `serde_json` tree several times over (a 1.1 KB event held about 9.6 KiB), so this
/// follows the allocations instead: each heap block with the allocator's header and 16-byte rounding, each map
/// entry's bucket (hash, key, value) and index slot, vectors and maps at the power-of-two capacity that growth
/// by doubling leaves them, and the queue entry itself.
pub(crate) fn held_size(payload: &crate::event::Payload) -> usize {
    use serde_json::{Map, Value};
    /// One heap block of `len` bytes as glibc's malloc holds it: a 16-byte header, 16-byte rounding, 32 at least.
    fn block(len: usize) -> usize {
        if len == 0 { 0 } else { (len.div_ceil(16) * 16 + 16).max(32) }
    }
    fn grown(n: usize) -> usize {
        if n == 0 { 0 } else { n.next_power_of_two() }
    }
    fn value(node: &Value) -> usize {
        match node {
            Value::String(s) => block(s.len()),
            Value::Array(items) => {
                block(grown(items.len()) * std::mem::size_of::<Value>())
                    + items.iter().map(value).sum::<usize>()
            }
            Value::Object(map) => object(map),
            _ => 0,
        }
    }
    fn object(map: &Map<String, Value>) -> usize {
        // An index map: a vector of buckets (hash, key, value) and a hash table of indices.
        let bucket = 8 + std::mem::size_of::<String>() + std::mem::size_of::<Value>();
        let slots = grown(map.len() * 8 / 7 + 1);
        block(grown(map.len()) * bucket)
            + block(slots * (std::mem::size_of::<usize>() + 1))
            + map.iter().map(|(k, v)| block(k.len()) + value(v)).sum::<usize>()
    }
    std::mem::size_of::<super::queue::Entry>()
        + block(payload.event.len())
        + block(payload.distinct_id.len())
        + object(&payload.properties)
}
