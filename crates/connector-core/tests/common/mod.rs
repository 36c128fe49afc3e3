//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use connector_core::Secret;
use connector_core::vault::{Keyring, TokenRecord, now_unix};

/// Fails the test if `fut` does not finish within `limit`: every wait in
/// these tests is bounded.
pub async fn bounded<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// A realistic token record whose tokens are `access` and `refresh`.
pub fn record(access: &str, refresh: &str) -> TokenRecord {
    let now = now_unix();
    let mut extra = serde_json::Map::new();
    extra.insert("team_id".into(), serde_json::json!("T0123456"));
    TokenRecord {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh)),
        token_type: "Bearer".into(),
        scopes: vec!["channels:read".into(), "chat:write".into()],
        expires_at: Some(now + 3600),
        issuer: Some("https://issuer.example".into()),
        account_label: Some("workspace".into()),
        created_at: now,
        updated_at: now,
        extra,
    }
}

/// A keyring with one fresh random key called `id`, and its spec.
pub fn keyring(id: &str) -> (Keyring, String) {
    Keyring::generate(id).expect("generating a key")
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
