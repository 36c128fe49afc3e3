//! Redis-specific behaviour: raw copies, the index, outages, credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::ErrorKind;
use connector_core::vault::{RedisStore, TokenKey, TokenStore, Vault, key};
use connector_testkit::redis::RedisServer;

use super::checks;
use super::fixture::{self, RawRedis};
use crate::common::{bounded, keyring, record};

/// How promptly a call must fail when Redis is gone.
const PROMPT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_value_copied_with_raw_commands_fails_to_open() {
    let f = fixture::redis().await;
    checks::aad_binding_raw_redis(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_set_delete_and_take() {
    let f = fixture::redis().await;
    let fixture::Raw::Redis { urls, .. } = &f.raw else {
        unreachable!()
    };
    let store = RedisStore::open(&urls[0], "cx").await.unwrap();
    let idx = store.index_key(key::NS_TOKEN, "gina");
    let mut raw = RawRedis::connect(urls).await;
    let v = Vault::new(Arc::new(store), keyring("k1").0);
    let k = TokenKey::new("slack", "gina", Some("a:b"));
    v.save_token(&k, &record("t", "r")).await.unwrap();
    assert_eq!(raw.smembers(&idx).await, vec!["slack:a%3Ab".to_owned()]);
    assert!(v.delete_token(&k).await.unwrap());
    assert!(raw.smembers(&idx).await.is_empty());
    v.save_token(&k, &record("t", "r")).await.unwrap();
    let taken: Option<connector_core::vault::TokenRecord> =
        v.take_value(&k.store_key()).await.unwrap();
    assert!(taken.is_some());
    assert!(raw.smembers(&idx).await.is_empty());
    assert!(v.list_tokens("gina").await.unwrap().is_empty());
}

async fn expect_prompt_store_error<T: std::fmt::Debug>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, connector_core::Error>>,
) -> connector_core::Error {
    let started = Instant::now();
    let res = bounded(PROMPT + Duration::from_secs(5), what, fut).await;
    let took = started.elapsed();
    let err = res.expect_err(what);
    assert!(took < PROMPT, "{what} took {took:?}");
    assert_eq!(err.kind(), ErrorKind::Store, "{what}: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_fails_promptly_then_recovers() {
    let mut server = RedisServer::spawn().unwrap();
    let store = RedisStore::open(&server.url(), "cx").await.unwrap();
    let v = Vault::new(Arc::new(store), keyring("k1").0);
    let k = TokenKey::new("slack", "hank", None);
    v.save_token(&k, &record("xoxb-outage", "r")).await.unwrap();

    server.stop();
    let err = expect_prompt_store_error("load while down", v.load_token(&k)).await;
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{}", server.port())),
        "{msg}"
    );
    assert!(msg.contains("unreachable"), "{msg}");
    expect_prompt_store_error("save while down", v.save_token(&k, &record("x", "y"))).await;
    expect_prompt_store_error("list while down", v.list_tokens("hank")).await;
    expect_prompt_store_error(
        "lock while down",
        v.store().try_lock(&k.lock_key(), Duration::from_secs(1)),
    )
    .await;

    server.start().unwrap();
    // The same vault works again: the first call after the restart succeeds.
    let r = bounded(PROMPT, "first load after restart", v.load_token(&k)).await;
    // Redis restarted empty (no persistence), so the record is gone.
    assert_eq!(r.unwrap(), None);
    v.save_token(&k, &record("xoxb-after", "r")).await.unwrap();
    assert_eq!(
        v.load_token(&k)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose(),
        "xoxb-after"
    );
    assert_eq!(v.list_tokens("hank").await.unwrap(), vec![k]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_open_is_used_once_up() {
    let mut server = RedisServer::spawn().unwrap();
    server.stop();
    let store = RedisStore::open(&server.url(), "cx").await.unwrap();
    let v = Vault::new(Arc::new(store), keyring("k1").0);
    let k = TokenKey::new("slack", "ivy", None);
    expect_prompt_store_error("load before redis is up", v.load_token(&k)).await;
    server.start().unwrap();
    bounded(PROMPT, "save once up", v.save_token(&k, &record("t", "r")))
        .await
        .unwrap();
    assert!(v.load_token(&k).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_show_the_url_password() {
    let server = RedisServer::spawn_with_args(&["--requirepass", "hunter2-SECRET"]).unwrap();
    let port = server.port();

    let good = RedisStore::open(&format!("redis://:hunter2-SECRET@127.0.0.1:{port}/"), "cx")
        .await
        .unwrap();
    assert!(!format!("{good:?}").contains("hunter2"));
    let v = Vault::new(Arc::new(good), keyring("k1").0);
    let k = TokenKey::new("slack", "jack", None);
    v.save_token(&k, &record("t", "r")).await.unwrap();

    let bad = RedisStore::open(&format!("redis://:wrong-PASSWORD@127.0.0.1:{port}/"), "cx")
        .await
        .unwrap();
    let err = bounded(PROMPT, "wrong password", bad.get(&k.store_key()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("wrong-PASSWORD"), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

    // Unreachable, with a password in the URL.
    drop(server);
    let gone = RedisStore::open(
        &format!("redis://user:hunter2-SECRET@127.0.0.1:{port}/"),
        "cx",
    )
    .await
    .unwrap();
    let err = bounded(PROMPT, "unreachable", gone.get(&k.store_key()))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("unreachable"), "{shown}");
}

#[tokio::test]
async fn a_bad_url_is_a_config_error_without_the_url() {
    for url in [
        "http://u:pw-SECRET@host/",
        "not a url pw-SECRET",
        "redis://",
    ] {
        let err = RedisStore::open(url, "cx").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err}");
        assert!(!err.to_string().contains("pw-SECRET"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_redis_times_out_promptly() {
    // Accepts connections and never answers (a hung or black-holed server).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let store = RedisStore::open(&format!("redis://127.0.0.1:{port}/"), "cx")
        .await
        .unwrap();
    let v = Vault::new(Arc::new(store), keyring("k1").0);
    let k = TokenKey::new("slack", "kim", None);
    let err = expect_prompt_store_error("load from a silent redis", v.load_token(&k)).await;
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    expect_prompt_store_error(
        "save to a silent redis",
        v.save_token(&k, &record("t", "r")),
    )
    .await;
    holder.abort();
}
