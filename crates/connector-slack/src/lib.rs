#![doc = include_str!("../README.md")]

pub mod client;
mod summary;
mod tools;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::oauth::OAuthEngine;
use connector_core::vault::TokenRecord;
use connector_core::{
    AuthRequirement, BackendKind, BuildContext, CallContext, ClientAuthMethod, Connector,
    ConnectorMetadata, DynTool, Error, ErrorKind, OAuth2Spec, RegisteredConnector, ToolOutput,
    ToolSpec,
};
use serde_json::Value;

pub use crate::client::{ClientOptions, Credential, SlackClient};

/// The provider id: the `[providers.slack]` table, the vault key, the
/// catalog prefix.
pub const PROVIDER: &str = "slack";

/// The Web API base URL.
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api";

/// The scopes asked for by default (bot scopes; Slack separates them with
/// commas).
pub const DEFAULT_SCOPES: &[&str] = &[
    "chat:write",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "users:read",
    "users:read.email",
    "reactions:write",
];

/// The user-token scopes asked for by default (`user_scope`): Slack serves
/// `search.messages` to user tokens only, and `conversations.replies` in
/// public and private channels too (bot tokens: direct messages only).
pub const USER_SCOPES: &[&str] = &["search:read", "channels:history", "groups:history"];

/// The nested grant that holds the user token: `oauth.v2.access` answers
/// the bot token at the top level and the user token under `authed_user`.
pub const USER_GRANT: &str = "authed_user";

/// The connector's metadata: OAuth v2 at slack.com.
pub fn metadata() -> ConnectorMetadata {
    let mut spec = OAuth2Spec::new(
        "https://slack.com/oauth/v2/authorize",
        "https://slack.com/api/oauth.v2.access",
    );
    spec.revocation_url = None;
    spec.client_auth = ClientAuthMethod::ClientSecretBasic;
    spec.scope_separator = ",".to_owned();
    spec.default_scopes = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    // User scopes travel in their own parameter, and the user token comes
    // back nested under `authed_user` (stored as a grant of its own,
    // rotated with its own refresh token).
    spec.extra_authorize_params = vec![("user_scope".to_owned(), USER_SCOPES.join(","))];
    spec.nested_grants = vec![USER_GRANT.to_owned()];
    ConnectorMetadata {
        id: PROVIDER.to_owned(),
        display_name: "Slack".to_owned(),
        description: "Slack messages, channels, threads, users and reactions.".to_owned(),
        icon_url: None,
        docs_url: Some("https://docs.slack.dev/reference/methods".to_owned()),
        backend: BackendKind::Direct,
        auth: AuthRequirement::OAuth2(spec),
    }
}

/// Where tools get the user's token and the client.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: SlackClient,
    engine: OAuthEngine,
    provider: String,
    /// Channel names already resolved to ids, per user and account.
    pub(crate) channel_ids: ChannelIds,
}

/// Channel names resolved to ids, kept `CHANNEL_ID_TTL` so that posting by
/// name does not list every channel each time (a large workspace takes
/// dozens of `conversations.list` pages). A renamed channel is seen after
/// the TTL at worst; bounded to `CAP` entries.
#[derive(Debug, Default)]
pub(crate) struct ChannelIds {
    map: std::sync::Mutex<std::collections::HashMap<NameKey, (String, std::time::Instant)>>,
}

/// User, account, channel name.
type NameKey = (String, Option<String>, String);

impl ChannelIds {
    const TTL: Duration = Duration::from_secs(600);
    const CAP: usize = 4096;

    pub(crate) fn get(&self, cx: &CallContext, name: &str) -> Option<String> {
        let map = self.map.lock().ok()?;
        map.get(&Self::key(cx, name))
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(id, _)| id.clone())
    }

    pub(crate) fn put(&self, cx: &CallContext, name: &str, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= Self::CAP {
                map.retain(|_, (_, at)| at.elapsed() < Self::TTL);
                if map.len() >= Self::CAP {
                    map.clear();
                }
            }
            map.insert(
                Self::key(cx, name),
                (id.to_owned(), std::time::Instant::now()),
            );
        }
    }

    fn key(cx: &CallContext, name: &str) -> NameKey {
        (
            cx.user().to_owned(),
            cx.account().map(str::to_owned),
            name.to_owned(),
        )
    }
}

/// Which of the connection's two tokens a call is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// The app's bot token (`xoxb-`), the connection's own grant.
    Bot,
    /// The user's own token (`xoxp-`), the nested `authed_user` grant.
    User,
}

impl Shared {
    /// Calls `method` with the user's `kind` of token; an `invalid_auth` (or
    /// `token_expired`) answer leads to one refresh of that token and one
    /// retry, which is safe for writes too since Slack refused the request
    /// before running it.
    pub(crate) async fn call(
        &self,
        cx: &CallContext,
        kind: TokenKind,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, Error> {
        self.with_credential(cx, kind, |c| async move {
            self.client.call(cx, &c, method, params).await
        })
        .await
    }

    /// Like [`SlackClient::paginate`], with the user's `kind` of token.
    pub(crate) async fn paginate(
        &self,
        cx: &CallContext,
        kind: TokenKind,
        method: &str,
        params: &[(&str, String)],
        key: &str,
        limit: usize,
    ) -> Result<(Vec<Value>, bool), Error> {
        self.with_credential(cx, kind, |c| async move {
            self.client
                .paginate(cx, &c, method, params, key, limit)
                .await
        })
        .await
    }

    /// Runs `f` with the user's credential, and once more with a refreshed
    /// one when Slack says the first is no longer valid.
    async fn with_credential<T, F, Fut>(
        &self,
        cx: &CallContext,
        kind: TokenKind,
        f: F,
    ) -> Result<T, Error>
    where
        F: Fn(Credential) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        match f(self.credential(cx, kind, false).await?).await {
            Err(e) if refreshable(&e) => f(self.credential(cx, kind, true).await?).await,
            other => other,
        }
    }

    /// The user's `kind` of credential, refreshed first when `refresh`.
    async fn credential(
        &self,
        cx: &CallContext,
        kind: TokenKind,
        refresh: bool,
    ) -> Result<Credential, Error> {
        let (user, provider, account) = (cx.user(), self.provider.as_str(), cx.account());
        let e = &self.engine;
        let record = match (kind, refresh) {
            (TokenKind::Bot, false) => e.access(user, provider, account).await,
            (TokenKind::Bot, true) => e.refresh(user, provider, account).await,
            (TokenKind::User, false) => e.access_nested(user, provider, account, USER_GRANT).await,
            (TokenKind::User, true) => e.refresh_nested(user, provider, account, USER_GRANT).await,
        };
        match record {
            Ok(record) => Ok(credential(record)),
            Err(e) if kind == TokenKind::User && e.kind() == ErrorKind::NeedsAuthorization => {
                Err(no_user_token(e))
            }
            Err(e) => Err(e),
        }
    }
}

/// The model's side of a missing user token: what to ask the user.
fn no_user_token(e: Error) -> Error {
    e.with_model_message(format!(
        "This needs the user's own Slack token, which this Slack connection does not have \
         (the user scopes {} are asked for with `user_scope`). Ask the user to reconnect Slack \
         and approve the permissions requested on their own behalf, not only the app's.",
        USER_SCOPES.join(", ")
    ))
}

/// Whether `e` is Slack saying the token is no longer valid (which a
/// refresh may cure), rather than revoked.
fn refreshable(e: &Error) -> bool {
    e.kind() == ErrorKind::NeedsReauthorization
        && (e.detail().ends_with("invalid_auth") || e.detail().ends_with("token_expired"))
}

/// The token of `record`, with its workspace when the record names it
/// (`team_id`, or `team` as an id or as Slack's `{"id": …}` object).
fn credential(record: TokenRecord) -> Credential {
    let team = record
        .extra
        .get("team_id")
        .or_else(|| record.extra.get("team"))
        .and_then(|t| t.as_str().or_else(|| t.get("id").and_then(Value::as_str)))
        .filter(|t| !t.is_empty() && t.len() <= 64)
        .map(str::to_owned);
    Credential {
        token: record.access_token,
        team,
    }
}

/// The Slack connector.
#[derive(Debug)]
pub struct SlackConnector {
    metadata: ConnectorMetadata,
    tools: BTreeMap<String, DynTool>,
    specs: Vec<ToolSpec>,
}

impl SlackConnector {
    /// A builder; `engine` is required.
    pub fn builder() -> SlackConnectorBuilder {
        SlackConnectorBuilder::default()
    }
}

/// Builds a [`SlackConnector`]; fails at [`SlackConnectorBuilder::build`].
#[derive(Debug, Default)]
pub struct SlackConnectorBuilder {
    engine: Option<OAuthEngine>,
    base_url: Option<String>,
    options: Option<ClientOptions>,
}

impl SlackConnectorBuilder {
    /// The OAuth engine that hands out the users' tokens.
    pub fn engine(mut self, engine: OAuthEngine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The Web API base URL (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Rate-limit and timeout behaviour.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Builds the connector. Does no I/O.
    pub fn build(self) -> Result<SlackConnector, Error> {
        let engine = self
            .engine
            .ok_or_else(|| Error::config("slack: the connector needs an OAuth engine"))?;
        let base_url = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let parsed = url::Url::parse(&base_url)
            .map_err(|_| Error::config("[providers.slack] base_url is not a valid URL"))?;
        let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(Error::config(
                "[providers.slack] base_url must be https (plain http only to loopback)",
            ));
        }
        let client = SlackClient::new(&base_url, self.options.unwrap_or_default())?;
        let shared = Arc::new(Shared {
            client,
            engine,
            provider: PROVIDER.to_owned(),
            channel_ids: ChannelIds::default(),
        });
        let tools = tools::all(&shared)?;
        let specs = tools.iter().map(|t| t.spec().clone()).collect();
        Ok(SlackConnector {
            metadata: metadata(),
            tools: tools
                .into_iter()
                .map(|t| (t.name().to_owned(), t))
                .collect(),
            specs,
        })
    }
}

#[async_trait]
impl Connector for SlackConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(self.specs.clone())
    }

    async fn call(&self, cx: &CallContext, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        let Some(t) = self.tools.get(tool) else {
            return Err(Error::unknown_tool(tool).with_provider(PROVIDER));
        };
        t.call(cx, args).await
    }
}

impl RegisteredConnector for SlackConnector {
    fn describe() -> ConnectorMetadata {
        metadata()
    }

    fn build(cx: &BuildContext) -> Result<Self, Error> {
        let mut b = SlackConnector::builder().engine(cx.oauth.clone());
        if let Some(url) = cx.settings.as_ref().and_then(|s| s.base_url.clone()) {
            b = b.base_url(url);
        }
        b.build()
    }
}

connector_core::register_connector!(SlackConnector);
