//! Everything a command needs, built from the configuration.

use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::{AuthRequirement, BuildContext, CallContext, Error, Registry};

use crate::config::Config;

/// The registry (registered plus configured providers) and the OAuth engine
/// over the configured vault.
pub struct App {
    pub config: Config,
    pub registry: Registry,
    pub engine: OAuthEngine,
}

impl App {
    /// Builds the registry and opens the vault.
    pub async fn open(config: Config) -> Result<App, Error> {
        let registry = build_registry(&config)?;
        let vault = config.store.open().await?;
        let mut builder = OAuthEngine::builder(vault);
        for entry in registry.entries() {
            if let AuthRequirement::OAuth2(spec) = &entry.metadata().auth {
                let settings = config.providers.get(entry.id());
                builder = builder.provider(OAuthProvider::new(entry.id(), spec.clone(), settings)?);
            }
        }
        let engine = builder.build()?;
        Ok(App {
            config,
            registry,
            engine,
        })
    }

    /// The number of tools each entry offers (0 for OAuth-only providers).
    pub async fn tool_count(&self, id: &str) -> Result<usize, Error> {
        let Some(entry) = self.registry.get(id) else {
            return Ok(0);
        };
        let cx = BuildContext {
            oauth: self.engine.clone(),
            settings: self.config.providers.get(id).cloned(),
        };
        match entry.build(&cx) {
            None => Ok(0),
            Some(built) => Ok(built?.tools(&CallContext::new("")).await?.len()),
        }
    }
}

/// Registered connectors plus `[providers.<id>]` tables that declare a
/// generic OAuth2 provider. A table that is neither is an error.
pub fn build_registry(config: &Config) -> Result<Registry, Error> {
    let registered = Registry::from_inventory()?;
    let mut builder = Registry::builder().with_inventory();
    for (id, settings) in &config.providers {
        if settings.is_generic() {
            builder = builder.configured(settings.generic_metadata(id)?);
        } else if registered.get(id).is_none() {
            return Err(Error::config(format!(
                "[providers.{id}]: no registered provider `{id}`; set authorize_url and token_url to declare a generic OAuth2 provider"
            )));
        }
    }
    builder.build()
}
