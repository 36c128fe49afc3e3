//! Redis Cluster: the behavioural checks, and one user per slot.

use std::sync::Arc;
use std::time::Duration;

use connector_core::vault::{RedisStore, StoreKey, TokenKey, Vault, key};
use connector_testkit::redis::RedisCluster;

use super::checks;
use super::fixture::{self, RawRedis};
use crate::common::{bounded, keyring, record};

/// One cluster for every check (each under its own key prefix): starting a
/// cluster costs seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_behaviour_and_slots() {
    let cluster = RedisCluster::spawn(3).unwrap();
    let urls = cluster.urls();
    bounded(Duration::from_secs(120), "cluster checks", async {
        checks::roundtrip(&fixture::on_cluster(&urls, "c1").await).await;
        checks::ttl_expiry(&fixture::on_cluster(&urls, "c2").await).await;
        checks::take_single_use(&fixture::on_cluster(&urls, "c3").await).await;
        checks::locks(&fixture::on_cluster(&urls, "c4").await).await;
        checks::user_isolation(&fixture::on_cluster(&urls, "c5").await).await;
        checks::no_plaintext(&fixture::on_cluster(&urls, "c6").await).await;
        checks::aad_binding(&fixture::on_cluster(&urls, "c7").await).await;
        checks::rotation(&fixture::on_cluster(&urls, "c8").await).await;
        checks::aad_binding_raw_redis(&fixture::on_cluster(&urls, "c9").await).await;
    })
    .await;

    // All of one user's keys, index included, share one slot; users spread.
    let store = RedisStore::open_cluster(&urls, "cx").await.unwrap();
    let mut raw = RawRedis::connect(&urls).await;
    let mut user_slots = std::collections::BTreeSet::new();
    for user in checks::TRICKY_USERS
        .iter()
        .chain(["alice", "bob", "carol", "dave"].iter())
    {
        let t = TokenKey::new("slack", user, Some("a:b"));
        let names = [
            t.store_key().render("cx"),
            t.lock_key().render("cx"),
            TokenKey::new("github", user, None).store_key().render("cx"),
            StoreKey::new(key::NS_STATE, Some(user), &["s"]).render("cx"),
            store.index_key(key::NS_TOKEN, user),
            store.index_key(key::NS_STATE, user),
        ];
        let mut slots = std::collections::BTreeSet::new();
        for n in &names {
            slots.insert(raw.keyslot(n).await);
        }
        assert_eq!(
            slots.len(),
            1,
            "user {user:?}: {names:?} in slots {slots:?}"
        );
        user_slots.extend(slots);
    }
    assert!(user_slots.len() > 1, "all users in one slot");

    // The transactions (set + index, take + index) work across the nodes.
    let v = Vault::new(Arc::new(store), keyring("k1").0);
    for user in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        let k = TokenKey::new("slack", user, None);
        v.save_token(&k, &record("t", "r")).await.unwrap();
        assert_eq!(v.list_tokens(user).await.unwrap(), vec![k.clone()]);
        let taken: Option<connector_core::vault::TokenRecord> =
            v.take_value(&k.store_key()).await.unwrap();
        assert!(taken.is_some());
        assert!(v.list_tokens(user).await.unwrap().is_empty());
    }
}
