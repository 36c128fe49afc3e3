//! Everything a command needs, built from the configuration.

use std::sync::Arc;

use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::{AuthRequirement, BackendKind, BuildContext, CallContext, Error, Registry};
use connector_mcp::connector::{McpConnector, describe_config};

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

    /// The number of tools each entry offers (0 for OAuth-only providers;
    /// `None` for MCP servers, whose tools are only known once connected:
    /// listing does no I/O).
    pub async fn tool_count(&self, id: &str) -> Result<Option<usize>, Error> {
        let Some(entry) = self.registry.get(id) else {
            return Ok(Some(0));
        };
        if entry.metadata().backend == BackendKind::Mcp && self.config.mcp_servers.contains_key(id)
        {
            return Ok(None);
        }
        let cx = BuildContext {
            oauth: self.engine.clone(),
            settings: self.config.providers.get(id).cloned(),
        };
        match entry.build(&cx) {
            None => Ok(Some(0)),
            Some(built) => Ok(Some(built?.tools(&CallContext::new("")).await?.len())),
        }
    }

    /// The connector of `[mcp_servers.<id>]`, built (no I/O) with the OAuth
    /// engine for provider tokens.
    pub fn mcp_connector(&self, id: &str) -> Result<Arc<McpConnector>, Error> {
        let config = self.config.mcp_servers.get(id).ok_or_else(|| {
            Error::new(
                connector_core::ErrorKind::UnknownProvider,
                format!("no [mcp_servers.{id}] in the configuration"),
            )
        })?;
        Ok(Arc::new(
            McpConnector::from_config(id, config)?
                .oauth(self.engine.clone())
                .build()?,
        ))
    }
}

/// Registered connectors, `[providers.<id>]` tables that declare a generic
/// OAuth2 provider, and `[mcp_servers.<id>]`. A provider table that is
/// neither registered nor generic is an error; ids are unique across all.
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
    for (id, server) in &config.mcp_servers {
        builder = builder.configured(describe_config(id, server));
    }
    builder.build()
}
