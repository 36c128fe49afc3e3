//! Shared set-up: a vault with a stored Google grant, the fake Gmail API,
//! the connector pointed at it.

#![allow(dead_code)]

use std::time::Duration;

use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::vault::{TokenKey, TokenRecord, Vault, now_unix};
use connector_core::{CallContext, Connector, Error, Secret, ToolOutput};
use connector_google::{GoogleConnector, RetryPolicy};
use connector_testkit::google::FakeGoogle;
use serde_json::Value;

pub const USER: &str = "alice";
pub const TOKEN: &str = "ya29.access-token-alice";

pub const READONLY: &str = "https://www.googleapis.com/auth/gmail.readonly";
pub const SEND: &str = "https://www.googleapis.com/auth/gmail.send";
pub const COMPOSE: &str = "https://www.googleapis.com/auth/gmail.compose";
pub const MODIFY: &str = "https://www.googleapis.com/auth/gmail.modify";

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
    }
}

pub struct Env {
    pub fake: FakeGoogle,
    pub connector: GoogleConnector,
    pub vault: Vault,
    pub engine: OAuthEngine,
}

/// The engine behind `env`'s connector (for building another one).
pub fn engine_of(env: &Env) -> OAuthEngine {
    env.engine.clone()
}

pub fn record(access: &str, scopes: &[&str]) -> TokenRecord {
    let now = now_unix();
    TokenRecord {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new("1//refresh-token-alice")),
        token_type: "Bearer".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        expires_at: Some(now + 3600),
        issuer: Some("https://oauth2.googleapis.com".into()),
        account_label: Some("alice@example.com".into()),
        created_at: now,
        updated_at: now,
        extra: serde_json::Map::new(),
    }
}

/// A connector whose user `alice` granted `scopes`.
pub async fn env(scopes: &[&str]) -> Env {
    let fake = FakeGoogle::start().await;
    fake.accept_token(TOKEN);
    let vault = Vault::in_memory().unwrap();
    let provider = OAuthProvider::new("google", connector_google::oauth_spec(), None).unwrap();
    let engine = OAuthEngine::builder(vault.clone())
        .provider(provider)
        .build()
        .unwrap();
    vault
        .save_token(&TokenKey::new("google", USER, None), &record(TOKEN, scopes))
        .await
        .unwrap();
    let connector = GoogleConnector::builder(engine.clone())
        .base_url(fake.url())
        .retry(fast_retry())
        .build()
        .unwrap();
    Env {
        fake,
        connector,
        vault,
        engine,
    }
}

impl Env {
    pub async fn call(&self, tool: &str, args: Value) -> Result<ToolOutput, Error> {
        let cx = CallContext::new(USER).with_timeout(Duration::from_secs(10));
        self.connector.call(&cx, tool, args).await
    }

    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let out = self.call(tool, args).await.unwrap();
        assert!(!out.is_error);
        assert!(
            self.fake.violations().is_empty(),
            "{:?}",
            self.fake.violations()
        );
        out.structured.unwrap()
    }
}
