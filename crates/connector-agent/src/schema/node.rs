//! The compiler's output tree: a compiled schema that borrows from the
//! input schema wherever it copies it (keys, strings, whole keyword values),
//! and whose vectors and own strings live in an arena (`bumpalo`, one per
//! thread, reset after each compilation), so that building it costs no
//! copy of the input's text and no call to the allocator per node, and
//! dropping it costs nothing.
//!
//! A [`Node`] is then either written as JSON text (`json.rs`: exactly what
//! serde_json writes of the `serde_json::Value` it stands for) or turned
//! into that `serde_json::Value` (the one copy the `Value` API needs).
//!
//! Objects are small vectors kept sorted by key, with `insert` replacing:
//! the same keys in the same order as `serde_json::Map` (a `BTreeMap`
//! here), so both outputs come out identical, byte for byte.

use std::cell::RefCell;

use bumpalo::Bump;
use serde_json::{Map, Number, Value};

/// A vector in the arena.
pub(crate) type List<'a, T> = bumpalo::collections::Vec<'a, T>;

thread_local! {
    /// The arena compilations on this thread build their trees in.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::new());
}

/// An arena grown past this (by a huge schema) is let go after use rather
/// than kept for the life of the thread.
const MAX_KEPT_ARENA: usize = 1 << 20;

/// Runs `f` with this thread's arena, emptied afterwards (so what `f`
/// returns cannot borrow from it).
pub(crate) fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    ARENA.with(|cell| match cell.try_borrow_mut() {
        Ok(mut arena) => {
            let out = f(&arena);
            if arena.allocated_bytes() > MAX_KEPT_ARENA {
                *arena = Bump::new();
            } else {
                arena.reset();
            }
            out
        }
        // Not reentrant, but never fail for it.
        Err(_) => f(&Bump::new()),
    })
}

/// A compiled schema, or a value inside one. Everything it holds is
/// borrowed from the input or from the arena: a tag and one pointer,
/// sixteen bytes, so that a node is passed and returned in registers (a
/// larger one, copied through memory at every return and insertion, cost
/// a fifth of the compiler's time in store-forwarding stalls).
#[derive(Debug)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(&'a Number),
    Str(&'a &'a str),
    Array(&'a mut List<'a, Node<'a>>),
    Object(&'a mut Obj<'a>),
    /// A value of the input, copied as it is (a default, an example, one
    /// enum value...).
    Raw(&'a Value),
}

const _: () = assert!(std::mem::size_of::<Node<'static>>() == 16);

/// A JSON object: entries sorted by key, no key twice.
#[derive(Debug)]
pub(crate) struct Obj<'a> {
    entries: List<'a, (&'a str, Node<'a>)>,
}

impl<'a> Obj<'a> {
    /// An empty object (allocates nothing until something is inserted).
    pub fn new_in(arena: &'a Bump) -> Self {
        Obj {
            entries: List::new_in(arena),
        }
    }

    pub fn with_capacity_in(n: usize, arena: &'a Bump) -> Self {
        Obj {
            entries: List::with_capacity_in(n, arena),
        }
    }

    /// Where `key` is. A linear scan on equality: the objects are small,
    /// and inlined with a literal key, most entries are told apart by their
    /// length alone.
    #[inline]
    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| *k == key)
    }

    /// Where `key` would go to keep the entries sorted.
    fn slot(&self, key: &str) -> usize {
        self.entries.partition_point(|(k, _)| key_lt(k, key))
    }

    /// The arena the object is in.
    pub fn arena(&self) -> &'a Bump {
        self.entries.bump()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node<'a>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    #[inline]
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` (replacing what it held).
    #[inline]
    pub fn insert(&mut self, key: &'a str, value: Node<'a>) {
        match self.position(key) {
            Some(i) => self.entries[i].1 = value,
            None => self.insert_new(key, value),
        }
    }

    /// Adds `key`, which is not there.
    fn insert_new(&mut self, key: &'a str, value: Node<'a>) {
        // Keys mostly come in order (the input's maps are sorted).
        if self
            .entries
            .last()
            .is_none_or(|(last, _)| key_lt(last, key))
        {
            self.entries.push((key, value));
        } else {
            let at = self.slot(key);
            self.entries.insert(at, (key, value));
        }
    }

    /// Sets `key` unless it is set; what it holds either way.
    pub fn or_insert(&mut self, key: &'a str, value: Node<'a>) -> &mut Node<'a> {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                let at = self.slot(key);
                self.entries.insert(at, (key, value));
                at
            }
        };
        &mut self.entries[i].1
    }

    #[inline]
    pub fn remove(&mut self, key: &str) -> Option<Node<'a>> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    /// Sets `key`, most likely new and after every key there (the input's
    /// maps are sorted): checked against the last key only.
    pub fn push_sorted(&mut self, key: &'a str, value: Node<'a>) {
        if self
            .entries
            .last()
            .is_none_or(|(last, _)| key_lt(last, key))
        {
            self.entries.push((key, value));
        } else {
            self.insert(key, value);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &Node<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&'a str, &mut Node<'a>)> {
        self.entries.iter_mut().map(|(k, v)| (*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.entries.iter().map(|(k, _)| *k)
    }

    /// The entries, taken out (the object is left empty).
    pub fn take_entries(&mut self) -> List<'a, (&'a str, Node<'a>)> {
        let arena = self.arena();
        std::mem::replace(&mut self.entries, List::new_in(arena))
    }
}

/// `a < b` as `str` orders them, decided on the first bytes when they
/// differ (nearly always, between two keys of one schema) without a call to
/// `memcmp`.
#[inline]
fn key_lt(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

impl<'a> Node<'a> {
    /// A string that lives as long as the tree (the input's, or ours).
    pub fn str_in(s: &'a str, arena: &'a Bump) -> Self {
        Node::Str(arena.alloc(s))
    }

    /// A string of our own making, copied into the arena.
    pub fn string_in(s: &str, arena: &'a Bump) -> Self {
        let s: &'a str = arena.alloc_str(s);
        Node::Str(arena.alloc(s))
    }

    pub fn number_in(n: Number, arena: &'a Bump) -> Self {
        Node::Number(arena.alloc(n))
    }

    pub fn array(items: List<'a, Node<'a>>) -> Self {
        let arena = items.bump();
        Node::Array(arena.alloc(items))
    }

    pub fn object(m: Obj<'a>) -> Self {
        let arena = m.arena();
        Node::Object(arena.alloc(m))
    }

    /// A copy of a leaf (a string, a number, an input value...); `None`
    /// for an array or object of our own.
    pub fn leaf_copy(&self) -> Option<Node<'a>> {
        Some(match self {
            Node::Null => Node::Null,
            Node::Bool(b) => Node::Bool(*b),
            Node::Number(n) => Node::Number(n),
            Node::Str(s) => Node::Str(s),
            Node::Raw(v) => Node::Raw(v),
            Node::Array(_) | Node::Object(_) => return None,
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            Node::Raw(Value::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) | Node::Raw(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Node::Number(n) => n.as_u64(),
            Node::Raw(Value::Number(n)) => n.as_u64(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null | Node::Raw(Value::Null))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Node::Str(_) | Node::Raw(Value::String(_)))
    }

    pub fn is_object_or_array(&self) -> bool {
        matches!(
            self,
            Node::Array(_) | Node::Object(_) | Node::Raw(Value::Array(_) | Value::Object(_))
        )
    }

    /// The compiled object this is (an input value copied as it is is not
    /// looked into).
    pub fn as_object(&self) -> Option<&Obj<'a>> {
        match self {
            Node::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The value as `serde_json::Value` writes it: compact JSON text.
    pub fn text(&self) -> String {
        super::json::node_text(self)
    }

    /// The same as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number((*n).clone()),
            Node::Str(s) => Value::String((**s).to_owned()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(m) => {
                // Inserted one by one (in order): `collect` would first
                // gather the entries in a vector of their own.
                let mut out = Map::new();
                for (k, v) in m.iter() {
                    out.insert(k.to_owned(), v.to_value());
                }
                Value::Object(out)
            }
            Node::Raw(v) => (*v).clone(),
        }
    }
}

/// Equality as between the `serde_json::Value`s the two would be.
impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Node::Raw(a), Node::Raw(b)) => a == b,
            (Node::Raw(v), n) | (n, Node::Raw(v)) => eq_value(n, v),
            (Node::Null, Node::Null) => true,
            (Node::Bool(a), Node::Bool(b)) => a == b,
            (Node::Number(a), Node::Number(b)) => a == b,
            (Node::Str(a), Node::Str(b)) => a == b,
            (Node::Array(a), Node::Array(b)) => a[..] == b[..],
            (Node::Object(a), Node::Object(b)) => {
                a.len() == b.len()
                    && a.entries
                        .iter()
                        .zip(&b.entries)
                        .all(|((ka, va), (kb, vb))| ka == kb && va == vb)
            }
            _ => false,
        }
    }
}

fn eq_value(n: &Node<'_>, v: &Value) -> bool {
    match (n, v) {
        (Node::Raw(a), b) => *a == b,
        (Node::Null, Value::Null) => true,
        (Node::Bool(a), Value::Bool(b)) => a == b,
        (Node::Number(a), Value::Number(b)) => **a == *b,
        (Node::Str(a), Value::String(b)) => **a == b.as_str(),
        (Node::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq_value(x, y))
        }
        (Node::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| eq_value(x, y)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_keep_keys_sorted_and_unique() {
        let arena = Bump::new();
        let mut m = Obj::new_in(&arena);
        for k in ["type", "anyOf", "description", "type", "$x", "properties"] {
            m.insert(k, Node::str_in(k, &arena));
        }
        let keys: Vec<&str> = m.keys().collect();
        assert_eq!(keys, ["$x", "anyOf", "description", "properties", "type"]);
        m.or_insert("a", Node::Null);
        m.or_insert("type", Node::Null);
        assert_eq!(m.get("type").and_then(Node::as_str), Some("type"));
        assert!(m.get("a").is_some_and(Node::is_null));
        assert!(m.remove("anyOf").is_some() && !m.contains_key("anyOf"));
    }

    #[test]
    fn keys_order_as_strings_do() {
        let keys = [
            "", "a", "ab", "b", "B", "$ref", "é", "a\u{0}", "zz", "z", "éa",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_lt(a, b), a < b, "{a:?} < {b:?}");
            }
        }
    }

    #[test]
    fn equality_and_output_are_those_of_the_value() {
        // Keys written in sorted order, so that the expected text is the
        // same whether or not serde_json preserves insertion order.
        let input = json!({"a": "é\"\n\u{1}", "b": [1, 2.5, "x", null, {"k": true}]});
        let arena = Bump::new();
        let mut m = Obj::new_in(&arena);
        m.insert("b", Node::Raw(&input["b"]));
        m.insert("a", Node::string_in("é\"\n\u{1}", &arena));
        let node = Node::object(m);
        assert_eq!(node.text(), input.to_string());
        assert!(node == Node::Raw(&input));
        assert!(Node::Raw(&input) == node);
        let mut items = List::new_in(&arena);
        if let Value::Array(values) = &input["b"] {
            items.extend(values.iter().map(Node::Raw));
        }
        assert!(Node::array(items) == Node::Raw(&input["b"]));
        assert!(Node::number_in(1.into(), &arena) == Node::Raw(&input["b"][0]));
        assert!(Node::number_in(1.into(), &arena) != Node::Raw(&input["b"][1]));
        assert_eq!(node.to_value(), input);
        assert!(Node::Str(&"x").leaf_copy() == Some(Node::Str(&"x")));
        assert!(node.leaf_copy().is_none());
    }
}
