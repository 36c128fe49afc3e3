//! Writing compiled schemas, tool definitions and catalog documents as
//! JSON text: byte for byte what `serde_json::to_string` writes of the
//! `serde_json::Value` they stand for (compact, keys in the order given,
//! which is sorted).
//!
//! serde_json formats the numbers and escapes the strings that need it.
//! What is written here is only the frame (braces, brackets, commas,
//! colons, `null`, `true`, `false`) and the strings that need no escaping:
//! most of them, and serde_json's escaper goes byte by byte, where telling
//! that nothing needs escaping goes eight bytes at a time ([`plain`]).

use std::cell::RefCell;

use serde_json::Value;

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
    node_into(buf, node)?;
    text(buf.as_slice().to_vec())
}

/// `node` as compact JSON text, for a description (serde_json fails only
/// when its writer does, and a `Vec` never does: nothing to report).
pub(crate) fn node_text(node: &Node<'_>) -> String {
    let mut buf = Vec::new();
    match node_into(&mut buf, node) {
        Ok(()) => text(buf).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn node_into(out: &mut Vec<u8>, node: &Node<'_>) -> Result<(), serde_json::Error> {
    match node {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Node::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Node::Str(s) => string_into(out, s)?,
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                node_into(out, item)?;
            }
            out.push(b']');
        }
        Node::Object(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string_into(out, k)?;
                out.push(b':');
                node_into(out, v)?;
            }
            out.push(b'}');
        }
        Node::Raw(v) => value_into(out, v)?,
    }
    Ok(())
}

fn value_into(out: &mut Vec<u8>, v: &Value) -> Result<(), serde_json::Error> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Value::String(s) => string_into(out, s)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value_into(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string_into(out, k)?;
                out.push(b':');
                value_into(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string: as it is between quotes when nothing in it needs
/// escaping (which is what serde_json writes then), else escaped by
/// serde_json.
pub(crate) fn string_into(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if plain(s) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

/// Whether serde_json would write `s` without escaping anything: it
/// escapes the control characters (below 0x20), `"` and `\` (its `ESCAPE`
/// table), nothing else. Hand-written, as serde_json has no such test:
/// eight bytes at a time (the usual bit tricks for "some byte is below n"
/// and "some byte is zero", exact as a yes/no for the whole word), the last
/// few padded with spaces.
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
    let mut words = s.as_bytes().chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        if !clean(u64::from_le_bytes(bytes)) {
            return false;
        }
    }
    let mut last = [b' '; 8];
    let rest = words.remainder();
    last[..rest.len()].copy_from_slice(rest);
    clean(u64::from_le_bytes(last))
}

/// What was written, as a `String` (only UTF-8 is ever written).
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

    /// A JSON string.
    pub fn string(&mut self, s: &str) -> Result<&mut Self, serde_json::Error> {
        string_into(&mut self.buf, s)?;
        Ok(self)
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "true" } else { "false" })
    }

    pub fn finish(self) -> Result<String, serde_json::Error> {
        text(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let written = |s: &str| {
            let mut out = Vec::new();
            string_into(&mut out, s).unwrap();
            String::from_utf8(out).unwrap()
        };
        let mut every_char = String::new();
        let specials = ['é', '€', '𝄞', '\u{2028}', '\u{7f}', '\u{80}', '\u{ff}'];
        for c in (0u8..0x80).map(char::from).chain(specials) {
            every_char.push(c);
            // At every place in a word, and past the last whole word.
            for at in 0..20 {
                let s = format!("{}{c}{}", "a".repeat(at), "b".repeat(19 - at));
                for s in [&s[..], &s[..at + c.len_utf8()]] {
                    let expected = serde_json::to_string(s).unwrap();
                    assert_eq!(written(s), expected, "{s:?}");
                    assert_eq!(plain(s), !expected.contains('\\'), "{s:?}");
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
            "b": [1, -2, 2.5, 1e300, 0.1, u64::MAX, i64::MIN, null, true, false, "\"q\" \\ \n"],
            "a": {"z": {}, "y": [], "": "empty key", "k\u{1}": "control in a key"},
            "é": "non-ASCII key"
        });
        let mut out = Vec::new();
        value_into(&mut out, &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        assert_eq!(node_text(&Node::Raw(&v)), v.to_string());
    }
}
