//! `connectors.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use connector_core::Error;
use connector_core::oauth::ProviderSettings;
use connector_core::vault::StoreConfig;
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
        Ok(config)
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
    fn typos_are_errors() {
        let e = toml::from_str::<Config>("[store]\nbakend = \"redis\"\n").unwrap_err();
        assert!(e.to_string().contains("bakend"), "{e}");
    }

    #[test]
    fn missing_default_file_is_defaults_but_named_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.toml");
        assert!(Config::load(&p, false).is_ok());
        assert!(Config::load(&p, true).is_err());
    }
}
