//! Schema compilation, timed: a catalog of 1,000 realistic tool schemas
//! (`support/catalog.rs`) compiled into all five schema dialects (OpenAI
//! and Anthropic with strict mode asked for, Gemini JSON Schema, Gemini
//! OpenAPI, MCP) and into the four the issue names (OpenAI, Anthropic,
//! Gemini, MCP), each on one thread (`compile` in a loop) and through
//! `compile_catalog` (spread over the machine's cores), against a baseline
//! measured in the same run: a plain deep clone (`serde_json::Value::clone`)
//! of the same 1,000 input schemas.
//!
//! `cargo bench -p connector-agent --bench compile` (add `-- --only
//! LABEL [TIMES]` to run just the cases whose label starts with LABEL, over
//! and over, for a profiler). Prints the median time of each over the
//! rounds (and the range), the ratio to the baseline, and the whole
//! catalog documents (compile + tool definitions); twice: the JSON path
//! alone, then every case interleaved (the `Value` cases' many small
//! allocations slow what runs after them). The "cold input" cases fill the
//! caches with something else first (outside the timing), as for a catalog
//! not touched lately. Runs on the system allocator:
//! the memory figures come from `compile_memory.rs`, a separate binary
//! with a counting allocator (whose shared atomic counters would slow
//! these timed runs, the multi-threaded ones most).

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use connector_agent::schema::{
    CompileOptions, Dialect, SchemaError, compile, compile_catalog, compile_catalog_json,
    compile_json,
};
use serde_json::{Map, Value};

#[path = "support/catalog.rs"]
mod support;

use support::{
    DIALECTS, DIALECTS4, TOOLS, baseline, catalog, compile_all, compile_all_json, documents,
    documents_json, options,
};

const ROUNDS: usize = 21;

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

/// The same, tool by tool (every dialect of one tool in turn).
fn compile_all_json_by_tool(
    schemas: &[Map<String, Value>],
    dialects: &[Dialect],
) -> Result<Vec<String>, SchemaError> {
    let mut out = Vec::with_capacity(schemas.len() * dialects.len());
    let opts: Vec<CompileOptions> = dialects.iter().map(|&d| options(d)).collect();
    for s in schemas {
        for (&dialect, opts) in dialects.iter().zip(&opts) {
            out.push(compile_json(s, dialect, opts)?.schema);
        }
    }
    Ok(out)
}

/// The same through `compile_catalog_json`.
fn compile_parallel_json(
    schemas: &[&Map<String, Value>],
    dialects: &[Dialect],
) -> Result<Vec<String>, SchemaError> {
    let pairs: Vec<(Dialect, CompileOptions)> = dialects.iter().map(|&d| (d, options(d))).collect();
    let mut out = Vec::with_capacity(schemas.len() * dialects.len());
    for list in compile_catalog_json(schemas, &pairs) {
        for c in list {
            out.push(c?.schema);
        }
    }
    Ok(out)
}

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let started = Instant::now();
    let out = f();
    let elapsed = started.elapsed();
    drop(black_box(out));
    elapsed
}

/// Median, lowest and highest.
fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

type Case<'s> = (&'static str, Box<dyn Fn() -> Duration + 's>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = catalog();
    let refs: Vec<&Map<String, Value>> = schemas.iter().collect();
    let (s, r) = (&schemas, &refs);
    // "cold input": the caches are filled with something else first (64 MB
    // written, outside the timing), as for a catalog not touched lately.
    let evict = RefCell::new(vec![0u8; 64 << 20]);
    let cold = move |f: &dyn Fn() -> Duration| {
        let mut other = evict.borrow_mut();
        for byte in other.iter_mut().step_by(64) {
            *byte = byte.wrapping_add(1);
        }
        black_box(&*other);
        drop(other);
        f()
    };
    let cold = &cold;
    let cases: Vec<Case<'_>> = vec![
        (
            "baseline: deep clone of the inputs, 1 thread",
            Box::new(move || time(|| baseline(s))),
        ),
        (
            "baseline, cold input",
            Box::new(move || cold(&|| time(|| baseline(s)))),
        ),
        (
            "JSON, 4 dialects (issue), compile_catalog_json, cold input",
            Box::new(move || cold(&|| time(|| compile_parallel_json(r, &DIALECTS4)))),
        ),
        (
            "Value, 4 dialects (issue), compile_catalog, cold input",
            Box::new(move || cold(&|| time(|| compile_parallel(r, &DIALECTS4)))),
        ),
        (
            "JSON, 4 dialects (issue), 1 thread",
            Box::new(move || time(|| compile_all_json(s, &DIALECTS4))),
        ),
        (
            "JSON, 4 dialects (issue), 1 thread, tool by tool",
            Box::new(move || time(|| compile_all_json_by_tool(s, &DIALECTS4))),
        ),
        (
            "JSON, 4 dialects (issue), compile_catalog_json",
            Box::new(move || time(|| compile_parallel_json(r, &DIALECTS4))),
        ),
        (
            "JSON, 5 dialects (all), 1 thread",
            Box::new(move || time(|| compile_all_json(s, &DIALECTS))),
        ),
        (
            "JSON, 5 dialects (all), compile_catalog_json",
            Box::new(move || time(|| compile_parallel_json(r, &DIALECTS))),
        ),
        (
            "JSON documents (tool definitions + catalog), 5 dialects, 1 thread",
            Box::new(move || time(|| documents_json(s).map_err(|e| e.to_string()))),
        ),
        (
            "Value, 4 dialects (issue), 1 thread",
            Box::new(move || time(|| compile_all(s, &DIALECTS4))),
        ),
        (
            "Value, 4 dialects (issue), compile_catalog",
            Box::new(move || time(|| compile_parallel(r, &DIALECTS4))),
        ),
        (
            "Value, 5 dialects (all), 1 thread",
            Box::new(move || time(|| compile_all(s, &DIALECTS))),
        ),
        (
            "Value, 5 dialects (all), compile_catalog",
            Box::new(move || time(|| compile_parallel(r, &DIALECTS))),
        ),
        (
            "Value documents (tool definitions + catalog), 5 dialects, 1 thread",
            Box::new(move || time(|| documents(s))),
        ),
    ];

    // `-- --only LABEL [TIMES]`: just the cases whose label starts with
    // LABEL, TIMES times over (200 by default; for a profiler), without the
    // checks below.
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--only") {
        let prefix = args.get(at + 1).map_or("", String::as_str);
        let times: u32 = args.get(at + 2).and_then(|t| t.parse().ok()).unwrap_or(200);
        for (label, case) in &cases {
            if label.starts_with(prefix) {
                let total: Duration = (0..times).map(|_| case()).sum();
                println!("{label}: {:.2} ms on average", ms(total) / f64::from(times));
            }
        }
        return Ok(());
    }

    // Every catalog schema compiles in every dialect, and the parallel
    // path gives exactly what the single-threaded one does.
    let single = compile_all(&schemas, &DIALECTS)?;
    if single != compile_parallel(&refs, &DIALECTS)? {
        return Err("compile_catalog differs from compile".into());
    }
    // The JSON path gives exactly what the Value path gives: the same
    // schema (parsed back, and as text), notes and flags; whole documents
    // alike.
    for dialect in DIALECTS {
        let opts = options(dialect);
        for schema in &schemas {
            let (v, j) = (
                compile(schema, dialect, &opts)?,
                compile_json(schema, dialect, &opts)?,
            );
            if serde_json::from_str::<Value>(j.schema.as_str())? != v.schema
                || serde_json::to_string(&v.schema)? != j.schema.as_str()
                || (v.strict, &v.notes, v.strict_load) != (j.strict, &j.notes, j.strict_load)
            {
                return Err(format!("compile_json differs from compile ({dialect})").into());
            }
        }
    }
    if compile_all_json(&schemas, &DIALECTS)? != compile_parallel_json(&refs, &DIALECTS)? {
        return Err("compile_catalog_json differs from compile_json".into());
    }
    drop(single);
    let docs = documents(&schemas)?;
    for (doc, text) in docs.iter().zip(documents_json(&schemas)?) {
        if serde_json::to_string(doc)? != text {
            return Err("catalog_document_json differs from catalog_document".into());
        }
    }
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

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "catalog: {TOOLS} tools, {:.0} KB of input JSON; strict applied to {openai_strict} (OpenAI) and {anthropic_strict} (Anthropic) of {TOOLS}; {threads} cores; {ROUNDS} rounds; system allocator",
        input_bytes as f64 / 1024.0
    );

    // Two phases. First the JSON path alone (with the baseline), as a
    // process serving catalogs as text runs it; then every case
    // interleaved: the Value path's tens of MB of small allocations, freed
    // between runs, leave the allocator (and the caches) in a state that
    // slows whatever runs next, the JSON path included.
    let json_alone: Vec<usize> = (0..cases.len())
        .filter(|&i| !cases[i].0.starts_with("Value"))
        .collect();
    let every: Vec<usize> = (0..cases.len()).collect();
    for (phase, members) in [
        ("the JSON path alone", &json_alone),
        ("every case interleaved", &every),
    ] {
        let interleaved = members.len() == cases.len();
        // Warm up.
        for _ in 0..3 {
            for &i in members {
                (cases[i].1)();
            }
        }
        let mut runs: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
        // [Value, JSON] x dialect, each over the whole catalog on one thread.
        let mut per_dialect: [Vec<Vec<f64>>; 2] = [
            vec![Vec::with_capacity(ROUNDS); DIALECTS.len()],
            vec![Vec::with_capacity(ROUNDS); DIALECTS.len()],
        ];
        for round in 0..ROUNDS {
            // Rotate the order, so that drifts in the machine's load cancel
            // and no case always follows the same large drop.
            for k in 0..members.len() {
                let i = members[(k + round) % members.len()];
                runs[i].push(ms((cases[i].1)()));
            }
            if !interleaved {
                continue;
            }
            for k in 0..DIALECTS.len() {
                let i = (k + round) % DIALECTS.len();
                let dialect = DIALECTS[i];
                let opts = options(dialect);
                per_dialect[0][i].push(ms(time(|| {
                    schemas
                        .iter()
                        .map(|s| compile(s, dialect, &opts).map(|c| c.schema).ok())
                        .collect::<Vec<_>>()
                })));
                per_dialect[1][i].push(ms(time(|| {
                    schemas
                        .iter()
                        .map(|s| compile_json(s, dialect, &opts).map(|c| c.schema).ok())
                        .collect::<Vec<_>>()
                })));
            }
        }

        println!("-- {phase} (median over the rounds, range, ratio to the baseline of this phase)");
        let (base, _, _) = summary(runs[0].clone());
        for &i in members {
            let (median, low, high) = summary(std::mem::take(&mut runs[i]));
            println!(
                "{:<72} {median:8.2} ms  (range {low:.2}–{high:.2})  ratio to baseline {:.2}x",
                cases[i].0,
                median / base
            );
        }
        if !interleaved {
            continue;
        }
        for (path, times) in ["JSON", "Value"]
            .into_iter()
            .zip(per_dialect.into_iter().rev())
        {
            let names: Vec<String> = DIALECTS
                .iter()
                .zip(times)
                .map(|(d, v)| {
                    let label = if d.has_strict_mode() {
                        format!("{d} (strict)")
                    } else {
                        d.to_string()
                    };
                    format!("{label} {:.2} ms", summary(v).0)
                })
                .collect();
            println!("  {path}, per dialect, 1 thread: {}", names.join(" | "));
        }
    }
    Ok(())
}
