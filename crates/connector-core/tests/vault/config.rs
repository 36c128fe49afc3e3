//! `StoreConfig`: which keys, which backend, and refusals.

use connector_core::ErrorKind;
use connector_core::vault::{KEYS_ENV, StoreBackend, StoreConfig, TokenKey};
use connector_testkit::redis::RedisServer;

use crate::common::{keyring, record};

fn redis_config(url: Option<String>, urls: Vec<String>) -> StoreConfig {
    StoreConfig {
        backend: StoreBackend::Redis,
        url,
        urls,
        ..StoreConfig::default()
    }
}

#[test]
fn redis_refuses_to_start_without_keys() {
    let config = redis_config(Some("redis://127.0.0.1:6379/".into()), vec![]);
    for env in [None, Some(""), Some("  ")] {
        let err = config.resolve_keyring(env).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains(KEYS_ENV), "{err}");
    }
    let (_, spec) = keyring("prod");
    let ring = config.resolve_keyring(Some(&spec)).unwrap();
    assert_eq!(ring.primary_id(), "prod");
    // A malformed value is an error, never silently replaced.
    let err = config
        .resolve_keyring(Some("prod:not-base64!"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn memory_and_embedded_take_env_keys_when_given() {
    let (_, spec) = keyring("envkey");
    let dir = tempfile::tempdir().unwrap();
    for backend in [StoreBackend::Memory, StoreBackend::Embedded] {
        let config = StoreConfig {
            backend,
            path: Some(dir.path().join("vault.redb")),
            ..StoreConfig::default()
        };
        assert_eq!(
            config.resolve_keyring(Some(&spec)).unwrap().primary_id(),
            "envkey"
        );
    }
    // Env keys given: no key file is written.
    assert!(!dir.path().join("vault.key").exists());
    let mem = StoreConfig {
        backend: StoreBackend::Memory,
        ..StoreConfig::default()
    };
    assert_eq!(mem.resolve_keyring(None).unwrap().primary_id(), "mem");
}

#[tokio::test]
async fn redis_needs_a_url() {
    let err = redis_config(None, vec![])
        .open_with_keyring(keyring("k").0)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("url"), "{err}");
    let both = redis_config(Some("redis://a/".into()), vec!["redis://b/".into()]);
    let err = both.open_with_keyring(keyring("k").0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn redis_opens_from_config() {
    let server = RedisServer::spawn().unwrap();
    let config = StoreConfig {
        prefix: Some("deploy-a".into()),
        ..redis_config(Some(server.url()), vec![])
    };
    let v = config.open_with_keyring(keyring("k").0).await.unwrap();
    assert_eq!(v.store().backend(), "redis");
    assert!(v.store().is_shared());
    let k = TokenKey::new("slack", "u", None);
    v.save_token(&k, &record("t", "r")).await.unwrap();
    // Another deployment's prefix does not see it.
    let other = StoreConfig {
        prefix: Some("deploy-b".into()),
        ..config.clone()
    };
    let w = other.open_with_keyring(keyring("k").0).await.unwrap();
    assert!(w.list_tokens("u").await.unwrap().is_empty());
    assert!(w.load_token(&k).await.unwrap().is_none());
}

#[tokio::test]
async fn memory_opens_from_config() {
    let config = StoreConfig {
        backend: StoreBackend::Memory,
        ..StoreConfig::default()
    };
    let v = config.open_with_keyring(keyring("k").0).await.unwrap();
    assert_eq!(v.store().backend(), "memory");
}
