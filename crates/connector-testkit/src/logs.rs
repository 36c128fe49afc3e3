//! Captures every log line of a test binary, at every level, so tests can
//! assert that no token or secret is ever logged.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The captured output of the binary's one global `tracing` subscriber (at
/// TRACE). One global subscriber, not one per thread: thread-local ones lose
/// events to tracing's global callsite interest cache when tests run in
/// parallel.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl std::fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCapture").finish_non_exhaustive()
    }
}

impl LogCapture {
    /// Installs the capture as the global subscriber (once per binary) and
    /// returns it. When another global subscriber was installed first, the
    /// capture stays empty; [`LogCapture::is_installed`] says so.
    pub fn global() -> LogCapture {
        static CAPTURE: OnceLock<(LogCapture, bool)> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let capture = LogCapture::default();
                let writer = capture.clone();
                let subscriber = tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::TRACE)
                    .with_writer(move || writer.clone())
                    .with_ansi(false)
                    .finish();
                let installed = tracing::subscriber::set_global_default(subscriber).is_ok();
                (capture, installed)
            })
            .0
            .clone()
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
