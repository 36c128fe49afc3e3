//! The legacy HTTP+SSE transport against the official Rust SDK's last SSE
//! server (rmcp 0.10).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connector_core::{Content, ErrorKind};
use connector_mcp::{CallOptions, ClientOptions, Era, McpClient, TransportMode};
use rmcp_legacy::model::{
    CallToolRequestParam, CallToolResult, ListToolsResult, PaginatedRequestParam,
    ServerCapabilities, ServerInfo,
};
use rmcp_legacy::service::RequestContext;
use rmcp_legacy::transport::sse_server::{SseServer, SseServerConfig};
use rmcp_legacy::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::TestServer;

#[derive(Clone, Default)]
struct Legacy;

impl ServerHandler for Legacy {
    fn get_info(&self) -> ServerInfo {
        ServerInfo {
            capabilities: ServerCapabilities::builder().enable_tools().build(),
            ..Default::default()
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParam>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(serde_json::from_value(json!({"tools": [
            {"name": "echo", "description": "Echoes.", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
            {"name": "sleep", "description": "Sleeps.", "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer"}}}}
        ]}))
        .unwrap())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParam,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let text = match request.name.as_ref() {
            "echo" => args
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            "sleep" => {
                let ms = args.get("ms").and_then(Value::as_u64).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                format!("slept {ms}")
            }
            other => return Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(serde_json::from_value(json!({"content": [{"type": "text", "text": text}]})).unwrap())
    }
}

struct Running {
    server: TestServer,
    ct: CancellationToken,
}

async fn start() -> Running {
    // Bind first to learn the port; SseServer only uses `bind` for its own
    // `serve`, which we do not use (we serve with TCP_NODELAY ourselves).
    let config = SseServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        sse_path: "/sse".into(),
        post_path: "/message".into(),
        ct: CancellationToken::new(),
        sse_keep_alive: Some(Duration::from_secs(15)),
    };
    let (sse, router) = SseServer::new(config);
    let ct = sse.with_service(|| Legacy);
    let server = TestServer::start(router).await;
    Running { server, ct }
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn auto_detects_legacy_sse() {
    let running = start().await;
    let client = McpClient::connect(ClientOptions::new(running.server.url("/sse")))
        .await
        .unwrap();
    let info = client.info();
    assert_eq!(info.era, Era::LegacySse);
    assert!(info.session_id.is_some());
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools.len(), 2);
    let out = client
        .call_tool(
            "echo",
            args(json!({"text": "legacy"})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.content, vec![Content::text("legacy")]);
    client.ping().await.unwrap();
    // Auto probed newer eras first with POSTs, then opened the stream.
    let seen = running.server.seen();
    assert!(seen.iter().any(|s| s.method == "GET" && s.path == "/sse"));
    assert!(
        seen.iter()
            .any(|s| s.method == "POST" && s.path == "/message")
    );
    running.ct.cancel();
}

#[tokio::test]
async fn fixed_sse_mode_and_concurrent_calls() {
    let running = start().await;
    let client = McpClient::connect(
        ClientOptions::new(running.server.url("/sse")).with_transport(TransportMode::Sse),
    )
    .await
    .unwrap();
    assert_eq!(client.info().era, Era::LegacySse);
    // No probing POST to the stream URL in fixed mode.
    assert!(
        !running
            .server
            .seen()
            .iter()
            .any(|s| s.method == "POST" && s.path == "/sse")
    );
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let client = client.clone();
        tasks.spawn(async move {
            for i in 0..4 {
                let text = format!("{task}-{i}");
                let out = client
                    .call_tool("echo", args(json!({"text": text})), CallOptions::default())
                    .await
                    .unwrap();
                assert_eq!(out.output.content, vec![Content::text(text)]);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    client.close().await.unwrap();
    running.ct.cancel();
}

#[tokio::test]
async fn a_killed_server_fails_calls_in_flight_at_once() {
    let running = start().await;
    let client = McpClient::connect(
        ClientOptions::new(running.server.url("/sse"))
            .with_transport(TransportMode::Sse)
            .with_request_timeout(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let call = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call_tool("sleep", args(json!({"ms": 20_000})), CallOptions::default())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    running.server.kill();
    let result = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call must fail fast, not hang")
        .unwrap();
    let err = result.unwrap_err();
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("SSE stream") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(!text.contains("sessionId"), "{text}");
    // While it reconnects (and fails to), new requests fail fast too.
    let start = Instant::now();
    assert!(client.ping().await.is_err());
    assert!(start.elapsed() < Duration::from_secs(5));
    running.ct.cancel();
}

#[tokio::test]
async fn a_dropped_stream_reconnects_and_initializes_again() {
    let running = start().await;
    let client = McpClient::connect(
        ClientOptions::new(running.server.url("/sse")).with_transport(TransportMode::Sse),
    )
    .await
    .unwrap();
    let first = client.info().session_id.unwrap();
    running.server.drop_connections();
    // Bounded wait for the reconnection; requests meanwhile fail fast.
    let mut answered = None;
    for _ in 0..50 {
        match client
            .call_tool(
                "echo",
                args(json!({"text": "back"})),
                CallOptions::default(),
            )
            .await
        {
            Ok(out) => {
                answered = Some(out);
                break;
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = answered.expect("the client reconnects");
    assert_eq!(out.output.content, vec![Content::text("back")]);
    assert_ne!(client.info().session_id.unwrap(), first);
    let gets = running
        .server
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path == "/sse")
        .count();
    assert_eq!(gets, 2);
    running.ct.cancel();
}
