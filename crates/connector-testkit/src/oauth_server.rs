//! A strict fake OAuth 2.0 authorization server.
//!
//! It exists so the OAuth engine's tests fail when the client deviates from
//! the specifications: it rejects everything a careful real authorization
//! server rejects (RFC 6749 authorization code grant and refresh, RFC 7636
//! PKCE with `S256` only, RFC 7009 revocation, RFC 6750 bearer errors), and it
//! rotates refresh tokens with reuse detection, so a client that refreshes
//! twice with the same token loses the whole grant.
//!
//! Rules a client test may rely on:
//! - `/authorize` refuses with a 400 text body (never a redirect) when the
//!   `client_id` or `redirect_uri` is missing, repeated, unknown or not an
//!   exact string match of a registered URI; every other error redirects with
//!   `error`, `error_description` and `state`.
//! - An authorization code is burned by its first presentation by its own
//!   client, whether or not the exchange succeeds; presenting it again answers
//!   `invalid_grant` and revokes every token issued from it.
//! - The token and revocation endpoints accept only
//!   `application/x-www-form-urlencoded` bodies, no query string, no repeated
//!   parameter, and only the client authentication method the client was
//!   registered with.
//! - A refresh token is single use. Presenting a rotated-away refresh token
//!   answers `invalid_grant` and revokes the whole grant (every access and
//!   refresh token descending from the same authorization).
//! - The token endpoint commits its decision first and then waits for the
//!   configured delay before answering, so a client that gives up early has
//!   still had its refresh token rotated, as with a lost response.
//! - With [`FakeOAuthServer::set_refresh_token_only_on_consent`] it behaves
//!   as Google does with `access_type=offline`: a refresh token only on the
//!   first consent of a user to a client or when the authorization request
//!   says `prompt=consent`; otherwise the code exchange answers an access
//!   token alone, and the user's existing grant gains the newly granted
//!   scopes (its refresh token now covers them; the response's `scope` is
//!   the union when the request said `include_granted_scopes=true`).
//! - With [`FakeOAuthServer::set_nested_grant`] the code exchange also
//!   answers a nested grant object, as Slack's `oauth.v2.access` puts the
//!   user token under `authed_user`: its own access and refresh tokens (a
//!   grant of its own, rotated on refresh like any other, refreshed at the
//!   top level with `token_type` `user`), `id`, comma-separated `scope` and
//!   `expires_in`.
//! - With [`FakeOAuthServer::set_token_error_style`] set to
//!   [`TokenErrorStyle::Slack`] the token endpoint answers as Slack's
//!   `oauth.v2.access` does: every error with HTTP 200 and
//!   `{"ok": false, "error": "<code>"}` in Slack's words
//!   (`invalid_refresh_token`, `invalid_code`, `bad_client_secret`, ...),
//!   every success with `"ok": true`. The decisions are the same.
//! - [`FakeOAuthServer::set_extra_token_fields`] adds fields (Slack's
//!   `team` and `enterprise` objects) to every successful token response.
//!
//! For MCP authorization it also is (see [`FakeOAuthServer::issuer`]):
//! - an RFC 8414 metadata document at
//!   `/.well-known/oauth-authorization-server[/<issuer path>]`, and optionally
//!   OpenID discovery (path inserted or appended), with the issuer, PKCE
//!   methods, registration and CIMD support all switchable, and every
//!   well-known request recorded ([`McpCounters::metadata_requests`]);
//! - a dynamic client registration endpoint (RFC 7591, `/register`) that
//!   validates redirect URIs, grant and response types and the
//!   authentication method, and counts registrations;
//! - a client ID metadata document consumer: a URL `client_id` is fetched
//!   (loopback only) and validated when the server advertises support;
//! - a resource indicator checker (RFC 8707): a `resource` given in the
//!   authorization request must be given again, identical, in the code
//!   exchange and every refresh (`invalid_target` otherwise), and with
//!   [`FakeOAuthServer::require_resource`] it is mandatory. Tokens are bound
//!   to their resource; [`FakeOAuthServer::token_info`] tells a fake
//!   resource server who a token is for.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};
use tokio::sync::oneshot;
use url::Url;

/// How a client authenticates at the token and revocation endpoints
/// (RFC 6749 §2.3.1). The server accepts only the registered method.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// A public client: `client_id` in the form body and no secret at all.
    None,
}

/// A client registered with the fake server.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Compared as exact strings with the `redirect_uri` parameter.
    pub redirect_uris: Vec<String>,
    pub auth: ClientAuth,
}

impl ClientConfig {
    /// A confidential client using `client_secret_basic`.
    pub fn basic(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            auth: ClientAuth::Basic,
        }
    }

    /// A confidential client using `client_secret_post`.
    pub fn post(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            auth: ClientAuth::Post,
            ..Self::basic(client_id, client_secret, redirect_uri)
        }
    }

    /// A public client (PKCE only, no secret).
    pub fn public(client_id: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_uris: vec![redirect_uri.to_owned()],
            auth: ClientAuth::None,
        }
    }
}

/// What the server has received, for assertions about how often a client
/// talked to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `GET /authorize` requests, valid or not.
    pub authorize: usize,
    /// Token requests with `grant_type=authorization_code`, valid or not.
    pub code_exchanges: usize,
    /// Token requests with `grant_type=refresh_token`, valid or not.
    pub refreshes: usize,
    /// Refresh requests that issued new tokens.
    pub refresh_successes: usize,
    /// Token responses with `error=invalid_grant`.
    pub invalid_grants: usize,
    /// `POST /revoke` requests, valid or not.
    pub revocations: usize,
    /// `GET /userinfo` requests, valid or not.
    pub userinfo: usize,
    /// Every POST to the token endpoint, including injected failures (which
    /// are counted only here).
    pub token_requests: usize,
}

/// What the server saw of consent ([`FakeOAuthServer::consent_counters`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentCounters {
    /// Valid authorization requests that carried `prompt=consent`.
    pub consent_prompts: usize,
    /// Code exchanges that answered without a refresh token
    /// ([`FakeOAuthServer::set_refresh_token_only_on_consent`]).
    pub exchanges_without_refresh_token: usize,
}

/// How the token endpoint words its answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenErrorStyle {
    /// RFC 6749 §5.2: a 400 (or 401) with `error` and `error_description`.
    #[default]
    Rfc6749,
    /// Slack's `oauth.v2.access`: HTTP 200 with `{"ok": false, "error": …}`
    /// and Slack's codes; successes carry `"ok": true`.
    Slack,
}

/// Which OpenID Connect discovery documents the server serves
/// (RFC 8414 §5 compatibility).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpenIdDiscovery {
    /// None.
    #[default]
    Off,
    /// `/.well-known/openid-configuration/<issuer path>` (path inserted).
    Inserted,
    /// `<issuer path>/.well-known/openid-configuration` (path appended).
    Appended,
}

/// What the MCP-facing endpoints have received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McpCounters {
    /// Paths of every `GET` under `/.well-known/` (served or not), in order.
    pub metadata_requests: Vec<String>,
    /// Successful dynamic client registrations.
    pub registrations: usize,
    /// Every `POST /register`, valid or not.
    pub registration_requests: usize,
    /// Client ID metadata documents fetched.
    pub cimd_fetches: usize,
}

/// What the server knows about an access token (an introspection, for a
/// fake resource server that must check audience and scopes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Whether the token would be accepted now (not expired, not revoked).
    pub active: bool,
    /// The client it was issued to.
    pub client_id: String,
    /// The resource owner.
    pub subject: String,
    /// The scopes granted to this token.
    pub scopes: Vec<String>,
    /// The resource (RFC 8707) the token is bound to, if one was requested.
    pub resource: Option<String>,
}

/// A running fake authorization server on `127.0.0.1`.
///
/// Cloning gives another handle to the same server; the server shuts down
/// when the last handle is dropped.
#[derive(Clone)]
pub struct FakeOAuthServer {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    shared: Arc<Shared>,
    http: reqwest::Client,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let sender = self
            .shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // The server task may already be gone with its runtime.
            let _ = sender.send(());
        }
    }
}

impl fmt::Debug for FakeOAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOAuthServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeOAuthServer {
    /// Starts a server on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// When the loopback socket cannot be bound; use [`Self::try_start`] to
    /// handle that.
    #[allow(
        clippy::expect_used,
        reason = "test support: the fixed signature has no error path"
    )]
    pub async fn start() -> FakeOAuthServer {
        Self::try_start()
            .await
            .expect("cannot start the fake OAuth server on 127.0.0.1")
    }

    /// Starts a server on `127.0.0.1` and a free port.
    pub async fn try_start() -> std::io::Result<FakeOAuthServer> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // Without TCP_NODELAY, small keep-alive responses stall ~40 ms on
        // Nagle's algorithm meeting delayed ACKs.
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "fake OAuth server: cannot set TCP_NODELAY");
            }
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            http: http.clone(),
            base: format!("http://{addr}"),
        });
        let app = Router::new()
            .route("/authorize", get(authorize_handler))
            .route("/token", post(token_handler))
            .route("/revoke", post(revoke_handler))
            .route("/userinfo", get(userinfo_handler))
            .route("/register", post(register_handler))
            .fallback(well_known_handler)
            .with_state(Arc::clone(&shared));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = shutdown_rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake OAuth server stopped with an error");
            }
        });
        Ok(FakeOAuthServer {
            inner: Arc::new(Inner {
                addr,
                shared,
                http,
                shutdown: Mutex::new(Some(shutdown_tx)),
            }),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.url())
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    pub fn revocation_url(&self) -> String {
        format!("{}/revoke", self.url())
    }

    pub fn userinfo_url(&self) -> String {
        format!("{}/userinfo", self.url())
    }

    /// The dynamic client registration endpoint (RFC 7591).
    pub fn registration_url(&self) -> String {
        format!("{}/register", self.url())
    }

    /// The issuer identifier: the server's URL plus the issuer path, if one
    /// is set ([`Self::set_issuer_path`]).
    pub fn issuer(&self) -> String {
        let path = self.state().settings.metadata.issuer_path.clone();
        format!("{}{}", self.url(), path.unwrap_or_default())
    }

    /// Gives the issuer a path component (`"/tenant1"`): metadata moves to
    /// `/.well-known/oauth-authorization-server/tenant1` (and the OpenID
    /// variants). `None`: the issuer is the bare origin (the default).
    pub fn set_issuer_path(&self, path: Option<&str>) {
        self.state().settings.metadata.issuer_path = path
            .map(|p| format!("/{}", p.trim_matches('/')))
            .filter(|p| p != "/");
    }

    /// Serves (the default) or hides the RFC 8414 metadata document.
    pub fn set_oauth_metadata(&self, on: bool) {
        self.state().settings.metadata.oauth = on;
    }

    /// Which OpenID discovery document to serve (default none).
    pub fn set_openid_discovery(&self, mode: OpenIdDiscovery) {
        self.state().settings.metadata.openid = mode;
    }

    /// `code_challenge_methods_supported` in the metadata; `None` omits the
    /// field (a server that does not do PKCE, as far as a client can tell).
    /// Default `["S256"]`.
    pub fn set_code_challenge_methods(&self, methods: Option<Vec<String>>) {
        self.state().settings.metadata.code_challenge_methods = methods;
    }

    /// Enables (the default) or disables dynamic client registration; when
    /// disabled, `registration_endpoint` is not advertised and `/register`
    /// answers 404.
    pub fn set_dynamic_registration(&self, on: bool) {
        self.state().settings.metadata.registration = on;
    }

    /// Advertises `client_id_metadata_document_supported` and accepts URL
    /// client ids by fetching their documents (loopback only). Default off.
    pub fn set_client_id_metadata_documents(&self, on: bool) {
        self.state().settings.metadata.cimd = on;
    }

    /// Serves this `issuer` in the metadata instead of the real one (a
    /// client must refuse the document).
    pub fn set_metadata_issuer_override(&self, issuer: Option<String>) {
        self.state().settings.metadata.issuer_override = issuer;
    }

    /// `scopes_supported` in the metadata (omitted when `None`, the default).
    pub fn set_scopes_supported(&self, scopes: Option<Vec<String>>) {
        self.state().settings.metadata.scopes_supported = scopes;
    }

    /// Makes the RFC 8707 `resource` parameter mandatory in authorization
    /// and token requests (`invalid_target` without it). Whether required or
    /// not, a resource given at authorization must be repeated, identical,
    /// in the code exchange and in every refresh.
    pub fn require_resource(&self, on: bool) {
        self.state().settings.resource_required = on;
    }

    /// What the MCP-facing endpoints have received.
    pub fn mcp_counters(&self) -> McpCounters {
        self.state().mcp_counters.clone()
    }

    /// A registered client (configured, dynamically registered or from a
    /// metadata document).
    pub fn client(&self, client_id: &str) -> Option<ClientConfig> {
        self.state().clients.get(client_id).cloned()
    }

    /// Who `access_token` is for, `None` for a string this server never
    /// issued as an access token.
    pub fn token_info(&self, access_token: &str) -> Option<TokenInfo> {
        let state = self.state();
        let token = state.access_tokens.get(access_token)?;
        let family = state.families.get(token.family)?;
        Some(TokenInfo {
            active: state.access_token_problem(token).is_none(),
            client_id: family.client_id.clone(),
            subject: family.subject.clone(),
            scopes: token.scopes.clone(),
            resource: family.resource.clone(),
        })
    }

    /// Registers a client, replacing any client with the same id.
    pub fn register_client(&self, c: ClientConfig) {
        self.state().clients.insert(c.client_id.clone(), c);
    }

    /// The `expires_in` (and real lifetime) of access tokens issued from now
    /// on; zero issues tokens that are already expired. Default 3600 s.
    pub fn set_access_token_lifetime(&self, d: Duration) {
        self.state().settings.access_token_lifetime = d;
    }

    /// How long new authorization codes stay valid. Default 60 s.
    pub fn set_code_lifetime(&self, d: Duration) {
        self.state().settings.code_lifetime = d;
    }

    /// Partial consent: the user grants only these scopes (intersected with
    /// the requested ones). `None` grants what was requested.
    pub fn set_granted_scopes(&self, scopes: Option<Vec<String>>) {
        self.state().settings.granted_scopes = scopes;
    }

    /// Google's offline access: a code exchange issues a refresh token only
    /// on a user's first consent to the client or when the authorization
    /// request carried `prompt=consent`; otherwise it answers an access token
    /// alone, and the user's latest live grant gains the new scopes (see the
    /// module docs). Default off: every exchange issues a refresh token.
    pub fn set_refresh_token_only_on_consent(&self, on: bool) {
        self.state().settings.refresh_token_only_on_consent = on;
    }

    /// Code exchanges answer, besides the top-level grant, a nested grant
    /// object named `name` (Slack: `authed_user`) with these scopes, as a
    /// grant of its own (`token_type` `user`). `None` (the default) stops.
    pub fn set_nested_grant(&self, name: Option<&str>, scopes: &[&str]) {
        self.state().settings.nested_grant = name.map(|n| {
            (
                n.to_owned(),
                scopes.iter().map(|s| (*s).to_owned()).collect(),
            )
        });
    }

    /// How the token endpoint words its answers (default
    /// [`TokenErrorStyle::Rfc6749`]). [`Counters::invalid_grants`] counts
    /// the decision, whatever the wording.
    pub fn set_token_error_style(&self, style: TokenErrorStyle) {
        self.state().settings.error_style = style;
    }

    /// Fields added to the top level of every successful token response,
    /// code exchanges and refreshes (Slack: `team`, `enterprise`, `app_id`).
    /// A field the response already has is not replaced. `None` (the
    /// default) adds none.
    pub fn set_extra_token_fields(
        &self,
        fields: Option<serde_json::Map<String, serde_json::Value>>,
    ) {
        self.state().settings.extra_token_fields = fields;
    }

    /// Revokes the whole grant `token` (an access or refresh token this
    /// server issued) belongs to, as when the user uninstalls the app: its
    /// refresh tokens then answer `invalid_grant`. Whether `token` was known.
    pub fn revoke_grant(&self, token: &str) -> bool {
        let mut state = self.state();
        let family = state
            .access_tokens
            .get(token)
            .map(|t| t.family)
            .or_else(|| state.refresh_tokens.get(token).map(|t| t.family));
        match family {
            Some(family) => {
                state.revoke_family(family);
                true
            }
            None => false,
        }
    }

    /// The next valid authorization request is denied by the user: it
    /// redirects with `error=access_denied&state=...`.
    pub fn deny_next_authorization(&self) {
        self.state().settings.deny_next = true;
    }

    /// The next `n` token-endpoint requests answer `status` with a plain-text
    /// body, without looking at the request (as a proxy in front of the
    /// server would). An invalid status code becomes 500.
    pub fn fail_next_token_requests(&self, n: usize, status: u16) {
        let mut state = self.state();
        state.settings.fail_next = n;
        state.settings.fail_status =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// Every token-endpoint answer (including injected failures) waits `d`
    /// after the request has been processed.
    pub fn set_token_delay(&self, d: Duration) {
        self.state().settings.token_delay = d;
    }

    /// Every access token issued so far is expired from now on.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for token in self.state().access_tokens.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
    }

    pub fn counters(&self) -> Counters {
        self.state().counters.clone()
    }

    /// How often consent was forced, and how many exchanges issued no
    /// refresh token.
    pub fn consent_counters(&self) -> ConsentCounters {
        self.state().consent_counters.clone()
    }

    /// Every access token, refresh token and authorization code ever issued,
    /// in issue order.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.state().issued.clone()
    }

    /// Whether `token` is an access token that `/userinfo` would accept now,
    /// or a refresh token that the token endpoint would accept now.
    pub fn is_active(&self, token: &str) -> bool {
        let state = self.state();
        if let Some(access) = state.access_tokens.get(token) {
            return state.access_token_problem(access).is_none();
        }
        state
            .refresh_tokens
            .get(token)
            .is_some_and(|refresh| !refresh.rotated && !state.family_revoked(refresh.family))
    }

    /// Plays the user's browser with automatic consent: GETs
    /// `authorization_url` without following redirects and returns the
    /// `Location` it redirects to (the callback URL with `code` and `state`,
    /// or with `error`). Fails with the server's text when it refuses to
    /// redirect, and refuses URLs that are not this server's `/authorize`.
    pub async fn approve(&self, authorization_url: &str) -> Result<Url, String> {
        let url =
            Url::parse(authorization_url).map_err(|e| format!("invalid authorization URL: {e}"))?;
        let expected = self.authorize_url();
        let without_query = &url.as_str()[..url.as_str().find('?').unwrap_or(url.as_str().len())];
        if without_query != expected {
            return Err(format!(
                "authorization URL does not point at this server's {expected}"
            ));
        }
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("authorization request failed: {e}"))?;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status.is_redirection() {
            let location = location.ok_or_else(|| format!("HTTP {status} without Location"))?;
            return Url::parse(&location).map_err(|e| format!("invalid Location {location}: {e}"));
        }
        let body = response.text().await.unwrap_or_default();
        Err(format!("HTTP {}: {body}", status.as_u16()))
    }

    fn state(&self) -> MutexGuard<'_, AuthState> {
        self.inner.shared.lock()
    }
}

// ---------------------------------------------------------------------------
// State

struct Shared {
    state: Mutex<AuthState>,
    /// Fetches client ID metadata documents (no redirects).
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    base: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, AuthState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Settings {
    access_token_lifetime: Duration,
    code_lifetime: Duration,
    granted_scopes: Option<Vec<String>>,
    deny_next: bool,
    fail_next: usize,
    fail_status: StatusCode,
    token_delay: Duration,
    resource_required: bool,
    refresh_token_only_on_consent: bool,
    nested_grant: Option<(String, Vec<String>)>,
    error_style: TokenErrorStyle,
    extra_token_fields: Option<serde_json::Map<String, serde_json::Value>>,
    metadata: MetadataSettings,
}

struct MetadataSettings {
    issuer_path: Option<String>,
    oauth: bool,
    openid: OpenIdDiscovery,
    code_challenge_methods: Option<Vec<String>>,
    registration: bool,
    cimd: bool,
    issuer_override: Option<String>,
    scopes_supported: Option<Vec<String>>,
}

impl Default for MetadataSettings {
    fn default() -> Self {
        Self {
            issuer_path: None,
            oauth: true,
            openid: OpenIdDiscovery::Off,
            code_challenge_methods: Some(vec!["S256".to_owned()]),
            registration: true,
            cimd: false,
            issuer_override: None,
            scopes_supported: None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(60),
            granted_scopes: None,
            deny_next: false,
            fail_next: 0,
            fail_status: StatusCode::SERVICE_UNAVAILABLE,
            resource_required: false,
            refresh_token_only_on_consent: false,
            nested_grant: None,
            error_style: TokenErrorStyle::Rfc6749,
            extra_token_fields: None,
            metadata: MetadataSettings::default(),
            token_delay: Duration::ZERO,
        }
    }
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
    resource: Option<String>,
    subject: String,
    expires_at: Instant,
    used: bool,
    /// Whether the request said `prompt=consent`.
    prompt_consent: bool,
    /// Whether the request said `include_granted_scopes=true`.
    include_granted_scopes: bool,
    /// The grants created or extended by the successful exchange of this
    /// code (the top-level one, then a nested one).
    family: Vec<usize>,
}

/// One authorization: every token descending from one code exchange.
struct Family {
    client_id: String,
    subject: String,
    scopes: Vec<String>,
    resource: Option<String>,
    revoked: bool,
    /// `token_type` of its token responses.
    token_type: &'static str,
    /// Whether it is a nested grant (never extended by a later consent).
    nested: bool,
}

struct AccessToken {
    family: usize,
    scopes: Vec<String>,
    expires_at: Instant,
    revoked: bool,
}

struct RefreshToken {
    family: usize,
    rotated: bool,
}

#[derive(Default)]
struct AuthState {
    clients: HashMap<String, ClientConfig>,
    codes: HashMap<String, CodeGrant>,
    families: Vec<Family>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshToken>,
    issued: Vec<String>,
    counters: Counters,
    consent_counters: ConsentCounters,
    mcp_counters: McpCounters,
    settings: Settings,
}

// ---------------------------------------------------------------------------
// Handlers: thin async shells; the decisions are made under the lock by
// synchronous methods, and the lock is never held across an await.

async fn authorize_handler(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let document = shared.lock().cimd_candidate(&query);
    if let Some(document) = document {
        match fetch_client_metadata(&shared.http, &document).await {
            Ok(client) => {
                let mut state = shared.lock();
                state.mcp_counters.cimd_fetches += 1;
                state.clients.insert(client.client_id.clone(), client);
            }
            Err(refusal) => {
                shared.lock().counters.authorize += 1;
                let mut response = (
                    StatusCode::BAD_REQUEST,
                    format!("client metadata document: {refusal}"),
                )
                    .into_response();
                no_store(&mut response);
                return response;
            }
        }
    }
    let outcome = shared.lock().authorize(&query);
    let mut response = match outcome {
        Ok(location) => match HeaderValue::from_str(location.as_str()) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => (StatusCode::BAD_REQUEST, "unencodable redirect").into_response(),
        },
        Err(refusal) => (StatusCode::BAD_REQUEST, refusal).into_response(),
    };
    no_store(&mut response);
    response
}

async fn token_handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let (response, delay) = {
        let mut state = shared.lock();
        state.counters.token_requests += 1;
        let response = if state.settings.fail_next > 0 {
            state.settings.fail_next -= 1;
            let status = state.settings.fail_status;
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{status}: injected failure"),
            )
                .into_response()
        } else {
            let style = state.settings.error_style;
            match state.token(&headers, query.as_deref(), &body) {
                Ok(mut answer) => {
                    if let (Some(extra), Some(object)) = (
                        state.settings.extra_token_fields.as_ref(),
                        answer.as_object_mut(),
                    ) {
                        for (k, v) in extra {
                            object.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    if style == TokenErrorStyle::Slack {
                        answer["ok"] = serde_json::Value::Bool(true);
                    }
                    json_response(answer)
                }
                Err(error) => {
                    if error.error == "invalid_grant" {
                        state.counters.invalid_grants += 1;
                    }
                    match style {
                        TokenErrorStyle::Rfc6749 => error.into_response(),
                        TokenErrorStyle::Slack => {
                            let params = Params::parse(&body);
                            let code = error.slack_code(params.get("grant_type"));
                            json_response(serde_json::json!({ "ok": false, "error": code }))
                        }
                    }
                }
            }
        };
        (response, state.settings.token_delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

async fn revoke_handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match shared.lock().revoke(&headers, query.as_deref(), &body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn userinfo_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.lock().userinfo(&headers)
}

impl AuthState {
    /// Decides an authorization request: `Ok` is where to redirect the
    /// browser, `Err` a refusal shown to the user (never a redirect).
    fn authorize(&mut self, query: &str) -> Result<Url, String> {
        self.counters.authorize += 1;
        let params = Params::parse(query.as_bytes());

        // RFC 6749 §4.1.2.1: without a trusted client and redirect URI the
        // server must not redirect.
        let client_id = params.single_for_refusal("client_id")?;
        let client = self
            .clients
            .get(client_id)
            .ok_or_else(|| format!("unknown client_id {client_id:?}"))?;
        let redirect_uri = params.single_for_refusal("redirect_uri")?;
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err(format!(
                "redirect_uri {redirect_uri:?} is not registered for client {client_id:?}"
            ));
        }
        let mut callback = Url::parse(redirect_uri)
            .map_err(|e| format!("registered redirect_uri is not a URL: {e}"))?;
        let client_id = client_id.to_owned();
        let redirect_uri = redirect_uri.to_owned();
        let state = match params.count("state") {
            1 => params.get("state").map(str::to_owned),
            _ => None,
        };
        let redirect_error = |mut callback: Url, error: &str, description: &str| {
            {
                let mut pairs = callback.query_pairs_mut();
                pairs.append_pair("error", error);
                pairs.append_pair("error_description", description);
                if let Some(state) = &state {
                    pairs.append_pair("state", state);
                }
            }
            callback
        };

        if let Some(name) = params.first_repeated() {
            let description = format!("parameter {name} is repeated");
            return Ok(redirect_error(callback, "invalid_request", &description));
        }
        match params.get("response_type") {
            None => {
                return Ok(redirect_error(
                    callback,
                    "invalid_request",
                    "response_type is required",
                ));
            }
            Some("code") => {}
            Some(_) => {
                return Ok(redirect_error(
                    callback,
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        let Some(state) = state.clone() else {
            return Ok(redirect_error(
                callback,
                "invalid_request",
                "state is required",
            ));
        };
        match params.get("code_challenge_method") {
            Some("S256") => {}
            None => {
                return Ok(redirect_error(
                    callback,
                    "invalid_request",
                    "PKCE is required: code_challenge_method=S256",
                ));
            }
            Some(_) => {
                return Ok(redirect_error(
                    callback,
                    "invalid_request",
                    "transform algorithm not supported: only S256",
                ));
            }
        }
        let Some(challenge) = params.get("code_challenge") else {
            return Ok(redirect_error(
                callback,
                "invalid_request",
                "code_challenge is required",
            ));
        };
        if !is_s256_challenge(challenge) {
            return Ok(redirect_error(
                callback,
                "invalid_request",
                "code_challenge is not a BASE64URL-encoded SHA-256 digest",
            ));
        }
        let requested = match params.get("scope").map(parse_scope).transpose() {
            Ok(scopes) => scopes.unwrap_or_default(),
            Err(description) => {
                return Ok(redirect_error(callback, "invalid_scope", &description));
            }
        };
        let resource = params.get("resource").map(str::to_owned);
        match &resource {
            None if self.settings.resource_required => {
                return Ok(redirect_error(
                    callback,
                    "invalid_target",
                    "resource is required (RFC 8707)",
                ));
            }
            Some(r) if !is_valid_resource(r) => {
                return Ok(redirect_error(
                    callback,
                    "invalid_target",
                    "resource must be an absolute URI without a fragment",
                ));
            }
            _ => {}
        }
        if std::mem::take(&mut self.settings.deny_next) {
            return Ok(redirect_error(
                callback,
                "access_denied",
                "the user denied the request",
            ));
        }
        let scopes = match &self.settings.granted_scopes {
            Some(allowed) => requested
                .into_iter()
                .filter(|s| allowed.contains(s))
                .collect(),
            None => requested,
        };
        let subject = params.get("login_hint").unwrap_or("user-1").to_owned();
        let prompt_consent = params
            .get("prompt")
            .is_some_and(|p| p.split(' ').any(|v| v == "consent"));
        if prompt_consent {
            self.consent_counters.consent_prompts += 1;
        }
        let include_granted_scopes = params.get("include_granted_scopes") == Some("true");
        let code = new_secret("code");
        self.issued.push(code.clone());
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id,
                redirect_uri,
                challenge: challenge.to_owned(),
                scopes,
                resource,
                subject,
                expires_at: Instant::now() + self.settings.code_lifetime,
                used: false,
                prompt_consent,
                include_granted_scopes,
                family: Vec::new(),
            },
        );
        callback
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state);
        Ok(callback)
    }

    /// Decides a token request: `Ok` is the token response's JSON.
    fn token(
        &mut self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<serde_json::Value, OAuthError> {
        let params = form_params(headers, query, body)?;
        let grant_type = params.get("grant_type");
        match grant_type {
            Some("authorization_code") => self.counters.code_exchanges += 1,
            Some("refresh_token") => self.counters.refreshes += 1,
            _ => {}
        }
        let client = self.authenticate_client(headers, &params)?;
        match grant_type {
            Some("authorization_code") => self.exchange_code(&client, &params),
            Some("refresh_token") => {
                let response = self.refresh(&client, &params)?;
                self.counters.refresh_successes += 1;
                Ok(response)
            }
            Some(other) => Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported"),
            )),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    }

    /// RFC 6749 §2.3.1 with exactly the client's registered method.
    fn authenticate_client(
        &self,
        headers: &HeaderMap,
        params: &Params,
    ) -> Result<ClientConfig, OAuthError> {
        let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
        let authorization = authorizations.next();
        if authorizations.next().is_some() {
            return Err(OAuthError::invalid_request(
                "Authorization header is repeated",
            ));
        }
        let basic = authorization.map(parse_basic).transpose()?;
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        if basic.is_some() && body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method used",
            ));
        }
        let tried_basic = basic.is_some();
        let client_id = match (&basic, body_id) {
            (Some((id, _)), Some(body_id)) if id != body_id => {
                return Err(OAuthError::invalid_client(
                    "client_id in the body differs from the Basic credentials",
                    true,
                ));
            }
            (Some((id, _)), _) => id.as_str(),
            (None, Some(body_id)) => body_id,
            (None, None) => {
                return Err(OAuthError::invalid_client(
                    "client authentication required",
                    false,
                ));
            }
        };
        let Some(client) = self.clients.get(client_id) else {
            return Err(OAuthError::invalid_client("unknown client", tried_basic));
        };
        let secret_matches =
            |given: &str| client.client_secret.as_deref().is_some_and(|s| s == given);
        match client.auth {
            ClientAuth::Basic => match &basic {
                Some((_, secret)) if secret_matches(secret) => Ok(client.clone()),
                Some(_) => Err(OAuthError::invalid_client("wrong client secret", true)
                    .slack("bad_client_secret")),
                None => Err(OAuthError::invalid_client(
                    "this client must authenticate with HTTP Basic (client_secret_basic)",
                    true,
                )),
            },
            ClientAuth::Post => {
                if tried_basic {
                    return Err(OAuthError::invalid_client(
                        "this client must authenticate with client_secret_post, not HTTP Basic",
                        true,
                    ));
                }
                match body_secret {
                    Some(secret) if secret_matches(secret) => Ok(client.clone()),
                    Some(_) => Err(OAuthError::invalid_client("wrong client secret", false)
                        .slack("bad_client_secret")),
                    None => Err(OAuthError::invalid_client(
                        "client_secret is required in the body (client_secret_post)",
                        false,
                    )),
                }
            }
            ClientAuth::None => {
                if tried_basic || body_secret.is_some() {
                    return Err(OAuthError::invalid_client(
                        "a public client must not send a client secret",
                        tried_basic,
                    ));
                }
                Ok(client.clone())
            }
        }
    }

    /// RFC 6749 §4.1.3 and RFC 7636 §4.6.
    fn exchange_code(
        &mut self,
        client: &ClientConfig,
        params: &Params,
    ) -> Result<serde_json::Value, OAuthError> {
        let code = params.required("code")?;
        let redirect_uri = params.required("redirect_uri")?;
        let verifier = params.required("code_verifier")?;
        if !is_valid_verifier(verifier) {
            return Err(OAuthError::invalid_request(
                "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
            ));
        }
        let Some(grant) = self.codes.get_mut(code) else {
            return Err(OAuthError::invalid_grant("unknown authorization code"));
        };
        if grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "authorization code was issued to another client",
            ));
        }
        if std::mem::replace(&mut grant.used, true) {
            for family in grant.family.clone() {
                self.revoke_family(family);
            }
            return Err(OAuthError::invalid_grant(
                "authorization code already used; tokens issued from it are revoked",
            ));
        }
        if Instant::now() >= grant.expires_at {
            return Err(OAuthError::invalid_grant("authorization code expired"));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request",
            )
            .slack("bad_redirect_uri"));
        }
        if s256(verifier) != grant.challenge {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        check_resource(
            grant.resource.as_deref(),
            params.get("resource"),
            self.settings.resource_required,
        )?;
        let scopes = grant.scopes.clone();
        let client_id = grant.client_id.clone();
        let subject = grant.subject.clone();
        let resource = grant.resource.clone();
        let prompt_consent = grant.prompt_consent;
        let include_granted = grant.include_granted_scopes;
        let existing = if self.settings.refresh_token_only_on_consent && !prompt_consent {
            self.families.iter().rposition(|f| {
                !f.revoked
                    && !f.nested
                    && f.client_id == client_id
                    && f.subject == subject
                    && f.resource == resource
            })
        } else {
            None
        };
        let code = code.to_owned();
        let mut body = match existing {
            // Google: no new refresh token; the old one now covers the new
            // scopes too.
            Some(family_id) => {
                let union = match self.families.get_mut(family_id) {
                    Some(f) => {
                        for s in &scopes {
                            if !f.scopes.contains(s) {
                                f.scopes.push(s.clone());
                            }
                        }
                        f.scopes.clone()
                    }
                    None => scopes.clone(),
                };
                self.consent_counters.exchanges_without_refresh_token += 1;
                let answered = if include_granted { union } else { scopes };
                self.record_families(&code, &[family_id]);
                self.token_body(family_id, answered, false)
            }
            None => {
                let family = self.new_family(&client_id, &subject, scopes.clone(), &resource);
                self.record_families(&code, &[family]);
                self.token_body(family, scopes, true)
            }
        };
        if let Some((name, nested_scopes)) = self.settings.nested_grant.clone() {
            let family = self.new_family(&client_id, &subject, nested_scopes.clone(), &resource);
            if let Some(f) = self.families.get_mut(family) {
                f.token_type = "user";
                f.nested = true;
            }
            self.record_families(&code, &[family]);
            let mut nested = self.token_body(family, Vec::new(), true);
            nested["id"] = serde_json::Value::String(subject.clone());
            nested["scope"] = serde_json::Value::String(nested_scopes.join(","));
            body[name] = nested;
        }
        Ok(body)
    }

    fn new_family(
        &mut self,
        client_id: &str,
        subject: &str,
        scopes: Vec<String>,
        resource: &Option<String>,
    ) -> usize {
        self.families.push(Family {
            client_id: client_id.to_owned(),
            subject: subject.to_owned(),
            scopes,
            resource: resource.clone(),
            revoked: false,
            token_type: "Bearer",
            nested: false,
        });
        self.families.len() - 1
    }

    fn record_families(&mut self, code: &str, families: &[usize]) {
        if let Some(grant) = self.codes.get_mut(code) {
            grant.family.extend_from_slice(families);
        }
    }

    /// RFC 6749 §6 with refresh token rotation and reuse detection.
    fn refresh(
        &mut self,
        client: &ClientConfig,
        params: &Params,
    ) -> Result<serde_json::Value, OAuthError> {
        let presented = params.required("refresh_token")?;
        let requested =
            params
                .get("scope")
                .map(parse_scope)
                .transpose()
                .map_err(|description| {
                    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
                })?;
        let Some(token) = self.refresh_tokens.get(presented) else {
            return Err(OAuthError::invalid_grant("unknown refresh token"));
        };
        let family_id = token.family;
        let rotated = token.rotated;
        let Some(family) = self.families.get(family_id) else {
            return Err(OAuthError::invalid_grant("unknown refresh token"));
        };
        if family.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "refresh token was issued to another client",
            ));
        }
        if rotated {
            self.revoke_family(family_id);
            return Err(OAuthError::invalid_grant(
                "refresh token already used; the whole grant is revoked",
            ));
        }
        if family.revoked {
            return Err(OAuthError::invalid_grant("refresh token revoked"));
        }
        check_resource(
            family.resource.as_deref(),
            params.get("resource"),
            self.settings.resource_required,
        )?;
        let scopes = match requested {
            Some(requested) => {
                if let Some(extra) = requested.iter().find(|s| !family.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        format!("scope {extra:?} exceeds the original grant"),
                    ));
                }
                requested
            }
            None => family.scopes.clone(),
        };
        if let Some(token) = self.refresh_tokens.get_mut(presented) {
            token.rotated = true;
        }
        Ok(self.token_body(family_id, scopes, true))
    }

    /// Issues an access token of `family` (and a refresh token when
    /// `with_refresh`) and returns the token response's JSON.
    fn token_body(
        &mut self,
        family: usize,
        scopes: Vec<String>,
        with_refresh: bool,
    ) -> serde_json::Value {
        let lifetime = self.settings.access_token_lifetime;
        let token_type = self.families.get(family).map_or("Bearer", |f| f.token_type);
        let access_token = new_secret("at");
        self.issued.push(access_token.clone());
        let token_scopes = if scopes.is_empty() {
            self.families
                .get(family)
                .map(|f| f.scopes.clone())
                .unwrap_or_default()
        } else {
            scopes.clone()
        };
        self.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                family,
                scopes: token_scopes,
                expires_at: Instant::now() + lifetime,
                revoked: false,
            },
        );
        let mut body = serde_json::json!({
            "access_token": access_token,
            "token_type": token_type,
            "expires_in": lifetime.as_secs(),
        });
        if with_refresh {
            let refresh_token = new_secret("rt");
            self.issued.push(refresh_token.clone());
            self.refresh_tokens.insert(
                refresh_token.clone(),
                RefreshToken {
                    family,
                    rotated: false,
                },
            );
            body["refresh_token"] = serde_json::Value::String(refresh_token);
        }
        if !scopes.is_empty() {
            body["scope"] = serde_json::Value::String(scopes.join(" "));
        }
        body
    }

    fn revoke_family(&mut self, family: usize) {
        if let Some(family) = self.families.get_mut(family) {
            family.revoked = true;
        }
    }

    fn family_revoked(&self, family: usize) -> bool {
        self.families.get(family).is_none_or(|f| f.revoked)
    }

    /// RFC 7009 §2.1.
    fn revoke(
        &mut self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<(), OAuthError> {
        self.counters.revocations += 1;
        let params = form_params(headers, query, body)?;
        let client = self.authenticate_client(headers, &params)?;
        let token = params.required("token")?;
        // The token_type_hint only speeds up a real server's look-up; an
        // invalid hint is ignored (RFC 7009 §2.1).
        let owner = |state: &Self, family: usize| {
            state
                .families
                .get(family)
                .is_some_and(|f| f.client_id == client.client_id)
        };
        let not_owner = || OAuthError::invalid_request("the token was issued to another client");
        if let Some(family) = self.access_tokens.get(token).map(|t| t.family) {
            if !owner(self, family) {
                return Err(not_owner());
            }
            if let Some(access) = self.access_tokens.get_mut(token) {
                access.revoked = true;
            }
        } else if let Some(family) = self.refresh_tokens.get(token).map(|t| t.family) {
            if !owner(self, family) {
                return Err(not_owner());
            }
            self.revoke_family(family);
        }
        Ok(())
    }

    /// Why an access token is not accepted, if it is not.
    fn access_token_problem(&self, token: &AccessToken) -> Option<&'static str> {
        if token.revoked || self.family_revoked(token.family) {
            Some("The access token was revoked")
        } else if Instant::now() >= token.expires_at {
            Some("The access token expired")
        } else {
            None
        }
    }

    /// RFC 6750 §2.1 and §3.
    fn userinfo(&mut self, headers: &HeaderMap) -> Response {
        self.counters.userinfo += 1;
        let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
        let (Some(authorization), None) = (authorizations.next(), authorizations.next()) else {
            if headers.contains_key(header::AUTHORIZATION) {
                return bearer_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Authorization header is repeated",
                );
            }
            return bearer_challenge();
        };
        let Some((scheme, token)) = authorization
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
        else {
            return bearer_challenge();
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return bearer_challenge();
        }
        if token.is_empty() || token.contains(char::is_whitespace) {
            return bearer_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "malformed bearer token",
            );
        }
        let Some(access) = self.access_tokens.get(token) else {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is unknown",
            );
        };
        if let Some(problem) = self.access_token_problem(access) {
            return bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", problem);
        }
        let Some(family) = self.families.get(access.family) else {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is unknown",
            );
        };
        let body = serde_json::json!({
            "sub": family.subject,
            "email": format!("{}@example.test", family.subject),
            "scopes": access.scopes,
            "client_id": family.client_id,
        });
        (StatusCode::OK, axum::Json(body)).into_response()
    }
}

// ---------------------------------------------------------------------------
// MCP-facing endpoints: metadata, dynamic registration, client metadata
// documents.

/// Every `GET` the other routes do not take: the well-known metadata
/// documents (recorded, served when switched on), else 404.
async fn well_known_handler(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    let path = uri.path().to_owned();
    let mut state = shared.lock();
    if path.contains("/.well-known/") {
        state.mcp_counters.metadata_requests.push(path.clone());
    }
    if method != axum::http::Method::GET {
        return StatusCode::NOT_FOUND.into_response();
    }
    let m = &state.settings.metadata;
    let issuer_path = m.issuer_path.clone().unwrap_or_default();
    let oauth = m.oauth && path == format!("/.well-known/oauth-authorization-server{issuer_path}");
    let openid = match m.openid {
        OpenIdDiscovery::Off => false,
        OpenIdDiscovery::Inserted => {
            path == format!("/.well-known/openid-configuration{issuer_path}")
        }
        OpenIdDiscovery::Appended => {
            path == format!("{issuer_path}/.well-known/openid-configuration")
        }
    };
    if !oauth && !openid {
        return StatusCode::NOT_FOUND.into_response();
    }
    let base = &shared.base;
    let issuer = m
        .issuer_override
        .clone()
        .unwrap_or_else(|| format!("{base}{issuer_path}"));
    let mut doc = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "revocation_endpoint": format!("{base}/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    });
    if openid {
        doc["userinfo_endpoint"] = format!("{base}/userinfo").into();
        doc["subject_types_supported"] = serde_json::json!(["public"]);
    }
    if m.registration {
        doc["registration_endpoint"] = format!("{base}/register").into();
    }
    if let Some(methods) = &m.code_challenge_methods {
        doc["code_challenge_methods_supported"] = serde_json::json!(methods);
    }
    if m.cimd {
        doc["client_id_metadata_document_supported"] = true.into();
    }
    if let Some(scopes) = &m.scopes_supported {
        doc["scopes_supported"] = serde_json::json!(scopes);
    }
    (StatusCode::OK, axum::Json(doc)).into_response()
}

/// RFC 7591 §3: `POST /register` with a JSON client metadata document.
async fn register_handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = shared.lock();
    state.mcp_counters.registration_requests += 1;
    if !state.settings.metadata.registration {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state.register(&headers, &body) {
        Ok(response) => {
            state.mcp_counters.registrations += 1;
            response
        }
        Err(error) => error.into_response(),
    }
}

impl AuthState {
    /// The URL `client_id` of an authorization request whose metadata
    /// document must be fetched first: CIMD is on, the id is an http(s) URL,
    /// and no client of that id is known yet (documents are cached).
    fn cimd_candidate(&self, query: &str) -> Option<Url> {
        if !self.settings.metadata.cimd {
            return None;
        }
        let params = Params::parse(query.as_bytes());
        let client_id = params.get("client_id")?;
        if self.clients.contains_key(client_id) {
            return None;
        }
        Url::parse(client_id)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"))
    }

    /// RFC 7591 §2-§3.2: validates the metadata and registers the client.
    fn register(&mut self, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/json",
            ));
        }
        let metadata_error =
            |d: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", d);
        let doc: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| metadata_error("the body is not a JSON object"))?;
        let Some(doc) = doc.as_object() else {
            return Err(metadata_error("the body is not a JSON object"));
        };
        let redirect_uris = validate_redirect_uris(doc.get("redirect_uris"))
            .map_err(|d| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_redirect_uri", d))?;
        let strings = |name: &str, default: &str| -> Result<Vec<String>, OAuthError> {
            match doc.get(name) {
                None => Ok(vec![default.to_owned()]),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| metadata_error(&format!("{name} must hold strings")))
                    })
                    .collect(),
                Some(_) => Err(metadata_error(&format!("{name} must be an array"))),
            }
        };
        let grant_types = strings("grant_types", "authorization_code")?;
        if !grant_types.iter().any(|g| g == "authorization_code")
            || grant_types
                .iter()
                .any(|g| g != "authorization_code" && g != "refresh_token")
        {
            return Err(metadata_error(
                "grant_types must include authorization_code and may add refresh_token only",
            ));
        }
        let response_types = strings("response_types", "code")?;
        if response_types != ["code"] {
            return Err(metadata_error("response_types must be [\"code\"]"));
        }
        let method = match doc.get("token_endpoint_auth_method") {
            None => "client_secret_basic",
            Some(v) => v
                .as_str()
                .ok_or_else(|| metadata_error("token_endpoint_auth_method must be a string"))?,
        };
        let auth = match method {
            "none" => ClientAuth::None,
            "client_secret_basic" => ClientAuth::Basic,
            "client_secret_post" => ClientAuth::Post,
            other => {
                return Err(metadata_error(&format!(
                    "token_endpoint_auth_method {other:?} is not supported"
                )));
            }
        };
        let client_id = new_secret("dcr");
        let client_secret = match auth {
            ClientAuth::None => None,
            _ => Some(new_secret("cs")),
        };
        if let Some(secret) = &client_secret {
            self.issued.push(secret.clone());
        }
        self.clients.insert(
            client_id.clone(),
            ClientConfig {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                redirect_uris: redirect_uris.clone(),
                auth,
            },
        );
        let mut out = serde_json::json!({
            "client_id": client_id,
            "client_id_issued_at": 0,
            "redirect_uris": redirect_uris,
            "grant_types": grant_types,
            "response_types": response_types,
            "token_endpoint_auth_method": method,
        });
        if let Some(name) = doc.get("client_name").and_then(|v| v.as_str()) {
            out["client_name"] = name.into();
        }
        if let Some(secret) = client_secret {
            out["client_secret"] = secret.into();
            out["client_secret_expires_at"] = 0.into();
        }
        let mut response = (StatusCode::CREATED, axum::Json(out)).into_response();
        no_store(&mut response);
        Ok(response)
    }
}

/// Redirect URIs of a registration or metadata document: a non-empty array
/// of absolute URLs without fragments, https or http to a loopback host.
fn validate_redirect_uris(value: Option<&serde_json::Value>) -> Result<Vec<String>, String> {
    let Some(serde_json::Value::Array(items)) = value else {
        return Err("redirect_uris must be a non-empty array".to_owned());
    };
    if items.is_empty() {
        return Err("redirect_uris must be a non-empty array".to_owned());
    }
    items
        .iter()
        .map(|v| {
            let raw = v.as_str().ok_or("redirect_uris must hold strings")?;
            let url = Url::parse(raw).map_err(|_| format!("{raw:?} is not an absolute URL"))?;
            if url.fragment().is_some() {
                return Err(format!("{raw:?} has a fragment"));
            }
            let loopback = matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || url.host_str() == Some("localhost");
            match url.scheme() {
                "https" => Ok(raw.to_owned()),
                "http" if loopback => Ok(raw.to_owned()),
                _ => Err(format!("{raw:?} must be https or http to a loopback host")),
            }
        })
        .collect()
}

/// Fetches and validates a client ID metadata document (loopback only: the
/// fake never reaches out of the machine).
async fn fetch_client_metadata(http: &reqwest::Client, url: &Url) -> Result<ClientConfig, String> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if !loopback {
        return Err("only loopback documents are fetched".to_owned());
    }
    if url.path().len() <= 1 {
        return Err("the client_id URL must have a path".to_owned());
    }
    let response = http
        .get(url.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("fetch failed: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!(
            "fetch answered HTTP {}",
            response.status().as_u16()
        ));
    }
    let doc: serde_json::Value = response
        .json()
        .await
        .map_err(|_| "the document is not JSON".to_owned())?;
    if doc.get("client_id").and_then(|v| v.as_str()) != Some(url.as_str()) {
        return Err("the document's client_id differs from its URL".to_owned());
    }
    if doc.get("client_name").and_then(|v| v.as_str()).is_none() {
        return Err("client_name is required".to_owned());
    }
    let redirect_uris = validate_redirect_uris(doc.get("redirect_uris"))?;
    match doc
        .get("token_endpoint_auth_method")
        .and_then(|v| v.as_str())
    {
        None | Some("none") => {}
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method {other:?} is not supported"
            ));
        }
    }
    Ok(ClientConfig {
        client_id: url.as_str().to_owned(),
        client_secret: None,
        redirect_uris,
        auth: ClientAuth::None,
    })
}

/// RFC 8707 §2: an absolute URI without a fragment.
fn is_valid_resource(raw: &str) -> bool {
    Url::parse(raw).is_ok_and(|u| u.fragment().is_none())
}

/// A token request's `resource` against the one the grant was authorized
/// for: a grant bound to a resource needs it repeated, identical.
fn check_resource(
    granted: Option<&str>,
    requested: Option<&str>,
    required: bool,
) -> Result<(), OAuthError> {
    let invalid_target = |d: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_target", d);
    match (granted, requested) {
        (_, None) if required || granted.is_some() => Err(invalid_target(
            "resource is required and must match the authorization request",
        )),
        (Some(g), Some(r)) if g != r => Err(invalid_target(
            "resource differs from the authorization request",
        )),
        (None, Some(_)) => Err(invalid_target(
            "resource was not part of the authorization request",
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Errors and helpers

/// An RFC 6749 §5.2 error response.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Send `WWW-Authenticate: Basic` (the client tried, or must use, HTTP Basic).
    basic_challenge: bool,
    /// Slack's code for this error, where [`OAuthError::slack_code`] cannot
    /// tell it from the RFC 6749 code alone.
    slack: Option<&'static str>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            slack: None,
        }
    }

    /// Names Slack's code for this error.
    fn slack(self, code: &'static str) -> Self {
        Self {
            slack: Some(code),
            ..self
        }
    }

    /// The `error` Slack's `oauth.v2.access` answers instead, for a request
    /// of `grant_type`.
    fn slack_code(&self, grant_type: Option<&str>) -> &'static str {
        if let Some(code) = self.slack {
            return code;
        }
        match self.error {
            "invalid_client" => "invalid_client_id",
            "invalid_grant" if grant_type == Some("refresh_token") => "invalid_refresh_token",
            "invalid_grant" => "invalid_code",
            "unsupported_grant_type" => "invalid_grant_type",
            other => other,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn invalid_client(description: impl Into<String>, basic_challenge: bool) -> Self {
        Self {
            basic_challenge,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        no_store(&mut response);
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"fake\""),
            );
        }
        response
    }
}

fn json_response(body: serde_json::Value) -> Response {
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// 401 for a request without (usable) credentials: no error code
/// (RFC 6750 §3.1).
fn bearer_challenge() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"fake\""),
        )],
    )
        .into_response()
}

fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    let mut response = (
        status,
        axum::Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Form parameters in decoding order, repeats kept so they can be refused.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == name).count()
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }

    fn single_for_refusal(&self, name: &str) -> Result<&str, String> {
        match self.count(name) {
            0 => Err(format!("{name} is required")),
            1 => self.get(name).ok_or_else(|| format!("{name} is required")),
            _ => Err(format!("{name} is repeated")),
        }
    }

    fn first_repeated(&self) -> Option<&str> {
        self.0
            .iter()
            .map(|(k, _)| k.as_str())
            .find(|name| self.count(name) > 1)
    }
}

/// The form body of a token or revocation request (RFC 6749 §3.2, §2.3.1:
/// a form body, parameters not repeated, nothing in the query string).
fn form_params(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    if query.is_some_and(|q| !q.is_empty()) {
        return Err(OAuthError::invalid_request(
            "parameters must be sent in the request body, not the URI",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.first_repeated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    Ok(params)
}

/// Decodes `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &HeaderValue) -> Result<(String, String), OAuthError> {
    let bad = |what: &str| {
        OAuthError::invalid_client(format!("malformed Basic credentials: {what}"), true)
    };
    let value = value.to_str().map_err(|_| bad("not ASCII"))?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(|| bad("no scheme"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            format!("unsupported authentication scheme {scheme:?}"),
            true,
        ));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("not UTF-8"))?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| bad("no colon"))?;
    let id = form_decode(id).ok_or_else(|| bad("client id is not form-urlencoded"))?;
    let secret = form_decode(secret).ok_or_else(|| bad("secret is not form-urlencoded"))?;
    Ok((id, secret))
}

/// Strict `application/x-www-form-urlencoded` decoding of one component.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Space-separated scope tokens of NQCHAR (RFC 6749 §3.3), duplicates dropped.
fn parse_scope(raw: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in raw.split(' ') {
        let valid = !token.is_empty()
            && token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !valid {
            return Err(format!("malformed scope {raw:?}"));
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

/// RFC 7636 §4.1: 43-128 characters of the unreserved set.
fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A SHA-256 digest in BASE64URL without padding is exactly 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 256 random bits, BASE64URL-encoded, with a prefix naming the kind.
fn new_secret(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decode_is_strict() {
        assert_eq!(form_decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_valid_verifier(verifier));
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_s256_challenge(&s256(verifier)));
    }

    #[test]
    fn scope_syntax() {
        assert_eq!(
            parse_scope("read write read"),
            Ok(vec!["read".to_owned(), "write".to_owned()])
        );
        assert!(parse_scope("read  write").is_err());
        assert!(parse_scope("a\"b").is_err());
    }
}
