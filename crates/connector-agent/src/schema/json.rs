//! Writing compiled schemas, tool definitions and catalog documents as
//! JSON text.
//!
//! serde_json writes every value (strings escaped, numbers formatted
//! exactly as it writes a `serde_json::Value`); what is assembled here is
//! only the frame around already written JSON: braces, brackets, commas
//! and our own keys, which need no escaping.

use std::cell::RefCell;

use super::node::Node;

thread_local! {
    /// Where a schema is written before it is copied out at its size: one
    /// buffer per thread, grown to the largest schema written, instead of a
    /// new buffer grown by doubling for every schema.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A scratch buffer larger than this is not kept (a huge schema once
/// should not hold its memory for the life of the thread).
const MAX_KEPT_SCRATCH: usize = 1 << 20;

/// `node` as compact JSON text.
pub(crate) fn write_node(node: &Node<'_>) -> Result<String, serde_json::Error> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let written = write_into(&mut buf, node);
            if buf.capacity() > MAX_KEPT_SCRATCH {
                *buf = Vec::new();
            }
            written
        }
        // Not reentrant, but never fail for it.
        Err(_) => write_into(&mut Vec::new(), node),
    })
}

fn write_into(buf: &mut Vec<u8>, node: &Node<'_>) -> Result<String, serde_json::Error> {
    serde_json::to_writer(&mut *buf, node)?;
    text(buf.as_slice().to_vec())
}

/// What serde_json wrote, as a `String` (it writes UTF-8 only).
fn text(bytes: Vec<u8>) -> Result<String, serde_json::Error> {
    String::from_utf8(bytes).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// A JSON document assembled from pieces of JSON text.
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    /// JSON text (or the frame around it) as it is.
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.buf.extend_from_slice(json.as_bytes());
        self
    }

    /// A string, escaped by serde_json.
    pub fn string(&mut self, s: &str) -> Result<&mut Self, serde_json::Error> {
        serde_json::to_writer(&mut self.buf, s)?;
        Ok(self)
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "true" } else { "false" })
    }

    pub fn finish(self) -> Result<String, serde_json::Error> {
        text(self.buf)
    }
}
