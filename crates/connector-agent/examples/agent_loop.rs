//! An agent loop in the OpenAI Chat Completions dialect, against a scripted
//! model, through a real [`Toolbox`]: the model calls two tools (one with
//! malformed arguments, one with an argument of the wrong type), is told
//! what went wrong by tool results, retries, then answers. Nothing leaves
//! the process.
//!
//! `cargo run -p connector-agent --example agent_loop`
//!
//! The connector is a tiny in-process calculator (typed tools, no
//! authorization); with Google, Slack or an MCP server registered the loop
//! reads the same, and the same in the Anthropic and Gemini dialects with
//! `messages::anthropic` / `messages::gemini`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_agent::messages::openai;
use connector_agent::schema::Dialect;
use connector_agent::{CallOptions, CatalogOptions, Toolbox};
use connector_core::oauth::OAuthEngine;
use connector_core::vault::Vault;
use connector_core::{
    AuthRequirement, BackendKind, CallContext, Connector, ConnectorMetadata, DynTool, Error, Tool,
    ToolOutput, ToolSpec,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Two integers.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Pair {
    /// The first integer.
    a: i64,
    /// The second integer.
    b: i64,
}

struct Add;

impl Tool for Add {
    const NAME: &'static str = "add_numbers";
    const DESCRIPTION: &'static str = "Adds two integers.";
    type Args = Pair;
    type Output = i64;
    async fn call(&self, _cx: &CallContext, p: Pair) -> Result<i64, Error> {
        p.a.checked_add(p.b)
            .ok_or_else(|| Error::invalid_arguments("the sum overflows"))
    }
}

struct Multiply;

impl Tool for Multiply {
    const NAME: &'static str = "multiply_numbers";
    const DESCRIPTION: &'static str = "Multiplies two integers.";
    type Args = Pair;
    type Output = i64;
    async fn call(&self, _cx: &CallContext, p: Pair) -> Result<i64, Error> {
        p.a.checked_mul(p.b)
            .ok_or_else(|| Error::invalid_arguments("the product overflows"))
    }
}

/// A connector that needs no authorization, so every user has its tools.
struct Calculator {
    metadata: ConnectorMetadata,
    tools: BTreeMap<String, DynTool>,
}

impl Calculator {
    fn new() -> Result<Self, Error> {
        let tools = [DynTool::new(Add)?, DynTool::new(Multiply)?]
            .into_iter()
            .map(|t| (t.name().to_owned(), t))
            .collect();
        Ok(Calculator {
            metadata: ConnectorMetadata {
                id: "calc".into(),
                display_name: "Calculator".into(),
                description: "Integer arithmetic.".into(),
                icon_url: None,
                docs_url: None,
                backend: BackendKind::Direct,
                auth: AuthRequirement::None,
            },
            tools,
        })
    }
}

#[async_trait]
impl Connector for Calculator {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(self.tools.values().map(|t| t.spec().clone()).collect())
    }

    async fn call(&self, cx: &CallContext, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        match self.tools.get(tool) {
            Some(t) => t.call(cx, args).await,
            None => Err(Error::unknown_tool(tool)),
        }
    }
}

/// The scripted model: answers from the conversation so far, in the shape
/// of a `ChatCompletion`. It first calls both tools (botching the JSON of
/// the second call, as models sometimes do), then retries it with a string
/// where an integer belongs, then gets it right, then answers.
fn model(history: &[Value]) -> Value {
    let results: Vec<&str> = history
        .iter()
        .filter(|m| m["role"] == "tool")
        .filter_map(|m| m["content"].as_str())
        .collect();
    let function = |id: &str, name: &str, arguments: &str| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
    let calls =
        |list: Vec<Value>| json!({"role": "assistant", "content": null, "tool_calls": list});
    let message = match results.len() {
        0 => calls(vec![
            function("call_1", "calc_add_numbers", r#"{"a": 19, "b": 23}"#),
            function("call_2", "calc_multiply_numbers", r#"{"a": 6, "b": 7"#),
        ]),
        2 => calls(vec![function(
            "call_3",
            "calc_multiply_numbers",
            r#"{"a": "six", "b": 7}"#,
        )]),
        3 => calls(vec![function(
            "call_4",
            "calc_multiply_numbers",
            r#"{"a": 6, "b": 7}"#,
        )]),
        _ => json!({
            "role": "assistant",
            "content": format!(
                "19 + 23 = {} and 6 × 7 = {}.",
                results.first().copied().unwrap_or("?"),
                results.last().copied().unwrap_or("?")
            ),
        }),
    };
    let finish = if message.get("tool_calls").is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let answer = run(true).await?;
    println!("answer: {answer}");
    Ok(())
}

/// Runs the loop and returns the model's answer (printing each turn when
/// `verbose`). Also run by the crate's tests.
pub async fn run(verbose: bool) -> Result<String, BoxError> {
    let engine = OAuthEngine::builder(Vault::in_memory()?).build()?;
    let toolbox = Toolbox::builder(engine)
        .connector(Arc::new(Calculator::new()?))
        .build()?;
    let catalog = toolbox.catalog("alice", &CatalogOptions::default()).await?;
    let rendered = catalog.render(Dialect::OpenAi, true);
    if verbose {
        println!("tools: {}", serde_json::to_string(&rendered.document)?);
    }
    let options = CallOptions {
        dialect: Dialect::OpenAi,
        strict: true,
        timeout: Some(Duration::from_secs(10)),
    };

    let mut history = vec![json!({"role": "user", "content": "What are 19 + 23 and 6 × 7?"})];
    for turn in 1..=6 {
        let response = model(&history);
        history.push(openai::assistant_message(&response)?);
        // Each call on its own: a call with malformed arguments becomes an
        // error result for the model, and the others still run.
        let calls = openai::tool_calls_each(&response)?;
        if calls.is_empty() {
            let answer = history
                .last()
                .and_then(|m| m["content"].as_str())
                .unwrap_or_default();
            return Ok(answer.to_owned());
        }
        for call in calls {
            let (call, output) = match call {
                Ok(call) => {
                    let output = toolbox
                        .call_in(&catalog, &call.name, call.arguments.clone(), &options)
                        .await;
                    (call, output)
                }
                Err(bad) => bad.to_tool_result(),
            };
            let message = openai::tool_result_message(&call, &output);
            if verbose {
                println!("turn {turn}: {} -> {}", call.name, message["content"]);
            }
            history.push(message);
        }
    }
    Err("the model did not answer within 6 turns".into())
}
