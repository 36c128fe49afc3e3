//! The engine on the embedded and Redis stores, as deployments run it.

use std::sync::Arc;
use std::time::Duration;

use connector_core::ErrorKind;
use connector_core::vault::{EmbeddedStore, RedisStore, TokenKey, Vault};
use connector_testkit::redis::RedisServer;

use super::*;
use crate::common::{bounded, contains, keyring};

async fn redis_vault(server: &RedisServer, spec: &str) -> Vault {
    let store = RedisStore::open(&server.url(), "cx-test").await.unwrap();
    Vault::new(
        Arc::new(store),
        connector_core::vault::Keyring::parse(spec).unwrap(),
    )
}

#[tokio::test]
async fn whole_cycle_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let store = EmbeddedStore::open(&path).await.unwrap();
    let (ring, _) = keyring("k1");
    super::cycle::whole_cycle(Vault::new(Arc::new(store), ring)).await;
}

#[tokio::test]
async fn whole_cycle_redis_store() {
    let server = RedisServer::spawn().unwrap();
    let (_, spec) = keyring("k1");
    super::cycle::whole_cycle(redis_vault(&server, &spec).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_access_over_two_vaults_on_one_redis() {
    let server = RedisServer::spawn().unwrap();
    let (_, spec) = keyring("k1");
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    // Two vault instances, each with its own connection and its own engine
    // (its own in-process single flight): two processes' worth.
    let a = engine(redis_vault(&server, &spec).await, &fake, fast_options());
    let b = engine(redis_vault(&server, &spec).await, &fake, fast_options());
    bounded(
        Duration::from_secs(60),
        "50 concurrent accesses",
        super::races::fifty_concurrent_access(vec![a, b], &fake),
    )
    .await;
}

#[tokio::test]
async fn tokens_never_appear_in_redis_or_the_embedded_file() {
    let server = RedisServer::spawn().unwrap();
    let (_, spec) = keyring("k1");
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    let engine_r = engine(redis_vault(&server, &spec).await, &fake, fast_options());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let (ring, _) = keyring("k1");
    let engine_e = engine(
        Vault::new(Arc::new(EmbeddedStore::open(&path).await.unwrap()), ring),
        &fake,
        fast_options(),
    );
    for e in [&engine_r, &engine_e] {
        connect(e, &fake, "alice").await;
        e.refresh("alice", PROVIDER, None).await.unwrap();
        // A pending authorization holds a PKCE verifier: sealed too.
        e.begin("alice", PROVIDER, &[], None).await.unwrap();
    }
    // Every value in Redis, raw.
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 3, "{keys:?}");
    let mut raw = Vec::new();
    for k in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        raw.extend_from_slice(&dump);
        raw.extend_from_slice(k.as_bytes());
    }
    drop(engine_e);
    let file = std::fs::read(&path).unwrap();
    let secrets = fake.issued_secrets();
    assert!(secrets.len() >= 8);
    for s in &secrets {
        assert!(
            !contains(&raw, s.as_bytes()),
            "a token is readable in Redis"
        );
        assert!(
            !contains(&file, s.as_bytes()),
            "a token is readable in the embedded file"
        );
    }
}

#[tokio::test]
async fn redis_stopped_mid_run_fails_clearly_then_recovers() {
    let mut server = RedisServer::spawn().unwrap();
    let (_, spec) = keyring("k1");
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    // Every access reads Redis (no reuse of a record just read).
    let options = EngineOptions {
        token_reuse: Duration::ZERO,
        ..fast_options()
    };
    let engine = engine(redis_vault(&server, &spec).await, &fake, options);
    connect(&engine, &fake, "alice").await;
    assert!(engine.access("alice", PROVIDER, None).await.is_ok());

    server.stop();
    let started = std::time::Instant::now();
    let err = bounded(
        Duration::from_secs(15),
        "access with Redis down",
        engine.access("alice", PROVIDER, None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store, "{err}");
    assert!(err.to_string().to_lowercase().contains("redis"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    server.start().unwrap();
    // The same engine, the same vault: works again once Redis is back
    // (Redis came back empty: no persistence, so the grant is gone and
    // that is reported as such, not as a store error).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let err = loop {
        match engine.access("alice", PROVIDER, None).await {
            Err(e) if e.kind() == ErrorKind::Store && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => break other.unwrap_err(),
        }
    };
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization, "{err}");
    connect(&engine, &fake, "alice").await;
    assert!(engine.access("alice", PROVIDER, None).await.is_ok());
    let key = TokenKey::new(PROVIDER, "alice", None);
    assert!(engine.vault().load_token(&key).await.unwrap().is_some());
}

#[tokio::test]
async fn a_record_just_read_is_reused_briefly_and_other_writers_are_seen_after() {
    let server = RedisServer::spawn().unwrap();
    let (_, spec) = keyring("k1");
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    let options = EngineOptions {
        token_reuse: Duration::from_millis(300),
        ..fast_options()
    };
    let engine = engine(redis_vault(&server, &spec).await, &fake, options);
    connect(&engine, &fake, "alice").await;
    let first = engine.access("alice", PROVIDER, None).await.unwrap();

    // Another process replaces the record.
    let other = redis_vault(&server, &spec).await;
    let key = TokenKey::new(PROVIDER, "alice", None);
    let mut replaced = other.load_token(&key).await.unwrap().unwrap();
    replaced.access_token = connector_core::Secret::new("replaced-by-another-process");
    other.save_token(&key, &replaced).await.unwrap();

    // Within the reuse time this process still hands out what it read...
    let again = engine.access("alice", PROVIDER, None).await.unwrap();
    assert_eq!(again.access_token.expose(), first.access_token.expose());
    // ...and after it, the other process's write.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let later = engine.access("alice", PROVIDER, None).await.unwrap();
    assert_eq!(later.access_token.expose(), "replaced-by-another-process");

    // This process's own writes are seen at once, whatever the reuse time.
    let mut mine = later.clone();
    mine.access_token = connector_core::Secret::new("written-here");
    engine.vault().save_token(&key, &mine).await.unwrap();
    let now = engine.access("alice", PROVIDER, None).await.unwrap();
    assert_eq!(now.access_token.expose(), "written-here");
}
