//! Everything a command needs, built from the configuration.

use std::sync::Arc;

use connector_core::oauth::{CallbackParams, Connection, OAuthEngine, OAuthProvider};
use connector_core::{AuthRequirement, BackendKind, BuildContext, CallContext, Error, Registry};
use connector_mcp::auth::{
    DiscoveryOptions, Interaction, McpAuth, McpAuthBuilder, RegistrationOptions, ServerClient,
};
use connector_mcp::config::{McpAuthConfig, McpOAuthSettings};
use connector_mcp::connector::{McpConnector, describe_config};
use url::Url;

use crate::config::Config;

/// MCP authorization for the server at `server` as `[mcp_servers.<id>]
/// auth` configures it: its client (when configured), its client metadata
/// document, scopes and discovery limits. The caller adds the redirect URI
/// (or an interactive handler).
pub fn mcp_auth_builder(
    engine: OAuthEngine,
    server: &str,
    settings: &McpOAuthSettings,
    client: Option<ServerClient>,
    allow_private_addresses: bool,
) -> Result<McpAuthBuilder, Error> {
    let client_metadata_url = match &settings.client_metadata_url {
        None => None,
        Some(u) => Some(
            Url::parse(u).map_err(|_| Error::config("auth.client_metadata_url is not a URL"))?,
        ),
    };
    let mut builder = McpAuth::builder(engine)
        .discovery(DiscoveryOptions {
            allow_private_addresses,
            ..DiscoveryOptions::default()
        })
        .registration(RegistrationOptions {
            client_metadata_url,
            ..RegistrationOptions::default()
        })
        .default_scopes(settings.scopes.clone().unwrap_or_default());
    if let Some(client) = client {
        builder = builder.server_client(server, client);
    }
    Ok(builder)
}

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
    /// engine for provider tokens. For `auth = "oauth"`, MCP authorization
    /// without a terminal ([`Interaction::Fail`]): a user who has not
    /// connected gets `NeedsAuthorization` whose model message holds the
    /// link, and the application completes the flow from its callback
    /// endpoint with [`App::handle_mcp_callback`].
    pub fn mcp_connector(&self, id: &str) -> Result<Arc<McpConnector>, Error> {
        let config = self.config.mcp_servers.get(id).ok_or_else(|| {
            Error::new(
                connector_core::ErrorKind::UnknownProvider,
                format!("no [mcp_servers.{id}] in the configuration"),
            )
        })?;
        let mut builder = McpConnector::from_config(id, config)?.oauth(self.engine.clone());
        if let McpAuthConfig::OAuth(settings) = &config.auth {
            let auth = self.mcp_auth(id, settings)?;
            builder = builder.mcp_auth(auth, Interaction::Fail);
        }
        Ok(Arc::new(builder.build()?))
    }

    /// The [`McpAuth`] of `[mcp_servers.<id>]` (`auth = "oauth"`), with its
    /// redirect URI: `auth.redirect_uri`, else `[server] public_url` +
    /// `/oauth/callback`.
    fn mcp_auth(&self, id: &str, settings: &McpOAuthSettings) -> Result<McpAuth, Error> {
        let config =
            self.config.mcp_servers.get(id).ok_or_else(|| {
                Error::config(format!("no [mcp_servers.{id}] in the configuration"))
            })?;
        let resolved = config.resolve(id)?;
        let redirect = settings
            .redirect_uri
            .clone()
            .or_else(|| self.config.server.callback_url())
            .ok_or_else(|| {
                Error::config(format!(
                    "[mcp_servers.{id}] auth: MCP authorization outside a terminal needs a redirect URI: set [server] public_url or auth.redirect_uri"
                ))
            })?;
        mcp_auth_builder(
            self.engine.clone(),
            resolved.url.as_str(),
            settings,
            resolved.oauth_client(),
            resolved.allow_private_addresses,
        )?
        .redirect_uri(redirect)
        .build()
    }

    /// Completes an MCP authorization started by a connector of this app
    /// (the callback endpoint's work): finds the configured server whose
    /// flow the state belongs to, then exchanges the code for that server's
    /// client. `expected_user`, when given, must own the state.
    #[allow(
        dead_code,
        reason = "the callback endpoint of the gateway (to come) calls it; tests do now"
    )]
    pub async fn handle_mcp_callback(
        &self,
        params: &CallbackParams,
        expected_user: Option<&str>,
    ) -> Result<Connection, Error> {
        // Every configured server's client: the state names the engine
        // provider, whose discovery (restored from the vault in a process
        // that did not start the flow) names the server.
        let mut builder: Option<McpAuthBuilder> = None;
        for (id, config) in &self.config.mcp_servers {
            let McpAuthConfig::OAuth(settings) = &config.auth else {
                continue;
            };
            let resolved = match config.resolve(id) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(server = %id, error = %e, "skipping an MCP server that does not resolve");
                    continue;
                }
            };
            builder = Some(match builder {
                None => mcp_auth_builder(
                    self.engine.clone(),
                    resolved.url.as_str(),
                    settings,
                    resolved.oauth_client(),
                    resolved.allow_private_addresses,
                )?,
                Some(b) => match resolved.oauth_client() {
                    Some(client) => b.server_client(resolved.url.as_str(), client),
                    None => b,
                },
            });
        }
        let builder =
            builder.ok_or_else(|| Error::config("no [mcp_servers.<id>] uses auth = \"oauth\""))?;
        builder
            .build()?
            .handle_callback(params, expected_user)
            .await
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use connector_core::{CallContext, Connector as _, ErrorKind};
    use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer, TokenCheck};
    use connector_testkit::oauth_server::FakeOAuthServer;

    use super::*;

    /// A FakeMcpServer that wants tokens of `auth_server` bound to itself.
    async fn protected(auth_server: &FakeOAuthServer) -> FakeMcpServer {
        let server = FakeMcpServer::start(FakeMcpOptions::default()).await;
        let (as_, resource) = (auth_server.clone(), server.url());
        server.require_bearer(Arc::new(move |token: &str| match as_.token_info(token) {
            Some(i) if i.active && i.resource.as_deref() == Some(resource.as_str()) => {
                TokenCheck::Valid
            }
            _ => TokenCheck::Invalid,
        }));
        server.set_resource_metadata(vec![auth_server.issuer()], vec!["read".to_owned()]);
        server
    }

    async fn app(toml: &str) -> App {
        let config: Config = toml::from_str(toml).unwrap();
        config.validate().unwrap();
        App::open(config).await.unwrap()
    }

    #[tokio::test]
    async fn an_oauth_server_asks_the_model_for_authorization_then_works() {
        let auth_server = FakeOAuthServer::start().await;
        auth_server.require_resource(true);
        let server = protected(&auth_server).await;
        let app = app(&format!(
            "[store]\nbackend = \"memory\"\n\n[server]\npublic_url = \"http://127.0.0.1:9\"\n\n\
             [mcp_servers.docs]\nurl = \"{}\"\ntransport = \"streamable-http\"\nauth = \"oauth\"\n\
             allow_private_addresses = true\n",
            server.url()
        ))
        .await;
        let connector = app.mcp_connector("docs").unwrap();
        let cx = CallContext::new("alice");
        let e = connector.tools(&cx).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NeedsAuthorization, "{e}");
        assert_eq!(e.provider(), Some("docs"));
        let message = e.model_message();
        let link = message
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("/authorize?"))
            .unwrap_or_else(|| panic!("no link in {message}"));
        // The redirect URI comes from [server] public_url.
        let q: std::collections::BTreeMap<String, String> = Url::parse(link)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:9/oauth/callback");
        assert_eq!(q["resource"], server.url());
        // The user consents; the application's callback endpoint completes.
        let callback = auth_server.approve(link).await.unwrap();
        let params = CallbackParams::from_query(callback.query().unwrap_or(""));
        let connection = app
            .handle_mcp_callback(&params, Some("alice"))
            .await
            .unwrap();
        assert_eq!(connection.key.user, "alice");
        let names: Vec<String> = connector
            .tools(&cx)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(names.contains(&"echo".to_owned()), "{names:?}");
        let out = connector
            .call(&cx, "echo", serde_json::json!({ "text": "hi" }))
            .await
            .unwrap();
        assert!(!out.is_error);
        // Another user has not connected.
        let e = connector.tools(&CallContext::new("bob")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NeedsAuthorization, "{e}");
        assert_eq!(auth_server.mcp_counters().registrations, 1);
    }

    #[tokio::test]
    async fn an_oauth_server_needs_a_redirect_uri() {
        let app = app(
            "[store]\nbackend = \"memory\"\n\n[mcp_servers.docs]\nurl = \"https://mcp.example/mcp\"\nauth = \"oauth\"\n",
        )
        .await;
        let e = app.mcp_connector("docs").unwrap_err().to_string();
        assert!(
            e.contains("public_url") && e.contains("redirect_uri"),
            "{e}"
        );
        // auth.redirect_uri alone will do.
        let app = app_with_redirect().await;
        assert!(app.mcp_connector("docs").is_ok());
    }

    async fn app_with_redirect() -> App {
        app(
            "[store]\nbackend = \"memory\"\n\n[mcp_servers.docs]\nurl = \"https://mcp.example/mcp\"\n\
             auth = { type = \"oauth\", redirect_uri = \"https://agents.example/cb\" }\n",
        )
        .await
    }
}
