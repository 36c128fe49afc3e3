//! Resolving a `$ref` inside the schema that holds it. Nothing is fetched.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// What a `$ref` points at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A schema in this document.
    Local(&'a Value),
    /// The document's root (`#`).
    Root,
    /// Another document (a URL, a relative path): never fetched.
    Network,
    /// A local pointer to nothing.
    Missing,
}

/// Resolves `reference` against `root` (the document the `$ref` is in).
pub(crate) fn resolve<'a>(root: &'a Map<String, Value>, reference: &str) -> Target<'a> {
    let fragment = match reference.strip_prefix('#') {
        Some(f) => f,
        None => match own_fragment(root, reference) {
            Some(f) => f,
            None => return Target::Network,
        },
    };
    if fragment.is_empty() {
        return Target::Root;
    }
    match fragment.strip_prefix('/') {
        Some(path) => pointer(root, path),
        None => anchor(root, &percent_decode(fragment)),
    }
}

/// `reference` as a fragment of `root`'s own `$id` (`https://x/s.json#/$defs/A`
/// inside the document whose `$id` is `https://x/s.json`).
fn own_fragment<'r>(root: &Map<String, Value>, reference: &'r str) -> Option<&'r str> {
    let id = root.get("$id")?.as_str()?;
    let id = id.strip_suffix('#').unwrap_or(id);
    let rest = reference.strip_prefix(id)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('#')
}

fn pointer<'a>(root: &'a Map<String, Value>, path: &str) -> Target<'a> {
    let mut segments = path.split('/');
    let Some(first) = segments.next() else {
        return Target::Root;
    };
    let Some(mut current) = root.get(unescape(first).as_ref()) else {
        return Target::Missing;
    };
    for segment in segments {
        let segment = unescape(segment);
        let next = match current {
            Value::Object(map) => map.get(segment.as_ref()),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return Target::Missing,
        }
    }
    Target::Local(current)
}

/// A plain-name fragment (`#node`): a `$anchor` (or a draft-07 `$id: "#node"`)
/// among the definitions.
fn anchor<'a>(root: &'a Map<String, Value>, name: &str) -> Target<'a> {
    let matches = |schema: &Map<String, Value>| {
        schema.get("$anchor").and_then(Value::as_str) == Some(name)
            || schema
                .get("$id")
                .and_then(Value::as_str)
                .and_then(|id| id.strip_prefix('#'))
                == Some(name)
    };
    if matches(root) {
        return Target::Root;
    }
    for defs in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = root.get(defs) {
            for def in defs.values() {
                if let Value::Object(schema) = def
                    && matches(schema)
                {
                    return Target::Local(def);
                }
            }
        }
    }
    Target::Missing
}

/// A JSON-pointer segment: percent-decoded (it sits in a URI fragment),
/// then `~1` → `/` and `~0` → `~`.
fn unescape(segment: &str) -> Cow<'_, str> {
    let decoded = percent_decode(segment);
    if !decoded.contains('~') {
        return decoded;
    }
    Cow::Owned(decoded.replace("~1", "/").replace("~0", "~"))
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> Map<String, Value> {
        match json!({
            "$id": "https://example.com/s.json",
            "$defs": {
                "A": {"type": "string"},
                "a/b": {"type": "integer"},
                "sp ace": {"type": "boolean"},
                "N": {"$anchor": "node", "type": "object"}
            },
            "definitions": {"Old": {"type": "number"}},
            "properties": {"list": {"items": [{"type": "null"}]}}
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn local(t: Target<'_>) -> Option<&Value> {
        match t {
            Target::Local(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn resolves_pointers_anchors_and_own_id() {
        let r = root();
        assert_eq!(local(resolve(&r, "#/$defs/A")).unwrap()["type"], "string");
        assert_eq!(
            local(resolve(&r, "#/$defs/a~1b")).unwrap()["type"],
            "integer"
        );
        assert_eq!(
            local(resolve(&r, "#/$defs/sp%20ace")).unwrap()["type"],
            "boolean"
        );
        assert_eq!(
            local(resolve(&r, "#/definitions/Old")).unwrap()["type"],
            "number"
        );
        assert_eq!(
            local(resolve(&r, "#/properties/list/items/0")).unwrap()["type"],
            "null"
        );
        assert_eq!(local(resolve(&r, "#node")).unwrap()["type"], "object");
        assert_eq!(
            local(resolve(&r, "https://example.com/s.json#/$defs/A")).unwrap()["type"],
            "string"
        );
        assert!(matches!(resolve(&r, "#"), Target::Root));
        assert!(matches!(
            resolve(&r, "https://example.com/s.json"),
            Target::Root
        ));
    }

    #[test]
    fn network_and_missing_are_told_apart() {
        let r = root();
        assert!(matches!(
            resolve(&r, "https://evil.example/x.json"),
            Target::Network
        ));
        assert!(matches!(
            resolve(&r, "other.json#/$defs/A"),
            Target::Network
        ));
        assert!(matches!(resolve(&r, "#/$defs/Nope"), Target::Missing));
        assert!(matches!(
            resolve(&r, "#/properties/list/items/7"),
            Target::Missing
        ));
        assert!(matches!(resolve(&r, "#nowhere"), Target::Missing));
        assert!(matches!(resolve(&r, "#/$defs/A%zz"), Target::Missing));
    }
}
