//! An in-process MCP server from the official Rust SDK (`rmcp`, streamable
//! HTTP), for `McpConnector` and CLI tests. Also included by
//! connector-server's tests (`#[path]`), so it depends only on what both
//! crates have as dev-dependencies.
//!
//! It records, per HTTP request, the JSON-RPC method and the headers, so
//! tests can count `initialize` round trips and check that a header went out
//! exactly once.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::ListenerExt as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, ProgressNotificationParam, RequestMetaObject, ServerCapabilities,
    ServerConfig,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};

/// One HTTP request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The HTTP method.
    pub http_method: String,
    /// The JSON-RPC method, for a POST with one.
    pub rpc_method: Option<String>,
    /// The headers as received.
    pub headers: axum::http::HeaderMap,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub text: String,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct AddArgs {
    pub a: i64,
    pub b: i64,
}

#[derive(Debug, Clone)]
pub struct TestTools {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl TestTools {
    #[tool(description = "Echoes its text back.\nA second line the listing does not show.")]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    #[tool(description = "Adds two integers; the sum comes back as structured content.")]
    fn add(
        &self,
        Parameters(AddArgs { a, b }): Parameters<AddArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::structured(
            serde_json::json!({ "sum": a + b }),
        ))
    }

    #[tool(description = "Always reports a tool error (isError).")]
    fn fail(&self) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text("it broke")]))
    }

    #[tool(description = "Sends three progress notifications, then answers.")]
    async fn slow(
        &self,
        meta: RequestMetaObject,
        client: Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(token) = meta.get_progress_token() {
            for step in 1..=3 {
                let _ = client
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), f64::from(step))
                            .with_total(3.0)
                            .with_message(format!("step {step}")),
                    )
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        Ok(CallToolResult::success(vec![ContentBlock::text("done")]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("A test server")
    }
}

/// The running server; stops when dropped.
pub struct RmcpServer {
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// When set, requests without `Authorization: Bearer <this>` get 401.
    bearer: Option<String>,
}

async fn record(State(rec): State<Recorder>, req: Request, next: Next) -> Response {
    let seen = rec.seen;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    let rpc_method = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("method").and_then(|m| m.as_str()).map(str::to_owned));
    seen.lock().unwrap().push(Seen {
        http_method: parts.method.to_string(),
        rpc_method,
        headers: parts.headers.clone(),
    });
    if let Some(token) = &rec.bearer {
        let expected = format!("Bearer {token}");
        if parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some(expected.as_str())
        {
            return Response::builder()
                .status(401)
                .header("www-authenticate", "Bearer realm=\"test\"")
                .body(Body::empty())
                .unwrap();
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

impl RmcpServer {
    /// Starts on a free loopback port, with TCP_NODELAY (without it every
    /// keep-alive response waits ~40 ms on delayed ACKs).
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Like [`RmcpServer::start`], answering 401 to requests without
    /// `Authorization: Bearer <bearer>`.
    pub async fn start_with(bearer: Option<&str>) -> Self {
        let service: StreamableHttpService<TestTools, LocalSessionManager> =
            StreamableHttpService::new(
                || {
                    Ok(TestTools {
                        tool_router: TestTools::tool_router(),
                    })
                },
                Default::default(),
                StreamableHttpServerConfig::default(),
            );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(
                Recorder {
                    seen: seen.clone(),
                    bearer: bearer.map(str::to_owned),
                },
                record,
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        RmcpServer {
            url: format!("http://{addr}/mcp"),
            seen,
            task,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many `initialize` requests arrived.
    pub fn initializes(&self) -> usize {
        self.count("initialize")
    }

    /// How many requests of JSON-RPC `method` arrived.
    pub fn count(&self, method: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.rpc_method.as_deref() == Some(method))
            .count()
    }
}

impl Drop for RmcpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
