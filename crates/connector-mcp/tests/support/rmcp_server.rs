//! A small MCP server on the official Rust SDK (rmcp 3.x), in process.

use std::borrow::Cow;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, ProtocolVersion,
    RequestMetaObject, ServerCapabilities, ServerConfig,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{Json, Peer, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};

use super::TestServer;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// What to echo.
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddArgs {
    pub a: i64,
    pub b: i64,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sum {
    pub sum: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SlowArgs {
    /// How many progress steps.
    pub steps: u32,
    /// Milliseconds between steps.
    pub delay_ms: u64,
}

#[derive(Clone)]
pub struct TestTools {
    tool_router: ToolRouter<Self>,
    versions: Option<&'static [ProtocolVersion]>,
}

#[tool_router]
impl TestTools {
    pub fn new(versions: Option<&'static [ProtocolVersion]>) -> Self {
        TestTools {
            tool_router: Self::tool_router(),
            versions,
        }
    }

    #[tool(description = "Echoes its text.", annotations(read_only_hint = true))]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    #[tool(description = "Adds two integers, with a structured result.")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<Json<Sum>, String> {
        Ok(Json(Sum { sum: a + b }))
    }

    #[tool(description = "Sends progress notifications, then answers.")]
    async fn slow(
        &self,
        Parameters(SlowArgs { steps, delay_ms }): Parameters<SlowArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> String {
        let token = meta.get_progress_token();
        for step in 0..steps {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            if let Some(token) = &token {
                let _ = peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), f64::from(step + 1))
                            .with_total(f64::from(steps))
                            .with_message(format!("step {}", step + 1)),
                    )
                    .await;
            }
        }
        format!("done after {steps} steps")
    }

    #[tool(description = "Says the tool list changed.")]
    async fn change(&self, peer: Peer<RoleServer>) -> String {
        let _ = peer.notify_tool_list_changed().await;
        "changed".into()
    }

    #[tool(description = "Always fails, as a tool result.")]
    fn fail(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text("it broke")])
    }

    #[tool(description = "Returns a tiny image.")]
    fn image(&self) -> CallToolResult {
        CallToolResult::success(vec![
            ContentBlock::image("iVBORw0KGgo=", "image/png"),
            ContentBlock::audio("UklGRg==", "audio/wav"),
        ])
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("rmcp-test-server", "1.0.0"))
        .with_instructions("A test server")
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        match self.versions {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS),
        }
    }
}

/// The session-era versions only (no 2026-07-28).
pub const SESSION_ONLY: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_03_26,
];

/// How to configure the server.
#[derive(Clone, Copy)]
pub struct Setup {
    pub versions: Option<&'static [ProtocolVersion]>,
    pub sessions: bool,
    pub json_response: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            versions: None,
            sessions: true,
            json_response: false,
        }
    }
}

pub fn service(setup: Setup) -> StreamableHttpService<TestTools, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(setup.sessions)
        .with_json_response(setup.json_response)
        .with_sse_keep_alive(None);
    let versions = setup.versions;
    StreamableHttpService::new(
        move || Ok(TestTools::new(versions)),
        Default::default(),
        config,
    )
}

pub fn router(setup: Setup) -> axum::Router {
    axum::Router::new().nest_service("/mcp", service(setup))
}

/// Starts a server; its MCP endpoint is `/mcp`.
pub async fn start(setup: Setup) -> TestServer {
    TestServer::start(router(setup)).await
}
