//! The JSON-RPC methods: tools, resources, ping, server/discover.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::sse::EventLog;
use super::{Shared, ToolEntry};

pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;
pub(crate) const HEADER_MISMATCH: i64 = -32020;
pub(crate) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// Resource not found, 2025-11-25 and earlier (replaced by -32602 in 2026-07-28).
const RESOURCE_NOT_FOUND: i64 = -32002;

/// A 1x1 transparent PNG.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
/// The most steps a `slow` call may ask for.
const MAX_STEPS: u64 = 1000;
/// The longest a `slow` call may run.
const MAX_SLOW_MS: u64 = 60_000;

/// Who is asking: the era and the session.
#[derive(Clone, Debug)]
pub(crate) struct Cx {
    /// The 2026-07-28 rules: `resultType`, cache fields, -32602 for unknown resources.
    pub(crate) stateless: bool,
}

pub(crate) fn rpc_error(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let (Some(data), Some(obj)) = (data, error.as_object_mut()) {
        obj.insert("data".to_owned(), data);
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

fn rpc_result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub(crate) fn server_capabilities() -> Value {
    json!({ "tools": { "listChanged": true }, "resources": {} })
}

pub(crate) fn server_info() -> Value {
    json!({ "name": "connector-testkit-fake-mcp", "version": env!("CARGO_PKG_VERSION") })
}

pub(crate) fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": server_capabilities(),
        "serverInfo": server_info(),
        "instructions": "A strict fake MCP server for tests.",
    })
}

fn object_schema(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

pub(crate) fn builtin_tools() -> Vec<ToolEntry> {
    let defs = [
        json!({ "name": "echo", "description": "Echoes `text` back.",
            "inputSchema": object_schema(json!({ "text": { "type": "string" } }), &["text"]) }),
        json!({ "name": "add", "description": "Adds two numbers.",
            "inputSchema": object_schema(json!({ "a": { "type": "number" }, "b": { "type": "number" } }), &["a", "b"]),
            "outputSchema": object_schema(json!({ "sum": { "type": "number" } }), &["sum"]) }),
        json!({ "name": "slow", "description": "Runs `ms` milliseconds in `steps` steps, sending progress.",
            "inputSchema": object_schema(json!({ "ms": { "type": "integer" }, "steps": { "type": "integer" } }), &[]) }),
        json!({ "name": "fail", "description": "Always fails (isError: true).",
            "inputSchema": object_schema(json!({}), &[]) }),
        json!({ "name": "image", "description": "Returns a PNG image.",
            "inputSchema": object_schema(json!({}), &[]) }),
        json!({ "name": "audio", "description": "Returns a WAV sound.",
            "inputSchema": object_schema(json!({}), &[]) }),
        json!({ "name": "resource_link", "description": "Returns a link to a resource.",
            "inputSchema": object_schema(json!({}), &[]) }),
        json!({ "name": "embedded_resource", "description": "Returns an embedded resource.",
            "inputSchema": object_schema(json!({}), &[]) }),
    ];
    defs.into_iter()
        .map(|definition| ToolEntry {
            definition,
            result: None,
        })
        .collect()
}

fn resources() -> Vec<Value> {
    (1..=3)
        .map(|i| {
            json!({
                "uri": format!("test://static/resource/{i}"),
                "name": format!("resource-{i}"),
                "mimeType": "text/plain",
            })
        })
        .collect()
}

fn wav_base64() -> String {
    // A 16-sample, 8 kHz, 8-bit mono PCM WAV of silence.
    let samples = [128u8; 16];
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(&samples);
    STANDARD.encode(wav)
}

/// Adds the 2026-07-28 result envelope.
fn finish_result(cx: &Cx, mut result: Value, cacheable: bool) -> Value {
    if cx.stateless
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("resultType".to_owned(), json!("complete"));
        if cacheable {
            obj.insert("ttlMs".to_owned(), json!(0));
            obj.insert("cacheScope".to_owned(), json!("private"));
        }
    }
    result
}

fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

/// Answers one JSON-RPC request. `sink` receives notifications (progress)
/// when the response is a stream; `cancel` turns true when the client
/// cancels. None when the request was cancelled (no response is sent).
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    cx: &Cx,
    msg: &Value,
    sink: Option<&Arc<EventLog>>,
    cancel: watch::Receiver<bool>,
) -> Option<Value> {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
    let response = match method {
        "ping" => rpc_result(&id, finish_result(cx, json!({}), false)),
        "server/discover" => {
            let mut result = json!({
                "supportedVersions": shared.opts.versions,
                "capabilities": server_capabilities(),
                "instructions": "A strict fake MCP server for tests.",
                "_meta": { "io.modelcontextprotocol/serverInfo": server_info() },
            });
            result = finish_result(cx, result, true);
            rpc_result(&id, result)
        }
        "tools/list" => tools_list(shared, cx, &id, &params),
        "tools/call" => return tools_call(shared, cx, &id, &params, sink, cancel).await,
        "resources/list" => rpc_result(
            &id,
            finish_result(cx, json!({ "resources": resources() }), true),
        ),
        "resources/read" => {
            let uri = params.get("uri").and_then(Value::as_str).unwrap_or("");
            if resources().iter().any(|r| r["uri"] == uri) {
                let contents = json!([{ "uri": uri, "mimeType": "text/plain", "text": format!("content of {uri}") }]);
                rpc_result(
                    &id,
                    finish_result(cx, json!({ "contents": contents }), true),
                )
            } else {
                let code = if cx.stateless {
                    INVALID_PARAMS
                } else {
                    RESOURCE_NOT_FOUND
                };
                rpc_error(&id, code, "Resource not found", Some(json!({ "uri": uri })))
            }
        }
        "logging/setLevel" if !cx.stateless => rpc_result(&id, json!({})),
        _ => rpc_error(&id, METHOD_NOT_FOUND, "Method not found", None),
    };
    Some(response)
}

fn tools_list(shared: &Arc<Shared>, cx: &Cx, id: &Value, params: &Value) -> Value {
    let tools: Vec<Value> = shared
        .state()
        .tools
        .iter()
        .map(|t| t.definition.clone())
        .collect();
    let offset = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => match decode_cursor(c) {
            Some(offset) if offset <= tools.len() => offset,
            _ => return rpc_error(id, INVALID_PARAMS, "Invalid cursor", None),
        },
        Some(_) => return rpc_error(id, INVALID_PARAMS, "Invalid cursor", None),
    };
    let page = shared.opts.tools_page_size.unwrap_or(usize::MAX).max(1);
    let end = offset.saturating_add(page).min(tools.len());
    let mut result = json!({ "tools": tools[offset..end] });
    if end < tools.len()
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("nextCursor".to_owned(), json!(encode_cursor(end)));
    }
    rpc_result(id, finish_result(cx, result, true))
}

fn text(text: impl Into<String>) -> Value {
    json!({ "type": "text", "text": text.into() })
}

async fn tools_call(
    shared: &Arc<Shared>,
    cx: &Cx,
    id: &Value,
    params: &Value,
    sink: Option<&Arc<EventLog>>,
    mut cancel: watch::Receiver<bool>,
) -> Option<Value> {
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let args = params
        .get("arguments")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let fixed = {
        let st = shared.state();
        st.tools
            .iter()
            .find(|t| t.definition.get("name").and_then(Value::as_str) == Some(name))
            .map(|entry| entry.result.clone())
    };
    let Some(fixed) = fixed else {
        return Some(rpc_error(
            id,
            INVALID_PARAMS,
            &format!("Unknown tool: {name}"),
            None,
        ));
    };
    let bad_args = |what: &str| Some(rpc_error(id, INVALID_PARAMS, what, None));
    let result = if let Some(result) = fixed {
        result
    } else {
        match name {
            "echo" => match args.get("text").and_then(Value::as_str) {
                Some(t) => json!({ "content": [text(t)] }),
                None => return bad_args("echo needs a string `text`"),
            },
            "add" => match (
                args.get("a").and_then(Value::as_f64),
                args.get("b").and_then(Value::as_f64),
            ) {
                (Some(a), Some(b)) => {
                    let sum = a + b;
                    let structured = if sum.fract() == 0.0 && sum.abs() < 9e15 {
                        json!({ "sum": sum as i64 })
                    } else {
                        json!({ "sum": sum })
                    };
                    json!({ "content": [text(structured.to_string())], "structuredContent": structured })
                }
                _ => return bad_args("add needs numbers `a` and `b`"),
            },
            "slow" => {
                let ms = args
                    .get("ms")
                    .and_then(Value::as_u64)
                    .unwrap_or(1000)
                    .min(MAX_SLOW_MS);
                let steps = args
                    .get("steps")
                    .and_then(Value::as_u64)
                    .unwrap_or(5)
                    .clamp(1, MAX_STEPS);
                let token = params
                    .get("_meta")
                    .and_then(|m| m.get("progressToken"))
                    .cloned();
                let step = Duration::from_millis(ms / steps);
                for i in 1..=steps {
                    tokio::select! {
                        () = tokio::time::sleep(step) => {}
                        _ = cancel.wait_for(|c| *c) => {
                            shared.state().cancelled_runs += 1;
                            return None;
                        }
                    }
                    if let (Some(token), Some(sink)) = (&token, sink) {
                        let note = json!({
                            "jsonrpc": "2.0",
                            "method": "notifications/progress",
                            "params": {
                                "progressToken": token,
                                "progress": i,
                                "total": steps,
                                "message": format!("step {i} of {steps}"),
                            },
                        });
                        sink.push(Some("message"), note.to_string(), false);
                    }
                }
                json!({ "content": [text(format!("done after {steps} steps"))] })
            }
            "fail" => json!({ "content": [text("this tool always fails")], "isError": true }),
            "image" => {
                json!({ "content": [{ "type": "image", "data": PNG_1X1, "mimeType": "image/png" }] })
            }
            "audio" => {
                json!({ "content": [{ "type": "audio", "data": wav_base64(), "mimeType": "audio/wav" }] })
            }
            "resource_link" => json!({ "content": [{
                "type": "resource_link",
                "uri": "test://static/resource/1",
                "name": "resource-1",
                "mimeType": "text/plain",
            }] }),
            "embedded_resource" => json!({ "content": [{
                "type": "resource",
                "resource": {
                    "uri": "test://static/resource/2",
                    "mimeType": "text/plain",
                    "text": "content of test://static/resource/2",
                },
            }] }),
            _ => return bad_args("unknown built-in tool"),
        }
    };
    Some(rpc_result(id, finish_result(cx, result, false)))
}

/// The version header and `Mcp-Name` value rules of 2026-07-28.
pub(crate) fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => {
            let bytes = STANDARD.decode(encoded).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.to_owned()),
    }
}
