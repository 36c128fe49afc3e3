//! One JSON Schema compiled into each LLM's dialect.
//!
//! A tool's input schema comes from schemars (our own tools) or from a
//! remote MCP server (anything at all). Each model API accepts a different
//! subset of JSON Schema, and OpenAI's and Anthropic's strict modes accept
//! less still, so [`compile`] rewrites one schema for one [`Dialect`]:
//!
//! - local `$ref`s (`#/$defs/..`, `#/definitions/..`, any JSON pointer, `#`,
//!   anchors) are inlined; a recursive `$ref` is cut where it recurs (the
//!   nested value is left unconstrained, and strict mode falls back); a
//!   network `$ref` is never fetched: it is dropped, with a note;
//! - nesting depth and the number of schema nodes are bounded, so any JSON a
//!   remote server sends compiles in bounded time and stack, or fails with a
//!   [`SchemaError`];
//! - for the model dialects, `oneOf` becomes `anyOf`, `const` becomes `enum`,
//!   `allOf` is merged into one schema where it can be, titles become
//!   descriptions (or are dropped), and `$schema`, `$id`, `$comment` and
//!   vendor `x-` keywords are dropped; schemars' integer formats (`uint32`,
//!   `int64`, ...) are dropped, keeping the range as `minimum`/`maximum`;
//! - keywords a dialect does not take are moved into the description
//!   (`"Name (minLength: 1; pattern: ^[a-z]+$)"`), so the model still reads
//!   them; the dispatcher validates arguments against the *original* schema;
//! - strict mode (OpenAI, Anthropic) closes every object
//!   (`additionalProperties: false`); for OpenAI every property becomes
//!   required and the optional ones nullable ([`undo_strict`] turns their
//!   `null`s back into absent fields). A schema that cannot be made strict
//!   (an open object or map, an untyped value, a recursive or network
//!   `$ref`, a tuple, more than the provider's limits) compiles plain, and
//!   [`Compiled::notes`] says why.
//!
//! Every change is summarized in [`Compiled::notes`]. The rules per
//! dialect, and the provider documentation each follows, are in
//! `src/schema/README.md`.
//!
//! ```
//! use connector_agent::schema::{compile, tool_definition, CompileOptions, Dialect};
//! use serde_json::json;
//!
//! let schema = json!({
//!     "type": "object",
//!     "properties": {
//!         "text": {"type": "string", "minLength": 1},
//!         "times": {"type": "integer", "format": "uint32", "minimum": 0}
//!     },
//!     "required": ["text"]
//! });
//! let schema = schema.as_object().unwrap();
//! let opts = CompileOptions { strict: true, ..CompileOptions::default() };
//! let compiled = compile(schema, Dialect::OpenAi, &opts).unwrap();
//! assert!(compiled.strict);
//! assert_eq!(compiled.schema["required"], json!(["text", "times"]));
//! assert_eq!(compiled.schema["properties"]["times"]["type"], json!(["integer", "null"]));
//! let tool = tool_definition("echo_text", "Echoes text.", &compiled, Dialect::OpenAi);
//! assert_eq!(tool["function"]["strict"], true);
//! ```
//!
//! ## Two outputs, one compiler
//!
//! The compiler builds each schema as a tree that borrows from the input
//! (keys, strings and whole keyword values are not copied) in a per-thread
//! arena, then hands it to one of two writers:
//!
//! - [`compile`] and [`compile_catalog`] turn it into a `serde_json::Value`
//!   ([`Compiled`]), for callers that edit or inspect the schema;
//! - [`compile_json`] and [`compile_catalog_json`] write it as compact JSON
//!   text ([`CompiledJson`]): byte for byte what `serde_json::to_string`
//!   writes of the `Value` the first pair gives, with the same notes,
//!   flags and errors, at a fraction of the cost (no owned tree is built,
//!   so no allocation per schema node). [`tool_definition_json`] and
//!   [`catalog_document_json`] frame such schemas into the very text
//!   [`tool_definition`] and [`catalog_document`] would serialize to: what
//!   goes over the wire to a model API or an MCP client, without a `Value`
//!   ever being built.
//!
//! Compiling a catalog of 1,000 tools into OpenAI strict, Anthropic strict,
//! Gemini and MCP takes about 60% of the time as text as it does as
//! `Value`s (a quarter of what the `Value` path took before the two shared
//! a compiler), with a tenth of the allocations (`docs/benchmarks.md`,
//! "Compiling a catalog into every dialect").
//!
//! ```
//! use connector_agent::schema::{
//!     catalog_document, catalog_document_json, compile, compile_json, tool_definition,
//!     tool_definition_json, CompileOptions, Dialect,
//! };
//! use serde_json::json;
//!
//! let schema = json!({
//!     "type": "object",
//!     "properties": {"text": {"type": "string", "minLength": 1}},
//!     "required": ["text"]
//! });
//! let schema = schema.as_object().unwrap();
//! let opts = CompileOptions { strict: true, ..CompileOptions::default() };
//! let text = compile_json(schema, Dialect::Anthropic, &opts).unwrap();
//! let value = compile(schema, Dialect::Anthropic, &opts).unwrap();
//! assert_eq!(text.schema, serde_json::to_string(&value.schema).unwrap());
//! assert_eq!((text.strict, &text.notes), (value.strict, &value.notes));
//!
//! let tool = tool_definition_json("echo_text", "Echoes text.", &text, Dialect::Anthropic).unwrap();
//! let document = catalog_document_json(&[tool], Dialect::Anthropic);
//! let expected = catalog_document(
//!     vec![tool_definition("echo_text", "Echoes text.", &value, Dialect::Anthropic)],
//!     Dialect::Anthropic,
//! );
//! assert_eq!(document, serde_json::to_string(&expected).unwrap());
//! ```

mod compile;
mod json;
mod node;
mod notes;
mod pointer;
mod undo;

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

pub use undo::undo_strict;

/// A model API's way of describing tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI function tools (Chat Completions), plain or strict.
    OpenAi,
    /// OpenAI function tools in the Responses API's flat shape; the same
    /// schemas as [`Dialect::OpenAi`].
    OpenAiResponses,
    /// Anthropic tool `input_schema`, plain or strict.
    Anthropic,
    /// Gemini `FunctionDeclaration.parametersJsonSchema` (JSON Schema).
    Gemini,
    /// Gemini `FunctionDeclaration.parameters`, the older OpenAPI 3.0
    /// subset (upper-case types, `nullable`), for clients that need it.
    GeminiOpenApi,
    /// MCP `tools/list` `inputSchema` (JSON Schema 2020-12).
    Mcp,
}

impl Dialect {
    /// Every dialect, in a fixed order.
    pub const ALL: [Dialect; 6] = [
        Dialect::OpenAi,
        Dialect::OpenAiResponses,
        Dialect::Anthropic,
        Dialect::Gemini,
        Dialect::GeminiOpenApi,
        Dialect::Mcp,
    ];

    /// The dialect's name, as [`FromStr`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::OpenAiResponses => "openai-responses",
            Dialect::Anthropic => "anthropic",
            Dialect::Gemini => "gemini",
            Dialect::GeminiOpenApi => "gemini-openapi",
            Dialect::Mcp => "mcp",
        }
    }

    /// Whether the dialect has a per-tool strict mode.
    pub fn has_strict_mode(self) -> bool {
        matches!(
            self,
            Dialect::OpenAi | Dialect::OpenAiResponses | Dialect::Anthropic
        )
    }

    /// The dialect whose schema rules apply: the two OpenAI APIs take the
    /// same schemas, in differently shaped tool definitions.
    pub fn schema_dialect(self) -> Dialect {
        match self {
            Dialect::OpenAiResponses => Dialect::OpenAi,
            other => other,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dialect name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDialect(pub String);

impl fmt::Display for UnknownDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown dialect `{}` (expected openai, openai-responses, anthropic, gemini, gemini-openapi or mcp)",
            self.0
        )
    }
}

impl std::error::Error for UnknownDialect {}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" => Ok(Dialect::OpenAi),
            "openai-responses" => Ok(Dialect::OpenAiResponses),
            "anthropic" => Ok(Dialect::Anthropic),
            "gemini" => Ok(Dialect::Gemini),
            "gemini-openapi" => Ok(Dialect::GeminiOpenApi),
            "mcp" => Ok(Dialect::Mcp),
            _ => Err(UnknownDialect(s.to_owned())),
        }
    }
}

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// Ask for the dialect's strict mode (OpenAI, Anthropic). A schema that
    /// cannot be made strict compiles plain; [`Compiled::strict`] says
    /// which it got.
    pub strict: bool,
    /// The deepest nesting of schemas (after inlining `$ref`s) accepted.
    pub max_depth: usize,
    /// The most schema nodes (after inlining `$ref`s) accepted.
    pub max_nodes: usize,
}

impl CompileOptions {
    /// The default bounds: deeper or larger schemas are not tool schemas.
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// See [`CompileOptions::DEFAULT_MAX_DEPTH`].
    pub const DEFAULT_MAX_NODES: usize = 20_000;
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            strict: false,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_nodes: Self::DEFAULT_MAX_NODES,
        }
    }
}

/// A schema compiled for one dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The schema, in the dialect's vocabulary; its root is an object schema.
    pub schema: Value,
    /// Whether strict mode was applied (asked for, available in the
    /// dialect, and possible for this schema).
    pub strict: bool,
    /// What was changed, dropped or moved into descriptions, and why strict
    /// mode fell back; one sentence each, in a stable order.
    pub notes: Vec<String>,
    /// What this schema counts against a request's strict-mode limits (all
    /// zero unless strict mode was applied).
    pub strict_load: StrictLoad,
}

/// What one strict schema counts against the limits Anthropic sets on all
/// the strict tools of one request together (24 optional properties, 16
/// union-typed properties; `Catalog::render` adds them up across tools).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrictLoad {
    /// Optional properties, over every object of the schema.
    pub optional: usize,
    /// Properties whose schema is a union (`anyOf`, or several types).
    pub unions: usize,
}

/// A schema compiled for one dialect, written as JSON text: what
/// [`compile_json`] gives (the same schema, notes and flags as [`compile`],
/// without building a `serde_json::Value`).
#[derive(Debug, Clone)]
pub struct CompiledJson {
    /// The schema, as compact JSON text: byte for byte what
    /// `serde_json::to_string` writes of [`Compiled::schema`].
    pub schema: String,
    /// As [`Compiled::strict`].
    pub strict: bool,
    /// As [`Compiled::notes`].
    pub notes: Vec<String>,
    /// As [`Compiled::strict_load`].
    pub strict_load: StrictLoad,
    /// Whether the root declares a property (Gemini OpenAPI's tool
    /// definition leaves `parameters` out otherwise).
    has_properties: bool,
}

/// Equal when the JSON texts are (the compiler writes the same schema as
/// the same text).
impl PartialEq for CompiledJson {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
            && self.strict == other.strict
            && self.notes == other.notes
            && self.strict_load == other.strict_load
            && self.has_properties == other.has_properties
    }
}

/// Why a schema could not be compiled at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaError {
    /// Nested deeper than [`CompileOptions::max_depth`].
    TooDeep {
        /// The bound.
        max_depth: usize,
    },
    /// More than [`CompileOptions::max_nodes`] schema nodes once `$ref`s are
    /// inlined.
    TooLarge {
        /// The bound.
        max_nodes: usize,
    },
    /// A local `$ref` that points at nothing (or at something that is not a
    /// schema).
    UnresolvableRef {
        /// The `$ref` as written.
        reference: String,
    },
    /// A chain of `$ref`s to `$ref`s longer than any real schema has.
    RefChainTooLong {
        /// The `$ref` the chain started from.
        reference: String,
    },
    /// The root does not describe an object (every tool takes an object of
    /// named arguments).
    RootNotObject {
        /// What the root is instead.
        found: String,
    },
    /// The compiled schema could not be written as JSON text ([`compile_json`]
    /// only). Not expected: serde_json fails only when its writer does or on
    /// a map key that is not a string, and the compiler makes neither.
    Json {
        /// serde_json's error.
        message: String,
    },
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::TooDeep { max_depth } => {
                write!(f, "schema nested deeper than {max_depth} levels")
            }
            SchemaError::TooLarge { max_nodes } => {
                write!(
                    f,
                    "schema has more than {max_nodes} nodes once $refs are inlined"
                )
            }
            SchemaError::UnresolvableRef { reference } => {
                write!(
                    f,
                    "local $ref `{}` points at no schema",
                    clip(reference, 200)
                )
            }
            SchemaError::RefChainTooLong { reference } => {
                write!(
                    f,
                    "$ref `{}` starts too long a chain of $refs",
                    clip(reference, 200)
                )
            }
            SchemaError::RootNotObject { found } => {
                write!(f, "the root schema must describe an object, not {found}")
            }
            SchemaError::Json { message } => {
                write!(
                    f,
                    "the compiled schema could not be written as JSON: {message}"
                )
            }
        }
    }
}

impl std::error::Error for SchemaError {}

/// At most `max` characters of `s` (for messages that quote remote input).
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        // No more characters than bytes.
        return s;
    }
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Compiles `schema` (a tool's input schema) into `dialect`.
///
/// Never fetches anything and never panics; the work is bounded by
/// `opts.max_depth` and `opts.max_nodes` whatever the input.
pub fn compile(
    schema: &Map<String, Value>,
    dialect: Dialect,
    opts: &CompileOptions,
) -> Result<Compiled, SchemaError> {
    let out = compile::compile(schema, dialect, opts, node_to_value)?;
    Ok(Compiled {
        schema: out.schema,
        strict: out.strict,
        notes: out.notes,
        strict_load: out.strict_load,
    })
}

/// [`compile`], with the schema written as JSON text instead of built as a
/// `serde_json::Value`: the same compiler, the same schema (byte for byte
/// what `serde_json::to_string` writes of [`Compiled::schema`]), notes and
/// flags, and the same errors; several times faster, as the compiled
/// schema borrows from the input until it is written.
pub fn compile_json(
    schema: &Map<String, Value>,
    dialect: Dialect,
    opts: &CompileOptions,
) -> Result<CompiledJson, SchemaError> {
    let out = compile::compile(schema, dialect, opts, node_to_json)?;
    Ok(CompiledJson {
        schema: out.schema,
        strict: out.strict,
        notes: out.notes,
        strict_load: out.strict_load,
        has_properties: out.has_properties,
    })
}

fn node_to_value(node: node::Node<'_>) -> Result<Value, SchemaError> {
    Ok(node.to_value())
}

fn node_to_json(node: node::Node<'_>) -> Result<String, SchemaError> {
    json::write_node(&node).map_err(|e| SchemaError::Json {
        message: e.to_string(),
    })
}

/// Below this many tools per thread, a catalog is compiled on the calling
/// thread: starting a thread costs more than compiling a few schemas.
const MIN_TOOLS_PER_THREAD: usize = 64;

/// Compiles every schema of a catalog into every `(dialect, options)` pair:
/// the result holds one list per pair, in the order given, each with one
/// result per schema, in the order given (the same results as [`compile`]).
///
/// A large catalog is spread over the machine's cores (the calling thread
/// and scoped threads taking short runs of tools in turn, each compiled
/// into every dialect); a small one is compiled on the calling thread.
pub fn compile_catalog(
    schemas: &[&Map<String, Value>],
    dialects: &[(Dialect, CompileOptions)],
) -> Vec<Vec<Result<Compiled, SchemaError>>> {
    spread(schemas, dialects, compile)
}

/// [`compile_catalog`] with [`compile_json`]: the same lists, in the same
/// order, with the schemas as JSON text.
pub fn compile_catalog_json(
    schemas: &[&Map<String, Value>],
    dialects: &[(Dialect, CompileOptions)],
) -> Vec<Vec<Result<CompiledJson, SchemaError>>> {
    spread(schemas, dialects, compile_json)
}

/// `one` on every schema and every `(dialect, options)` pair, as
/// [`compile_catalog`] says.
fn spread<T: Send>(
    schemas: &[&Map<String, Value>],
    dialects: &[(Dialect, CompileOptions)],
    one: fn(&Map<String, Value>, Dialect, &CompileOptions) -> T,
) -> Vec<Vec<T>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(schemas.len() / MIN_TOOLS_PER_THREAD)
        .max(1);
    if threads == 1 {
        return compile_chunk(schemas, dialects, one);
    }
    // Small runs of tools, taken in turn by whichever thread is free: a
    // core that is busy elsewhere (a shared machine) leaves more of the
    // catalog to the others instead of holding them up.
    let run = (schemas.len() / (threads * 8)).max(MIN_TOOLS_PER_THREAD / 4);
    let runs: Vec<&[&Map<String, Value>]> = schemas.chunks(run).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(part) = runs.get(i) else {
                return done;
            };
            done.push((i, compile_chunk(part, dialects, one)));
        }
    };
    let mut parts: Vec<(usize, Vec<Vec<T>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .name("schema-compile".into())
                    .spawn_scoped(scope, work)
            })
            .collect();
        // The calling thread takes its share too: its allocator and arena
        // are warm, where a new thread's first allocations fault in fresh
        // pages.
        let mut parts = work();
        for spawned in handles {
            match spawned.map(|h| h.join()) {
                Ok(Ok(done)) => parts.extend(done),
                // No thread could be started: what it would have taken
                // was taken by the others.
                Err(_) => {}
                Ok(Err(payload)) => std::panic::resume_unwind(payload),
            }
        }
        parts
    });
    parts.sort_unstable_by_key(|(i, _)| *i);
    let mut out: Vec<Vec<T>> = dialects
        .iter()
        .map(|_| Vec::with_capacity(schemas.len()))
        .collect();
    for (_, part) in parts {
        for (all, some) in out.iter_mut().zip(part) {
            all.extend(some);
        }
    }
    out
}

fn compile_chunk<T>(
    schemas: &[&Map<String, Value>],
    dialects: &[(Dialect, CompileOptions)],
    one: fn(&Map<String, Value>, Dialect, &CompileOptions) -> T,
) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = dialects
        .iter()
        .map(|_| Vec::with_capacity(schemas.len()))
        .collect();
    // Tool by tool, every dialect in turn: the input schema stays in cache
    // (and is brought there first, quickly).
    for schema in schemas {
        compile::warm(schema);
        for (list, (dialect, opts)) in out.iter_mut().zip(dialects) {
            list.push(one(schema, *dialect, opts));
        }
    }
    out
}

/// One tool in the dialect's own shape:
///
/// - OpenAI: `{"type": "function", "function": {"name", "description", "parameters", "strict"}}`;
/// - OpenAI Responses: `{"type": "function", "name", "description", "parameters", "strict"}`;
/// - Anthropic: `{"name", "description", "input_schema"}`, plus `"strict": true` when strict;
/// - Gemini: `{"name", "description", "parametersJsonSchema"}`;
/// - Gemini OpenAPI: `{"name", "description", "parameters"}`, without
///   `parameters` for a tool that takes none (Gemini rejects an `OBJECT`
///   with no properties);
/// - MCP: `{"name", "description", "inputSchema"}`.
pub fn tool_definition(
    name: &str,
    description: &str,
    compiled: &Compiled,
    dialect: Dialect,
) -> Value {
    shape_tool(
        name,
        description,
        compiled.schema.clone(),
        compiled.strict,
        dialect,
    )
}

impl Compiled {
    /// [`tool_definition`] without copying the schema.
    pub fn into_tool_definition(self, name: &str, description: &str, dialect: Dialect) -> Value {
        shape_tool(name, description, self.schema, self.strict, dialect)
    }
}

fn shape_tool(
    name: &str,
    description: &str,
    schema: Value,
    strict: bool,
    dialect: Dialect,
) -> Value {
    // Keys inserted in sorted order, so that the text is the same (and the
    // same as the JSON path's) whether or not a crate in the build turns on
    // serde_json's `preserve_order`.
    let name = Value::String(name.to_owned());
    let description = Value::String(description.to_owned());
    let function = || Value::String("function".into());
    let entries: Vec<(&str, Value)> = match dialect {
        Dialect::OpenAi => {
            let inner = object(vec![
                ("description", description),
                ("name", name),
                ("parameters", schema),
                ("strict", Value::Bool(strict)),
            ]);
            vec![("function", inner), ("type", function())]
        }
        // The Responses API's `strict` defaults to true: always say it.
        Dialect::OpenAiResponses => vec![
            ("description", description),
            ("name", name),
            ("parameters", schema),
            ("strict", Value::Bool(strict)),
            ("type", function()),
        ],
        Dialect::Anthropic => {
            let mut e = vec![
                ("description", description),
                ("input_schema", schema),
                ("name", name),
            ];
            if strict {
                e.push(("strict", Value::Bool(true)));
            }
            e
        }
        Dialect::Gemini => vec![
            ("description", description),
            ("name", name),
            ("parametersJsonSchema", schema),
        ],
        Dialect::GeminiOpenApi => {
            let has_properties = schema
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            let mut e = vec![("description", description), ("name", name)];
            if has_properties {
                e.push(("parameters", schema));
            }
            e
        }
        Dialect::Mcp => vec![
            ("description", description),
            ("inputSchema", schema),
            ("name", name),
        ],
    };
    object(entries)
}

/// An object of `entries`, inserted in the order given.
fn object(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

/// What the dialect's API takes as its list of tools:
///
/// - OpenAI (both APIs) and Anthropic: the array of tools (the request's `tools`);
/// - Gemini (both): `[{"functionDeclarations": [...]}]` (the request's `tools`);
/// - MCP: `{"tools": [...]}` (a `tools/list` result).
pub fn catalog_document(tools: Vec<Value>, dialect: Dialect) -> Value {
    match dialect {
        Dialect::OpenAi | Dialect::OpenAiResponses | Dialect::Anthropic => Value::Array(tools),
        Dialect::Gemini | Dialect::GeminiOpenApi => {
            let mut decl = Map::new();
            decl.insert("functionDeclarations".into(), Value::Array(tools));
            Value::Array(vec![Value::Object(decl)])
        }
        Dialect::Mcp => {
            let mut doc = Map::new();
            doc.insert("tools".into(), Value::Array(tools));
            Value::Object(doc)
        }
    }
}

/// [`tool_definition`] as JSON text: byte for byte what
/// `serde_json::to_string` writes of the `Value` [`tool_definition`] gives
/// for the same tool (the schema is copied in as it was written).
///
/// Fails only if serde_json does (it does not, for these types).
pub fn tool_definition_json(
    name: &str,
    description: &str,
    compiled: &CompiledJson,
    dialect: Dialect,
) -> Result<String, serde_json::Error> {
    let size = compiled.schema.len() + name.len() + description.len() + 96;
    let mut w = json::Writer::with_capacity(size);
    write_tool_definition(&mut w, name, description, compiled, dialect)?;
    Ok(w.into_string())
}

/// The start and end of a dialect's catalog document.
fn document_frame(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        Dialect::OpenAi | Dialect::OpenAiResponses | Dialect::Anthropic => ("[", "]"),
        Dialect::Gemini | Dialect::GeminiOpenApi => (r#"[{"functionDeclarations":["#, "]}]"),
        Dialect::Mcp => (r#"{"tools":["#, "]}"),
    }
}

/// A catalog document written one tool definition at a time, straight
/// into the document: the text [`catalog_document_json`] makes of the
/// [`tool_definition_json`]s of the same tools, without a string per tool.
pub(crate) struct DocumentWriter {
    w: json::Writer,
    dialect: Dialect,
    close: &'static str,
    tools: usize,
}

impl DocumentWriter {
    /// An empty document, with room for `capacity` bytes.
    pub(crate) fn new(dialect: Dialect, capacity: usize) -> Self {
        let (open, close) = document_frame(dialect);
        let mut w = json::Writer::with_capacity(capacity + open.len() + close.len());
        w.raw(open);
        DocumentWriter {
            w,
            dialect,
            close,
            tools: 0,
        }
    }

    /// Adds a tool; on an error, the document is left as it was.
    pub(crate) fn tool(
        &mut self,
        name: &str,
        description: &str,
        compiled: &CompiledJson,
    ) -> Result<(), serde_json::Error> {
        let mark = self.w.len();
        if self.tools > 0 {
            self.w.raw(",");
        }
        match write_tool_definition(&mut self.w, name, description, compiled, self.dialect) {
            Ok(()) => {
                self.tools += 1;
                Ok(())
            }
            Err(e) => {
                self.w.truncate(mark);
                Err(e)
            }
        }
    }

    /// The document.
    pub(crate) fn finish(mut self) -> String {
        self.w.raw(self.close);
        self.w.into_string()
    }
}

fn write_tool_definition(
    w: &mut json::Writer,
    name: &str,
    description: &str,
    compiled: &CompiledJson,
    dialect: Dialect,
) -> Result<(), serde_json::Error> {
    let schema = compiled.schema.as_str();
    let strict = compiled.strict;
    // Every object's keys in sorted order, as `serde_json::Map` keeps them.
    match dialect {
        Dialect::OpenAi => {
            w.raw(r#"{"function":{"description":"#)
                .string(description)?
                .raw(r#","name":"#)
                .string(name)?
                .raw(r#","parameters":"#)
                .raw(schema)
                .raw(r#","strict":"#)
                .bool(strict)
                .raw(r#"},"type":"function"}"#);
        }
        Dialect::OpenAiResponses => {
            w.raw(r#"{"description":"#)
                .string(description)?
                .raw(r#","name":"#)
                .string(name)?
                .raw(r#","parameters":"#)
                .raw(schema)
                .raw(r#","strict":"#)
                .bool(strict)
                .raw(r#","type":"function"}"#);
        }
        Dialect::Anthropic => {
            w.raw(r#"{"description":"#)
                .string(description)?
                .raw(r#","input_schema":"#)
                .raw(schema)
                .raw(r#","name":"#)
                .string(name)?;
            if strict {
                w.raw(r#","strict":true"#);
            }
            w.raw("}");
        }
        Dialect::Gemini => {
            w.raw(r#"{"description":"#)
                .string(description)?
                .raw(r#","name":"#)
                .string(name)?
                .raw(r#","parametersJsonSchema":"#)
                .raw(schema)
                .raw("}");
        }
        Dialect::GeminiOpenApi => {
            w.raw(r#"{"description":"#)
                .string(description)?
                .raw(r#","name":"#)
                .string(name)?;
            if compiled.has_properties {
                w.raw(r#","parameters":"#).raw(schema);
            }
            w.raw("}");
        }
        Dialect::Mcp => {
            w.raw(r#"{"description":"#)
                .string(description)?
                .raw(r#","inputSchema":"#)
                .raw(schema)
                .raw(r#","name":"#)
                .string(name)?
                .raw("}");
        }
    }
    Ok(())
}

impl CompiledJson {
    /// [`tool_definition_json`] for this schema.
    pub fn tool_definition(
        &self,
        name: &str,
        description: &str,
        dialect: Dialect,
    ) -> Result<String, serde_json::Error> {
        tool_definition_json(name, description, self, dialect)
    }
}

/// [`catalog_document`] as JSON text, from tool definitions written by
/// [`tool_definition_json`] (or any JSON texts): byte for byte what
/// `serde_json::to_string` writes of the `Value` [`catalog_document`]
/// gives.
pub fn catalog_document_json<T: AsRef<str>>(tools: &[T], dialect: Dialect) -> String {
    let size: usize = tools.iter().map(|t| t.as_ref().len() + 1).sum();
    let mut w = json::Writer::with_capacity(size + 32);
    let (open, close) = document_frame(dialect);
    w.raw(open);
    for (i, tool) in tools.iter().enumerate() {
        if i > 0 {
            w.raw(",");
        }
        w.raw(tool.as_ref());
    }
    w.raw(close);
    w.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_names_round_trip() {
        for d in Dialect::ALL {
            assert_eq!(d.to_string().parse::<Dialect>(), Ok(d));
        }
        assert_eq!("OpenAI".parse::<Dialect>(), Ok(Dialect::OpenAi));
        let err = "claude".parse::<Dialect>().unwrap_err();
        assert!(err.to_string().contains("claude"));
    }

    #[test]
    fn compile_catalog_gives_what_compile_gives_in_order() {
        // Enough tools to be spread over threads on a multi-core machine;
        // every tenth one fails, so errors keep their place too.
        let schemas: Vec<Map<String, Value>> = (0..300)
            .map(|i| {
                let v = if i % 10 == 3 {
                    serde_json::json!({"type": "string"})
                } else {
                    serde_json::json!({
                        "type": "object",
                        "properties": {format!("p{i}"): {"type": "integer", "format": "uint32"}},
                        "additionalProperties": i % 7 == 0
                    })
                };
                match v {
                    Value::Object(m) => m,
                    _ => Map::new(),
                }
            })
            .collect();
        let refs: Vec<&Map<String, Value>> = schemas.iter().collect();
        let dialects: Vec<(Dialect, CompileOptions)> = Dialect::ALL
            .iter()
            .map(|&d| {
                let opts = CompileOptions {
                    strict: d.has_strict_mode(),
                    ..CompileOptions::default()
                };
                (d, opts)
            })
            .collect();
        let all = compile_catalog(&refs, &dialects);
        assert_eq!(all.len(), dialects.len());
        for (list, (dialect, opts)) in all.iter().zip(&dialects) {
            let expected: Vec<_> = refs.iter().map(|s| compile(s, *dialect, opts)).collect();
            assert_eq!(list, &expected);
        }
        assert!(compile_catalog(&[], &dialects).iter().all(Vec::is_empty));
    }

    #[test]
    fn warming_a_schema_is_bounded_whatever_the_input() {
        // Deep (arrays and objects) and wide: read to a bounded depth and
        // breadth, without recursing through all of it.
        let mut deep = Value::String("leaf".into());
        for i in 0..2_000 {
            deep = if i % 2 == 0 {
                Value::Array(vec![deep])
            } else {
                let mut m = Map::new();
                m.insert("k".into(), deep);
                Value::Object(m)
            };
        }
        let mut wide = Map::new();
        for i in 0..50_000 {
            wide.insert(format!("k{i}"), Value::String("v".into()));
        }
        wide.insert("deep".into(), deep);
        compile::warm(&wide);
        // Dropping the deep value recursively is serde_json's business; keep
        // it off this test's stack.
        std::mem::forget(wide);
    }

    /// Whatever order the input's keys come in (serde_json keeps them sorted
    /// unless a crate in the build turns on `preserve_order`, as rig-core
    /// does), the compiled output is the same, keys sorted.
    #[test]
    fn output_does_not_depend_on_the_order_of_input_keys() {
        let entries = [
            ("type", serde_json::json!("object")),
            ("title", serde_json::json!("Args")),
            (
                "properties",
                serde_json::json!({
                    "z": {"description": "Last.", "$ref": "#/$defs/Z", "minLength": 2},
                    "a": {"maxLength": 5, "type": "string", "minLength": 1, "pattern": "^a"}
                }),
            ),
            ("required", serde_json::json!(["z"])),
            (
                "$defs",
                serde_json::json!({"Z": {"type": "string", "format": "uuid", "title": "Zed"}}),
            ),
        ];
        let forward: Map<String, Value> = entries
            .iter()
            .cloned()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let backward: Map<String, Value> = entries
            .iter()
            .rev()
            .cloned()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for dialect in Dialect::ALL {
            for strict in [false, true] {
                let opts = CompileOptions {
                    strict,
                    ..CompileOptions::default()
                };
                let (f, b) = (
                    compile(&forward, dialect, &opts).unwrap(),
                    compile(&backward, dialect, &opts).unwrap(),
                );
                assert_eq!(f.schema.to_string(), b.schema.to_string(), "{dialect}");
                assert_eq!(f.notes, b.notes, "{dialect}");
                let (fj, bj) = (
                    compile_json(&forward, dialect, &opts).unwrap(),
                    compile_json(&backward, dialect, &opts).unwrap(),
                );
                assert_eq!(fj.schema.as_str(), bj.schema.as_str(), "{dialect}");
                assert_eq!(fj.schema.as_str(), f.schema.to_string(), "{dialect}");
                // The `$ref` was followed wherever it stood among the keys.
                assert!(
                    fj.schema.as_str().contains("uuid") || !fj.schema.as_str().contains("$ref"),
                    "{dialect}"
                );
            }
        }
    }

    #[test]
    fn errors_display_without_echoing_huge_input() {
        let e = SchemaError::UnresolvableRef {
            reference: format!("#/{}", "x".repeat(10_000)),
        };
        assert!(e.to_string().len() < 300);
    }
}
