//! Writing compiled schemas, tool definitions and catalog documents as
//! JSON text: byte for byte what `serde_json::to_string` writes of the
//! `serde_json::Value` they stand for (compact, keys in the order given,
//! which is sorted).
//!
//! serde_json escapes the strings that need it and formats the floats
//! (their `Display` is its serializer's); integers go through `itoa`, as in
//! serde_json. What is written here is only the frame (braces, brackets,
//! commas, colons, `null`, `true`, `false`) and the strings that need no
//! escaping: most of them, and serde_json's escaper goes byte by byte,
//! where telling that nothing needs escaping goes eight bytes at a time
//! ([`plain`]).

use std::cell::RefCell;
use std::fmt::Write as _;

use serde_json::Value;

use super::node::Node;

thread_local! {
    /// Where a schema is written before it is copied out at its size: one
    /// buffer per thread, grown to the largest schema written, instead of a
    /// new buffer grown by doubling for every schema.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A scratch buffer larger than this is not kept (a huge schema once
/// should not hold its memory for the life of the thread).
const MAX_KEPT_SCRATCH: usize = 1 << 20;

/// `node` as compact JSON text.
pub(crate) fn write_node(node: &Node<'_>) -> Result<String, serde_json::Error> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let written = node_into(&mut buf, node).map(|()| buf.as_str().to_owned());
            if buf.capacity() > MAX_KEPT_SCRATCH {
                *buf = String::new();
            }
            written
        }
        // Not reentrant, but never fail for it.
        Err(_) => {
            let mut buf = String::new();
            node_into(&mut buf, node).map(|()| buf)
        }
    })
}

/// `node` as compact JSON text, for a description (serde_json fails only
/// when its writer does, and a `String` never does: nothing to report).
pub(crate) fn node_text(node: &Node<'_>) -> String {
    let mut buf = String::new();
    match node_into(&mut buf, node) {
        Ok(()) => buf,
        Err(_) => String::new(),
    }
}

fn node_into(out: &mut String, node: &Node<'_>) -> Result<(), serde_json::Error> {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Number(n) => number_into(out, n),
        Node::Str(s) => string_into(out, s)?,
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                node_into(out, item)?;
            }
            out.push(']');
        }
        Node::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string_into(out, k)?;
                out.push(':');
                node_into(out, v)?;
            }
            out.push('}');
        }
        Node::Raw(v) => value_into(out, v)?,
    }
    Ok(())
}

fn value_into(out: &mut String, v: &Value) -> Result<(), serde_json::Error> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number_into(out, n),
        Value::String(s) => string_into(out, s)?,
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value_into(out, item)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string_into(out, k)?;
                out.push(':');
                value_into(out, v)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A number, as serde_json writes it: integers with `itoa` (what its
/// serializer uses), floats (always finite) through its `Display`, which
/// is its serializer's `ryu`.
fn number_into(out: &mut String, n: &serde_json::Number) {
    let mut digits = itoa::Buffer::new();
    if let Some(u) = n.as_u64() {
        out.push_str(digits.format(u));
    } else if let Some(i) = n.as_i64() {
        out.push_str(digits.format(i));
    } else {
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{n}");
    }
}

/// A JSON string: as it is between quotes when nothing in it needs
/// escaping (which is what serde_json writes then), else escaped by
/// serde_json.
#[inline]
pub(crate) fn string_into(out: &mut String, s: &str) -> Result<(), serde_json::Error> {
    if plain(s) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        Ok(())
    } else {
        escaped_into(out, s)
    }
}

/// The rare string that needs escaping, apart: the common path stays small.
#[cold]
#[inline(never)]
fn escaped_into(out: &mut String, s: &str) -> Result<(), serde_json::Error> {
    out.push_str(&serde_json::to_string(s)?);
    Ok(())
}

/// Whether serde_json would write `s` without escaping anything: it
/// escapes the control characters (below 0x20), `"` and `\` (its `ESCAPE`
/// table), nothing else. Hand-written, as serde_json has no such test:
/// eight bytes at a time (the usual bit tricks for "some byte is below n"
/// and "some byte is zero", exact as a yes/no for the whole word).
fn plain(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let clean = |word: u64| {
        let below_space = word.wrapping_sub(ONES * 0x20) & !word;
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let zero_in = |w: u64| w.wrapping_sub(ONES) & !w;
        (below_space | zero_in(quote) | zero_in(backslash)) & HIGH == 0
    };
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n < 4 {
        return bytes.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\');
    }
    if n < 8 {
        // The first four and the last four (overlapping): every byte.
        return match (
            <[u8; 4]>::try_from(&bytes[..4]),
            <[u8; 4]>::try_from(&bytes[n - 4..]),
        ) {
            (Ok(head), Ok(tail)) => clean(
                u64::from(u32::from_le_bytes(head)) | u64::from(u32::from_le_bytes(tail)) << 32,
            ),
            _ => false,
        };
    }
    let word =
        |eight: &[u8]| <[u8; 8]>::try_from(eight).is_ok_and(|w| clean(u64::from_le_bytes(w)));
    // Eight at a time, then the last eight (some seen twice: no matter).
    bytes.chunks_exact(8).all(word) && (n.is_multiple_of(8) || word(&bytes[n - 8..]))
}

/// A JSON document assembled from pieces of JSON text.
pub(crate) struct Writer {
    buf: String,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: String::with_capacity(n),
        }
    }

    /// JSON text (or the frame around it) as it is.
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.buf.push_str(json);
        self
    }

    /// A JSON string.
    pub fn string(&mut self, s: &str) -> Result<&mut Self, serde_json::Error> {
        string_into(&mut self.buf, s)?;
        Ok(self)
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "true" } else { "false" })
    }

    pub fn into_string(self) -> String {
        self.buf
    }

    /// The bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Back to the first `len` bytes (a length [`Writer::len`] gave).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let written = |s: &str| {
            let mut out = String::new();
            string_into(&mut out, s).unwrap();
            out
        };
        let mut every_char = String::new();
        let specials = ['é', '€', '𝄞', '\u{2028}', '\u{7f}', '\u{80}', '\u{ff}'];
        for c in (0u8..0x80).map(char::from).chain(specials) {
            every_char.push(c);
            // Every length up to three words, at every place.
            for len in 1..25 {
                for at in 0..len {
                    let s = format!("{}{c}{}", "a".repeat(at), "b".repeat(len - at - 1));
                    let expected = serde_json::to_string(&s).unwrap();
                    assert_eq!(written(&s), expected, "{s:?}");
                    assert_eq!(plain(&s), !expected.contains('\\'), "{s:?}");
                }
            }
        }
        assert_eq!(
            written(&every_char),
            serde_json::to_string(&every_char).unwrap()
        );
        assert_eq!(written(""), "\"\"");
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let v = json!({
            "b": [1, -2, 2.5, 1e300, 0.1, u64::MAX, i64::MIN, -0.0, 1.5e-7, f64::MAX, f64::MIN_POSITIVE, 1e21, 123456789.125, null, true, false, "\"q\" \\ \n"],
            "a": {"z": {}, "y": [], "": "empty key", "k\u{1}": "control in a key"},
            "é": "non-ASCII key"
        });
        let mut out = String::new();
        value_into(&mut out, &v).unwrap();
        assert_eq!(out, serde_json::to_string(&v).unwrap());
        assert_eq!(node_text(&Node::Raw(&v)), v.to_string());
    }
}
