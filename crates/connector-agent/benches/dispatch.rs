//! Per-call cost of dispatch before the connector runs: `Toolbox::prepare`
//! (the exposed name mapped back, strict-mode nulls undone, the arguments
//! validated against the tool's original JSON Schema with a cached
//! `jsonschema` validator) for a realistic tool (a Slack-style
//! `post_message` with nested optional blocks), against the baseline a
//! typed tool pays anyway: `serde_json::from_value` into its argument
//! struct. Both start from the same `Value` (cloned per call), in one run.
//!
//! `cargo bench -p connector-agent --bench dispatch`. Prints ns per call
//! for each, and the ratio prepare / baseline (medians over rounds).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use connector_agent::schema::Dialect;
use connector_agent::{CallOptions, CatalogOptions, Toolbox};
use connector_core::oauth::OAuthEngine;
use connector_core::vault::Vault;
use connector_core::{
    AuthRequirement, BackendKind, CallContext, Connector, ConnectorMetadata, Error, ToolOutput,
    ToolSpec,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// Calls per measurement.
const CALLS: usize = 20_000;
/// Rounds; each measures both variants back to back, in alternating order.
const ROUNDS: usize = 15;

/// A message block.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Block {
    /// The block type (`section`, `divider`).
    r#type: String,
    /// Markdown text.
    text: Option<String>,
    /// An id for interactive blocks.
    block_id: Option<String>,
}

/// Arguments of `post_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PostMessageArgs {
    /// The conversation id or channel name.
    channel: String,
    /// The message text (Slack mrkdwn).
    text: String,
    /// Reply in this thread.
    thread_ts: Option<String>,
    /// Also post a thread reply to the channel.
    reply_broadcast: Option<bool>,
    /// Unfurl links.
    unfurl_links: Option<bool>,
    /// Rich layout blocks.
    #[schemars(length(max = 50))]
    blocks: Option<Vec<Block>>,
    /// Priority, 1 to 5.
    #[schemars(range(min = 1, max = 5))]
    priority: Option<u8>,
}

struct Bench(ConnectorMetadata, ToolSpec);

#[async_trait]
impl Connector for Bench {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.0
    }
    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(vec![self.1.clone()])
    }
    async fn call(&self, _cx: &CallContext, tool: &str, _a: Value) -> Result<ToolOutput, Error> {
        Err(Error::unknown_tool(tool))
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = ToolSpec {
        name: "post_message".into(),
        title: None,
        description: "Posts a message.".into(),
        input_schema: connector_core::tool::schema_for::<PostMessageArgs>(),
        output_schema: None,
        annotations: Default::default(),
        scopes: vec![],
    };
    let metadata = ConnectorMetadata {
        id: "chat".into(),
        display_name: "Chat".into(),
        description: "A chat.".into(),
        icon_url: None,
        docs_url: None,
        backend: BackendKind::Direct,
        auth: AuthRequirement::None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let engine = OAuthEngine::builder(Vault::in_memory()?).build()?;
    let toolbox = Toolbox::builder(engine)
        .connector(Arc::new(Bench(metadata, spec)))
        .build()?;
    let catalog = runtime.block_on(toolbox.catalog("alice", &CatalogOptions::default()))?;
    let name = catalog
        .tools()
        .first()
        .map(|t| t.name.clone())
        .ok_or("no tool in the catalog")?;
    // What a strict-mode model sends: every field, the unused ones null.
    let args = json!({
        "channel": "C012AB3CD",
        "text": "Deploy finished: *api* v2.31.0 is live in eu-west-1. Rollback plan in the thread.",
        "thread_ts": null,
        "reply_broadcast": null,
        "unfurl_links": false,
        "blocks": [
            {"type": "section", "text": "*Deploy finished*", "block_id": null},
            {"type": "divider", "text": null, "block_id": null},
            {"type": "section", "text": "Owner: <@U0G9QF9C6>", "block_id": "owner"}
        ],
        "priority": 3
    });
    let options = CallOptions {
        dialect: Dialect::OpenAi,
        strict: true,
        timeout: None,
    };
    // Once, to check both paths accept the arguments (and warm the cache).
    toolbox
        .prepare(&catalog, &name, args.clone(), &options)
        .map_err(|out| format!("prepare refused the arguments: {:?}", out.content))?;
    serde_json::from_value::<PostMessageArgs>(args.clone())?;

    let measure_prepare = || {
        let start = Instant::now();
        let mut ok = 0usize;
        for _ in 0..CALLS {
            if toolbox
                .prepare(
                    &catalog,
                    black_box(&name),
                    black_box(args.clone()),
                    &options,
                )
                .is_ok()
            {
                ok += 1;
            }
        }
        black_box(ok);
        start.elapsed().as_nanos() as f64 / CALLS as f64
    };
    let measure_baseline = || {
        let start = Instant::now();
        let mut ok = 0usize;
        for _ in 0..CALLS {
            if serde_json::from_value::<PostMessageArgs>(black_box(args.clone())).is_ok() {
                ok += 1;
            }
        }
        black_box(ok);
        start.elapsed().as_nanos() as f64 / CALLS as f64
    };
    let (mut prepared, mut baseline, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (p, b) = if round % 2 == 0 {
            let p = measure_prepare();
            (p, measure_baseline())
        } else {
            let b = measure_baseline();
            (measure_prepare(), b)
        };
        prepared.push(p);
        baseline.push(b);
        ratios.push(p / b);
    }
    println!("dispatch: {CALLS} calls x {ROUNDS} rounds, medians");
    println!(
        "  prepare (name back + strict undo + validation): {:>8.0} ns/call",
        median(prepared)
    );
    println!(
        "  baseline (serde_json::from_value typed args):   {:>8.0} ns/call",
        median(baseline)
    );
    println!("  ratio prepare / baseline: {:.2}", median(ratios));
    Ok(())
}
