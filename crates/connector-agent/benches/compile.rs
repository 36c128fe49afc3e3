//! Schema compilation: a catalog of 1,000 realistic tool schemas compiled
//! into all five dialects (OpenAI and Anthropic with strict mode asked for,
//! Gemini JSON Schema, Gemini OpenAPI, MCP), against a baseline measured in
//! the same run: a plain deep clone (`serde_json::Value::clone`) of the same
//! 1,000 input schemas.
//!
//! `cargo bench -p connector-agent --bench compile`. Prints the median time
//! of each over the rounds, the ratio to the baseline (and to five clones:
//! one owned copy per dialect is the least any compiler returning
//! `serde_json::Value`s must allocate), the whole catalog documents
//! (compile + tool definitions), and the memory one catalog compilation
//! allocates (counted by a wrapping global allocator, whose shared counters
//! also make a multi-threaded timing meaningless here: compiling is per
//! tool, so a caller can spread a catalog over threads).
//!
//! The catalog mixes what the framework sees: 60% small provider tools
//! (strings, an enum, an optional `uint32`, a list), 25% schemars schemas
//! with nested structs in `$defs`, `Option`s, documented enums and tagged
//! unions, 10% MCP-server schemas (titles, `oneOf`/`const`, `$schema`,
//! string constraints, defaults), 5% with a free-form map (strict falls
//! back).

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use connector_agent::schema::{CompileOptions, Dialect, SchemaError, catalog_document, compile};
use serde_json::{Map, Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TOOLS: usize = 1_000;
const ROUNDS: usize = 15;

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

fn catalog() -> Vec<Map<String, Value>> {
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

const DIALECTS: [Dialect; 5] = Dialect::ALL;

fn options(dialect: Dialect) -> CompileOptions {
    CompileOptions {
        strict: dialect.has_strict_mode(),
        ..CompileOptions::default()
    }
}

fn baseline(schemas: &[Map<String, Value>]) -> Vec<Value> {
    schemas.iter().map(|s| Value::Object(s.clone())).collect()
}

/// Every schema into every dialect: just the compiled schemas.
fn compile_all(schemas: &[Map<String, Value>]) -> Result<Vec<Value>, SchemaError> {
    let mut out = Vec::with_capacity(schemas.len() * DIALECTS.len());
    for dialect in DIALECTS {
        let opts = options(dialect);
        for s in schemas {
            out.push(compile(s, dialect, &opts)?.schema);
        }
    }
    Ok(out)
}

/// Every dialect's whole catalog document (tool definitions included).
fn documents(schemas: &[Map<String, Value>]) -> Result<Vec<Value>, SchemaError> {
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

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let started = Instant::now();
    let out = f();
    let elapsed = started.elapsed();
    drop(black_box(out));
    elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = catalog();
    // Every catalog schema compiles in every dialect.
    compile_all(&schemas)?;
    documents(&schemas)?;
    let input_bytes: usize = schemas
        .iter()
        .map(|s| serde_json::to_vec(s).map(|v| v.len()).unwrap_or(0))
        .sum();

    // What strict mode made of the catalog.
    let strict_ok = |dialect| {
        schemas
            .iter()
            .filter(|s| compile(s, dialect, &options(dialect)).is_ok_and(|c| c.strict))
            .count()
    };
    let (openai_strict, anthropic_strict) =
        (strict_ok(Dialect::OpenAi), strict_ok(Dialect::Anthropic));

    // Warm up.
    for _ in 0..3 {
        black_box(compile_all(&schemas)?);
        black_box(baseline(&schemas));
    }

    let mut base = Vec::new();
    let mut all = Vec::new();
    let mut ratio = Vec::new();
    let mut docs = Vec::new();
    let mut per_dialect: Vec<Vec<f64>> = vec![Vec::new(); DIALECTS.len()];
    for round in 0..ROUNDS {
        // Alternate the order, so that drifts in the machine's load cancel.
        let (b, c) = if round % 2 == 0 {
            let b = time(|| baseline(&schemas));
            (b, time(|| compile_all(&schemas)))
        } else {
            let c = time(|| compile_all(&schemas));
            (time(|| baseline(&schemas)), c)
        };
        base.push(ms(b));
        all.push(ms(c));
        ratio.push(c.as_secs_f64() / b.as_secs_f64());
        docs.push(ms(time(|| documents(&schemas))));
        // Rotating too: whichever runs right after a large drop pays for
        // the allocator's consolidation of the freed memory.
        for k in 0..DIALECTS.len() {
            let i = (k + round) % DIALECTS.len();
            let dialect = DIALECTS[i];
            let opts = options(dialect);
            per_dialect[i].push(ms(time(|| {
                schemas
                    .iter()
                    .map(|s| compile(s, dialect, &opts).map(|c| c.schema).ok())
                    .collect::<Vec<_>>()
            })));
        }
    }

    // Memory: one catalog compiled into every dialect, and one baseline.
    let region = Region::new(GLOBAL);
    let compiled = compile_all(&schemas)?;
    let compile_stats = region.change();
    drop(black_box(compiled));
    let region = Region::new(GLOBAL);
    let cloned = baseline(&schemas);
    let clone_stats = region.change();
    drop(black_box(cloned));

    let kept = |s: &stats_alloc::Stats| s.bytes_allocated.saturating_sub(s.bytes_deallocated);
    println!(
        "catalog: {TOOLS} tools, {:.0} KB of input JSON; strict applied to {openai_strict} (OpenAI) and {anthropic_strict} (Anthropic) of {TOOLS}",
        input_bytes as f64 / 1024.0
    );
    let base = median(base);
    println!("baseline  (deep clone of the {TOOLS} input schemas): {base:8.2} ms");
    let all = median(all);
    println!(
        "compile   ({TOOLS} tools x 5 dialects):               {all:8.2} ms   ratio to baseline {:.1}x, to 5 clones {:.2}x",
        median(ratio),
        all / (5.0 * base)
    );
    let names: Vec<String> = DIALECTS
        .iter()
        .zip(per_dialect)
        .map(|(d, v)| {
            let label = if d.has_strict_mode() {
                format!("{d} (strict)")
            } else {
                d.to_string()
            };
            format!("{label} {:.2} ms", median(v))
        })
        .collect();
    println!("  per dialect: {}", names.join(" | "));
    println!(
        "documents (compile + tool definitions + catalog, 1 thread): {:.2} ms",
        median(docs)
    );
    println!(
        "memory: compiling the catalog into 5 dialects allocates {:.1} MB in {} allocations and keeps {:.1} MB (the compiled schemas); \
         the baseline clone allocates {:.1} MB in {} allocations",
        compile_stats.bytes_allocated as f64 / 1e6,
        compile_stats.allocations,
        kept(&compile_stats) as f64 / 1e6,
        clone_stats.bytes_allocated as f64 / 1e6,
        clone_stats.allocations,
    );
    Ok(())
}
