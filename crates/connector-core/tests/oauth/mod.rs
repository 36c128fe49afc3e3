//! The OAuth engine against the strict fake authorization server.

mod consent;
mod cycle;
mod errors;
mod nested;
mod ok_false;
mod races;
mod runtime;
mod stores;

use std::sync::Arc;
use std::time::Duration;

use connector_core::oauth::{
    CallbackParams, Connection, EngineOptions, OAuthEngine, OAuthProvider,
};
use connector_core::vault::Vault;
use connector_core::{ClientAuthMethod, OAuth2Spec, Secret};
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};

pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";
pub const PROVIDER: &str = "fakeidp";

pub fn fast_options() -> EngineOptions {
    EngineOptions {
        refresh_jitter: Duration::ZERO,
        retry_backoff: Duration::from_millis(10),
        lock_wait: Duration::from_secs(20),
        request_timeout: Duration::from_secs(5),
        ..EngineOptions::default()
    }
}

pub fn provider_for(fake: &FakeOAuthServer, auth: ClientAuthMethod) -> OAuthProvider {
    let mut spec = OAuth2Spec::new(fake.authorize_url(), fake.token_url());
    spec.revocation_url = Some(fake.revocation_url());
    spec.userinfo_url = Some(fake.userinfo_url());
    spec.default_scopes = vec!["profile".into(), "email".into()];
    spec.client_auth = auth;
    OAuthProvider {
        id: PROVIDER.into(),
        spec,
        client_id: Some("cid".into()),
        client_secret: Some(Secret::new("client-secret-value")),
        redirect_uri: Some(REDIRECT.into()),
        secret_error: None,
    }
}

pub async fn fake_server(auth: ClientAuthMethod) -> FakeOAuthServer {
    let fake = FakeOAuthServer::start().await;
    fake.register_client(match auth {
        ClientAuthMethod::ClientSecretPost => {
            ClientConfig::post("cid", "client-secret-value", REDIRECT)
        }
        _ => ClientConfig::basic("cid", "client-secret-value", REDIRECT),
    });
    fake
}

pub fn engine(vault: Vault, fake: &FakeOAuthServer, options: EngineOptions) -> OAuthEngine {
    OAuthEngine::builder(vault)
        .provider(provider_for(fake, ClientAuthMethod::ClientSecretBasic))
        .options(options)
        .build()
        .unwrap()
}

/// Runs the whole authorization for `user`: begin, the browser, the callback.
pub async fn connect(engine: &OAuthEngine, fake: &FakeOAuthServer, user: &str) -> Connection {
    let req = engine.begin(user, PROVIDER, &[], None).await.unwrap();
    let callback = fake.approve(req.url.as_str()).await.unwrap();
    assert!(callback.as_str().starts_with(REDIRECT), "{callback}");
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    engine.handle_callback(&params, Some(user)).await.unwrap()
}

pub use connector_testkit::logs::LogCapture;
