//! Embedded-store specifics: file modes, persistence, one process at a time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::ErrorKind;
use connector_core::vault::{EmbeddedStore, StoreConfig, TokenKey, Vault};

use crate::common::{bounded, keyring, record};

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn file_and_key_file_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/deeper/vault.redb");
    let config = StoreConfig {
        path: Some(db.clone()),
        ..StoreConfig::default()
    };
    // No keys in the environment: a key file is created beside the file.
    let ring = config.resolve_keyring(None).unwrap();
    let v = config.open_with_keyring(ring).await.unwrap();
    assert_eq!(v.store().backend(), "embedded");
    assert!(!v.store().is_shared());
    v.save_token(&TokenKey::new("slack", "u", None), &record("t", "r"))
        .await
        .unwrap();
    let key_file = dir.path().join("nested/deeper/vault.key");
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&dir.path().join("nested/deeper")), 0o700);
    assert_eq!(mode(&dir.path().join("nested")), 0o700);
    drop(v);

    // Reopened with the same key file, the token is still there.
    let v = config
        .open_with_keyring(config.resolve_keyring(None).unwrap())
        .await
        .unwrap();
    let got = v
        .load_token(&TokenKey::new("slack", "u", None))
        .await
        .unwrap();
    assert_eq!(got.unwrap().access_token.expose(), "t");
}

#[tokio::test]
async fn values_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let ring = keyring("k1").0;
    let k = TokenKey::new("slack", "u", None);
    {
        let store = EmbeddedStore::open(&path).await.unwrap();
        let v = Vault::new(Arc::new(store), ring.clone());
        v.save_token(&k, &record("persisted", "r")).await.unwrap();
        v.put_value(
            &TokenKey::new("x", "u", None).store_key(),
            &"short",
            Some(Duration::from_millis(1)),
        )
        .await
        .unwrap();
    }
    let store = EmbeddedStore::open(&path).await.unwrap();
    let v = Vault::new(Arc::new(store), ring);
    assert_eq!(
        v.load_token(&k)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose(),
        "persisted"
    );
    assert_eq!(v.list_tokens("u").await.unwrap(), vec![k]);
}

fn assert_busy_error(err: &connector_core::Error) {
    assert_eq!(err.kind(), ErrorKind::Store);
    let msg = err.to_string();
    assert!(msg.contains("one process at a time"), "{msg}");
    assert!(msg.contains("Redis"), "{msg}");
}

#[tokio::test]
async fn a_second_open_in_this_process_waits_then_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let first = EmbeddedStore::open(&path).await.unwrap();

    let started = Instant::now();
    let err = bounded(
        Duration::from_secs(10),
        "second open",
        EmbeddedStore::open_with_wait(&path, Duration::from_millis(600)),
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500), "gave up after {took:?}");
    assert!(took < Duration::from_secs(5), "waited {took:?}");
    assert_busy_error(&err);

    // A waiting open gets the file once the first holder lets go.
    let p = path.clone();
    let waiter =
        tokio::spawn(
            async move { EmbeddedStore::open_with_wait(&p, Duration::from_secs(15)).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    let second = bounded(Duration::from_secs(20), "waiting open", waiter)
        .await
        .unwrap();
    assert!(second.is_ok(), "{:?}", second.err());
}

const HOLDER_ENV: &str = "CONNECTORS_TEST_EMBEDDED_HOLDER";

/// Not a test of its own: the child process of
/// `another_process_holding_the_file_blocks_then_releases`, which reruns
/// this test binary with `HOLDER_ENV=<db>|<ready file>|<release file>`.
/// Without the variable it does nothing.
#[tokio::test]
async fn embedded_holder_child() {
    let Ok(spec) = std::env::var(HOLDER_ENV) else {
        return;
    };
    let parts: Vec<PathBuf> = spec.split('|').map(PathBuf::from).collect();
    let [db, ready, release] = parts.as_slice() else {
        panic!("bad {HOLDER_ENV}");
    };
    let store = EmbeddedStore::open_with_wait(db, Duration::from_secs(10))
        .await
        .unwrap();
    std::fs::write(ready, b"ready").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !release.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(store);
}

#[tokio::test]
async fn another_process_holding_the_file_blocks_then_releases() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vault.redb");
    let ready = dir.path().join("ready");
    let release = dir.path().join("release");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "vault::embedded::embedded_holder_child",
            "--exact",
            "--test-threads=1",
        ])
        .env(
            HOLDER_ENV,
            format!("{}|{}|{}", db.display(), ready.display(), release.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "the holder process never got ready"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the holder process exited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let err = EmbeddedStore::open_with_wait(&db, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_busy_error(&err);

    std::fs::write(&release, b"go").unwrap();
    let store = bounded(
        Duration::from_secs(20),
        "open after the holder exits",
        EmbeddedStore::open_with_wait(&db, Duration::from_secs(15)),
    )
    .await;
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(store.is_ok(), "{:?}", store.err());
}
