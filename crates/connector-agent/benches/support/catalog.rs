//! The catalog both schema benches compile (`compile.rs` times it,
//! `compile_memory.rs` counts its allocations): 1,000 realistic tool
//! schemas, the same every run, and the workloads both run on it.
//!
//! The catalog mixes what the framework sees: 60% small provider tools
//! (strings, an enum, an optional `uint32`, a list), 25% schemars schemas
//! with nested structs in `$defs`, `Option`s, documented enums and tagged
//! unions, 10% MCP-server schemas (titles, `oneOf`/`const`, `$schema`,
//! string constraints, defaults), 5% with a free-form map (strict falls
//! back).

use connector_agent::schema::{
    CompileOptions, Dialect, SchemaError, catalog_document, catalog_document_json, compile,
    compile_json, tool_definition_json,
};
use serde_json::{Map, Value, json};

pub const TOOLS: usize = 1_000;

/// A small deterministic generator (no dependency, same catalog every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "channel", "message", "thread", "user", "calendar", "event", "file", "folder", "query", "page",
    "issue", "project", "label", "comment", "team", "record", "ticket", "space",
];

fn word(rng: &mut Rng) -> &'static str {
    WORDS[rng.below(WORDS.len() as u64) as usize]
}

fn sentence(rng: &mut Rng) -> String {
    let (a, b) = (word(rng), word(rng));
    format!("The {a} to use, as its ID or its name; the {b} is looked up when a name is given.")
}

/// A provider tool: a handful of plain arguments.
fn simple_tool(rng: &mut Rng, i: usize) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    let n = 2 + rng.below(7) as usize;
    for j in 0..n {
        let name = format!("{}_{j}", word(rng));
        let schema = match rng.below(6) {
            0 => json!({"type": "string", "description": sentence(rng)}),
            1 => json!({"type": ["integer", "null"], "format": "uint32", "minimum": 0,
                        "description": "How many results to return at most.", "default": null}),
            2 => {
                json!({"type": "string", "enum": ["asc", "desc", "relevance"], "description": "Sort order."})
            }
            3 => {
                json!({"type": ["boolean", "null"], "description": "Whether to include archived items."})
            }
            4 => {
                json!({"type": "array", "items": {"type": "string"}, "description": sentence(rng)})
            }
            _ => {
                json!({"type": "string", "format": "date-time", "description": "Only items after this instant (RFC 3339)."})
            }
        };
        if j < 2 {
            required.push(Value::String(name.clone()));
        }
        props.insert(name, schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("Tool{i}Args"),
        "type": "object",
        "properties": props,
        "required": required
    })
}

/// What schemars makes of a struct with nested types.
fn schemars_tool(rng: &mut Rng, i: usize) -> Value {
    let nested = format!("Item{i}");
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("Create{i}Args"),
        "type": "object",
        "properties": {
            "parent_id": {"type": "string", "description": sentence(rng)},
            "title": {"type": "string", "description": "A short title."},
            "body": {"type": ["string", "null"], "description": "The text, in Markdown."},
            "items": {"type": "array", "items": {"$ref": format!("#/$defs/{nested}")}, "description": "What to add."},
            "owner": {"anyOf": [{"$ref": "#/$defs/Person"}, {"type": "null"}], "description": "Who owns it."},
            "priority": {"$ref": "#/$defs/Priority", "description": "How urgent it is."},
            "due_in_days": {"type": ["integer", "null"], "format": "uint16", "minimum": 0, "maximum": 65535},
            "repeat": {"anyOf": [{"$ref": "#/$defs/Repeat"}, {"type": "null"}]}
        },
        "required": ["parent_id", "title", "priority"],
        "$defs": {
            nested: {
                "type": "object",
                "description": "One entry.",
                "properties": {
                    "name": {"type": "string", "description": "Its name."},
                    "quantity": {"type": "integer", "format": "uint32", "minimum": 0},
                    "weight": {"type": ["number", "null"], "format": "double"}
                },
                "required": ["name", "quantity"]
            },
            "Person": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "description": "Their email address."},
                    "display_name": {"type": ["string", "null"]}
                },
                "required": ["email"]
            },
            "Priority": {"oneOf": [
                {"type": "string", "const": "low", "description": "Whenever."},
                {"type": "string", "const": "normal", "description": "This week."},
                {"type": "string", "const": "high", "description": "Today."}
            ]},
            "Repeat": {"oneOf": [
                {"type": "object", "properties": {"every": {"type": "string", "const": "day"},
                  "interval": {"type": "integer", "format": "uint16", "minimum": 0, "maximum": 65535}},
                 "required": ["every", "interval"]},
                {"type": "object", "properties": {"every": {"type": "string", "const": "week"},
                  "days": {"type": "array", "items": {"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255}}},
                 "required": ["every", "days"]}
            ]}
        }
    })
}

/// What an MCP server sends.
fn mcp_tool(rng: &mut Rng, i: usize) -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": format!("search_{i}"),
        "type": "object",
        "properties": {
            "query": {"title": "Query", "type": "string", "minLength": 1, "maxLength": 500,
                      "description": sentence(rng)},
            "mode": {"title": "Mode", "oneOf": [
                {"const": "fast", "title": "Fast", "description": "Fewer, quicker results."},
                {"const": "deep", "title": "Deep", "description": "More results, slower."}
            ]},
            "limit": {"title": "Limit", "type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "site": {"title": "Site", "type": "string", "format": "uri", "pattern": "^https://"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "maxItems": 20}
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

/// A tool with a free-form map argument: strict mode must fall back.
fn map_tool(rng: &mut Rng, _i: usize) -> Value {
    json!({
        "type": "object",
        "properties": {
            "event": {"type": "string", "description": sentence(rng)},
            "properties": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Extra key/value pairs."}
        },
        "required": ["event"]
    })
}

pub fn catalog() -> Vec<Map<String, Value>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..TOOLS)
        .map(|i| {
            let v = match i % 20 {
                0..=11 => simple_tool(&mut rng, i),
                12..=16 => schemars_tool(&mut rng, i),
                17..=18 => mcp_tool(&mut rng, i),
                _ => map_tool(&mut rng, i),
            };
            match v {
                Value::Object(m) => m,
                _ => Map::new(),
            }
        })
        .collect()
}

/// Every schema dialect (the Responses API takes OpenAI's schemas).
pub const DIALECTS: [Dialect; 5] = [
    Dialect::OpenAi,
    Dialect::Anthropic,
    Dialect::Gemini,
    Dialect::GeminiOpenApi,
    Dialect::Mcp,
];
/// The four the issue names (Gemini OpenAPI is an extra for old clients).
pub const DIALECTS4: [Dialect; 4] = [
    Dialect::OpenAi,
    Dialect::Anthropic,
    Dialect::Gemini,
    Dialect::Mcp,
];

pub fn options(dialect: Dialect) -> CompileOptions {
    CompileOptions {
        strict: dialect.has_strict_mode(),
        ..CompileOptions::default()
    }
}

pub fn baseline(schemas: &[Map<String, Value>]) -> Vec<Value> {
    schemas.iter().map(|s| Value::Object(s.clone())).collect()
}

/// Every schema into every dialect: just the compiled schemas, one thread.
pub fn compile_all(
    schemas: &[Map<String, Value>],
    dialects: &[Dialect],
) -> Result<Vec<Value>, SchemaError> {
    let mut out = Vec::with_capacity(schemas.len() * dialects.len());
    for &dialect in dialects {
        let opts = options(dialect);
        for s in schemas {
            out.push(compile(s, dialect, &opts)?.schema);
        }
    }
    Ok(out)
}

/// Every schema into every dialect as JSON text, one thread.
pub fn compile_all_json(
    schemas: &[Map<String, Value>],
    dialects: &[Dialect],
) -> Result<Vec<String>, SchemaError> {
    let mut out = Vec::with_capacity(schemas.len() * dialects.len());
    for &dialect in dialects {
        let opts = options(dialect);
        for s in schemas {
            out.push(compile_json(s, dialect, &opts)?.schema);
        }
    }
    Ok(out)
}

/// Every dialect's whole catalog document (tool definitions included).
pub fn documents(schemas: &[Map<String, Value>]) -> Result<Vec<Value>, SchemaError> {
    DIALECTS
        .iter()
        .map(|&dialect| {
            let opts = options(dialect);
            let tools = schemas
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let c = compile(s, dialect, &opts)?;
                    Ok(c.into_tool_definition(&format!("tool_{i}"), "Does a thing.", dialect))
                })
                .collect::<Result<Vec<_>, SchemaError>>()?;
            Ok(catalog_document(tools, dialect))
        })
        .collect()
}

/// Every dialect's whole catalog document as JSON text.
pub fn documents_json(
    schemas: &[Map<String, Value>],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut docs = Vec::with_capacity(DIALECTS.len());
    for &dialect in &DIALECTS {
        let opts = options(dialect);
        let mut tools = Vec::with_capacity(schemas.len());
        for (i, s) in schemas.iter().enumerate() {
            let c = compile_json(s, dialect, &opts)?;
            tools.push(tool_definition_json(
                &format!("tool_{i}"),
                "Does a thing.",
                &c,
                dialect,
            )?);
        }
        docs.push(catalog_document_json(&tools, dialect));
    }
    Ok(docs)
}
