//! Nested grants: a code exchange that answers a second grant inside the
//! first (Slack's `oauth.v2.access`: the bot token at the top level, the
//! user's token under `authed_user`), each stored, refreshed and deleted as
//! a grant of its own.

use std::time::Duration;

use connector_core::oauth::OAuthEngine;
use connector_core::vault::{StoreKey, TokenKey, Vault};
use connector_core::{ClientAuthMethod, ErrorKind};

use super::*;
use crate::common::bounded;

const GRANT: &str = "authed_user";
const USER_SCOPES: &[&str] = &["search:read", "users:read"];

/// A provider shaped like Slack: comma-separated scopes and a nested
/// `authed_user` grant (plus a revocation endpoint, which Slack lacks, to
/// see nested grants revoked too).
fn slack_like(fake: &FakeOAuthServer) -> OAuthProvider {
    let mut p = provider_for(fake, ClientAuthMethod::ClientSecretBasic);
    p.spec.scope_separator = ",".into();
    p.spec.default_scopes = vec!["chat:write".into(), "channels:read".into()];
    p.spec.nested_grants = vec![GRANT.into()];
    p
}

async fn rig() -> (FakeOAuthServer, OAuthEngine, Vault) {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.set_nested_grant(Some(GRANT), USER_SCOPES);
    let vault = Vault::in_memory().unwrap();
    let engine = OAuthEngine::builder(vault.clone())
        .provider(slack_like(&fake))
        .options(fast_options())
        .build()
        .unwrap();
    (fake, engine, vault)
}

fn nested_key(user: &str) -> TokenKey {
    TokenKey::new(PROVIDER, user, None).nested(GRANT)
}

#[tokio::test]
async fn the_exchange_stores_both_grants() {
    let (fake, engine, vault) = rig().await;
    let conn = connect(&engine, &fake, "lena").await;
    assert_eq!(conn.nested_grants, vec![GRANT.to_owned()]);
    assert_eq!(
        conn.scopes,
        vec!["chat:write".to_owned(), "channels:read".to_owned()]
    );

    let top = engine.access("lena", PROVIDER, None).await.unwrap();
    let user = engine
        .access_nested("lena", PROVIDER, None, GRANT)
        .await
        .unwrap();
    assert_ne!(top.access_token, user.access_token);
    assert_eq!(user.token_type, "user");
    assert_eq!(user.scopes, vec!["search:read", "users:read"]);
    assert!(user.refresh_token.is_some());
    assert!(user.expires_at.is_some());
    assert_eq!(user.issuer.as_deref(), Some(fake.url().as_str()));
    // Non-secret scalars of the nested object are kept; no token is.
    assert_eq!(user.extra.get("id"), Some(&serde_json::json!("user-1")));
    assert!(user.extra.keys().all(|k| !k.contains("token")));
    // The top-level record keeps nothing of the nested object.
    assert!(!top.extra.contains_key(GRANT));

    // The fake's resource server side: the nested token is the user's.
    let info = fake.token_info(user.access_token.expose()).unwrap();
    assert!(info.active);
    assert_eq!(info.scopes, vec!["search:read", "users:read"]);

    // Stored as its own sealed record, under the nested key.
    assert_eq!(
        vault
            .load_token(&nested_key("lena"))
            .await
            .unwrap()
            .as_ref(),
        Some(&user)
    );
    let mut raw: Vec<String> = vault
        .store()
        .list(connector_core::vault::key::NS_TOKEN, "lena")
        .await
        .unwrap()
        .iter()
        .map(StoreKey::logical)
        .collect();
    raw.sort();
    assert_eq!(
        raw,
        vec![
            format!("tok:{{lena}}:{PROVIDER}:default"),
            format!("tok:{{lena}}:{PROVIDER}:default:{GRANT}"),
        ]
    );

    // One connection, the nested grant reported inside it.
    let status = engine.status("lena").await.unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0].nested_grants.len(), 1);
    assert_eq!(status[0].nested_grants[0].grant, GRANT);
    assert_eq!(
        status[0].nested_grants[0].scopes,
        vec!["search:read", "users:read"]
    );
    assert!(status[0].nested_grants[0].has_refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_nested_token_refreshes_once_with_rotation() {
    let (fake, engine, vault) = rig().await;
    // Due at once: inside the 60 s refresh margin.
    fake.set_access_token_lifetime(Duration::from_secs(30));
    connect(&engine, &fake, "mona").await;
    fake.set_access_token_lifetime(Duration::from_secs(3600));
    fake.set_token_delay(Duration::from_millis(50));
    let before = vault
        .load_token(&nested_key("mona"))
        .await
        .unwrap()
        .unwrap();
    let top_before = vault
        .load_token(&TokenKey::new(PROVIDER, "mona", None))
        .await
        .unwrap()
        .unwrap();
    let old_rt = before.refresh_token.clone().unwrap();

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .access_nested("mona", PROVIDER, None, GRANT)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        let record = bounded(Duration::from_secs(30), "access_nested", t)
            .await
            .unwrap();
        tokens.push(record.access_token);
    }
    assert_eq!(fake.counters().refreshes, 1, "exactly one refresh request");
    assert_eq!(fake.counters().refresh_successes, 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one new token");
    assert_ne!(tokens[0], before.access_token);

    // Rotated: the old nested refresh token is dead, the new one stored.
    let after = vault
        .load_token(&nested_key("mona"))
        .await
        .unwrap()
        .unwrap();
    assert!(!fake.is_active(old_rt.expose()));
    let new_rt = after.refresh_token.clone().unwrap();
    assert_ne!(new_rt, old_rt);
    assert!(fake.is_active(new_rt.expose()));
    // The refresh answers the user token at the top level, typed `user`.
    assert_eq!(after.token_type, "user");
    assert_eq!(after.scopes, vec!["search:read", "users:read"]);
    assert_eq!(after.extra.get("id"), Some(&serde_json::json!("user-1")));
    let info = fake.token_info(after.access_token.expose()).unwrap();
    assert_eq!(info.scopes, vec!["search:read", "users:read"]);
    // The top-level grant was not touched.
    let top_after = vault
        .load_token(&TokenKey::new(PROVIDER, "mona", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(top_after, top_before);

    // A forced refresh (after an invalid_auth) rotates again.
    fake.set_token_delay(Duration::ZERO);
    let forced = engine
        .refresh_nested("mona", PROVIDER, None, GRANT)
        .await
        .unwrap();
    assert_ne!(forced.access_token, after.access_token);
    assert_eq!(fake.counters().refresh_successes, 2);
    assert!(!fake.is_active(new_rt.expose()));
}

#[tokio::test]
async fn a_rejected_nested_refresh_token_asks_for_reauthorization() {
    let (fake, engine, vault) = rig().await;
    connect(&engine, &fake, "nina").await;
    let stale = vault
        .load_token(&nested_key("nina"))
        .await
        .unwrap()
        .unwrap();
    engine
        .refresh_nested("nina", PROVIDER, None, GRANT)
        .await
        .unwrap();
    // Put the rotated-away refresh token back: presenting it is reuse, and
    // the fake revokes that grant.
    vault.save_token(&nested_key("nina"), &stale).await.unwrap();
    let err = engine
        .refresh_nested("nina", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization, "{err}");
    assert!(
        vault
            .load_token(&nested_key("nina"))
            .await
            .unwrap()
            .is_none()
    );
    let err = engine
        .access_nested("nina", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization, "{err}");
    assert!(err.to_string().contains(GRANT), "{err}");
    // The top-level grant is another grant: still fine.
    engine.refresh("nina", PROVIDER, None).await.unwrap();
    let status = engine.status("nina").await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(!status[0].needs_reauthorization);
    assert!(status[0].nested_grants.is_empty());
    // Reconnecting brings the nested grant back.
    connect(&engine, &fake, "nina").await;
    engine
        .access_nested("nina", PROVIDER, None, GRANT)
        .await
        .unwrap();
}

#[tokio::test]
async fn disconnect_removes_both_grants() {
    let (fake, engine, vault) = rig().await;
    connect(&engine, &fake, "olga").await;
    let user = engine
        .access_nested("olga", PROVIDER, None, GRANT)
        .await
        .unwrap();
    let out = engine.disconnect("olga", PROVIDER, None).await.unwrap();
    assert!(out.revoked && out.deleted, "{out:?}");
    // Both grants revoked at the provider, both deleted here.
    assert_eq!(fake.counters().revocations, 2);
    assert!(!fake.is_active(user.access_token.expose()));
    assert!(
        vault
            .load_token(&nested_key("olga"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(vault.list_nested_tokens("olga").await.unwrap().is_empty());
    assert!(engine.status("olga").await.unwrap().is_empty());
    let err = engine
        .access_nested("olga", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization);
}

#[tokio::test]
async fn a_missing_nested_grant_says_the_user_token_is_missing() {
    let (fake, engine, _vault) = rig().await;
    // Connected without user scopes: no nested grant in the response.
    fake.set_nested_grant(None, &[]);
    let conn = connect(&engine, &fake, "paul").await;
    assert!(conn.nested_grants.is_empty());
    engine.access("paul", PROVIDER, None).await.unwrap();
    let err = engine
        .access_nested("paul", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization);
    assert_eq!(err.provider(), Some(PROVIDER));
    let text = err.to_string();
    assert!(text.contains("user token is missing"), "{text}");
    assert!(text.contains(PROVIDER), "{text}");
    assert!(err.model_message().contains("reconnect"), "{err:?}");
    // A grant the provider does not declare is a configuration error.
    let err = engine
        .access_nested("paul", PROVIDER, None, "authed_bot")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[tokio::test]
async fn a_reconnection_without_the_nested_grant_keeps_the_stored_one() {
    let (fake, engine, _vault) = rig().await;
    connect(&engine, &fake, "quin").await;
    let user = engine
        .access_nested("quin", PROVIDER, None, GRANT)
        .await
        .unwrap();
    fake.set_nested_grant(None, &[]);
    let conn = connect(&engine, &fake, "quin").await;
    assert!(conn.nested_grants.is_empty());
    let still = engine
        .access_nested("quin", PROVIDER, None, GRANT)
        .await
        .unwrap();
    assert_eq!(still.access_token, user.access_token);
    // A reconnection with it replaces it.
    fake.set_nested_grant(Some(GRANT), USER_SCOPES);
    connect(&engine, &fake, "quin").await;
    let replaced = engine
        .access_nested("quin", PROVIDER, None, GRANT)
        .await
        .unwrap();
    assert_ne!(replaced.access_token, user.access_token);
}

#[tokio::test]
async fn a_provider_without_nested_grants_is_unaffected() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    // The server answers a nested object, but the provider declares none.
    fake.set_nested_grant(Some(GRANT), USER_SCOPES);
    let vault = Vault::in_memory().unwrap();
    let engine = engine(vault.clone(), &fake, fast_options());
    let conn = connect(&engine, &fake, "rosa").await;
    assert!(conn.nested_grants.is_empty());
    assert!(vault.list_nested_tokens("rosa").await.unwrap().is_empty());
    let record = engine.access("rosa", PROVIDER, None).await.unwrap();
    assert_eq!(record.token_type, "Bearer");
    assert!(!record.extra.contains_key(GRANT));
    let status = engine.status("rosa").await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(status[0].nested_grants.is_empty());
    // Serialized status of an ordinary connection is as before.
    let json = serde_json::to_value(&status[0]).unwrap();
    assert!(json.get("nested_grants").is_none(), "{json}");
    let err = engine
        .access_nested("rosa", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn no_nested_token_reaches_logs_debug_output_or_errors() {
    let logs = LogCapture::global();
    let (fake, engine, vault) = rig().await;
    fake.set_access_token_lifetime(Duration::from_secs(1));
    let conn = connect(&engine, &fake, "sven").await;
    fake.set_access_token_lifetime(Duration::from_secs(3600));
    let mut shown = vec![format!("{conn:?}")];
    let record = engine
        .access_nested("sven", PROVIDER, None, GRANT)
        .await
        .unwrap();
    shown.push(format!("{record:?}"));
    let status = engine.status("sven").await.unwrap();
    shown.push(format!("{status:?}"));
    shown.push(serde_json::to_string(&status).unwrap());
    // Errors on the nested path: a reused refresh token, then missing.
    let stale = vault
        .load_token(&nested_key("sven"))
        .await
        .unwrap()
        .unwrap();
    engine
        .refresh_nested("sven", PROVIDER, None, GRANT)
        .await
        .unwrap();
    vault.save_token(&nested_key("sven"), &stale).await.unwrap();
    let err = engine
        .refresh_nested("sven", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?} {}", err.model_message()));
    engine.disconnect("sven", PROVIDER, None).await.unwrap();
    let err = engine
        .access_nested("sven", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?} {}", err.model_message()));

    let text = logs.text();
    assert!(text.contains("user=sven"), "logs were captured");
    let secrets = fake.issued_secrets();
    assert!(secrets.len() >= 8, "{}", secrets.len());
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret reached the logs");
        for out in &shown {
            assert!(!out.contains(s.as_str()), "a secret reached {out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_grants_on_redis_refresh_once_across_two_vaults() {
    use std::sync::Arc;

    use connector_core::vault::{Keyring, RedisStore};
    use connector_testkit::redis::RedisServer;

    let server = RedisServer::spawn().unwrap();
    let (_, spec) = crate::common::keyring("k1");
    let mut engines = Vec::new();
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.set_nested_grant(Some(GRANT), USER_SCOPES);
    for _ in 0..2 {
        let store = RedisStore::open(&server.url(), "cx-test").await.unwrap();
        let vault = Vault::new(Arc::new(store), Keyring::parse(&spec).unwrap());
        engines.push(
            OAuthEngine::builder(vault)
                .provider(slack_like(&fake))
                .options(fast_options())
                .build()
                .unwrap(),
        );
    }
    fake.set_access_token_lifetime(Duration::from_secs(30));
    connect(&engines[0], &fake, "tove").await;
    fake.set_access_token_lifetime(Duration::from_secs(3600));
    fake.set_token_delay(Duration::from_millis(50));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let engine = engines[i % 2].clone();
            tokio::spawn(async move {
                engine
                    .access_nested("tove", PROVIDER, None, GRANT)
                    .await
                    .unwrap()
                    .access_token
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(
            bounded(Duration::from_secs(60), "access_nested", t)
                .await
                .unwrap(),
        );
    }
    assert_eq!(fake.counters().refreshes, 1, "one refresh across processes");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    let status = engines[1].status("tove").await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].nested_grants.len(), 1);
    engines[1].disconnect("tove", PROVIDER, None).await.unwrap();
    assert!(
        engines[0]
            .vault()
            .list_nested_tokens("tove")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(engines[0].status("tove").await.unwrap().is_empty());
}
