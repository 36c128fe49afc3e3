//! `connectors.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use connector_core::Error;
use connector_core::oauth::ProviderSettings;
use connector_core::vault::StoreConfig;
use connector_mcp::config::McpServerConfig;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[store]`.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[providers.<id>]`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSettings>,
    /// `[mcp_servers.<id>]`: MCP servers, each a connector.
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, McpServerConfig>,
    /// `[server]`: how the application is reached.
    #[serde(default)]
    pub server: ServerSettings,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// The application's public base URL (`https://agents.example.com`):
    /// MCP authorization started without a terminal (a model asking a user
    /// to connect) redirects to `<public_url>/oauth/callback`, unless the
    /// server's `auth.redirect_uri` says otherwise.
    #[serde(default)]
    pub public_url: Option<String>,
}

impl ServerSettings {
    /// `<public_url>/oauth/callback`, when `public_url` is set.
    pub fn callback_url(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|u| format!("{}/oauth/callback", u.trim_end_matches('/')))
    }
}

/// The default configuration path.
pub const DEFAULT_PATH: &str = "connectors.toml";

impl Config {
    /// Reads `path`. A missing file is all defaults when `explicit` is false
    /// (the default path), an error when the user named the file.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(Error::config(format!("reading {}: {e}", path.display())));
            }
        };
        let mut config: Config =
            toml::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
        // A relative store path is relative to the configuration file.
        if let Some(p) = &config.store.path
            && p.is_relative()
            && let Some(dir) = path.parent()
        {
            config.store.path = Some(dir.join(p));
        }
        config
            .validate()
            .map_err(|e| Error::config(format!("{}: {}", path.display(), e.detail())))?;
        Ok(config)
    }

    /// Checks what parsing cannot: MCP server ids, URLs and fields (the
    /// environment is read later, when a connector is built).
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(callback) = self.server.callback_url() {
            connector_mcp::config::check_redirect_uri(&callback)
                .map_err(|e| Error::config(format!("[server] public_url: {e}")))?;
        }
        for (id, server) in &self.mcp_servers {
            server.validate(id)?;
            if self.providers.contains_key(id) {
                return Err(Error::config(format!(
                    "[mcp_servers.{id}] and [providers.{id}] share an id; an MCP server needs its own"
                )));
            }
        }
        Ok(())
    }

    /// The path in force: `--config`, else `./connectors.toml`.
    pub fn path(arg: Option<&Path>) -> (PathBuf, bool) {
        match arg {
            Some(p) => (p.to_owned(), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_example_parses() {
        let c: Config = toml::from_str(
            r#"
[store]
backend = "redis"
url = "redis://127.0.0.1:6379/"

[providers.myidp]
authorize_url = "https://idp.example/authorize"
token_url = "https://idp.example/token"
revocation_url = "https://idp.example/revoke"
userinfo_url = "https://idp.example/userinfo"
client_id = "abc"
client_secret_env = "MYIDP_CLIENT_SECRET"
redirect_uri = "http://127.0.0.1:8765/callback"
scopes = ["profile"]
"#,
        )
        .unwrap();
        assert_eq!(c.store.backend, connector_core::vault::StoreBackend::Redis);
        assert!(c.providers["myidp"].is_generic());
    }

    #[test]
    fn public_url_gives_the_callback_and_must_be_https() {
        let c: Config =
            toml::from_str("[server]\npublic_url = \"https://agents.example/\"\n").unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(
            c.server.callback_url().as_deref(),
            Some("https://agents.example/oauth/callback")
        );
        let c: Config =
            toml::from_str("[server]\npublic_url = \"http://agents.example\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("[server] public_url"), "{e}");
    }

    #[test]
    fn typos_are_errors() {
        let e = toml::from_str::<Config>("[store]\nbakend = \"redis\"\n").unwrap_err();
        assert!(e.to_string().contains("bakend"), "{e}");
    }

    #[test]
    fn mcp_servers_parse_and_are_checked() {
        let c: Config = toml::from_str(
            r#"
[mcp_servers.docs]
url = "https://mcp.example.com/mcp"
type = "http"
headers = { "X-Api-Key" = "${DOCS_KEY}" }
"#,
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(
            c.mcp_servers["docs"].transport,
            connector_mcp::client::TransportMode::StreamableHttp
        );
        let e =
            toml::from_str::<Config>("[mcp_servers.docs]\nurl = \"https://x/mcp\"\nheders = {}\n")
                .unwrap_err();
        assert!(e.to_string().contains("heders"), "{e}");
        let c: Config =
            toml::from_str("[mcp_servers.docs]\nurl = \"http://example.com/mcp\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("[mcp_servers.docs] url"), "{e}");
    }

    #[test]
    fn missing_default_file_is_defaults_but_named_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.toml");
        assert!(Config::load(&p, false).is_ok());
        assert!(Config::load(&p, true).is_err());
    }
}
