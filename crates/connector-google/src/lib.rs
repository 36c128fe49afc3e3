#![doc = include_str!("../README.md")]

mod calendar;
mod client;
mod drive;
mod gmail;
mod mime;
mod scopes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::oauth::OAuthEngine;
use connector_core::registry::RegisteredConnector;
use connector_core::{
    AuthRequirement, BackendKind, BuildContext, CallContext, Connector, ConnectorMetadata, DynTool,
    Error, OAuth2Spec, ToolOutput, ToolSpec,
};
use serde_json::Value;

use self::client::GoogleClient;
pub use self::client::RetryPolicy;

/// The provider id, also the connector id and the vault's provider key.
pub const PROVIDER: &str = "google";

/// Google's public API origin (Gmail lives on its own host).
const GMAIL_BASE: &str = "https://gmail.googleapis.com";
/// Calendar and Drive.
const WWW_BASE: &str = "https://www.googleapis.com";

/// The OAuth 2.0 endpoints and defaults for Google.
pub fn oauth_spec() -> OAuth2Spec {
    let mut spec = OAuth2Spec::new(
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
    );
    spec.revocation_url = Some("https://oauth2.googleapis.com/revoke".into());
    spec.userinfo_url = Some("https://openidconnect.googleapis.com/v1/userinfo".into());
    // Enough for every tool (`scopes` in `[providers.google]` narrows it;
    // tools whose scopes were not granted then fail before any request).
    spec.default_scopes = [
        "openid",
        "email",
        scopes::GMAIL_READONLY,
        scopes::GMAIL_COMPOSE,
        scopes::CALENDAR_READONLY,
        scopes::CALENDAR_EVENTS,
        scopes::DRIVE_READONLY,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    spec.extra_authorize_params = vec![
        // A refresh token, so the grant outlives the first hour.
        ("access_type".into(), "offline".into()),
        // Incremental authorization: new scopes add to the old grant.
        ("include_granted_scopes".into(), "true".into()),
    ];
    // Google issues a refresh token only on a consented grant: while none is
    // stored, ask for consent again (a re-connect after the refresh token was
    // lost would otherwise get an access token alone).
    spec.consent_params = vec![("prompt".into(), "consent".into())];
    spec
}

/// Google Workspace over its REST APIs, with each user's token from the vault.
#[derive(Debug)]
pub struct GoogleConnector {
    metadata: ConnectorMetadata,
    tools: BTreeMap<String, DynTool>,
}

/// Builds a [`GoogleConnector`]; consumes itself and reports configuration
/// errors at [`GoogleConnectorBuilder::build`].
#[derive(Debug)]
pub struct GoogleConnectorBuilder {
    engine: OAuthEngine,
    base_url: Option<String>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl GoogleConnectorBuilder {
    /// Points every Google API at `base_url` (a test fake or a proxy).
    /// Plain http only to a loopback host.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The retry policy for rate limits and transient failures.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The timeout of one HTTP request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the connector. Does no I/O.
    pub fn build(self) -> Result<GoogleConnector, Error> {
        let (gmail_base, www_base) = match &self.base_url {
            Some(b) => (client::check_base_url(b)?, client::check_base_url(b)?),
            None => (
                client::check_base_url(GMAIL_BASE)?,
                client::check_base_url(WWW_BASE)?,
            ),
        };
        let client = Arc::new(GoogleClient::new(
            self.engine,
            gmail_base,
            www_base,
            self.retry,
            self.timeout,
        )?);
        let mut tools = BTreeMap::new();
        let all = gmail::tools(&client)?
            .into_iter()
            .chain(calendar::tools(&client)?)
            .chain(drive::tools(&client)?);
        for tool in all {
            tools.insert(tool.name().to_owned(), tool);
        }
        Ok(GoogleConnector {
            metadata: Self::metadata(),
            tools,
        })
    }

    fn metadata() -> ConnectorMetadata {
        ConnectorMetadata {
            id: PROVIDER.into(),
            display_name: "Google Workspace".into(),
            description: "Gmail (search, read and send mail, drafts, labels), Calendar \
                          (calendars, events in a window, create with attendees, free/busy) and \
                          Drive (search, metadata, read Docs/Sheets/Slides as text)."
                .into(),
            icon_url: None,
            docs_url: Some("https://developers.google.com/workspace".into()),
            backend: BackendKind::Direct,
            auth: AuthRequirement::OAuth2(oauth_spec()),
        }
    }
}

impl GoogleConnector {
    /// A builder over the engine that hands out users' tokens.
    pub fn builder(engine: OAuthEngine) -> GoogleConnectorBuilder {
        GoogleConnectorBuilder {
            engine,
            base_url: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

#[async_trait]
impl Connector for GoogleConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn tools(&self, _cx: &CallContext) -> Result<Vec<ToolSpec>, Error> {
        Ok(self.tools.values().map(|t| t.spec().clone()).collect())
    }

    /// Broader Google scopes cover narrower ones (`gmail.modify` covers
    /// `gmail.readonly`).
    fn scopes_satisfied(&self, needed: &[String], granted: &[String]) -> bool {
        let needed: Vec<&str> = needed.iter().map(String::as_str).collect();
        scopes::missing(granted, &needed).is_empty()
    }

    async fn call(&self, cx: &CallContext, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        let Some(t) = self.tools.get(tool) else {
            return Err(Error::unknown_tool(tool));
        };
        t.call(cx, args).await
    }
}

impl RegisteredConnector for GoogleConnector {
    fn describe() -> ConnectorMetadata {
        GoogleConnectorBuilder::metadata()
    }

    fn build(cx: &BuildContext) -> Result<Self, Error> {
        let mut b = GoogleConnector::builder(cx.oauth.clone());
        if let Some(base) = cx.settings.as_ref().and_then(|s| s.base_url.clone()) {
            b = b.base_url(base);
        }
        b.build()
    }
}

connector_core::register_connector!(GoogleConnector);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_default_scopes_let_every_tool_run() {
        let vault = connector_core::vault::Vault::in_memory().unwrap();
        let engine = OAuthEngine::builder(vault).build().unwrap();
        let connector = GoogleConnector::builder(engine).build().unwrap();
        let defaults = oauth_spec().default_scopes;
        let tools = connector.tools(&CallContext::new("u")).await.unwrap();
        assert_eq!(tools.len(), 12);
        for t in tools {
            let needed: Vec<&str> = t.scopes.iter().map(String::as_str).collect();
            let missing = scopes::missing(&defaults, &needed);
            assert!(missing.is_empty(), "{}: {missing:?}", t.name);
        }
    }
}
