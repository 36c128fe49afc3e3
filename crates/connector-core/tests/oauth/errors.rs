//! States that must be refused, denied consent, revoked grants, a failing
//! token endpoint.

use std::time::Duration;

use connector_core::ErrorKind;
use connector_core::oauth::CallbackParams;
use connector_core::vault::{TokenKey, Vault};

use super::*;

async fn setup() -> (FakeOAuthServer, OAuthEngine, Vault) {
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    let vault = Vault::in_memory().unwrap();
    let engine = engine(vault.clone(), &fake, fast_options());
    (fake, engine, vault)
}

#[tokio::test]
async fn replayed_state_is_refused() {
    let (fake, engine, _) = setup().await;
    let req = engine.begin("alice", PROVIDER, &[], None).await.unwrap();
    let cb = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(cb.query().unwrap());
    engine
        .handle_callback(&params, Some("alice"))
        .await
        .unwrap();
    let err = engine
        .handle_callback(&params, Some("alice"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth);
    assert!(err.to_string().contains("already used"), "{err}");
    assert_eq!(
        fake.counters().code_exchanges,
        1,
        "a replay never reaches the token endpoint"
    );
}

#[tokio::test]
async fn unknown_state_is_refused() {
    let (_, engine, _) = setup().await;
    let err = engine
        .complete("forged-state-value", "some-code")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth);
    assert!(err.to_string().contains("unknown"), "{err}");
    let err = engine.complete("", "some-code").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth);
}

#[tokio::test]
async fn foreign_state_is_refused() {
    let (fake, engine, vault) = setup().await;
    let req = engine.begin("alice", PROVIDER, &[], None).await.unwrap();
    let cb = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(cb.query().unwrap());
    let err = engine
        .handle_callback(&params, Some("mallory"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth);
    assert!(err.to_string().contains("another user"), "{err}");
    assert!(vault.list_tokens("mallory").await.unwrap().is_empty());
    assert!(vault.list_tokens("alice").await.unwrap().is_empty());
    assert_eq!(fake.counters().code_exchanges, 0);
}

#[tokio::test]
async fn expired_state_is_refused() {
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    let options = EngineOptions {
        state_ttl: Duration::from_secs(1),
        ..fast_options()
    };
    let engine = engine(Vault::in_memory().unwrap(), &fake, options);
    let req = engine.begin("alice", PROVIDER, &[], None).await.unwrap();
    let cb = fake.approve(req.url.as_str()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = engine
        .handle_callback(
            &CallbackParams::from_query(cb.query().unwrap()),
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth);
    assert!(err.to_string().contains("expired"), "{err}");
}

#[tokio::test]
async fn access_denied_is_a_clear_error_and_consumes_the_state() {
    let (fake, engine, _) = setup().await;
    fake.deny_next_authorization();
    let req = engine.begin("alice", PROVIDER, &[], None).await.unwrap();
    let cb = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(cb.query().unwrap());
    assert_eq!(params.error.as_deref(), Some("access_denied"));
    let err = engine
        .handle_callback(&params, Some("alice"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth);
    assert!(err.to_string().contains("denied"), "{err}");
    assert_eq!(err.provider(), Some(PROVIDER));
    // The state is gone: a later forged success with it is refused.
    let err = engine.complete(&req.state, "code").await.unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
}

#[tokio::test]
async fn invalid_grant_deletes_tokens_and_asks_for_reauthorization() {
    let (fake, engine, vault) = setup().await;
    connect(&engine, &fake, "alice").await;
    let key = TokenKey::new(PROVIDER, "alice", None);
    let stale = vault.load_token(&key).await.unwrap().unwrap();
    // Rotate once, then put the stale grant back, as a worker with an old
    // copy would: presenting the rotated-away refresh token is reuse, and
    // the server revokes the whole family.
    engine.refresh("alice", PROVIDER, None).await.unwrap();
    vault.save_token(&key, &stale).await.unwrap();
    let err = engine.refresh("alice", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization, "{err}");
    assert!(err.needs_reauthorization());
    assert!(
        vault.load_token(&key).await.unwrap().is_none(),
        "tokens are gone"
    );
    let status = engine.status("alice").await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(status[0].needs_reauthorization);
    let err = engine.access("alice", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization);
    // Connecting again clears it.
    connect(&engine, &fake, "alice").await;
    assert!(engine.access("alice", PROVIDER, None).await.is_ok());
    assert!(!engine.status("alice").await.unwrap()[0].needs_reauthorization);
}

#[tokio::test]
async fn token_endpoint_5xx_is_retried_with_backoff() {
    let (fake, engine, _) = setup().await;
    connect(&engine, &fake, "alice").await;
    let before = fake.counters().token_requests;
    fake.fail_next_token_requests(2, 503);
    engine.refresh("alice", PROVIDER, None).await.unwrap();
    assert_eq!(fake.counters().token_requests - before, 3);
}

#[tokio::test]
async fn token_endpoint_down_is_reported_and_keeps_the_grant() {
    let (fake, engine, vault) = setup().await;
    connect(&engine, &fake, "alice").await;
    fake.fail_next_token_requests(10, 502);
    let err = engine.refresh("alice", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("3 attempts"), "{err}");
    let key = TokenKey::new(PROVIDER, "alice", None);
    assert!(
        vault.load_token(&key).await.unwrap().is_some(),
        "a 5xx never deletes the grant"
    );
}

#[tokio::test]
async fn unknown_provider_and_missing_grant_are_typed() {
    let (_, engine, _) = setup().await;
    let err = engine.access("alice", "nope", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownProvider);
    let err = engine.access("alice", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization);
    assert_eq!(err.provider(), Some(PROVIDER));
}
