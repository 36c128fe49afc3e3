//! How an MCP server is configured, in the `mcpServers` shape agent tools
//! already use.
//!
//! The same [`McpServerConfig`] reads `[mcp_servers.<id>]` tables in
//! `connectors.toml` and the `{"mcpServers": {...}}` JSON users paste from
//! Claude Code, Cursor or VS Code ([`parse_mcp_servers_json`]):
//!
//! ```toml
//! [mcp_servers.docs]
//! url = "https://mcp.example.com/mcp"
//! type = "http"                                  # or transport = "streamable-http"
//! headers = { "X-Api-Key" = "${DOCS_API_KEY}" }  # ${VAR}: from the environment
//! auth = { type = "bearer", token_env = "DOCS_TOKEN" }
//! ```
//!
//! Unknown fields are errors, and every error names the server id and the
//! field. Values are never printed: an error says which variable is missing,
//! not what a header holds.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use connector_core::{Error, Secret};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::client::TransportMode;
use crate::pool::PoolConfig;

/// Default per-request timeout (progress resets it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default lifetime of a user's cached tool list.
pub const DEFAULT_TOOL_CACHE_TTL: Duration = Duration::from_secs(300);
/// Default idle time after which a pooled session is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default bound on pooled sessions per server.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

/// One MCP server: `[mcp_servers.<id>]`, or one entry of `mcpServers`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// The MCP endpoint (streamable HTTP) or the legacy SSE stream URL.
    pub url: String,
    /// `auto` (default), `sse`, `streamable-http` (alias `http`) or
    /// `stateless`. Also read from `type`, as VS Code and Claude Code spell it.
    #[serde(default, alias = "type", deserialize_with = "transport")]
    pub transport: TransportMode,
    /// Headers sent with every request. Values may reference environment
    /// variables as `${VAR}`, resolved when the connector is built.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How the user authenticates (default: none).
    #[serde(default)]
    pub auth: McpAuthConfig,
    /// A human name for listings (default: the id).
    #[serde(default)]
    pub display_name: Option<String>,
    /// One sentence on what the server gives access to.
    #[serde(default)]
    pub description: Option<String>,
    /// Per-request timeout in seconds (default 60).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// How long a user's tool list is cached, in seconds (default 300; 0
    /// asks the session every time, which still caches until the server
    /// says the list changed).
    #[serde(default)]
    pub tool_cache_ttl_secs: Option<u64>,
    /// Allow URLs discovered during MCP authorization to point at private or
    /// link-local addresses (default false).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// At most this many pooled sessions (over all users; default 1024).
    #[serde(default)]
    pub max_sessions: Option<usize>,
    /// A pooled session unused this many seconds is closed (default 300).
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
}

/// How the user authenticates to the server.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum McpAuthConfig {
    /// `"none"`: only the configured headers.
    #[default]
    None,
    /// `{ type = "bearer", token_env = "VAR" }`: a fixed token from the
    /// environment, sent as `Authorization: Bearer`.
    Bearer {
        /// The variable holding the token.
        token_env: String,
    },
    /// `{ type = "oauth", ... }`: MCP authorization (protected resource
    /// metadata, authorization server discovery, registration, PKCE),
    /// tokens kept in the vault per user.
    OAuth(McpOAuthSettings),
    /// `{ type = "provider", provider = "<id>", headers = {...} }`: the
    /// user's token for a `[providers.<id>]` connection, from the vault.
    Provider(ProviderAuthSettings),
}

/// `auth = { type = "oauth", ... }`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpOAuthSettings {
    /// A client registered out of band for this server (otherwise a client
    /// ID metadata document or dynamic registration). It is used with
    /// whatever authorization server the server names, unless `issuer`
    /// pins one.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The environment variable holding the pre-registered client's secret
    /// (sent with `client_secret_basic`). Needs `issuer`.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The issuer of the authorization server `client_id` is registered
    /// with. A server naming another one is then an error.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where the authorization server sends the user back: the
    /// application's callback endpoint (default: `[server] public_url` +
    /// `/oauth/callback`). The CLI probe listens on it when it is a loopback
    /// http URL with a port.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// The URL of our client ID metadata document, where the authorization
    /// server supports them.
    #[serde(default)]
    pub client_metadata_url: Option<String>,
    /// Scopes to ask for (default: what the server's challenge or metadata
    /// names).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `auth = { type = "provider", ... }`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAuthSettings {
    /// The id of the `[providers.<id>]` table (or registered provider) whose
    /// tokens the server accepts.
    pub provider: String,
    /// Extra headers. Values may use `${VAR}` (environment, at build time)
    /// and `${extra.NAME}` (the `NAME` field of the user's token record, at
    /// request time), for example
    /// `{ "X-Atlassian-Cloud-Id" = "${extra.cloud_id}" }`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum AuthTable {
    None,
    Bearer {
        token_env: String,
    },
    #[serde(rename = "oauth")]
    OAuth {
        #[serde(default)]
        client_id: Option<String>,
        #[serde(default)]
        client_secret_env: Option<String>,
        #[serde(default)]
        issuer: Option<String>,
        #[serde(default)]
        redirect_uri: Option<String>,
        #[serde(default)]
        client_metadata_url: Option<String>,
        #[serde(default)]
        scopes: Option<Vec<String>>,
    },
    Provider {
        provider: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

impl<'de> Deserialize<'de> for McpAuthConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AuthVisitor;
        impl<'de> Visitor<'de> for AuthVisitor {
            type Value = McpAuthConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "\"none\", \"oauth\", or a table with type = \"none\" | \"bearer\" | \"oauth\" | \"provider\"",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<McpAuthConfig, E> {
                match v {
                    "none" => Ok(McpAuthConfig::None),
                    "oauth" => Ok(McpAuthConfig::OAuth(McpOAuthSettings::default())),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<McpAuthConfig, A::Error> {
                let table = AuthTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match table {
                    AuthTable::None => McpAuthConfig::None,
                    AuthTable::Bearer { token_env } => McpAuthConfig::Bearer { token_env },
                    AuthTable::OAuth {
                        client_id,
                        client_secret_env,
                        issuer,
                        redirect_uri,
                        client_metadata_url,
                        scopes,
                    } => McpAuthConfig::OAuth(McpOAuthSettings {
                        client_id,
                        client_secret_env,
                        issuer,
                        redirect_uri,
                        client_metadata_url,
                        scopes,
                    }),
                    AuthTable::Provider { provider, headers } => {
                        McpAuthConfig::Provider(ProviderAuthSettings { provider, headers })
                    }
                })
            }
        }
        d.deserialize_any(AuthVisitor)
    }
}

fn transport<'de, D: Deserializer<'de>>(d: D) -> Result<TransportMode, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "stdio" => Err(de::Error::custom(
            "stdio servers are not supported: connectors reaches MCP servers over HTTP (sse, streamable-http)",
        )),
        other => other.parse::<TransportMode>().map_err(|_| {
            de::Error::custom(format!(
                "unknown MCP transport `{other}` (expected auto, sse, streamable-http (or http) or stateless)"
            ))
        }),
    }
}

/// A header value with `${...}` references resolved as far as build time
/// allows: environment variables are substituted, `${extra.NAME}` parts
/// stay for request time.
#[derive(Clone, PartialEq)]
pub enum HeaderTemplate {
    /// A fixed value (possibly a secret).
    Fixed(Secret),
    /// Literal text and token-record fields, concatenated per request.
    Parts(Vec<TemplatePart>),
}

/// A piece of a [`HeaderTemplate`].
#[derive(Clone, PartialEq)]
pub enum TemplatePart {
    /// Text (possibly from an environment variable, so treated as secret).
    Text(Secret),
    /// The named field of the token record's `extra`.
    Extra(String),
}

impl fmt::Debug for HeaderTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderTemplate::Fixed(_) => f.write_str("Fixed([redacted])"),
            HeaderTemplate::Parts(parts) => {
                let names: Vec<String> = parts
                    .iter()
                    .map(|p| match p {
                        TemplatePart::Text(_) => "[redacted]".to_owned(),
                        TemplatePart::Extra(n) => format!("${{extra.{n}}}"),
                    })
                    .collect();
                write!(f, "Parts({names:?})")
            }
        }
    }
}

impl HeaderTemplate {
    /// Resolves the value against a token record's `extra` fields.
    pub fn render(&self, extra: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
        match self {
            HeaderTemplate::Fixed(s) => Some(s.expose().to_owned()),
            HeaderTemplate::Parts(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        TemplatePart::Text(t) => out.push_str(t.expose()),
                        TemplatePart::Extra(name) => match extra.get(name)? {
                            serde_json::Value::String(s) => out.push_str(s),
                            serde_json::Value::Null => return None,
                            other => out.push_str(&other.to_string()),
                        },
                    }
                }
                Some(out)
            }
        }
    }
}

/// Substitutes `${VAR}` with the environment (through `env`, so tests need
/// not touch the process environment). `${extra.NAME}` is kept for request
/// time when `allow_extra`, an error otherwise. `$$` is a literal `$`.
fn resolve_template(
    value: &str,
    allow_extra: bool,
    env: &dyn Fn(&str) -> Option<String>,
    what: &dyn Fn() -> String,
) -> Result<HeaderTemplate, Error> {
    let mut parts: Vec<TemplatePart> = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    // Each turn consumes at least one byte, so the loop ends.
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("$$") {
            text.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(Error::config(format!("{}: unterminated `${{`", what())));
            };
            let name = after[..end].trim();
            rest = &after[end + 1..];
            if let Some(field) = name.strip_prefix("extra.") {
                if !allow_extra {
                    return Err(Error::config(format!(
                        "{}: `${{extra.{field}}}` is only available with auth type \"provider\"",
                        what()
                    )));
                }
                if !text.is_empty() {
                    parts.push(TemplatePart::Text(Secret::new(std::mem::take(&mut text))));
                }
                parts.push(TemplatePart::Extra(field.to_owned()));
                continue;
            }
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::config(format!(
                    "{}: `${{{name}}}` is not an environment variable name",
                    what()
                )));
            }
            match env(name) {
                Some(v) => text.push_str(&v),
                None => {
                    return Err(Error::config(format!(
                        "{}: environment variable `{name}` is not set",
                        what()
                    )));
                }
            }
        } else {
            let next = rest[1..].find('$').map_or(rest.len(), |i| i + 1);
            text.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    if parts.is_empty() {
        return Ok(HeaderTemplate::Fixed(Secret::new(text)));
    }
    if !text.is_empty() {
        parts.push(TemplatePart::Text(Secret::new(text)));
    }
    Ok(HeaderTemplate::Parts(parts))
}

/// Authentication with everything from the environment resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedAuth {
    /// Only the configured headers.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// MCP authorization.
    OAuth {
        /// Settings as configured.
        settings: McpOAuthSettings,
        /// The client secret, read from `client_secret_env`.
        client_secret: Option<Secret>,
    },
    /// The user's token for a configured provider.
    Provider {
        /// The provider id.
        provider: String,
        /// Extra headers, resolved but for `${extra.NAME}`.
        headers: Vec<(String, HeaderTemplate)>,
    },
}

/// A server's configuration with the URL parsed and the environment read:
/// what [`McpConnector`](crate::connector::McpConnector) is built from.
#[derive(Debug, Clone)]
pub struct ResolvedServer {
    /// The server id.
    pub id: String,
    /// The endpoint.
    pub url: Url,
    /// The transport.
    pub transport: TransportMode,
    /// Static headers (values resolved; secret).
    pub headers: Vec<(String, Secret)>,
    /// Authentication.
    pub auth: ResolvedAuth,
    /// A human name.
    pub display_name: String,
    /// What the server is for.
    pub description: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Lifetime of a user's cached tool list.
    pub tool_cache_ttl: Duration,
    /// Whether discovery may point at private addresses.
    pub allow_private_addresses: bool,
    /// Pool limits.
    pub pool: PoolConfig,
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// Parses an MCP server URL: http(s) with a host, no credentials in it.
/// Plain http is allowed only to a loopback host when `strict`.
pub fn parse_server_url(url: &str, strict: bool) -> Result<Url, String> {
    let parsed = Url::parse(url.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if !strict || is_loopback_host(&parsed) => {}
        "http" => {
            return Err(
                "plain http is only allowed to a loopback host (127.0.0.1, [::1], localhost); use https"
                    .to_owned(),
            );
        }
        other => return Err(format!("scheme `{other}` is not http or https")),
    }
    if parsed.host().is_none() {
        return Err("the URL has no host".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in the URL are not allowed; use headers or auth".to_owned());
    }
    Ok(parsed)
}

impl McpServerConfig {
    /// A configuration for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        McpServerConfig {
            url: url.into(),
            transport: TransportMode::Auto,
            headers: BTreeMap::new(),
            auth: McpAuthConfig::None,
            display_name: None,
            description: None,
            timeout_secs: None,
            tool_cache_ttl_secs: None,
            allow_private_addresses: false,
            max_sessions: None,
            idle_timeout_secs: None,
        }
    }

    /// Checks what can be checked without the environment: the id, the URL,
    /// header names, numbers. Errors name the server and the field.
    pub fn validate(&self, id: &str) -> Result<(), Error> {
        let at = |field: &str| format!("[mcp_servers.{id}] {field}");
        if !connector_core::metadata::is_valid_id(id) {
            return Err(Error::config(format!(
                "[mcp_servers.{id}]: the id must match [a-z][a-z0-9_]* (at most 32 bytes); it prefixes the server's tool names"
            )));
        }
        parse_server_url(&self.url, true)
            .map_err(|e| Error::config(format!("{}: `{}`: {e}", at("url"), self.url)))?;
        let header_names = self.headers.keys().chain(
            match &self.auth {
                McpAuthConfig::Provider(p) => Some(p.headers.keys()),
                _ => None,
            }
            .into_iter()
            .flatten(),
        );
        for name in header_names {
            http::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::config(format!(
                    "{}: `{name}` is not a valid HTTP header name",
                    at("headers")
                ))
            })?;
        }
        if self.timeout_secs == Some(0) {
            return Err(Error::config(format!(
                "{}: must be at least 1",
                at("timeout_secs")
            )));
        }
        if self.max_sessions == Some(0) {
            return Err(Error::config(format!(
                "{}: must be at least 1",
                at("max_sessions")
            )));
        }
        if self.idle_timeout_secs == Some(0) {
            return Err(Error::config(format!(
                "{}: must be at least 1",
                at("idle_timeout_secs")
            )));
        }
        match &self.auth {
            McpAuthConfig::Bearer { token_env } if token_env.trim().is_empty() => {
                return Err(Error::config(format!(
                    "{}: must not be empty",
                    at("auth.token_env")
                )));
            }
            McpAuthConfig::Provider(p) if p.provider.trim().is_empty() => {
                return Err(Error::config(format!(
                    "{}: must not be empty",
                    at("auth.provider")
                )));
            }
            McpAuthConfig::OAuth(o) => {
                if let Some(u) = &o.client_metadata_url {
                    let parsed = Url::parse(u).map_err(|e| {
                        Error::config(format!("{}: `{u}`: {e}", at("auth.client_metadata_url")))
                    })?;
                    if parsed.scheme() != "https" {
                        return Err(Error::config(format!(
                            "{}: a client ID metadata document must be https",
                            at("auth.client_metadata_url")
                        )));
                    }
                }
                if o.client_secret_env.is_some() && o.client_id.is_none() {
                    return Err(Error::config(format!(
                        "{}: client_secret_env needs client_id",
                        at("auth")
                    )));
                }
                if o.issuer.is_some() && o.client_id.is_none() {
                    return Err(Error::config(format!(
                        "{}: issuer names the authorization server of client_id, which is not set",
                        at("auth")
                    )));
                }
                if o.client_secret_env.is_some() && o.issuer.is_none() {
                    return Err(Error::config(format!(
                        "{}: a client secret needs issuer (the authorization server the client is registered with), so the secret only ever goes there",
                        at("auth")
                    )));
                }
                if let Some(i) = &o.issuer {
                    let parsed = Url::parse(i)
                        .map_err(|e| Error::config(format!("{}: `{i}`: {e}", at("auth.issuer"))))?;
                    if !matches!(parsed.scheme(), "https" | "http") {
                        return Err(Error::config(format!(
                            "{}: an issuer is an https URL",
                            at("auth.issuer")
                        )));
                    }
                }
                if let Some(u) = &o.redirect_uri {
                    check_redirect_uri(u)
                        .map_err(|e| Error::config(format!("{}: {e}", at("auth.redirect_uri"))))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Validates and reads the environment (`std::env::var`).
    pub fn resolve(&self, id: &str) -> Result<ResolvedServer, Error> {
        self.resolve_with(id, &|name| std::env::var(name).ok())
    }

    /// [`McpServerConfig::resolve`] with the environment given as a function.
    pub fn resolve_with(
        &self,
        id: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ResolvedServer, Error> {
        self.validate(id)?;
        let url = parse_server_url(&self.url, true).map_err(Error::config)?;
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let what = || format!("[mcp_servers.{id}] headers.{name}");
            match resolve_template(value, false, env, &what)? {
                HeaderTemplate::Fixed(v) => headers.push((name.clone(), v)),
                HeaderTemplate::Parts(_) => {
                    return Err(Error::internal(
                        "a static header resolved to a request-time template",
                    ));
                }
            }
        }
        let auth = match &self.auth {
            McpAuthConfig::None => ResolvedAuth::None,
            McpAuthConfig::Bearer { token_env } => {
                let token = env(token_env).filter(|t| !t.is_empty()).ok_or_else(|| {
                    Error::config(format!(
                        "[mcp_servers.{id}] auth.token_env: environment variable `{token_env}` is not set"
                    ))
                })?;
                ResolvedAuth::Bearer(Secret::new(token))
            }
            McpAuthConfig::OAuth(settings) => {
                let client_secret = match &settings.client_secret_env {
                    None => None,
                    Some(var) => Some(Secret::new(env(var).ok_or_else(|| {
                        Error::config(format!(
                            "[mcp_servers.{id}] auth.client_secret_env: environment variable `{var}` is not set"
                        ))
                    })?)),
                };
                ResolvedAuth::OAuth {
                    settings: settings.clone(),
                    client_secret,
                }
            }
            McpAuthConfig::Provider(p) => {
                let mut headers = Vec::with_capacity(p.headers.len());
                for (name, value) in &p.headers {
                    let what = || format!("[mcp_servers.{id}] auth.headers.{name}");
                    headers.push((name.clone(), resolve_template(value, true, env, &what)?));
                }
                ResolvedAuth::Provider {
                    provider: p.provider.clone(),
                    headers,
                }
            }
        };
        Ok(ResolvedServer {
            id: id.to_owned(),
            url,
            transport: self.transport,
            headers,
            auth,
            display_name: self.display_name.clone().unwrap_or_else(|| id.to_owned()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| format!("Tools from the MCP server `{id}`.")),
            timeout: self
                .timeout_secs
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            tool_cache_ttl: self
                .tool_cache_ttl_secs
                .map_or(DEFAULT_TOOL_CACHE_TTL, Duration::from_secs),
            allow_private_addresses: self.allow_private_addresses,
            pool: PoolConfig {
                max_sessions: self.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS),
                idle_timeout: self
                    .idle_timeout_secs
                    .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs),
                ..PoolConfig::default()
            },
        })
    }
}

/// A redirect URI: https, or http to a loopback host.
pub fn check_redirect_uri(raw: &str) -> Result<Url, String> {
    let u = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match u.scheme() {
        "https" => Ok(u),
        "http" if loopback => Ok(u),
        _ => Err("a redirect URI must be https, or http to a loopback host".to_owned()),
    }
}

impl ResolvedServer {
    /// The client configured for this server (`auth.client_id`), for
    /// [`McpAuthBuilder::server_client`](crate::auth::McpAuthBuilder::server_client).
    pub fn oauth_client(&self) -> Option<crate::auth::ServerClient> {
        let ResolvedAuth::OAuth {
            settings,
            client_secret,
        } = &self.auth
        else {
            return None;
        };
        let client_id = settings.client_id.clone()?;
        Some(crate::auth::ServerClient {
            client: crate::auth::PreRegisteredClient {
                client_id,
                client_secret: client_secret.clone(),
                auth: if client_secret.is_some() {
                    connector_core::ClientAuthMethod::ClientSecretBasic
                } else {
                    connector_core::ClientAuthMethod::None
                },
            },
            issuer: settings.issuer.clone(),
        })
    }
}

/// Reads `{"mcpServers": {...}}` (Claude Code, Cursor) or `{"servers":
/// {...}}` (VS Code), or a bare map of servers. Entries that start a local
/// process (`command`) are refused with a clear message: connectors reaches
/// servers over HTTP only.
pub fn parse_mcp_servers_json(text: &str) -> Result<BTreeMap<String, McpServerConfig>, Error> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::config(format!("MCP servers JSON: {e}")))?;
    let servers = match value
        .get("mcpServers")
        .or_else(|| value.get("servers"))
        .unwrap_or(&value)
    {
        serde_json::Value::Object(map) => map.clone(),
        _ => {
            return Err(Error::config(
                "MCP servers JSON: expected {\"mcpServers\": {\"<id>\": {\"url\": ...}}}",
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (id, entry) in servers {
        if entry.get("command").is_some() {
            return Err(Error::config(format!(
                "[mcp_servers.{id}]: stdio servers (`command`) are not supported; connectors reaches MCP servers over HTTP"
            )));
        }
        let config = McpServerConfig::deserialize(&entry)
            .map_err(|e| Error::config(format!("[mcp_servers.{id}]: {e}")))?;
        config.validate(&id)?;
        out.insert(id, config);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "API_KEY" => Some("k-123".into()),
            "TOKEN" => Some("t-456".into()),
            "SECRET" => Some("s-789".into()),
            _ => None,
        }
    }

    #[derive(Deserialize)]
    struct File {
        mcp_servers: BTreeMap<String, McpServerConfig>,
    }

    fn toml_servers(text: &str) -> Result<BTreeMap<String, McpServerConfig>, String> {
        toml::from_str::<File>(text)
            .map(|f| f.mcp_servers)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn toml_shapes() {
        let s = toml_servers(
            r#"
[mcp_servers.docs]
url = "https://mcp.example.com/mcp"
type = "http"
headers = { "X-Api-Key" = "${API_KEY}", "X-Plain" = "a$b" }
auth = { type = "bearer", token_env = "TOKEN" }
display_name = "Docs"
timeout_secs = 5
tool_cache_ttl_secs = 0
max_sessions = 8
idle_timeout_secs = 30

[mcp_servers.legacy]
url = "http://127.0.0.1:3000/sse"
transport = "sse"

[mcp_servers.jira]
url = "https://mcp.example.org/v1/sse"
auth = { type = "provider", provider = "atlassian", headers = { "X-Cloud-Id" = "${extra.cloud_id}" } }

[mcp_servers.open]
url = "https://open.example/mcp"
auth = "oauth"

[mcp_servers.scoped]
url = "https://open.example/mcp"
[mcp_servers.scoped.auth]
type = "oauth"
client_id = "abc"
client_secret_env = "SECRET"
issuer = "https://as.example"
redirect_uri = "https://app.example/oauth/callback"
scopes = ["read"]
"#,
        )
        .unwrap();
        assert_eq!(s["docs"].transport, TransportMode::StreamableHttp);
        assert_eq!(s["legacy"].transport, TransportMode::Sse);
        assert_eq!(s["open"].transport, TransportMode::Auto);
        assert_eq!(
            s["open"].auth,
            McpAuthConfig::OAuth(McpOAuthSettings::default())
        );
        let docs = s["docs"].resolve_with("docs", &env).unwrap();
        assert_eq!(docs.timeout, Duration::from_secs(5));
        assert_eq!(docs.tool_cache_ttl, Duration::ZERO);
        assert_eq!(docs.pool.max_sessions, 8);
        assert_eq!(docs.pool.idle_timeout, Duration::from_secs(30));
        assert_eq!(docs.display_name, "Docs");
        let headers: BTreeMap<_, _> = docs
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(headers["X-Api-Key"], "k-123");
        assert_eq!(headers["X-Plain"], "a$b");
        assert_eq!(docs.auth, ResolvedAuth::Bearer(Secret::new("t-456")));
        // Never printed.
        let debug = format!("{docs:?}");
        assert!(
            !debug.contains("k-123") && !debug.contains("t-456"),
            "{debug}"
        );

        let jira = s["jira"].resolve_with("jira", &env).unwrap();
        let ResolvedAuth::Provider { provider, headers } = &jira.auth else {
            panic!("{:?}", jira.auth)
        };
        assert_eq!(provider, "atlassian");
        let mut extra = serde_json::Map::new();
        extra.insert("cloud_id".into(), "c-1".into());
        assert_eq!(headers[0].1.render(&extra).as_deref(), Some("c-1"));
        assert_eq!(headers[0].1.render(&serde_json::Map::new()), None);

        let scoped = s["scoped"].resolve_with("scoped", &env).unwrap();
        let client = scoped.oauth_client().unwrap();
        assert_eq!(client.client.client_id, "abc");
        assert_eq!(client.issuer.as_deref(), Some("https://as.example"));
        assert_eq!(
            client.client.auth,
            connector_core::ClientAuthMethod::ClientSecretBasic
        );
        assert!(
            s["open"]
                .resolve_with("open", &env)
                .unwrap()
                .oauth_client()
                .is_none()
        );
        // A secret without its issuer, an issuer without a client, a
        // redirect URI in clear text to another host: refused.
        let mut c = s["scoped"].clone();
        if let McpAuthConfig::OAuth(o) = &mut c.auth {
            o.issuer = None;
        }
        let e = c.validate("scoped").unwrap_err().to_string();
        assert!(e.contains("auth") && e.contains("issuer"), "{e}");
        let mut c = s["scoped"].clone();
        if let McpAuthConfig::OAuth(o) = &mut c.auth {
            o.client_id = None;
            o.client_secret_env = None;
        }
        assert!(c.validate("scoped").is_err());
        let mut c = s["scoped"].clone();
        if let McpAuthConfig::OAuth(o) = &mut c.auth {
            o.redirect_uri = Some("http://app.example/cb".into());
        }
        let e = c.validate("scoped").unwrap_err().to_string();
        assert!(e.contains("auth.redirect_uri"), "{e}");
        let ResolvedAuth::OAuth {
            settings,
            client_secret,
        } = scoped.auth
        else {
            panic!()
        };
        assert_eq!(settings.client_id.as_deref(), Some("abc"));
        assert_eq!(client_secret, Some(Secret::new("s-789")));
    }

    #[test]
    fn errors_name_the_server_and_the_field() {
        let e =
            toml_servers("[mcp_servers.a]\nurl = \"https://x/mcp\"\nheader = {}\n").unwrap_err();
        assert!(e.contains("header"), "{e}");
        let e = toml_servers("[mcp_servers.a]\nurl = \"https://x/mcp\"\ntype = \"stdio\"\n")
            .unwrap_err();
        assert!(e.contains("stdio servers are not supported"), "{e}");
        let e = toml_servers("[mcp_servers.a]\nurl = \"https://x/mcp\"\ntransport = \"grpc\"\n")
            .unwrap_err();
        assert!(e.contains("unknown MCP transport `grpc`"), "{e}");
        let e = toml_servers(
            "[mcp_servers.a]\nurl = \"https://x/mcp\"\nauth = { type = \"bearer\", token = \"x\" }\n",
        )
        .unwrap_err();
        assert!(e.contains("token"), "{e}");
        let e = toml_servers("[mcp_servers.a]\nurl = \"https://x/mcp\"\nauth = \"basic\"\n")
            .unwrap_err();
        assert!(e.contains("basic"), "{e}");

        let mut c = McpServerConfig::new("https://x/mcp");
        c.headers
            .insert("Authorization".into(), "Bearer ${MISSING}".into());
        let e = c.resolve_with("srv", &env).unwrap_err().to_string();
        assert!(
            e.contains("[mcp_servers.srv] headers.Authorization")
                && e.contains("`MISSING` is not set"),
            "{e}"
        );
        let mut c = McpServerConfig::new("https://x/mcp");
        c.headers.insert("X".into(), "${extra.cloud_id}".into());
        let e = c.resolve_with("srv", &env).unwrap_err().to_string();
        assert!(e.contains("only available with auth type"), "{e}");
        let mut c = McpServerConfig::new("https://x/mcp");
        c.auth = McpAuthConfig::Bearer {
            token_env: "NOPE".into(),
        };
        let e = c.resolve_with("srv", &env).unwrap_err().to_string();
        assert!(e.contains("auth.token_env") && e.contains("NOPE"), "{e}");

        let e = McpServerConfig::new("http://example.com/mcp")
            .validate("srv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[mcp_servers.srv] url") && e.contains("loopback"),
            "{e}"
        );
        assert!(McpServerConfig::new("ftp://x").validate("srv").is_err());
        assert!(
            McpServerConfig::new("https://u:p@x/mcp")
                .validate("srv")
                .is_err()
        );
        let e = McpServerConfig::new("https://x/mcp")
            .validate("Bad-Id")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[mcp_servers.Bad-Id]"), "{e}");
        let mut c = McpServerConfig::new("https://x/mcp");
        c.headers.insert("bad name".into(), "v".into());
        assert!(c.validate("srv").is_err());
    }

    #[test]
    fn templates() {
        let what = || "h".to_owned();
        let t = resolve_template("Bearer ${TOKEN}", false, &env, &what).unwrap();
        assert_eq!(t, HeaderTemplate::Fixed(Secret::new("Bearer t-456")));
        let t = resolve_template("$$${API_KEY}$", false, &env, &what).unwrap();
        assert_eq!(t, HeaderTemplate::Fixed(Secret::new("$k-123$")));
        assert!(resolve_template("${TOKEN", false, &env, &what).is_err());
        assert!(resolve_template("${a-b}", false, &env, &what).is_err());
        let t = resolve_template("x-${extra.id}-${API_KEY}", true, &env, &what).unwrap();
        let mut extra = serde_json::Map::new();
        extra.insert("id".into(), 7.into());
        assert_eq!(t.render(&extra).as_deref(), Some("x-7-k-123"));
        assert!(!format!("{t:?}").contains("k-123"));
        let t = resolve_template("héllo ${TOKEN}", false, &env, &what).unwrap();
        assert_eq!(t, HeaderTemplate::Fixed(Secret::new("héllo t-456")));
    }

    #[test]
    fn pasted_json() {
        let s = parse_mcp_servers_json(
            r#"{"mcpServers": {
                "linear": {"type": "http", "url": "https://mcp.linear.example/mcp"},
                "old": {"type": "sse", "url": "https://old.example/sse", "headers": {"X-Key": "${API_KEY}"}}
            }}"#,
        )
        .unwrap();
        assert_eq!(s["linear"].transport, TransportMode::StreamableHttp);
        assert_eq!(s["old"].transport, TransportMode::Sse);
        assert_eq!(s["old"].headers["X-Key"], "${API_KEY}");
        let vscode = parse_mcp_servers_json(
            r#"{"servers": {"a": {"type": "streamableHttp", "url": "https://a.example/mcp"}}}"#,
        )
        .unwrap();
        assert_eq!(vscode["a"].transport, TransportMode::StreamableHttp);
        let e = parse_mcp_servers_json(
            r#"{"mcpServers": {"local": {"command": "npx", "args": ["server"]}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[mcp_servers.local]") && e.contains("stdio"),
            "{e}"
        );
        let e =
            parse_mcp_servers_json(r#"{"mcpServers": {"a": {"url": "https://a/mcp", "env": {}}}}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("[mcp_servers.a]") && e.contains("env"), "{e}");
        assert!(parse_mcp_servers_json("[1]").is_err());
    }
}
