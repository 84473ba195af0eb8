//! Bounded pools of spare memory that goes back and forth between the request path and the delivery worker.
//!
//! With glibc, memory freed by a thread other than the one that allocated it leaves the allocator's per-thread
//! cache and takes its slow path on both threads (measured: most of the request path's allocator cost). What the
//! request path fills and the worker empties (text buffers, the per-call job's box) is therefore handed back
//! through a pool instead of freed. Both ends only `try_lock`: a contended pool costs one fresh allocation (or
//! one free), never a wait. Each pool holds at most `max` items, so its memory is bounded by `max` × the largest
//! item its user admits.

use std::sync::Mutex;

/// At most `max` spare `T`s.
pub(crate) struct Pool<T> {
    spare: Mutex<Vec<T>>,
    max: usize,
}

impl<T> Pool<T> {
    pub(crate) const fn new(max: usize) -> Self {
        Self {
            spare: Mutex::new(Vec::new()),
            max,
        }
    }

    /// A spare item, when there is one and the pool is not busy.
    pub(crate) fn take(&self) -> Option<T> {
        self.spare.try_lock().ok().and_then(|mut spare| spare.pop())
    }

    /// Keeps `item` when the pool has room and is not busy; otherwise hands it back (for the caller to drop).
    pub(crate) fn keep(&self, item: T) -> Option<T> {
        match self.spare.try_lock() {
            Ok(mut spare) if spare.len() < self.max => {
                if spare.capacity() == 0 {
                    spare.reserve_exact(self.max);
                }
                spare.push(item);
                None
            }
            _ => Some(item),
        }
    }

    /// Reads the spare items (for tests of a pool's bound).
    #[cfg(test)]
    pub(crate) fn inspect<R>(&self, read: impl FnOnce(&[T]) -> R) -> R {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        read(&spare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_keeps_at_most_its_bound_and_hands_back_the_rest() {
        let pool = Pool::new(3);
        let refused: Vec<u32> = (0..5).filter_map(|n| pool.keep(n)).collect();
        assert_eq!(refused, [3, 4], "items past the bound are handed back");
        assert_eq!(pool.inspect(|spare| spare.len()), 3);
        assert_eq!(pool.take(), Some(2));
        assert_eq!(pool.keep(9), None, "room again after a take");
        let taken: Vec<u32> = std::iter::from_fn(|| pool.take()).collect();
        assert_eq!(taken, [9, 1, 0]);
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn a_busy_pool_neither_waits_nor_keeps() {
        let pool = Pool::new(3);
        assert_eq!(pool.keep(1), None);
        let held = pool.spare.lock().unwrap();
        assert_eq!(pool.take(), None, "take does not wait for the lock");
        assert_eq!(pool.keep(2), Some(2), "keep does not wait for the lock");
        drop(held);
        assert_eq!(pool.take(), Some(1));
    }
}
