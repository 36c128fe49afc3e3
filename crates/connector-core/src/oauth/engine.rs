//! The engine itself: `begin`, `complete`, `access`, `disconnect`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http::{HttpError, OAuthHttp};
use super::{OAuthProvider, check_endpoint_url};
use crate::vault::{StoreKey, TokenKey, TokenRecord, Vault, now_unix};
use crate::{ClientAuthMethod, Error, ErrorKind, Secret};

const NS_REAUTH: &str = "reauth";
const STATE_BYTES: u32 = 32;

/// The token response's fields beyond the standard ones. Kept in the
/// record: scalars whose name does not suggest a secret (`id_token` and the
/// like are dropped), and for an object with a string `id` that id alone,
/// as `<name>_id` (a workspace's `team: {"id": …, "name": …}` is kept as
/// `team_id`). Other objects and arrays are dropped; nested grants such as
/// `authed_user` are stored as records of their own.
///
/// `Debug` prints only the field names: values may be tokens.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
struct ExtraFields(Map<String, Value>);

impl oauth2::ExtraTokenFields for ExtraFields {}

impl std::fmt::Debug for ExtraFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl ExtraFields {
    /// What a record keeps of these fields; `nested` names the nested
    /// grants, whose objects are records of their own.
    fn non_secret(&self, nested: &[String]) -> Map<String, Value> {
        non_secret(&self.0, nested)
    }
}

/// Whether a field's name suggests it holds a secret.
fn secret_like(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("token") || name.contains("secret") || name.contains("password")
}

/// The longest provider id kept from an object (ids are short; anything
/// longer is not an id worth keeping).
const MAX_ID_LEN: usize = 256;

/// The scalars of `fields` whose name does not suggest a secret, plus the
/// ids of its objects ([`object_ids`]); the objects named in `nested` are
/// skipped.
fn non_secret(fields: &Map<String, Value>, nested: &[String]) -> Map<String, Value> {
    let mut out = scalars(fields);
    for (k, v) in object_ids(fields, nested) {
        // A scalar the provider sent under the same name wins.
        out.entry(k).or_insert(v);
    }
    out
}

/// The scalars of `fields` whose name does not suggest a secret.
fn scalars(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(k, v)| !secret_like(k) && !v.is_object() && !v.is_array())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `<name>_id` for each object-valued field `<name>` of `fields` that has a
/// string `id` (`team: {"id": "T1", …}` gives `team_id: "T1"`), except the
/// objects named in `nested` and any whose name suggests a secret. Nothing
/// else of the object is kept.
fn object_ids(fields: &Map<String, Value>, nested: &[String]) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(k, _)| !secret_like(k) && !nested.iter().any(|n| n == *k))
        .filter_map(|(k, v)| {
            let id = v.as_object()?.get("id")?.as_str()?;
            (!id.is_empty() && id.len() <= MAX_ID_LEN)
                .then(|| (format!("{k}_id"), Value::String(id.to_owned())))
        })
        .collect()
}

type TokenResp = StandardTokenResponse<ExtraFields, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Refresh when the access token expires within this margin.
    pub refresh_margin: Duration,
    /// A random extra margin in `[0, jitter)`, so that many workers do not
    /// all refresh in the same second.
    pub refresh_jitter: Duration,
    /// How long an authorization may take (the state's lifetime).
    pub state_ttl: Duration,
    /// How long the cross-process refresh lock lives if its holder dies.
    pub lock_ttl: Duration,
    /// How long to wait for another process's refresh before failing.
    pub lock_wait: Duration,
    /// Timeout of one token-endpoint request.
    pub request_timeout: Duration,
    /// Attempts at a token-endpoint request that fails transiently.
    pub max_attempts: u32,
    /// The first retry's backoff (doubled each time, with jitter).
    pub retry_backoff: Duration,
    /// [`OAuthEngine::access`] hands out a record this process read or
    /// wrote less than this long ago without reading the store again (zero:
    /// read on every call). Refreshes, writes and revocations by this process
    /// are seen at once; by another process within this time. Since a
    /// replaced access token stays valid until it expires and a revoked one
    /// draws a 401 (which makes connectors call [`OAuthEngine::refresh`],
    /// which always reads the store), the staleness is harmless; it saves the
    /// store round trip that is otherwise most of a direct call's overhead.
    pub token_reuse: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            refresh_margin: Duration::from_secs(60),
            refresh_jitter: Duration::from_secs(30),
            state_ttl: Duration::from_secs(600),
            lock_ttl: Duration::from_secs(30),
            lock_wait: Duration::from_secs(30),
            request_timeout: Duration::from_secs(15),
            max_attempts: 3,
            retry_backoff: Duration::from_millis(250),
            token_reuse: Duration::from_secs(2),
        }
    }
}

/// Builds an [`OAuthEngine`].
#[derive(Debug)]
pub struct OAuthEngineBuilder {
    vault: Vault,
    providers: Vec<OAuthProvider>,
    options: EngineOptions,
    http: Option<reqwest::Client>,
}

impl OAuthEngineBuilder {
    /// Adds a provider.
    pub fn provider(mut self, provider: OAuthProvider) -> Self {
        self.providers.push(provider);
        self
    }

    /// Sets the tunables.
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Uses `client` for token-endpoint calls. It must not follow redirects
    /// (a redirected POST can turn into a GET that leaks the code in a URL).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Checks the providers' endpoints and builds the engine. Does no I/O.
    pub fn build(self) -> Result<OAuthEngine, Error> {
        let mut providers = HashMap::new();
        for p in self.providers {
            check_provider(&p)?;
            if providers.contains_key(&p.id) {
                return Err(Error::config(format!("provider `{}` declared twice", p.id)));
            }
            providers.insert(p.id.clone(), Arc::new(p));
        }
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.options.request_timeout)
                .connect_timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| Error::internal(format!("building the HTTP client: {e}")))?,
        };
        Ok(OAuthEngine {
            inner: Arc::new(Inner {
                vault: self.vault,
                providers: RwLock::new(providers),
                options: self.options,
                oauth_http: OAuthHttp(http.clone()),
                http,
                flights: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// Runs OAuth2 flows and keeps each user's tokens valid. Cheap to clone.
///
/// Refreshes are single-flight per (provider, user, account): inside a
/// process through a per-key mutex, across processes through the store's
/// lock (a Redis `SET NX PX`), and the stored token is read again once the
/// lock is held, so a token refreshed by another worker is used rather than
/// refreshed twice. A rotated refresh token is saved before the new access
/// token is handed out.
#[derive(Clone)]
pub struct OAuthEngine {
    inner: Arc<Inner>,
}

struct Inner {
    vault: Vault,
    /// Configured providers plus those added at run time (MCP servers found
    /// by discovery), behind a lock taken only for look-ups and insertions.
    providers: RwLock<HashMap<String, Arc<OAuthProvider>>>,
    options: EngineOptions,
    http: reqwest::Client,
    oauth_http: OAuthHttp,
    flights: Mutex<HashMap<TokenKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for OAuthEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids = self.provider_ids();
        f.debug_struct("OAuthEngine")
            .field("providers", &ids)
            .field("vault", &self.inner.vault)
            .finish()
    }
}

/// What [`OAuthEngine::begin_with`] needs.
#[derive(Debug, Clone, Default)]
pub struct BeginParams {
    /// The user the grant will belong to.
    pub user: String,
    /// The provider id.
    pub provider: String,
    /// Which of the user's accounts this grant is for (default `default`).
    pub account: Option<String>,
    /// Scopes to ask for; empty: the provider's defaults.
    pub scopes: Vec<String>,
    /// Where the provider sends the browser back; `None`: the configured one.
    pub redirect_uri: Option<String>,
    /// Extra authorization URL parameters for this request only.
    pub extra_params: Vec<(String, String)>,
}

/// An authorization to send the user's browser to.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The authorization URL (carries the state and the PKCE challenge, no secret).
    pub url: url::Url,
    /// The state, to match the callback with.
    pub state: String,
    /// The redirect URI the callback will arrive at.
    pub redirect_uri: String,
}

/// The query parameters of an authorization callback.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state.
    pub state: Option<String>,
    /// An error code (`access_denied`, ...).
    pub error: Option<String>,
    /// The error's description.
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Parses the query string of a callback URL.
    pub fn from_query(query: &str) -> Self {
        let mut p = CallbackParams::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let v = Some(v.into_owned());
            match k.as_ref() {
                "code" => p.code = v,
                "state" => p.state = v,
                "error" => p.error = v,
                "error_description" => p.error_description = v,
                _ => {}
            }
        }
        p
    }
}

/// A completed connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Whose tokens, where.
    pub key: TokenKey,
    /// The scopes actually granted.
    pub scopes: Vec<String>,
    /// When the access token expires.
    pub expires_at: Option<i64>,
    /// Whether a refresh token is stored: issued now, or kept from the
    /// stored grant when the provider issued none this time (a repeated or
    /// incremental consent).
    pub has_refresh_token: bool,
    /// The nested grants (`authed_user`) the exchange returned and stored.
    pub nested_grants: Vec<String>,
}

/// One of a user's connections, as `status` reports it. Holds no token.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    /// The provider id.
    pub provider: String,
    /// The account.
    pub account: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: Option<i64>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// Whether the user must authorize again.
    pub needs_reauthorization: bool,
    /// Why, when they must.
    pub reason: Option<String>,
    /// A label for the account, if known.
    pub account_label: Option<String>,
    /// The nested grants stored with this connection (Slack's user token),
    /// which are not connections of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested_grants: Vec<NestedGrantStatus>,
}

/// A nested grant inside a connection (Slack's `authed_user`), as `status`
/// reports it. Holds no token.
#[derive(Debug, Clone, Serialize)]
pub struct NestedGrantStatus {
    /// The grant's name, as in [`OAuth2Spec::nested_grants`](crate::OAuth2Spec::nested_grants).
    pub grant: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: Option<i64>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
}

/// What [`OAuthEngine::disconnect`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisconnectOutcome {
    /// Whether the grant was revoked at the provider.
    pub revoked: bool,
    /// Why revocation did not happen, when it did not.
    pub revocation_note: Option<String>,
    /// Whether stored tokens were deleted.
    pub deleted: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct PendingAuthorization {
    user: String,
    provider: String,
    account: Option<String>,
    verifier: Secret,
    redirect_uri: String,
    scopes: Vec<String>,
    created_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReauthMarker {
    reason: String,
    at: i64,
}

enum Grant<'a> {
    Code {
        code: &'a str,
        verifier: &'a Secret,
        redirect_uri: &'a str,
    },
    Refresh(&'a Secret),
}

impl Grant<'_> {
    fn kind(&self) -> GrantKind {
        match self {
            Grant::Code { .. } => GrantKind::Code,
            Grant::Refresh(_) => GrantKind::Refresh,
        }
    }
}

/// What a token request presented: the same error code means something
/// else for an authorization code than for a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrantKind {
    Code,
    Refresh,
}

/// Why a token request failed.
#[derive(Debug)]
struct TokenFailure {
    /// What to report.
    error: Error,
    /// The error code, when the answer says the refresh token presented is
    /// dead (`invalid_grant` and its kin): the grant must be dropped.
    dead_grant: Option<String>,
}

impl From<Error> for TokenFailure {
    fn from(error: Error) -> Self {
        TokenFailure {
            error,
            dead_grant: None,
        }
    }
}

impl OAuthEngine {
    /// A builder over `vault`.
    pub fn builder(vault: Vault) -> OAuthEngineBuilder {
        OAuthEngineBuilder {
            vault,
            providers: Vec::new(),
            options: EngineOptions::default(),
            http: None,
        }
    }

    /// The vault tokens are kept in.
    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// The provider `id`.
    pub fn provider(&self, id: &str) -> Result<Arc<OAuthProvider>, Error> {
        let providers = self
            .inner
            .providers
            .read()
            .map_err(|_| Error::internal("provider map poisoned"))?;
        providers.get(id).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownProvider,
                format!("no OAuth2 provider `{id}` is registered or configured"),
            )
        })
    }

    /// The ids of the providers the engine knows, sorted.
    pub fn provider_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = match self.inner.providers.read() {
            Ok(p) => p.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        ids.sort_unstable();
        ids
    }

    /// Adds a provider at run time (an MCP server's authorization server,
    /// found by discovery). Its endpoints are checked as at build time. An
    /// identical provider already present is fine; a different one under
    /// the same id is an error (use [`OAuthEngine::ensure_provider`] to
    /// replace it).
    pub fn add_provider(&self, provider: OAuthProvider) -> Result<(), Error> {
        check_provider(&provider)?;
        let mut providers = self
            .inner
            .providers
            .write()
            .map_err(|_| Error::internal("provider map poisoned"))?;
        match providers.get(&provider.id) {
            Some(existing) if **existing == provider => Ok(()),
            Some(_) => Err(Error::config(format!(
                "provider `{}` declared twice",
                provider.id
            ))),
            None => {
                providers.insert(provider.id.clone(), Arc::new(provider));
                Ok(())
            }
        }
    }

    /// Adds `provider`, or replaces the provider of the same id when it
    /// differs (a client registration that changed). Cheap when nothing
    /// changed: one read lock and a comparison. Tokens stay where they are:
    /// they are keyed by the provider id.
    pub fn ensure_provider(&self, provider: OAuthProvider) -> Result<Arc<OAuthProvider>, Error> {
        if let Ok(providers) = self.inner.providers.read()
            && let Some(existing) = providers.get(&provider.id)
            && **existing == provider
        {
            return Ok(Arc::clone(existing));
        }
        check_provider(&provider)?;
        let mut providers = self
            .inner
            .providers
            .write()
            .map_err(|_| Error::internal("provider map poisoned"))?;
        let provider = Arc::new(provider);
        providers.insert(provider.id.clone(), Arc::clone(&provider));
        Ok(provider)
    }

    /// The provider a pending authorization `state` was issued for, without
    /// consuming the state: an application that runs flows for several
    /// providers (MCP servers added at run time) finds out which one must
    /// be ready before it calls [`OAuthEngine::complete`]. `None` for an
    /// unknown or used state.
    pub async fn pending_provider(&self, state: &str) -> Result<Option<String>, Error> {
        if state.is_empty() || state.len() > 512 {
            return Ok(None);
        }
        let pending: Option<PendingAuthorization> =
            self.inner.vault.get_value(&state_key(state)).await?;
        Ok(pending.map(|p| p.provider))
    }

    fn client(&self, p: &OAuthProvider) -> Result<Client, Error> {
        let client_id = p
            .client_id
            .as_ref()
            .ok_or_else(|| Error::config(format!("[providers.{}]: client_id is not set", p.id)))?;
        let auth_url = AuthUrl::new(p.spec.authorize_url.clone())
            .map_err(|e| Error::config(format!("[providers.{}].authorize_url: {e}", p.id)))?;
        let token_url = TokenUrl::new(p.spec.token_url.clone())
            .map_err(|e| Error::config(format!("[providers.{}].token_url: {e}", p.id)))?;
        let mut client = oauth2::Client::new(ClientId::new(client_id.clone()))
            .set_auth_uri(auth_url)
            .set_token_uri(token_url);
        match p.spec.client_auth {
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost => {
                let secret = client_secret(p)?;
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
                client = client.set_auth_type(
                    if p.spec.client_auth == ClientAuthMethod::ClientSecretBasic {
                        AuthType::BasicAuth
                    } else {
                        AuthType::RequestBody
                    },
                );
            }
            _ => client = client.set_auth_type(AuthType::RequestBody),
        }
        Ok(client)
    }

    /// Starts an authorization: the URL to send the user to. The state (at
    /// least 128 random bits) is stored single-use, with the PKCE verifier,
    /// for [`EngineOptions::state_ttl`].
    pub async fn begin(
        &self,
        user: &str,
        provider: &str,
        scopes: &[String],
        redirect_uri: Option<&str>,
    ) -> Result<AuthorizationRequest, Error> {
        self.begin_with(BeginParams {
            user: user.to_owned(),
            provider: provider.to_owned(),
            scopes: scopes.to_vec(),
            redirect_uri: redirect_uri.map(str::to_owned),
            ..BeginParams::default()
        })
        .await
    }

    /// [`OAuthEngine::begin`] with every option.
    pub async fn begin_with(&self, params: BeginParams) -> Result<AuthorizationRequest, Error> {
        let p = self.provider(&params.provider)?;
        let client = self.client(&p)?;
        let redirect_uri = params
            .redirect_uri
            .clone()
            .or_else(|| p.redirect_uri.clone())
            .ok_or_else(|| {
                Error::config(format!("[providers.{}]: redirect_uri is not set", p.id))
            })?;
        let redirect = RedirectUrl::new(redirect_uri.clone())
            .map_err(|e| Error::config(format!("redirect URI: {e}")))?;
        let scopes = if params.scopes.is_empty() {
            p.spec.default_scopes.clone()
        } else {
            params.scopes.clone()
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random_len(STATE_BYTES);
        let mut req = client
            .authorize_url(|| state.clone())
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect));
        if !scopes.is_empty() {
            if p.spec.scope_separator == " " {
                req = req.add_scopes(scopes.iter().cloned().map(Scope::new));
            } else {
                req = req.add_scope(Scope::new(scopes.join(&p.spec.scope_separator)));
            }
        }
        let key = TokenKey::new(&p.id, &params.user, params.account.as_deref());
        let consent =
            if p.spec.consent_params.is_empty() || self.holds_refresh_token(&p, &key).await {
                &[][..]
            } else {
                &p.spec.consent_params[..]
            };
        for (k, v) in merge_params(&[
            &p.spec.extra_authorize_params,
            consent,
            &params.extra_params,
        ]) {
            req = req.add_extra_param(k.to_owned(), v.to_owned());
        }
        let (url, state) = req.url();
        let pending = PendingAuthorization {
            user: params.user.clone(),
            provider: p.id.clone(),
            account: params.account.clone(),
            verifier: Secret::new(verifier.into_secret()),
            redirect_uri: redirect_uri.clone(),
            scopes,
            created_at: now_unix(),
        };
        // Kept a minute past its lifetime so an expired state can be told
        // apart from an unknown one.
        let ttl = self.inner.options.state_ttl + Duration::from_secs(60);
        self.inner
            .vault
            .put_value(&state_key(state.secret()), &pending, Some(ttl))
            .await?;
        tracing::info!(user = %params.user, provider = %p.id, "authorization started");
        Ok(AuthorizationRequest {
            url,
            state: state.secret().clone(),
            redirect_uri,
        })
    }

    /// Whether the vault holds a refresh token from `p`'s token endpoint for
    /// `key`. A record that cannot be read counts as none: reconnecting is
    /// how such a record gets replaced, so it must not fail here.
    async fn holds_refresh_token(&self, p: &OAuthProvider, key: &TokenKey) -> bool {
        match self.inner.vault.load_token(key).await {
            Ok(Some(r)) => r.refresh_token.is_some() && same_issuer(&r, p),
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(provider = %p.id, error = %e,
                    "the stored grant cannot be read; asking for consent again");
                false
            }
        }
    }

    /// Handles a callback's query parameters: an `error` (such as
    /// `access_denied`) consumes the state and is reported; otherwise the
    /// code is exchanged. `expected_user`, when given, must own the state.
    pub async fn handle_callback(
        &self,
        params: &CallbackParams,
        expected_user: Option<&str>,
    ) -> Result<Connection, Error> {
        let state = params
            .state
            .as_deref()
            .ok_or_else(|| Error::oauth("the callback carries no state"))?;
        if let Some(error) = &params.error {
            let pending = self.take_state(state, expected_user).await;
            let provider = pending
                .as_ref()
                .map(|p| p.provider.clone())
                .unwrap_or_default();
            let what = match error.as_str() {
                "access_denied" => "the user denied access".to_owned(),
                other => format!(
                    "the provider refused the authorization ({})",
                    sanitize(other)
                ),
            };
            let desc = params
                .error_description
                .as_deref()
                .map(|d| format!(": {}", sanitize(d)))
                .unwrap_or_default();
            return Err(Error::oauth(format!("{what}{desc}"))
                .with_provider(provider)
                .with_model_message("The user did not grant access."));
        }
        let code = params
            .code
            .as_deref()
            .ok_or_else(|| Error::oauth("the callback carries neither a code nor an error"))?;
        self.complete_for(state, code, expected_user).await
    }

    /// Completes an authorization: consumes the state (replayed, expired or
    /// unknown states are errors), exchanges the code with the verifier and
    /// stores the tokens with the scopes actually granted.
    pub async fn complete(&self, state: &str, code: &str) -> Result<Connection, Error> {
        self.complete_for(state, code, None).await
    }

    /// [`OAuthEngine::complete`], refusing a state issued for another user
    /// than `expected_user`.
    pub async fn complete_for(
        &self,
        state: &str,
        code: &str,
        expected_user: Option<&str>,
    ) -> Result<Connection, Error> {
        let pending = self.take_state(state, expected_user).await?;
        let p = self.provider(&pending.provider)?;
        let resp = self
            .token_request(
                &p,
                Grant::Code {
                    code,
                    verifier: &pending.verifier,
                    redirect_uri: &pending.redirect_uri,
                },
            )
            .await
            .map_err(|f| f.error)?;
        let key = TokenKey::new(&p.id, &pending.user, pending.account.as_deref());
        let now = now_unix();
        let scopes = granted_scopes(&resp, &pending.scopes, &p.spec.scope_separator);
        let issued_refresh = resp
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone()));
        let refresh_token = match issued_refresh {
            Some(rt) => Some(rt),
            None => self.kept_refresh_token(&p, &key).await,
        };
        let record = TokenRecord {
            access_token: Secret::new(resp.access_token().secret().clone()),
            refresh_token,
            token_type: token_type_name(resp.token_type()),
            scopes: scopes.clone(),
            expires_at: expires_at(now, resp.expires_in().map(|d| d.as_secs())),
            issuer: issuer_of(&p.spec.token_url),
            account_label: None,
            created_at: now,
            updated_at: now,
            extra: resp.extra_fields().non_secret(&p.spec.nested_grants),
        };
        self.inner.vault.save_token(&key, &record).await?;
        let _ = self.inner.vault.delete_value(&reauth_key(&key)).await;
        let nested_grants = self
            .store_nested_grants(&p, &key, &resp.extra_fields().0, now)
            .await?;
        tracing::info!(user = %key.user, provider = %key.provider, account = %key.account,
            scopes = %scopes.join(" "), nested = %nested_grants.join(","), "connected");
        Ok(Connection {
            key,
            scopes,
            expires_at: record.expires_at,
            has_refresh_token: record.refresh_token.is_some(),
            nested_grants,
        })
    }

    /// The refresh token stored under `key`, when it was issued by `p`'s
    /// token endpoint: a code exchange that returns none (Google after an
    /// incremental or repeated consent) leaves the old one valid, and
    /// dropping it would lose offline access.
    async fn kept_refresh_token(&self, p: &OAuthProvider, key: &TokenKey) -> Option<Secret> {
        match self.inner.vault.load_token(key).await {
            Ok(Some(r)) if same_issuer(&r, p) => {
                if r.refresh_token.is_some() {
                    tracing::debug!(provider = %p.id, account = %key.account,
                        grant = key.grant.as_deref().unwrap_or(""),
                        "no refresh token issued; keeping the stored one");
                }
                r.refresh_token
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(provider = %p.id, error = %e,
                    "the stored grant cannot be read; its refresh token is not kept");
                None
            }
        }
    }

    /// Stores each nested grant of `p` present in a code exchange response
    /// (an object with an `access_token`) under `key`'s nested key. A nested
    /// grant the response does not carry is left as stored, unless another
    /// token endpoint issued it. Returns the names stored.
    async fn store_nested_grants(
        &self,
        p: &OAuthProvider,
        key: &TokenKey,
        fields: &Map<String, Value>,
        now: i64,
    ) -> Result<Vec<String>, Error> {
        let mut stored = Vec::new();
        for grant in &p.spec.nested_grants {
            let nested_key = key.nested(grant);
            let object = fields.get(grant).and_then(Value::as_object);
            let Some(mut record) =
                object.and_then(|o| nested_record(o, &p.spec.scope_separator, now))
            else {
                if let Ok(Some(old)) = self.inner.vault.load_token(&nested_key).await
                    && !same_issuer(&old, p)
                {
                    self.inner.vault.delete_token(&nested_key).await?;
                }
                continue;
            };
            record.issuer = issuer_of(&p.spec.token_url);
            // The ids of the response's objects (the workspace's `team_id`)
            // describe the nested grant too; its own fields win.
            for (k, v) in object_ids(fields, &p.spec.nested_grants) {
                record.extra.entry(k).or_insert(v);
            }
            if record.refresh_token.is_none() {
                record.refresh_token = self.kept_refresh_token(p, &nested_key).await;
            }
            self.inner.vault.save_token(&nested_key, &record).await?;
            let _ = self
                .inner
                .vault
                .delete_value(&reauth_key(&nested_key))
                .await;
            stored.push(grant.clone());
        }
        Ok(stored)
    }

    async fn take_state(
        &self,
        state: &str,
        expected_user: Option<&str>,
    ) -> Result<PendingAuthorization, Error> {
        if state.is_empty() || state.len() > 512 {
            return Err(Error::oauth("the callback's state is malformed"));
        }
        let pending: PendingAuthorization = self
            .inner
            .vault
            .take_value(&state_key(state))
            .await?
            .ok_or_else(|| {
                Error::oauth(
                    "unknown or already used authorization state (a replayed or forged callback); start the authorization again",
                )
            })?;
        if now_unix() - pending.created_at > self.inner.options.state_ttl.as_secs() as i64 {
            return Err(Error::oauth(
                "the authorization state has expired; start the authorization again",
            )
            .with_provider(pending.provider));
        }
        if let Some(u) = expected_user
            && u != pending.user
        {
            return Err(Error::oauth(
                "the authorization state was issued for another user; start the authorization again",
            )
            .with_provider(pending.provider));
        }
        Ok(pending)
    }

    /// A valid access token for the user's account at `provider`, refreshed
    /// first when it expires within the margin. The returned record holds the
    /// token and the granted scopes.
    pub async fn access(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
    ) -> Result<TokenRecord, Error> {
        self.access_key(&TokenKey::new(provider, user, account))
            .await
    }

    /// [`OAuthEngine::access`] for a grant's key: a record read or written
    /// within `token_reuse` is handed out without a store round trip.
    async fn access_key(&self, key: &TokenKey) -> Result<TokenRecord, Error> {
        let record = match self
            .inner
            .vault
            .load_token_recent(key, self.inner.options.token_reuse)
            .await?
        {
            Some(r) => r,
            None => self.load_or_missing(key).await?,
        };
        if !record.expires_within(self.margin()) {
            return Ok(record);
        }
        self.refresh_single_flight(key, &record, false).await
    }

    /// [`OAuthEngine::refresh`] for a grant's key.
    async fn refresh_key(&self, key: &TokenKey) -> Result<TokenRecord, Error> {
        let record = self.load_or_missing(key).await?;
        self.refresh_single_flight(key, &record, true).await
    }

    /// Refreshes now, whatever the expiry (for example after a 401). Still
    /// single-flight: if another caller refreshed meanwhile, that token is
    /// returned.
    pub async fn refresh(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
    ) -> Result<TokenRecord, Error> {
        self.refresh_key(&TokenKey::new(provider, user, account))
            .await
    }

    /// A valid access token of the nested grant `grant` (Slack's
    /// `authed_user`: the user token beside the bot token) of the user's
    /// account at `provider`, refreshed first when it expires within the
    /// margin, single-flight and reused briefly like [`OAuthEngine::access`]. The nested
    /// grant's own refresh token is sent to the provider's token endpoint,
    /// and the response's top-level token becomes the nested grant's new
    /// token (with its rotated refresh token). A missing nested grant is a
    /// [`ErrorKind::NeedsAuthorization`] error that says the user must
    /// reconnect granting the nested grant's scopes.
    pub async fn access_nested(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
        grant: &str,
    ) -> Result<TokenRecord, Error> {
        let key = self.nested_key(user, provider, account, grant)?;
        self.access_key(&key).await
    }

    /// Refreshes the nested grant `grant` now, whatever its expiry (for
    /// example after Slack answers `invalid_auth` to the user token). Still
    /// single-flight: if another caller refreshed meanwhile, that token is
    /// returned.
    pub async fn refresh_nested(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
        grant: &str,
    ) -> Result<TokenRecord, Error> {
        let key = self.nested_key(user, provider, account, grant)?;
        self.refresh_key(&key).await
    }

    /// The key of a nested grant the provider declares.
    fn nested_key(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
        grant: &str,
    ) -> Result<TokenKey, Error> {
        let p = self.provider(provider)?;
        if !p.spec.nested_grants.iter().any(|g| g == grant) {
            return Err(Error::config(format!(
                "provider `{provider}` declares no nested grant `{}`",
                sanitize(grant)
            ))
            .with_provider(provider));
        }
        Ok(TokenKey::new(provider, user, account).nested(grant))
    }

    async fn load_or_missing(&self, key: &TokenKey) -> Result<TokenRecord, Error> {
        // Check the provider first: an unknown provider is a clearer error.
        self.provider(&key.provider)?;
        match self.inner.vault.load_token(key).await? {
            Some(r) => Ok(r),
            None => {
                let marker: Option<ReauthMarker> =
                    self.inner.vault.get_value(&reauth_key(key)).await?;
                Err(match (marker, &key.grant) {
                    (Some(m), _) => Error::reauthorization_required(&key.provider, m.reason),
                    (None, None) => Error::authorization_required(&key.provider),
                    (None, Some(grant)) => nested_missing(&key.provider, grant),
                })
            }
        }
    }

    fn margin(&self) -> Duration {
        let o = &self.inner.options;
        let jitter_ms = o.refresh_jitter.as_millis() as u64;
        let extra = if jitter_ms == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..jitter_ms)
        };
        o.refresh_margin + Duration::from_millis(extra)
    }

    /// Whether `current` can be used instead of refreshing `stale`: another
    /// caller replaced the token and it is not expired.
    fn refreshed_by_other(stale: &TokenRecord, current: &TokenRecord) -> bool {
        current.access_token != stale.access_token && !current.expires_within(Duration::ZERO)
    }

    async fn refresh_single_flight(
        &self,
        key: &TokenKey,
        stale: &TokenRecord,
        forced: bool,
    ) -> Result<TokenRecord, Error> {
        let flight = {
            let mut flights = self
                .inner
                .flights
                .lock()
                .map_err(|_| Error::internal("refresh flight map poisoned"))?;
            flights.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _guard = flight.lock().await;
            self.refresh_locked(key, stale, forced).await
        };
        if let Ok(mut flights) = self.inner.flights.lock()
            && flights.get(key).is_some_and(|f| Arc::strong_count(f) <= 2)
        {
            flights.remove(key);
        }
        result
    }

    /// Inside the process-wide flight: take the store's lock (waiting for
    /// another process's refresh if needed), read again, refresh if still due.
    async fn refresh_locked(
        &self,
        key: &TokenKey,
        stale: &TokenRecord,
        forced: bool,
    ) -> Result<TokenRecord, Error> {
        let vault = &self.inner.vault;
        let due = |r: &TokenRecord| {
            if forced {
                !Self::refreshed_by_other(stale, r)
            } else {
                r.expires_within(self.inner.options.refresh_margin)
                    && !Self::refreshed_by_other(stale, r)
            }
        };
        // Another task of this process may have refreshed while we waited.
        let current = self.load_or_missing(key).await?;
        if !due(&current) {
            return Ok(current);
        }
        let store = vault.store().clone();
        let lock_key = key.lock_key();
        let deadline = tokio::time::Instant::now() + self.inner.options.lock_wait;
        let mut wait = Duration::from_millis(20);
        let token = loop {
            if let Some(t) = store
                .try_lock(&lock_key, self.inner.options.lock_ttl)
                .await?
            {
                break t;
            }
            // Another process is refreshing: use its result when it lands.
            let current = self.load_or_missing(key).await?;
            if !due(&current) {
                return Ok(current);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "waited {:?} for another process to refresh the `{}` token",
                        self.inner.options.lock_wait, key.provider
                    ),
                )
                .with_provider(&key.provider));
            }
            let jitter = rand::thread_rng().gen_range(0..=wait.as_millis() as u64 / 2);
            tokio::time::sleep(wait + Duration::from_millis(jitter)).await;
            wait = (wait * 2).min(Duration::from_millis(250));
        };
        let result = async {
            let current = self.load_or_missing(key).await?;
            if !due(&current) {
                return Ok(current);
            }
            self.do_refresh(key, &current).await
        }
        .await;
        if let Err(e) = store.unlock(&lock_key, &token).await {
            tracing::warn!(provider = %key.provider, error = %e, "releasing the refresh lock failed; it expires by itself");
        }
        result
    }

    async fn do_refresh(
        &self,
        key: &TokenKey,
        current: &TokenRecord,
    ) -> Result<TokenRecord, Error> {
        let p = self.provider(&key.provider)?;
        let Some(refresh_token) = &current.refresh_token else {
            return Err(Error::reauthorization_required(
                &key.provider,
                "the access token expired and the provider issued no refresh token",
            ));
        };
        tracing::debug!(user = %key.user, provider = %key.provider, account = %key.account,
            grant = key.grant.as_deref().unwrap_or(""), "refreshing");
        let resp = match self.token_request(&p, Grant::Refresh(refresh_token)).await {
            Ok(r) => r,
            Err(TokenFailure {
                error,
                dead_grant: Some(code),
            }) => {
                // Never delete a grant someone else just rotated in.
                if let Some(now) = self.inner.vault.load_token(key).await?
                    && now.refresh_token != current.refresh_token
                {
                    return Ok(now);
                }
                self.inner.vault.delete_token(key).await?;
                let marker = ReauthMarker {
                    reason: match &key.grant {
                        None => format!("the provider rejected the refresh token ({code})"),
                        Some(g) => format!(
                            "the provider rejected the `{g}` refresh token ({code}); reconnect {} granting its scopes again",
                            key.provider
                        ),
                    },
                    at: now_unix(),
                };
                self.inner
                    .vault
                    .put_value(&reauth_key(key), &marker, None)
                    .await?;
                tracing::warn!(user = %key.user, provider = %key.provider, account = %key.account,
                    grant = key.grant.as_deref().unwrap_or(""), code = %code,
                    "refresh token rejected; tokens deleted, reauthorization needed");
                return Err(error);
            }
            Err(f) => return Err(f.error),
        };
        let now = now_unix();
        let record = TokenRecord {
            access_token: Secret::new(resp.access_token().secret().clone()),
            // RFC 6749 §6: a new refresh token replaces the old one; none
            // means the old one stays valid.
            refresh_token: resp
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone()))
                .or_else(|| current.refresh_token.clone()),
            token_type: token_type_name(resp.token_type()),
            scopes: granted_scopes(&resp, &current.scopes, &p.spec.scope_separator),
            expires_at: expires_at(now, resp.expires_in().map(|d| d.as_secs())),
            issuer: current.issuer.clone(),
            account_label: current.account_label.clone(),
            created_at: current.created_at,
            updated_at: now,
            extra: {
                let mut extra = current.extra.clone();
                extra.extend(resp.extra_fields().non_secret(&p.spec.nested_grants));
                extra
            },
        };
        // The rotated refresh token must be stored before the access token
        // is used: losing it would lose the grant.
        let mut attempt = 0;
        loop {
            match self.inner.vault.save_token(key, &record).await {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(provider = %key.provider, error = %e, attempt, "saving a refreshed token failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => {
                    tracing::error!(provider = %key.provider, error = %e, "a refreshed token could not be saved; the grant may be lost");
                    return Err(e);
                }
            }
        }
        tracing::info!(user = %key.user, provider = %key.provider, account = %key.account,
            grant = key.grant.as_deref().unwrap_or(""), "token refreshed");
        Ok(record)
    }

    /// One token-endpoint request, retried when it failed transiently (a
    /// code only when nothing was sent). An error answer, RFC 6749 §5.2 or
    /// `{"ok": false, "error": …}` with HTTP 200, is a [`TokenFailure`].
    async fn token_request(
        &self,
        p: &OAuthProvider,
        grant: Grant<'_>,
    ) -> Result<TokenResp, TokenFailure> {
        let client = self.client(p)?;
        let http = &self.inner.oauth_http;
        let o = &self.inner.options;
        let kind = grant.kind();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match &grant {
                Grant::Code {
                    code,
                    verifier,
                    redirect_uri,
                } => {
                    let redirect = RedirectUrl::new((*redirect_uri).to_owned())
                        .map_err(|e| Error::config(format!("redirect URI: {e}")))?;
                    let mut req = client
                        .exchange_code(AuthorizationCode::new((*code).to_owned()))
                        .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
                        .set_redirect_uri(std::borrow::Cow::Owned(redirect));
                    for (k, v) in &p.spec.extra_token_params {
                        req = req.add_extra_param(k.clone(), v.clone());
                    }
                    req.request_async(http).await
                }
                Grant::Refresh(rt) => {
                    let rt = RefreshToken::new(rt.expose().to_owned());
                    let mut req = client.exchange_refresh_token(&rt);
                    for (k, v) in &p.spec.extra_token_params {
                        req = req.add_extra_param(k.clone(), v.clone());
                    }
                    req.request_async(http).await
                }
            };
            let err = match result {
                // A token response that says `ok: false` is an error, whatever
                // else it holds.
                Ok(r) => match ok_false(&r.extra_fields().0) {
                    None => return Ok(r),
                    Some((code, description)) => {
                        return Err(answered_error(&p.id, kind, code, description));
                    }
                },
                Err(e) => e,
            };
            let transient = matches!(&err, RequestTokenError::Request(h) if h.is_transient());
            // A code is single-use: if the exchange may have reached the
            // server, retrying would burn it. Only connection failures
            // (nothing sent) are retried for codes.
            let retry = transient
                && attempt < o.max_attempts
                && match kind {
                    GrantKind::Code => {
                        matches!(&err, RequestTokenError::Request(HttpError::Connect(_)))
                    }
                    GrantKind::Refresh => true,
                };
            if !retry {
                return Err(map_token_error(&p.id, kind, err, attempt));
            }
            let base = o.retry_backoff * 2u32.saturating_pow(attempt - 1);
            let server_hint = match &err {
                RequestTokenError::Request(HttpError::Status { retry_after, .. }) => *retry_after,
                _ => None,
            };
            let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 2);
            let wait = server_hint
                .unwrap_or(base + Duration::from_millis(jitter))
                .min(Duration::from_secs(10));
            tracing::warn!(provider = %p.id, attempt,
                error = %map_token_error(&p.id, kind, err, attempt).error,
                "token endpoint failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Revokes the grant at the provider when it has a revocation endpoint
    /// (the refresh token, which revokes the grant, else the access token),
    /// then deletes the stored tokens, nested grants included (each revoked
    /// first too, where the provider can). A failed revocation still deletes,
    /// and says why it did not revoke.
    pub async fn disconnect(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
    ) -> Result<DisconnectOutcome, Error> {
        let p = self.provider(provider)?;
        let key = TokenKey::new(provider, user, account);
        let nested_deleted = self.delete_nested_grants(&p, &key).await?;
        let Some(record) = self.inner.vault.load_token(&key).await? else {
            let had_marker = self.inner.vault.delete_value(&reauth_key(&key)).await?;
            return Ok(DisconnectOutcome {
                revoked: false,
                revocation_note: Some("no stored tokens".to_owned()),
                deleted: had_marker || nested_deleted,
            });
        };
        let (revoked, note) = match self.revoke(&p, &record).await {
            Ok(true) => (true, None),
            Ok(false) => (
                false,
                Some("the provider has no revocation endpoint".to_owned()),
            ),
            Err(e) => {
                tracing::warn!(provider = %p.id, error = %e, "revocation failed; deleting the stored tokens anyway");
                (false, Some(e.to_string()))
            }
        };
        let deleted = self.inner.vault.delete_token(&key).await?;
        let _ = self.inner.vault.delete_value(&reauth_key(&key)).await;
        tracing::info!(user = %user, provider = %provider, revoked, "disconnected");
        Ok(DisconnectOutcome {
            revoked,
            revocation_note: note,
            deleted: deleted || nested_deleted,
        })
    }

    /// Revokes (best effort) and deletes every nested grant of `key`'s
    /// account, with their reauthorization markers, whatever the provider's
    /// spec lists now. Whether any was stored.
    async fn delete_nested_grants(&self, p: &OAuthProvider, key: &TokenKey) -> Result<bool, Error> {
        let vault = &self.inner.vault;
        let mut deleted = false;
        for nested in vault.list_nested_tokens(&key.user).await? {
            if nested.parent() != *key {
                continue;
            }
            match vault.load_token(&nested).await {
                Ok(Some(record)) => {
                    if let Err(e) = self.revoke(p, &record).await {
                        tracing::warn!(provider = %p.id, error = %e,
                            grant = nested.grant.as_deref().unwrap_or(""),
                            "revoking a nested grant failed; deleting it anyway");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(provider = %p.id, error = %e,
                    "a nested grant cannot be read; deleting it without revoking"),
            }
            deleted |= vault.delete_token(&nested).await?;
        }
        for marker in vault.store().list(NS_REAUTH, &key.user).await? {
            if let [provider, account, _grant] = marker.parts()
                && *provider == key.provider
                && *account == key.account
            {
                vault.delete_value(&marker).await?;
            }
        }
        Ok(deleted)
    }

    /// RFC 7009 revocation, sent by hand: `oauth2` insists on an https
    /// revocation URL, which rules out loopback test servers; the request is
    /// a small form POST with the same client authentication as the token
    /// endpoint.
    async fn revoke(&self, p: &OAuthProvider, record: &TokenRecord) -> Result<bool, Error> {
        let Some(url) = &p.spec.revocation_url else {
            return Ok(false);
        };
        let client_id = p
            .client_id
            .as_deref()
            .ok_or_else(|| Error::config(format!("[providers.{}]: client_id is not set", p.id)))?;
        let (token, hint) = match &record.refresh_token {
            Some(rt) => (rt.expose(), "refresh_token"),
            None => (record.access_token.expose(), "access_token"),
        };
        let mut form: Vec<(&str, &str)> = vec![("token", token), ("token_type_hint", hint)];
        let mut req = self.inner.http.post(url);
        match p.spec.client_auth {
            ClientAuthMethod::ClientSecretBasic => {
                let secret = client_secret(p)?;
                // RFC 6749 §2.3.1: both parts form-urlencoded first.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                req = req.basic_auth(enc(client_id), Some(enc(secret.expose())));
            }
            ClientAuthMethod::ClientSecretPost => {
                let secret = client_secret(p)?;
                form.push(("client_id", client_id));
                form.push(("client_secret", secret.expose()));
            }
            _ => form.push(("client_id", client_id)),
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let resp = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                Error::new(
                    if e.is_timeout() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Unavailable
                    },
                    format!("revocation request to `{}` failed: {e}", p.id),
                )
                .with_provider(&p.id)
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(true);
        }
        Err(Error::new(
            if status.is_server_error() || status.as_u16() == 429 {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Provider
            },
            format!(
                "revocation endpoint of `{}` answered HTTP {}",
                p.id,
                status.as_u16()
            ),
        )
        .with_provider(&p.id))
    }

    /// Calls the provider's userinfo endpoint with a valid token, refreshing
    /// once if it answers 401, to prove the grant works.
    pub async fn userinfo(
        &self,
        user: &str,
        provider: &str,
        account: Option<&str>,
    ) -> Result<Value, Error> {
        let p = self.provider(provider)?;
        let url =
            p.spec.userinfo_url.clone().ok_or_else(|| {
                Error::config(format!("provider `{provider}` has no userinfo_url"))
            })?;
        let mut record = self.access(user, provider, account).await?;
        for attempt in 0..2 {
            let resp = self
                .inner
                .http
                .get(&url)
                .bearer_auth(record.access_token.expose())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| {
                    let e = e.without_url();
                    Error::new(
                        if e.is_timeout() {
                            ErrorKind::Timeout
                        } else {
                            ErrorKind::Unavailable
                        },
                        format!("userinfo request to `{provider}` failed: {e}"),
                    )
                    .with_provider(provider)
                })?;
            let status = resp.status();
            if status.as_u16() == 401 {
                if attempt == 0 {
                    record = self.refresh(user, provider, account).await?;
                    continue;
                }
                return Err(Error::reauthorization_required(
                    provider,
                    "the userinfo endpoint rejects a freshly refreshed token",
                ));
            }
            if !status.is_success() {
                return Err(Error::new(
                    if status.is_server_error() {
                        ErrorKind::Unavailable
                    } else {
                        ErrorKind::Provider
                    },
                    format!(
                        "userinfo endpoint of `{provider}` answered HTTP {}",
                        status.as_u16()
                    ),
                )
                .with_provider(provider));
            }
            return resp.json::<Value>().await.map_err(|_| {
                Error::new(
                    ErrorKind::Provider,
                    format!("userinfo of `{provider}` is not JSON"),
                )
                .with_provider(provider)
            });
        }
        Err(Error::internal("userinfo loop ended"))
    }

    /// Every connection of `user`, including grants that need
    /// reauthorization. Holds no token.
    pub async fn status(&self, user: &str) -> Result<Vec<ConnectionStatus>, Error> {
        let vault = &self.inner.vault;
        let mut out = Vec::new();
        for key in vault.list_tokens(user).await? {
            let Some(r) = vault.load_token(&key).await? else {
                continue;
            };
            let expired = r.expires_within(Duration::ZERO);
            let needs = expired && r.refresh_token.is_none();
            out.push(ConnectionStatus {
                provider: key.provider,
                account: key.account,
                scopes: r.scopes,
                expires_at: r.expires_at,
                has_refresh_token: r.refresh_token.is_some(),
                needs_reauthorization: needs,
                reason: needs.then(|| "expired, and no refresh token".to_owned()),
                account_label: r.account_label,
                nested_grants: Vec::new(),
            });
        }
        for key in vault.store().list(NS_REAUTH, user).await? {
            let [provider, account] = key.parts() else {
                continue;
            };
            if out
                .iter()
                .any(|s| &s.provider == provider && &s.account == account)
            {
                continue;
            }
            let marker: Option<ReauthMarker> = vault.get_value(&key).await?;
            out.push(ConnectionStatus {
                provider: provider.clone(),
                account: account.clone(),
                scopes: Vec::new(),
                expires_at: None,
                has_refresh_token: false,
                needs_reauthorization: true,
                reason: marker.map(|m| m.reason),
                account_label: None,
                nested_grants: Vec::new(),
            });
        }
        // Nested grants are reported inside their connection, never as one.
        for key in vault.list_nested_tokens(user).await? {
            let Some(status) = out
                .iter_mut()
                .find(|s| s.provider == key.provider && s.account == key.account)
            else {
                continue;
            };
            let (Some(grant), Some(r)) = (key.grant.clone(), vault.load_token(&key).await?) else {
                continue;
            };
            status.nested_grants.push(NestedGrantStatus {
                grant,
                scopes: r.scopes,
                expires_at: r.expires_at,
                has_refresh_token: r.refresh_token.is_some(),
            });
        }
        out.sort_by(|a, b| (&a.provider, &a.account).cmp(&(&b.provider, &b.account)));
        Ok(out)
    }
}

/// Endpoints must be absolute http(s) URLs, plain http only to loopback.
fn check_provider(p: &OAuthProvider) -> Result<(), Error> {
    check_endpoint_url(&p.id, "authorize_url", &p.spec.authorize_url)?;
    check_endpoint_url(&p.id, "token_url", &p.spec.token_url)?;
    if let Some(u) = &p.spec.revocation_url {
        check_endpoint_url(&p.id, "revocation_url", u)?;
    }
    if let Some(u) = &p.spec.userinfo_url {
        check_endpoint_url(&p.id, "userinfo_url", u)?;
    }
    Ok(())
}

/// The provider's client secret, or why it is missing (an unset
/// `client_secret_env` variable names the variable).
fn client_secret(p: &OAuthProvider) -> Result<&Secret, Error> {
    p.client_secret.as_ref().ok_or_else(|| {
        Error::config(p.secret_error.clone().unwrap_or_else(|| {
            format!(
                "[providers.{}]: the client secret is not set (client_secret_env)",
                p.id
            )
        }))
    })
}

fn state_key(state: &str) -> StoreKey {
    StoreKey::new(crate::vault::key::NS_STATE, None, &[state])
}

fn reauth_key(key: &TokenKey) -> StoreKey {
    StoreKey::new(NS_REAUTH, Some(&key.user), &key.parts())
}

/// The error for a nested grant that is not stored: the user connected
/// without granting its scopes (or before the provider declared it).
fn nested_missing(provider: &str, grant: &str) -> Error {
    Error::new(
        ErrorKind::NeedsAuthorization,
        format!(
            "no `{grant}` grant is stored for provider `{provider}`: the user token is missing; reconnect {provider} granting user scopes"
        ),
    )
    .with_provider(provider)
    .with_model_message(format!(
        "This needs the user's own {provider} token, which they have not granted; ask them to reconnect {provider} and grant the user permissions."
    ))
}

/// Whether `record` was issued by `p`'s token endpoint (a record without an
/// issuer predates the field and is taken as issued there).
fn same_issuer(record: &TokenRecord, p: &OAuthProvider) -> bool {
    match &record.issuer {
        Some(issuer) => issuer_of(&p.spec.token_url).as_ref() == Some(issuer),
        None => true,
    }
}

/// Later lists win: a parameter named again replaces the earlier value, in
/// the earlier position.
fn merge_params<'a>(lists: &[&'a [(String, String)]]) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (k, v) in lists.iter().flat_map(|l| l.iter()) {
        match out.iter_mut().find(|(ek, _)| *ek == k.as_str()) {
            Some(slot) => slot.1 = v.as_str(),
            None => out.push((k.as_str(), v.as_str())),
        }
    }
    out
}

/// `now + expires_in`, `None` when absent or absurd.
fn expires_at(now: i64, expires_in: Option<u64>) -> Option<i64> {
    expires_in
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| now.checked_add(s))
}

/// A nested grant object of a token response as a record: its
/// `access_token` (required), `refresh_token`, `token_type`, `scope` (split
/// with the provider's separator), `expires_in` and non-secret scalars (its
/// own objects are not looked into).
/// `None` when it carries no access token.
fn nested_record(object: &Map<String, Value>, sep: &str, now: i64) -> Option<TokenRecord> {
    let text = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let access_token = text("access_token")?;
    let expires_in = match object.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    Some(TokenRecord {
        access_token: Secret::new(access_token),
        refresh_token: text("refresh_token").map(Secret::new),
        token_type: text("token_type").unwrap_or("Bearer").to_owned(),
        scopes: text("scope")
            .map(|s| split_scopes(s, sep))
            .unwrap_or_default(),
        expires_at: expires_at(now, expires_in),
        issuer: None,
        account_label: None,
        created_at: now,
        updated_at: now,
        extra: scalars(object),
    })
}

fn split_scopes(raw: &str, sep: &str) -> Vec<String> {
    let parts: Vec<&str> = if sep == " " {
        raw.split_whitespace().collect()
    } else {
        raw.split(sep).collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn token_type_name(t: &BasicTokenType) -> String {
    match t {
        BasicTokenType::Bearer => "Bearer".to_owned(),
        BasicTokenType::Mac => "MAC".to_owned(),
        BasicTokenType::Extension(s) => s.clone(),
    }
}

fn granted_scopes(resp: &TokenResp, requested: &[String], sep: &str) -> Vec<String> {
    match resp.scopes() {
        // RFC 6749 §5.1: no `scope` means exactly what was requested.
        None => requested.to_vec(),
        Some(scopes) => scopes
            .iter()
            .flat_map(|s| {
                if sep == " " {
                    vec![s.to_string()]
                } else {
                    s.split(sep).map(|x| x.trim().to_owned()).collect()
                }
            })
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

fn issuer_of(token_url: &str) -> Option<String> {
    url::Url::parse(token_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// Keeps provider-sent text printable and short, so it can go in an error.
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn transient_error(provider: &str, h: &HttpError) -> Error {
    let kind = match h {
        HttpError::Timeout => ErrorKind::Timeout,
        HttpError::Status { status: 429, .. } => ErrorKind::RateLimited,
        HttpError::Status { status, .. } if *status >= 500 => ErrorKind::Unavailable,
        HttpError::Connect(_) => ErrorKind::Unavailable,
        _ => ErrorKind::Provider,
    };
    let mut e =
        Error::new(kind, format!("token endpoint of `{provider}`: {h}")).with_provider(provider);
    if let HttpError::Status {
        retry_after: Some(r),
        ..
    } = h
    {
        e = e.with_retry_after(*r);
    }
    e
}

/// The `error` (and `error_description`) of a JSON object that says
/// `"ok": false`: the envelope some providers answer token-endpoint errors
/// in, with HTTP 200, instead of RFC 6749 §5.2's 400.
fn ok_false(body: &Map<String, Value>) -> Option<(&str, Option<&str>)> {
    if body.get("ok") != Some(&Value::Bool(false)) {
        return None;
    }
    let code = body.get("error")?.as_str()?;
    Some((code, body.get("error_description").and_then(Value::as_str)))
}

/// `code` when it looks like an error code (`[A-Za-z0-9_.-]`, at most 64
/// bytes), so that it can be shown; anything else might be a token.
fn printable_code(code: &str) -> Option<&str> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    ok.then_some(code)
}

/// Error codes that, in answer to a refresh, mean the refresh token will
/// never work again: RFC 6749's `invalid_grant`, and the names providers
/// answering `ok: false` give the same thing (a refresh token unknown,
/// revoked or expired, or an account that is gone).
const DEAD_GRANT_CODES: &[&str] = &[
    "invalid_grant",
    "invalid_refresh_token",
    "token_revoked",
    "token_expired",
    "account_inactive",
];

/// Codes that say the client's own credentials were refused.
const CLIENT_CODES: &[&str] = &[
    "invalid_client",
    "unauthorized_client",
    "invalid_client_id",
    "bad_client_secret",
];

/// Codes that say the server could not answer now: the grant is fine.
const UNAVAILABLE_CODES: &[&str] = &[
    "server_error",
    "temporarily_unavailable",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// An error the token endpoint answered (RFC 6749 §5.2, or `ok: false`),
/// as the error to report. Only the code and the description are shown,
/// never anything else of the answer.
fn answered_error(
    provider: &str,
    kind: GrantKind,
    code: &str,
    description: Option<&str>,
) -> TokenFailure {
    let desc = description
        .map(|d| format!(": {}", sanitize(d)))
        .unwrap_or_default();
    let Some(code) = printable_code(code) else {
        return Error::oauth(format!(
            "the token endpoint of `{provider}` answered an error with an unreadable code{desc}"
        ))
        .with_provider(provider)
        .into();
    };
    if kind == GrantKind::Refresh && DEAD_GRANT_CODES.contains(&code) {
        return TokenFailure {
            error: Error::reauthorization_required(
                provider,
                format!("the provider answered {code}{desc}"),
            ),
            dead_grant: Some(code.to_owned()),
        };
    }
    let error = if kind == GrantKind::Code && code == "invalid_grant" {
        // The code (or its verifier or redirect URI) was refused: nothing
        // stored is affected, the user authorizes again.
        Error::reauthorization_required(provider, format!("the provider answered {code}{desc}"))
    } else if kind == GrantKind::Code && code == "invalid_code" {
        Error::oauth(format!(
            "the token endpoint of `{provider}` refused the authorization code ({code}){desc}; start the authorization again"
        ))
        .with_provider(provider)
    } else if CLIENT_CODES.contains(&code) {
        Error::config(format!(
            "the token endpoint of `{provider}` rejected the client credentials ({code}){desc}; check the client id and secret"
        ))
        .with_provider(provider)
    } else if UNAVAILABLE_CODES.contains(&code) {
        Error::new(
            ErrorKind::Unavailable,
            format!("the token endpoint of `{provider}` answered {code}{desc}"),
        )
        .with_provider(provider)
    } else if code == "ratelimited" || code == "rate_limited" {
        Error::new(
            ErrorKind::RateLimited,
            format!("the token endpoint of `{provider}` answered {code}{desc}"),
        )
        .with_provider(provider)
    } else {
        Error::oauth(format!(
            "the token endpoint of `{provider}` answered {code}{desc}"
        ))
        .with_provider(provider)
    };
    error.into()
}

fn map_token_error(
    provider: &str,
    kind: GrantKind,
    err: RequestTokenError<HttpError, BasicErrorResponse>,
    attempts: u32,
) -> TokenFailure {
    match err {
        RequestTokenError::ServerResponse(r) => answered_error(
            provider,
            kind,
            r.error().as_ref(),
            r.error_description().map(String::as_str),
        ),
        RequestTokenError::Request(h) => {
            let e = transient_error(provider, &h);
            if attempts > 1 {
                let detail = format!("{} (after {attempts} attempts)", e.detail());
                let mut out = Error::new(e.kind(), detail).with_provider(provider);
                if let Some(r) = e.retry_after() {
                    out = out.with_retry_after(r);
                }
                out.into()
            } else {
                e.into()
            }
        }
        // The body may hold a token: never echo it. It may also be an
        // `ok: false` error (answered with a status other than 200).
        RequestTokenError::Parse(e, body) => {
            if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&body)
                && let Some((code, description)) = ok_false(&object)
            {
                return answered_error(provider, kind, code, description);
            }
            Error::oauth(format!(
                "the token endpoint of `{provider}` answered something that is not a token response (at `{}`)",
                e.path()
            ))
            .with_provider(provider)
            .into()
        }
        RequestTokenError::Other(o) => Error::oauth(format!(
            "the token endpoint of `{provider}`: {}",
            sanitize(&o)
        ))
        .with_provider(provider)
        .into(),
    }
}

#[cfg(test)]
mod send_tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    #[allow(dead_code)]
    fn futures_are_send(e: OAuthEngine, v: Vault, k: TokenKey, s: StoreKey) {
        assert_send(v.take_value::<PendingAuthorization>(&s));
        assert_send(v.load_token(&k));
        assert_send(e.take_state("s", None));
        assert_send(e.complete_for("s", "c", None));
        assert_send(e.access("u", "p", None));
        assert_send(e.access_nested("u", "p", None, "g"));
        assert_send(e.refresh_nested("u", "p", None, "g"));
        assert_send(e.begin("u", "p", &[], None));
        assert_send(e.status("u"));
        assert_send(e.disconnect("u", "p", None));
        assert_send(e.handle_callback(&CallbackParams::default(), None));
    }
}

#[cfg(test)]
mod extra_tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn ids_of_objects_are_kept_and_nothing_else_of_them() {
        let fields = map(json!({
            "app_id": "A0KRD7HC3",
            "bot_user_id": "U0KRQLJ9H",
            "is_enterprise_install": false,
            "team": {"id": "T9TK3CUKW", "name": "Slack Softworks"},
            "enterprise": {"id": "E12345678", "name": "Acme"},
            "incoming_webhook": {"url": "https://hooks.example/x", "channel": "#general"},
            "authed_user": {"id": "U1234", "access_token": "xoxp-secret"},
            "bot_token": {"id": "B1"},
            "id_token": "eyJ.secret",
            "scopes": ["a", "b"],
        }));
        let kept = ExtraFields(fields).non_secret(&["authed_user".to_owned()]);
        assert_eq!(
            Value::Object(kept),
            json!({
                "app_id": "A0KRD7HC3",
                "bot_user_id": "U0KRQLJ9H",
                "is_enterprise_install": false,
                "team_id": "T9TK3CUKW",
                "enterprise_id": "E12345678",
            })
        );
    }

    #[test]
    fn a_scalar_of_the_same_name_wins_and_odd_ids_are_dropped() {
        let fields = map(json!({
            "team_id": "T-scalar",
            "team": {"id": "T-object"},
            "enterprise": null,
            "org": {"id": 42},
            "site": {"id": ""},
            "huge": {"id": "x".repeat(MAX_ID_LEN + 1)},
        }));
        let kept = non_secret(&fields, &[]);
        assert_eq!(kept.get("team_id"), Some(&json!("T-scalar")));
        assert_eq!(kept.get("enterprise"), Some(&Value::Null));
        assert!(!kept.contains_key("enterprise_id"));
        assert!(!kept.contains_key("org_id"));
        assert!(!kept.contains_key("site_id"));
        assert!(!kept.contains_key("huge_id"));
    }

    #[test]
    fn a_nested_grant_keeps_its_scalars_only() {
        let object = map(json!({
            "id": "U1234",
            "scope": "search:read,channels:history",
            "access_token": "xoxp-secret",
            "refresh_token": "xoxe-secret",
            "token_type": "user",
            "expires_in": 43200,
            "profile": {"id": "P1"},
        }));
        let r = nested_record(&object, ",", 1_000).unwrap_or_else(|| unreachable!());
        assert_eq!(r.expires_at, Some(44_200));
        assert_eq!(r.scopes, vec!["search:read", "channels:history"]);
        assert_eq!(
            Value::Object(r.extra),
            json!({"id": "U1234", "scope": "search:read,channels:history", "expires_in": 43200})
        );
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn ok_false_is_recognised_only_as_such() {
        let b = body(json!({"ok": false, "error": "invalid_refresh_token"}));
        assert_eq!(ok_false(&b), Some(("invalid_refresh_token", None)));
        let b = body(json!({"ok": false, "error": "x", "error_description": "why"}));
        assert_eq!(ok_false(&b), Some(("x", Some("why"))));
        for b in [
            json!({"ok": true, "error": "invalid_code"}),
            json!({"ok": "false", "error": "invalid_code"}),
            json!({"ok": false}),
            json!({"ok": false, "error": {"code": 1}}),
            json!({"error": "invalid_grant"}),
        ] {
            assert_eq!(ok_false(&body(b.clone())), None, "{b}");
        }
    }

    #[test]
    fn dead_refresh_tokens_need_reauthorization() {
        for code in DEAD_GRANT_CODES {
            let f = answered_error("p", GrantKind::Refresh, code, None);
            assert_eq!(f.error.kind(), ErrorKind::NeedsReauthorization, "{code}");
            assert_eq!(f.dead_grant.as_deref(), Some(*code));
            assert!(f.error.to_string().contains(code), "{}", f.error);
        }
        // The same codes in answer to a code exchange drop nothing.
        for code in DEAD_GRANT_CODES {
            assert_eq!(
                answered_error("p", GrantKind::Code, code, None).dead_grant,
                None
            );
        }
    }

    #[test]
    fn other_codes_map_to_typed_errors() {
        let kind = |g, c| answered_error("p", g, c, None).error.kind();
        use GrantKind::{Code, Refresh};
        assert_eq!(kind(Code, "invalid_code"), ErrorKind::OAuth);
        assert_eq!(kind(Code, "bad_redirect_uri"), ErrorKind::OAuth);
        assert_eq!(kind(Code, "invalid_grant_type"), ErrorKind::OAuth);
        for c in CLIENT_CODES {
            assert_eq!(kind(Code, c), ErrorKind::Config, "{c}");
            assert_eq!(kind(Refresh, c), ErrorKind::Config, "{c}");
        }
        for c in UNAVAILABLE_CODES {
            assert_eq!(kind(Refresh, c), ErrorKind::Unavailable, "{c}");
        }
        assert_eq!(kind(Refresh, "ratelimited"), ErrorKind::RateLimited);
        assert_eq!(kind(Refresh, "invalid_scope"), ErrorKind::OAuth);
        let f = answered_error("p", Refresh, "bad_client_secret", None);
        assert_eq!(f.dead_grant, None, "the grant survives a client error");
        assert!(f.error.to_string().contains("client credentials"));
    }

    #[test]
    fn a_code_that_could_be_a_token_is_not_shown() {
        let secretish = "xoxe-1-My0xLTEtMjk5MDQ3NjE2MTI0MzYtNjExNzQ3MzY2NDA1Mi1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk";
        let f = answered_error("p", GrantKind::Refresh, secretish, None);
        assert_eq!(f.error.kind(), ErrorKind::OAuth);
        assert_eq!(f.dead_grant, None);
        assert!(!f.error.to_string().contains(secretish), "{}", f.error);
        let f = answered_error("p", GrantKind::Code, "bad code\nwith newline", None);
        assert!(!f.error.to_string().contains("newline"), "{}", f.error);
    }
}
