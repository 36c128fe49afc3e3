//! Discovery: protected resource metadata (RFC 9728) and authorization
//! server metadata (RFC 8414, OpenID Connect Discovery), in the order the
//! MCP 2025-11-25 authorization specification gives.
//!
//! Protected resource metadata comes from the `resource_metadata` URL of the
//! server's `WWW-Authenticate` challenge when it is on the MCP server's own
//! origin, then from `/.well-known/oauth-protected-resource/<path>`, then
//! from `/.well-known/oauth-protected-resource`. Its `resource` must be the
//! MCP server's URL or a prefix of it on the same origin (so a token for it
//! is a token for this server).
//!
//! For an issuer with a path (`https://as.example/tenant1`) the metadata is
//! tried at `/.well-known/oauth-authorization-server/tenant1`,
//! `/.well-known/openid-configuration/tenant1`, then
//! `/tenant1/.well-known/openid-configuration`; without a path at
//! `/.well-known/oauth-authorization-server` then
//! `/.well-known/openid-configuration`. The document's `issuer` must be the
//! issuer asked for, `code_challenge_methods_supported` must include
//! `S256`, and its endpoints pass the same address checks.

use std::time::Duration;

use connector_core::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use url::Url;

use super::net::{self, Fetched};
use crate::credentials::BearerChallenge;

/// At most this many authorization servers of one resource are tried.
const MAX_AUTHORIZATION_SERVERS: usize = 4;

/// Tunables of discovery.
#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// Allow discovered URLs (metadata, endpoints) on private, loopback and
    /// link-local addresses. Off by default: a server must not be able to
    /// point us at internal services. Tests on 127.0.0.1 turn it on.
    pub allow_private_addresses: bool,
    /// Timeout of each metadata or registration request.
    pub timeout: Duration,
    /// The largest metadata document read.
    pub max_document_bytes: usize,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            allow_private_addresses: false,
            timeout: Duration::from_secs(10),
            max_document_bytes: 256 * 1024,
        }
    }
}

/// RFC 9728 §2, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier.
    pub resource: String,
    /// Issuers of the authorization servers that issue tokens for it.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes the resource uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
}

/// RFC 8414 §2 (and OpenID provider metadata), the fields we use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// RFC 7591 registration endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// PKCE methods; must include `S256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Whether URL client ids (client ID metadata documents) are accepted.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    /// Scopes the server knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// Client authentication methods at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// Everything discovery learnt about one MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The MCP server URL discovery started from.
    pub server: String,
    /// Where the protected resource metadata was found.
    pub resource_metadata_url: String,
    /// The protected resource metadata.
    pub resource_metadata: ProtectedResourceMetadata,
    /// The authorization server chosen, and its metadata.
    pub authorization_server: AuthorizationServerMetadata,
}

impl Discovery {
    /// The RFC 8707 `resource` value: the resource identifier the server
    /// declares for itself (its URL or a prefix of it), which is what it
    /// checks a token's audience against.
    pub fn resource(&self) -> &str {
        &self.resource_metadata.resource
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.authorization_server.issuer
    }
}

/// Runs discovery. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Discoverer {
    options: DiscoveryOptions,
    http: reqwest::Client,
}

impl Discoverer {
    /// A discoverer with its own HTTP client (no redirects; the guarded
    /// resolver unless private addresses are allowed).
    pub fn new(options: DiscoveryOptions) -> Result<Self, Error> {
        let http = net::http_client(options.allow_private_addresses, options.timeout)?;
        Ok(Discoverer { options, http })
    }

    /// The options.
    pub fn options(&self) -> &DiscoveryOptions {
        &self.options
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Checks a URL as discovery does (scheme, private addresses).
    pub async fn check_url(&self, url: &Url, what: &str) -> Result<(), Error> {
        net::check_url(url, self.options.allow_private_addresses, what).await
    }

    /// The protected resource metadata URLs to try, in order: the
    /// challenge's `resource_metadata` when it is on the server's origin,
    /// then the path-specific and root well-known URLs.
    pub fn resource_metadata_urls(server: &Url, challenged: Option<&str>) -> Vec<Url> {
        let mut out = Vec::new();
        if let Some(u) = challenged.and_then(|c| Url::parse(c).ok())
            && u.origin() == server.origin()
        {
            out.push(u);
        }
        let path = server.path().trim_end_matches('/');
        let mut push = |p: String| {
            let mut u = server.clone();
            u.set_path(&p);
            u.set_query(None);
            u.set_fragment(None);
            if !out.contains(&u) {
                out.push(u);
            }
        };
        if !path.is_empty() {
            push(format!("/.well-known/oauth-protected-resource{path}"));
        }
        push("/.well-known/oauth-protected-resource".to_owned());
        out
    }

    /// The authorization server metadata URLs to try for `issuer`, in the
    /// MCP specification's order.
    pub fn authorization_server_metadata_urls(issuer: &Url) -> Vec<Url> {
        let path = issuer.path().trim_end_matches('/').to_owned();
        let at = |p: String| {
            let mut u = issuer.clone();
            u.set_path(&p);
            u.set_query(None);
            u.set_fragment(None);
            u
        };
        if path.is_empty() {
            vec![
                at("/.well-known/oauth-authorization-server".to_owned()),
                at("/.well-known/openid-configuration".to_owned()),
            ]
        } else {
            vec![
                at(format!("/.well-known/oauth-authorization-server{path}")),
                at(format!("/.well-known/openid-configuration{path}")),
                at(format!("{path}/.well-known/openid-configuration")),
            ]
        }
    }

    /// Finds and checks the protected resource metadata of `server`.
    pub async fn protected_resource(
        &self,
        server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<(Url, ProtectedResourceMetadata), Error> {
        let challenged = challenge.and_then(|c| c.resource_metadata.as_deref());
        let mut last = None;
        for url in Self::resource_metadata_urls(server, challenged) {
            self.check_url(&url, "the protected resource metadata URL")
                .await?;
            let what = "protected resource metadata";
            match net::get_json(&self.http, &url, self.options.max_document_bytes, what).await? {
                Fetched::Status(s) => last = Some(s),
                Fetched::Json(value) => {
                    let doc: ProtectedResourceMetadata =
                        serde_json::from_value(value).map_err(|_| {
                            Error::new(
                                ErrorKind::Provider,
                                format!(
                                    "the protected resource metadata at `{}` lacks `resource` or is malformed",
                                    net::describe(&url)
                                ),
                            )
                        })?;
                    check_resource_matches(server, &doc.resource)?;
                    if doc.authorization_servers.is_empty() {
                        return Err(Error::new(
                            ErrorKind::Provider,
                            format!(
                                "the protected resource metadata at `{}` names no authorization server",
                                net::describe(&url)
                            ),
                        ));
                    }
                    return Ok((url, doc));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Provider,
            format!(
                "the MCP server `{}` publishes no protected resource metadata (RFC 9728){}",
                net::describe(server),
                last.map(|s| format!("; last answer HTTP {s}"))
                    .unwrap_or_default()
            ),
        ))
    }

    /// Finds and checks the metadata of the authorization server `issuer`.
    pub async fn authorization_server(
        &self,
        issuer: &str,
    ) -> Result<AuthorizationServerMetadata, Error> {
        let issuer_url = Url::parse(issuer).map_err(|_| {
            Error::new(
                ErrorKind::Provider,
                "an authorization server issuer is not a URL",
            )
        })?;
        if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
            return Err(Error::new(
                ErrorKind::Provider,
                "an issuer identifier must have no query or fragment (RFC 8414 §2)",
            ));
        }
        self.check_url(&issuer_url, "the authorization server issuer")
            .await?;
        let mut last = None;
        for url in Self::authorization_server_metadata_urls(&issuer_url) {
            let what = "authorization server metadata";
            match net::get_json(&self.http, &url, self.options.max_document_bytes, what).await? {
                Fetched::Status(s) => last = Some(s),
                Fetched::Json(value) => {
                    let doc: AuthorizationServerMetadata =
                        serde_json::from_value(value).map_err(|_| {
                            Error::new(
                                ErrorKind::Provider,
                                format!(
                                    "the authorization server metadata at `{}` is malformed or lacks a required endpoint",
                                    net::describe(&url)
                                ),
                            )
                        })?;
                    self.check_authorization_server(issuer, &doc).await?;
                    return Ok(doc);
                }
            }
        }
        Err(Error::new(
            ErrorKind::Provider,
            format!(
                "the authorization server `{}` publishes no metadata (RFC 8414 or OpenID discovery){}",
                net::describe(&issuer_url),
                last.map(|s| format!("; last answer HTTP {s}"))
                    .unwrap_or_default()
            ),
        ))
    }

    async fn check_authorization_server(
        &self,
        issuer: &str,
        doc: &AuthorizationServerMetadata,
    ) -> Result<(), Error> {
        if !same_issuer(issuer, &doc.issuer) {
            return Err(Error::new(
                ErrorKind::OAuth,
                "the authorization server metadata names another issuer than the one asked for \
                 (RFC 8414 §3.3); refused",
            ));
        }
        let s256 = doc
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|m| m == "S256"));
        if !s256 {
            return Err(Error::new(
                ErrorKind::OAuth,
                "the authorization server does not advertise PKCE S256 \
                 (code_challenge_methods_supported); MCP authorization refuses to proceed",
            ));
        }
        for (what, raw) in [
            (
                "the authorization endpoint",
                Some(&doc.authorization_endpoint),
            ),
            ("the token endpoint", Some(&doc.token_endpoint)),
            (
                "the registration endpoint",
                doc.registration_endpoint.as_ref(),
            ),
            ("the revocation endpoint", doc.revocation_endpoint.as_ref()),
        ] {
            let Some(raw) = raw else { continue };
            let url = Url::parse(raw).map_err(|_| {
                Error::new(
                    ErrorKind::Provider,
                    format!("{what} in the authorization server metadata is not a URL"),
                )
            })?;
            self.check_url(&url, what).await?;
        }
        Ok(())
    }

    /// The whole discovery: protected resource metadata, then the first of
    /// its authorization servers whose metadata can be found (a metadata
    /// document that fails a check is an error, not a reason to try the
    /// next one).
    pub async fn discover(
        &self,
        server: &Url,
        challenge: Option<&BearerChallenge>,
    ) -> Result<Discovery, Error> {
        self.check_url(server, "the MCP server URL").await?;
        let (metadata_url, prm) = self.protected_resource(server, challenge).await?;
        let mut last_err = None;
        for issuer in prm
            .authorization_servers
            .iter()
            .take(MAX_AUTHORIZATION_SERVERS)
        {
            match self.authorization_server(issuer).await {
                Ok(asm) => {
                    return Ok(Discovery {
                        server: server.as_str().to_owned(),
                        resource_metadata_url: metadata_url.as_str().to_owned(),
                        resource_metadata: prm,
                        authorization_server: asm,
                    });
                }
                // Not found or unreachable: the next server may do.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Provider | ErrorKind::Unavailable | ErrorKind::Timeout
                    ) =>
                {
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::new(ErrorKind::Provider, "no authorization server")))
    }
}

/// `a` and `b` name the same issuer: identical strings, except that a bare
/// origin may or may not end in `/`.
fn same_issuer(a: &str, b: &str) -> bool {
    a == b || a.strip_suffix('/') == Some(b) || b.strip_suffix('/') == Some(a)
}

/// Whether the resource identifier `resource` covers `url`: same origin and
/// `url`'s path is the resource's path or below it (segment-wise).
pub fn resource_covers(resource: &str, url: &Url) -> bool {
    let Ok(r) = Url::parse(resource) else {
        return false;
    };
    if r.origin() != url.origin() || r.fragment().is_some() {
        return false;
    }
    let rp = r.path().trim_end_matches('/');
    let up = url.path();
    up.trim_end_matches('/') == rp || up.starts_with(&format!("{rp}/"))
}

/// RFC 9728 §3.3 (as MCP clients practise it): the metadata's `resource`
/// must identify this server: its URL, or a prefix of it on its origin.
fn check_resource_matches(server: &Url, resource: &str) -> Result<(), Error> {
    if resource_covers(resource, server) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::OAuth,
            format!(
                "the protected resource metadata is for another resource than the MCP server `{}`; refused",
                net::describe(server)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(urls: Vec<Url>) -> Vec<String> {
        urls.into_iter().map(String::from).collect()
    }

    #[test]
    fn resource_metadata_order() {
        let server = Url::parse("https://ex.com/public/mcp").unwrap();
        assert_eq!(
            strs(Discoverer::resource_metadata_urls(
                &server,
                Some("https://ex.com/custom/prm")
            )),
            vec![
                "https://ex.com/custom/prm",
                "https://ex.com/.well-known/oauth-protected-resource/public/mcp",
                "https://ex.com/.well-known/oauth-protected-resource",
            ]
        );
        // Another origin in the challenge is ignored.
        assert_eq!(
            strs(Discoverer::resource_metadata_urls(
                &server,
                Some("https://evil.com/prm")
            ))
            .len(),
            2
        );
        let root = Url::parse("https://ex.com/").unwrap();
        assert_eq!(
            strs(Discoverer::resource_metadata_urls(&root, None)),
            vec!["https://ex.com/.well-known/oauth-protected-resource"]
        );
    }

    #[test]
    fn authorization_server_order() {
        let with_path = Url::parse("https://auth.example.com/tenant1").unwrap();
        assert_eq!(
            strs(Discoverer::authorization_server_metadata_urls(&with_path)),
            vec![
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        let bare = Url::parse("https://auth.example.com").unwrap();
        assert_eq!(
            strs(Discoverer::authorization_server_metadata_urls(&bare)),
            vec![
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn resource_coverage() {
        let u = Url::parse("https://ex.com/a/mcp").unwrap();
        assert!(resource_covers("https://ex.com/a/mcp", &u));
        assert!(resource_covers("https://ex.com/a/mcp/", &u));
        assert!(resource_covers("https://ex.com", &u));
        assert!(resource_covers("https://EX.com/a", &u));
        assert!(!resource_covers("https://ex.com/a/mc", &u));
        assert!(!resource_covers("https://ex.com/b", &u));
        assert!(!resource_covers("https://ex.com:444/a/mcp", &u));
        assert!(!resource_covers("http://ex.com/a/mcp", &u));
        assert!(resource_covers(
            "https://ex.com/a/mcp",
            &Url::parse("https://ex.com/a/mcp/").unwrap()
        ));
        assert!(same_issuer("https://a.example", "https://a.example/"));
        assert!(!same_issuer("https://a.example/t1", "https://a.example/t2"));
    }
}
