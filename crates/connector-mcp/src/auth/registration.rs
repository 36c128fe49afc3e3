//! Client registration with an MCP server's authorization server, in the
//! order the MCP specification recommends: a client pre-registered in
//! configuration (for the MCP server, else for the issuer), a client ID
//! metadata document (when the server supports it and the application
//! hosts one), otherwise dynamic client registration (RFC 7591).
//!
//! A client configured for one MCP server ([`ServerClient`], the
//! `client_id` of `[mcp_servers.<id>] auth`) is matched by the server URL,
//! because that is what its configuration names; its optional `issuer`
//! pins the authorization server it may be used with. A client with a
//! secret must name its issuer: the secret then only ever goes to the token
//! endpoint of the authorization server the operator named, never to one
//! that the MCP server's (possibly tampered) resource metadata points at.
//!
//! Dynamic registrations are kept in the vault per (issuer, redirect URI),
//! sealed like everything there, so every user and every process sharing
//! the store reuses one registration. Registering is single-flight: a
//! per-key mutex in the process and the store's lock across processes, and
//! the vault is read again once the lock is held.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_core::vault::{StoreKey, Vault, key::NS_LOCK, now_unix};
use connector_core::{ClientAuthMethod, Error, ErrorKind, Secret};
use serde::{Deserialize, Serialize};
use url::Url;

use super::discovery::{AuthorizationServerMetadata, Discoverer};
use super::net;

/// The vault namespace of dynamic registrations.
const NS_REGISTRATION: &str = "mcpreg";
/// How long to wait for another process that is registering.
const REGISTRATION_WAIT: Duration = Duration::from_secs(15);
const REGISTRATION_LOCK_TTL: Duration = Duration::from_secs(30);

/// A client registered out of band with an authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreRegisteredClient {
    /// The client id.
    pub client_id: String,
    /// The client secret (confidential clients).
    pub client_secret: Option<Secret>,
    /// How the client authenticates at the token endpoint.
    pub auth: ClientAuthMethod,
}

/// A client registered out of band for one MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerClient {
    /// The client.
    pub client: PreRegisteredClient,
    /// The issuer of the authorization server the client belongs to. When
    /// set, an MCP server naming another authorization server is an error
    /// (the configured client is never silently replaced by a dynamic
    /// registration). Required when the client has a secret.
    pub issuer: Option<String>,
}

impl ServerClient {
    /// Checks that a client with a secret names its issuer.
    pub fn validate(&self) -> Result<(), Error> {
        if self.client.client_secret.is_some() && self.issuer.is_none() {
            return Err(Error::config(
                "a pre-registered client with a secret needs its issuer, so the secret only goes to that authorization server",
            ));
        }
        Ok(())
    }
}

/// Issuers compare with and without a trailing slash.
fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// How the application registers itself with authorization servers.
#[derive(Debug, Clone)]
pub struct RegistrationOptions {
    /// Clients registered out of band, by issuer (as the metadata names it).
    pub pre_registered: BTreeMap<String, PreRegisteredClient>,
    /// Clients registered out of band for one MCP server, by the server URL
    /// (as given to [`McpAuth::for_user`](super::McpAuth::for_user)). They
    /// come before `pre_registered`.
    pub per_server: BTreeMap<String, ServerClient>,
    /// The URL of the client ID metadata document the application hosts
    /// (an https URL with a path; its `client_id` must be the URL itself
    /// and its `redirect_uris` must hold the redirect URI used). Used with
    /// authorization servers that advertise
    /// `client_id_metadata_document_supported`.
    pub client_metadata_url: Option<Url>,
    /// `client_name` of dynamic registrations.
    pub client_name: String,
    /// `token_endpoint_auth_method` of dynamic registrations:
    /// [`ClientAuthMethod::None`] (a public client, the default) or
    /// [`ClientAuthMethod::ClientSecretBasic`].
    pub dynamic_auth: ClientAuthMethod,
}

impl Default for RegistrationOptions {
    fn default() -> Self {
        RegistrationOptions {
            pre_registered: BTreeMap::new(),
            per_server: BTreeMap::new(),
            client_metadata_url: None,
            client_name: "connectors".to_owned(),
            dynamic_auth: ClientAuthMethod::None,
        }
    }
}

/// Where a registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationSource {
    /// Configuration.
    PreRegistered,
    /// A client ID metadata document.
    MetadataDocument,
    /// RFC 7591.
    Dynamic,
}

/// The client the engine uses with one authorization server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// The client id.
    pub client_id: String,
    /// The client secret, for confidential clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// How the client authenticates at the token endpoint.
    pub auth: ClientAuthMethod,
    /// Where it came from.
    pub source: RegistrationSource,
    /// The redirect URI it was registered with.
    pub redirect_uri: String,
    /// When the secret expires (Unix seconds), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_expires_at: Option<i64>,
}

impl ClientRegistration {
    fn usable(&self) -> bool {
        self.secret_expires_at.is_none_or(|at| at > now_unix() + 60)
    }
}

/// Finds or makes the registration for an authorization server.
#[derive(Debug, Default)]
pub(crate) struct Registrar {
    flights: Mutex<HashMap<StoreKey, Arc<tokio::sync::Mutex<()>>>>,
}

fn registration_key(issuer: &str, redirect_uri: &str) -> StoreKey {
    StoreKey::new(NS_REGISTRATION, None, &[issuer, redirect_uri])
}

impl Registrar {
    /// The registration to use with `asm` for the MCP server `server`, by
    /// the MCP specification's priority. `network`: whether a dynamic
    /// registration may be made now (false on the per-request path, where
    /// only a stored one will do).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn registration(
        &self,
        options: &RegistrationOptions,
        vault: &Vault,
        discoverer: &Discoverer,
        server: &str,
        asm: &AuthorizationServerMetadata,
        redirect_uri: &str,
        network: bool,
    ) -> Result<Option<ClientRegistration>, Error> {
        let for_server = options.per_server.get(server).or_else(|| {
            // Keys as the configuration spells them: compare parsed.
            let wanted = Url::parse(server).ok()?;
            options
                .per_server
                .iter()
                .find(|(k, _)| Url::parse(k).ok().as_ref() == Some(&wanted))
                .map(|(_, c)| c)
        });
        if let Some(sc) = for_server {
            sc.validate()?;
            if let Some(issuer) = &sc.issuer
                && !same_issuer(issuer, &asm.issuer)
            {
                return Err(Error::config(format!(
                    "the MCP server {} names the authorization server `{}`, not the issuer `{issuer}` its configured client belongs to; the client is not used there",
                    net::describe_str(server),
                    asm.issuer
                )));
            }
            let p = &sc.client;
            return Ok(Some(ClientRegistration {
                client_id: p.client_id.clone(),
                client_secret: p.client_secret.clone(),
                auth: p.auth,
                source: RegistrationSource::PreRegistered,
                redirect_uri: redirect_uri.to_owned(),
                secret_expires_at: None,
            }));
        }
        if let Some(p) = options
            .pre_registered
            .get(&asm.issuer)
            .or_else(|| options.pre_registered.get(asm.issuer.trim_end_matches('/')))
        {
            return Ok(Some(ClientRegistration {
                client_id: p.client_id.clone(),
                client_secret: p.client_secret.clone(),
                auth: p.auth,
                source: RegistrationSource::PreRegistered,
                redirect_uri: redirect_uri.to_owned(),
                secret_expires_at: None,
            }));
        }
        if asm.client_id_metadata_document_supported
            && let Some(url) = &options.client_metadata_url
        {
            return Ok(Some(ClientRegistration {
                client_id: url.as_str().to_owned(),
                client_secret: None,
                auth: ClientAuthMethod::None,
                source: RegistrationSource::MetadataDocument,
                redirect_uri: redirect_uri.to_owned(),
                secret_expires_at: None,
            }));
        }
        let Some(endpoint) = &asm.registration_endpoint else {
            return Err(Error::config(format!(
                "no way to register a client with the authorization server `{}`: it offers no \
                 dynamic registration{}; configure a pre-registered client for this issuer",
                asm.issuer,
                if asm.client_id_metadata_document_supported {
                    " and no client metadata document URL is configured"
                } else {
                    ""
                }
            )));
        };
        let key = registration_key(&asm.issuer, redirect_uri);
        if let Some(r) = vault.get_value::<ClientRegistration>(&key).await?
            && r.usable()
        {
            return Ok(Some(r));
        }
        if !network {
            return Ok(None);
        }
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .map_err(|_| Error::internal("registration flight map poisoned"))?;
            Arc::clone(flights.entry(key.clone()).or_default())
        };
        let _guard = flight.lock().await;
        let store = vault.store().clone();
        let lock_key = StoreKey::new(NS_LOCK, None, &[NS_REGISTRATION, &asm.issuer, redirect_uri]);
        let deadline = tokio::time::Instant::now() + REGISTRATION_WAIT;
        let mut wait = Duration::from_millis(20);
        let token = loop {
            // Another task or process may have registered meanwhile.
            if let Some(r) = vault.get_value::<ClientRegistration>(&key).await?
                && r.usable()
            {
                return Ok(Some(r));
            }
            if let Some(t) = store.try_lock(&lock_key, REGISTRATION_LOCK_TTL).await? {
                break t;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "waited too long for another process to register with the authorization server",
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(250));
        };
        let result = async {
            if let Some(r) = vault.get_value::<ClientRegistration>(&key).await?
                && r.usable()
            {
                return Ok(r);
            }
            let r = register(options, discoverer, endpoint, redirect_uri).await?;
            vault.put_value(&key, &r, None).await?;
            tracing::info!(issuer = %asm.issuer, "registered a client dynamically (RFC 7591)");
            Ok(r)
        }
        .await;
        if let Err(e) = store.unlock(&lock_key, &token).await {
            tracing::warn!(error = %e, "releasing the registration lock failed; it expires by itself");
        }
        result.map(Some)
    }
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<Secret>,
    #[serde(default)]
    client_secret_expires_at: Option<i64>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

#[derive(Deserialize)]
struct RegistrationError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// RFC 7591 §3.1: POSTs the client metadata and reads the client back.
async fn register(
    options: &RegistrationOptions,
    discoverer: &Discoverer,
    endpoint: &str,
    redirect_uri: &str,
) -> Result<ClientRegistration, Error> {
    let url = Url::parse(endpoint).map_err(|_| {
        Error::new(
            ErrorKind::Provider,
            "the registration endpoint is not a URL",
        )
    })?;
    discoverer
        .check_url(&url, "the registration endpoint")
        .await?;
    let method = match options.dynamic_auth {
        ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
        ClientAuthMethod::ClientSecretPost => "client_secret_post",
        _ => "none",
    };
    let body = serde_json::json!({
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "client_name": options.client_name,
    });
    let what = "dynamic client registration";
    let resp = discoverer
        .http()
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&body)
        .send()
        .await
        .map_err(|e| net::transport(what, e))?;
    let status = resp.status();
    let bytes = net::read_limited(resp, discoverer.options().max_document_bytes, what).await?;
    if !status.is_success() {
        // RFC 7591 §3.2.2: an error code and description, never secret; the
        // rest of the body is not echoed.
        let detail = serde_json::from_slice::<RegistrationError>(&bytes)
            .map(|e| {
                format!(
                    ": {}{}",
                    sanitize(&e.error),
                    e.error_description
                        .map(|d| format!(" ({})", sanitize(&d)))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        return Err(Error::new(
            if status.is_server_error() {
                ErrorKind::Unavailable
            } else {
                ErrorKind::OAuth
            },
            format!(
                "the authorization server refused the dynamic client registration (HTTP {}){detail}",
                status.as_u16()
            ),
        ));
    }
    let r: RegistrationResponse = serde_json::from_slice(&bytes).map_err(|_| {
        Error::new(
            ErrorKind::Provider,
            "the dynamic client registration response lacks client_id or is malformed",
        )
    })?;
    let auth = match r.token_endpoint_auth_method.as_deref().unwrap_or(method) {
        "none" => ClientAuthMethod::None,
        "client_secret_basic" => ClientAuthMethod::ClientSecretBasic,
        "client_secret_post" => ClientAuthMethod::ClientSecretPost,
        other => {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "the authorization server registered the client with the unsupported \
                     token_endpoint_auth_method `{}`",
                    sanitize(other)
                ),
            ));
        }
    };
    if auth != ClientAuthMethod::None && r.client_secret.is_none() {
        return Err(Error::new(
            ErrorKind::Provider,
            "the dynamic client registration gave a confidential client no client_secret",
        ));
    }
    Ok(ClientRegistration {
        client_id: r.client_id,
        client_secret: r.client_secret,
        auth,
        source: RegistrationSource::Dynamic,
        redirect_uri: redirect_uri.to_owned(),
        secret_expires_at: r.client_secret_expires_at.filter(|&at| at > 0),
    })
}
