//! Schema compilation: a catalog of 1,000 realistic tool schemas compiled
//! into all five dialects (OpenAI and Anthropic with strict mode asked for,
//! Gemini JSON Schema, Gemini OpenAPI, MCP) and into the four the issue
//! names (OpenAI, Anthropic, Gemini, MCP), each on one thread (`compile` in
//! a loop) and through `compile_catalog` (spread over the machine's cores),
//! against a baseline measured in the same run: a plain deep clone
//! (`serde_json::Value::clone`) of the same 1,000 input schemas.
//!
//! `cargo bench -p connector-agent --bench compile`. Prints the median time
//! of each over the rounds, the ratio to the baseline (and to one clone per
//! dialect: one owned copy per dialect is the least any compiler returning
//! `serde_json::Value`s must allocate), the whole catalog documents
//! (compile + tool definitions), and the memory one catalog compilation
//! allocates, measured single-threaded in a separate pass (counted by a
//! wrapping global allocator; a global allocator needs `unsafe`, so it
//! cannot be switched off for the timed runs: its shared atomic counters
//! stay in them, and cost the multi-threaded runs most).
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

use connector_agent::schema::{
    CompileOptions, Dialect, SchemaError, catalog_document, compile, compile_catalog,
};
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

/// Every schema dialect (the Responses API takes OpenAI's schemas).
const DIALECTS: [Dialect; 5] = [
    Dialect::OpenAi,
    Dialect::Anthropic,
    Dialect::Gemini,
    Dialect::GeminiOpenApi,
    Dialect::Mcp,
];
/// The four the issue names (Gemini OpenAPI is an extra for old clients).
const DIALECTS4: [Dialect; 4] = [
    Dialect::OpenAi,
    Dialect::Anthropic,
    Dialect::Gemini,
    Dialect::Mcp,
];

fn options(dialect: Dialect) -> CompileOptions {
    CompileOptions {
        strict: dialect.has_strict_mode(),
        ..CompileOptions::default()
    }
}

fn baseline(schemas: &[Map<String, Value>]) -> Vec<Value> {
    schemas.iter().map(|s| Value::Object(s.clone())).collect()
}

/// Every schema into every dialect: just the compiled schemas, one thread.
fn compile_all(
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

/// The same through `compile_catalog`: spread over the machine's cores.
fn compile_parallel(
    schemas: &[&Map<String, Value>],
    dialects: &[Dialect],
) -> Result<Vec<Value>, SchemaError> {
    let pairs: Vec<(Dialect, CompileOptions)> = dialects.iter().map(|&d| (d, options(d))).collect();
    let mut out = Vec::with_capacity(schemas.len() * dialects.len());
    for list in compile_catalog(schemas, &pairs) {
        for c in list {
            out.push(c?.schema);
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
    let refs: Vec<&Map<String, Value>> = schemas.iter().collect();
    // Every catalog schema compiles in every dialect, and the parallel
    // path gives exactly what the single-threaded one does.
    let single = compile_all(&schemas, &DIALECTS)?;
    if single != compile_parallel(&refs, &DIALECTS)? {
        return Err("compile_catalog differs from compile".into());
    }
    drop(single);
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
        black_box(compile_all(&schemas, &DIALECTS)?);
        black_box(compile_parallel(&refs, &DIALECTS)?);
        black_box(baseline(&schemas));
    }

    let mut base = Vec::new();
    // [5 dialects, 4 dialects] x [one thread, compile_catalog]
    let mut runs: [Vec<f64>; 4] = Default::default();
    let mut docs = Vec::new();
    let mut per_dialect: Vec<Vec<f64>> = vec![Vec::new(); DIALECTS.len()];
    for round in 0..ROUNDS {
        // Rotate the order, so that drifts in the machine's load cancel and
        // no case always follows the same large drop.
        for k in 0..5 {
            match (k + round) % 5 {
                0 => base.push(ms(time(|| baseline(&schemas)))),
                1 => runs[0].push(ms(time(|| compile_all(&schemas, &DIALECTS)))),
                2 => runs[1].push(ms(time(|| compile_parallel(&refs, &DIALECTS)))),
                3 => runs[2].push(ms(time(|| compile_all(&schemas, &DIALECTS4)))),
                _ => runs[3].push(ms(time(|| compile_parallel(&refs, &DIALECTS4)))),
            }
        }
        docs.push(ms(time(|| documents(&schemas))));
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

    // Memory, single-threaded (the counters are global): one catalog
    // compiled into 5 and into 4 dialects, and one baseline clone.
    let measure = |f: &dyn Fn() -> Result<Vec<Value>, SchemaError>| {
        let region = Region::new(GLOBAL);
        let out = f();
        let stats = region.change();
        drop(black_box(out));
        stats
    };
    let mem5 = measure(&|| compile_all(&schemas, &DIALECTS));
    let mem4 = measure(&|| compile_all(&schemas, &DIALECTS4));
    let mem_base = measure(&|| Ok(baseline(&schemas)));

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "catalog: {TOOLS} tools, {:.0} KB of input JSON; strict applied to {openai_strict} (OpenAI) and {anthropic_strict} (Anthropic) of {TOOLS}; {threads} cores",
        input_bytes as f64 / 1024.0
    );
    let base = median(base);
    println!("baseline  (deep clone of the {TOOLS} input schemas, 1 thread): {base:8.2} ms");
    for (i, (label, n)) in [
        ("5 dialects (all), 1 thread          ", 5.0),
        ("5 dialects (all), compile_catalog   ", 5.0),
        ("4 dialects (issue), 1 thread        ", 4.0),
        ("4 dialects (issue), compile_catalog ", 4.0),
    ]
    .into_iter()
    .enumerate()
    {
        let t = median(std::mem::take(&mut runs[i]));
        println!(
            "compile {TOOLS} tools x {label}: {t:8.2} ms   ratio to baseline {:.2}x, to {n} clones {:.2}x",
            t / base,
            t / (n * base)
        );
    }
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
    println!("  per dialect, 1 thread: {}", names.join(" | "));
    println!(
        "documents (compile + tool definitions + catalog, 5 dialects, 1 thread): {:.2} ms",
        median(docs)
    );
    let kept = |s: &stats_alloc::Stats| s.bytes_allocated.saturating_sub(s.bytes_deallocated);
    for (label, s) in [("5 dialects", &mem5), ("4 dialects", &mem4)] {
        println!(
            "memory: compiling the catalog into {label} allocates {:.1} MB in {} allocations and keeps {:.1} MB (the compiled schemas)",
            s.bytes_allocated as f64 / 1e6,
            s.allocations,
            kept(s) as f64 / 1e6,
        );
    }
    println!(
        "memory: the baseline clone allocates {:.1} MB in {} allocations",
        mem_base.bytes_allocated as f64 / 1e6,
        mem_base.allocations,
    );
    println!(
        "note: the counting allocator stays installed in the timed runs (its counters are shared atomics), \
         which slows the multi-threaded runs most; their times are an upper bound"
    );
    Ok(())
}
