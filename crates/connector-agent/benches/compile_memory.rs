//! Schema compilation, counted: what compiling the catalog of
//! `support/catalog.rs` (the one `compile.rs` times) allocates, on one
//! thread, with a counting global allocator (`stats_alloc`: a global
//! allocator needs `unsafe`, which the workspace forbids in our own code).
//! A separate binary, so that the counter's shared atomics stay out of the
//! timed runs.
//!
//! `cargo bench -p connector-agent --bench compile_memory`. The counts are
//! exact and the same every run.

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, Stats, StatsAlloc};

#[path = "support/catalog.rs"]
mod support;

use support::{
    DIALECTS, DIALECTS4, TOOLS, baseline, catalog, compile_all, compile_all_json, documents,
    documents_json,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What `f` allocates, and what it still holds when it returns (its
/// output).
fn measure<T>(f: impl FnOnce() -> T) -> Stats {
    let region = Region::new(GLOBAL);
    let out = f();
    let stats = region.change();
    drop(black_box(out));
    stats
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = catalog();
    // Warm up (lazy statics, the allocator's pools).
    compile_all(&schemas, &DIALECTS)?;

    let cases: Vec<(&str, Stats)> = vec![
        (
            "baseline: deep clone of the inputs",
            measure(|| baseline(&schemas)),
        ),
        (
            "JSON, 4 dialects (issue)",
            measure(|| compile_all_json(&schemas, &DIALECTS4)),
        ),
        (
            "JSON, 5 dialects (all)",
            measure(|| compile_all_json(&schemas, &DIALECTS)),
        ),
        (
            "JSON documents, 5 dialects",
            measure(|| documents_json(&schemas).map_err(|e| e.to_string())),
        ),
        (
            "Value, 4 dialects (issue)",
            measure(|| compile_all(&schemas, &DIALECTS4)),
        ),
        (
            "Value, 5 dialects (all)",
            measure(|| compile_all(&schemas, &DIALECTS)),
        ),
        (
            "Value documents, 5 dialects",
            measure(|| documents(&schemas)),
        ),
    ];
    println!("catalog: {TOOLS} tools; one thread; counting allocator");
    let base = cases[0].1;
    for (label, s) in &cases {
        let kept = s.bytes_allocated.saturating_sub(s.bytes_deallocated);
        println!(
            "{label:<40} allocates {:7.1} MB in {:>8} allocations ({:5.2}x the baseline's), keeps {:6.1} MB",
            s.bytes_allocated as f64 / 1e6,
            s.allocations,
            s.allocations as f64 / base.allocations as f64,
            kept as f64 / 1e6,
        );
    }
    Ok(())
}
