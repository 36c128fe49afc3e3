//! `McpConnector` against the fault-injecting fake MCP server: the tool
//! cache follows `notifications/tools/list_changed`, and a client
//! configured in `[mcp_servers.<id>] auth` is what MCP authorization uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::vault::{Keyring, MemoryStore, TokenStore, Vault};
use connector_core::{CallContext, Connector};
use connector_mcp::Interaction;
use connector_mcp::auth::McpAuth;
use connector_mcp::client::TransportMode;
use connector_mcp::config::{McpAuthConfig, McpOAuthSettings, McpServerConfig};
use connector_mcp::connector::McpConnector;
use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer, TokenCheck};
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use serde_json::json;

use crate::auth_support::{Browser, REDIRECT, allow_private, engine_options};

async fn names(connector: &McpConnector, cx: &CallContext) -> Vec<String> {
    let mut names: Vec<String> = connector
        .tools(cx)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    names
}

/// The connector's cache lifetime bounds how stale a list can be even when
/// no `tools/list_changed` comes: once it expires, the next listing asks
/// the server, not the session's own cache.
#[tokio::test]
async fn an_expired_tool_cache_asks_the_server_even_without_list_changed() {
    for transport in [
        TransportMode::Auto,
        TransportMode::StreamableHttp,
        TransportMode::Stateless,
    ] {
        let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
        let mut c = McpServerConfig::new(server.url());
        c.transport = transport;
        c.tool_cache_ttl_secs = Some(0);
        let connector = McpConnector::builder(c.resolve_with("fake", &|_| None).unwrap())
            .build()
            .unwrap();
        let cx = CallContext::new("alice");
        let before = names(&connector, &cx).await;
        let lists = server.calls("tools/list");
        server.add_tool(
            json!({ "name": "late", "description": "Added later.",
                    "inputSchema": { "type": "object" } }),
            json!({ "content": [{ "type": "text", "text": "late result" }] }),
        );
        let after = names(&connector, &cx).await;
        assert_eq!(after.len(), before.len() + 1, "{transport:?}: {after:?}");
        assert!(after.contains(&"late".to_owned()), "{transport:?}");
        assert_eq!(server.calls("tools/list"), lists + 1, "{transport:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_cache_drops_when_the_session_hears_list_changed() {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let mut c = McpServerConfig::new(server.url());
    // Sessions, and with them the standalone GET stream notifications come on.
    c.transport = TransportMode::StreamableHttp;
    // A long lifetime: only the notification can make the list stale.
    c.tool_cache_ttl_secs = Some(3600);
    let connector = McpConnector::builder(c.resolve_with("fake", &|_| None).unwrap())
        .build()
        .unwrap();
    let cx = CallContext::new("alice");
    let before = names(&connector, &cx).await;
    assert!(!before.contains(&"late".to_owned()));
    let lists = server.calls("tools/list");
    assert_eq!(names(&connector, &cx).await, before);
    assert_eq!(server.calls("tools/list"), lists, "cached");

    // Wait for the session's standalone stream, so the notification has
    // somewhere to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.status == Some(200))
    {
        assert!(Instant::now() < deadline, "no standalone stream opened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.add_tool(
        json!({ "name": "late", "description": "Added later.",
                "inputSchema": { "type": "object" } }),
        json!({ "content": [{ "type": "text", "text": "late result" }] }),
    );
    assert!(server.list_changed_sent() >= 1);
    // The notification arrives asynchronously; the next listing after it
    // asks the server again, well within the cache lifetime.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = names(&connector, &cx).await;
        if now.contains(&"late".to_owned()) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the connector kept the stale list: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(after.len(), before.len() + 1);
    assert!(server.calls("tools/list") > lists);
    // And cached again once fresh.
    let lists = server.calls("tools/list");
    assert_eq!(names(&connector, &cx).await, after);
    assert_eq!(server.calls("tools/list"), lists);
    let out = connector.call(&cx, "late", json!({})).await.unwrap();
    assert!(!out.is_error);

    // Removal too: the tool disappears from the model's list.
    server.remove_tool("late");
    let deadline = Instant::now() + Duration::from_secs(10);
    while names(&connector, &cx).await.contains(&"late".to_owned()) {
        assert!(Instant::now() < deadline, "removal not seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An MCP server protected by `auth_server` (tokens bound to the server).
async fn protected(auth_server: &FakeOAuthServer) -> FakeMcpServer {
    let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let (as_, resource) = (auth_server.clone(), server.url());
    server.require_bearer(Arc::new(move |token: &str| match as_.token_info(token) {
        Some(i) if i.active && i.resource.as_deref() == Some(resource.as_str()) => {
            TokenCheck::Valid
        }
        _ => TokenCheck::Invalid,
    }));
    server.set_resource_metadata(vec![auth_server.issuer()], vec!["read".to_owned()]);
    server
}

fn engine() -> connector_core::oauth::OAuthEngine {
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let (keyring, _) = Keyring::generate("t").unwrap();
    connector_core::oauth::OAuthEngine::builder(Vault::new(store, keyring))
        .options(engine_options())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_client_id_is_used_and_nothing_registers() {
    let auth_server = FakeOAuthServer::start().await;
    auth_server.require_resource(true);
    auth_server.register_client(ClientConfig::basic(
        "docs-app",
        "docs-secret-value",
        REDIRECT,
    ));
    let server = protected(&auth_server).await;
    let mut c = McpServerConfig::new(server.url());
    c.transport = TransportMode::StreamableHttp;
    c.allow_private_addresses = true;
    c.auth = McpAuthConfig::OAuth(McpOAuthSettings {
        client_id: Some("docs-app".into()),
        client_secret_env: Some("DOCS_SECRET".into()),
        issuer: Some(auth_server.issuer()),
        ..McpOAuthSettings::default()
    });
    let resolved = c
        .resolve_with("docs", &|v| {
            (v == "DOCS_SECRET").then(|| "docs-secret-value".to_owned())
        })
        .unwrap();
    let client = resolved.oauth_client().unwrap();
    let engine = engine();

    // An McpAuth that does not know the configured client is refused: the
    // client would otherwise be silently replaced by a registration.
    let bare = McpAuth::builder(engine.clone())
        .discovery(allow_private())
        .build()
        .unwrap();
    let e = McpConnector::builder(resolved.clone())
        .mcp_auth(bare, Interaction::Fail)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("auth.client_id"), "{e}");

    let auth = McpAuth::builder(engine)
        .discovery(allow_private())
        .server_client(resolved.url.as_str(), client)
        .build()
        .unwrap();
    let browser = Browser::new(&auth_server);
    let connector = McpConnector::builder(resolved)
        .mcp_auth(auth, Interaction::Interactive(browser.clone()))
        .build()
        .unwrap();
    let cx = CallContext::new("alice");
    assert!(names(&connector, &cx).await.contains(&"echo".to_owned()));
    assert_eq!(browser.count(), 1);
    let mcp = auth_server.mcp_counters();
    assert_eq!((mcp.registrations, mcp.registration_requests), (0, 0));
    let tokens: Vec<String> = auth_server
        .issued_secrets()
        .into_iter()
        .filter(|s| auth_server.token_info(s).is_some())
        .collect();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        auth_server.token_info(&tokens[0]).unwrap().client_id,
        "docs-app"
    );
}

#[test]
fn a_client_secret_needs_its_issuer() {
    let mut c = McpServerConfig::new("https://mcp.example/mcp");
    c.auth = McpAuthConfig::OAuth(McpOAuthSettings {
        client_id: Some("docs-app".into()),
        client_secret_env: Some("DOCS_SECRET".into()),
        ..McpOAuthSettings::default()
    });
    let e = c.validate("docs").unwrap_err().to_string();
    assert!(
        e.contains("[mcp_servers.docs] auth") && e.contains("issuer"),
        "{e}"
    );
    // A public client may follow whatever authorization server the server names.
    c.auth = McpAuthConfig::OAuth(McpOAuthSettings {
        client_id: Some("docs-app".into()),
        ..McpOAuthSettings::default()
    });
    let resolved = c.resolve_with("docs", &|_| None).unwrap();
    let client = resolved.oauth_client().unwrap();
    assert!(client.issuer.is_none() && client.client.client_secret.is_none());
}
