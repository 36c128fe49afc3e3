//! The MCP authorization flow end to end: registration (pre-registered,
//! CIMD, dynamic and cached), the resource parameter, token isolation,
//! refresh, step-up and the Fail interaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use connector_core::oauth::CallbackParams;
use connector_core::vault::TokenKey;
use connector_core::{ClientAuthMethod, ErrorKind, Secret};
use connector_mcp::auth::{PreRegisteredClient, RegistrationOptions};
use connector_mcp::{Credentials, Interaction};
use connector_testkit::oauth_server::ClientConfig;
use url::Url;

use crate::auth_support::*;

#[tokio::test]
async fn interactive_flow_with_dynamic_registration_and_resource_everywhere() {
    let env = Env::new(RsConfig {
        challenge_scope: Some("read".into()),
        ..RsConfig::default()
    })
    .await;
    let (creds, browser) = env.interactive("alice");
    // Nothing is known yet: no Authorization header.
    let url = Url::parse(&env.rs.url()).unwrap();
    assert!(creds.headers(&url).await.unwrap().is_empty());
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    assert_eq!(browser.count(), 1);
    let auth_url = browser.calls.lock().unwrap()[0].clone();
    let q: BTreeMap<String, String> = auth_url.query_pairs().into_owned().collect();
    assert_eq!(q["resource"], env.rs.resource());
    assert_eq!(q["scope"], "read");
    assert_eq!(q["code_challenge_method"], "S256");
    // The AS requires the resource in the token request too (require_resource).
    let c = env.auth_server.mcp_counters();
    assert_eq!((c.registrations, c.cimd_fetches), (1, 0));
    assert_eq!(env.auth_server.counters().code_exchanges, 1);
    let headers = creds.headers(&url).await.unwrap();
    let value = headers.get("authorization").unwrap();
    assert!(value.is_sensitive());
    let token = value.to_str().unwrap().strip_prefix("Bearer ").unwrap();
    let info = env.auth_server.token_info(token).unwrap();
    assert_eq!(info.resource.as_deref(), Some(env.rs.resource().as_str()));
    assert_eq!(info.scopes, vec!["read".to_owned()]);
    // The registered client is public (token_endpoint_auth_method none).
    let client = env.auth_server.client(&info.client_id).unwrap();
    assert!(client.client_secret.is_none());
    assert!(format!("{creds:?}").contains("alice"));
}

#[tokio::test]
async fn dynamic_registration_is_cached_per_issuer_across_users_and_processes() {
    let env = Env::new(RsConfig::default()).await;
    for user in ["alice", "bob"] {
        let (creds, _) = env.interactive(user);
        assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    }
    assert_eq!(env.auth_server.mcp_counters().registrations, 1);
    // A second process on the same store (another engine, vault and McpAuth).
    let other = app(&env.store, &env.keyring, RegistrationOptions::default());
    let browser = Browser::new(&env.auth_server);
    let creds = other
        .for_user("carol", &env.rs.url(), Interaction::Interactive(browser))
        .unwrap();
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    // And alice's token is found there without any flow.
    let alice = other
        .for_user("alice", &env.rs.url(), Interaction::Fail)
        .unwrap();
    assert_eq!(call(&alice, &env.rs.url()).await.unwrap(), StatusCode::OK);
    assert_eq!(env.auth_server.mcp_counters().registrations, 1);
    assert_eq!(env.auth_server.counters().authorize, 3);
}

#[tokio::test]
async fn concurrent_first_users_register_once() {
    let env = Env::new(RsConfig::default()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (creds, _) = env.interactive(&format!("user{i}"));
        let url = env.rs.url();
        tasks.push(tokio::spawn(
            async move { call(&creds, &url).await.unwrap() },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(env.auth_server.mcp_counters().registrations, 1);
}

#[tokio::test]
async fn pre_registered_client_is_used_first() {
    let auth_server = connector_testkit::oauth_server::FakeOAuthServer::start().await;
    let mut pre = BTreeMap::new();
    pre.insert(
        auth_server.issuer(),
        PreRegisteredClient {
            client_id: "pre-app".into(),
            client_secret: Some(Secret::new("pre-secret-value")),
            auth: ClientAuthMethod::ClientSecretBasic,
        },
    );
    drop(auth_server);
    // The issuer is only known once the server runs: build the env, then
    // swap in an McpAuth with the pre-registration.
    let env = Env::new(RsConfig::default()).await;
    env.auth_server
        .register_client(ClientConfig::basic("pre-app", "pre-secret-value", REDIRECT));
    let mut options = RegistrationOptions::default();
    options.pre_registered.insert(
        env.auth_server.issuer(),
        PreRegisteredClient {
            client_id: "pre-app".into(),
            client_secret: Some(Secret::new("pre-secret-value")),
            auth: ClientAuthMethod::ClientSecretBasic,
        },
    );
    let auth = app(&env.store, &env.keyring, options);
    let creds = auth
        .for_user(
            "alice",
            &env.rs.url(),
            Interaction::Interactive(Browser::new(&env.auth_server)),
        )
        .unwrap();
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    assert_eq!(env.auth_server.mcp_counters().registration_requests, 0);
    let token = env.rs.tokens_seen().pop().unwrap();
    assert_eq!(
        env.auth_server.token_info(&token).unwrap().client_id,
        "pre-app"
    );
}

async fn host_client_metadata() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/oauth/client.json",
        listener.local_addr().unwrap()
    );
    let doc = serde_json::json!({
        "client_id": url, "client_name": "connectors tests",
        "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"], "token_endpoint_auth_method": "none",
    });
    let app = axum::Router::new().route(
        "/oauth/client.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Url::parse(&url).unwrap()
}

#[tokio::test]
async fn client_id_metadata_document_when_the_server_supports_it() {
    let doc = host_client_metadata().await;
    let options = RegistrationOptions {
        client_metadata_url: Some(doc.clone()),
        ..RegistrationOptions::default()
    };
    let env = Env::with_registration(RsConfig::default(), options.clone()).await;
    env.auth_server.set_client_id_metadata_documents(true);
    let (creds, _) = env.interactive("alice");
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    let c = env.auth_server.mcp_counters();
    assert_eq!((c.cimd_fetches, c.registration_requests), (1, 0));
    let token = env.rs.tokens_seen().pop().unwrap();
    assert_eq!(
        env.auth_server.token_info(&token).unwrap().client_id,
        doc.as_str()
    );

    // Without the server's support: dynamic registration instead.
    let env = Env::with_registration(RsConfig::default(), options).await;
    let (creds, _) = env.interactive("alice");
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    let c = env.auth_server.mcp_counters();
    assert_eq!((c.cimd_fetches, c.registrations), (0, 1));
}

#[tokio::test]
async fn tokens_are_isolated_per_resource() {
    let env = Env::new(RsConfig::default()).await;
    // A second MCP server with the same authorization server.
    let other = FakeResource::start(&env.auth_server, RsConfig::default()).await;
    let (a, _) = env.interactive("alice");
    assert_eq!(call(&a, &env.rs.url()).await.unwrap(), StatusCode::OK);
    // A's credentials send nothing to B, nor to another path on A's origin.
    let b_url = Url::parse(&other.url()).unwrap();
    assert!(a.headers(&b_url).await.unwrap().is_empty());
    let elsewhere = Url::parse(&format!("{}/other", env.rs.base())).unwrap();
    assert!(a.headers(&elsewhere).await.unwrap().is_empty());
    // The same user at B needs B's own grant.
    let browser = Browser::new(&env.auth_server);
    let b = env
        .auth
        .for_user(
            "alice",
            &other.url(),
            Interaction::Interactive(browser.clone()),
        )
        .unwrap();
    assert!(b.headers(&b_url).await.unwrap().is_empty());
    assert_eq!(call(&b, &other.url()).await.unwrap(), StatusCode::OK);
    assert_eq!(browser.count(), 1);
    assert_ne!(a.provider_id(), b.provider_id());
    let seen_a = env.rs.tokens_seen();
    let seen_b = other.tokens_seen();
    assert!(!seen_a.is_empty() && !seen_b.is_empty());
    assert!(seen_a.iter().all(|t| !seen_b.contains(t)));
    for t in &seen_b {
        assert_eq!(
            env.auth_server.token_info(t).unwrap().resource,
            Some(other.resource())
        );
    }
    // Different vault keys too.
    let ka = TokenKey::new(&a.provider_id().unwrap(), "alice", None);
    let kb = TokenKey::new(&b.provider_id().unwrap(), "alice", None);
    let vault = env.auth.engine().vault();
    let (ra, rb) = (
        vault.load_token(&ka).await.unwrap().unwrap(),
        vault.load_token(&kb).await.unwrap().unwrap(),
    );
    assert_ne!(ra.access_token, rb.access_token);
}

#[tokio::test]
async fn twenty_concurrent_headers_near_expiry_refresh_once() {
    let env = Env::new(RsConfig::default()).await;
    // Tokens that expire within the engine's 60 s margin.
    env.auth_server
        .set_access_token_lifetime(Duration::from_secs(30));
    let (creds, _) = env.interactive("alice");
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    let before = env.auth_server.counters();
    env.auth_server
        .set_access_token_lifetime(Duration::from_secs(3600));
    let creds = Arc::new(creds);
    let url = Url::parse(&env.rs.url()).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (creds, url) = (Arc::clone(&creds), url.clone());
        tasks.push(tokio::spawn(async move {
            let h = creds.headers(&url).await.unwrap();
            h.get("authorization").unwrap().to_str().unwrap().to_owned()
        }));
    }
    let mut values = Vec::new();
    for t in tasks {
        values.push(t.await.unwrap());
    }
    values.dedup();
    assert_eq!(values.len(), 1, "every caller got the same refreshed token");
    let c = env.auth_server.counters();
    assert_eq!(c.refreshes - before.refreshes, 1);
    assert_eq!(
        c.refresh_successes - before.refresh_successes,
        1,
        "the refresh carried the resource"
    );
    assert_eq!(
        call(creds.as_ref(), &env.rs.url()).await.unwrap(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_then_retried() {
    let env = Env::new(RsConfig::default()).await;
    let (creds, browser) = env.interactive("alice");
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    // The server stops accepting it before its stated expiry.
    env.auth_server.expire_access_tokens();
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    assert_eq!(env.auth_server.counters().refresh_successes, 1);
    assert_eq!(browser.count(), 1, "no new authorization");
}

#[tokio::test]
async fn step_up_on_insufficient_scope_once() {
    let env = Env::new(RsConfig {
        challenge_scope: Some("read".into()),
        required_scopes: vec!["read".into()],
        ..RsConfig::default()
    })
    .await;
    let (creds, browser) = env.interactive("alice");
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    env.rs
        .configure(|c| c.required_scopes = vec!["read".into(), "write".into()]);
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);
    assert_eq!(browser.count(), 2);
    let q: BTreeMap<String, String> = browser.calls.lock().unwrap()[1]
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["scope"], "read write");

    // The user grants less than asked: one step-up, then give up (403),
    // and never again for the same scopes.
    env.auth_server
        .set_granted_scopes(Some(vec!["read".into(), "write".into()]));
    env.rs
        .configure(|c| c.required_scopes = vec!["read".into(), "write".into(), "admin".into()]);
    assert_eq!(
        call(&creds, &env.rs.url()).await.unwrap(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(browser.count(), 3);
    for _ in 0..3 {
        assert_eq!(
            call(&creds, &env.rs.url()).await.unwrap(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(browser.count(), 3, "no loop of step-ups");
}

#[tokio::test]
async fn fail_interaction_links_to_connect_and_leaks_nothing() {
    let options = RegistrationOptions {
        dynamic_auth: ClientAuthMethod::ClientSecretBasic,
        ..RegistrationOptions::default()
    };
    let env = Env::with_registration(
        RsConfig {
            challenge_scope: Some("read".into()),
            ..RsConfig::default()
        },
        options,
    )
    .await;
    let creds = env.failing("alice");
    let err = call(&creds, &env.rs.url()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization);
    assert!(err.needs_reauthorization());
    let message = err.model_message();
    let link = message
        .split_whitespace()
        .find(|w| w.starts_with(&env.auth_server.authorize_url()))
        .unwrap_or_else(|| panic!("no link in: {message}"));
    let link = Url::parse(link).unwrap();
    let q: BTreeMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(q["resource"], env.rs.resource());
    assert!(!err.to_string().contains("state="), "{err}");

    // The user follows the link; the application's callback completes it.
    let callback = env.auth_server.approve(link.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap());
    // Another user cannot complete alice's flow.
    let bob = env.failing("bob");
    let e = bob
        .complete(
            params.state.as_deref().unwrap(),
            params.code.as_deref().unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("another user"), "{e}");
    // The state was consumed: start again, and complete it from a fresh
    // "process" (another McpAuth on the same store) by the state alone.
    let err2 = call(&creds, &env.rs.url()).await.unwrap_err();
    let message2 = err2.model_message();
    let link2 = message2
        .split_whitespace()
        .find(|w| w.starts_with(&env.auth_server.authorize_url()))
        .unwrap();
    let callback = env.auth_server.approve(link2).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap());
    let gateway = app(&env.store, &env.keyring, RegistrationOptions::default());
    gateway
        .handle_callback(&params, Some("alice"))
        .await
        .unwrap();
    assert_eq!(call(&creds, &env.rs.url()).await.unwrap(), StatusCode::OK);

    // No token, code or client secret in any error text.
    assert!(
        env.auth_server
            .issued_secrets()
            .iter()
            .any(|s| s.starts_with("cs_")),
        "a confidential client was registered"
    );
    for e in [&err, &err2, &e] {
        assert_no_secret(&env.auth_server, &e.to_string());
        assert_no_secret(&env.auth_server, &format!("{e:?}"));
        assert_no_secret(&env.auth_server, &e.model_message());
    }
    assert_no_secret(&env.auth_server, &format!("{creds:?} {:?}", env.auth));
}

#[tokio::test]
async fn the_authorization_server_rejects_a_flow_without_the_resource() {
    // Sanity check of the fake: the same flow by hand, without `resource`,
    // is refused, so the passing flows above did send it.
    let env = Env::new(RsConfig::default()).await;
    let creds = env.failing("alice");
    let err = call(&creds, &env.rs.url()).await.unwrap_err();
    let message = err.model_message();
    let link = message
        .split_whitespace()
        .find(|w| w.starts_with(&env.auth_server.authorize_url()))
        .unwrap();
    let mut stripped = Url::parse(link).unwrap();
    let pairs: Vec<(String, String)> = stripped
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "resource")
        .collect();
    stripped.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = env.auth_server.approve(stripped.as_str()).await.unwrap();
    assert_eq!(
        callback
            .query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned())
            .as_deref(),
        Some("invalid_target")
    );
}
