//! Streamable HTTP against the fault-injecting `FakeMcpServer`: expired
//! sessions, cut and resumed response streams, the `/mcp` to `/mcp/`
//! redirect, https to http refused, slow, malformed and oversized bodies,
//! server errors, response modes, pagination, list_changed, progress,
//! cancellation, protocol headers, DELETE and the optional GET stream.
//!
//! The machine running these may be loaded: success paths get generous
//! timeouts, and "fails fast" is asserted with wide margins.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::{Content, ErrorKind};
use connector_mcp::{CallOptions, ClientOptions, McpClient, StaticHeaders, TransportMode};
use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer, Malformed, ResponseMode};
use serde_json::{Map, Value, json};
use url::Url;

pub fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

pub fn options(url: &str) -> ClientOptions {
    ClientOptions::new(Url::parse(url).unwrap())
        .with_request_timeout(Duration::from_secs(30))
        .with_max_request_time(Duration::from_secs(60))
}

pub async fn connect(server: &FakeMcpServer) -> McpClient {
    McpClient::connect(options(&server.url()).with_transport(TransportMode::StreamableHttp))
        .await
        .unwrap()
}

pub async fn echo(client: &McpClient, text: &str) -> Result<String, connector_core::Error> {
    let out = client
        .call_tool(
            "echo",
            args(json!({ "text": text })),
            CallOptions::default(),
        )
        .await?;
    match out.output.content.as_slice() {
        [Content::Text { text }] => Ok(text.clone()),
        other => panic!("unexpected content {other:?}"),
    }
}

#[track_caller]
pub fn assert_clean(server: &FakeMcpServer) {
    let violations = server.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// Waits (bounded) until `f` holds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the standalone GET stream is open on the server.
async fn get_stream_open(server: &FakeMcpServer) {
    eventually("the standalone GET stream", || {
        server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.status == Some(200))
    })
    .await;
}

#[tokio::test]
async fn an_expired_session_404_reinitializes_once_and_resends_once() {
    for status in [404u16, 400] {
        let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
        let client = connect(&server).await;
        let first = client.info().session_id.unwrap();
        assert_eq!(echo(&client, "before").await.unwrap(), "before");
        server.expire_sessions(status);
        server.reset_observations();
        assert_eq!(echo(&client, "after").await.unwrap(), "after", "{status}");
        assert_eq!(server.initializes(), 1, "{status}");
        assert_eq!(server.calls("notifications/initialized"), 1, "{status}");
        // The call that found the session gone, then the one resent.
        assert_eq!(server.calls("tools/call"), 2, "{status}");
        let second = client.info().session_id.unwrap();
        assert_ne!(first, second);
        // And the new session keeps working without another initialize.
        client.ping().await.unwrap();
        assert_eq!(server.initializes(), 1);
        assert_clean(&server);
    }
}

#[tokio::test]
async fn concurrent_calls_on_an_expired_session_share_one_reinitialize() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = connect(&server).await;
    server.expire_sessions(404);
    server.reset_observations();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            echo(&client, &format!("c{i}")).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap().unwrap(), format!("c{i}"));
    }
    assert_eq!(server.initializes(), 1);
    assert!(server.calls("tools/call") <= 16);
    assert_clean(&server);
}

#[tokio::test]
async fn a_cut_response_stream_is_resumed_with_last_event_id() {
    let server = FakeMcpServer::start(FakeMcpOptions::default().sse()).await;
    let client = connect(&server).await;
    assert_eq!(client.info().protocol_version, "2025-11-25");
    server.reset_observations();
    server.cut_next_response_stream();
    assert_eq!(echo(&client, "resumed").await.unwrap(), "resumed");
    assert_eq!(server.calls("tools/call"), 1, "sent once");
    let resumes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && !r.header("last-event-id").is_empty())
        .collect();
    assert_eq!(resumes.len(), 1, "{resumes:#?}");
    assert_eq!(resumes[0].status, Some(200));

    // With progress events (ids on each), the cut comes after them.
    server.cut_next_response_stream();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let out = client
        .call_tool(
            "slow",
            args(json!({ "ms": 150, "steps": 3 })),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.output.content,
        vec![Content::text("done after 3 steps")]
    );
    let mut seen = 0;
    while rx.try_recv().is_ok() {
        seen += 1;
    }
    assert_eq!(seen, 3, "no progress lost or repeated across the resume");
    assert_eq!(server.calls("tools/call"), 2);
    assert_clean(&server);
}

#[tokio::test]
async fn a_307_to_the_trailing_slash_keeps_method_and_body_on_every_request() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    server.redirect_to_trailing_slash(true);
    let client = connect(&server).await;
    let tools = client.list_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"));
    assert_eq!(echo(&client, "slash").await.unwrap(), "slash");
    client.ping().await.unwrap();
    client.close().await.unwrap();
    let requests = server.requests();
    let endpoint = "/mcp";
    let redirected: Vec<_> = requests.iter().filter(|r| r.path == endpoint).collect();
    let served: Vec<_> = requests.iter().filter(|r| r.path == "/mcp/").collect();
    assert!(redirected.iter().all(|r| r.status == Some(307)));
    // Every request was redirected (a 307 is not remembered) and then
    // served with the same method and the same body.
    for method in ["POST", "DELETE"] {
        let a = redirected.iter().filter(|r| r.method == method).count();
        let b = served.iter().filter(|r| r.method == method).count();
        assert_eq!(a, b, "{method}");
        assert!(a >= 1, "{method}");
    }
    for rpc in [
        "initialize",
        "notifications/initialized",
        "tools/list",
        "tools/call",
        "ping",
    ] {
        let sent = |list: &[&connector_testkit::mcp_server::RecordedRequest]| {
            list.iter()
                .filter(|r| r.method == "POST" && r.rpc_methods == [rpc])
                .map(|r| r.body_len)
                .collect::<Vec<_>>()
        };
        let (a, b) = (sent(&redirected), sent(&served));
        assert_eq!(a.len(), 1, "{rpc}");
        assert_eq!(a, b, "{rpc}: the body was kept");
    }
    assert!(served.iter().all(|r| r.status.is_some_and(|s| s < 300)));
    assert_eq!(server.sessions_deleted(), 1);
    assert_clean(&server);
}

#[tokio::test]
async fn an_https_to_http_redirect_is_refused() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let front = FakeMcpServer::start_https_redirect_to(&server.url()).await;
    let cert = reqwest::Certificate::from_pem(front.certificate_pem().as_bytes()).unwrap();
    let http = connector_mcp::http::default_client_builder()
        .add_root_certificate(cert)
        .build()
        .unwrap();
    for mode in [TransportMode::StreamableHttp, TransportMode::Auto] {
        let start = Instant::now();
        let err = McpClient::connect(
            options(&front.url())
                .with_transport(mode)
                .with_http(http.clone()),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("https to plain http"), "{mode}: {text}");
        assert!(text.contains("127.0.0.1"), "{text}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    assert!(front.hits() >= 2);
    assert!(
        server.requests().is_empty(),
        "nothing reached the http server"
    );
}

#[tokio::test]
async fn slow_bodies_work_within_the_timeout() {
    for mode in [ResponseMode::Json, ResponseMode::Sse] {
        let server = FakeMcpServer::start(FakeMcpOptions {
            response_mode: mode,
            ..FakeMcpOptions::default()
        })
        .await;
        let client = connect(&server).await;
        server.slow_body(Duration::from_millis(10));
        assert_eq!(echo(&client, "slowly").await.unwrap(), "slowly", "{mode:?}");
        assert!(server.cancellations().is_empty());
        assert_clean(&server);
    }
}

#[tokio::test]
async fn a_slow_body_past_the_timeout_times_out_and_cancels() {
    for mode in [ResponseMode::Json, ResponseMode::Sse] {
        let server = FakeMcpServer::start(FakeMcpOptions {
            response_mode: mode,
            ..FakeMcpOptions::default()
        })
        .await;
        let client = connect(&server).await;
        // About 8 pieces of 16 bytes, 400 ms each: over 3 s.
        server.slow_body(Duration::from_millis(400));
        let start = Instant::now();
        let err = client
            .call_tool(
                "echo",
                args(json!({ "text": "late" })),
                CallOptions {
                    timeout: Some(Duration::from_millis(500)),
                    ..CallOptions::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{mode:?}: {err}");
        assert!(err.to_string().contains("tools/call"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(3), "{mode:?}");
        eventually("the cancellation", || server.cancellations().len() == 1).await;
        assert_eq!(server.calls("tools/call"), 1);
        // The session is still usable.
        assert_eq!(echo(&client, "next").await.unwrap(), "next");
        assert_clean(&server);
    }
}

const MALFORMED: [Malformed; 6] = [
    Malformed::InvalidJson,
    Malformed::WrongContentType,
    Malformed::TruncatedSseEvent,
    Malformed::WrongId,
    Malformed::NotJsonRpc,
    Malformed::EmptyBody,
];

#[tokio::test]
async fn every_malformed_response_fails_quickly_and_the_session_survives() {
    for mode in [ResponseMode::Json, ResponseMode::Sse] {
        let server = FakeMcpServer::start(FakeMcpOptions {
            response_mode: mode,
            ..FakeMcpOptions::default()
        })
        .await;
        let client = connect(&server).await;
        for kind in MALFORMED {
            server.malformed_next(kind);
            let start = Instant::now();
            let err = echo(&client, "broken").await.unwrap_err();
            let elapsed = start.elapsed();
            let text = err.to_string();
            assert!(
                elapsed < Duration::from_secs(5),
                "{mode:?} {kind:?}: {elapsed:?} ({text})"
            );
            assert!(text.contains("127.0.0.1"), "{kind:?}: {text}");
            assert!(
                matches!(err.kind(), ErrorKind::Provider | ErrorKind::Unavailable),
                "{kind:?}: {:?} {text}",
                err.kind()
            );
            assert_eq!(
                echo(&client, "fine").await.unwrap(),
                "fine",
                "{mode:?} {kind:?}: the session survives"
            );
        }
        assert_eq!(server.initializes(), 1, "{mode:?}");
        assert_clean(&server);
    }
}

#[tokio::test]
async fn each_malformed_kind_says_what_was_wrong() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = connect(&server).await;
    let expect = [
        (Malformed::InvalidJson, "not JSON"),
        (Malformed::WrongContentType, "text/html"),
        (Malformed::WrongId, "another request"),
        (Malformed::NotJsonRpc, "not JSON-RPC"),
        (Malformed::EmptyBody, "empty"),
    ];
    for (kind, needle) in expect {
        server.malformed_next(kind);
        let err = echo(&client, "x").await.unwrap_err();
        assert!(err.to_string().contains(needle), "{kind:?}: {err}");
    }
}

#[tokio::test]
async fn oversized_messages_are_bounded_and_fast() {
    for mode in [ResponseMode::Json, ResponseMode::Sse] {
        let server = FakeMcpServer::start(FakeMcpOptions {
            response_mode: mode,
            ..FakeMcpOptions::default()
        })
        .await;
        let client = McpClient::connect(
            options(&server.url())
                .with_transport(TransportMode::StreamableHttp)
                .with_max_message_size(1 << 20),
        )
        .await
        .unwrap();
        // 4 GiB: reading it all would take far longer than the bound below.
        server.oversized_next(4 << 30);
        let start = Instant::now();
        let err = echo(&client, "big").await.unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{mode:?}: {:?}",
            start.elapsed()
        );
        let text = err.to_string();
        assert!(text.contains("1048576"), "{mode:?}: {text}");
        assert_eq!(echo(&client, "small").await.unwrap(), "small");
        assert_clean(&server);
    }
}

#[tokio::test]
async fn a_failed_tools_call_is_never_sent_twice_but_a_list_is_retried() {
    for status in [500u16, 502, 503] {
        let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
        let client = connect(&server).await;
        server.reset_observations();
        server.fail_next(status, 1);
        let err = echo(&client, "once").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{status}: {err}");
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert_eq!(server.calls("tools/call"), 1, "{status}: never resent");

        // A list has no effect on the server: sending it again is safe.
        server.fail_next(status, 2);
        let tools = client.list_tools().await.unwrap();
        assert!(!tools.is_empty());
        assert_eq!(server.calls("tools/list"), 3, "{status}");
        assert_eq!(echo(&client, "later").await.unwrap(), "later");
        assert_clean(&server);
    }
}

#[tokio::test]
async fn initialize_is_retried_on_a_server_error() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    server.fail_next(503, 1);
    let client = connect(&server).await;
    assert_eq!(echo(&client, "up").await.unwrap(), "up");
    assert_eq!(server.calls("initialize"), 2);
    assert_eq!(server.initializes(), 1);
    assert_clean(&server);
}

#[tokio::test]
async fn a_server_that_went_away_fails_fast_and_clearly() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = connect(&server).await;
    let origin = server.base_url();
    drop(server);
    // The listener is gone once the server task notices the shutdown.
    let start = Instant::now();
    let mut last = None;
    for _ in 0..20 {
        match echo(&client, "anyone?").await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    let err = last.expect("the call failed");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string()
            .contains(origin.trim_start_matches("http://")),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn json_and_sse_response_modes_mix_freely() {
    for mode in [ResponseMode::Json, ResponseMode::Sse] {
        let server = FakeMcpServer::start(FakeMcpOptions {
            response_mode: mode,
            ..FakeMcpOptions::default()
        })
        .await;
        let client = connect(&server).await;
        assert_eq!(echo(&client, "a").await.unwrap(), "a");
        server.next_response_mode(ResponseMode::Json);
        assert_eq!(echo(&client, "b").await.unwrap(), "b");
        server.next_response_mode(ResponseMode::Sse);
        assert_eq!(echo(&client, "c").await.unwrap(), "c");
        let out = client
            .call_tool(
                "add",
                args(json!({ "a": 2, "b": 3 })),
                CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(out.output.structured, Some(json!({ "sum": 5 })));
        assert_clean(&server);
    }
}

#[tokio::test]
async fn tools_list_follows_cursors_across_pages() {
    let server = FakeMcpServer::start(FakeMcpOptions {
        tools_page_size: Some(3),
        ..FakeMcpOptions::default()
    })
    .await;
    let client = connect(&server).await;
    let tools = client.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "echo",
            "add",
            "slow",
            "fail",
            "image",
            "audio",
            "resource_link",
            "embedded_resource"
        ]
    );
    assert_eq!(server.calls("tools/list"), 3);
    // Cached: no new request.
    client.list_tools().await.unwrap();
    assert_eq!(server.calls("tools/list"), 3);
    assert_clean(&server);
}

#[tokio::test]
async fn list_changed_on_the_get_stream_drops_the_cache() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = connect(&server).await;
    get_stream_open(&server).await;
    let before = client.list_tools().await.unwrap();
    assert!(!before.iter().any(|t| t.name == "added"));
    server.add_tool(
        json!({ "name": "added", "description": "new", "inputSchema": { "type": "object" } }),
        json!({ "content": [{ "type": "text", "text": "from the added tool" }] }),
    );
    assert_eq!(server.list_changed_sent(), 1);
    let mut found = false;
    for _ in 0..200 {
        if client
            .list_tools()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "added")
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(found, "the new tool was listed");
    assert_eq!(server.calls("tools/list"), 2, "one list before, one after");
    let out = client
        .call_tool("added", Map::new(), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(
        out.output.content,
        vec![Content::text("from the added tool")]
    );
    assert_clean(&server);
}

#[tokio::test]
async fn progress_is_delivered_and_a_dropped_call_is_cancelled() {
    let server = FakeMcpServer::start(FakeMcpOptions::default().sse()).await;
    let client = connect(&server).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let out = client
        .call_tool(
            "slow",
            args(json!({ "ms": 300, "steps": 3 })),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.output.content,
        vec![Content::text("done after 3 steps")]
    );
    let mut steps = Vec::new();
    while let Ok(p) = rx.try_recv() {
        steps.push((p.progress, p.total));
    }
    assert_eq!(
        steps,
        [(1.0, Some(3.0)), (2.0, Some(3.0)), (3.0, Some(3.0))]
    );

    // Progress extends the idle timeout, but not past the absolute cap.
    let capped = McpClient::connect(
        options(&server.url())
            .with_transport(TransportMode::StreamableHttp)
            .with_request_timeout(Duration::from_millis(400))
            .with_max_request_time(Duration::from_millis(1200)),
    )
    .await
    .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let out = capped
        .call_tool(
            "slow",
            args(json!({ "ms": 900, "steps": 9 })),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await;
    // Steps of 100 ms keep it alive past 400 ms.
    assert!(out.is_ok(), "{out:?}");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let err = capped
        .call_tool(
            "slow",
            args(json!({ "ms": 6000, "steps": 60 })),
            CallOptions {
                progress: Some(tx),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(start.elapsed() < Duration::from_secs(4), "the cap held");

    server.reset_observations();
    let call = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call_tool(
                    "slow",
                    args(json!({ "ms": 10000, "steps": 100 })),
                    CallOptions::default(),
                )
                .await
        })
    };
    eventually("the slow call to arrive", || {
        server.calls("tools/call") == 1
    })
    .await;
    call.abort();
    eventually("the cancellation", || server.cancellations().len() == 1).await;
    eventually("the run to stop", || server.cancelled_runs() == 1).await;
    assert!(server.cancellations()[0].is_i64());
    assert_eq!(echo(&client, "after").await.unwrap(), "after");
    assert_clean(&server);
}

#[tokio::test]
async fn protocol_headers_on_every_request_and_delete_on_close() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = connect(&server).await;
    let info = client.info();
    let session = info.session_id.clone().unwrap();
    get_stream_open(&server).await;
    client.list_tools().await.unwrap();
    echo(&client, "h").await.unwrap();
    client.list_resources().await.unwrap();
    client
        .read_resource("test://static/resource/1")
        .await
        .unwrap();
    client.ping().await.unwrap();
    client.close().await.unwrap();
    assert_eq!(server.sessions_deleted(), 1);
    assert_eq!(server.live_sessions(), 0);
    let requests = server.requests();
    assert!(requests.iter().any(|r| r.method == "DELETE"));
    for r in &requests {
        let what = format!("{} {:?}", r.method, r.rpc_methods);
        assert_eq!(r.header("accept").len(), 1, "{what}");
        if r.rpc_methods == ["initialize"] {
            assert!(r.header("mcp-session-id").is_empty(), "{what}");
            continue;
        }
        assert_eq!(r.header("mcp-session-id"), [session.as_str()], "{what}");
        assert_eq!(
            r.header("mcp-protocol-version"),
            [info.protocol_version.as_str()],
            "{what}"
        );
        if r.method == "POST" {
            assert_eq!(r.header("content-type"), ["application/json"], "{what}");
        }
    }
    assert_clean(&server);
}

#[tokio::test]
async fn without_get_stream_or_delete_nothing_blocks() {
    let server = FakeMcpServer::start(FakeMcpOptions {
        get_stream: false,
        delete_session: false,
        ..FakeMcpOptions::default()
    })
    .await;
    let start = Instant::now();
    let client = connect(&server).await;
    assert_eq!(echo(&client, "no get").await.unwrap(), "no get");
    assert!(start.elapsed() < Duration::from_secs(5));
    // Give a reconnecting GET loop time to show itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(gets, 1, "a 405 GET stream is not retried");
    client.close().await.unwrap();
    assert_eq!(server.sessions_deleted(), 0);
    assert_clean(&server);
}

#[tokio::test]
async fn older_negotiated_versions_are_used_in_headers() {
    for versions in [
        &["2025-06-18"][..],
        &["2025-03-26"][..],
        &["2025-03-26", "2025-06-18"][..],
    ] {
        let server = FakeMcpServer::start(FakeMcpOptions::default().with_versions(versions)).await;
        let client = McpClient::connect(options(&server.url())).await.unwrap();
        let info = client.info();
        assert_eq!(
            info.protocol_version,
            *versions.last().unwrap(),
            "{versions:?}"
        );
        assert_eq!(info.era, connector_mcp::Era::StreamableHttp);
        assert_eq!(echo(&client, "v").await.unwrap(), "v");
        assert_clean(&server);
    }
}

#[tokio::test]
async fn a_credentials_header_given_twice_goes_out_once() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let credentials = StaticHeaders::from_pairs([
        ("Authorization", "Bearer first"),
        ("authorization", "Bearer second"),
        ("X-Api-Key", "one"),
        ("x-API-key", "two"),
    ])
    .unwrap();
    let client = McpClient::connect(
        options(&server.url())
            .with_transport(TransportMode::StreamableHttp)
            .with_credentials(Arc::new(credentials)),
    )
    .await
    .unwrap();
    get_stream_open(&server).await;
    echo(&client, "once").await.unwrap();
    client.close().await.unwrap();
    let requests = server.requests();
    assert!(requests.len() >= 5);
    for r in &requests {
        assert_eq!(r.header("authorization"), ["Bearer [redacted]"], "{r:?}");
        assert_eq!(r.header("x-api-key"), ["two"], "{r:?}");
    }
    assert_clean(&server);
}
