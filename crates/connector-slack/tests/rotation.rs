//! Token rotation: Slack's access tokens from a real OAuth flow (against
//! the fake authorization server), refreshed ahead of expiry and after an
//! `invalid_auth`.

use std::time::Duration;

use connector_core::oauth::{CallbackParams, EngineOptions, OAuthEngine, OAuthProvider};
use connector_core::vault::Vault;
use connector_core::{CallContext, ClientAuthMethod, Connector, OAuth2Spec};
use connector_slack::SlackConnector;
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use connector_testkit::slack::{FakeSlack, TokenKind};
use serde_json::json;

use crate::common::{ALL_BOT_SCOPES, USER};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct Rig {
    oauth: FakeOAuthServer,
    slack: FakeSlack,
    connector: SlackConnector,
    cx: CallContext,
}

async fn rig(access_lifetime: Duration) -> Rig {
    let oauth = FakeOAuthServer::start().await;
    oauth.register_client(ClientConfig::basic("cid", "client-secret-value", REDIRECT));
    oauth.set_access_token_lifetime(access_lifetime);
    let slack = FakeSlack::start().await;
    slack.trust_oauth_server(&oauth, TokenKind::Bot, ALL_BOT_SCOPES);

    let mut spec = OAuth2Spec::new(oauth.authorize_url(), oauth.token_url());
    spec.client_auth = ClientAuthMethod::ClientSecretBasic;
    spec.scope_separator = ",".into();
    let mut provider = OAuthProvider::new("slack", spec, None).unwrap();
    provider.client_id = Some("cid".into());
    provider.client_secret = Some(connector_core::Secret::new("client-secret-value"));
    provider.redirect_uri = Some(REDIRECT.into());
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .provider(provider)
        .options(EngineOptions {
            refresh_jitter: Duration::ZERO,
            ..EngineOptions::default()
        })
        .build()
        .unwrap();
    let req = engine.begin(USER, "slack", &[], None).await.unwrap();
    let callback = oauth.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    engine.handle_callback(&params, Some(USER)).await.unwrap();

    let connector = SlackConnector::builder()
        .engine(engine)
        .base_url(slack.url())
        .build()
        .unwrap();
    Rig {
        oauth,
        slack,
        connector,
        cx: CallContext::new(USER),
    }
}

#[tokio::test]
async fn invalid_auth_refreshes_once_and_retries_once() {
    let r = rig(Duration::from_secs(12 * 3600)).await;
    r.slack.fail_next("chat.postMessage", "invalid_auth");
    let out = r
        .connector
        .call(
            &r.cx,
            "post_message",
            json!({"channel": "C012AB3CD", "text": "after rotation"}),
        )
        .await
        .unwrap();
    assert!(!out.is_error);
    assert_eq!(r.oauth.counters().refresh_successes, 1);
    assert_eq!(r.slack.call_count("chat.postMessage"), 2);
    assert!(
        r.slack.violations().is_empty(),
        "{:?}",
        r.slack.violations()
    );

    // A second invalid_auth in a row is not retried again.
    r.slack.fail_next("chat.postMessage", "invalid_auth");
    r.slack.fail_next("chat.postMessage", "invalid_auth");
    let e = r
        .connector
        .call(
            &r.cx,
            "post_message",
            json!({"channel": "C012AB3CD", "text": "x"}),
        )
        .await
        .unwrap_err();
    assert!(e.needs_reauthorization(), "{e}");
    assert_eq!(r.slack.call_count("chat.postMessage"), 4);
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    // Inside the engine's refresh margin from the start.
    let r = rig(Duration::from_secs(30)).await;
    let out = r
        .connector
        .call(&r.cx, "lookup_user", json!({"user_id": "W012A3CDE"}))
        .await
        .unwrap();
    assert_eq!(out.structured.unwrap()["name"], "spengler");
    assert_eq!(r.oauth.counters().refresh_successes, 1);
    assert_eq!(r.slack.call_count("users.info"), 1);
}
