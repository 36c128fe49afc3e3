//! Legacy HTTP+SSE and stateless 2026-07-28 against the fault-injecting
//! `FakeMcpServer`, era detection by `Auto`, and output schemas checked on
//! every call.

use std::time::Duration;

use connector_core::{Content, ErrorKind};
use connector_mcp::{CallOptions, Era, EraCache, McpClient, TransportMode};
use connector_testkit::mcp_server::{
    FakeMcpOptions, FakeMcpServer, LegacyEndpointStyle, SESSION_VERSIONS, STATELESS_VERSION,
};
use serde_json::{Map, json};
use url::Url;

use crate::faults_streamable::{args, assert_clean, echo, eventually, options};

#[tokio::test]
async fn legacy_sse_with_both_endpoint_styles() {
    for (style, path) in [
        (LegacyEndpointStyle::TypeScript, "/message"),
        (LegacyEndpointStyle::Python, "/messages/"),
    ] {
        let server = FakeMcpServer::start(FakeMcpOptions {
            legacy_endpoint: style,
            keep_alive: Duration::from_millis(30),
            ..FakeMcpOptions::default()
        })
        .await;
        let client =
            McpClient::connect(options(&server.sse_url()).with_transport(TransportMode::Sse))
                .await
                .unwrap();
        let info = client.info();
        assert_eq!(info.era, Era::LegacySse);
        assert_eq!(info.protocol_version, "2025-11-25", "{style:?}");
        assert!(info.session_id.is_some(), "{style:?}");
        let tools = client.list_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == "echo"));
        // Keep-alive comments in between are ignored.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(echo(&client, "legacy").await.unwrap(), "legacy");
        let out = client
            .call_tool(
                "add",
                args(json!({ "a": 1, "b": 2 })),
                CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(out.output.structured, Some(json!({ "sum": 3 })));
        let posts: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        assert!(posts.iter().all(|r| r.path == path), "{style:?}");
        assert!(posts.iter().all(|r| r.status == Some(202)));
        assert_clean(&server);
    }
}

#[tokio::test]
async fn legacy_sse_list_changed_and_progress() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let client = McpClient::connect(options(&server.sse_url()).with_transport(TransportMode::Sse))
        .await
        .unwrap();
    client.list_tools().await.unwrap();
    server.add_tool(
        json!({ "name": "late", "inputSchema": { "type": "object" } }),
        json!({ "content": [{ "type": "text", "text": "late tool" }] }),
    );
    let mut found = false;
    for _ in 0..100 {
        if client
            .list_tools()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "late")
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(found);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client
        .call_tool(
            "slow",
            args(json!({ "ms": 100, "steps": 2 })),
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
    assert_eq!(n, 2);
    assert_clean(&server);
}

#[tokio::test]
async fn stateless_requests_carry_method_name_and_meta() {
    let server =
        FakeMcpServer::start(FakeMcpOptions::default().with_versions(&[STATELESS_VERSION])).await;
    let client =
        McpClient::connect(options(&server.url()).with_transport(TransportMode::Stateless))
            .await
            .unwrap();
    assert_eq!(client.info().era, Era::Stateless);
    assert_eq!(client.info().protocol_version, STATELESS_VERSION);
    assert!(client.info().session_id.is_none());
    // A tool whose name is not a plain header value.
    let odd = "grüße, welt";
    server.add_tool(
        json!({ "name": odd, "inputSchema": { "type": "object" } }),
        json!({ "content": [{ "type": "text", "text": "hallo" }] }),
    );
    assert!(
        client
            .list_tools()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == odd)
    );
    let out = client
        .call_tool(odd, Map::new(), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(out.output.content, vec![Content::text("hallo")]);
    assert_eq!(echo(&client, "plain").await.unwrap(), "plain");
    client
        .read_resource("test://static/resource/2")
        .await
        .unwrap();
    let requests = server.requests();
    for r in &requests {
        assert_eq!(
            r.header("mcp-protocol-version"),
            [STATELESS_VERSION],
            "{r:?}"
        );
        assert_eq!(r.header("mcp-method"), r.rpc_methods, "{r:?}");
        assert!(r.header("mcp-session-id").is_empty());
    }
    let names: Vec<Vec<&str>> = requests
        .iter()
        .filter(|r| r.rpc_methods == ["tools/call"] || r.rpc_methods == ["resources/read"])
        .map(|r| r.header("mcp-name"))
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names[0][0].starts_with("=?base64?"), "{names:?}");
    assert_eq!(names[1], ["echo"]);
    assert_eq!(names[2], ["test://static/resource/2"]);
    assert_eq!(server.initializes(), 0);
    assert_clean(&server);
}

#[tokio::test]
async fn stateless_cancellation_by_closing_the_stream() {
    let server = FakeMcpServer::start(
        FakeMcpOptions::default()
            .with_versions(&[STATELESS_VERSION])
            .sse(),
    )
    .await;
    let client =
        McpClient::connect(options(&server.url()).with_transport(TransportMode::Stateless))
            .await
            .unwrap();
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
    eventually("the call", || server.calls("tools/call") == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    call.abort();
    eventually("the cancellation", || server.cancellations().len() == 1).await;
    // No notifications/cancelled in 2026-07-28: closing the stream is it.
    assert_eq!(server.calls("notifications/cancelled"), 0);
    assert_eq!(echo(&client, "after").await.unwrap(), "after");
    assert_clean(&server);
}

#[tokio::test]
async fn auto_detects_each_kind_of_server() {
    let session_only: Vec<&str> = SESSION_VERSIONS[1..].to_vec();
    let cases: [(&[&str], bool, Era, &str); 4] = [
        (
            &[STATELESS_VERSION],
            false,
            Era::Stateless,
            STATELESS_VERSION,
        ),
        (&session_only, false, Era::StreamableHttp, "2025-11-25"),
        (&["2024-11-05"], true, Era::LegacySse, "2024-11-05"),
        (
            &[
                "2024-11-05",
                "2025-03-26",
                "2025-06-18",
                "2025-11-25",
                STATELESS_VERSION,
            ],
            false,
            Era::Stateless,
            STATELESS_VERSION,
        ),
    ];
    for (versions, legacy_url, era, version) in cases {
        let server = FakeMcpServer::start(FakeMcpOptions::default().with_versions(versions)).await;
        let url = if legacy_url {
            server.sse_url()
        } else {
            server.url()
        };
        let cache = EraCache::new();
        let client = McpClient::connect(options(&url).with_era_cache(cache.clone()))
            .await
            .unwrap();
        let info = client.info();
        assert_eq!(info.era, era, "{versions:?}");
        assert_eq!(info.protocol_version, version, "{versions:?}");
        assert_eq!(cache.get(&Url::parse(&url).unwrap()), Some(era));
        assert_eq!(echo(&client, "auto").await.unwrap(), "auto");
        // A second client goes straight to the remembered era.
        server.reset_observations();
        let again = McpClient::connect(options(&url).with_era_cache(cache.clone()))
            .await
            .unwrap();
        assert_eq!(again.info().era, era);
        let probes = server
            .requests()
            .iter()
            .filter(|r| r.status.is_some_and(|s| s >= 400))
            .count();
        assert_eq!(probes, 0, "{versions:?}: no failed probe the second time");
        assert_clean(&server);
    }
}

#[tokio::test]
async fn a_modern_only_server_refuses_initialize_and_a_session_client_says_so() {
    let server =
        FakeMcpServer::start(FakeMcpOptions::default().with_versions(&[STATELESS_VERSION])).await;
    let err =
        McpClient::connect(options(&server.url()).with_transport(TransportMode::StreamableHttp))
            .await
            .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("2026-07-28"), "{text}");
    assert_eq!(err.kind(), ErrorKind::Provider);
}

#[tokio::test]
async fn structured_content_is_checked_without_listing_first() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let schema = json!({
        "type": "object",
        "properties": { "n": { "type": "integer" } },
        "required": ["n"],
    });
    server.add_tool(
        json!({ "name": "bad_shape", "inputSchema": { "type": "object" }, "outputSchema": schema }),
        json!({ "content": [{ "type": "text", "text": "{\"n\":\"x\"}" }], "structuredContent": { "n": "x" } }),
    );
    server.add_tool(
        json!({ "name": "good_shape", "inputSchema": { "type": "object" }, "outputSchema": schema }),
        json!({ "content": [{ "type": "text", "text": "{\"n\":1}" }], "structuredContent": { "n": 1 } }),
    );
    for mode in [TransportMode::StreamableHttp, TransportMode::Stateless] {
        server.reset_observations();
        let client = McpClient::connect(options(&server.url()).with_transport(mode))
            .await
            .unwrap();
        // No list_tools first.
        let err = client
            .call_tool("bad_shape", Map::new(), CallOptions::default())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad_shape"), "{mode}: {text}");
        assert!(text.contains("output schema"), "{text}");
        assert!(err.model_message().contains("bad_shape"));
        let ok = client
            .call_tool("good_shape", Map::new(), CallOptions::default())
            .await
            .unwrap();
        assert_eq!(ok.output.structured, Some(json!({ "n": 1 })));
        // A built-in with an output schema too.
        let sum = client
            .call_tool(
                "add",
                args(json!({ "a": 1, "b": 1 })),
                CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(sum.output.structured, Some(json!({ "sum": 2 })));
        // Tools without structured content need no list.
        echo(&client, "plain").await.unwrap();
        assert_eq!(
            server.calls("tools/list"),
            1,
            "{mode}: listed once per session"
        );
        assert_clean(&server);
    }
}
