//! Token rotation: Slack's access tokens from a real OAuth flow (against
//! the fake authorization server), refreshed ahead of expiry and after an
//! `invalid_auth`.

use std::time::Duration;

use connector_core::oauth::{CallbackParams, EngineOptions, OAuthEngine, OAuthProvider};
use connector_core::vault::{TokenKey, TokenRecord, Vault};
use connector_core::{CallContext, ClientAuthMethod, Connector, OAuth2Spec};
use connector_slack::{SlackConnector, USER_GRANT};
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use connector_testkit::slack::{FakeSlack, TokenKind};
use serde_json::json;

use crate::common::{ALL_BOT_SCOPES, ALL_USER_SCOPES, USER, user_key};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct Rig {
    oauth: FakeOAuthServer,
    slack: FakeSlack,
    engine: OAuthEngine,
    connector: SlackConnector,
    cx: CallContext,
}

async fn rig(access_lifetime: Duration) -> Rig {
    let oauth = FakeOAuthServer::start().await;
    oauth.register_client(ClientConfig::basic("cid", "client-secret-value", REDIRECT));
    oauth.set_access_token_lifetime(access_lifetime);
    let slack = FakeSlack::start().await;
    // One token endpoint issues both tokens; the user token's grant holds
    // `search:read`, which no bot token has.
    slack.trust_oauth_server_when(&oauth, "search:read", TokenKind::User, ALL_USER_SCOPES);
    slack.trust_oauth_server(&oauth, TokenKind::Bot, ALL_BOT_SCOPES);

    let mut spec = OAuth2Spec::new(oauth.authorize_url(), oauth.token_url());
    spec.client_auth = ClientAuthMethod::ClientSecretBasic;
    spec.scope_separator = ",".into();
    spec.nested_grants = vec![USER_GRANT.into()];
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
        .engine(engine.clone())
        .base_url(slack.url())
        .build()
        .unwrap();
    Rig {
        oauth,
        slack,
        engine,
        connector,
        cx: CallContext::new(USER),
    }
}

impl Rig {
    /// `USER`'s stored user-token grant.
    async fn user_record(&self) -> TokenRecord {
        let key = user_key(USER);
        self.engine.vault().load_token(&key).await.unwrap().unwrap()
    }

    /// Gives `USER` a user token (with its own refresh token) from the same
    /// token endpoint. The fake authorization server answers no nested
    /// `authed_user` object, so the grant comes from a flow of its own and
    /// is stored where the engine keeps the nested grant.
    async fn grant_user_token(&self) {
        let helper = "user-token-flow";
        let scopes: Vec<String> = ALL_USER_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        let req = self
            .engine
            .begin(helper, "slack", &scopes, None)
            .await
            .unwrap();
        let callback = self.oauth.approve(req.url.as_str()).await.unwrap();
        let params = CallbackParams::from_query(callback.query().unwrap_or(""));
        self.engine
            .handle_callback(&params, Some(helper))
            .await
            .unwrap();
        let vault = self.engine.vault();
        let from = TokenKey::new("slack", helper, None);
        let record = vault.load_token(&from).await.unwrap().unwrap();
        assert!(record.refresh_token.is_some());
        vault.save_token(&user_key(USER), &record).await.unwrap();
        vault.delete_token(&from).await.unwrap();
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

#[tokio::test]
async fn the_user_token_is_refreshed_ahead_of_expiry_and_after_invalid_auth() {
    // Both tokens inside the engine's refresh margin from the start.
    let r = rig(Duration::from_secs(30)).await;
    r.grant_user_token().await;
    let before = r.oauth.counters().refresh_successes;
    let old = r.user_record().await;
    // Refreshes issue Slack's 12-hour tokens from now on.
    r.oauth
        .set_access_token_lifetime(Duration::from_secs(12 * 3600));
    let search = json!({"query": "release"});
    let out = r
        .connector
        .call(&r.cx, "search_messages", search.clone())
        .await
        .unwrap();
    assert_eq!(out.structured.unwrap()["total"], 2);
    // The user token alone was refreshed (search never touches the bot's),
    // and its rotated refresh token was saved.
    assert_eq!(r.oauth.counters().refresh_successes, before + 1);
    let new = r.user_record().await;
    assert_ne!(new.access_token, old.access_token);
    assert_ne!(new.refresh_token, old.refresh_token);
    assert_eq!(r.slack.call_count("search.messages"), 1);

    // The refreshed token is good for 12 hours; Slack saying invalid_auth
    // still forces a refresh of it, and the search is sent once more.
    r.slack.fail_next("search.messages", "invalid_auth");
    r.connector
        .call(&r.cx, "search_messages", search.clone())
        .await
        .unwrap();
    assert_eq!(r.oauth.counters().refresh_successes, before + 2);
    assert_eq!(r.slack.call_count("search.messages"), 3);
    assert!(
        r.slack.violations().is_empty(),
        "{:?}",
        r.slack.violations()
    );

    // The rotated user token works, and it is a user token to Slack: a
    // channel's thread reads with it.
    let thread = json!({"channel": "C012AB3CD", "thread_ts": "1512104434.000490"});
    r.connector
        .call(&r.cx, "read_thread", thread)
        .await
        .unwrap();
    assert!(
        r.slack.violations().is_empty(),
        "{:?}",
        r.slack.violations()
    );
}
