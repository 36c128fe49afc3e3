//! The OAuth engine: authorization code with PKCE, single-use states,
//! single-flight refresh across processes, revocation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::vault::Vault;
use crate::{ClientAuthMethod, Secret};

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

/// The OAuth engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OAuthEngine {
    vault: Vault,
}

impl OAuthEngine {
    /// The vault the engine keeps tokens in.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }
}
