//! The compiler: one pass over the input (borrowed, `$ref`s followed in
//! place), building the dialect's schema directly as a [`Node`] tree that
//! borrows from the input (`node.rs`); the caller then writes the tree as
//! JSON text or turns it into a `serde_json::Value`.
//!
//! Each schema node is compiled in three steps: its keywords are copied (and
//! its subschemas compiled) into a fresh map; the map is normalized for the
//! model dialects (`oneOf` → `anyOf`, `allOf` merged, titles, types,
//! numeric formats); then the dialect's rules are applied (keywords it does
//! not take moved into the description, objects closed for strict mode,
//! Gemini's OpenAPI vocabulary).
//!
//! Strict mode is tried first when asked for; whatever makes the schema
//! impossible to express strictly is recorded (the first reason, with its
//! path), and the schema is then compiled again, plain.

use bumpalo::Bump;
use bumpalo::collections::CollectIn;
use serde_json::{Map, Value};

use super::node::{List, Node, Obj, with_arena};
use super::notes::Notes;
use super::pointer::{self, Target};
use super::{CompileOptions, Dialect, SchemaError, StrictLoad, clip};

/// OpenAI Structured Outputs: documented limits for one schema.
const OPENAI_MAX_PROPERTIES: usize = 5_000;
const OPENAI_MAX_OBJECT_LEVELS: usize = 10;
const OPENAI_MAX_ENUM_VALUES: usize = 1_000;
const OPENAI_MAX_CHARS: usize = 120_000;
const OPENAI_LARGE_ENUM: usize = 250;
const OPENAI_LARGE_ENUM_CHARS: usize = 15_000;
/// Anthropic strict tool use: documented limits for a whole request; one
/// tool over them can never be sent strict.
const ANTHROPIC_MAX_OPTIONAL: usize = 24;
const ANTHROPIC_MAX_UNIONS: usize = 16;

/// String formats each strict mode documents.
const OPENAI_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];
const ANTHROPIC_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "uri",
    "ipv4",
    "ipv6",
    "uuid",
];

const JSON_TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// The longest `$ref` → `$ref` → ... chain followed.
const MAX_REF_HOPS: usize = 16;
/// Layers a node can be assembled from: the referencing schema's own
/// keywords over its target's, over the target's target's...
const MAX_LAYERS: usize = 4;
/// Nesting accepted inside `enum`, `const`, `default`, `examples` values.
const MAX_VALUE_DEPTH: usize = 32;

/// One compilation's result, the schema in whatever form the caller's
/// `emit` made of the compiled tree.
pub(crate) struct Output<S> {
    pub schema: S,
    pub strict: bool,
    pub notes: Vec<String>,
    pub strict_load: StrictLoad,
    /// Whether the root declares a property (Gemini OpenAPI's tool
    /// definition leaves out the parameters of a tool that takes none).
    pub has_properties: bool,
}

/// Compiles `schema` for `dialect`, handing the compiled tree to `emit`
/// (which writes it as JSON, or turns it into a `Value`).
pub(crate) fn compile<S>(
    schema: &Map<String, Value>,
    dialect: Dialect,
    opts: &CompileOptions,
    emit: fn(Node<'_>) -> Result<S, SchemaError>,
) -> Result<Output<S>, SchemaError> {
    with_arena(|arena| compile_in(schema, dialect, opts, emit, arena))
}

fn compile_in<'a, S>(
    schema: &'a Map<String, Value>,
    dialect: Dialect,
    opts: &CompileOptions,
    emit: fn(Node<'_>) -> Result<S, SchemaError>,
    arena: &'a Bump,
) -> Result<Output<S>, SchemaError> {
    // Both OpenAI APIs take the same schemas; the rules below name `OpenAi`.
    let dialect = dialect.schema_dialect();
    let mut head_notes = Vec::new();
    if opts.strict && !dialect.has_strict_mode() {
        head_notes.push(format!(
            "strict mode requested, but {dialect} has none: compiled plain"
        ));
    }
    let flattened = if dialect == Dialect::Mcp {
        None
    } else {
        flatten_root(schema, &mut head_notes)
    };
    let start = flattened.as_ref().unwrap_or(schema);

    if opts.strict && dialect.has_strict_mode() {
        let mut pass = Pass::new(schema, start, dialect, true, opts, arena);
        let node = pass.run()?;
        match pass.blocker.take() {
            None => {
                let has_properties = has_properties(&node);
                let schema = emit(node)?;
                let mut notes = head_notes;
                notes.extend(pass.notes.into_sentences());
                return Ok(Output {
                    schema,
                    strict: true,
                    notes,
                    strict_load: StrictLoad {
                        optional: pass.optional,
                        unions: pass.unions,
                    },
                    has_properties,
                });
            }
            Some(reason) => {
                head_notes.push(format!("strict mode not applied: {reason}; compiled plain"))
            }
        }
    }
    let mut pass = Pass::new(schema, start, dialect, false, opts, arena);
    let node = pass.run()?;
    let has_properties = has_properties(&node);
    let schema = emit(node)?;
    let mut notes = head_notes;
    notes.extend(pass.notes.into_sentences());
    Ok(Output {
        schema,
        strict: false,
        notes,
        strict_load: StrictLoad::default(),
        has_properties,
    })
}

/// Reads a schema's keys and strings once, quickly, so that compiling it
/// (into every dialect in turn) finds them in cache: a walk that does
/// nothing but read keeps many cache misses in flight at once, where the
/// compiler, with work between its reads, meets them one after another.
/// About a tenth off compiling a catalog whose schemas are not in cache.
/// Bounded (a few thousand entries, sixteen levels), whatever the input.
pub(crate) fn warm(schema: &Map<String, Value>) {
    let mut budget = 4_096;
    // The sum is nothing; reading is the point (and must not be optimized
    // away).
    std::hint::black_box(touch_map(schema, 0, &mut budget));
}

fn touch_map(m: &Map<String, Value>, depth: usize, budget: &mut usize) -> usize {
    let mut sum = 0;
    for (k, v) in m {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        sum += first_byte(k) + touch(v, depth + 1, budget);
    }
    sum
}

fn touch(v: &Value, depth: usize, budget: &mut usize) -> usize {
    if depth > 16 {
        return 0;
    }
    match v {
        Value::String(s) => first_byte(s),
        Value::Object(m) => touch_map(m, depth, budget),
        Value::Array(items) => {
            let mut sum = 0;
            for item in items {
                if *budget == 0 {
                    break;
                }
                *budget -= 1;
                sum += touch(item, depth + 1, budget);
            }
            sum
        }
        _ => 0,
    }
}

fn first_byte(s: &str) -> usize {
    usize::from(s.as_bytes().first().copied().unwrap_or(0))
}

fn has_properties(root: &Node<'_>) -> bool {
    root.as_object()
        .and_then(|m| m.get("properties"))
        .and_then(Node::as_object)
        .is_some_and(|p| !p.is_empty())
}

/// A root `anyOf`/`oneOf` of object alternatives (every model API wants a
/// plain object at the root) as one object: every alternative's
/// properties, required only where all alternatives agree. The dispatcher
/// still validates against the original, alternatives and all.
fn flatten_root(
    schema: &Map<String, Value>,
    notes: &mut Vec<String>,
) -> Option<Map<String, Value>> {
    let (keyword, alternatives) = match (schema.get("anyOf"), schema.get("oneOf")) {
        (Some(Value::Array(a)), None) => ("anyOf", a),
        (None, Some(Value::Array(a))) => ("oneOf", a),
        _ => return None,
    };
    if let Some(t) = schema.get("type")
        && !type_includes(t, "object")
    {
        return None;
    }
    let mut resolved = Vec::with_capacity(alternatives.len());
    for alt in alternatives {
        let mut alt = match alt {
            Value::Object(m) => m,
            _ => return None,
        };
        let mut hops = 0;
        while let Some(Value::String(r)) = alt.get("$ref") {
            hops += 1;
            alt = match pointer::resolve(schema, r) {
                Target::Local(Value::Object(m)) if hops <= MAX_REF_HOPS => m,
                _ => return None,
            };
        }
        if let Some(t) = alt.get("type")
            && !type_includes(t, "object")
        {
            return None;
        }
        resolved.push(alt);
    }
    if resolved.is_empty() {
        return None;
    }

    let mut merged = Map::new();
    for (k, v) in schema {
        if k != keyword {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged.insert("type".into(), Value::String("object".into()));
    let mut properties = match merged.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };
    let mut required: Vec<String> = string_list(merged.get("required"));
    let mut common: Option<Vec<String>> = None;
    let mut shapes = Vec::with_capacity(resolved.len());
    for alt in &resolved {
        if let Some(Value::Object(props)) = alt.get("properties") {
            for (name, s) in props {
                if !properties.contains_key(name) {
                    properties.insert(name.clone(), s.clone());
                }
            }
        }
        let alt_required = string_list(alt.get("required"));
        shapes.push(if alt_required.is_empty() {
            "{}".to_owned()
        } else {
            format!("{{{}}}", alt_required.join(", "))
        });
        common = Some(match common {
            None => alt_required,
            Some(c) => c.into_iter().filter(|r| alt_required.contains(r)).collect(),
        });
    }
    for r in common.unwrap_or_default() {
        if !required.contains(&r) {
            required.push(r);
        }
    }
    merged.insert("properties".into(), Value::Object(properties));
    if required.is_empty() {
        merged.remove("required");
    } else {
        merged.insert(
            "required".into(),
            Value::Array(required.into_iter().map(Value::String).collect()),
        );
    }
    let shape_text = format!(
        "Give {} of these sets of arguments: {}.",
        if keyword == "oneOf" {
            "exactly one"
        } else {
            "one"
        },
        clip(&shapes.join(" | "), 400)
    );
    let description = match merged.get("description").and_then(Value::as_str) {
        Some(d) => format!("{d} {shape_text}"),
        None => shape_text,
    };
    merged.insert("description".into(), Value::String(description));
    notes.push(format!(
        "root {keyword} of {} object alternatives merged into one object \
         (every alternative's properties; required only where all agree)",
        resolved.len()
    ));
    Some(merged)
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn type_includes(t: &Value, name: &str) -> bool {
    match t {
        Value::String(s) => s == name,
        Value::Array(a) => a.iter().any(|s| s.as_str() == Some(name)),
        _ => false,
    }
}

/// One step of the path from the root, for saying where strict mode failed.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'static str),
    Name(&'a str),
    Index(usize),
}

/// A schema node seen through its `$ref`s: the referencing schema's own
/// keywords first, then its target's, and so on.
#[derive(Clone, Copy)]
struct View<'a> {
    layers: [Option<&'a Map<String, Value>>; MAX_LAYERS],
}

impl<'a> View<'a> {
    fn iter(&self) -> ViewIter<'a> {
        ViewIter {
            view: *self,
            layer: 0,
            inner: self.layers[0].map(|m| m.iter()),
        }
    }
}

struct ViewIter<'a> {
    view: View<'a>,
    layer: usize,
    inner: Option<serde_json::map::Iter<'a>>,
}

impl<'a> Iterator for ViewIter<'a> {
    type Item = (&'a str, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let inner = self.inner.as_mut()?;
            match inner.next() {
                Some((k, v)) => {
                    if k == "$ref" {
                        continue;
                    }
                    if self.layer == 0 {
                        // The node's own keywords: nothing above them.
                        return Some((k.as_str(), v));
                    }
                    let shadowed = self.view.layers[..self.layer]
                        .iter()
                        .flatten()
                        .any(|l| l.contains_key(k));
                    if !shadowed {
                        return Some((k.as_str(), v));
                    }
                }
                None => {
                    self.layer += 1;
                    self.inner = self
                        .view
                        .layers
                        .get(self.layer)
                        .copied()
                        .flatten()
                        .map(|m| m.iter());
                }
            }
        }
    }
}

struct Pass<'a> {
    /// Where the compiled tree is built.
    arena: &'a Bump,
    /// The document `$ref`s resolve against.
    root: &'a Map<String, Value>,
    /// Where compiling starts (the root, or the root with its alternatives
    /// merged).
    start: &'a Map<String, Value>,
    dialect: Dialect,
    strict: bool,
    max_depth: usize,
    max_nodes: usize,
    nodes: usize,
    /// `$ref` targets being expanded, by address, with the path length
    /// where each was expanded: a target met again inside itself is a cycle.
    active: List<'a, (usize, usize)>,
    path: List<'a, Seg<'a>>,
    notes: Notes<'a>,
    /// The first reason strict mode is impossible.
    blocker: Option<String>,
    // Limits of the strict modes, counted over the whole schema.
    properties: usize,
    enum_values: usize,
    chars: usize,
    optional: usize,
    unions: usize,
}

/// What happens to a keyword in a dialect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    Describe,
    Drop,
}

impl<'a> Pass<'a> {
    fn new(
        root: &'a Map<String, Value>,
        start: &'a Map<String, Value>,
        dialect: Dialect,
        strict: bool,
        opts: &CompileOptions,
        arena: &'a Bump,
    ) -> Self {
        Pass {
            arena,
            root,
            start,
            dialect,
            strict,
            max_depth: opts.max_depth,
            max_nodes: opts.max_nodes,
            nodes: 0,
            // Sized for the usual tool schema, so neither grows while compiling.
            active: List::with_capacity_in(4, arena),
            path: List::with_capacity_in(8, arena),
            notes: Notes::default(),
            blocker: None,
            properties: 0,
            enum_values: 0,
            chars: 0,
            optional: 0,
            unions: 0,
        }
    }

    fn llm(&self) -> bool {
        self.dialect != Dialect::Mcp
    }

    fn openapi(&self) -> bool {
        self.dialect == Dialect::GeminiOpenApi
    }

    fn run(&mut self) -> Result<Node<'a>, SchemaError> {
        self.active
            .push((std::ptr::from_ref(self.root) as usize, 0));
        self.active
            .push((std::ptr::from_ref(self.start) as usize, 0));
        let node = self.object_schema(self.start, 0)?;
        if self.strict {
            self.check_limits();
        }
        Ok(node)
    }

    /// Records why strict mode is impossible (the first reason only).
    fn block(&mut self, reason: &str) {
        if self.strict && self.blocker.is_none() {
            self.blocker = Some(format!("{reason} at {}", self.where_()));
        }
    }

    fn where_(&self) -> String {
        if self.path.is_empty() {
            return "the root".to_owned();
        }
        let mut s = String::new();
        for seg in &self.path {
            s.push('/');
            match seg {
                Seg::Key(k) => s.push_str(k),
                Seg::Name(n) => s.push_str(clip(n, 60)),
                Seg::Index(i) => s.push_str(&i.to_string()),
            }
        }
        s
    }

    fn check_limits(&mut self) {
        let over = match self.dialect {
            Dialect::OpenAi => {
                if self.properties > OPENAI_MAX_PROPERTIES {
                    Some(format!(
                        "{} properties (OpenAI allows {OPENAI_MAX_PROPERTIES})",
                        self.properties
                    ))
                } else if self.enum_values > OPENAI_MAX_ENUM_VALUES {
                    Some(format!(
                        "{} enum values (OpenAI allows {OPENAI_MAX_ENUM_VALUES})",
                        self.enum_values
                    ))
                } else if self.chars > OPENAI_MAX_CHARS {
                    Some(format!(
                        "{} characters of names and enum values (OpenAI allows {OPENAI_MAX_CHARS})",
                        self.chars
                    ))
                } else {
                    None
                }
            }
            Dialect::Anthropic => {
                if self.optional > ANTHROPIC_MAX_OPTIONAL {
                    Some(format!(
                        "{} optional properties (Anthropic allows {ANTHROPIC_MAX_OPTIONAL} per request)",
                        self.optional
                    ))
                } else if self.unions > ANTHROPIC_MAX_UNIONS {
                    Some(format!(
                        "{} union-typed properties (Anthropic allows {ANTHROPIC_MAX_UNIONS} per request)",
                        self.unions
                    ))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(reason) = over
            && self.blocker.is_none()
        {
            self.blocker = Some(reason);
        }
    }

    fn count_node(&mut self, depth: usize) -> Result<(), SchemaError> {
        if depth > self.max_depth {
            return Err(SchemaError::TooDeep {
                max_depth: self.max_depth,
            });
        }
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return Err(SchemaError::TooLarge {
                max_nodes: self.max_nodes,
            });
        }
        Ok(())
    }

    /// Any JSON value in a schema position.
    fn schema(&mut self, v: &'a Value, depth: usize) -> Result<Node<'a>, SchemaError> {
        if self.strict && self.blocker.is_some() {
            // A strict pass that cannot succeed is thrown away, and the plain
            // pass after it walks the same nodes (and meets the same errors,
            // in the same order): compiling the rest here is wasted work.
            return Ok(Node::Null);
        }
        match v {
            Value::Object(m) => self.object_schema(m, depth),
            Value::Bool(true) => {
                self.count_node(depth)?;
                self.block("an unconstrained (`true`) schema");
                Ok(Node::object(Obj::new_in(self.arena)))
            }
            Value::Bool(false) => {
                self.count_node(depth)?;
                self.block("a `false` schema");
                if self.llm() {
                    let mut m = Obj::with_capacity_in(1, self.arena);
                    m.insert("description", Node::Str(&"No value is accepted here."));
                    Ok(Node::object(m))
                } else {
                    Ok(Node::Bool(false))
                }
            }
            _ => {
                self.count_node(depth)?;
                self.notes
                    .other("a value that is not a schema was replaced by {}".into());
                self.block("a value that is not a schema");
                Ok(Node::object(Obj::new_in(self.arena)))
            }
        }
    }

    /// A schema object: its `$ref` chain followed, then compiled.
    fn object_schema(
        &mut self,
        m: &'a Map<String, Value>,
        depth: usize,
    ) -> Result<Node<'a>, SchemaError> {
        self.count_node(depth)?;
        let active_before = self.active.len();
        let mut layers: [Option<&'a Map<String, Value>>; MAX_LAYERS] = [Some(m), None, None, None];
        let mut used = 1;
        let mut current = m;
        let mut hops = 0;
        let mut cut_at = None;
        while let Some(reference) = get_ref(current) {
            let Some(reference) = reference.as_str() else {
                self.notes.dropped("$ref (not a string)");
                break;
            };
            hops += 1;
            if hops > MAX_REF_HOPS {
                return Err(SchemaError::RefChainTooLong {
                    reference: reference.to_owned(),
                });
            }
            let target = match pointer::resolve(self.root, reference) {
                Target::Root => self.root,
                Target::Local(Value::Object(t)) => t,
                Target::Local(Value::Bool(true)) => break,
                Target::Network => {
                    self.notes.network(reference);
                    self.block("a network $ref");
                    break;
                }
                Target::Local(_) | Target::Missing => {
                    return Err(SchemaError::UnresolvableRef {
                        reference: reference.to_owned(),
                    });
                }
            };
            let address = std::ptr::from_ref(target) as usize;
            if let Some(&(_, at)) = self.active.iter().find(|(a, _)| *a == address) {
                self.notes.recursive(reference);
                self.block("a recursive $ref");
                cut_at = Some(at);
                break;
            }
            self.active.push((address, self.path.len()));
            self.notes.inlined_refs += 1;
            if current.len() == 1 {
                // Nothing beside the $ref: the target replaces it.
                layers[used - 1] = Some(target);
            } else if used < MAX_LAYERS {
                layers[used] = Some(target);
                used += 1;
            } else {
                return Err(SchemaError::RefChainTooLong {
                    reference: reference.to_owned(),
                });
            }
            current = target;
        }
        let mut out = self.node(View { layers }, depth);
        self.active.truncate(active_before);
        if let (Some(at), Ok(Node::Object(m))) = (cut_at, &mut out) {
            // Where the recursion was cut, say what the value is.
            let shape = format!(
                "Same shape as {} (recursive; not expanded further).",
                self.human_path(at)
            );
            let text = match m.get("description").and_then(Node::as_str) {
                Some(d) => format!("{d} {shape}"),
                None => shape,
            };
            m.insert("description", Node::string_in(&text, self.arena));
        }
        out
    }

    /// The first `len` steps of the path as a reader would write them
    /// (`filter.and[]`), or "the arguments" for the root.
    fn human_path(&self, len: usize) -> String {
        let mut s = String::new();
        for seg in self.path.iter().take(len) {
            match seg {
                Seg::Name(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(clip(n, 60));
                }
                Seg::Key("items") => s.push_str("[]"),
                _ => {}
            }
        }
        if s.is_empty() {
            "the arguments".to_owned()
        } else {
            format!("`{s}`")
        }
    }

    fn sub(&mut self, seg: Seg<'a>, v: &'a Value, depth: usize) -> Result<Node<'a>, SchemaError> {
        self.path.push(seg);
        let out = self.schema(v, depth + 1);
        self.path.pop();
        out
    }

    fn sub_list(
        &mut self,
        key: &'static str,
        v: &'a Value,
        depth: usize,
    ) -> Result<Option<List<'a, Node<'a>>>, SchemaError> {
        let Value::Array(items) = v else {
            self.notes.dropped(key);
            return Ok(None);
        };
        self.path.push(Seg::Key(key));
        let mut out = List::with_capacity_in(items.len(), self.arena);
        for (i, item) in items.iter().enumerate() {
            self.path.push(Seg::Index(i));
            let compiled = self.schema(item, depth + 1);
            self.path.pop();
            out.push(compiled?);
        }
        self.path.pop();
        Ok(Some(out))
    }

    fn sub_map(
        &mut self,
        key: &'static str,
        v: &'a Value,
        depth: usize,
    ) -> Result<Option<Obj<'a>>, SchemaError> {
        let Value::Object(entries) = v else {
            self.notes.dropped(key);
            return Ok(None);
        };
        self.path.push(Seg::Key(key));
        let mut out = Obj::with_capacity_in(entries.len(), self.arena);
        for (name, s) in entries {
            if key == "properties" && matches!(s, Value::Bool(false)) {
                // A property that may not be given: say nothing of it.
                self.notes.dropped("property with a `false` schema");
                continue;
            }
            self.path.push(Seg::Name(name));
            let compiled = self.schema(s, depth + 1);
            self.path.pop();
            out.push_sorted(name, compiled?);
        }
        self.path.pop();
        Ok(Some(out))
    }

    fn node(&mut self, view: View<'a>, depth: usize) -> Result<Node<'a>, SchemaError> {
        let llm = self.llm();
        let capacity = view.layers.iter().flatten().map(|l| l.len()).sum::<usize>() + 1;
        let arena = self.arena;
        let mut out = Obj::with_capacity_in(capacity, arena);
        let mut title: Option<&'a Value> = None;
        let mut nullable = false;
        let mut any_of = None;
        let mut one_of = None;
        let mut all_of = None;

        for (k, v) in view.iter() {
            match k {
                "type" => {
                    if let Some(t) = self.types(v) {
                        out.insert("type", t);
                    }
                }
                "description" => {
                    if let Value::String(_) = v {
                        out.insert("description", Node::Raw(v));
                    }
                }
                "title" => {
                    if let Value::String(_) = v {
                        if llm {
                            title = Some(v);
                        } else {
                            out.insert("title", Node::Raw(v));
                        }
                    }
                }
                "nullable" => nullable = matches!(v, Value::Bool(true)),
                "enum" => match v {
                    Value::Array(values) if depth_ok(v, MAX_VALUE_DEPTH) => {
                        let values = values.iter().map(Node::Raw).collect_in(arena);
                        out.insert("enum", Node::array(values));
                    }
                    _ => self.notes.dropped("enum (malformed)"),
                },
                "const" => {
                    if !depth_ok(v, MAX_VALUE_DEPTH) {
                        self.notes.dropped("const (too deep)");
                    } else if llm {
                        self.notes.constants += 1;
                        out.insert("enum", Node::array(bumpalo::vec![in arena; Node::Raw(v)]));
                    } else {
                        out.insert("const", Node::Raw(v));
                    }
                }
                "properties" => {
                    if let Some(p) = self.sub_map("properties", v, depth)? {
                        out.insert("properties", Node::object(p));
                    }
                }
                "patternProperties" => {
                    if let Some(p) = self.sub_map("patternProperties", v, depth)? {
                        out.insert("patternProperties", Node::object(p));
                    }
                }
                "dependentSchemas" => {
                    if let Some(p) = self.sub_map("dependentSchemas", v, depth)? {
                        out.insert("dependentSchemas", Node::object(p));
                    }
                }
                "required" => {
                    if let Value::Array(names) = v {
                        let mut list = List::with_capacity_in(names.len(), arena);
                        for n in names {
                            if n.is_string()
                                && !list.iter().any(|l| matches!(l, Node::Raw(x) if *x == n))
                            {
                                list.push(Node::Raw(n));
                            }
                        }
                        out.insert("required", Node::array(list));
                    }
                }
                "additionalProperties" => {
                    // `true`/`false` here say open or closed: kept as they are.
                    let s = match v {
                        Value::Bool(b) => Node::Bool(*b),
                        _ => self.sub(Seg::Key("additionalProperties"), v, depth)?,
                    };
                    out.insert("additionalProperties", s);
                }
                "items" => match v {
                    Value::Array(_) => {
                        // Draft 4 tuple form.
                        if let Some(list) = self.sub_list("items", v, depth)? {
                            out.insert("prefixItems", Node::array(list));
                        }
                    }
                    _ => {
                        let s = self.sub(Seg::Key("items"), v, depth)?;
                        out.insert("items", s);
                    }
                },
                "prefixItems" => {
                    if let Some(list) = self.sub_list("prefixItems", v, depth)? {
                        out.insert("prefixItems", Node::array(list));
                    }
                }
                "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems"
                | "contains"
                | "not"
                | "if"
                | "then"
                | "else"
                | "contentSchema" => {
                    let key = static_key(k);
                    let s = match v {
                        Value::Bool(b) => Node::Bool(*b),
                        _ => self.sub(Seg::Key(key), v, depth)?,
                    };
                    out.insert(key, s);
                }
                "anyOf" => any_of = self.sub_list("anyOf", v, depth)?,
                "oneOf" => one_of = self.sub_list("oneOf", v, depth)?,
                "allOf" => all_of = self.sub_list("allOf", v, depth)?,
                "$defs" | "definitions" => {}
                "$schema" | "$id" | "$anchor" | "$dynamicAnchor" | "$comment" | "$vocabulary" => {
                    self.notes.dropped(k);
                }
                "$dynamicRef" | "$recursiveRef" => {
                    self.notes.dynamic_refs += 1;
                    self.block("a $dynamicRef");
                }
                "default" if llm && v.is_null() => self.notes.dropped("default: null"),
                _ if is_keyword(k) => {
                    if depth_ok(v, MAX_VALUE_DEPTH) {
                        out.insert(k, Node::Raw(v));
                    } else {
                        self.notes.dropped(k);
                    }
                }
                _ => {
                    // Vendor extensions (`x-...`) and unknown keywords: the
                    // model APIs reject or ignore them; MCP passes them on.
                    if llm || !depth_ok(v, MAX_VALUE_DEPTH) {
                        self.notes.dropped(if k.starts_with("x-") {
                            "x-* extensions"
                        } else {
                            k
                        });
                    } else {
                        out.insert(k, Node::Raw(v));
                    }
                }
            }
        }

        // Combinators.
        if let Some(variants) = one_of {
            if llm {
                self.notes.one_of += 1;
                if any_of.is_none() {
                    any_of = Some(variants);
                } else {
                    let mut wrapped = Obj::with_capacity_in(1, arena);
                    wrapped.insert("anyOf", Node::array(variants));
                    all_of
                        .get_or_insert_with(|| List::new_in(arena))
                        .push(Node::object(wrapped));
                }
            } else {
                out.insert("oneOf", Node::array(variants));
            }
        }
        if let Some(mut variants) = any_of {
            if llm {
                variants = splice_unions(variants);
            }
            out.insert("anyOf", Node::array(variants));
        }
        if let Some(parts) = all_of {
            let kept = if llm {
                match merge_all_of(&mut out, parts) {
                    Ok(()) => {
                        self.notes.all_of_merged += 1;
                        None
                    }
                    Err(parts) => {
                        self.notes.all_of_kept += 1;
                        self.block("an allOf whose parts conflict");
                        Some(parts)
                    }
                }
            } else {
                Some(parts)
            };
            if let Some(parts) = kept {
                out.insert("allOf", Node::array(parts));
            }
        }

        if nullable && !self.openapi() {
            add_null_type(&mut out);
        }

        if llm {
            if let Some(t) = title {
                if depth == 0 {
                    // The root's title is a type name (`CreateEventArgs`).
                    self.notes.dropped("title");
                } else if out.contains_key("description") {
                    self.notes.dropped("title");
                } else {
                    self.notes.titles_to_description += 1;
                    out.insert("description", Node::Raw(t));
                }
            }
            if !out.contains_key("type")
                && !out.contains_key("anyOf")
                && let Some(t) = infer_type(&out)
            {
                self.notes.types_inferred += 1;
                out.insert("type", t);
            }
        }
        if depth == 0 {
            self.root_type(&mut out)?;
        }
        self.numeric_format(&mut out);
        if out
            .get("exclusiveMinimum")
            .and_then(Node::as_bool)
            .is_some()
            || out
                .get("exclusiveMaximum")
                .and_then(Node::as_bool)
                .is_some()
        {
            draft4_exclusive(&mut out);
        }

        if !llm {
            return Ok(Node::object(out));
        }
        let mut moved: List<'a, (&'a str, Node<'a>)> = List::new_in(arena);

        if depth == 0 {
            // No model API takes a union at the root (Anthropic rejects it);
            // what `flatten_root` could not merge is told in words.
            for k in ["anyOf", "allOf"] {
                if let Some(v) = out.remove(k) {
                    self.notes
                        .other(format!("root {k} moved into the description"));
                    moved.push((k, v));
                }
            }
        }
        // Every key's fate is decided on the node as it is, then applied.
        let mut fates: List<'a, (&'a str, Fate)> = List::new_in(arena);
        for k in out.keys() {
            match self.fate(k, &out) {
                Fate::Keep => {}
                fate => fates.push((k, fate)),
            }
        }
        for (k, fate) in fates {
            if let Some(v) = out.remove(k) {
                if fate == Fate::Describe && !is_noise(k, &v) {
                    self.notes.moved(k);
                    moved.push((k, v));
                } else {
                    self.notes.dropped(k);
                }
            }
        }

        if self.strict {
            self.strict_node(&mut out, depth);
        }
        if self.openapi() {
            self.openapi_node(&mut out, nullable, &mut moved);
        }
        if !moved.is_empty() {
            describe(&mut out, &moved);
        }
        Ok(Node::object(out))
    }

    /// A valid `type`: one of the JSON types, or a list of them.
    fn types(&mut self, v: &'a Value) -> Option<Node<'a>> {
        match v {
            Value::String(s) if JSON_TYPES.contains(&s.as_str()) => Some(Node::Raw(v)),
            Value::Array(list) => {
                let mut kept = List::with_capacity_in(list.len(), self.arena);
                for t in list {
                    if t.as_str().is_some_and(|s| JSON_TYPES.contains(&s))
                        && !kept.iter().any(|k| matches!(k, Node::Raw(x) if *x == t))
                    {
                        kept.push(Node::Raw(t));
                    }
                }
                if kept.len() != list.len() {
                    self.notes.dropped("type (unknown names)");
                }
                match kept.len() {
                    0 => None,
                    1 => kept.pop(),
                    _ => Some(Node::array(kept)),
                }
            }
            _ => {
                self.notes.dropped("type (unknown name)");
                None
            }
        }
    }

    /// Every tool takes an object of named arguments.
    fn root_type(&mut self, out: &mut Obj<'a>) -> Result<(), SchemaError> {
        match out.get("type") {
            None => {
                if out.contains_key("anyOf") && self.llm() {
                    return Err(SchemaError::RootNotObject {
                        found: "a union of non-object schemas".into(),
                    });
                }
                out.insert("type", Node::Str(&"object"));
                if !out.contains_key("properties") && self.dialect != Dialect::Mcp {
                    out.insert("properties", Node::object(Obj::new_in(self.arena)));
                }
            }
            Some(t) if t.as_str() == Some("object") => {}
            Some(t) if type_includes_node(t, "object") => {
                self.notes
                    .other("root type narrowed to \"object\"".to_owned());
                out.insert("type", Node::Str(&"object"));
            }
            Some(t) => {
                return Err(SchemaError::RootNotObject {
                    found: format!("type {}", clip(&t.text(), 80)),
                });
            }
        }
        Ok(())
    }

    /// schemars' `uint32`, `int64`, `double`...: not JSON Schema formats,
    /// and rejected or meaningless in the model dialects. The range they
    /// imply is kept as `minimum`/`maximum`.
    fn numeric_format(&mut self, out: &mut Obj<'a>) {
        let Some(format) = out.get("format").and_then(Node::as_str) else {
            return;
        };
        let Some((name, min, max)) = numeric_format_range(format) else {
            return;
        };
        if self.openapi() && matches!(name, "int32" | "int64" | "float" | "double") {
            return;
        }
        self.notes.int_format(name);
        out.remove("format");
        if let Some(min) = min {
            out.or_insert("minimum", Node::number_in(min.into(), self.arena));
        }
        if let Some(max) = max {
            out.or_insert("maximum", Node::number_in(max.into(), self.arena));
        }
    }

    /// What `key` becomes in this dialect.
    fn fate(&self, key: &str, out: &Obj<'a>) -> Fate {
        use Fate::*;
        if matches!(
            key,
            "type" | "description" | "enum" | "properties" | "required" | "anyOf" | "items"
        ) {
            return Keep;
        }
        let format_ok = |formats: &[&str]| match out.get("format").and_then(Node::as_str) {
            Some(f) if formats.contains(&f) => Keep,
            _ => Describe,
        };
        match (self.dialect, self.strict) {
            (Dialect::OpenAi | Dialect::OpenAiResponses, false) | (Dialect::Anthropic, false) => {
                Keep
            }
            (Dialect::OpenAi | Dialect::OpenAiResponses, true) => match key {
                "additionalProperties" | "patternProperties" | "unevaluatedProperties" => Keep,
                "pattern" | "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum"
                | "multipleOf" | "minItems" | "maxItems" => Keep,
                "format" => format_ok(OPENAI_FORMATS),
                _ => Describe,
            },
            (Dialect::Anthropic, true) => match key {
                "additionalProperties" | "patternProperties" | "unevaluatedProperties" => Keep,
                "format" => format_ok(ANTHROPIC_FORMATS),
                "minItems" => match out.get("minItems").and_then(Node::as_u64) {
                    Some(0 | 1) => Keep,
                    _ => Describe,
                },
                _ => Describe,
            },
            (Dialect::Gemini, _) => match key {
                "additionalProperties"
                | "prefixItems"
                | "format"
                | "minimum"
                | "maximum"
                | "minItems"
                | "maxItems" => Keep,
                _ => Describe,
            },
            (Dialect::GeminiOpenApi, _) => match key {
                "minimum" | "maximum" | "minItems" | "maxItems" | "minLength" | "maxLength"
                | "pattern" | "minProperties" | "maxProperties" | "default" => Keep,
                "example" => Keep,
                "format" => match (primary_type(out), out.get("format").and_then(Node::as_str)) {
                    ("string", Some("date-time" | "enum"))
                    | ("integer", Some("int32" | "int64"))
                    | ("number", Some("float" | "double")) => Keep,
                    _ => Describe,
                },
                "additionalProperties" => match out.get("additionalProperties") {
                    Some(Node::Bool(false)) => Drop,
                    _ => Describe,
                },
                _ => Describe,
            },
            (Dialect::Mcp, _) => Keep,
        }
    }

    /// Strict mode's rules for one node (its subschemas are done).
    fn strict_node(&mut self, out: &mut Obj<'a>, depth: usize) {
        if let Some(Node::Array(values)) = out.get("enum") {
            if values.iter().any(Node::is_object_or_array) {
                self.block("an enum of objects or arrays");
            }
            let mut chars = 0;
            for v in values.iter() {
                if let Some(s) = v.as_str() {
                    chars += s.len();
                }
            }
            self.enum_values += values.len();
            self.chars += chars;
            if self.dialect == Dialect::OpenAi
                && values.len() > OPENAI_LARGE_ENUM
                && chars > OPENAI_LARGE_ENUM_CHARS
            {
                self.block("an enum of more than 250 values and 15,000 characters");
            }
        }
        let (object, array) = match out.get("type") {
            None => {
                if !out.contains_key("anyOf") && !out.contains_key("enum") {
                    self.block("a schema without a type");
                }
                (false, false)
            }
            Some(t) => (
                type_includes_node(t, "object"),
                type_includes_node(t, "array"),
            ),
        };
        if object {
            self.close_object(out, depth);
        }
        if array && !out.contains_key("items") {
            self.block("an array without an items schema");
        }
    }

    /// `additionalProperties: false`; for OpenAI, every property required
    /// and the optional ones nullable.
    fn close_object(&mut self, out: &mut Obj<'a>, depth: usize) {
        match out.get("additionalProperties") {
            None | Some(Node::Bool(false)) => {}
            Some(_) => self.block("an open object (additionalProperties)"),
        }
        if out.contains_key("patternProperties") {
            self.block("an open object (patternProperties)");
        }
        match out.remove("unevaluatedProperties") {
            None | Some(Node::Bool(false)) => {}
            Some(_) => self.block("an open object (unevaluatedProperties)"),
        }
        if !out.contains_key("properties") {
            let closed = matches!(out.get("additionalProperties"), Some(Node::Bool(false)));
            if depth == 0 || closed {
                out.insert("properties", Node::object(Obj::new_in(self.arena)));
            } else {
                self.block("an object that declares no properties");
                return;
            }
        }
        out.insert("additionalProperties", Node::Bool(false));
        if self.dialect == Dialect::OpenAi {
            let levels = 1 + self
                .path
                .iter()
                .filter(|s| matches!(s, Seg::Key("properties")))
                .count();
            if levels > OPENAI_MAX_OBJECT_LEVELS {
                self.block("nesting deeper than 10 object levels");
            }
        }
        let required: &'a [Node<'a>] = match out.remove("required") {
            Some(Node::Array(r)) => {
                let r: &'a List<'a, Node<'a>> = r;
                r
            }
            _ => &[],
        };
        let Some(Node::Object(props)) = out.get_mut("properties") else {
            return;
        };
        self.properties += props.len();
        let mut all = List::with_capacity_in(props.len(), self.arena);
        let mut made = 0;
        let mut optional = 0;
        let mut unions = 0;
        for (name, schema) in props.iter_mut() {
            self.chars += name.len();
            let is_required = required.iter().any(|r| r.as_str() == Some(name));
            if self.dialect == Dialect::OpenAi {
                if !is_required && make_nullable(schema) {
                    made += 1;
                }
            } else if !is_required {
                optional += 1;
            }
            if is_union(schema) {
                unions += 1;
            }
            if self.dialect == Dialect::OpenAi || is_required {
                all.push(Node::str_in(name, self.arena));
            }
        }
        self.notes.nullable_made += made;
        self.optional += optional;
        self.unions += unions;
        if all.is_empty() && self.dialect == Dialect::Anthropic {
            out.remove("required");
        } else {
            out.insert("required", Node::array(all));
        }
    }

    /// Gemini's OpenAPI Schema: upper-case types, `nullable`, string enums,
    /// no `additionalProperties`, no empty `properties`.
    fn openapi_node(
        &mut self,
        out: &mut Obj<'a>,
        mut nullable: bool,
        moved: &mut List<'a, (&'a str, Node<'a>)>,
    ) {
        match out.get("type") {
            Some(Node::Array(_)) => {
                let types: &'a [Node<'a>] = match out.remove("type") {
                    Some(Node::Array(types)) => {
                        let types: &'a List<'a, Node<'a>> = types;
                        types
                    }
                    _ => &[],
                };
                let names: Vec<&str> = types.iter().filter_map(Node::as_str).collect();
                if names.contains(&"null") {
                    nullable = true;
                    self.notes.null_variants_folded += 1;
                }
                let non_null: Vec<&str> = names.into_iter().filter(|t| *t != "null").collect();
                match non_null.as_slice() {
                    [] => {}
                    [one] => {
                        out.insert("type", upper(one, self.arena));
                    }
                    many => {
                        let variants = many
                            .iter()
                            .map(|t| {
                                let mut m = Obj::with_capacity_in(1, self.arena);
                                m.insert("type", upper(t, self.arena));
                                Node::object(m)
                            })
                            .collect_in(self.arena);
                        out.insert("anyOf", Node::array(variants));
                    }
                }
            }
            Some(t) => match t.as_str() {
                Some("null") => {
                    out.remove("type");
                    nullable = true;
                }
                Some(name) => {
                    let name = upper(name, self.arena);
                    out.insert("type", name);
                }
                None => {}
            },
            None => {}
        }
        if let Some(Node::Array(variants)) = out.get_mut("anyOf") {
            let before = variants.len();
            variants.retain(|v| !is_openapi_null(v));
            if variants.len() != before {
                nullable = true;
                self.notes.null_variants_folded += 1;
            }
            if variants.len() <= 1 {
                let single = variants.pop();
                out.remove("anyOf");
                if let Some(Node::Object(single)) = single {
                    for (k, v) in single.take_entries() {
                        if k == "nullable" {
                            nullable |= v.as_bool() == Some(true);
                        } else {
                            out.or_insert(k, v);
                        }
                    }
                }
            }
        }
        if let Some(Node::Array(values)) = out.get_mut("enum") {
            let before = values.len();
            values.retain(|v| !v.is_null());
            if values.len() != before {
                nullable = true;
            }
            if !values.iter().all(Node::is_string) {
                if let Some(values) = out.remove("enum") {
                    self.notes.moved("enum (not strings)");
                    moved.insert(0, ("one of", values));
                }
            } else if !out.contains_key("type") {
                out.insert("type", Node::Str(&"STRING"));
            }
        }
        let empty = matches!(out.get("properties"), Some(Node::Object(p)) if p.is_empty());
        if empty {
            out.remove("properties");
            out.remove("required");
        } else if let (Some(Node::Object(props)), Some(Node::Array(required))) =
            (out.get("properties"), out.get("required"))
            && required
                .iter()
                .any(|r| r.as_str().is_none_or(|r| !props.contains_key(r)))
        {
            let kept: List<'a, Node<'a>> = required
                .iter()
                .filter(|r| r.as_str().is_some_and(|r| props.contains_key(r)))
                .filter_map(Node::leaf_copy)
                .collect_in(self.arena);
            self.notes
                .dropped("required names of undeclared properties");
            out.insert("required", Node::array(kept));
        }
        if nullable {
            out.insert("nullable", Node::Bool(true));
        }
    }
}

/// A JSON type's name in OpenAPI's upper case (without a copy for the
/// names a compiled schema holds).
fn upper<'a>(name: &str, arena: &'a Bump) -> Node<'a> {
    Node::Str(match name {
        "null" => &"NULL",
        "boolean" => &"BOOLEAN",
        "object" => &"OBJECT",
        "array" => &"ARRAY",
        "number" => &"NUMBER",
        "integer" => &"INTEGER",
        "string" => &"STRING",
        other => return Node::string_in(&other.to_ascii_uppercase(), arena),
    })
}

/// `anyOf: [{anyOf: [a, b]}, c]` as `anyOf: [a, b, c]` (the inner union's
/// own description, if any, is dropped: the outer one says the same).
fn splice_unions<'a>(variants: List<'a, Node<'a>>) -> List<'a, Node<'a>> {
    let nested = |v: &Node<'_>| match v {
        Node::Object(m) => {
            matches!(m.get("anyOf"), Some(Node::Array(_)))
                && m.keys().all(|k| k == "anyOf" || k == "description")
        }
        _ => false,
    };
    if !variants.iter().any(nested) {
        return variants;
    }
    let mut out = List::with_capacity_in(variants.len() + 2, variants.bump());
    for v in variants {
        if nested(&v) {
            if let Node::Object(m) = v
                && let Some(Node::Array(inner)) = m.remove("anyOf")
            {
                out.extend(inner.drain(..));
            }
        } else {
            out.push(v);
        }
    }
    out
}

/// `{"type": "null"}` once compiled for OpenAPI: `{"nullable": true}`.
fn is_openapi_null(v: &Node<'_>) -> bool {
    match v {
        Node::Object(m) => {
            m.get("nullable").and_then(Node::as_bool) == Some(true)
                && !m.contains_key("type")
                && !m.contains_key("anyOf")
                && !m.contains_key("enum")
                && !m.contains_key("properties")
        }
        _ => false,
    }
}

/// The one non-null type of a schema, if it has one.
fn primary_type<'n>(out: &'n Obj<'_>) -> &'n str {
    match out.get("type") {
        Some(Node::Array(types)) => {
            let mut non_null = types
                .iter()
                .filter_map(Node::as_str)
                .filter(|t| *t != "null");
            match (non_null.next(), non_null.next()) {
                (Some(t), None) => t,
                _ => "",
            }
        }
        Some(t) => t.as_str().unwrap_or(""),
        None => "",
    }
}

/// Whether a compiled `type` names `name`.
fn type_includes_node(t: &Node<'_>, name: &str) -> bool {
    match t {
        Node::Array(a) => a.iter().any(|s| s.as_str() == Some(name)),
        Node::Raw(Value::Array(a)) => a.iter().any(|s| s.as_str() == Some(name)),
        _ => t.as_str() == Some(name),
    }
}

/// Annotations that tell a model nothing worth a description.
fn is_noise(key: &str, value: &Node<'_>) -> bool {
    matches!(key, "readOnly" | "writeOnly")
        || (key == "deprecated" && value.as_bool() == Some(false))
}

/// Keywords of JSON Schema (2020-12 and the drafts tool schemas still use)
/// without subschemas, copied as they are when the dialect takes them.
fn is_keyword(k: &str) -> bool {
    matches!(
        k,
        "format"
            | "minLength"
            | "maxLength"
            | "pattern"
            | "minimum"
            | "maximum"
            | "exclusiveMinimum"
            | "exclusiveMaximum"
            | "multipleOf"
            | "minItems"
            | "maxItems"
            | "uniqueItems"
            | "minContains"
            | "maxContains"
            | "minProperties"
            | "maxProperties"
            | "dependentRequired"
            | "dependencies"
            | "default"
            | "examples"
            | "example"
            | "deprecated"
            | "readOnly"
            | "writeOnly"
            | "contentEncoding"
            | "contentMediaType"
    )
}

fn static_key(k: &str) -> &'static str {
    match k {
        "propertyNames" => "propertyNames",
        "unevaluatedProperties" => "unevaluatedProperties",
        "unevaluatedItems" => "unevaluatedItems",
        "additionalItems" => "additionalItems",
        "contains" => "contains",
        "not" => "not",
        "if" => "if",
        "then" => "then",
        "else" => "else",
        _ => "contentSchema",
    }
}

/// The range a numeric format implies, when it is one of schemars' (or
/// OpenAPI's) numeric formats, with the format's name (ours, so that a
/// note can name it without a copy).
#[allow(clippy::type_complexity)]
fn numeric_format_range(format: &str) -> Option<(&'static str, Option<i64>, Option<i64>)> {
    const UNSIGNED: &[&str] = &["uint", "uint32", "uint64", "uint128"];
    const UNBOUNDED: &[&str] = &["int", "int32", "int64", "int128", "float", "double"];
    Some(match format {
        "int8" => ("int8", Some(i64::from(i8::MIN)), Some(i64::from(i8::MAX))),
        "int16" => (
            "int16",
            Some(i64::from(i16::MIN)),
            Some(i64::from(i16::MAX)),
        ),
        "uint8" => ("uint8", Some(0), Some(i64::from(u8::MAX))),
        "uint16" => ("uint16", Some(0), Some(i64::from(u16::MAX))),
        _ => {
            if let Some(name) = UNSIGNED.iter().find(|n| **n == format) {
                (name, Some(0), None)
            } else if let Some(name) = UNBOUNDED.iter().find(|n| **n == format) {
                (name, None, None)
            } else {
                return None;
            }
        }
    })
}

/// Draft 4's boolean `exclusiveMinimum`/`exclusiveMaximum` as 2020-12's
/// numbers.
fn draft4_exclusive(out: &mut Obj<'_>) {
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(b) = out.get(flag).and_then(Node::as_bool) {
            out.remove(flag);
            if b && let Some(n) = out.remove(bound) {
                out.insert(flag, n);
            }
        }
    }
}

/// The type a schema without one evidently has.
fn infer_type<'a>(out: &Obj<'a>) -> Option<Node<'a>> {
    if out.contains_key("properties")
        || out.contains_key("additionalProperties")
        || out.contains_key("patternProperties")
        || out.contains_key("required")
    {
        return Some(Node::Str(&"object"));
    }
    if out.contains_key("items") || out.contains_key("prefixItems") {
        return Some(Node::Str(&"array"));
    }
    let Some(Node::Array(values)) = out.get("enum") else {
        return None;
    };
    let mut name: Option<&'static str> = None;
    let mut null = false;
    for v in values.iter() {
        let t = match v {
            Node::Null | Node::Raw(Value::Null) => {
                null = true;
                continue;
            }
            Node::Bool(_) | Node::Raw(Value::Bool(_)) => "boolean",
            Node::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Node::Raw(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
            Node::Number(_) | Node::Raw(Value::Number(_)) => "number",
            Node::Str(_) | Node::Raw(Value::String(_)) => "string",
            _ => return None,
        };
        name = match (name, t) {
            (None, t) => Some(t),
            (Some(a), b) if a == b => Some(a),
            (Some("integer"), "number") | (Some("number"), "integer") => Some("number"),
            _ => return None,
        };
    }
    let name: &'static &'static str = match name? {
        "boolean" => &"boolean",
        "integer" => &"integer",
        "number" => &"number",
        _ => &"string",
    };
    Some(if null {
        Node::array(bumpalo::vec![in out.arena(); Node::Str(name), Node::Str(&"null")])
    } else {
        Node::Str(name)
    })
}

/// OpenAPI's `nullable: true` in JSON Schema: `null` among the types.
fn add_null_type(out: &mut Obj<'_>) {
    match out.get_mut("type") {
        Some(Node::Array(types)) if !types.iter().any(|t| t.as_str() == Some("null")) => {
            types.push(Node::Str(&"null"));
        }
        Some(t) if t.as_str().is_some_and(|t| t != "null") => {
            let t = std::mem::replace(t, Node::Null);
            let types = bumpalo::vec![in out.arena(); t, Node::Str(&"null")];
            out.insert("type", Node::array(types));
        }
        _ => {}
    }
    if let Some(Node::Array(values)) = out.get_mut("enum")
        && !values.iter().any(Node::is_null)
    {
        values.push(Node::Null);
    }
}

/// Whether a compiled schema already takes `null`.
fn takes_null(schema: &Node<'_>) -> bool {
    let Node::Object(m) = schema else {
        return true;
    };
    if let Some(t) = m.get("type") {
        if !type_includes_node(t, "null") {
            return false;
        }
        return match m.get("enum") {
            Some(Node::Array(values)) => values.iter().any(Node::is_null),
            _ => true,
        };
    }
    if let Some(Node::Array(variants)) = m.get("anyOf") {
        return variants.iter().any(takes_null);
    }
    match m.get("enum") {
        Some(Node::Array(values)) => values.iter().any(Node::is_null),
        _ => true,
    }
}

/// Makes a (strict, compiled) schema also take `null`; true when it had to.
fn make_nullable(schema: &mut Node<'_>) -> bool {
    if takes_null(schema) {
        return false;
    }
    let Node::Object(m) = schema else {
        return false;
    };
    let arena = m.arena();
    let primitive = |t: &str| matches!(t, "string" | "number" | "integer" | "boolean");
    let simple = !m.contains_key("anyOf");
    match m.get_mut("type") {
        Some(Node::Array(types))
            if simple && types.iter().all(|t| t.as_str().is_some_and(primitive)) =>
        {
            types.push(Node::Str(&"null"));
            if let Some(Node::Array(values)) = m.get_mut("enum") {
                values.push(Node::Null);
            }
            return true;
        }
        Some(t) if simple && t.as_str().is_some_and(primitive) => {
            let t = std::mem::replace(t, Node::Null);
            m.insert(
                "type",
                Node::array(bumpalo::vec![in arena; t, Node::Str(&"null")]),
            );
            if let Some(Node::Array(values)) = m.get_mut("enum") {
                values.push(Node::Null);
            }
            return true;
        }
        _ => {}
    }
    if !m.contains_key("type")
        && !m.contains_key("enum")
        && let Some(Node::Array(variants)) = m.get_mut("anyOf")
    {
        variants.push(null_schema(arena));
        return true;
    }
    let description = m.remove("description");
    let inner = std::mem::replace(schema, Node::Null);
    let mut wrapper = Obj::with_capacity_in(2, arena);
    wrapper.insert(
        "anyOf",
        Node::array(bumpalo::vec![in arena; inner, null_schema(arena)]),
    );
    if let Some(d) = description {
        wrapper.insert("description", d);
    }
    *schema = Node::object(wrapper);
    true
}

fn null_schema(arena: &Bump) -> Node<'_> {
    let mut m = Obj::with_capacity_in(1, arena);
    m.insert("type", Node::Str(&"null"));
    Node::object(m)
}

/// A property whose schema is a union (`anyOf`, or several types).
fn is_union(schema: &Node<'_>) -> bool {
    match schema {
        Node::Object(m) => {
            m.contains_key("anyOf") || matches!(m.get("type"), Some(Node::Array(t)) if t.len() > 1)
        }
        _ => false,
    }
}

/// Merges compiled `allOf` parts into `out` when they do not conflict:
/// properties and required lists are united, any other keyword must agree.
/// Gives the parts back (and leaves `out` alone) when they conflict.
fn merge_all_of<'a>(
    out: &mut Obj<'a>,
    parts: List<'a, Node<'a>>,
) -> Result<(), List<'a, Node<'a>>> {
    // Dry run first, so a conflict leaves `out` untouched: what the parts
    // before this one set, as (key, value) and (property name, schema).
    let mut seen: Vec<(&str, &Node<'a>)> = Vec::new();
    let mut seen_properties: Vec<(&str, &Node<'a>)> = Vec::new();
    let conflict = 'dry: {
        for part in &parts {
            let Node::Object(part) = part else {
                break 'dry true;
            };
            for (k, v) in part.iter() {
                match k {
                    "required" | "description" => {}
                    "properties" => {
                        let Node::Object(props) = v else {
                            break 'dry true;
                        };
                        for (name, s) in props.iter() {
                            let existing = out
                                .get("properties")
                                .and_then(Node::as_object)
                                .and_then(|p| p.get(name))
                                .or_else(|| {
                                    seen_properties
                                        .iter()
                                        .find(|(n, _)| *n == name)
                                        .map(|(_, s)| *s)
                                });
                            if existing.is_some_and(|e| e != s) {
                                break 'dry true;
                            }
                        }
                        for (name, s) in props.iter() {
                            match seen_properties.iter_mut().find(|(n, _)| *n == name) {
                                Some(entry) => entry.1 = s,
                                None => seen_properties.push((name, s)),
                            }
                        }
                    }
                    _ => {
                        let existing = out
                            .get(k)
                            .or_else(|| seen.iter().find(|(n, _)| *n == k).map(|(_, v)| *v));
                        match existing {
                            Some(e) if e != v => break 'dry true,
                            Some(_) => {}
                            None => seen.push((k, v)),
                        }
                    }
                }
            }
        }
        false
    };
    if conflict {
        return Err(parts);
    }
    let arena = out.arena();
    for part in parts {
        let Node::Object(part) = part else {
            continue;
        };
        for (k, v) in part.take_entries() {
            match k {
                "properties" => {
                    let entry = out.or_insert("properties", Node::object(Obj::new_in(arena)));
                    if let (Node::Object(acc), Node::Object(props)) = (entry, v) {
                        for (name, s) in props.take_entries() {
                            acc.or_insert(name, s);
                        }
                    }
                }
                "required" => {
                    let entry = out.or_insert("required", Node::array(List::new_in(arena)));
                    if let (Node::Array(acc), Node::Array(names)) = (entry, v) {
                        for n in names.drain(..) {
                            if !acc.contains(&n) {
                                acc.push(n);
                            }
                        }
                    }
                }
                _ => {
                    out.or_insert(k, v);
                }
            }
        }
    }
    Ok(())
}

/// Appends keywords the dialect does not take to the description, so the
/// model still reads them: `"Name (minLength: 1; pattern: ^[a-z]+$)"`.
fn describe<'a>(out: &mut Obj<'a>, moved: &[(&'a str, Node<'a>)]) {
    let mut parts = String::new();
    for (k, v) in moved {
        if !parts.is_empty() {
            parts.push_str("; ");
        }
        parts.push_str(k);
        parts.push_str(": ");
        match (*k, v) {
            ("pattern" | "format", v) if v.as_str().is_some() => {
                parts.push_str(clip(v.as_str().unwrap_or_default(), 300));
            }
            ("additionalProperties", Node::Object(m)) if m.len() == 1 && m.contains_key("type") => {
                // A map: `additionalProperties: values of type string`.
                parts.push_str("values of type ");
                let t = m.get("type").map(Node::text).unwrap_or_default();
                parts.push_str(&t.to_ascii_lowercase().replace('"', ""));
            }
            ("one of", Node::Array(values)) => {
                let list: Vec<String> = values.iter().map(Node::text).collect();
                parts.push_str(clip(&list.join(", "), 600));
            }
            _ => {
                let text = v.text();
                let clipped = clip(&text, 300);
                parts.push_str(clipped);
                if clipped.len() < text.len() {
                    parts.push('…');
                }
            }
        }
    }
    let text = match out.get("description").and_then(Node::as_str) {
        Some(d) if !d.is_empty() => format!("{d} ({parts})"),
        _ => parts,
    };
    let text = Node::string_in(&text, out.arena());
    out.insert("description", text);
}

/// `m["$ref"]`. (Looked up, never assumed first: serde_json keeps keys
/// sorted unless some crate in the build turns on its `preserve_order`
/// feature, rig-core among them, and then they come as the input wrote them.)
fn get_ref(m: &Map<String, Value>) -> Option<&Value> {
    m.get("$ref")
}

/// Whether `v` nests no deeper than `limit`.
fn depth_ok(v: &Value, limit: usize) -> bool {
    if limit == 0 {
        return false;
    }
    match v {
        Value::Array(items) => items.iter().all(|i| depth_ok(i, limit - 1)),
        Value::Object(m) => m.values().all(|i| depth_ok(i, limit - 1)),
        _ => true,
    }
}
