//! The whole cycle: authorize, callback, access, refresh, disconnect.

use std::time::Duration;

use connector_core::oauth::OAuthEngine;
use connector_core::vault::{TokenKey, Vault};
use connector_core::{ClientAuthMethod, ErrorKind};

use super::*;

pub async fn whole_cycle(vault: Vault) {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    let engine = engine(vault.clone(), &fake, fast_options());
    // Short-lived first token, so the first access must refresh.
    fake.set_access_token_lifetime(Duration::from_secs(30));
    let conn = connect(&engine, &fake, "alice").await;
    assert_eq!(conn.scopes, vec!["profile".to_owned(), "email".to_owned()]);
    assert!(conn.has_refresh_token);
    assert_eq!(fake.counters().code_exchanges, 1);

    let key = TokenKey::new(PROVIDER, "alice", None);
    let first = vault.load_token(&key).await.unwrap().unwrap();
    let first_rt = first.refresh_token.clone().unwrap();

    fake.set_access_token_lifetime(Duration::from_secs(3600));
    let fresh = engine.access("alice", PROVIDER, None).await.unwrap();
    assert_ne!(
        fresh.access_token, first.access_token,
        "due token must be refreshed"
    );
    assert_eq!(fake.counters().refresh_successes, 1);
    // The rotated refresh token is what is stored; the old one is dead.
    let stored = vault.load_token(&key).await.unwrap().unwrap();
    assert_eq!(stored.access_token, fresh.access_token);
    assert_ne!(stored.refresh_token.as_ref(), Some(&first_rt));
    assert!(!fake.is_active(first_rt.expose()));

    // A fresh token is served from the store.
    let again = engine.access("alice", PROVIDER, None).await.unwrap();
    assert_eq!(again.access_token, fresh.access_token);
    assert_eq!(fake.counters().refresh_successes, 1);

    let info = engine.userinfo("alice", PROVIDER, None).await.unwrap();
    assert_eq!(info["sub"], "user-1");

    let status = engine.status("alice").await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(!status[0].needs_reauthorization);

    let out = engine.disconnect("alice", PROVIDER, None).await.unwrap();
    assert!(out.revoked && out.deleted, "{out:?}");
    assert_eq!(fake.counters().revocations, 1);
    assert!(
        !fake.is_active(fresh.access_token.expose()),
        "revoking the refresh token revokes the grant"
    );
    assert!(vault.load_token(&key).await.unwrap().is_none());
    let err = engine.access("alice", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization);
    assert!(engine.status("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn whole_cycle_memory_store() {
    whole_cycle(Vault::in_memory().unwrap()).await;
}

#[tokio::test]
async fn client_secret_post_is_used_when_the_provider_requires_it() {
    let fake = fake_server(ClientAuthMethod::ClientSecretPost).await;
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .provider(provider_for(&fake, ClientAuthMethod::ClientSecretPost))
        .options(fast_options())
        .build()
        .unwrap();
    connect(&engine, &fake, "bob").await;
    assert_eq!(
        engine.refresh("bob", PROVIDER, None).await.map(|_| ()).ok(),
        Some(())
    );
    // The same client with basic auth is refused by the strict server.
    let wrong = OAuthEngine::builder(Vault::in_memory().unwrap())
        .provider(provider_for(&fake, ClientAuthMethod::ClientSecretBasic))
        .options(fast_options())
        .build()
        .unwrap();
    let req = wrong.begin("bob", PROVIDER, &[], None).await.unwrap();
    let cb = fake.approve(req.url.as_str()).await.unwrap();
    let err = wrong
        .handle_callback(&CallbackParams::from_query(cb.query().unwrap()), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[tokio::test]
async fn granted_scopes_are_the_ones_the_server_granted() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.set_granted_scopes(Some(vec!["profile".into()]));
    let engine = engine(Vault::in_memory().unwrap(), &fake, fast_options());
    let conn = connect(&engine, &fake, "carol").await;
    assert_eq!(conn.scopes, vec!["profile".to_owned()]);
    let rec = engine.access("carol", PROVIDER, None).await.unwrap();
    assert_eq!(rec.scopes, vec!["profile".to_owned()]);
}

#[tokio::test]
async fn authorization_url_carries_pkce_s256_and_a_long_state() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    let engine = engine(Vault::in_memory().unwrap(), &fake, fast_options());
    let req = engine.begin("dave", PROVIDER, &[], None).await.unwrap();
    let q: std::collections::HashMap<String, String> = req.url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "profile email");
    // 32 random bytes, base64url: 43 characters, 256 bits.
    assert!(q["state"].len() >= 22, "state must carry at least 128 bits");
    assert_eq!(q["state"], req.state);
    assert!(!req.url.as_str().contains("client-secret-value"));
}

#[tokio::test]
async fn accounts_of_one_user_are_kept_apart() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    let vault = Vault::in_memory().unwrap();
    let engine = engine(vault.clone(), &fake, fast_options());
    for account in ["work", "home"] {
        let req = engine
            .begin_with(connector_core::oauth::BeginParams {
                user: "erin".into(),
                provider: PROVIDER.into(),
                account: Some(account.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let cb = fake.approve(req.url.as_str()).await.unwrap();
        engine
            .handle_callback(
                &CallbackParams::from_query(cb.query().unwrap()),
                Some("erin"),
            )
            .await
            .unwrap();
    }
    let work = engine.access("erin", PROVIDER, Some("work")).await.unwrap();
    let home = engine.access("erin", PROVIDER, Some("home")).await.unwrap();
    assert_ne!(work.access_token, home.access_token);
    let status = engine.status("erin").await.unwrap();
    let accounts: Vec<&str> = status.iter().map(|s| s.account.as_str()).collect();
    assert_eq!(accounts, vec!["home", "work"]);
    engine
        .disconnect("erin", PROVIDER, Some("work"))
        .await
        .unwrap();
    assert!(engine.access("erin", PROVIDER, Some("home")).await.is_ok());
}

#[tokio::test]
async fn no_token_reaches_the_logs() {
    let logs = LogCapture::global();
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    let engine = engine(Vault::in_memory().unwrap(), &fake, fast_options());
    fake.set_access_token_lifetime(Duration::from_secs(1));
    connect(&engine, &fake, "frank").await;
    fake.set_access_token_lifetime(Duration::from_secs(3600));
    engine.access("frank", PROVIDER, None).await.unwrap();
    fake.fail_next_token_requests(1, 503);
    engine.refresh("frank", PROVIDER, None).await.unwrap();
    engine.userinfo("frank", PROVIDER, None).await.unwrap();
    engine.disconnect("frank", PROVIDER, None).await.unwrap();
    let text = logs.text();
    assert!(text.contains("user=frank"), "logs were captured");
    assert!(text.contains("token refreshed"), "logs were captured");
    let secrets = fake.issued_secrets();
    assert!(secrets.len() >= 5);
    for s in secrets {
        assert!(!text.contains(&s), "a secret reached the logs");
    }
    assert!(!text.contains("client-secret-value"));
}
