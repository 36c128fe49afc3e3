//! Test support: serving an axum router on 127.0.0.1 with TCP_NODELAY,
//! recording what arrives, and killing every connection at once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub mod rmcp_server;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

/// A server on a loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    tasks: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

async fn record(
    State(seen): State<Arc<Mutex<Vec<Seen>>>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    next.run(Request::from_parts(parts, axum::body::Body::from(body)))
        .await
}

impl TestServer {
    /// Serves `router` on a fresh port.
    pub async fn start(router: axum::Router) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, router)
    }

    /// Serves `router` on `addr` (to restart a killed server in place).
    pub async fn start_on(addr: SocketAddr, router: axum::Router) -> TestServer {
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(addr).await {
                Ok(l) => return Self::serve(l, router),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("could not bind {addr} again: {last:?}");
    }

    fn serve(listener: TcpListener, router: axum::Router) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let router = router.layer(middleware::from_fn_with_state(seen.clone(), record));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let accept = {
            let tasks = tasks.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        return;
                    };
                    // Without this, keep-alive responses stall ~40 ms on
                    // delayed ACKs.
                    socket.set_nodelay(true).unwrap();
                    let service = TowerToHyperService::new(router.clone());
                    tasks.lock().unwrap().spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            })
        };
        TestServer {
            addr,
            seen,
            tasks,
            accept,
        }
    }

    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Drops every open connection, still accepting new ones.
    pub fn drop_connections(&self) {
        self.tasks.lock().unwrap().abort_all();
    }

    /// Stops accepting and drops every open connection at once.
    pub fn kill(&self) {
        self.accept.abort();
        self.tasks.lock().unwrap().abort_all();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}
