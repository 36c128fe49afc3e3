//! The OAuth engine: authorization code with PKCE, single-use states,
//! single-flight refresh across processes, revocation.

mod engine;
mod http;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use self::engine::{
    AuthorizationRequest, BeginParams, CallbackParams, Connection, ConnectionStatus,
    DisconnectOutcome, EngineOptions, NestedGrantStatus, OAuthEngine, OAuthEngineBuilder,
};
use crate::metadata::is_valid_id;
use crate::{
    AuthRequirement, BackendKind, ClientAuthMethod, ConnectorMetadata, Error, OAuth2Spec, Secret,
};

/// A `[providers.<id>]` table: client credentials for a registered provider,
/// or a whole generic OAuth2 provider when `authorize_url` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Makes the table a generic OAuth2 provider.
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// The token endpoint (generic providers).
    #[serde(default)]
    pub token_url: Option<String>,
    /// The revocation endpoint (generic providers).
    #[serde(default)]
    pub revocation_url: Option<String>,
    /// A userinfo endpoint, called by `status --refresh`.
    #[serde(default)]
    pub userinfo_url: Option<String>,
    /// The OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret itself (prefer `client_secret_env`).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The environment variable that holds the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub client_auth: Option<ClientAuthMethod>,
    /// The redirect URI registered with the provider.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Scopes to ask for by default.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Extra authorization URL parameters.
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// A display name (generic providers).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Overrides the provider's API base URL (tests, proxies).
    #[serde(default)]
    pub base_url: Option<String>,
}

impl ProviderSettings {
    /// Whether this table declares a whole generic OAuth2 provider.
    pub fn is_generic(&self) -> bool {
        self.authorize_url.is_some()
    }

    /// The metadata of a generic OAuth2 provider declared by this table.
    pub fn generic_metadata(&self, id: &str) -> Result<ConnectorMetadata, Error> {
        let (Some(authorize_url), Some(token_url)) = (&self.authorize_url, &self.token_url) else {
            return Err(Error::config(format!(
                "[providers.{id}]: a generic OAuth2 provider needs both authorize_url and token_url"
            )));
        };
        if !is_valid_id(id) {
            return Err(Error::config(format!(
                "[providers.{id}]: provider ids are [a-z][a-z0-9_]*, at most 32 bytes"
            )));
        }
        for (name, url) in [
            ("authorize_url", Some(authorize_url)),
            ("token_url", Some(token_url)),
            ("revocation_url", self.revocation_url.as_ref()),
            ("userinfo_url", self.userinfo_url.as_ref()),
        ] {
            if let Some(url) = url {
                check_endpoint_url(id, name, url)?;
            }
        }
        let mut spec = OAuth2Spec::new(authorize_url.clone(), token_url.clone());
        spec.revocation_url = self.revocation_url.clone();
        spec.userinfo_url = self.userinfo_url.clone();
        spec.default_scopes = self.scopes.clone().unwrap_or_default();
        spec.client_auth = self.client_auth.unwrap_or_default();
        Ok(ConnectorMetadata {
            id: id.to_owned(),
            display_name: self.display_name.clone().unwrap_or_else(|| id.to_owned()),
            description: format!("OAuth2 connection to {id}, declared in configuration."),
            icon_url: None,
            docs_url: None,
            backend: BackendKind::OAuthOnly,
            auth: AuthRequirement::OAuth2(spec),
        })
    }

    /// The client secret in force: from `client_secret_env` if set, else
    /// `client_secret`. `Ok(None)` when neither is given.
    pub fn resolve_client_secret(&self, id: &str) -> Result<Option<Secret>, Error> {
        if let Some(var) = &self.client_secret_env {
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
                _ => Err(Error::config(format!(
                    "[providers.{id}]: the client secret's environment variable `{var}` is not set"
                ))),
            };
        }
        Ok(self.client_secret.clone())
    }
}

/// Endpoints must be absolute http(s) URLs; plain http only to loopback, so
/// that codes, secrets and tokens never cross a network in clear text.
pub(crate) fn check_endpoint_url(id: &str, name: &str, raw: &str) -> Result<url::Url, Error> {
    let url = url::Url::parse(raw)
        .map_err(|e| Error::config(format!("[providers.{id}].{name}: not a URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err(Error::config(format!(
            "[providers.{id}].{name}: plain http is only allowed to a loopback host; use https"
        ))),
        other => Err(Error::config(format!(
            "[providers.{id}].{name}: unsupported scheme `{other}`"
        ))),
    }
}

pub(crate) fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A provider the engine can run OAuth2 flows with: its endpoints plus the
/// client credentials from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthProvider {
    /// The provider id.
    pub id: String,
    /// Endpoints and defaults.
    pub spec: OAuth2Spec,
    /// The client id, when configured.
    pub client_id: Option<String>,
    /// The client secret, when configured.
    pub client_secret: Option<Secret>,
    /// The default redirect URI.
    pub redirect_uri: Option<String>,
    /// Why the secret could not be resolved (reported when it is needed,
    /// so commands that need no secret still work).
    pub secret_error: Option<String>,
}

impl OAuthProvider {
    /// A provider from its spec and its `[providers.<id>]` table. Settings
    /// override the spec's default scopes and extra parameters.
    pub fn new(
        id: &str,
        spec: OAuth2Spec,
        settings: Option<&ProviderSettings>,
    ) -> Result<Self, Error> {
        let mut spec = spec;
        let mut provider = OAuthProvider {
            id: id.to_owned(),
            spec: spec.clone(),
            client_id: None,
            client_secret: None,
            redirect_uri: None,
            secret_error: None,
        };
        if let Some(s) = settings {
            if let Some(scopes) = &s.scopes {
                spec.default_scopes = scopes.clone();
            }
            for (k, v) in &s.authorize_params {
                spec.extra_authorize_params.retain(|(ek, _)| ek != k);
                spec.extra_authorize_params.push((k.clone(), v.clone()));
            }
            if let Some(m) = s.client_auth {
                spec.client_auth = m;
            }
            provider.client_id = s.client_id.clone();
            match s.resolve_client_secret(id) {
                Ok(secret) => provider.client_secret = secret,
                Err(e) => provider.secret_error = Some(e.detail().to_owned()),
            }
            provider.redirect_uri = s.redirect_uri.clone();
        }
        provider.spec = spec;
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_provider_from_settings() {
        let s: ProviderSettings = toml_like(
            r#"{"authorize_url":"https://idp.example/authorize","token_url":"https://idp.example/token",
                "client_id":"abc","scopes":["profile"],"redirect_uri":"http://127.0.0.1:8765/callback"}"#,
        );
        assert!(s.is_generic());
        let m = s.generic_metadata("myidp").unwrap();
        assert_eq!(m.backend, BackendKind::OAuthOnly);
        let AuthRequirement::OAuth2(spec) = &m.auth else {
            panic!("oauth2 expected")
        };
        assert_eq!(spec.default_scopes, vec!["profile".to_owned()]);
        let p = OAuthProvider::new("myidp", spec.clone(), Some(&s)).unwrap();
        assert_eq!(p.client_id.as_deref(), Some("abc"));
        assert!(p.client_secret.is_none());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let s: ProviderSettings = toml_like(
            r#"{"authorize_url":"http://idp.example/authorize","token_url":"https://idp.example/token"}"#,
        );
        let e = s.generic_metadata("x").unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        let s: ProviderSettings = toml_like(
            r#"{"authorize_url":"http://127.0.0.1:9/authorize","token_url":"http://localhost:9/token"}"#,
        );
        assert!(s.generic_metadata("x").is_ok());
    }

    #[test]
    fn missing_secret_env_is_a_clear_error() {
        let s: ProviderSettings =
            toml_like(r#"{"client_secret_env":"CONNECTORS_TEST_SURELY_UNSET_VAR"}"#);
        let e = s.resolve_client_secret("myidp").unwrap_err();
        assert!(e.to_string().contains("CONNECTORS_TEST_SURELY_UNSET_VAR"));
    }

    fn toml_like(json: &str) -> ProviderSettings {
        serde_json::from_str(json).unwrap()
    }
}
