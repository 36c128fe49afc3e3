//! MCP authorization (2025-11-25): what the client does when a server
//! answers 401.
//!
//! [`McpAuth`] is built once per application over the [`OAuthEngine`]; it
//! hands out an [`McpOAuth`] per (user, MCP server), which implements
//! [`Credentials`]:
//!
//! - [`Credentials::headers`] sends `Authorization: Bearer` with the user's
//!   token for that server, from the vault, refreshed near expiry by the
//!   engine (single-flight across tasks and processes). Nothing is sent
//!   before discovery has tied the server to an authorization server, and a
//!   token is only ever sent to URLs its resource covers.
//! - [`Credentials::unauthorized`] discovers ([`discovery`]), registers
//!   ([`registration`]), then refreshes if it can; otherwise it runs the
//!   configured [`Interaction`]: [`Interaction::Fail`] reports
//!   `NeedsAuthorization` with a link to connect in the model message, and
//!   [`Interaction::Interactive`] hands the authorization URL to an
//!   [`AuthorizationHandler`] (a browser and a loopback callback) and
//!   completes the flow.
//! - [`Credentials::insufficient_scope`] asks once for the union of the
//!   granted and the challenged scopes (a step-up), never twice for the same
//!   set.
//!
//! Each (issuer, resource) pair becomes an engine provider with the id
//! `mcp_<16 hex digits of SHA-256(issuer, resource)>`, so tokens live in the
//! vault per (user, issuer, resource), and the RFC 8707 `resource` goes in
//! the authorization request, the code exchange and every refresh.

pub mod discovery;
mod net;
pub mod registration;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::oauth::{BeginParams, CallbackParams, Connection, OAuthEngine, OAuthProvider};
use connector_core::vault::{StoreKey, TokenKey};
use connector_core::{ClientAuthMethod, Error, ErrorKind, OAuth2Spec};
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use url::Url;

pub use self::discovery::{
    AuthorizationServerMetadata, Discoverer, Discovery, DiscoveryOptions,
    ProtectedResourceMetadata, resource_covers,
};
pub use self::net::is_private_ip;
use self::registration::Registrar;
pub use self::registration::{
    ClientRegistration, PreRegisteredClient, RegistrationOptions, RegistrationSource, ServerClient,
};
use crate::credentials::{BearerChallenge, Credentials, RetryDecision};

/// Vault namespace of discoveries by server URL (expiring).
const NS_SERVER: &str = "mcpsrv";
/// Vault namespace of discoveries by provider id (to complete a flow in
/// another process).
const NS_PROVIDER: &str = "mcpprov";
/// How long a stored discovery is trusted before the next 401 redoes it.
const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);
/// At most this many distinct step-ups per (user, server) instance.
const MAX_STEP_UPS: usize = 8;

/// Runs an authorization in front of a user: opens the URL (a browser) and
/// returns the callback's parameters. The CLI implements it with `$BROWSER`
/// and a loopback listener.
#[async_trait]
pub trait AuthorizationHandler: Send + Sync + fmt::Debug {
    /// The redirect URI the handler listens on (registered with the
    /// authorization server).
    fn redirect_uri(&self) -> String;

    /// Sends the user to `url` and waits for the callback (`code` and
    /// `state`, or `error`).
    async fn authorize(&self, url: &Url) -> Result<CallbackParams, Error>;
}

/// What to do when the user must authorize.
#[derive(Clone)]
pub enum Interaction {
    /// Fail with `NeedsAuthorization`; the model message carries a link to
    /// connect, and the application completes the flow from its callback
    /// endpoint ([`McpAuth::handle_callback`]).
    Fail,
    /// Run the flow now with this handler, then retry.
    Interactive(Arc<dyn AuthorizationHandler>),
}

impl fmt::Debug for Interaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interaction::Fail => f.write_str("Fail"),
            Interaction::Interactive(h) => f.debug_tuple("Interactive").field(h).finish(),
        }
    }
}

/// Builds an [`McpAuth`].
#[derive(Debug)]
pub struct McpAuthBuilder {
    engine: OAuthEngine,
    redirect_uri: Option<String>,
    registration: RegistrationOptions,
    discovery: DiscoveryOptions,
    default_scopes: Vec<String>,
}

impl McpAuthBuilder {
    /// The redirect URI of [`Interaction::Fail`] flows (the application's
    /// callback endpoint). Interactive flows use their handler's.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// How to register with authorization servers.
    pub fn registration(mut self, options: RegistrationOptions) -> Self {
        self.registration = options;
        self
    }

    /// Discovery tunables (`allow_private_addresses`, timeouts).
    pub fn discovery(mut self, options: DiscoveryOptions) -> Self {
        self.discovery = options;
        self
    }

    /// A client registered out of band for the MCP server at `server` (its
    /// URL as given to [`McpAuth::for_user`]), used instead of any
    /// registration with that server's authorization server.
    pub fn server_client(mut self, server: &str, client: ServerClient) -> Self {
        self.registration
            .per_server
            .insert(server.to_owned(), client);
        self
    }

    /// Scopes asked for when neither the challenge nor the resource
    /// metadata names any.
    pub fn default_scopes(mut self, scopes: Vec<String>) -> Self {
        self.default_scopes = scopes;
        self
    }

    /// Checks the configuration. Does no I/O.
    pub fn build(mut self) -> Result<McpAuth, Error> {
        if let Some(u) = &self.redirect_uri {
            check_redirect_uri(u)?;
        }
        if let Some(u) = &self.registration.client_metadata_url {
            let loopback_ok = self.discovery.allow_private_addresses
                && u.scheme() == "http"
                && net::is_loopback_url(u);
            if (u.scheme() != "https" && !loopback_ok) || u.path().len() <= 1 {
                return Err(Error::config(
                    "the client metadata document URL must be an https URL with a path",
                ));
            }
        }
        if !matches!(
            self.registration.dynamic_auth,
            ClientAuthMethod::None | ClientAuthMethod::ClientSecretBasic
        ) {
            return Err(Error::config(
                "dynamic registrations use token_endpoint_auth_method none or client_secret_basic",
            ));
        }
        let mut per_server = BTreeMap::new();
        for (server, client) in std::mem::take(&mut self.registration.per_server) {
            client.validate()?;
            let url = Url::parse(&server).map_err(|_| {
                Error::config("a pre-registered client's MCP server URL is not a URL")
            })?;
            per_server.insert(url.as_str().to_owned(), client);
        }
        self.registration.per_server = per_server;
        let discoverer = Discoverer::new(self.discovery)?;
        Ok(McpAuth {
            shared: Arc::new(Shared {
                engine: self.engine,
                redirect_uri: self.redirect_uri,
                registration: self.registration,
                default_scopes: self.default_scopes,
                discoverer,
                registrar: Registrar::default(),
                ready: Mutex::new(HashMap::new()),
            }),
        })
    }
}

fn check_redirect_uri(raw: &str) -> Result<Url, Error> {
    let u = Url::parse(raw).map_err(|_| Error::config("the redirect URI is not a URL"))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if net::is_loopback_url(&u) => Ok(u),
        _ => Err(Error::config(
            "the redirect URI must be https, or http to a loopback host",
        )),
    }
}

/// MCP authorization for an application: the engine, registration and
/// discovery settings, and what was discovered (shared by every user).
/// Cheap to clone.
#[derive(Clone)]
pub struct McpAuth {
    shared: Arc<Shared>,
}

struct Shared {
    engine: OAuthEngine,
    redirect_uri: Option<String>,
    registration: RegistrationOptions,
    default_scopes: Vec<String>,
    discoverer: Discoverer,
    registrar: Registrar,
    /// By (server URL, redirect URI).
    ready: Mutex<HashMap<(String, String), Arc<Ready>>>,
}

impl fmt::Debug for McpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuth")
            .field("engine", &self.shared.engine)
            .field("redirect_uri", &self.shared.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A server tied to an engine provider: discovery done, client registered.
#[derive(Debug)]
struct Ready {
    discovery: Discovery,
    provider_id: String,
    redirect_uri: String,
}

/// What the vault keeps of a discovery.
#[derive(Debug, Serialize, Deserialize)]
struct Persisted {
    discovery: Discovery,
    redirect_uri: String,
}

/// The engine provider id of (issuer, resource).
pub fn provider_id(issuer: &str, resource: &str) -> String {
    let digest = Sha256::new()
        .chain_update(issuer.as_bytes())
        .chain_update([0u8])
        .chain_update(resource.as_bytes())
        .finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("mcp_{hex}")
}

impl McpAuth {
    /// A builder over `engine` (whose vault keeps tokens, registrations
    /// and discoveries).
    pub fn builder(engine: OAuthEngine) -> McpAuthBuilder {
        McpAuthBuilder {
            engine,
            redirect_uri: None,
            registration: RegistrationOptions::default(),
            discovery: DiscoveryOptions::default(),
            default_scopes: Vec::new(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &OAuthEngine {
        &self.shared.engine
    }

    /// The discoverer.
    pub fn discoverer(&self) -> &Discoverer {
        &self.shared.discoverer
    }

    /// The client configured for the MCP server at `server`, if any.
    pub fn server_client(&self, server: &str) -> Option<&ServerClient> {
        let url = Url::parse(server).ok()?;
        self.shared.registration.per_server.get(url.as_str())
    }

    /// Credentials for `user` at the MCP server `server`.
    pub fn for_user(
        &self,
        user: &str,
        server: &str,
        interaction: Interaction,
    ) -> Result<McpOAuth, Error> {
        let server =
            Url::parse(server).map_err(|_| Error::config("the MCP server URL is not a URL"))?;
        if server.fragment().is_some() || !server.username().is_empty() {
            return Err(Error::config(
                "the MCP server URL must have no fragment and no credentials",
            ));
        }
        let redirect_uri = match &interaction {
            Interaction::Interactive(h) => {
                let u = h.redirect_uri();
                check_redirect_uri(&u)?;
                u
            }
            Interaction::Fail => self.shared.redirect_uri.clone().ok_or_else(|| {
                Error::config("MCP authorization without interaction needs a redirect_uri")
            })?,
        };
        Ok(McpOAuth {
            shared: Arc::clone(&self.shared),
            user: user.to_owned(),
            server,
            redirect_uri,
            interaction,
            ready: Mutex::new(None),
            prepare: tokio::sync::Mutex::new(()),
            last_sent: Mutex::new(None),
            step_ups: Mutex::new(HashSet::new()),
        })
    }

    /// Completes an authorization started by [`Interaction::Fail`] (the
    /// application's callback endpoint): the state's provider is made ready
    /// (from the vault, in a process that did not start the flow), then the
    /// engine exchanges the code. `expected_user`, when given, must own the
    /// state.
    pub async fn handle_callback(
        &self,
        params: &CallbackParams,
        expected_user: Option<&str>,
    ) -> Result<Connection, Error> {
        if let Some(state) = params.state.as_deref() {
            self.shared.restore_provider(state).await?;
        }
        self.shared
            .engine
            .handle_callback(params, expected_user)
            .await
    }

    /// [`McpAuth::handle_callback`] with a code and a state.
    pub async fn complete(&self, state: &str, code: &str) -> Result<Connection, Error> {
        let params = CallbackParams {
            code: Some(code.to_owned()),
            state: Some(state.to_owned()),
            ..CallbackParams::default()
        };
        self.handle_callback(&params, None).await
    }
}

impl Shared {
    fn vault(&self) -> &connector_core::vault::Vault {
        self.engine.vault()
    }

    /// Ties `discovery` to an engine provider: a registration (made now if
    /// `network`), the provider added or updated. `None` when no
    /// registration is at hand and `network` is off.
    async fn make_ready(
        &self,
        discovery: Discovery,
        redirect_uri: &str,
        network: bool,
    ) -> Result<Option<Arc<Ready>>, Error> {
        let asm = &discovery.authorization_server;
        let Some(reg) = self
            .registrar
            .registration(
                &self.registration,
                self.vault(),
                &self.discoverer,
                &discovery.server,
                asm,
                redirect_uri,
                network,
            )
            .await?
        else {
            return Ok(None);
        };
        let resource = discovery.resource().to_owned();
        let id = provider_id(&asm.issuer, &resource);
        let mut spec = OAuth2Spec::new(
            asm.authorization_endpoint.clone(),
            asm.token_endpoint.clone(),
        );
        spec.revocation_url = asm.revocation_endpoint.clone();
        spec.client_auth = reg.auth;
        spec.extra_authorize_params = vec![("resource".to_owned(), resource.clone())];
        spec.extra_token_params = vec![("resource".to_owned(), resource)];
        self.engine.ensure_provider(OAuthProvider {
            id: id.clone(),
            spec,
            client_id: Some(reg.client_id.clone()),
            client_secret: reg.client_secret.clone(),
            redirect_uri: Some(redirect_uri.to_owned()),
            secret_error: None,
        })?;
        let ready = Arc::new(Ready {
            discovery,
            provider_id: id,
            redirect_uri: redirect_uri.to_owned(),
        });
        if let Ok(mut map) = self.ready.lock() {
            map.insert(
                (ready.discovery.server.clone(), redirect_uri.to_owned()),
                Arc::clone(&ready),
            );
        }
        Ok(Some(ready))
    }

    async fn persist(&self, ready: &Ready) -> Result<(), Error> {
        let p = Persisted {
            discovery: ready.discovery.clone(),
            redirect_uri: ready.redirect_uri.clone(),
        };
        let vault = self.vault();
        vault
            .put_value(
                &StoreKey::new(
                    NS_SERVER,
                    None,
                    &[&ready.discovery.server, &ready.redirect_uri],
                ),
                &p,
                Some(DISCOVERY_TTL),
            )
            .await?;
        vault
            .put_value(
                &StoreKey::new(NS_PROVIDER, None, &[&ready.provider_id]),
                &p,
                None,
            )
            .await
    }

    async fn restore_provider(&self, state: &str) -> Result<(), Error> {
        let Some(id) = self.engine.pending_provider(state).await? else {
            return Ok(());
        };
        if self.engine.provider(&id).is_ok() || !id.starts_with("mcp_") {
            return Ok(());
        }
        let p: Option<Persisted> = self
            .vault()
            .get_value(&StoreKey::new(NS_PROVIDER, None, &[&id]))
            .await?;
        if let Some(p) = p {
            self.make_ready(p.discovery, &p.redirect_uri, true).await?;
        }
        Ok(())
    }
}

/// [`Credentials`] for one user at one MCP server, by MCP authorization.
pub struct McpOAuth {
    shared: Arc<Shared>,
    user: String,
    server: Url,
    redirect_uri: String,
    interaction: Interaction,
    ready: Mutex<Option<Arc<Ready>>>,
    /// One discovery at a time per instance.
    prepare: tokio::sync::Mutex<()>,
    /// SHA-256 of the last access token sent (never the token itself).
    last_sent: Mutex<Option<[u8; 32]>>,
    /// Scope sets already asked for by a completed step-up.
    step_ups: Mutex<HashSet<String>>,
}

impl fmt::Debug for McpOAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpOAuth")
            .field("user", &self.user)
            .field("server", &net::describe(&self.server))
            .field("interaction", &self.interaction)
            .finish_non_exhaustive()
    }
}

fn fingerprint(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn split_scopes(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

impl McpOAuth {
    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The MCP server URL.
    pub fn server(&self) -> &Url {
        &self.server
    }

    /// The engine provider id of this server, once discovery has run.
    pub fn provider_id(&self) -> Option<String> {
        self.current().map(|r| r.provider_id.clone())
    }

    /// The discovery, once it has run.
    pub fn discovery(&self) -> Option<Discovery> {
        self.current().map(|r| r.discovery.clone())
    }

    /// Completes a flow this instance started with [`Interaction::Fail`]:
    /// the state must belong to this user.
    pub async fn complete(&self, state: &str, code: &str) -> Result<Connection, Error> {
        let params = CallbackParams {
            code: Some(code.to_owned()),
            state: Some(state.to_owned()),
            ..CallbackParams::default()
        };
        McpAuth {
            shared: Arc::clone(&self.shared),
        }
        .handle_callback(&params, Some(&self.user))
        .await
    }

    /// Runs discovery and registration now (they otherwise run on the first
    /// 401), and returns the authorization URL a user would be sent to.
    pub async fn authorization_url(&self) -> Result<Url, Error> {
        let ready = self.prepare(None).await?;
        let scopes = self.initial_scopes(&ready, None);
        Ok(self.begin(&ready, scopes).await?.url)
    }

    fn current(&self) -> Option<Arc<Ready>> {
        self.ready.lock().ok().and_then(|r| r.clone())
    }

    fn set_current(&self, ready: &Arc<Ready>) {
        if let Ok(mut r) = self.ready.lock() {
            *r = Some(Arc::clone(ready));
        }
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.server.origin()
    }

    /// What is known without the network: this instance, the application's
    /// map, then the vault (a discovery stored by any process, and a stored
    /// or configured registration).
    async fn ready_offline(&self) -> Result<Option<Arc<Ready>>, Error> {
        if let Some(r) = self.current() {
            return Ok(Some(r));
        }
        let key = (self.server.as_str().to_owned(), self.redirect_uri.clone());
        let known = self
            .shared
            .ready
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned());
        if let Some(r) = known {
            self.set_current(&r);
            return Ok(Some(r));
        }
        let p: Option<Persisted> = self
            .shared
            .vault()
            .get_value(&StoreKey::new(NS_SERVER, None, &[&key.0, &key.1]))
            .await?;
        let Some(p) = p else { return Ok(None) };
        let ready = self
            .shared
            .make_ready(p.discovery, &self.redirect_uri, false)
            .await?;
        if let Some(r) = &ready {
            self.set_current(r);
        }
        Ok(ready)
    }

    /// Discovery and registration, over the network when nothing is known.
    async fn prepare(&self, challenge: Option<&BearerChallenge>) -> Result<Arc<Ready>, Error> {
        let _one = self.prepare.lock().await;
        if let Some(r) = self.ready_offline().await? {
            return Ok(r);
        }
        let discovery = self
            .shared
            .discoverer
            .discover(&self.server, challenge)
            .await?;
        let ready = self
            .shared
            .make_ready(discovery, &self.redirect_uri, true)
            .await?
            .ok_or_else(|| Error::internal("registration unavailable after registering"))?;
        self.shared.persist(&ready).await?;
        self.set_current(&ready);
        tracing::info!(user = %self.user, provider = %ready.provider_id,
            issuer = %ready.discovery.issuer(), "MCP server authorization discovered");
        Ok(ready)
    }

    fn token_key(&self, ready: &Ready) -> TokenKey {
        TokenKey::new(&ready.provider_id, &self.user, None)
    }

    fn initial_scopes(&self, ready: &Ready, challenge: Option<&BearerChallenge>) -> Vec<String> {
        let challenged = split_scopes(challenge.and_then(|c| c.scope.as_deref()));
        if !challenged.is_empty() {
            return challenged;
        }
        if let Some(s) = &ready.discovery.resource_metadata.scopes_supported
            && !s.is_empty()
        {
            return s.clone();
        }
        self.shared.default_scopes.clone()
    }

    async fn begin(
        &self,
        ready: &Ready,
        scopes: Vec<String>,
    ) -> Result<connector_core::oauth::AuthorizationRequest, Error> {
        self.shared
            .engine
            .begin_with(BeginParams {
                user: self.user.clone(),
                provider: ready.provider_id.clone(),
                scopes,
                redirect_uri: Some(ready.redirect_uri.clone()),
                ..BeginParams::default()
            })
            .await
    }

    /// Starts an authorization for `scopes` and runs the interaction.
    async fn authorize(
        &self,
        ready: &Ready,
        scopes: Vec<String>,
        step_up: bool,
    ) -> Result<RetryDecision, Error> {
        let request = self.begin(ready, scopes.clone()).await?;
        match &self.interaction {
            Interaction::Fail => {
                let server = net::describe(&self.server);
                let what = if step_up {
                    format!(
                        "The MCP server at {server} needs more permissions ({}).",
                        scopes.join(" ")
                    )
                } else {
                    format!("The user has not connected the MCP server at {server}.")
                };
                Err(Error::new(
                    ErrorKind::NeedsAuthorization,
                    format!(
                        "user `{}` must authorize the MCP server `{server}`{}; the authorization link is in the model message",
                        self.user,
                        if step_up { " for more scopes" } else { "" }
                    ),
                )
                .with_provider(&ready.provider_id)
                .with_model_message(format!(
                    "{what} Ask the user to open this link to connect it, then try again: {}",
                    request.url
                )))
            }
            Interaction::Interactive(handler) => {
                let params = handler.authorize(&request.url).await?;
                if params.state.as_deref() != Some(request.state.as_str()) {
                    return Err(Error::oauth(
                        "the authorization callback carries another state than the authorization started",
                    ));
                }
                self.shared
                    .engine
                    .handle_callback(&params, Some(&self.user))
                    .await?;
                Ok(RetryDecision::Retry)
            }
        }
    }
}

#[async_trait]
impl Credentials for McpOAuth {
    async fn headers(&self, server: &Url) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        if !self.same_origin(server) {
            return Ok(headers);
        }
        let Some(ready) = self.ready_offline().await? else {
            return Ok(headers);
        };
        // A token goes only where its resource reaches.
        if !resource_covers(ready.discovery.resource(), server) {
            return Ok(headers);
        }
        let record = match self
            .shared
            .engine
            .access(&self.user, &ready.provider_id, None)
            .await
        {
            Ok(r) => r,
            Err(e) if e.needs_reauthorization() => return Ok(headers),
            Err(e) => return Err(e),
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {}", record.access_token.expose()))
            .map_err(|_| {
                Error::new(
                    ErrorKind::Provider,
                    "the access token holds characters that cannot go in a header",
                )
                .with_provider(&ready.provider_id)
            })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        if let Ok(mut last) = self.last_sent.lock() {
            *last = Some(fingerprint(record.access_token.expose()));
        }
        Ok(headers)
    }

    async fn unauthorized(
        &self,
        server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<RetryDecision, Error> {
        if !self.same_origin(server) {
            return Ok(RetryDecision::GiveUp);
        }
        let ready = self.prepare(challenge).await?;
        let key = self.token_key(&ready);
        if let Some(record) = self.shared.vault().load_token(&key).await? {
            let sent = self.last_sent.lock().ok().and_then(|l| *l);
            let stored = fingerprint(record.access_token.expose());
            // A token we have not sent yet (stored by another worker, or
            // none sent at all): try it first.
            if sent != Some(stored) && !record.expires_within(Duration::ZERO) {
                return Ok(RetryDecision::Retry);
            }
            if record.refresh_token.is_some() {
                match self
                    .shared
                    .engine
                    .refresh(&self.user, &ready.provider_id, None)
                    .await
                {
                    Ok(_) => return Ok(RetryDecision::Retry),
                    Err(e) if e.needs_reauthorization() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let scopes = self.initial_scopes(&ready, challenge);
        self.authorize(&ready, scopes, false).await
    }

    async fn insufficient_scope(
        &self,
        server: &Url,
        challenge: &BearerChallenge,
    ) -> Result<RetryDecision, Error> {
        if !self.same_origin(server) {
            return Ok(RetryDecision::GiveUp);
        }
        let challenged = split_scopes(challenge.scope.as_deref());
        if challenged.is_empty() {
            return Ok(RetryDecision::GiveUp);
        }
        let ready = self.prepare(Some(challenge)).await?;
        let record = self
            .shared
            .vault()
            .load_token(&self.token_key(&ready))
            .await?;
        let granted = record
            .as_ref()
            .map(|r| r.scopes.clone())
            .unwrap_or_default();
        if let Some(record) = &record {
            let sent = self.last_sent.lock().ok().and_then(|l| *l);
            if sent != Some(fingerprint(record.access_token.expose()))
                && !record.expires_within(Duration::ZERO)
            {
                // Another worker stepped up already.
                return Ok(RetryDecision::Retry);
            }
        }
        let mut wanted: Vec<String> = granted.clone();
        for s in &challenged {
            if !wanted.contains(s) {
                wanted.push(s.clone());
            }
        }
        if wanted.len() == granted.len() {
            // Everything challenged is granted already: asking again
            // would loop.
            return Ok(RetryDecision::GiveUp);
        }
        if let Interaction::Interactive(_) = self.interaction {
            let set: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
            let set = set.into_iter().collect::<Vec<_>>().join(" ");
            let Ok(mut tried) = self.step_ups.lock() else {
                return Ok(RetryDecision::GiveUp);
            };
            if tried.len() >= MAX_STEP_UPS || !tried.insert(set) {
                return Ok(RetryDecision::GiveUp);
            }
        }
        self.authorize(&ready, wanted, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_are_short_stable_and_distinct() {
        let a = provider_id("https://as.example", "https://mcp.example/a");
        let b = provider_id("https://as.example", "https://mcp.example/b");
        assert_eq!(
            a,
            provider_id("https://as.example", "https://mcp.example/a")
        );
        assert_ne!(a, b);
        assert!(a.starts_with("mcp_") && a.len() == 20, "{a}");
        assert!(connector_core::metadata::is_valid_id(&a));
    }
}
