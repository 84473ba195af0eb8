//! Bounded pools of spare memory that goes back and forth between the request path and the delivery worker.
//!
//! With glibc, memory freed by a thread other than the one that allocated it leaves the allocator's per-thread
//! cache and takes its slow path on both threads: the worker waits for the request thread's arena lock, and the
//! request thread wakes it (measured: most of the request path's allocator cost). What the request path fills and
//! the worker empties (text buffers, the per-call job's box) is therefore handed back through a pool instead of
//! freed. The worker empties a whole run of jobs at once (up to a quarter of the queue, every 20 ms), so a pool
//! has room for such a run; its bound is in bytes. Both ends only `try_lock`: a contended pool costs one fresh
//! allocation (or one free), never a wait.

use std::sync::Mutex;

/// Spare `T`s, holding at most `max_bytes` as `weigh` counts them.
pub(crate) struct Pool<T> {
    spare: Mutex<Spare<T>>,
    max_bytes: usize,
    weigh: fn(&T) -> usize,
}

struct Spare<T> {
    items: Vec<T>,
    bytes: usize,
}

impl<T> Pool<T> {
    /// A pool whose spare items weigh at most `max_bytes` together (`weigh` gives an item's heap bytes; the
    /// pool's own list of items counts one word per item on top).
    pub(crate) const fn new(max_bytes: usize, weigh: fn(&T) -> usize) -> Self {
        Self {
            spare: Mutex::new(Spare {
                items: Vec::new(),
                bytes: 0,
            }),
            max_bytes,
            weigh,
        }
    }

    fn weight(&self, item: &T) -> usize {
        (self.weigh)(item) + std::mem::size_of::<T>()
    }

    /// A spare item, when there is one and the pool is not busy.
    pub(crate) fn take(&self) -> Option<T> {
        let mut spare = self.spare.try_lock().ok()?;
        let item = spare.items.pop()?;
        spare.bytes -= self.weight(&item);
        Some(item)
    }

    /// Keeps `item` when the pool has room for it and is not busy; otherwise hands it back (for the caller to
    /// drop).
    pub(crate) fn keep(&self, item: T) -> Option<T> {
        let weight = self.weight(&item);
        match self.spare.try_lock() {
            Ok(mut spare) if spare.bytes + weight <= self.max_bytes => {
                spare.bytes += weight;
                spare.items.push(item);
                None
            }
            _ => Some(item),
        }
    }

    /// Reads the spare items (for tests of a pool's bound).
    #[cfg(test)]
    pub(crate) fn inspect<R>(&self, read: impl FnOnce(&[T]) -> R) -> R {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        read(&spare.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each `u64` weighs its value in bytes, plus the 8 bytes of its slot.
    fn pool(max_bytes: usize) -> Pool<u64> {
        Pool::new(max_bytes, |&n| n as usize)
    }

    #[test]
    fn a_pool_keeps_items_up_to_its_bytes_and_hands_back_the_rest() {
        let pool = pool(3 * 10);
        let refused: Vec<u64> = (0..5).map(|_| 2).filter_map(|n| pool.keep(n)).collect();
        assert_eq!(refused, [2, 2], "items past the bound are handed back");
        assert_eq!(pool.inspect(|spare| spare.len()), 3);
        assert_eq!(
            pool.keep(100),
            Some(100),
            "an item heavier than the room left"
        );
        assert_eq!(pool.take(), Some(2));
        assert_eq!(pool.keep(1), None, "room again after a take");
        let taken: Vec<u64> = std::iter::from_fn(|| pool.take()).collect();
        assert_eq!(taken, [1, 2, 2]);
        assert_eq!(pool.take(), None);
        assert_eq!(pool.keep(22), None, "an empty pool has all its bytes back");
    }

    #[test]
    fn a_busy_pool_neither_waits_nor_keeps() {
        let pool = pool(100);
        assert_eq!(pool.keep(1), None);
        let held = pool.spare.lock().unwrap();
        assert_eq!(pool.take(), None, "take does not wait for the lock");
        assert_eq!(pool.keep(2), Some(2), "keep does not wait for the lock");
        drop(held);
        assert_eq!(pool.take(), Some(1));
    }
}
