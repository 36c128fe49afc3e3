//! `McpConnector`: any MCP server as a [`Connector`].
//!
//! Built from a [`ResolvedServer`] (an `[mcp_servers.<id>]` table with the
//! environment read) without any I/O. Per user it keeps one pooled session
//! ([`SessionPool`]) and a tool list cached for
//! [`ResolvedServer::tool_cache_ttl`]. Who the user is at the server is the
//! business of a [`CredentialsFactory`]: static headers, a bearer token from
//! the environment, the user's token for a configured provider from the vault
//! (with provider headers such as a cloud id taken from the token record), or
//! MCP authorization. Provider crates (Atlassian, GitHub, ...) build on
//! `McpConnector` with their own factory.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use connector_core::oauth::OAuthEngine;
use connector_core::{
    AuthRequirement, BackendKind, CallContext, Connector, ConnectorMetadata, Error, ErrorKind,
    Secret, ToolOutput, ToolSpec,
};
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

use crate::client::{CallOptions, ClientOptions, EraCache, McpClient};
use crate::config::{HeaderTemplate, McpServerConfig, ResolvedAuth, ResolvedServer};
use crate::credentials::{BearerChallenge, Credentials, RetryDecision, StaticHeaders};
use crate::pool::{BoxFuture, Lease, PooledSession, SessionKey, SessionPool};

impl PooledSession for McpClient {
    fn close(self) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Err(e) = McpClient::close(&self).await {
                tracing::debug!(error = %e, "closing a pooled MCP session");
            }
        })
    }
}

/// Makes the credentials one user presents to one server.
///
/// Implemented for closures `Fn(user, account) -> Result<Arc<dyn Credentials>, Error>`.
pub trait CredentialsFactory: Send + Sync {
    /// The credentials of `user` (and `account`). Called when a session is
    /// opened, so it must not do I/O itself: the returned credentials fetch
    /// tokens per request.
    fn credentials(&self, user: &str, account: Option<&str>)
    -> Result<Arc<dyn Credentials>, Error>;
}

impl<F> CredentialsFactory for F
where
    F: Fn(&str, Option<&str>) -> Result<Arc<dyn Credentials>, Error> + Send + Sync,
{
    fn credentials(
        &self,
        user: &str,
        account: Option<&str>,
    ) -> Result<Arc<dyn Credentials>, Error> {
        self(user, account)
    }
}

/// The same headers for every user (API keys, `auth = "none"`, bearer from
/// the environment).
#[derive(Debug, Clone)]
pub struct SharedHeaders(Arc<StaticHeaders>);

impl SharedHeaders {
    /// Wraps `headers`.
    pub fn new(headers: StaticHeaders) -> Self {
        SharedHeaders(Arc::new(headers))
    }
}

impl CredentialsFactory for SharedHeaders {
    fn credentials(&self, _: &str, _: Option<&str>) -> Result<Arc<dyn Credentials>, Error> {
        Ok(self.0.clone())
    }
}

/// Fixed headers layered around whatever per-user credentials supply:
/// `under` (configuration) loses to the inner credentials on a name clash,
/// `over` (for example the command line) wins over both. 401/403 handling
/// stays the inner credentials'.
#[derive(Debug)]
pub struct Layered {
    under: HeaderMap,
    inner: Arc<dyn Credentials>,
    over: HeaderMap,
}

impl Layered {
    /// `inner` over `base`.
    pub fn new(base: HeaderMap, inner: Arc<dyn Credentials>) -> Self {
        Layered {
            under: base,
            inner,
            over: HeaderMap::new(),
        }
    }

    /// `over` on top of `inner`: a name in `over` replaces the inner one.
    pub fn over(inner: Arc<dyn Credentials>, over: HeaderMap) -> Self {
        Layered {
            under: HeaderMap::new(),
            inner,
            over,
        }
    }
}

#[async_trait]
impl Credentials for Layered {
    async fn headers(&self, server: &Url) -> Result<HeaderMap, Error> {
        let mut out = self.under.clone();
        for (name, value) in self.inner.headers(server).await? {
            if let Some(name) = name {
                out.insert(name, value);
            }
        }
        for (name, value) in &self.over {
            out.insert(name.clone(), value.clone());
        }
        Ok(out)
    }

    async fn unauthorized(
        &self,
        server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<RetryDecision, Error> {
        self.inner.unauthorized(server, challenge).await
    }

    async fn insufficient_scope(
        &self,
        server: &Url,
        challenge: &BearerChallenge,
    ) -> Result<RetryDecision, Error> {
        self.inner.insufficient_scope(server, challenge).await
    }
}

/// The user's token for a configured OAuth provider, from the vault, plus
/// provider headers rendered from the token record's `extra` fields.
#[derive(Clone)]
pub struct ProviderTokens {
    engine: OAuthEngine,
    server: String,
    provider: String,
    headers: Arc<Vec<(HeaderName, HeaderTemplate)>>,
}

impl fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("server", &self.server)
            .field("provider", &self.provider)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ProviderTokens {
    /// Tokens of `provider` (an id the engine knows) for server `server`;
    /// `headers` are sent besides `Authorization`.
    pub fn new(
        engine: OAuthEngine,
        server: &str,
        provider: &str,
        headers: Vec<(String, HeaderTemplate)>,
    ) -> Result<Self, Error> {
        let headers = headers
            .into_iter()
            .map(|(name, t)| {
                HeaderName::from_bytes(name.trim().as_bytes())
                    .map(|n| (n, t))
                    .map_err(|_| {
                        Error::config(format!(
                            "[mcp_servers.{server}] auth.headers: `{name}` is not a valid HTTP header name"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProviderTokens {
            engine,
            server: server.to_owned(),
            provider: provider.to_owned(),
            headers: Arc::new(headers),
        })
    }
}

impl CredentialsFactory for ProviderTokens {
    fn credentials(
        &self,
        user: &str,
        account: Option<&str>,
    ) -> Result<Arc<dyn Credentials>, Error> {
        Ok(Arc::new(UserProviderTokens {
            tokens: self.clone(),
            user: user.to_owned(),
            account: account.map(str::to_owned),
        }))
    }
}

#[derive(Debug)]
struct UserProviderTokens {
    tokens: ProviderTokens,
    user: String,
    account: Option<String>,
}

impl UserProviderTokens {
    fn explain(&self, e: Error) -> Error {
        if e.needs_reauthorization() {
            let kind = e.kind();
            let provider = &self.tokens.provider;
            return Error::new(
                kind,
                format!(
                    "the MCP server `{}` needs the user's `{provider}` connection: {}",
                    self.tokens.server,
                    e.detail()
                ),
            )
            .with_provider(provider.clone());
        }
        e
    }

    fn render(&self, record: &connector_core::vault::TokenRecord) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", record.access_token.expose()))
            .map_err(|_| {
            Error::new(
                ErrorKind::Provider,
                format!(
                    "the `{}` access token is not a valid header value",
                    self.tokens.provider
                ),
            )
        })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        for (name, template) in self.tokens.headers.iter() {
            let value = template.render(&record.extra).ok_or_else(|| {
                Error::config(format!(
                    "[mcp_servers.{}] auth.headers.{name}: the user's `{}` token record lacks a field it names",
                    self.tokens.server, self.tokens.provider
                ))
            })?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                Error::config(format!(
                    "[mcp_servers.{}] auth.headers.{name}: not a valid header value",
                    self.tokens.server
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(name.clone(), value);
        }
        Ok(headers)
    }
}

#[async_trait]
impl Credentials for UserProviderTokens {
    async fn headers(&self, _server: &Url) -> Result<HeaderMap, Error> {
        let record = self
            .tokens
            .engine
            .access(&self.user, &self.tokens.provider, self.account.as_deref())
            .await
            .map_err(|e| self.explain(e))?;
        self.render(&record)
    }

    async fn unauthorized(
        &self,
        _server: &Url,
        _challenge: Option<&BearerChallenge>,
    ) -> Result<RetryDecision, Error> {
        // The token may have been revoked or expired early: refresh once
        // (single-flight in the engine) and let the client retry.
        self.tokens
            .engine
            .refresh(&self.user, &self.tokens.provider, self.account.as_deref())
            .await
            .map_err(|e| self.explain(e))?;
        Ok(RetryDecision::Retry)
    }
}

/// The static header set of a resolved server: its `headers`, plus
/// `Authorization: Bearer` for `auth = { type = "bearer" }`.
pub fn static_headers(server: &ResolvedServer) -> Result<StaticHeaders, Error> {
    let bearer = match &server.auth {
        ResolvedAuth::Bearer(token) => Some(Secret::new(format!("Bearer {}", token.expose()))),
        _ => None,
    };
    let pairs = server
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.expose()))
        .chain(bearer.as_ref().map(|b| ("Authorization", b.expose())));
    StaticHeaders::from_pairs(pairs).map_err(|e| {
        Error::config(format!(
            "[mcp_servers.{}] headers: {}",
            server.id,
            e.detail()
        ))
    })
}

struct CachedTools {
    at: Instant,
    /// The pooled session the list came from ([`Lease::session_id`]) and
    /// its tools generation then: when that session has since seen
    /// `notifications/tools/list_changed`, the list is stale.
    session: u64,
    generation: u64,
    specs: Arc<Vec<ToolSpec>>,
    names: Arc<HashSet<String>>,
}

/// A user's tools and their names.
type ToolList = (Arc<Vec<ToolSpec>>, Arc<HashSet<String>>);

/// Bound on the per-user tool cache; expired entries go first when full.
const MAX_CACHED_TOOL_LISTS: usize = 4096;

/// An MCP server as a connector. Cheap to share (`Arc`).
pub struct McpConnector {
    metadata: ConnectorMetadata,
    server: Arc<ResolvedServer>,
    credentials: Arc<dyn CredentialsFactory>,
    pool: SessionPool<McpClient>,
    /// One connection pool for every session of this connector (the one
    /// given to [`McpConnectorBuilder::http`], or one built with
    /// [`crate::http::default_client`]).
    http: reqwest::Client,
    era_cache: EraCache,
    tools: Mutex<HashMap<(String, Option<String>), CachedTools>>,
}

impl fmt::Debug for McpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpConnector")
            .field("id", &self.metadata.id)
            .field("transport", &self.server.transport)
            .finish_non_exhaustive()
    }
}

/// Builds an [`McpConnector`]; fails at [`McpConnectorBuilder::build`].
pub struct McpConnectorBuilder {
    server: ResolvedServer,
    mcp_auth: Option<(crate::auth::McpAuth, crate::auth::Interaction)>,
    credentials: Option<Arc<dyn CredentialsFactory>>,
    engine: Option<OAuthEngine>,
    http: Option<reqwest::Client>,
    era_cache: Option<EraCache>,
    metadata: Option<ConnectorMetadata>,
}

impl McpConnectorBuilder {
    /// Per-user credentials (overrides what `auth` would build; the
    /// configured static headers still go under them).
    pub fn credentials(mut self, factory: Arc<dyn CredentialsFactory>) -> Self {
        self.credentials = Some(factory);
        self
    }

    /// MCP authorization, for `auth = { type = "oauth" }`: each user gets an
    /// [`McpOAuth`](crate::auth::McpOAuth) for this server, which runs
    /// `interaction` when the user must authorize.
    pub fn mcp_auth(
        mut self,
        auth: crate::auth::McpAuth,
        interaction: crate::auth::Interaction,
    ) -> Self {
        self.mcp_auth = Some((auth, interaction));
        self
    }

    /// The OAuth engine, for `auth = { type = "provider" }`.
    pub fn oauth(mut self, engine: OAuthEngine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Shares an HTTP connection pool. Without it the connector builds one
    /// with [`crate::http::default_client`], shared by all its sessions.
    pub fn http(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Shares the era cache between connectors.
    pub fn era_cache(mut self, cache: EraCache) -> Self {
        self.era_cache = Some(cache);
        self
    }

    /// Replaces the metadata built from configuration (provider crates
    /// describe themselves). The id must stay the server id.
    pub fn metadata(mut self, metadata: ConnectorMetadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Checks the configuration and builds. No I/O.
    pub fn build(self) -> Result<McpConnector, Error> {
        let server = self.server;
        let id = server.id.clone();
        let base = static_headers(&server)?;
        let credentials: Arc<dyn CredentialsFactory> = match (self.credentials, &server.auth) {
            (Some(custom), _) if base.headers().is_empty() => custom,
            (Some(custom), _) => {
                let base = base.headers().clone();
                Arc::new(move |user: &str, account: Option<&str>| {
                    let inner = custom.credentials(user, account)?;
                    Ok(Arc::new(Layered::new(base.clone(), inner)) as Arc<dyn Credentials>)
                })
            }
            (None, ResolvedAuth::None | ResolvedAuth::Bearer(_)) => {
                Arc::new(SharedHeaders::new(base))
            }
            (None, ResolvedAuth::Provider { provider, headers }) => {
                let engine = self.engine.ok_or_else(|| {
                    Error::config(format!(
                        "[mcp_servers.{id}] auth: type \"provider\" needs the OAuth engine (the token vault)"
                    ))
                })?;
                engine.provider(provider).map_err(|_| {
                    Error::config(format!(
                        "[mcp_servers.{id}] auth.provider: no provider `{provider}` is configured or registered"
                    ))
                })?;
                let tokens = ProviderTokens::new(engine, &id, provider, headers.clone())?;
                if base.headers().is_empty() {
                    Arc::new(tokens)
                } else {
                    let base = base.headers().clone();
                    Arc::new(move |user: &str, account: Option<&str>| {
                        let inner = tokens.credentials(user, account)?;
                        Ok(Arc::new(Layered::new(base.clone(), inner)) as Arc<dyn Credentials>)
                    })
                }
            }
            (None, ResolvedAuth::OAuth { .. }) => {
                let Some((auth, interaction)) = self.mcp_auth else {
                    return Err(Error::config(format!(
                        "[mcp_servers.{id}] auth: type \"oauth\" needs MCP authorization (McpAuth) or a credentials factory"
                    )));
                };
                let url = server.url.to_string();
                if let Some(configured) = server.oauth_client()
                    && auth.server_client(&url) != Some(&configured)
                {
                    return Err(Error::config(format!(
                        "[mcp_servers.{id}] auth.client_id: the McpAuth given does not carry this server's client; build it with McpAuthBuilder::server_client(url, server.oauth_client())"
                    )));
                }
                let base = base.headers().clone();
                Arc::new(move |user: &str, _account: Option<&str>| {
                    let inner: Arc<dyn Credentials> =
                        Arc::new(auth.for_user(user, &url, interaction.clone())?);
                    Ok(if base.is_empty() {
                        inner
                    } else {
                        Arc::new(Layered::new(base.clone(), inner)) as Arc<dyn Credentials>
                    })
                })
            }
        };
        let metadata = match self.metadata {
            Some(m) if m.id != id => {
                return Err(Error::config(format!(
                    "McpConnector: metadata id `{}` differs from the server id `{id}`",
                    m.id
                )));
            }
            Some(m) => m,
            None => describe(&server),
        };
        Ok(McpConnector {
            metadata,
            pool: SessionPool::new(server.pool),
            server: Arc::new(server),
            credentials,
            http: self.http.unwrap_or_else(crate::http::default_client),
            era_cache: self.era_cache.unwrap_or_default(),
            tools: Mutex::new(HashMap::new()),
        })
    }
}

/// The metadata of a configured server: backend `mcp`.
pub fn describe(server: &ResolvedServer) -> ConnectorMetadata {
    ConnectorMetadata {
        id: server.id.clone(),
        display_name: server.display_name.clone(),
        description: server.description.clone(),
        icon_url: None,
        docs_url: None,
        backend: BackendKind::Mcp,
        auth: auth_requirement(matches!(server.auth, ResolvedAuth::Bearer(_))),
    }
}

fn auth_requirement(bearer: bool) -> AuthRequirement {
    if bearer {
        AuthRequirement::ApiKey {
            header: "Authorization".to_owned(),
        }
    } else {
        // MCP authorization and provider tokens are per user, obtained by
        // flows the metadata cannot describe as a fixed OAuth2 spec.
        AuthRequirement::None
    }
}

/// The metadata of `[mcp_servers.<id>]`, without reading the environment
/// (for listings).
pub fn describe_config(id: &str, config: &McpServerConfig) -> ConnectorMetadata {
    ConnectorMetadata {
        id: id.to_owned(),
        display_name: config.display_name.clone().unwrap_or_else(|| id.to_owned()),
        description: config
            .description
            .clone()
            .unwrap_or_else(|| format!("Tools from the MCP server `{id}`.")),
        icon_url: None,
        docs_url: None,
        backend: BackendKind::Mcp,
        auth: auth_requirement(matches!(
            config.auth,
            crate::config::McpAuthConfig::Bearer { .. }
        )),
    }
}

impl McpConnector {
    /// A builder for `server`.
    pub fn builder(server: ResolvedServer) -> McpConnectorBuilder {
        McpConnectorBuilder {
            server,
            mcp_auth: None,
            credentials: None,
            engine: None,
            http: None,
            era_cache: None,
            metadata: None,
        }
    }

    /// `[mcp_servers.<id>]` with the process environment read.
    pub fn from_config(id: &str, config: &McpServerConfig) -> Result<McpConnectorBuilder, Error> {
        Ok(Self::builder(config.resolve(id)?))
    }

    /// The resolved server configuration.
    pub fn server(&self) -> &ResolvedServer {
        &self.server
    }

    /// The session pool (for statistics).
    pub fn pool(&self) -> &SessionPool<McpClient> {
        &self.pool
    }

    /// The options a session of `user` connects with.
    pub fn client_options(
        &self,
        user: &str,
        account: Option<&str>,
    ) -> Result<ClientOptions, Error> {
        let credentials = self.credentials.credentials(user, account)?;
        Ok(ClientOptions::new(self.server.url.clone())
            .with_transport(self.server.transport)
            .with_credentials(credentials)
            .with_request_timeout(self.server.timeout)
            .with_era_cache(self.era_cache.clone())
            .with_http(self.http.clone()))
    }

    fn key(&self, cx: &CallContext) -> SessionKey {
        SessionKey::new(cx.user(), cx.account(), &self.metadata.id)
    }

    /// Says which server an error came from (the client names the
    /// server's origin; callers know the server by its id), and asks for
    /// authorization in the server's name when the server wants it.
    fn name_errors(&self, e: Error) -> Error {
        let id = &self.metadata.id;
        let origin = match e.provider() {
            None => None,
            Some(p) if p.contains("://") => Some(p.to_owned()),
            // MCP authorization's engine provider (`mcp_<hash>`) means
            // nothing to callers: the server id does. The model message
            // (with the link to connect) is kept.
            Some(_) if matches!(self.server.auth, ResolvedAuth::OAuth { .. }) => None,
            // A provider id (the vault's provider for `auth = "provider"`).
            Some(_) => return e,
        };
        let detail = if e.needs_reauthorization() {
            format!("MCP server `{id}` requires authorization: {}", e.detail())
        } else {
            e.detail().to_owned()
        };
        let mut named = Error::new(e.kind(), detail).with_provider(id.clone());
        let message = e.model_message();
        if origin.as_deref().is_none_or(|o| !message.contains(o))
            && !message.contains("the provider")
        {
            named = named.with_model_message(message);
        }
        if let Some(r) = e.retry_after() {
            named = named.with_retry_after(r);
        }
        named.with_source(e)
    }

    async fn connect(&self, cx: &CallContext) -> Result<McpClient, Error> {
        let options = self.client_options(cx.user(), cx.account())?;
        McpClient::connect(options).await
    }

    /// Runs `f` under the context's deadline, as a timeout error naming the
    /// server.
    async fn within<T>(
        &self,
        cx: &CallContext,
        what: &str,
        f: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let late = || {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what} on MCP server `{}` passed the caller's deadline",
                    self.metadata.id
                ),
            )
        };
        match cx.remaining() {
            None => f.await,
            // A deadline already passed starts nothing (a zero timeout
            // would still poll `f` once, and a fast server could answer).
            Some(left) if left.is_zero() => Err(late()),
            Some(left) => match tokio::time::timeout(left, f).await {
                Ok(r) => r,
                Err(_) => Err(late()),
            },
        }
    }

    /// The cached list, unless it expired or the session it came from has
    /// heard that the list changed. (When that session is gone, the list
    /// stands until it expires: a new session is not opened to check.)
    fn cached(&self, user_key: &(String, Option<String>), key: &SessionKey) -> Option<ToolList> {
        let live = self.pool.peek(key);
        let mut cache = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let entry = cache.get(user_key)?;
        if entry.at.elapsed() >= self.server.tool_cache_ttl {
            return None;
        }
        if let Some((session, client)) = live
            && session == entry.session
            && client.tools_generation() != entry.generation
        {
            cache.remove(user_key);
            return None;
        }
        Some((entry.specs.clone(), entry.names.clone()))
    }

    /// `tools/list` on the key's pooled session, with the session's
    /// identity and tools generation from before the request.
    async fn list_on_session(
        &self,
        cx: &CallContext,
        key: &SessionKey,
    ) -> Result<(u64, u64, Arc<Vec<crate::client::McpTool>>), Error> {
        let lease: Lease<McpClient> = self.pool.get(key, || self.connect(cx)).await?;
        let generation = lease.tools_generation();
        // Asked of the server: the connector lists only when its own cache
        // (bounded by `tool_cache_ttl`) has nothing current, and the
        // session's cache would otherwise outlive that bound.
        let result = lease.refresh_tools().await;
        if let Err(e) = &result
            && crate::pool::is_session_error(e)
        {
            tracing::debug!(session = %key, error = %e, "dropping a broken MCP session");
            self.pool.invalidate(&lease);
        }
        Ok((lease.session_id(), generation, result?))
    }

    /// The user's tools, from the cache or the server.
    async fn tool_list(&self, cx: &CallContext, fresh: bool) -> Result<ToolList, Error> {
        let user_key = (cx.user().to_owned(), cx.account().map(str::to_owned));
        let key = self.key(cx);
        if !fresh && let Some(hit) = self.cached(&user_key, &key) {
            return Ok(hit);
        }
        // Listing is safe to repeat: once more on a fresh session when the
        // pooled one turned out broken.
        let (session, generation, tools) = match self.list_on_session(cx, &key).await {
            Err(e) if crate::pool::is_session_error(&e) => self.list_on_session(cx, &key).await?,
            other => other?,
        };
        let mut specs = Vec::with_capacity(tools.len());
        for tool in tools.iter() {
            match crate::convert::tool_spec(tool) {
                Ok(spec) => specs.push(spec),
                Err(e) => tracing::warn!(
                    server = %self.metadata.id,
                    tool = %tool.name,
                    error = %e,
                    "skipping an MCP tool that cannot be described"
                ),
            }
        }
        let names: HashSet<String> = specs.iter().map(|s| s.name.clone()).collect();
        let (specs, names) = (Arc::new(specs), Arc::new(names));
        let mut cache = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_TOOL_LISTS {
            let ttl = self.server.tool_cache_ttl;
            cache.retain(|_, c| c.at.elapsed() < ttl);
            if cache.len() >= MAX_CACHED_TOOL_LISTS {
                cache.clear();
            }
        }
        cache.insert(
            user_key,
            CachedTools {
                at: Instant::now(),
                session,
                generation,
                specs: specs.clone(),
                names: names.clone(),
            },
        );
        Ok((specs, names))
    }

    /// Forgets `user`'s cached tool list (all accounts).
    pub fn invalidate_tools(&self, user: &str) {
        let mut cache = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(u, _), _| u != user);
    }
}

#[async_trait]
impl Connector for McpConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn tools(&self, cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        let (specs, _) = self
            .within(cx, "tools/list", self.tool_list(cx, false))
            .await
            .map_err(|e| self.name_errors(e))?;
        Ok(specs.as_ref().clone())
    }

    async fn call(&self, cx: &CallContext, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        let arguments: Map<String, Value> = match args {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(Error::invalid_arguments(format!(
                    "the arguments of `{tool}` must be a JSON object, not {}",
                    kind_of(&other)
                )));
            }
        };
        let work = async {
            let (_, names) = self.tool_list(cx, false).await?;
            if !names.contains(tool) {
                // The list may have changed since it was cached.
                let (_, names) = self.tool_list(cx, true).await?;
                if !names.contains(tool) {
                    return Err(Error::unknown_tool(tool));
                }
            }
            let key = self.key(cx);
            let options = CallOptions {
                timeout: Some(self.server.timeout),
                progress: None,
            };
            self.pool
                .with_session(
                    &key,
                    || self.connect(cx),
                    |client| async move { client.call_tool(tool, arguments, options).await },
                )
                .await
        };
        let result = self
            .within(cx, "tools/call", work)
            .await
            .map_err(|e| self.name_errors(e))?;
        Ok(result.output)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
