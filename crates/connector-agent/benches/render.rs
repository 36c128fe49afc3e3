//! A user's catalog rendered, end to end: the 1,000 tool schemas of
//! `support/catalog.rs` served by one connector, `Toolbox::catalog` for a
//! user, then `Catalog::render` (`serde_json::Value`) and
//! `Catalog::render_json` (text, compiled schemas kept in the toolbox) in
//! the four dialects the issue names (OpenAI and Anthropic strict), against
//! the baseline of the schema benches measured in the same run: a deep
//! clone of the 1,000 input schemas.
//!
//! `cargo bench -p connector-agent --bench render`. Prints the median time
//! of each case over the rounds (and the range) and the ratio to the
//! baseline. "first render" uses a new toolbox each round (built outside
//! the timing), so nothing is compiled yet (`render_json` one dialect after
//! the other, or `render_json_many` all four in one go); "again" renders a catalog
//! whose schemas the toolbox has compiled before (another user's, or an
//! earlier turn's); "catalog + again" is what a server pays per request
//! for a user whose tools are known: the catalog built, then rendered.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_agent::schema::Dialect;
use connector_agent::{Catalog, CatalogOptions, Toolbox};
use connector_core::oauth::OAuthEngine;
use connector_core::vault::Vault;
use connector_core::{
    AuthRequirement, BackendKind, CallContext, Connector, ConnectorMetadata, Error, ToolOutput,
    ToolSpec,
};
use serde_json::Value;

#[path = "support/catalog.rs"]
#[allow(dead_code)]
mod support;

use support::{DIALECTS4, baseline, catalog, options};

const ROUNDS: usize = 15;

/// A connector that serves the bench catalog.
struct Many(ConnectorMetadata, Vec<ToolSpec>);

#[async_trait]
impl Connector for Many {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.0
    }
    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(self.1.clone())
    }
    async fn call(&self, _cx: &CallContext, tool: &str, _a: Value) -> Result<ToolOutput, Error> {
        Err(Error::unknown_tool(tool))
    }
}

fn toolbox(specs: &[ToolSpec]) -> Result<Toolbox, Box<dyn std::error::Error>> {
    let metadata = ConnectorMetadata {
        id: "bench".into(),
        display_name: "Bench".into(),
        description: "1,000 tools.".into(),
        icon_url: None,
        docs_url: None,
        backend: BackendKind::Direct,
        auth: AuthRequirement::None,
    };
    let engine = OAuthEngine::builder(Vault::in_memory()?).build()?;
    Ok(Toolbox::builder(engine)
        .connector(Arc::new(Many(metadata, specs.to_vec())))
        .build()?)
}

fn render_all(c: &Catalog) -> usize {
    DIALECTS4
        .iter()
        .map(|&d| {
            black_box(c.render(d, options(d).strict))
                .document
                .to_string()
                .len()
        })
        .sum()
}

fn render_all_json(c: &Catalog) -> usize {
    DIALECTS4
        .iter()
        .map(|&d| {
            black_box(c.render_json(d, options(d).strict))
                .document
                .len()
        })
        .sum()
}

fn render_many_json(c: &Catalog) -> usize {
    let requests: Vec<(Dialect, bool)> =
        DIALECTS4.iter().map(|&d| (d, options(d).strict)).collect();
    black_box(c.render_json_many(&requests))
        .iter()
        .map(|r| r.document.len())
        .sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, lowest and highest.
fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = catalog();
    let specs: Vec<ToolSpec> = schemas
        .iter()
        .enumerate()
        .map(|(i, s)| ToolSpec {
            name: format!("tool_{i:04}"),
            title: None,
            description: format!("Does thing number {i}."),
            input_schema: s.clone(),
            output_schema: None,
            annotations: Default::default(),
            scopes: vec![],
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let options = CatalogOptions::default();
    let shared = toolbox(&specs)?;
    let warm = runtime.block_on(shared.catalog("alice", &options))?;
    // The texts are the `Value` documents written out: checked once.
    for &d in &DIALECTS4 {
        let strict = support::options(d).strict;
        let text = serde_json::to_string(&warm.render(d, strict).document)?;
        if text != warm.render_json(d, strict).document {
            return Err(format!("render and render_json differ in {d}").into());
        }
    }

    let labels = [
        "baseline: deep clone of the inputs",
        "Toolbox::catalog (1,000 tools)",
        "render + to_string, 4 dialects (Value path)",
        "render_json, 4 dialects, first render",
        "render_json_many, 4 dialects, first render",
        "render_json, 4 dialects, again",
        "catalog + render_json again (per request)",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    for _ in 0..ROUNDS {
        let fresh = toolbox(&specs)?;
        let first = runtime.block_on(fresh.catalog("alice", &options))?;
        let fresh_many = toolbox(&specs)?;
        let first_many = runtime.block_on(fresh_many.catalog("alice", &options))?;
        let cases: [&dyn Fn() -> Result<usize, Box<dyn std::error::Error>>; 7] = [
            &|| Ok(baseline(&schemas).len()),
            &|| Ok(runtime.block_on(shared.catalog("bob", &options))?.len()),
            &|| Ok(render_all(&warm)),
            &|| Ok(render_all_json(&first)),
            &|| Ok(render_many_json(&first_many)),
            &|| Ok(render_all_json(&warm)),
            &|| {
                let c = runtime.block_on(shared.catalog("bob", &options))?;
                Ok(render_all_json(&c))
            },
        ];
        for (case, out) in cases.iter().zip(times.iter_mut()) {
            let started = Instant::now();
            black_box(case()?);
            out.push(ms(started.elapsed()));
        }
    }
    let stats = shared.cache_stats();
    println!(
        "render: {} tools, 4 dialects (OpenAI and Anthropic strict); {ROUNDS} rounds; the shared toolbox's cache: {} entries, {} hits, {} misses",
        specs.len(),
        stats.entries,
        stats.hits,
        stats.misses
    );
    let base = summary(times[0].clone()).0;
    for (label, t) in labels.iter().zip(times) {
        let (median, low, high) = summary(t);
        println!(
            "{label:<45} {median:>8.2} ms  (range {low:.2}–{high:.2})  ratio to baseline {:.2}x",
            median / base
        );
    }
    Ok(())
}
