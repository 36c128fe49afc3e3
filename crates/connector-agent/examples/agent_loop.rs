//! An agent loop in the OpenAI Chat Completions dialect, against a scripted
//! model: it calls two tools (one with malformed arguments), retries the
//! failed one, then answers. Nothing leaves the process.
//!
//! `cargo run -p connector-agent --example agent_loop`
//!
//! The tools here are a tiny in-process calculator behind a local
//! `dispatch` closure; with a toolbox, `dispatch` becomes `Toolbox::call`.
//! The loop itself (read the calls, run them, append the results, ask
//! again) stays as it is, and reads the same in the Anthropic and Gemini
//! dialects with `messages::anthropic` / `messages::gemini`.

use connector_agent::messages::{ToolCall, openai};
use connector_agent::names::NameMap;
use connector_core::ToolOutput;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The scripted model: answers from the conversation so far, in the shape
/// of a `ChatCompletion`. It first calls both tools (botching the JSON of
/// the second call, as models sometimes do), retries the one that failed,
/// then answers from the results.
fn model(history: &[Value]) -> Value {
    let results: Vec<&str> = history
        .iter()
        .filter(|m| m["role"] == "tool")
        .filter_map(|m| m["content"].as_str())
        .collect();
    let function = |id: &str, name: &str, arguments: &str| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
    let message = match results.len() {
        0 => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [
                function("call_1", "calc_add", r#"{"a": 19, "b": 23}"#),
                function("call_2", "calc_multiply", r#"{"a": 6, "b": 7"#),
            ],
        }),
        2 => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [function("call_3", "calc_multiply", r#"{"a": 6, "b": 7}"#)],
        }),
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

fn main() -> Result<(), BoxError> {
    // The catalog: names shown to the model, mapped back exactly.
    let names = NameMap::build([
        ("calc".to_owned(), "add".to_owned()),
        ("calc".to_owned(), "multiply".to_owned()),
    ]);
    let tools: Vec<Value> = names
        .iter()
        .map(|(_, exposed)| json!({"type": "function", "function": {"name": exposed}}))
        .collect();
    println!("tools: {}", serde_json::to_string(&tools)?);

    // What the toolbox will do: resolve the name, check the arguments, run.
    let dispatch = |call: &ToolCall| -> ToolOutput {
        let Some(original) = names.resolve(&call.name) else {
            return ToolOutput::error(format!("unknown tool `{}`", call.name));
        };
        let number = |field: &str| call.arguments.get(field).and_then(Value::as_i64);
        let (Some(a), Some(b)) = (number("a"), number("b")) else {
            return ToolOutput::error("`a` and `b` must be integers");
        };
        match original.tool.as_str() {
            "add" => ToolOutput::json(json!(a + b)),
            "multiply" => ToolOutput::json(json!(a * b)),
            other => ToolOutput::error(format!("`{other}` is not implemented")),
        }
    };

    let mut history = vec![json!({"role": "user", "content": "What are 19 + 23 and 6 × 7?"})];
    for turn in 1..=5 {
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
            println!("turn {turn}: answer: {answer}");
            return Ok(());
        }
        for call in calls {
            let (call, output) = match call {
                Ok(call) => {
                    let output = dispatch(&call);
                    (call, output)
                }
                Err(bad) => bad.to_tool_result(),
            };
            let message = openai::tool_result_message(&call, &output);
            println!("turn {turn}: {} -> {}", call.name, message["content"]);
            history.push(message);
        }
    }
    Err("the model did not answer within 5 turns".into())
}
