//! `McpConnector` against the official SDK's streamable HTTP server: tools
//! per user, pooled sessions, typed errors, credentials per user.

use std::sync::Arc;
use std::time::Duration;

use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::vault::{TokenKey, TokenRecord, Vault, now_unix};
use connector_core::{CallContext, Connector, Content, ErrorKind, OAuth2Spec, Secret};
use connector_mcp::client::TransportMode;
use connector_mcp::config::{McpAuthConfig, McpServerConfig, ProviderAuthSettings};
use connector_mcp::connector::McpConnector;
use serde_json::json;

use crate::connector_rmcp::RmcpServer;

fn config(server: &RmcpServer) -> McpServerConfig {
    let mut c = McpServerConfig::new(server.url.clone());
    // Sessions, so initialize round trips can be counted.
    c.transport = TransportMode::StreamableHttp;
    c
}

fn build(c: &McpServerConfig) -> McpConnector {
    McpConnector::builder(c.resolve_with("testsrv", &|_| None).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tools_are_listed_per_user_and_cached() {
    let server = RmcpServer::start().await;
    let connector = build(&config(&server));
    assert_eq!(connector.metadata().backend.as_str(), "mcp");
    // Built without any I/O.
    assert!(server.seen().is_empty());
    let cx = CallContext::new("alice");
    let mut names: Vec<String> = connector
        .tools(&cx)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    assert_eq!(names, ["add", "echo", "fail", "slow"]);
    let lists = server.count("tools/list");
    for _ in 0..5 {
        connector.tools(&cx).await.unwrap();
    }
    assert_eq!(
        server.count("tools/list"),
        lists,
        "cached within the lifetime"
    );
    // Another user has their own session and list.
    connector.tools(&CallContext::new("bob")).await.unwrap();
    assert_eq!(server.initializes(), 2);
    assert!(server.count("tools/list") > lists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_for_one_user_initialize_once_and_three_users_three_times() {
    let server = RmcpServer::start().await;
    let connector = Arc::new(build(&config(&server)));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let connector = connector.clone();
        tasks.push(tokio::spawn(async move {
            connector
                .call(
                    &CallContext::new("alice"),
                    "echo",
                    json!({ "text": format!("n{i}") }),
                )
                .await
                .unwrap()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap();
        assert_eq!(out.content, vec![Content::text(format!("n{i}"))]);
    }
    assert_eq!(server.initializes(), 1);
    assert_eq!(server.count("tools/call"), 50);
    assert_eq!(connector.pool().stats().open, 1);

    let mut tasks = Vec::new();
    for i in 0..30 {
        let connector = connector.clone();
        let user = ["bob", "carol", "dave"][i % 3];
        tasks.push(tokio::spawn(async move {
            connector
                .call(&CallContext::new(user), "add", json!({ "a": i, "b": 1 }))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().structured.is_some());
    }
    assert_eq!(server.initializes(), 4);
    assert_eq!(connector.pool().stats().open, 4);
}

#[tokio::test]
async fn errors_are_typed() {
    let server = RmcpServer::start().await;
    let connector = build(&config(&server));
    let cx = CallContext::new("alice");
    let e = connector.call(&cx, "nope", json!({})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownTool, "{e}");
    let e = connector.call(&cx, "echo", json!([1])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArguments, "{e}");
    // A tool error is a result for the model, not an Err.
    let out = connector.call(&cx, "fail", json!(null)).await.unwrap();
    assert!(out.is_error);
    // A caller deadline that has passed.
    let late = CallContext::new("alice").with_timeout(Duration::ZERO);
    let e = connector.call(&late, "slow", json!({})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = McpServerConfig::new(format!("http://127.0.0.1:{port}/mcp"));
    c.transport = TransportMode::StreamableHttp;
    let connector = build(&c);
    let e = connector
        .tools(&CallContext::new("alice"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.provider(), Some("testsrv"));
}

#[tokio::test]
async fn a_server_that_wants_authorization_names_itself() {
    let server = RmcpServer::start_with(Some("right-token")).await;
    let connector = build(&config(&server));
    let e = connector
        .tools(&CallContext::new("alice"))
        .await
        .unwrap_err();
    assert!(e.needs_reauthorization(), "{e}");
    assert_eq!(e.provider(), Some("testsrv"));
    assert!(e.to_string().contains("`testsrv`"), "{e}");

    // With the bearer token from the environment it works.
    let mut c = config(&server);
    c.auth = McpAuthConfig::Bearer {
        token_env: "TOKEN".into(),
    };
    let connector = McpConnector::builder(
        c.resolve_with("testsrv", &|v| {
            (v == "TOKEN").then(|| "right-token".to_owned())
        })
        .unwrap(),
    )
    .build()
    .unwrap();
    assert_eq!(
        connector
            .tools(&CallContext::new("alice"))
            .await
            .unwrap()
            .len(),
        4
    );
}

async fn engine_with_token(user: &str, token: &str, cloud_id: &str) -> OAuthEngine {
    let vault = Vault::in_memory().unwrap();
    let mut extra = serde_json::Map::new();
    extra.insert("cloud_id".into(), cloud_id.into());
    let record = TokenRecord {
        access_token: Secret::new(token),
        refresh_token: None,
        token_type: "Bearer".into(),
        scopes: vec![],
        expires_at: Some(now_unix() + 3600),
        issuer: None,
        account_label: None,
        created_at: now_unix(),
        updated_at: now_unix(),
        extra,
    };
    vault
        .save_token(&TokenKey::new("idp", user, None), &record)
        .await
        .unwrap();
    let spec = OAuth2Spec::new("https://idp.example/authorize", "https://idp.example/token");
    OAuthEngine::builder(vault)
        .provider(OAuthProvider::new("idp", spec, None).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn provider_tokens_and_headers_come_from_the_users_token_record() {
    let server = RmcpServer::start_with(Some("alice-token")).await;
    let engine = engine_with_token("alice", "alice-token", "cloud-7").await;
    let mut c = config(&server);
    c.headers.insert("X-Static".into(), "s".into());
    c.auth = McpAuthConfig::Provider(ProviderAuthSettings {
        provider: "idp".into(),
        headers: [("X-Cloud-Id".to_owned(), "${extra.cloud_id}".to_owned())]
            .into_iter()
            .collect(),
    });
    let connector = McpConnector::builder(c.resolve_with("testsrv", &|_| None).unwrap())
        .oauth(engine)
        .build()
        .unwrap();
    let out = connector
        .call(&CallContext::new("alice"), "echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(out.content, vec![Content::text("hi")]);
    for s in server.seen() {
        assert_eq!(s.headers.get_all("x-cloud-id").iter().count(), 1);
        assert_eq!(s.headers["x-cloud-id"], "cloud-7");
        assert_eq!(s.headers["x-static"], "s");
    }
    // Bob never connected the provider: authorization required, for `idp`,
    // and the message names the server.
    let e = connector.tools(&CallContext::new("bob")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NeedsAuthorization, "{e}");
    assert_eq!(e.provider(), Some("idp"));
    assert!(e.to_string().contains("`testsrv`"), "{e}");
}

#[tokio::test]
async fn build_fails_clearly_without_what_auth_needs() {
    let mut c = McpServerConfig::new("https://mcp.example/mcp");
    c.auth = McpAuthConfig::Provider(ProviderAuthSettings {
        provider: "idp".into(),
        headers: Default::default(),
    });
    let e = McpConnector::builder(c.resolve_with("srv", &|_| None).unwrap())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("[mcp_servers.srv] auth"), "{e}");
    let engine = engine_with_token("alice", "t", "c").await;
    c.auth = McpAuthConfig::Provider(ProviderAuthSettings {
        provider: "other".into(),
        headers: Default::default(),
    });
    let e = McpConnector::builder(c.resolve_with("srv", &|_| None).unwrap())
        .oauth(engine)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("auth.provider"), "{e}");
}
