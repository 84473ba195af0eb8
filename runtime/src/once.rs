//! Warnings that could otherwise repeat on every request (a host hook that always fails, an event that never fits):
//! the first of each kind in the process is a warning, later ones go to debug level, so the host's logs are never
//! flooded at warn level.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// Whether this is the first time a warning of `kind` is logged in this process.
pub(crate) fn first(kind: &'static str) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
        .lock()
        .map(|mut seen| seen.insert(kind))
        .unwrap_or(false)
}

/// `tracing::warn!` the first time for `kind`, `tracing::debug!` after that.
macro_rules! warn_once {
    ($kind:literal, $($arg:tt)+) => {
        if $crate::once::first($kind) {
            ::tracing::warn!($($arg)+)
        } else {
            ::tracing::debug!($($arg)+)
        }
    };
}
pub(crate) use warn_once;

#[cfg(test)]
mod tests {
    #[test]
    fn each_kind_is_first_once() {
        assert!(super::first("a kind only this test uses"));
        assert!(!super::first("a kind only this test uses"));
        assert!(super::first("another kind only this test uses"));
    }
}
