//! MCP authorization end to end, through `McpClient`: the fault-injecting
//! MCP server requires bearer tokens, judged by the strict fake
//! authorization server's `token_info` (active, bound to this MCP server's
//! resource, with scopes), and points at that server in its RFC 9728
//! metadata. The authorization server requires PKCE S256, registers
//! clients dynamically and requires the `resource` parameter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::ErrorKind;
use connector_core::vault::{Keyring, MemoryStore};
use connector_mcp::auth::{McpAuth, RegistrationOptions};
use connector_mcp::{CallOptions, ClientOptions, Credentials, Interaction, McpClient, McpOAuth};
use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer, TokenCheck};
use connector_testkit::oauth_server::FakeOAuthServer;
use serde_json::json;
use url::Url;

use crate::auth_support::{Browser, app, assert_no_secret};
use crate::faults_streamable::{args, assert_clean, echo};

struct Env {
    auth_server: FakeOAuthServer,
    mcp: FakeMcpServer,
    store: Arc<MemoryStore>,
    keyring: Keyring,
    auth: McpAuth,
}

impl Env {
    async fn new() -> Env {
        let auth_server = FakeOAuthServer::start().await;
        auth_server.require_resource(true);
        let mcp = FakeMcpServer::start(FakeMcpOptions::default()).await;
        let resource = mcp.url();
        let judge = auth_server.clone();
        mcp.require_bearer(Arc::new(move |token: &str| match judge.token_info(token) {
            Some(info) if info.active && info.resource.as_deref() == Some(resource.as_str()) => {
                TokenCheck::ValidScopes(info.scopes)
            }
            _ => TokenCheck::Invalid,
        }));
        mcp.set_resource_metadata(vec![auth_server.issuer()], vec!["read".into()]);
        let store = Arc::new(MemoryStore::new());
        let (keyring, _) = Keyring::generate("t").unwrap();
        let auth = app(&store, &keyring, RegistrationOptions::default());
        Env {
            auth_server,
            mcp,
            store,
            keyring,
            auth,
        }
    }

    fn interactive(&self, user: &str) -> (Arc<McpOAuth>, Arc<Browser>) {
        let browser = Browser::new(&self.auth_server);
        let creds = self
            .auth
            .for_user(
                user,
                &self.mcp.url(),
                Interaction::Interactive(browser.clone()),
            )
            .unwrap();
        (Arc::new(creds), browser)
    }

    async fn client(
        &self,
        creds: impl Into<Arc<McpOAuth>>,
    ) -> Result<McpClient, connector_core::Error> {
        McpClient::connect(
            ClientOptions::new(Url::parse(&self.mcp.url()).unwrap())
                .with_credentials(creds.into())
                .with_request_timeout(Duration::from_secs(30)),
        )
        .await
    }

    /// The bearer token `creds` sends now.
    async fn token(&self, creds: &McpOAuth) -> String {
        let url = Url::parse(&self.mcp.url()).unwrap();
        let headers = creds.headers(&url).await.unwrap();
        let value = headers.get("authorization").unwrap().to_str().unwrap();
        value.strip_prefix("Bearer ").unwrap().to_owned()
    }
}

#[tokio::test]
async fn the_first_call_authorizes_with_registration_pkce_and_resource() {
    let env = Env::new().await;
    let (creds, browser) = env.interactive("alice");
    let client = env.client(creds.clone()).await.unwrap();
    assert_eq!(echo(&client, "authorized").await.unwrap(), "authorized");
    assert_eq!(browser.count(), 1);
    let auth_url = browser.calls.lock().unwrap()[0].clone();
    assert!(
        auth_url
            .as_str()
            .starts_with(&env.auth_server.authorize_url())
    );
    let q: BTreeMap<String, String> = auth_url.query_pairs().into_owned().collect();
    assert_eq!(q["resource"], env.mcp.url());
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "read");
    assert_eq!(env.auth_server.mcp_counters().registrations, 1);
    // require_resource: the code exchange was accepted, so it carried it.
    let c = env.auth_server.counters();
    assert_eq!(c.code_exchanges, 1);
    let info = env
        .auth_server
        .token_info(&env.token(&creds).await)
        .unwrap();
    assert!(info.active);
    assert_eq!(info.resource.as_deref(), Some(env.mcp.url().as_str()));
    assert_eq!(info.scopes, ["read"]);
    // The challenge named the metadata: the well-known fallback was not needed.
    let metadata: Vec<String> = env
        .mcp
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/.well-known/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(metadata, ["/.well-known/oauth-protected-resource/mcp"]);
    assert_clean(&env.mcp);
}

#[tokio::test]
async fn another_client_for_the_same_user_reuses_the_token() {
    let env = Env::new().await;
    let (creds, _) = env.interactive("alice");
    let client = env.client(creds).await.unwrap();
    echo(&client, "one").await.unwrap();
    let before = env.auth_server.counters();
    // Same application, a new session, no way to ask the user.
    let again = env
        .auth
        .for_user("alice", &env.mcp.url(), Interaction::Fail)
        .unwrap();
    let client2 = env.client(again).await.unwrap();
    assert_eq!(echo(&client2, "two").await.unwrap(), "two");
    // Another "process" on the same store.
    let other = app(&env.store, &env.keyring, RegistrationOptions::default());
    let third = other
        .for_user("alice", &env.mcp.url(), Interaction::Fail)
        .unwrap();
    let client3 = env.client(third).await.unwrap();
    assert_eq!(echo(&client3, "three").await.unwrap(), "three");
    let after = env.auth_server.counters();
    assert_eq!(after.authorize, before.authorize, "no new authorization");
    assert_eq!(after.code_exchanges, before.code_exchanges);
    assert_eq!(env.auth_server.mcp_counters().registrations, 1);
    assert_clean(&env.mcp);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_works() {
    let env = Env::new().await;
    let (creds, browser) = env.interactive("alice");
    let client = env.client(creds.clone()).await.unwrap();
    echo(&client, "first").await.unwrap();
    let old = env.token(&creds).await;
    env.auth_server.expire_access_tokens();
    env.mcp.reset_observations();
    assert_eq!(echo(&client, "refreshed").await.unwrap(), "refreshed");
    let c = env.auth_server.counters();
    assert_eq!(c.refreshes, 1);
    assert_eq!(c.refresh_successes, 1, "the refresh carried the resource");
    assert_eq!(browser.count(), 1, "no new authorization");
    let new = env.token(&creds).await;
    assert_ne!(old, new);
    assert_eq!(
        env.auth_server
            .token_info(&new)
            .unwrap()
            .resource
            .as_deref(),
        Some(env.mcp.url().as_str())
    );
    // Refused with 401 before running, then run once.
    let calls: Vec<_> = env
        .mcp
        .requests()
        .into_iter()
        .filter(|r| r.rpc_methods == ["tools/call"])
        .map(|r| r.status)
        .collect();
    assert_eq!(calls, [Some(401), Some(200)]);
    assert_clean(&env.mcp);
}

#[tokio::test]
async fn insufficient_scope_steps_up_once_never_loops() {
    let env = Env::new().await;
    let (creds, browser) = env.interactive("alice");
    let client = env.client(creds.clone()).await.unwrap();
    echo(&client, "read only").await.unwrap();
    env.mcp.require_scope_for_tool("add", "write");
    let out = client
        .call_tool(
            "add",
            args(json!({ "a": 2, "b": 2 })),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.output.structured, Some(json!({ "sum": 4 })));
    assert_eq!(browser.count(), 2, "one step-up");
    let q: BTreeMap<String, String> = browser.calls.lock().unwrap()[1]
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["scope"], "read write");
    assert_eq!(q["resource"], env.mcp.url());
    let mut scopes = env
        .auth_server
        .token_info(&env.token(&creds).await)
        .unwrap()
        .scopes;
    scopes.sort();
    assert_eq!(scopes, ["read", "write"]);

    // The user grants less than asked: one step-up, then a clear error,
    // and no loop on later calls.
    env.auth_server
        .set_granted_scopes(Some(vec!["read".into(), "write".into()]));
    env.mcp.require_scope_for_tool("add", "admin");
    for attempt in 0..3 {
        let start = Instant::now();
        let err = client
            .call_tool(
                "add",
                args(json!({ "a": 1, "b": 1 })),
                CallOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientScope, "{attempt}: {err}");
        assert!(err.to_string().contains("admin"), "{err}");
        assert_no_secret(&env.auth_server, &err.to_string());
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    assert_eq!(browser.count(), 3, "exactly one more step-up");
    // Other tools still work with the token.
    assert_eq!(echo(&client, "still").await.unwrap(), "still");
    assert_clean(&env.mcp);
}

#[tokio::test]
async fn without_resource_metadata_in_the_challenge_the_well_known_url_is_used() {
    let env = Env::new().await;
    env.mcp.omit_resource_metadata_in_challenge(true);
    let (creds, browser) = env.interactive("alice");
    let client = env.client(creds).await.unwrap();
    assert_eq!(echo(&client, "found").await.unwrap(), "found");
    assert_eq!(browser.count(), 1);
    let metadata: Vec<String> = env
        .mcp
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/.well-known/") && r.status == Some(200))
        .map(|r| r.path)
        .collect();
    assert_eq!(metadata, ["/.well-known/oauth-protected-resource/mcp"]);
    assert_clean(&env.mcp);
}

#[tokio::test]
async fn interaction_fail_gives_a_link_and_leaks_nothing() {
    let env = Env::new().await;
    // Issue some secrets first (alice), so the leak check has teeth.
    let (alice, _) = env.interactive("alice");
    echo(&env.client(alice).await.unwrap(), "a").await.unwrap();
    let bob = env
        .auth
        .for_user("bob", &env.mcp.url(), Interaction::Fail)
        .unwrap();
    let err = env.client(bob).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization, "{err}");
    assert!(err.needs_reauthorization());
    let message = err.model_message();
    let link = message
        .split_whitespace()
        .find(|w| w.starts_with(&env.auth_server.authorize_url()))
        .unwrap_or_else(|| panic!("no link in: {message}"));
    let link = Url::parse(link).unwrap();
    let q: BTreeMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(q["resource"], env.mcp.url());
    assert_eq!(q["code_challenge_method"], "S256");
    let display = err.to_string();
    assert!(!display.contains("state="), "{display}");
    assert!(!display.contains("code_challenge"), "{display}");
    for text in [display, format!("{err:?}"), message] {
        assert_no_secret(&env.auth_server, &text);
    }
    // And bob's 401 did not make Auto try other transports with a flow each.
    assert_eq!(env.auth_server.counters().authorize, 1);
    assert_clean(&env.mcp);
}
