//! Streamable HTTP (sessions and stateless 2026-07-28) against the official
//! Rust SDK's server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::{Content, ErrorKind};
use connector_mcp::{CallOptions, ClientOptions, Era, EraCache, McpClient, TransportMode, convert};
use serde_json::{Map, Value, json};

use crate::support::rmcp_server::{self, SESSION_ONLY, Setup};

fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn session_setup() -> Setup {
    Setup {
        versions: Some(SESSION_ONLY),
        ..Setup::default()
    }
}

async fn connect(url: url::Url, mode: TransportMode) -> McpClient {
    McpClient::connect(ClientOptions::new(url).with_transport(mode))
        .await
        .unwrap()
}

#[tokio::test]
async fn auto_picks_a_session_on_a_session_only_server() {
    let server = rmcp_server::start(session_setup()).await;
    let cache = EraCache::new();
    let client =
        McpClient::connect(ClientOptions::new(server.url("/mcp")).with_era_cache(cache.clone()))
            .await
            .unwrap();
    let info = client.info();
    assert_eq!(info.era, Era::StreamableHttp);
    assert_eq!(info.protocol_version, "2025-11-25");
    assert!(info.session_id.is_some());
    assert_eq!(
        info.server_info.as_ref().unwrap()["name"],
        "rmcp-test-server"
    );
    assert_eq!(info.instructions.as_deref(), Some("A test server"));
    assert_eq!(cache.get(&server.url("/mcp")), Some(Era::StreamableHttp));

    // Every request after initialize carries the version and the session.
    let session = info.session_id.clone().unwrap();
    client.ping().await.unwrap();
    let seen = server.seen();
    let after_init: Vec<_> = seen
        .iter()
        .filter(|s| s.method == "POST" && s.headers.contains_key("mcp-session-id"))
        .collect();
    assert!(!after_init.is_empty());
    for s in after_init {
        assert_eq!(s.headers["mcp-protocol-version"], "2025-11-25");
        assert_eq!(s.headers["mcp-session-id"], session.as_str());
        assert_eq!(s.headers.get_all("accept").iter().count(), 1);
    }

    // A second client finds the era in the cache: no discover probe.
    let before = server.seen().len();
    let again = McpClient::connect(ClientOptions::new(server.url("/mcp")).with_era_cache(cache))
        .await
        .unwrap();
    assert_eq!(again.info().era, Era::StreamableHttp);
    let probes = server.seen()[before..]
        .iter()
        .filter(|s| {
            s.headers
                .get("mcp-method")
                .is_some_and(|m| m == "server/discover")
        })
        .count();
    assert_eq!(probes, 0);
}

#[tokio::test]
async fn tools_list_and_call_results() {
    let server = rmcp_server::start(session_setup()).await;
    let client = connect(server.url("/mcp"), TransportMode::Auto).await;
    let tools = client.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for name in ["echo", "add", "slow", "fail", "image"] {
        assert!(names.contains(&name), "{names:?}");
    }
    // Cached: the same Arc until the list changes.
    assert!(Arc::ptr_eq(&tools, &client.list_tools().await.unwrap()));
    let echo = tools.iter().find(|t| t.name == "echo").unwrap();
    let spec = convert::tool_spec(echo).unwrap();
    assert_eq!(spec.annotations.read_only, Some(true));
    assert_eq!(spec.input_schema["type"], "object");
    let add = tools.iter().find(|t| t.name == "add").unwrap();
    assert!(add.output_schema.is_some());

    let out = client
        .call_tool(
            "echo",
            args(json!({"text": "héllo"})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.content, vec![Content::text("héllo")]);
    assert!(!out.output.is_error);

    let out = client
        .call_tool(
            "add",
            args(json!({"a": 2, "b": 40})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.structured, Some(json!({"sum": 42})));
    assert_eq!(out.raw["structuredContent"]["sum"], 42);

    let out = client
        .call_tool("fail", Map::new(), CallOptions::default())
        .await
        .unwrap();
    assert!(out.output.is_error, "isError stays a tool result");
    assert_eq!(out.output.content, vec![Content::text("it broke")]);

    let out = client
        .call_tool("image", Map::new(), CallOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(&out.output.content[0], Content::Image { mime_type, .. } if mime_type == "image/png")
    );
    assert!(
        matches!(&out.output.content[1], Content::Audio { mime_type, .. } if mime_type == "audio/wav")
    );

    let raw = client.list_tools_raw().await.unwrap();
    assert_eq!(raw["tools"].as_array().unwrap().len(), tools.len());

    // An unknown tool is an error from the server, named.
    let err = client
        .call_tool("nope", Map::new(), CallOptions::default())
        .await;
    match err {
        Err(e) => assert!(e.to_string().contains("127.0.0.1"), "{e}"),
        Ok(r) => assert!(r.output.is_error, "{:?}", r.raw),
    }
}

#[tokio::test]
async fn progress_is_delivered_and_extends_the_timeout() {
    let server = rmcp_server::start(session_setup()).await;
    let client = McpClient::connect(
        ClientOptions::new(server.url("/mcp")).with_request_timeout(Duration::from_millis(400)),
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // 8 steps of 150 ms: 1.2 s in all, far past the 400 ms timeout, but
    // never 400 ms without progress.
    let out = client
        .call_tool(
            "slow",
            args(json!({"steps": 8, "delay_ms": 150})),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.output.content,
        vec![Content::text("done after 8 steps")]
    );
    let mut updates = Vec::new();
    while let Ok(p) = rx.try_recv() {
        updates.push(p);
    }
    assert_eq!(updates.len(), 8, "{updates:?}");
    assert_eq!(updates[7].progress, 8.0);
    assert_eq!(updates[7].total, Some(8.0));
    assert_eq!(updates[0].message.as_deref(), Some("step 1"));

    // Without progress, the same call times out.
    let start = Instant::now();
    let err = client
        .call_tool(
            "slow",
            args(json!({"steps": 8, "delay_ms": 150})),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(err.to_string().contains("tools/call"), "{err}");
}

#[tokio::test]
async fn progress_cannot_extend_past_the_absolute_cap() {
    let server = rmcp_server::start(session_setup()).await;
    let client = McpClient::connect(
        ClientOptions::new(server.url("/mcp"))
            .with_request_timeout(Duration::from_millis(400))
            .with_max_request_time(Duration::from_millis(700)),
    )
    .await
    .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let err = client
        .call_tool(
            "slow",
            args(json!({"steps": 20, "delay_ms": 100})),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // The session still works afterwards.
    client.ping().await.unwrap();
}

#[tokio::test]
async fn concurrent_calls_share_one_session() {
    let server = rmcp_server::start(session_setup()).await;
    let client = connect(server.url("/mcp"), TransportMode::StreamableHttp).await;
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
    let sessions: std::collections::HashSet<_> = server
        .seen()
        .iter()
        .filter_map(|s| s.headers.get("mcp-session-id").cloned())
        .collect();
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn close_sends_delete_with_the_session() {
    let server = rmcp_server::start(session_setup()).await;
    let client = connect(server.url("/mcp"), TransportMode::StreamableHttp).await;
    let session = client.info().session_id.unwrap();
    client.close().await.unwrap();
    let deletes: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].headers["mcp-session-id"], session.as_str());
    // Requests after close fail clearly.
    assert!(client.ping().await.is_err());
}

#[tokio::test]
async fn an_expired_session_is_initialized_again_once() {
    let server = rmcp_server::start(session_setup()).await;
    let addr = server.addr;
    let client = connect(server.url("/mcp"), TransportMode::StreamableHttp).await;
    let first = client.info().session_id.unwrap();
    client.ping().await.unwrap();
    // The server restarts: it has forgotten every session (404).
    server.kill();
    drop(server);
    let server =
        crate::support::TestServer::start_on(addr, rmcp_server::router(session_setup())).await;
    let out = client
        .call_tool(
            "echo",
            args(json!({"text": "again"})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.content, vec![Content::text("again")]);
    let second = client.info().session_id.unwrap();
    assert_ne!(first, second);
    let inits = server
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && !s.headers.contains_key("mcp-session-id"))
        .count();
    assert_eq!(inits, 1, "one initialize on the new server");
}

#[tokio::test]
async fn json_response_mode_without_sessions() {
    let server = rmcp_server::start(Setup {
        versions: Some(SESSION_ONLY),
        sessions: false,
        json_response: true,
    })
    .await;
    let client = connect(server.url("/mcp"), TransportMode::Auto).await;
    assert_eq!(client.info().era, Era::StreamableHttp);
    assert_eq!(client.info().session_id, None);
    let out = client
        .call_tool("add", args(json!({"a": 1, "b": 2})), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(out.output.structured, Some(json!({"sum": 3})));
    client.close().await.unwrap();
}

#[tokio::test]
async fn auto_picks_stateless_2026_07_28_when_the_server_speaks_it() {
    let server = rmcp_server::start(Setup::default()).await;
    let client = connect(server.url("/mcp"), TransportMode::Auto).await;
    let info = client.info();
    assert_eq!(info.era, Era::Stateless);
    assert_eq!(info.protocol_version, "2026-07-28");
    assert_eq!(info.session_id, None);
    assert_eq!(
        info.server_info.as_ref().unwrap()["name"],
        "rmcp-test-server"
    );
    let tools = client.list_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "add"));
    let out = client
        .call_tool(
            "add",
            args(json!({"a": 20, "b": 22})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.structured, Some(json!({"sum": 42})));

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client
        .call_tool(
            "slow",
            args(json!({"steps": 3, "delay_ms": 10})),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    let mut n = 0;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, 3);

    let seen = server.seen();
    let call = seen
        .iter()
        .find(|s| {
            s.headers
                .get("mcp-method")
                .is_some_and(|m| m == "tools/call")
        })
        .unwrap();
    assert_eq!(call.headers["mcp-protocol-version"], "2026-07-28");
    assert_eq!(call.headers["mcp-name"], "add");
    assert!(
        !seen
            .iter()
            .any(|s| s.headers.contains_key("mcp-session-id"))
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "GET" || s.method == "DELETE")
    );
}

#[tokio::test]
async fn stateless_names_that_are_not_header_safe_go_in_base64() {
    let server = rmcp_server::start(Setup::default()).await;
    let client = connect(server.url("/mcp"), TransportMode::Stateless).await;
    let result = client
        .call_tool("héllo wörld", Map::new(), CallOptions::default())
        .await;
    let seen = server.seen();
    let call = seen
        .iter()
        .find(|s| {
            s.headers
                .get("mcp-method")
                .is_some_and(|m| m == "tools/call")
        })
        .unwrap();
    assert_eq!(call.headers["mcp-name"], "=?base64?aMOpbGxvIHfDtnJsZA==?=");
    // rmcp decodes the header and finds it matches the body: the refusal
    // is about the unknown tool, not a header mismatch.
    match result {
        Err(e) => assert!(!e.to_string().contains("-32020"), "{e}"),
        Ok(r) => assert!(r.output.is_error),
    }
}

#[tokio::test]
async fn stateless_mode_refuses_a_server_without_2026_07_28() {
    let server = rmcp_server::start(session_setup()).await;
    let err = McpClient::connect(
        ClientOptions::new(server.url("/mcp")).with_transport(TransportMode::Stateless),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("2025-11-25") && text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_fixed_era_that_the_server_does_not_speak_fails_clearly() {
    // The streamable endpoint is not a legacy SSE stream.
    let server = rmcp_server::start(session_setup()).await;
    let start = Instant::now();
    let err = McpClient::connect(
        ClientOptions::new(server.url("/mcp"))
            .with_transport(TransportMode::Sse)
            .with_request_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn list_changed_drops_the_tool_cache() {
    let server = rmcp_server::start(session_setup()).await;
    let client = connect(server.url("/mcp"), TransportMode::StreamableHttp).await;
    let before = client.list_tools().await.unwrap();
    client
        .call_tool("change", Map::new(), CallOptions::default())
        .await
        .unwrap();
    // The notification may come on the response stream or the GET stream.
    let mut refreshed = false;
    for _ in 0..50 {
        if !Arc::ptr_eq(&before, &client.list_tools().await.unwrap()) {
            refreshed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refreshed, "tools/list_changed must drop the cache");
}

#[test]
fn the_client_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<McpClient>();
    check::<EraCache>();
}

#[test]
fn transport_modes_parse_with_aliases() {
    for (text, mode) in [
        ("auto", TransportMode::Auto),
        ("sse", TransportMode::Sse),
        ("legacy-sse", TransportMode::Sse),
        ("streamable-http", TransportMode::StreamableHttp),
        ("http", TransportMode::StreamableHttp),
        ("streamable_http", TransportMode::StreamableHttp),
        ("streamableHttp", TransportMode::StreamableHttp),
        ("stateless", TransportMode::Stateless),
    ] {
        assert_eq!(text.parse::<TransportMode>().unwrap(), mode);
        let v: TransportMode = serde_json::from_value(json!(text)).unwrap();
        assert_eq!(v, mode);
    }
    assert_eq!(TransportMode::StreamableHttp.to_string(), "streamable-http");
    assert_eq!(
        serde_json::to_value(TransportMode::Sse).unwrap(),
        json!("sse")
    );
    assert!("carrier-pigeon".parse::<TransportMode>().is_err());
    assert_eq!(Era::LegacySse.to_string(), "legacy-sse");
}
