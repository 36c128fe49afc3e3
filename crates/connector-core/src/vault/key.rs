//! Store key names.
//!
//! A key is a namespace, an optional user and further parts (provider,
//! account, ...). Every component is escaped so that no id, whatever it holds
//! (`:`, `{`, `}`, `%`, newlines, unicode, the empty string), can produce
//! another key's name: the escaping keeps `[A-Za-z0-9._@+-]` and
//! percent-encodes every other byte, and the empty string becomes `~` (which
//! is otherwise always encoded). The user component is wrapped in `{...}`, a
//! Redis Cluster hash tag, so that all of one user's keys share a slot.

use std::fmt::Write as _;

/// The namespace of token records.
pub const NS_TOKEN: &str = "tok";
/// The namespace of pending authorization states.
pub const NS_STATE: &str = "state";
/// The namespace of refresh locks.
pub const NS_LOCK: &str = "lock";

/// A structured key; backends render it with their prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey {
    namespace: String,
    user: Option<String>,
    parts: Vec<String>,
}

fn is_kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-')
}

/// Escapes one key component (see the module docs).
pub fn escape(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    escape_into(&mut out, component);
    out
}

/// Appends the escape of `component` to `out` (what [`escape`] returns).
pub fn escape_into(out: &mut String, component: &str) {
    if component.is_empty() {
        out.push('~');
    } else if component.bytes().all(is_kept) {
        // The common case (plain ids): one copy, no per-byte work.
        out.push_str(component);
    } else {
        for b in component.bytes() {
            if is_kept(b) {
                out.push(b as char);
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Reverses [`escape`]; `None` for text `escape` cannot have produced.
pub fn unescape(escaped: &str) -> Option<String> {
    if escaped == "~" {
        return Some(String::new());
    }
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = escaped.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if is_kept(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

impl StoreKey {
    /// A key in `namespace`, owned by `user` when given, with further `parts`.
    pub fn new(namespace: impl Into<String>, user: Option<&str>, parts: &[&str]) -> Self {
        StoreKey {
            namespace: namespace.into(),
            user: user.map(str::to_owned),
            parts: parts.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The owning user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The parts after the user.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The parts after the user, escaped and joined with `:` (what a per-user
    /// index stores).
    pub fn rest(&self) -> String {
        self.parts
            .iter()
            .map(|p| escape(p))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The name without a deployment prefix: `ns:{user}:part:part`, or
    /// `ns:part` without a user. Encryption binds each value to this name.
    pub fn logical(&self) -> String {
        let mut s = String::with_capacity(self.name_len_hint());
        self.logical_into(&mut s);
        s
    }

    /// Appends [`StoreKey::logical`] to `out`.
    pub fn logical_into(&self, out: &mut String) {
        escape_into(out, &self.namespace);
        if let Some(u) = &self.user {
            out.push_str(":{");
            escape_into(out, u);
            out.push('}');
        }
        for p in &self.parts {
            out.push(':');
            escape_into(out, p);
        }
    }

    fn name_len_hint(&self) -> usize {
        self.namespace.len()
            + self.user.as_ref().map_or(0, |u| u.len() + 3)
            + self.parts.iter().map(|p| p.len() + 1).sum::<usize>()
    }

    /// The full name under `prefix` (`prefix:ns:{user}:...`).
    pub fn render(&self, prefix: &str) -> String {
        let mut s = String::with_capacity(prefix.len() + 1 + self.name_len_hint());
        escape_into(&mut s, prefix);
        s.push(':');
        self.logical_into(&mut s);
        s
    }

    /// The hash tag of the user (`{escaped-user}`), shared by all of one
    /// user's keys; `None` for keys without a user.
    pub fn user_tag(&self) -> Option<String> {
        self.user.as_ref().map(|u| format!("{{{}}}", escape(u)))
    }

    /// Parses a [`StoreKey::logical`] name back; `None` if malformed.
    pub fn parse_logical(logical: &str) -> Option<StoreKey> {
        let mut it = logical.split(':');
        let namespace = unescape(it.next()?)?;
        let mut user = None;
        let mut parts = Vec::new();
        for (i, comp) in it.enumerate() {
            if i == 0 && comp.starts_with('{') && comp.ends_with('}') && comp.len() >= 2 {
                user = Some(unescape(&comp[1..comp.len() - 1])?);
            } else {
                parts.push(unescape(comp)?);
            }
        }
        Some(StoreKey {
            namespace,
            user,
            parts,
        })
    }

    /// Rebuilds a key of `namespace` and `user` from its [`StoreKey::rest`].
    pub fn from_rest(namespace: &str, user: &str, rest: &str) -> Option<StoreKey> {
        let parts = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split(':').map(unescape).collect::<Option<Vec<_>>>()?
        };
        Some(StoreKey {
            namespace: namespace.to_owned(),
            user: Some(user.to_owned()),
            parts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_injective_and_reversible() {
        let ids = [
            "alice",
            "al:ice",
            "{alice}",
            "a}b{c",
            "line\nbreak",
            "ünïcødé",
            "",
            "~",
            "%41",
            "A",
            "a b",
            "a:b:c",
            "ns:{x}:y",
        ];
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            let e = escape(id);
            assert!(seen.insert(e.clone()), "collision on {id:?}");
            assert!(!e.contains([':', '{', '}', '\n', ' ']), "{e}");
            assert_eq!(unescape(&e).as_deref(), Some(id));
        }
    }

    #[test]
    fn keys_of_different_users_never_collide() {
        let a = StoreKey::new(NS_TOKEN, Some("u:1"), &["slack", "default"]);
        let b = StoreKey::new(NS_TOKEN, Some("u"), &["1:slack", "default"]);
        let c = StoreKey::new(NS_TOKEN, Some("u}:{1"), &["slack", "default"]);
        assert_ne!(a.logical(), b.logical());
        assert_ne!(a.logical(), c.logical());
        assert_eq!(StoreKey::parse_logical(&a.logical()), Some(a.clone()));
        assert_eq!(StoreKey::parse_logical(&c.logical()), Some(c.clone()));
        assert_eq!(
            StoreKey::from_rest(NS_TOKEN, "u:1", &a.rest()),
            Some(a.clone())
        );
        assert_eq!(a.user_tag().as_deref(), Some("{u%3A1}"));
        assert_eq!(a.render("cx"), "cx:tok:{u%3A1}:slack:default");
    }
}
