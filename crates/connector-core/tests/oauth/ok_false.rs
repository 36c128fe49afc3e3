//! Token endpoints that answer errors with HTTP 200 and
//! `{"ok": false, "error": …}` (Slack's `oauth.v2.access`), and the ids a
//! token response carries in objects (Slack's `team` and `enterprise`).

use connector_core::ErrorKind;
use connector_core::oauth::CallbackParams;
use connector_core::vault::{TokenKey, Vault};
use connector_testkit::oauth_server::TokenErrorStyle;
use serde_json::json;

use super::*;

const GRANT: &str = "authed_user";

/// A Slack-shaped provider against a fake that answers as Slack does.
async fn rig(nested: bool) -> (FakeOAuthServer, OAuthEngine, Vault) {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.set_token_error_style(TokenErrorStyle::Slack);
    if nested {
        fake.set_nested_grant(Some(GRANT), &["search:read"]);
    }
    let vault = Vault::in_memory().unwrap();
    let mut p = provider_for(&fake, ClientAuthMethod::ClientSecretBasic);
    p.spec.scope_separator = ",".into();
    p.spec.nested_grants = vec![GRANT.into()];
    let engine = OAuthEngine::builder(vault.clone())
        .provider(p)
        .options(fast_options())
        .build()
        .unwrap();
    (fake, engine, vault)
}

fn top_key(user: &str) -> TokenKey {
    TokenKey::new(PROVIDER, user, None)
}

/// No secret the fake ever issued appears in `shown`.
fn assert_no_secret(fake: &FakeOAuthServer, shown: &str) {
    for s in fake.issued_secrets() {
        assert!(!shown.contains(s.as_str()), "a secret reached {shown}");
    }
    assert!(!shown.contains("client-secret-value"), "{shown}");
}

#[tokio::test]
async fn an_ok_false_refresh_error_drops_the_grant_and_asks_for_reauthorization() {
    let logs = LogCapture::global();
    let (fake, engine, vault) = rig(false).await;
    // Successes say `"ok": true`, and are ordinary token responses.
    connect(&engine, &fake, "olga").await;
    let record = vault.load_token(&top_key("olga")).await.unwrap().unwrap();
    let rt = record.refresh_token.clone().unwrap();
    engine.refresh("olga", PROVIDER, None).await.unwrap();
    assert!(!fake.is_active(rt.expose()), "rotated");

    // The user uninstalls: Slack answers `invalid_refresh_token`, HTTP 200.
    let current = vault.load_token(&top_key("olga")).await.unwrap().unwrap();
    assert!(fake.revoke_grant(current.refresh_token.unwrap().expose()));
    let before = fake.counters();
    let err = engine.refresh("olga", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization, "{err}");
    assert!(err.needs_reauthorization());
    assert!(err.to_string().contains("invalid_refresh_token"), "{err}");
    assert!(!err.to_string().contains("not a token response"), "{err}");
    assert_eq!(fake.counters().invalid_grants, before.invalid_grants + 1);
    assert_eq!(
        fake.counters().token_requests,
        before.token_requests + 1,
        "an error answer is not retried"
    );
    assert!(vault.load_token(&top_key("olga")).await.unwrap().is_none());
    let status = engine.status("olga").await.unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    assert!(status[0].needs_reauthorization);
    let reason = status[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("invalid_refresh_token"), "{reason}");
    let again = engine.access("olga", PROVIDER, None).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NeedsReauthorization);

    assert_no_secret(&fake, &format!("{err} {err:?} {}", err.model_message()));
    assert_no_secret(&fake, &format!("{status:?}"));
    assert_no_secret(&fake, &logs.text());

    // Connecting again clears it.
    connect(&engine, &fake, "olga").await;
    engine.refresh("olga", PROVIDER, None).await.unwrap();
    assert!(!engine.status("olga").await.unwrap()[0].needs_reauthorization);
}

#[tokio::test]
async fn an_ok_false_nested_refresh_error_drops_the_nested_grant_alone() {
    let (fake, engine, vault) = rig(true).await;
    connect(&engine, &fake, "pia").await;
    let nested_key = top_key("pia").nested(GRANT);
    let top_before = vault.load_token(&top_key("pia")).await.unwrap().unwrap();
    let user = vault.load_token(&nested_key).await.unwrap().unwrap();
    assert!(fake.revoke_grant(user.refresh_token.unwrap().expose()));

    let err = engine
        .refresh_nested("pia", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization, "{err}");
    assert!(err.to_string().contains("invalid_refresh_token"), "{err}");
    assert!(vault.load_token(&nested_key).await.unwrap().is_none());
    let err = engine
        .access_nested("pia", PROVIDER, None, GRANT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization, "{err}");
    assert!(err.to_string().contains(GRANT), "{err}");
    assert!(err.to_string().contains("invalid_refresh_token"), "{err}");
    // The bot-side grant is untouched, and still refreshes.
    let top_after = vault.load_token(&top_key("pia")).await.unwrap().unwrap();
    assert_eq!(top_after, top_before);
    engine.refresh("pia", PROVIDER, None).await.unwrap();
    assert_no_secret(&fake, &format!("{err} {err:?}"));
}

#[tokio::test]
async fn an_ok_false_code_exchange_error_is_a_clear_oauth_error() {
    let (fake, engine, vault) = rig(false).await;
    let req = engine.begin("quinn", PROVIDER, &[], None).await.unwrap();
    let callback = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    assert!(params.code.is_some());
    // A code the server never issued: Slack says `invalid_code`.
    let err = engine
        .complete_for(&req.state, "not-a-code-it-issued", Some("quinn"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OAuth, "{err}");
    let text = err.to_string();
    assert!(text.contains("invalid_code"), "{text}");
    assert!(text.contains("start the authorization again"), "{text}");
    assert!(!text.contains("not a token response"), "{text}");
    assert_eq!(err.provider(), Some(PROVIDER));
    assert!(vault.list_tokens("quinn").await.unwrap().is_empty());
    assert_eq!(fake.counters().code_exchanges, 1);
    assert_no_secret(&fake, &format!("{err} {err:?}"));
}

#[tokio::test]
async fn an_ok_false_bad_client_secret_is_a_config_error_that_keeps_the_grant() {
    let (fake, engine, vault) = rig(false).await;
    connect(&engine, &fake, "rosa").await;
    // The same vault, with a client secret that is wrong.
    let mut p = provider_for(&fake, ClientAuthMethod::ClientSecretBasic);
    p.client_secret = Some(Secret::new("wrong-secret-value"));
    let wrong = OAuthEngine::builder(vault.clone())
        .provider(p)
        .options(fast_options())
        .build()
        .unwrap();

    let err = wrong.refresh("rosa", PROVIDER, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("bad_client_secret"), "{text}");
    assert!(text.contains("client credentials"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
    assert_no_secret(&fake, &text);
    assert!(
        vault.load_token(&top_key("rosa")).await.unwrap().is_some(),
        "a client error never drops the grant"
    );

    // A code exchange with it fails the same way.
    let req = wrong.begin("sami", PROVIDER, &[], None).await.unwrap();
    let callback = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    let err = wrong
        .handle_callback(&params, Some("sami"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("bad_client_secret"), "{err}");
    assert!(!format!("{err:?}").contains("wrong-secret-value"));
}

#[tokio::test]
async fn ids_in_the_token_response_objects_are_kept_for_both_grants() {
    let (fake, engine, vault) = rig(true).await;
    fake.set_extra_token_fields(
        json!({
            "app_id": "A0KRD7HC3",
            "team": {"id": "T9TK3CUKW", "name": "Slack Softworks"},
            "enterprise": {"id": "E0AB12CD3", "name": "Softworks Group"},
            "incoming_webhook": {"url": "http://127.0.0.1:9/hook", "channel": "#general"},
        })
        .as_object()
        .cloned(),
    );
    connect(&engine, &fake, "tove").await;
    let top = vault.load_token(&top_key("tove")).await.unwrap().unwrap();
    assert_eq!(top.extra.get("team_id"), Some(&json!("T9TK3CUKW")));
    assert_eq!(top.extra.get("enterprise_id"), Some(&json!("E0AB12CD3")));
    assert_eq!(top.extra.get("app_id"), Some(&json!("A0KRD7HC3")));
    for dropped in [
        "team",
        "enterprise",
        "incoming_webhook",
        GRANT,
        "authed_user_id",
    ] {
        assert!(
            !top.extra.contains_key(dropped),
            "{dropped}: {:?}",
            top.extra
        );
    }
    assert!(top.extra.keys().all(|k| !k.contains("token")));

    // The user token belongs to the same workspace.
    let nested_key = top_key("tove").nested(GRANT);
    let user = vault.load_token(&nested_key).await.unwrap().unwrap();
    assert_eq!(user.extra.get("team_id"), Some(&json!("T9TK3CUKW")));
    assert_eq!(user.extra.get("enterprise_id"), Some(&json!("E0AB12CD3")));
    assert_eq!(user.extra.get("id"), Some(&json!("user-1")));

    // A refresh answers the workspace again; the ids stay.
    let user = engine
        .refresh_nested("tove", PROVIDER, None, GRANT)
        .await
        .unwrap();
    assert_eq!(user.extra.get("team_id"), Some(&json!("T9TK3CUKW")));
    assert_eq!(user.extra.get("id"), Some(&json!("user-1")));
    let top = engine.refresh("tove", PROVIDER, None).await.unwrap();
    assert_eq!(top.extra.get("team_id"), Some(&json!("T9TK3CUKW")));
    assert!(!top.extra.contains_key("team"));
}
