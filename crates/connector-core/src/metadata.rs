//! What a connector is and what authorization it needs.

use serde::{Deserialize, Serialize};

/// How a connector reaches its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendKind {
    /// The provider's REST API, called with the user's token.
    Direct,
    /// An MCP server, through our MCP client.
    Mcp,
    /// Only an OAuth2 connection (a provider declared in configuration):
    /// tokens, no tools of its own.
    OAuthOnly,
}

impl BackendKind {
    /// The lowercase name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Direct => "direct",
            BackendKind::Mcp => "mcp",
            BackendKind::OAuthOnly => "oauth2",
        }
    }
}

/// How the client authenticates itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1, the default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret (PKCE only).
    None,
}

/// The OAuth2 endpoints and defaults of a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2Spec {
    /// The authorization endpoint.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The revocation endpoint (RFC 7009), if the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    /// An endpoint that answers with the user's profile for a valid token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    /// Scopes asked for when the caller names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Extra query parameters on the authorization URL
    /// (for example `access_type=offline`).
    #[serde(default)]
    pub extra_authorize_params: Vec<(String, String)>,
    /// Extra form parameters on every token request, the code exchange and
    /// each refresh alike (for example RFC 8707 `resource`, which an MCP
    /// client must send in both the authorization and the token requests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_token_params: Vec<(String, String)>,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub client_auth: ClientAuthMethod,
    /// The separator between scopes in the `scope` parameter (a space per
    /// RFC 6749; some providers want a comma).
    #[serde(default = "default_scope_separator")]
    pub scope_separator: String,
    /// Extra query parameters added to the authorization URL only when the
    /// vault holds no refresh token for this user, provider and account (a
    /// refresh token from this provider's token endpoint). Google issues a
    /// refresh token only on the first consent or when consent is forced, so
    /// its spec puts `prompt=consent` here: forced while there is no refresh
    /// token, not asked again on every incremental authorization. A
    /// per-request parameter of the same name wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_params: Vec<(String, String)>,
    /// Names of nested grant objects in the code exchange response, each
    /// stored as its own grant beside the account's (Slack: `authed_user`,
    /// the user token next to the bot token). An object with an
    /// `access_token` becomes a token record (its own `refresh_token`,
    /// `expires_in`, `scope` and non-secret scalars); reach it with
    /// [`OAuthEngine::access_nested`](crate::oauth::OAuthEngine::access_nested).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested_grants: Vec<String>,
}

fn default_scope_separator() -> String {
    " ".to_owned()
}

impl OAuth2Spec {
    /// A spec with the two required endpoints and defaults elsewhere.
    pub fn new(authorize_url: impl Into<String>, token_url: impl Into<String>) -> Self {
        OAuth2Spec {
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            revocation_url: None,
            userinfo_url: None,
            default_scopes: Vec::new(),
            extra_authorize_params: Vec::new(),
            extra_token_params: Vec::new(),
            client_auth: ClientAuthMethod::default(),
            scope_separator: default_scope_separator(),
            consent_params: Vec::new(),
            nested_grants: Vec::new(),
        }
    }
}

/// The authorization a connector needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per connector and matched by provider crates; boxing the spec would buy nothing and break their patterns"
)]
pub enum AuthRequirement {
    /// Nothing.
    None,
    /// An API key, sent in a header.
    ApiKey {
        /// The header that carries the key.
        header: String,
    },
    /// OAuth 2.0 authorization code with PKCE.
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Spec),
}

/// Describes a connector: constant for provider crates, built from
/// configuration for generic providers and MCP servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorMetadata {
    /// Stable id, `[a-z][a-z0-9_]*`; also the tool-name prefix in catalogs.
    pub id: String,
    /// Human name ("Google Workspace").
    pub display_name: String,
    /// One sentence on what the connector gives access to.
    pub description: String,
    /// An icon for user interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// The provider's API documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// How the connector reaches its provider.
    pub backend: BackendKind,
    /// The authorization it needs.
    pub auth: AuthRequirement,
}

/// Whether `id` is a valid connector id: `[a-z][a-z0-9_]*`, at most 32 bytes,
/// so that `<id>_<tool>` stays inside every LLM's tool-name rules.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('a'..='z'))
        && id.len() <= 32
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Whether `name` is a valid tool name for our own tools: `[a-z][a-z0-9_]*`,
/// at most 64 bytes (what every LLM dialect and MCP accept).
pub fn is_valid_tool_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("google"));
        assert!(is_valid_id("my_idp2"));
        assert!(!is_valid_id("2fa"));
        assert!(!is_valid_id("My"));
        assert!(!is_valid_id("a-b"));
        assert!(!is_valid_id(""));
    }

    #[test]
    fn specs_written_before_consent_params_and_nested_grants_still_load() {
        let spec: OAuth2Spec = serde_json::from_str(
            r#"{"authorize_url":"https://idp.example/a","token_url":"https://idp.example/t"}"#,
        )
        .unwrap();
        assert!(spec.consent_params.is_empty());
        assert!(spec.nested_grants.is_empty());
        assert_eq!(
            spec,
            OAuth2Spec::new("https://idp.example/a", "https://idp.example/t")
        );
        // Empty lists are not written, so older readers see the same JSON.
        let json = serde_json::to_value(&spec).unwrap();
        assert!(json.get("consent_params").is_none());
        assert!(json.get("nested_grants").is_none());
    }
}
