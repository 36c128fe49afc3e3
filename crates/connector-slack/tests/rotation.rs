//! Token rotation: Slack's access tokens from a real OAuth flow (against
//! the fake authorization server, which answers as `oauth.v2.access` does:
//! the bot token at the top level, the user's under `authed_user`, errors
//! as HTTP 200 `ok: false`), refreshed ahead of expiry and after an
//! `invalid_auth`.

use std::time::Duration;

use connector_core::oauth::{CallbackParams, EngineOptions, OAuthEngine, OAuthProvider};
use connector_core::vault::{TokenRecord, Vault, now_unix};
use connector_core::{CallContext, ClientAuthMethod, Connector, ErrorKind, OAuth2Spec};
use connector_slack::{SlackConnector, USER_GRANT};
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer, TokenErrorStyle};
use connector_testkit::slack::{FakeSlack, TEAM, TokenKind};
use serde_json::json;

use crate::common::{ALL_BOT_SCOPES, ALL_USER_SCOPES, USER, bot_key, user_key};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Slack's access token lifetime with token rotation: 12 hours.
const TWELVE_HOURS: Duration = Duration::from_secs(12 * 3600);

struct Rig {
    oauth: FakeOAuthServer,
    slack: FakeSlack,
    engine: OAuthEngine,
    connector: SlackConnector,
    cx: CallContext,
}

/// `USER` connected once, both tokens living `access_lifetime`.
async fn rig(access_lifetime: Duration) -> Rig {
    rig_with(access_lifetime, EngineOptions::default()).await
}

async fn rig_with(access_lifetime: Duration, options: EngineOptions) -> Rig {
    let oauth = FakeOAuthServer::start().await;
    oauth.register_client(ClientConfig::basic("cid", "client-secret-value", REDIRECT));
    oauth.set_access_token_lifetime(access_lifetime);
    // As `oauth.v2.access` answers: the user token (a grant of its own,
    // with its own rotating refresh token) under `authed_user`, the
    // workspace as an object, errors as HTTP 200 `ok: false`.
    oauth.set_nested_grant(Some(USER_GRANT), ALL_USER_SCOPES);
    oauth.set_extra_token_fields(
        json!({
            "app_id": "A0KRD7HC3",
            "team": {"id": TEAM, "name": "Slack Softworks"},
            "enterprise": null,
            "is_enterprise_install": false,
        })
        .as_object()
        .cloned(),
    );
    oauth.set_token_error_style(TokenErrorStyle::Slack);
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
            ..options
        })
        .build()
        .unwrap();
    let req = engine.begin(USER, "slack", &[], None).await.unwrap();
    let callback = oauth.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    let connection = engine.handle_callback(&params, Some(USER)).await.unwrap();
    assert_eq!(connection.nested_grants, vec![USER_GRANT.to_owned()]);

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
    /// `USER`'s stored user-token grant (the nested `authed_user`).
    async fn user_record(&self) -> TokenRecord {
        let key = user_key(USER);
        self.engine.vault().load_token(&key).await.unwrap().unwrap()
    }

    /// `USER`'s stored bot-token grant.
    async fn bot_record(&self) -> TokenRecord {
        let key = bot_key(USER);
        self.engine.vault().load_token(&key).await.unwrap().unwrap()
    }

    fn assert_no_violation(&self) {
        let violations = self.slack.violations();
        assert!(violations.is_empty(), "{violations:?}");
    }
}

/// Whether `record` expires about `lifetime` from now.
fn expires_in_about(record: &TokenRecord, lifetime: Duration) -> bool {
    let left = record.expires_at.unwrap_or(0) - now_unix();
    (left - lifetime.as_secs() as i64).abs() <= 5
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
async fn one_authorization_gives_both_tokens_and_the_user_token_rotates_ahead_of_expiry() {
    // A refresh margin of 12 hours and a minute stands in for the clock
    // moving on: both 12-hour tokens are due at once (the engine reads the
    // wall clock), so only the path taken decides which one is refreshed.
    let r = rig_with(
        TWELVE_HOURS,
        EngineOptions {
            refresh_margin: TWELVE_HOURS + Duration::from_secs(60),
            ..EngineOptions::default()
        },
    )
    .await;

    // One authorization stored both grants, each with its refresh token.
    let bot = r.bot_record().await;
    let user = r.user_record().await;
    assert_ne!(bot.access_token, user.access_token);
    assert_ne!(bot.refresh_token, user.refresh_token);
    assert!(bot.refresh_token.is_some() && user.refresh_token.is_some());
    assert!(expires_in_about(&bot, TWELVE_HOURS));
    assert!(expires_in_about(&user, TWELVE_HOURS));
    assert_eq!(user.token_type, "user");
    assert_eq!(user.scopes, ALL_USER_SCOPES);
    assert_eq!(user.extra.get("id"), Some(&json!("user-1")));
    // The workspace of both, from the response's `team` object.
    assert_eq!(bot.extra.get("team_id"), Some(&json!(TEAM)));
    assert_eq!(user.extra.get("team_id"), Some(&json!(TEAM)));
    let old_user_rt = user.refresh_token.clone().unwrap();
    let bot_rt = bot.refresh_token.clone().unwrap();
    let before = r.oauth.counters();

    let out = r
        .connector
        .call(&r.cx, "search_messages", json!({"query": "release"}))
        .await
        .unwrap();
    assert_eq!(out.structured.unwrap()["total"], 2);
    r.assert_no_violation();
    assert_eq!(r.slack.call_count("search.messages"), 1);

    // The user token alone was refreshed, with its own refresh token, which
    // the server rotated; the new refresh token was saved.
    let after = r.oauth.counters();
    assert_eq!(after.refreshes, before.refreshes + 1);
    assert_eq!(after.refresh_successes, before.refresh_successes + 1);
    let new_user = r.user_record().await;
    assert_ne!(new_user.access_token, user.access_token);
    let new_user_rt = new_user.refresh_token.clone().unwrap();
    assert_ne!(new_user_rt, old_user_rt);
    assert!(!r.oauth.is_active(old_user_rt.expose()), "rotated away");
    assert!(r.oauth.is_active(new_user_rt.expose()));
    assert!(expires_in_about(&new_user, TWELVE_HOURS));
    assert_eq!(new_user.token_type, "user");
    assert_eq!(new_user.scopes, ALL_USER_SCOPES);
    assert_eq!(new_user.extra.get("team_id"), Some(&json!(TEAM)));
    let info = r.oauth.token_info(new_user.access_token.expose()).unwrap();
    assert!(info.active);
    assert!(info.scopes.iter().any(|s| s == "search:read"));

    // The bot token is untouched: the same record, still live at the server.
    assert_eq!(r.bot_record().await, bot);
    assert!(r.oauth.is_active(bot.access_token.expose()));
    assert!(r.oauth.is_active(bot_rt.expose()));

    // A bot tool refreshes the bot token on its own grant, and leaves the
    // user token alone.
    let out = r
        .connector
        .call(&r.cx, "lookup_user", json!({"user_id": "W012A3CDE"}))
        .await
        .unwrap();
    assert_eq!(out.structured.unwrap()["name"], "spengler");
    r.assert_no_violation();
    assert_eq!(
        r.oauth.counters().refresh_successes,
        after.refresh_successes + 1
    );
    assert!(!r.oauth.is_active(bot_rt.expose()), "the bot's rotated too");
    assert_ne!(r.bot_record().await.access_token, bot.access_token);
    assert_eq!(r.user_record().await, new_user);
}

#[tokio::test]
async fn invalid_auth_on_the_user_token_refreshes_it_once_and_retries_once() {
    let r = rig(TWELVE_HOURS).await;
    let bot = r.bot_record().await;
    let user = r.user_record().await;
    let before = r.oauth.counters().refresh_successes;

    // The token is good for 12 hours; Slack saying invalid_auth still
    // forces a refresh of it, and the search is sent once more.
    r.slack.fail_next("search.messages", "invalid_auth");
    let search = json!({"query": "release"});
    let out = r
        .connector
        .call(&r.cx, "search_messages", search)
        .await
        .unwrap();
    assert_eq!(out.structured.unwrap()["total"], 2);
    assert_eq!(r.oauth.counters().refresh_successes, before + 1);
    assert_eq!(r.slack.call_count("search.messages"), 2);
    r.assert_no_violation();
    let new_user = r.user_record().await;
    assert_ne!(new_user.access_token, user.access_token);
    assert_ne!(new_user.refresh_token, user.refresh_token);
    assert_eq!(r.bot_record().await, bot);

    // The rotated user token works, and it is a user token to Slack: a
    // channel's thread reads with it.
    let thread = json!({"channel": "C012AB3CD", "thread_ts": "1512104434.000490"});
    r.connector
        .call(&r.cx, "read_thread", thread)
        .await
        .unwrap();
    r.assert_no_violation();
    assert_eq!(r.oauth.counters().refresh_successes, before + 1);
}

#[tokio::test]
async fn a_dead_user_refresh_token_asks_for_reauthorization_and_spares_the_bot_token() {
    let r = rig(TWELVE_HOURS).await;
    let bot = r.bot_record().await;
    let user = r.user_record().await;
    // The user's grant is revoked at Slack: its refresh token now draws
    // `{"ok": false, "error": "invalid_refresh_token"}` with HTTP 200.
    assert!(r.oauth.revoke_grant(user.refresh_token.unwrap().expose()));
    r.slack.fail_next("search.messages", "invalid_auth");
    let e = r
        .connector
        .call(&r.cx, "search_messages", json!({"query": "release"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NeedsReauthorization, "{e}");
    assert!(e.needs_reauthorization());
    assert!(e.to_string().contains("invalid_refresh_token"), "{e}");
    for secret in r.oauth.issued_secrets() {
        assert!(!format!("{e} {e:?}").contains(secret.as_str()));
    }
    assert_eq!(r.slack.call_count("search.messages"), 1);
    assert!(
        r.engine
            .vault()
            .load_token(&user_key(USER))
            .await
            .unwrap()
            .is_none(),
        "the dead user grant is dropped"
    );

    // The bot token is kept and still serves the bot's tools.
    assert_eq!(r.bot_record().await, bot);
    let out = r
        .connector
        .call(&r.cx, "lookup_user", json!({"user_id": "W012A3CDE"}))
        .await
        .unwrap();
    assert!(!out.is_error);
    r.assert_no_violation();
}
