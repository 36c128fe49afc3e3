//! The server every client in this benchmark talks to: rmcp 3.9's
//! `StreamableHttpService` (stateful sessions, SSE response bodies: its
//! defaults) on axum 0.8, bound to 127.0.0.1:0, with a trivial `add` and
//! `echo` tool.
//!
//! It runs in a child process (this same binary started again with
//! `MCP_BENCH_ROLE=server`) with its own tokio runtime, so that client and
//! server never share a scheduler and the client process's allocation counter
//! and RSS see only the client.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::serve::ListenerExt;
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};

static ACCEPTED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct AddRequest {
    a: i64,
    b: i64,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct EchoRequest {
    message: String,
}

#[derive(Debug, Clone)]
pub struct BenchServer {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl BenchServer {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Add two integers")]
    fn add(&self, Parameters(AddRequest { a, b }): Parameters<AddRequest>) -> String {
        (a + b).to_string()
    }

    #[tool(description = "Echo a message")]
    fn echo(&self, Parameters(EchoRequest { message }): Parameters<EchoRequest>) -> String {
        message
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BenchServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serve until stdin closes (the parent went away) or `max_secs` pass.
/// Prints `listening http://127.0.0.1:PORT/mcp` on stdout once bound.
/// `nodelay = false` is plain `axum::serve` (Nagle on), for the check.
pub fn run(nodelay: bool, max_secs: u64) {
    let workers: usize = std::env::var("MCP_BENCH_SERVER_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("server runtime: {e}")));
    rt.block_on(async move {
        let service: StreamableHttpService<BenchServer, LocalSessionManager> =
            StreamableHttpService::new(
                || Ok(BenchServer::new()),
                Default::default(),
                StreamableHttpServerConfig::default(),
            );
        // `/accepted`: how many TCP connections the server accepted so far,
        // so the bench can tell connections opened per call.
        let router = axum::Router::new().nest_service("/mcp", service).route(
            "/accepted",
            axum::routing::get(|| async { ACCEPTED.load(Ordering::Relaxed).to_string() }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| fail(&format!("bind: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| fail(&format!("local_addr: {e}")));
        let server = async move {
            let listener = listener.tap_io(move |tcp| {
                ACCEPTED.fetch_add(1, Ordering::Relaxed);
                if nodelay {
                    if let Err(e) = tcp.set_nodelay(true) {
                        eprintln!("set_nodelay: {e}");
                    }
                }
            });
            let r = axum::serve(listener, router).await;
            if let Err(e) = r {
                eprintln!("serve: {e}");
            }
        };
        tokio::spawn(server);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening http://{addr}/mcp");
        let _ = out.flush();
        drop(out);
        // Stop when the parent closes our stdin, or after max_secs.
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let mut stdin = std::io::stdin().lock();
            while stdin.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                line.clear();
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(max_secs), stdin_closed).await;
    });
    // Don't wait for the blocking stdin reader.
    rt.shutdown_timeout(Duration::from_millis(100));
}

fn fail(msg: &str) -> ! {
    eprintln!("mcp bench server: {msg}");
    std::process::exit(1)
}

/// A server child process; dropped = stdin closed = it exits.
pub struct ServerProcess {
    child: std::process::Child,
    pub url: String,
}

impl ServerProcess {
    pub fn spawn(nodelay: bool) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = std::process::Command::new(exe)
            .env("MCP_BENCH_ROLE", "server")
            .env("MCP_BENCH_NODELAY", if nodelay { "1" } else { "0" })
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("server stdout: {e}"))?;
        let url = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("server said {line:?}"))?
            .to_string();
        Ok(Self { child, url })
    }

    /// TCP connections the server accepted so far (a separate connection
    /// is used to ask, counted too).
    pub async fn accepted(&self) -> u64 {
        let url = self.url.replace("/mcp", "/accepted");
        let Ok(r) = reqwest::get(url).await else {
            return 0;
        };
        r.text()
            .await
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
