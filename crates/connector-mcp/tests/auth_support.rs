//! Test support for MCP authorization: a tiny protected resource (an MCP
//! endpoint that only checks bearer tokens), a browser that always
//! consents, and a client loop like the MCP client's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use connector_core::Error;
use connector_core::oauth::{CallbackParams, EngineOptions, OAuthEngine};
use connector_core::vault::{Keyring, MemoryStore, TokenStore, Vault};
use connector_mcp::auth::{DiscoveryOptions, McpAuth, McpOAuth, RegistrationOptions};
use connector_mcp::{
    AuthorizationHandler, BearerChallenge, Credentials, Interaction, RetryDecision,
};
use connector_testkit::oauth_server::FakeOAuthServer;
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Where the resource serves its RFC 9728 document.
#[derive(Clone, Debug, PartialEq)]
pub enum PrmAt {
    /// At this path, named by `resource_metadata` in the challenge.
    Challenge(String),
    /// `/.well-known/oauth-protected-resource/<mcp path>` (not in the challenge).
    PathWellKnown,
    /// `/.well-known/oauth-protected-resource` (not in the challenge).
    RootWellKnown,
}

#[derive(Clone, Debug)]
pub struct RsConfig {
    pub mcp_path: String,
    /// `None`: `http://127.0.0.1:PORT<mcp_path>`.
    pub resource: Option<String>,
    pub prm: PrmAt,
    /// Overrides `resource_metadata` in challenges.
    pub challenge_metadata: Option<String>,
    /// `None`: the fake AS's issuer.
    pub authorization_servers: Option<Vec<String>>,
    pub scopes_supported: Option<Vec<String>>,
    /// `scope` in 401 challenges.
    pub challenge_scope: Option<String>,
    /// Scopes a token needs (else 403 insufficient_scope).
    pub required_scopes: Vec<String>,
}

impl Default for RsConfig {
    fn default() -> Self {
        RsConfig {
            mcp_path: "/mcp".into(),
            resource: None,
            prm: PrmAt::Challenge("/prm".into()),
            challenge_metadata: None,
            authorization_servers: None,
            scopes_supported: None,
            challenge_scope: None,
            required_scopes: Vec::new(),
        }
    }
}

struct RsState {
    base: String,
    auth_server: FakeOAuthServer,
    config: Mutex<RsConfig>,
    paths: Mutex<Vec<String>>,
    tokens: Mutex<Vec<String>>,
}

/// A protected resource on 127.0.0.1 that validates tokens with the fake
/// AS's `token_info`: active, bound to this resource, with the scopes.
#[derive(Clone)]
pub struct FakeResource {
    state: Arc<RsState>,
}

impl FakeResource {
    pub async fn start(auth_server: &FakeOAuthServer, config: RsConfig) -> FakeResource {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(RsState {
            base,
            auth_server: auth_server.clone(),
            config: Mutex::new(config),
            paths: Mutex::default(),
            tokens: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeResource { state }
    }

    pub fn base(&self) -> String {
        self.state.base.clone()
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        format!(
            "{}{}",
            self.state.base,
            self.state.config.lock().unwrap().mcp_path
        )
    }

    pub fn resource(&self) -> String {
        resource_of(&self.state)
    }

    pub fn configure(&self, f: impl FnOnce(&mut RsConfig)) {
        f(&mut self.state.config.lock().unwrap());
    }

    /// Every path requested, in order.
    pub fn paths(&self) -> Vec<String> {
        self.state.paths.lock().unwrap().clone()
    }

    /// Every bearer token presented.
    pub fn tokens_seen(&self) -> Vec<String> {
        self.state.tokens.lock().unwrap().clone()
    }
}

fn resource_of(state: &RsState) -> String {
    let c = state.config.lock().unwrap();
    c.resource
        .clone()
        .unwrap_or_else(|| format!("{}{}", state.base, c.mcp_path))
}

async fn handle(State(state): State<Arc<RsState>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    state.paths.lock().unwrap().push(path.clone());
    let c = state.config.lock().unwrap().clone();
    let prm_path = match &c.prm {
        PrmAt::Challenge(p) => p.clone(),
        PrmAt::PathWellKnown => format!("/.well-known/oauth-protected-resource{}", c.mcp_path),
        PrmAt::RootWellKnown => "/.well-known/oauth-protected-resource".into(),
    };
    if path == prm_path {
        let mut doc = serde_json::json!({
            "resource": resource_of(&state),
            "authorization_servers": c.authorization_servers.clone()
                .unwrap_or_else(|| vec![state.auth_server.issuer()]),
            "bearer_methods_supported": ["header"],
        });
        if let Some(s) = &c.scopes_supported {
            doc["scopes_supported"] = serde_json::json!(s);
        }
        return axum::Json(doc).into_response();
    }
    if path != c.mcp_path {
        return StatusCode::NOT_FOUND.into_response();
    }
    let metadata = c.challenge_metadata.clone().or_else(|| match &c.prm {
        PrmAt::Challenge(p) => Some(format!("{}{p}", state.base)),
        _ => None,
    });
    let challenge = |error: Option<&str>, scope: Option<String>| {
        let mut parts = Vec::new();
        if let Some(e) = error {
            parts.push(format!("error=\"{e}\""));
        }
        if let Some(s) = scope {
            parts.push(format!("scope=\"{s}\""));
        }
        if let Some(m) = &metadata {
            parts.push(format!("resource_metadata=\"{m}\""));
        }
        format!("Bearer {}", parts.join(", "))
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let info = token.as_deref().and_then(|t| {
        state.tokens.lock().unwrap().push(t.to_owned());
        state.auth_server.token_info(t)
    });
    let valid = info
        .as_ref()
        .filter(|i| i.active && i.resource.as_deref() == Some(resource_of(&state).as_str()));
    let Some(info) = valid else {
        let error = token.as_ref().map(|_| "invalid_token");
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                challenge(error, c.challenge_scope.clone()),
            )],
        )
            .into_response();
    };
    if !c.required_scopes.iter().all(|s| info.scopes.contains(s)) {
        return (
            StatusCode::FORBIDDEN,
            [(
                header::WWW_AUTHENTICATE,
                challenge(
                    Some("insufficient_scope"),
                    Some(c.required_scopes.join(" ")),
                ),
            )],
        )
            .into_response();
    }
    axum::Json(serde_json::json!({"ok": true, "sub": info.subject})).into_response()
}

/// A browser that consents at once.
#[derive(Debug)]
pub struct Browser {
    pub auth_server: FakeOAuthServer,
    pub redirect: String,
    pub calls: Mutex<Vec<Url>>,
}

impl Browser {
    pub fn new(auth_server: &FakeOAuthServer) -> Arc<Browser> {
        Arc::new(Browser {
            auth_server: auth_server.clone(),
            redirect: REDIRECT.into(),
            calls: Mutex::default(),
        })
    }

    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl AuthorizationHandler for Browser {
    fn redirect_uri(&self) -> String {
        self.redirect.clone()
    }

    async fn authorize(&self, url: &Url) -> Result<CallbackParams, Error> {
        self.calls.lock().unwrap().push(url.clone());
        let callback = self
            .auth_server
            .approve(url.as_str())
            .await
            .map_err(Error::oauth)?;
        Ok(CallbackParams::from_query(callback.query().unwrap_or("")))
    }
}

/// What the MCP client does: headers, send; on 401 `unauthorized` and
/// resend once; on 403 insufficient_scope `insufficient_scope` and resend
/// once.
pub async fn call(creds: &dyn Credentials, url: &str) -> Result<StatusCode, Error> {
    let url = Url::parse(url).unwrap();
    let http = reqwest::Client::new();
    let send = |h: http::HeaderMap| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let resp = http.post(url).headers(h).body("{}").send().await.unwrap();
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            (status, BearerChallenge::from_headers(resp.headers()))
        }
    };
    let (status, challenge) = send(creds.headers(&url).await?).await;
    let decision = match status {
        StatusCode::UNAUTHORIZED => creds.unauthorized(&url, challenge.as_ref()).await?,
        StatusCode::FORBIDDEN
            if challenge
                .as_ref()
                .is_some_and(|c| c.is_insufficient_scope()) =>
        {
            creds
                .insufficient_scope(&url, challenge.as_ref().unwrap())
                .await?
        }
        _ => return Ok(status),
    };
    if decision == RetryDecision::GiveUp {
        return Ok(status);
    }
    Ok(send(creds.headers(&url).await?).await.0)
}

pub fn engine_options() -> EngineOptions {
    EngineOptions {
        refresh_jitter: Duration::ZERO,
        retry_backoff: Duration::from_millis(10),
        request_timeout: Duration::from_secs(5),
        ..EngineOptions::default()
    }
}

pub fn allow_private() -> DiscoveryOptions {
    DiscoveryOptions {
        allow_private_addresses: true,
        ..DiscoveryOptions::default()
    }
}

/// One application "process": a vault over a shared store, an engine and
/// an McpAuth.
pub fn app(
    store: &Arc<MemoryStore>,
    keyring: &Keyring,
    registration: RegistrationOptions,
) -> McpAuth {
    let store: Arc<dyn TokenStore> = store.clone();
    let vault = Vault::new(store, keyring.clone());
    let engine = OAuthEngine::builder(vault)
        .options(engine_options())
        .build()
        .unwrap();
    McpAuth::builder(engine)
        .redirect_uri(REDIRECT)
        .discovery(allow_private())
        .registration(registration)
        .build()
        .unwrap()
}

pub struct Env {
    pub auth_server: FakeOAuthServer,
    pub rs: FakeResource,
    pub store: Arc<MemoryStore>,
    pub keyring: Keyring,
    pub auth: McpAuth,
}

impl Env {
    pub async fn new(config: RsConfig) -> Env {
        Self::with_registration(config, RegistrationOptions::default()).await
    }

    pub async fn with_registration(config: RsConfig, registration: RegistrationOptions) -> Env {
        let auth_server = FakeOAuthServer::start().await;
        auth_server.require_resource(true);
        let rs = FakeResource::start(&auth_server, config).await;
        let store = Arc::new(MemoryStore::new());
        let (keyring, _) = Keyring::generate("t").unwrap();
        let auth = app(&store, &keyring, registration);
        Env {
            auth_server,
            rs,
            store,
            keyring,
            auth,
        }
    }

    pub fn interactive(&self, user: &str) -> (McpOAuth, Arc<Browser>) {
        let browser = Browser::new(&self.auth_server);
        let creds = self
            .auth
            .for_user(
                user,
                &self.rs.url(),
                Interaction::Interactive(browser.clone()),
            )
            .unwrap();
        (creds, browser)
    }

    pub fn failing(&self, user: &str) -> McpOAuth {
        self.auth
            .for_user(user, &self.rs.url(), Interaction::Fail)
            .unwrap()
    }
}

/// Asserts no issued token, code or client secret appears in `text`.
#[track_caller]
pub fn assert_no_secret(auth_server: &FakeOAuthServer, text: &str) {
    for s in auth_server.issued_secrets() {
        assert!(!text.contains(&s), "a secret leaked into: {text}");
    }
}
