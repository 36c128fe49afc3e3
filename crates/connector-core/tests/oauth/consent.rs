//! Consent and incremental authorization, against a fake that issues
//! refresh tokens as Google does (only on the first consent, or when
//! consent is forced): `consent_params` only while no refresh token is
//! stored, and a stored refresh token kept when a later exchange brings none.

use std::collections::HashMap;

use connector_core::oauth::{BeginParams, OAuthEngine};
use connector_core::vault::{TokenKey, Vault};
use connector_core::{ClientAuthMethod, Secret};
use connector_testkit::oauth_server::ConsentCounters;

use super::*;

/// A provider set up as Google is: offline access, incremental
/// authorization, consent forced only while no refresh token is stored.
fn google_like(fake: &FakeOAuthServer) -> OAuthProvider {
    let mut p = provider_for(fake, ClientAuthMethod::ClientSecretBasic);
    p.spec.extra_authorize_params = vec![
        ("access_type".into(), "offline".into()),
        ("include_granted_scopes".into(), "true".into()),
    ];
    p.spec.consent_params = vec![("prompt".into(), "consent".into())];
    p
}

async fn rig() -> (FakeOAuthServer, OAuthEngine, Vault) {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.set_refresh_token_only_on_consent(true);
    let vault = Vault::in_memory().unwrap();
    let engine = OAuthEngine::builder(vault.clone())
        .provider(google_like(&fake))
        .options(fast_options())
        .build()
        .unwrap();
    (fake, engine, vault)
}

fn query(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn values<'a>(q: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Begins with `scopes` and `extra`, lets the fake approve, completes.
async fn authorize(
    engine: &OAuthEngine,
    fake: &FakeOAuthServer,
    user: &str,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> (Vec<(String, String)>, Connection) {
    let req = engine
        .begin_with(BeginParams {
            user: user.into(),
            provider: PROVIDER.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            extra_params: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..BeginParams::default()
        })
        .await
        .unwrap();
    let q = query(&req.url);
    let callback = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    let conn = engine.handle_callback(&params, Some(user)).await.unwrap();
    (q, conn)
}

#[tokio::test]
async fn consent_is_forced_only_while_no_refresh_token_is_stored() {
    let (fake, engine, vault) = rig().await;
    let key = TokenKey::new(PROVIDER, "gina", None);

    // First connection: nothing stored, so consent is forced and the
    // provider issues a refresh token.
    let (q, first) = authorize(&engine, &fake, "gina", &["profile"], &[]).await;
    assert_eq!(values(&q, "prompt"), vec!["consent"]);
    assert_eq!(values(&q, "access_type"), vec!["offline"]);
    assert!(first.has_refresh_token);
    let first_rt = vault
        .load_token(&key)
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap();

    // Incremental authorization: a refresh token is stored, so consent is
    // not forced; the provider answers an access token alone.
    let (q, second) = authorize(&engine, &fake, "gina", &["email"], &[]).await;
    assert!(values(&q, "prompt").is_empty(), "{q:?}");
    assert_eq!(values(&q, "include_granted_scopes"), vec!["true"]);
    assert_eq!(
        fake.consent_counters(),
        ConsentCounters {
            consent_prompts: 1,
            exchanges_without_refresh_token: 1,
        }
    );
    // The stored refresh token survives the exchange that brought none.
    assert!(second.has_refresh_token);
    let stored = vault.load_token(&key).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.as_ref(), Some(&first_rt));
    // include_granted_scopes: the response's `scope` is the union, kept.
    assert_eq!(
        second.scopes,
        vec!["profile".to_owned(), "email".to_owned()]
    );
    assert_eq!(stored.scopes, second.scopes);

    // The kept refresh token works, and covers the new scope.
    let refreshed = engine.refresh("gina", PROVIDER, None).await.unwrap();
    assert_eq!(fake.counters().refresh_successes, 1);
    assert_eq!(
        refreshed.scopes,
        vec!["profile".to_owned(), "email".to_owned()]
    );

    // After a disconnect nothing is stored: consent is forced again.
    engine.disconnect("gina", PROVIDER, None).await.unwrap();
    let req = engine.begin("gina", PROVIDER, &[], None).await.unwrap();
    assert_eq!(values(&query(&req.url), "prompt"), vec!["consent"]);
}

#[tokio::test]
async fn a_per_request_parameter_wins_over_the_consent_parameter() {
    let (fake, engine, _vault) = rig().await;
    let (q, _) = authorize(
        &engine,
        &fake,
        "hank",
        &[],
        &[
            ("prompt", "select_account consent"),
            ("access_type", "online"),
        ],
    )
    .await;
    // Each parameter once (the strict fake refuses repeated parameters),
    // with the request's value.
    assert_eq!(values(&q, "prompt"), vec!["select_account consent"]);
    assert_eq!(values(&q, "access_type"), vec!["online"]);
}

#[tokio::test]
async fn accounts_are_judged_apart() {
    let (fake, engine, _vault) = rig().await;
    authorize(&engine, &fake, "ivy", &[], &[]).await;
    let other = engine
        .begin_with(BeginParams {
            user: "ivy".into(),
            provider: PROVIDER.into(),
            account: Some("work".into()),
            ..BeginParams::default()
        })
        .await
        .unwrap();
    let q: HashMap<String, String> = other.url.query_pairs().into_owned().collect();
    assert_eq!(q.get("prompt").map(String::as_str), Some("consent"));
    let again = engine.begin("ivy", PROVIDER, &[], None).await.unwrap();
    assert!(!again.url.query_pairs().any(|(k, _)| k == "prompt"));
}

#[tokio::test]
async fn a_refresh_token_from_another_issuer_is_neither_trusted_nor_kept() {
    let (fake, engine, vault) = rig().await;
    authorize(&engine, &fake, "jack", &[], &[]).await;
    // The stored grant now claims another token endpoint issued it (the
    // provider's endpoints were reconfigured).
    let key = TokenKey::new(PROVIDER, "jack", None);
    let mut record = vault.load_token(&key).await.unwrap().unwrap();
    record.issuer = Some("https://other-issuer.example".into());
    record.refresh_token = Some(Secret::new("foreign-refresh-token"));
    vault.save_token(&key, &record).await.unwrap();

    let req = engine.begin("jack", PROVIDER, &[], None).await.unwrap();
    assert!(
        req.url
            .query_pairs()
            .any(|(k, v)| k == "prompt" && v == "consent"),
        "a refresh token from another issuer does not count"
    );
    // An exchange without a refresh token must not adopt the foreign one.
    let (_, conn) = authorize(&engine, &fake, "jack", &[], &[("prompt", "none")]).await;
    assert!(!conn.has_refresh_token);
    let stored = vault.load_token(&key).await.unwrap().unwrap();
    assert!(stored.refresh_token.is_none());
    assert_eq!(stored.issuer.as_deref(), Some(fake.url().as_str()));
}

#[tokio::test]
async fn without_consent_params_nothing_is_added() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    let engine = engine(Vault::in_memory().unwrap(), &fake, fast_options());
    let req = engine.begin("kate", PROVIDER, &[], None).await.unwrap();
    assert!(!req.url.query_pairs().any(|(k, _)| k == "prompt"));
}
