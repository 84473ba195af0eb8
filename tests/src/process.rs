//! The test process's own memory, read from Linux `/proc/self/status`, for the tests that bound it.

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`, …), in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    kib * 1024
}

/// The resident set now, in bytes.
pub fn rss() -> usize {
    status_bytes("VmRSS")
}

/// The peak resident set so far, in bytes.
pub fn peak_rss() -> usize {
    status_bytes("VmHWM")
}
