//! Undoing strict mode on a model's arguments.
//!
//! OpenAI's strict mode makes every property required and the optional ones
//! nullable, so the model sends `"field": null` where it means "not given".
//! Before validating against the original schema (and before a typed tool
//! deserializes them), those nulls must go.

use serde_json::{Map, Value};

use super::pointer::{self, Target};

/// How deep into arguments and schemas the walk goes.
const MAX_DEPTH: usize = 64;
/// The longest `$ref` chain followed.
const MAX_HOPS: usize = 16;
/// Schemas visited at most (arguments are bounded by the model's output,
/// but a schema with references can fan out).
const MAX_STEPS: usize = 100_000;

/// Removes the strict-mode `null`s from `args`: a property whose value is
/// `null`, that the *original* schema does not require, and whose original
/// schema does not accept `null`, is removed; recursively, into nested
/// objects and arrays. A `null` the original schema accepts is kept (the
/// model may mean it). Local `$ref`s in `original` are followed; nothing
/// is fetched; bounded whatever the input.
///
/// ```
/// use connector_agent::schema::undo_strict;
/// use serde_json::json;
///
/// let original = json!({
///     "type": "object",
///     "properties": {
///         "text": {"type": "string"},
///         "times": {"type": "integer"},
///         "note": {"type": ["string", "null"]}
///     },
///     "required": ["text"]
/// });
/// let mut args = json!({"text": "hi", "times": null, "note": null});
/// undo_strict(original.as_object().unwrap(), &mut args);
/// assert_eq!(args, json!({"text": "hi", "note": null}));
/// ```
pub fn undo_strict(original: &Map<String, Value>, args: &mut Value) {
    let mut walk = Walk {
        root: original,
        steps: 0,
    };
    walk.value(Some(original), args, 0);
}

struct Walk<'a> {
    root: &'a Map<String, Value>,
    steps: usize,
}

/// A schema seen through its `$ref`s and `allOf`s: the object maps that
/// apply to one value together.
type Parts<'a> = Vec<&'a Map<String, Value>>;

impl<'a> Walk<'a> {
    fn value(&mut self, schema: Option<&'a Map<String, Value>>, value: &mut Value, depth: usize) {
        let Some(schema) = schema else {
            return;
        };
        if depth > MAX_DEPTH {
            return;
        }
        let mut parts = Vec::new();
        self.collect(schema, &mut parts, 0);
        match value {
            Value::Object(object) => self.object(&parts, object, depth),
            Value::Array(items) => self.array(&parts, items, depth),
            _ => {}
        }
    }

    /// `schema`, its `$ref` targets and its `allOf` parts, flattened.
    fn collect(&mut self, schema: &'a Map<String, Value>, parts: &mut Parts<'a>, depth: usize) {
        self.steps += 1;
        if depth > MAX_DEPTH || self.steps > MAX_STEPS || parts.len() > 64 {
            return;
        }
        parts.push(schema);
        if let Some(target) = self.target(schema) {
            self.collect(target, parts, depth + 1);
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for part in all {
                if let Value::Object(part) = part {
                    self.collect(part, parts, depth + 1);
                }
            }
        }
    }

    /// The schema a `$ref` points at (a chain followed, bounded).
    fn target(&self, schema: &'a Map<String, Value>) -> Option<&'a Map<String, Value>> {
        let mut current = schema;
        let mut found = None;
        for _ in 0..MAX_HOPS {
            let reference = current.get("$ref")?.as_str()?;
            let next = match pointer::resolve(self.root, reference) {
                Target::Root => self.root,
                Target::Local(Value::Object(m)) => m,
                _ => return found,
            };
            if std::ptr::eq(next, current) {
                return found;
            }
            found = Some(next);
            if next.contains_key("$ref") && next.len() == 1 {
                current = next;
            } else {
                return found;
            }
        }
        found
    }

    fn object(&mut self, parts: &Parts<'a>, object: &mut Map<String, Value>, depth: usize) {
        let mut parts = parts.clone();
        // A union: the alternative that best fits this object.
        if let Some(alt) = self.best_alternative(&parts, |alt_parts| {
            let declared = |k: &str| {
                alt_parts.iter().any(|p| {
                    p.get("properties")
                        .and_then(Value::as_object)
                        .is_some_and(|props| props.contains_key(k))
                })
            };
            let is_object = alt_parts.iter().any(|p| {
                p.contains_key("properties") || p.get("type").is_some_and(|t| type_has(t, "object"))
            });
            if !is_object {
                return None;
            }
            Some(object.keys().filter(|k| declared(k)).count())
        }) {
            parts.extend(alt);
        }

        let required = |name: &str| {
            parts.iter().any(|p| {
                p.get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(name)))
            })
        };
        let declared_in = |parts: &Parts<'a>, name: &str| -> Option<&'a Map<String, Value>> {
            parts.iter().find_map(|p| {
                p.get("properties")
                    .and_then(Value::as_object)
                    .and_then(|props| props.get(name))
                    .and_then(Value::as_object)
            })
        };
        // A property only another alternative declares (a root `oneOf`
        // merged for the model offers every alternative's properties).
        let mut others: Parts<'a> = Vec::new();
        if object.keys().any(|k| declared_in(&parts, k).is_none()) {
            for p in &parts {
                for key in ["anyOf", "oneOf"] {
                    if let Some(Value::Array(alternatives)) = p.get(key) {
                        for alt in alternatives {
                            if let Value::Object(alt) = alt {
                                self.collect(alt, &mut others, 0);
                            }
                        }
                    }
                }
            }
        }
        let property =
            |name: &str| declared_in(&parts, name).or_else(|| declared_in(&others, name));

        let mut absent = Vec::new();
        for (name, v) in object.iter_mut() {
            let schema = property(name);
            if v.is_null() {
                if let Some(schema) = schema
                    && !required(name)
                    && !self.accepts_null(schema, 0)
                {
                    absent.push(name.clone());
                }
                continue;
            }
            self.value(schema, v, depth + 1);
        }
        for name in absent {
            object.remove(&name);
        }
    }

    fn array(&mut self, parts: &Parts<'a>, items: &mut [Value], depth: usize) {
        let mut parts = parts.clone();
        if let Some(alt) = self.best_alternative(&parts, |alt_parts| {
            alt_parts
                .iter()
                .any(|p| {
                    p.contains_key("items")
                        || p.contains_key("prefixItems")
                        || p.get("type").is_some_and(|t| type_has(t, "array"))
                })
                .then_some(1)
        }) {
            parts.extend(alt);
        }
        for (i, item) in items.iter_mut().enumerate() {
            let schema = parts.iter().find_map(|p| {
                let prefix = match p.get("prefixItems") {
                    Some(Value::Array(prefix)) => prefix.get(i),
                    _ => None,
                };
                let tuple = match p.get("items") {
                    Some(Value::Array(tuple)) => tuple.get(i),
                    _ => None,
                };
                let single = match p.get("items") {
                    Some(Value::Object(_)) => p.get("items"),
                    _ => None,
                };
                prefix.or(tuple).or(single).and_then(Value::as_object)
            });
            self.value(schema, item, depth + 1);
        }
    }

    /// Among the `anyOf`/`oneOf` alternatives of `parts`, the one `score`
    /// rates highest (None: does not fit), with its own parts.
    fn best_alternative(
        &mut self,
        parts: &Parts<'a>,
        score: impl Fn(&Parts<'a>) -> Option<usize>,
    ) -> Option<Parts<'a>> {
        let mut best: Option<(usize, Parts<'a>)> = None;
        for p in parts {
            for key in ["anyOf", "oneOf"] {
                let Some(Value::Array(alternatives)) = p.get(key) else {
                    continue;
                };
                for alt in alternatives {
                    let Value::Object(alt) = alt else {
                        continue;
                    };
                    let mut alt_parts = Vec::new();
                    self.collect(alt, &mut alt_parts, 0);
                    if let Some(s) = score(&alt_parts)
                        && best.as_ref().is_none_or(|(b, _)| s > *b)
                    {
                        best = Some((s, alt_parts));
                    }
                }
            }
        }
        best.map(|(_, parts)| parts)
    }

    /// Whether `schema` accepts `null`. A schema without a type that
    /// evidently describes an object or array is taken not to (a
    /// strict-mode `null` there means "absent").
    fn accepts_null(&mut self, schema: &'a Map<String, Value>, depth: usize) -> bool {
        self.steps += 1;
        if depth > MAX_DEPTH || self.steps > MAX_STEPS {
            return false;
        }
        if schema.get("nullable") == Some(&Value::Bool(true)) {
            return true;
        }
        if let Some(t) = schema.get("type") {
            if !type_has(t, "null") {
                return false;
            }
        } else if [
            "properties",
            "required",
            "additionalProperties",
            "items",
            "prefixItems",
        ]
        .iter()
        .any(|k| schema.contains_key(*k))
        {
            return false;
        }
        if let Some(Value::Array(values)) = schema.get("enum")
            && !values.contains(&Value::Null)
        {
            return false;
        }
        if let Some(c) = schema.get("const")
            && !c.is_null()
        {
            return false;
        }
        if schema.contains_key("$ref") {
            match self.target(schema) {
                Some(target) => {
                    if !self.accepts_null(target, depth + 1) {
                        return false;
                    }
                }
                None => return false,
            }
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for part in all {
                let ok = match part {
                    Value::Object(part) => self.accepts_null(part, depth + 1),
                    Value::Bool(b) => *b,
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(alternatives)) = schema.get(key) {
                let mut any = false;
                for alt in alternatives {
                    let ok = match alt {
                        Value::Object(alt) => self.accepts_null(alt, depth + 1),
                        Value::Bool(b) => *b,
                        _ => false,
                    };
                    if ok {
                        any = true;
                        break;
                    }
                }
                if !any {
                    return false;
                }
            }
        }
        true
    }
}

fn type_has(t: &Value, name: &str) -> bool {
    match t {
        Value::String(s) => s.eq_ignore_ascii_case(name),
        Value::Array(list) => list
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(name))),
        _ => false,
    }
}
