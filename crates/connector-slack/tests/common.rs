//! A fake Slack, a vault holding a user's token, and the connector between.

use std::time::Duration;

use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::vault::{TokenKey, TokenRecord, Vault, now_unix};
use connector_core::{AuthRequirement, CallContext, Connector, Content, Error, Secret, ToolOutput};
use connector_slack::{ClientOptions, SlackConnector};
use connector_testkit::slack::{FakeSlack, TokenKind};
use serde_json::Value;

pub const USER: &str = "alice";
pub const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

pub const USER_TOKEN: &str = "xoxp-17653672481-19874698323-2a8d9e5b7c1f4e3d";

pub const ALL_USER_SCOPES: &[&str] = &["search:read", "channels:history", "groups:history"];

pub const ALL_BOT_SCOPES: &[&str] = &[
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "reactions:write",
];

pub struct Setup {
    pub fake: FakeSlack,
    pub connector: SlackConnector,
    pub cx: CallContext,
}

impl Setup {
    pub async fn call(&self, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        self.connector.call(&self.cx, tool, args).await
    }

    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        self.ok_output(tool, args).await.structured.unwrap()
    }

    /// A call with a deadline `timeout` from now.
    pub async fn call_within(
        &self,
        timeout: Duration,
        tool: &str,
        args: Value,
    ) -> Result<ToolOutput, Error> {
        let cx = CallContext::new(USER).with_timeout(timeout);
        self.connector.call(&cx, tool, args).await
    }

    /// The error of a call that must fail.
    pub async fn err(&self, tool: &str, args: Value) -> Error {
        match self.call(tool, args).await {
            Ok(out) => panic!("{tool} succeeded: {out:?}"),
            Err(e) => e,
        }
    }

    /// The message `ts` of `channel` as the fake holds it.
    pub fn message(&self, channel: &str, ts: &str) -> Option<Value> {
        self.fake
            .messages(channel)
            .into_iter()
            .find(|m| m["ts"] == ts)
    }

    /// The whole output of a call that must succeed without a violation.
    pub async fn ok_output(&self, tool: &str, args: Value) -> ToolOutput {
        let out = self
            .call(tool, args)
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(!out.is_error);
        assert!(
            self.fake.violations().is_empty(),
            "{:?}",
            self.fake.violations()
        );
        out
    }

    /// The text a model reads from a call that must succeed.
    pub async fn text(&self, tool: &str, args: Value) -> String {
        text_of(&self.ok_output(tool, args).await)
    }
}

/// A stored grant of `token`, valid for an hour, in workspace `team` when
/// given.
pub fn record(token: &str, team: Option<&str>) -> TokenRecord {
    let mut extra = serde_json::Map::new();
    if let Some(team) = team {
        extra.insert("team_id".into(), team.into());
    }
    TokenRecord {
        access_token: Secret::new(token),
        refresh_token: None,
        token_type: "Bearer".into(),
        scopes: vec![],
        expires_at: Some(now_unix() + 3600),
        issuer: None,
        account_label: None,
        created_at: now_unix(),
        updated_at: now_unix(),
        extra,
    }
}

/// The one text block of a result.
pub fn text_of(out: &ToolOutput) -> String {
    assert_eq!(out.content.len(), 1, "{:?}", out.content);
    match &out.content[0] {
        Content::Text { text } => text.clone(),
        other => panic!("not text: {other:?}"),
    }
}

/// Where `user`'s bot token (the connection's own grant) is stored.
pub fn bot_key(user: &str) -> TokenKey {
    TokenKey::new("slack", user, None)
}

/// Where `user`'s own Slack token (the nested `authed_user` grant) is stored.
pub fn user_key(user: &str) -> TokenKey {
    bot_key(user).nested(connector_slack::USER_GRANT)
}

/// An engine whose vault holds `USER`'s bot token, if any.
pub async fn engine_with(token: Option<&str>) -> OAuthEngine {
    let records: Vec<_> = token
        .map(|t| (bot_key(USER), record(t, None)))
        .into_iter()
        .collect();
    engine_for(&records).await
}

/// An engine whose vault holds these grants.
pub async fn engine_for(records: &[(TokenKey, TokenRecord)]) -> OAuthEngine {
    let vault = Vault::in_memory().unwrap();
    for (key, record) in records {
        vault.save_token(key, record).await.unwrap();
    }
    let AuthRequirement::OAuth2(spec) = connector_slack::metadata().auth else {
        panic!("slack uses OAuth2");
    };
    OAuthEngine::builder(vault)
        .provider(OAuthProvider::new("slack", spec, None).unwrap())
        .build()
        .unwrap()
}

/// What the tests use: short waits.
pub fn test_options() -> ClientOptions {
    ClientOptions {
        max_retry_wait: Duration::from_secs(2),
        max_rate_limit_retries: 2,
        request_timeout: Duration::from_secs(10),
    }
}

/// `USER` connected with a bot token of `bot_scopes` and, when given, a
/// user token of `user_scopes`.
pub async fn setup_grants(
    bot_scopes: &[&str],
    user_scopes: Option<&[&str]>,
    options: ClientOptions,
) -> Setup {
    let fake = FakeSlack::start().await;
    fake.issue_token(BOT_TOKEN, TokenKind::Bot, bot_scopes);
    let mut records = vec![(bot_key(USER), record(BOT_TOKEN, None))];
    if let Some(scopes) = user_scopes {
        fake.issue_token(USER_TOKEN, TokenKind::User, scopes);
        records.push((user_key(USER), record(USER_TOKEN, None)));
    }
    let connector = SlackConnector::builder()
        .engine(engine_for(&records).await)
        .base_url(fake.url())
        .options(options)
        .build()
        .unwrap();
    Setup {
        fake,
        connector,
        cx: CallContext::new(USER),
    }
}

/// Both tokens, every scope the tools need.
pub async fn setup() -> Setup {
    setup_grants(ALL_BOT_SCOPES, Some(ALL_USER_SCOPES), test_options()).await
}

/// A connection without a user token (the user did not approve
/// `user_scope`), its bot token with `scopes`.
pub async fn setup_bot_only(scopes: &[&str]) -> Setup {
    setup_grants(scopes, None, test_options()).await
}
