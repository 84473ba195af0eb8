//! The memory sink (the `test-util` feature): every delivered payload kept for a test's assertions.

use std::sync::{Arc, Mutex};

use crate::event::Payload;

/// A sink that keeps every delivered payload in memory, for tests of what an instrumented server sends
/// ([`crate::Destination::Memory`]; the `test-util` feature).
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    payloads: Arc<Mutex<Vec<Payload>>>,
}

impl MemorySink {
    /// A new, empty memory sink.
    pub fn new() -> Self {
        Self::default()
    }
    /// Every payload delivered so far, in delivery order.
    pub fn payloads(&self) -> Vec<Payload> {
        self.lock().clone()
    }
    /// How many payloads were delivered so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    /// `true` while nothing was delivered.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
    /// Removes and returns everything delivered so far.
    pub fn take(&self) -> Vec<Payload> {
        std::mem::take(&mut *self.lock())
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Payload>> {
        self.payloads.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub(super) fn push(&self, payloads: impl IntoIterator<Item = Payload>) {
        self.lock().extend(payloads);
    }
}
