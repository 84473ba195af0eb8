//! Log capture for tests. One global `tracing` subscriber serves the whole test binary and writes each line to the
//! capture that the emitting thread has open, at that capture's level. A scoped subscriber per test
//! (`tracing::subscriber::set_default`) is not enough when tests run in parallel: tracing caches each callsite's
//! interest globally, and a callsite first reached on a thread with no subscriber can stay disabled for the
//! thread that captures, so a line goes missing and a test that counts lines passes or fails by chance.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Once};

use tracing::{Level, Metadata};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static CURRENT: RefCell<Option<(Buffer, Level)>> = const { RefCell::new(None) };
}

/// What this thread logs while the capture is alive, at `level` and more severe. Captures on one thread nest.
pub struct LogCapture {
    buffer: Buffer,
    previous: Option<(Buffer, Level)>,
}

/// Starts capturing what the current thread logs at `level` or more severe.
pub fn capture(level: Level) -> LogCapture {
    install();
    let buffer = Buffer::default();
    let previous = CURRENT.with(|current| current.replace(Some((buffer.clone(), level))));
    LogCapture { buffer, previous }
}

impl LogCapture {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }

    /// The captured lines.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

fn wanted(metadata: &Metadata<'_>) -> bool {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .is_some_and(|(_, level)| metadata.level() <= level)
    })
}

/// Writes into the emitting thread's capture, if any.
struct Router;

struct RouterWriter(Option<Buffer>);

impl std::io::Write for RouterWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(buffer) = &self.0 {
            buffer.lock().unwrap().extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Router {
    type Writer = RouterWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RouterWriter(CURRENT.with(|current| current.borrow().as_ref().map(|(b, _)| b.clone())))
    }
}

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // The filter decides per event (never cached as "never"), from the emitting thread's capture.
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Router)
            .with_filter(dynamic_filter_fn(|metadata, _| wanted(metadata)));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in a test binary that captures logs");
    });
}
