//! The clients under test, behind one `Caller::call`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, ClientConfig},
    service::{RoleClient, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Map, Value};

pub type RmcpClient = RunningService<RoleClient, ClientConfig>;

#[derive(Clone)]
pub enum Caller {
    /// connector-mcp's `McpClient`.
    Ours(connector_mcp::client::McpClient),
    /// rmcp 3.9's client (either transport).
    Rmcp(Arc<RmcpClient>),
    /// Hand-made JSON-RPC POSTs on reqwest 0.12 keep-alive connections.
    Raw(Arc<Raw>),
}

fn add_args() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("a".into(), Value::from(1));
    m.insert("b".into(), Value::from(2));
    m
}

impl Caller {
    /// One tools/call `add {a: 1, b: 2}`; fails unless the result is a success.
    pub async fn call(&self) -> Result<(), String> {
        match self {
            Caller::Ours(c) => {
                let r = c
                    .call_tool(
                        "add",
                        add_args(),
                        connector_mcp::client::CallOptions::default(),
                    )
                    .await
                    .map_err(|e| format!("ours: {e}"))?;
                if r.output.is_error {
                    return Err("ours: isError".into());
                }
                Ok(())
            }
            Caller::Rmcp(c) => {
                let r = c
                    .call_tool(CallToolRequestParams::new("add").with_arguments(add_args()))
                    .await
                    .map_err(|e| format!("rmcp: {e}"))?;
                if r.is_error == Some(true) {
                    return Err("rmcp: isError".into());
                }
                Ok(())
            }
            Caller::Raw(r) => r.call().await,
        }
    }

    /// The text of one `add` result, for a sanity check before timing.
    pub async fn check(&self) -> Result<(), String> {
        let text = match self {
            Caller::Ours(c) => {
                let r = c
                    .call_tool(
                        "add",
                        add_args(),
                        connector_mcp::client::CallOptions::default(),
                    )
                    .await
                    .map_err(|e| format!("ours: {e}"))?;
                r.raw["content"].clone()
            }
            Caller::Rmcp(c) => {
                let r = c
                    .call_tool(CallToolRequestParams::new("add").with_arguments(add_args()))
                    .await
                    .map_err(|e| format!("rmcp: {e}"))?;
                serde_json::to_value(&r.content).map_err(|e| e.to_string())?
            }
            Caller::Raw(r) => {
                let v = r.call_value().await?;
                v["result"]["content"].clone()
            }
        };
        if text[0]["text"] == "3" {
            Ok(())
        } else {
            Err(format!("unexpected add result {text}"))
        }
    }
}

/// rmcp's client as it comes: `from_uri` (a reqwest 0.13 client with
/// `pool_max_idle_per_host(0)`, so a new connection per call).
pub async fn rmcp_default(url: &str) -> Result<RmcpClient, String> {
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    ClientConfig::default()
        .serve(transport)
        .await
        .map_err(|e| format!("rmcp connect: {e}"))
}

/// rmcp's client given a keep-alive reqwest 0.13 client (default pooling).
pub async fn rmcp_keepalive(url: &str) -> Result<RmcpClient, String> {
    let http = reqwest13::Client::builder()
        .build()
        .map_err(|e| format!("reqwest 0.13: {e}"))?;
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url.to_string()),
    );
    ClientConfig::default()
        .serve(transport)
        .await
        .map_err(|e| format!("rmcp connect: {e}"))
}

/// Our client. `sessions`: the transport fixed to streamable HTTP with
/// `initialize` and a session (2025-11-25, like every other client here);
/// otherwise as it comes (`Auto`), which finds that rmcp 3.9 speaks the
/// stateless 2026-07-28 revision and uses it.
pub async fn ours(url: &str, sessions: bool) -> Result<connector_mcp::client::McpClient, String> {
    ours_with(url, sessions, None).await
}

/// [`ours`], with a reqwest client shared by every session (as a pool of
/// sessions would share one), or its own per session (`None`).
pub async fn ours_with(
    url: &str,
    sessions: bool,
    http: Option<reqwest::Client>,
) -> Result<connector_mcp::client::McpClient, String> {
    let url = url::Url::parse(url).map_err(|e| format!("url: {e}"))?;
    let mut options = connector_mcp::client::ClientOptions::new(url);
    options.http = http;
    if sessions {
        options.transport = connector_mcp::client::TransportMode::StreamableHttp;
    }
    let c = connector_mcp::client::McpClient::connect(options)
        .await
        .map_err(|e| format!("ours connect: {e}"))?;
    let want = if sessions { "2025-11-25" } else { "2026-07-28" };
    let got = c.info().protocol_version;
    if got != want {
        return Err(format!("ours negotiated {got}, expected {want}"));
    }
    Ok(c)
}

/// The floor: hand-made JSON-RPC over one reqwest 0.12 client (keep-alive
/// pool), the session headers set by hand, the SSE body read whole and the
/// one `data:` line holding the response parsed.
///
/// `Raw::stateless` is the same for the 2026-07-28 revision: no session, the
/// version and client info in `_meta` and the `Mcp-Method`/`Mcp-Name`
/// headers on every POST.
pub struct Raw {
    http: reqwest::Client,
    url: String,
    /// `None`: stateless (2026-07-28).
    session: Option<reqwest::header::HeaderValue>,
    next_id: AtomicU64,
}

const PROTOCOL_VERSION: &str = "2025-11-25";
const STATELESS_VERSION: &str = "2026-07-28";
const ACCEPT: &str = "application/json, text/event-stream";

impl Raw {
    pub async fn connect(url: &str) -> Result<Raw, String> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("reqwest: {e}"))?;
        let init = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "raw-floor", "version": "0"}
            }
        });
        let resp = http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .body(init.to_string())
            .send()
            .await
            .map_err(|e| format!("raw initialize: {e}"))?;
        let session = resp
            .headers()
            .get("mcp-session-id")
            .cloned()
            .ok_or("raw: no mcp-session-id")?;
        let body = resp.bytes().await.map_err(|e| format!("raw: {e}"))?;
        let v = sse_response(&body)?;
        if v["result"]["protocolVersion"] != PROTOCOL_VERSION {
            return Err(format!("raw: initialize answered {v}"));
        }
        let resp = http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .header("mcp-session-id", session.clone())
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .send()
            .await
            .map_err(|e| format!("raw initialized: {e}"))?;
        if resp.status() != reqwest::StatusCode::ACCEPTED {
            return Err(format!("raw initialized: {}", resp.status()));
        }
        let _ = resp.bytes().await;
        Ok(Raw {
            http,
            url: url.to_string(),
            session: Some(session),
            next_id: AtomicU64::new(1),
        })
    }

    pub fn stateless(url: &str) -> Result<Raw, String> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("reqwest: {e}"))?;
        Ok(Raw {
            http,
            url: url.to_string(),
            session: None,
            next_id: AtomicU64::new(1),
        })
    }

    async fn call_value(&self) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT);
        let req = match &self.session {
            Some(session) => req
                .header("mcp-session-id", session.clone())
                .header("mcp-protocol-version", PROTOCOL_VERSION)
                .body(format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"add","arguments":{{"a":1,"b":2}}}}}}"#
                )),
            None => req
                .header("mcp-protocol-version", STATELESS_VERSION)
                .header("mcp-method", "tools/call")
                .header("mcp-name", "add")
                .body(format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"{STATELESS_VERSION}","io.modelcontextprotocol/clientInfo":{{"name":"raw-floor","version":"0"}},"io.modelcontextprotocol/clientCapabilities":{{}}}},"name":"add","arguments":{{"a":1,"b":2}}}}}}"#
                )),
        };
        let resp = req.send().await.map_err(|e| format!("raw: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("raw: {}", resp.status()));
        }
        let bytes = resp.bytes().await.map_err(|e| format!("raw: {e}"))?;
        let v = sse_response(&bytes)?;
        if v["id"] != id {
            return Err(format!("raw: response id {} for {id}", v["id"]));
        }
        Ok(v)
    }

    pub async fn call(&self) -> Result<(), String> {
        let v = self.call_value().await?;
        if v["result"]["isError"] == true || v.get("result").is_none() {
            return Err(format!("raw: {v}"));
        }
        Ok(())
    }

    pub async fn close(&self) {
        let Some(session) = &self.session else {
            return;
        };
        let _ = self
            .http
            .delete(&self.url)
            .header("mcp-session-id", session.clone())
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .send()
            .await;
    }
}

/// The JSON-RPC message in an SSE body: the first non-empty `data:` line
/// (rmcp sends a priming event with empty data first).
fn sse_response(body: &[u8]) -> Result<Value, String> {
    for line in body.split(|&b| b == b'\n') {
        if let Some(data) = line.strip_prefix(b"data:") {
            let data = data.strip_prefix(b" ").unwrap_or(data);
            let data = data.strip_suffix(b"\r").unwrap_or(data);
            if data.is_empty() {
                continue;
            }
            return serde_json::from_slice(data).map_err(|e| format!("raw: bad data: {e}"));
        }
    }
    Err(format!(
        "raw: no data line in {:?}",
        String::from_utf8_lossy(body)
    ))
}
