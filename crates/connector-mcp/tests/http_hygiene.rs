//! Redirects, credentials on 401, bounded bodies, connection failures and
//! cancellation, around the rmcp server.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use connector_core::{Content, Error, ErrorKind};
use connector_mcp::{
    BearerChallenge, CallOptions, ClientOptions, Credentials, McpClient, RetryDecision,
    StaticHeaders, TransportMode,
};
use serde_json::{Map, Value, json};
use url::Url;

use crate::support::TestServer;
use crate::support::rmcp_server::{self, SESSION_ONLY, Setup};

fn session_setup() -> Setup {
    Setup {
        versions: Some(SESSION_ONLY),
        ..Setup::default()
    }
}

fn redirect(status: StatusCode, to: &'static str) -> axum::routing::MethodRouter {
    any(move || async move { (status, [(header::LOCATION, to)]) })
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn same_origin_307_and_308_keep_method_and_body() {
    let router = rmcp_server::router(session_setup())
        .route(
            "/temporary",
            redirect(StatusCode::TEMPORARY_REDIRECT, "/mcp"),
        )
        .route(
            "/permanent",
            redirect(StatusCode::PERMANENT_REDIRECT, "/mcp"),
        );
    let server = TestServer::start(router).await;

    let client = McpClient::connect(
        ClientOptions::new(server.url("/temporary")).with_transport(TransportMode::StreamableHttp),
    )
    .await
    .unwrap();
    let out = client
        .call_tool(
            "echo",
            args(json!({"text": "via 307"})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.content, vec![Content::text("via 307")]);
    // A 307 is not remembered: each POST went through it.
    let temporary = server
        .seen()
        .iter()
        .filter(|s| s.path == "/temporary")
        .count();
    assert!(temporary >= 3, "{temporary}");

    let client = McpClient::connect(
        ClientOptions::new(server.url("/permanent")).with_transport(TransportMode::StreamableHttp),
    )
    .await
    .unwrap();
    client.ping().await.unwrap();
    client.ping().await.unwrap();
    // A 308 is: only the first POST went to the old URL.
    let permanent = server
        .seen()
        .iter()
        .filter(|s| s.path == "/permanent")
        .count();
    assert_eq!(permanent, 1);
}

#[tokio::test]
async fn cross_origin_and_method_changing_redirects_are_refused() {
    let router = rmcp_server::router(session_setup())
        .route(
            "/away",
            redirect(
                StatusCode::TEMPORARY_REDIRECT,
                "http://127.0.0.2:9/mcp?token=secret",
            ),
        )
        .route("/found", redirect(StatusCode::FOUND, "/mcp"));
    let server = TestServer::start(router).await;
    let err = McpClient::connect(
        ClientOptions::new(server.url("/away")).with_transport(TransportMode::StreamableHttp),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("another origin"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert!(!server.seen().iter().any(|s| s.path == "/mcp"));

    let err = McpClient::connect(
        ClientOptions::new(server.url("/found")).with_transport(TransportMode::StreamableHttp),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("302"), "{err}");
}

#[derive(Debug)]
struct Rotating {
    token: Mutex<String>,
    unauthorized: AtomicUsize,
    fixes: bool,
}

#[async_trait]
impl Credentials for Rotating {
    async fn headers(&self, _server: &Url) -> Result<HeaderMap, Error> {
        let mut h = HeaderMap::new();
        let mut v =
            HeaderValue::from_str(&format!("Bearer {}", self.token.lock().unwrap())).unwrap();
        v.set_sensitive(true);
        h.insert(header::AUTHORIZATION, v);
        Ok(h)
    }

    async fn unauthorized(
        &self,
        _server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<RetryDecision, Error> {
        self.unauthorized.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            challenge.and_then(|c| c.resource_metadata.as_deref()),
            Some("http://127.0.0.1/.well-known/oauth-protected-resource")
        );
        if self.fixes {
            *self.token.lock().unwrap() = "good".into();
            Ok(RetryDecision::Retry)
        } else {
            Ok(RetryDecision::GiveUp)
        }
    }
}

async fn require_bearer(request: Request, next: Next) -> Response {
    if request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v == "Bearer good")
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            r#"Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource""#,
        )],
    )
        .into_response()
}

#[tokio::test]
async fn a_401_asks_the_credentials_once() {
    let router = axum::Router::new()
        .nest_service("/mcp", rmcp_server::service(session_setup()))
        .layer(middleware::from_fn(require_bearer));
    let server = TestServer::start(router).await;

    let fixing = Arc::new(Rotating {
        token: Mutex::new("stale".into()),
        unauthorized: AtomicUsize::new(0),
        fixes: true,
    });
    let client = McpClient::connect(
        ClientOptions::new(server.url("/mcp"))
            .with_transport(TransportMode::StreamableHttp)
            .with_credentials(fixing.clone()),
    )
    .await
    .unwrap();
    client.ping().await.unwrap();
    assert_eq!(fixing.unauthorized.load(Ordering::SeqCst), 1);

    let giving_up = Arc::new(Rotating {
        token: Mutex::new("stale".into()),
        unauthorized: AtomicUsize::new(0),
        fixes: false,
    });
    let err = McpClient::connect(
        ClientOptions::new(server.url("/mcp")).with_credentials(giving_up.clone()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization, "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(!err.to_string().contains("stale"), "{err}");
    // Auto mode did not fall back to other eras after a 401.
    assert_eq!(giving_up.unauthorized.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_header_goes_out_once() {
    let server = rmcp_server::start(session_setup()).await;
    let credentials = StaticHeaders::from_pairs([
        ("X-Api-Key", "one"),
        ("x-api-key", "two"),
        ("accept", "text/plain"),
        ("MCP-Protocol-Version", "1999-01-01"),
    ])
    .unwrap();
    let client = McpClient::connect(
        ClientOptions::new(server.url("/mcp"))
            .with_transport(TransportMode::StreamableHttp)
            .with_credentials(Arc::new(credentials)),
    )
    .await
    .unwrap();
    client.ping().await.unwrap();
    for seen in server.seen() {
        assert_eq!(
            seen.headers.get_all("x-api-key").iter().collect::<Vec<_>>(),
            ["two"]
        );
        assert_eq!(seen.headers.get_all("accept").iter().count(), 1);
        assert_ne!(seen.headers["accept"], "text/plain");
        for v in seen.headers.get_all("mcp-protocol-version") {
            assert_eq!(v, "2025-11-25");
        }
    }
}

#[tokio::test]
async fn oversized_messages_are_refused_clearly() {
    let big = "x".repeat(2 << 20);
    let big_json = {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": big}}).to_string();
        any(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        })
    };
    let big_sse = {
        let body =
            format!("data: {{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{{\"x\":\"{big}\"}}}}\n\n");
        any(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "text/event-stream")], body) }
        })
    };
    let router = axum::Router::new()
        .route("/json", big_json)
        .route("/sse", big_sse);
    let server = TestServer::start(router).await;
    for path in ["/json", "/sse"] {
        let start = Instant::now();
        let err = McpClient::connect(
            ClientOptions::new(server.url(path))
                .with_transport(TransportMode::StreamableHttp)
                .with_max_message_size(1 << 20)
                .with_request_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("1048576") && text.contains("127.0.0.1"),
            "{path}: {text}"
        );
        assert!(start.elapsed() < Duration::from_secs(3), "{path}");
    }
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_and_clearly() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let start = Instant::now();
    let err = McpClient::connect(ClientOptions::new(
        Url::parse(&format!("http://{addr}/mcp?key=secret")).unwrap(),
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("could not connect") && text.contains(&addr.to_string()),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn timeouts_and_dropped_calls_send_cancelled() {
    let server = rmcp_server::start(session_setup()).await;
    let client = McpClient::connect(
        ClientOptions::new(server.url("/mcp"))
            .with_transport(TransportMode::StreamableHttp)
            .with_request_timeout(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    let err = client
        .call_tool(
            "slow",
            args(json!({"steps": 1, "delay_ms": 2000})),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);

    let call = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call_tool(
                    "slow",
                    args(json!({"steps": 1, "delay_ms": 2000})),
                    CallOptions {
                        timeout: Some(Duration::from_secs(30)),
                        ..CallOptions::default()
                    },
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    call.abort();
    let mut cancelled = Vec::new();
    for _ in 0..50 {
        cancelled = server
            .seen()
            .into_iter()
            .filter_map(|s| serde_json::from_slice::<Value>(&s.body).ok())
            .filter(|b| b["method"] == "notifications/cancelled")
            .collect();
        if cancelled.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cancelled.len(), 2, "{cancelled:?}");
    assert!(cancelled.iter().all(|c| c["params"]["requestId"].is_i64()));
    // The session still answers.
    client.ping().await.unwrap();
}
