//! Stores under test, with raw access to what they wrote.

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use connector_core::vault::{EmbeddedStore, MemoryStore, RedisStore, TokenStore};
use connector_testkit::redis::RedisServer;
use redis::AsyncCommands as _;

/// A store, how to read its raw bytes, and what keeps it alive.
pub struct Fixture {
    pub store: Arc<dyn TokenStore>,
    pub raw: Raw,
    _guards: Vec<Box<dyn Any + Send>>,
}

/// Where a store keeps its bytes.
pub enum Raw {
    Memory,
    File(PathBuf),
    Redis { urls: Vec<String>, prefix: String },
}

pub async fn memory() -> Fixture {
    Fixture {
        store: Arc::new(MemoryStore::new()),
        raw: Raw::Memory,
        _guards: Vec::new(),
    }
}

pub async fn embedded() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let store = EmbeddedStore::open(&path).await.unwrap();
    Fixture {
        store: Arc::new(store),
        raw: Raw::File(path),
        _guards: vec![Box::new(dir)],
    }
}

pub async fn redis() -> Fixture {
    let server = RedisServer::spawn().unwrap();
    let store = RedisStore::open(&server.url(), "cx").await.unwrap();
    Fixture {
        store: Arc::new(store),
        raw: Raw::Redis {
            urls: vec![server.url()],
            prefix: "cx".into(),
        },
        _guards: vec![Box::new(server)],
    }
}

/// A fixture on an existing cluster, under its own prefix.
pub async fn on_cluster(urls: &[String], prefix: &str) -> Fixture {
    let store = RedisStore::open_cluster(urls, prefix).await.unwrap();
    Fixture {
        store: Arc::new(store),
        raw: Raw::Redis {
            urls: urls.to_vec(),
            prefix: prefix.into(),
        },
        _guards: Vec::new(),
    }
}

/// A raw connection to one node, or to the cluster when there are several.
pub enum RawRedis {
    Node(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl RawRedis {
    pub async fn connect(urls: &[String]) -> RawRedis {
        if let [url] = urls {
            let client = redis::Client::open(url.as_str()).unwrap();
            RawRedis::Node(client.get_multiplexed_async_connection().await.unwrap())
        } else {
            let client = redis::cluster::ClusterClient::new(urls.to_vec()).unwrap();
            RawRedis::Cluster(client.get_async_connection().await.unwrap())
        }
    }

    pub async fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        match self {
            RawRedis::Node(c) => c.get(key).await.unwrap(),
            RawRedis::Cluster(c) => c.get(key).await.unwrap(),
        }
    }

    pub async fn set(&mut self, key: &str, value: &[u8]) {
        let _: () = match self {
            RawRedis::Node(c) => c.set(key, value).await.unwrap(),
            RawRedis::Cluster(c) => c.set(key, value).await.unwrap(),
        };
    }

    pub async fn smembers(&mut self, key: &str) -> Vec<String> {
        match self {
            RawRedis::Node(c) => c.smembers(key).await.unwrap(),
            RawRedis::Cluster(c) => c.smembers(key).await.unwrap(),
        }
    }

    pub async fn keyslot(&mut self, key: &str) -> i64 {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("KEYSLOT").arg(key);
        match self {
            RawRedis::Node(c) => cmd.query_async(c).await.unwrap(),
            RawRedis::Cluster(c) => cmd.query_async(c).await.unwrap(),
        }
    }
}

/// Every key under `prefix` on every node of `urls`, with its raw value
/// bytes (strings) or members (sets).
pub async fn dump_redis(urls: &[String], prefix: &str) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    for url in urls {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}:*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .unwrap();
            for k in keys {
                let kind: String = redis::cmd("TYPE")
                    .arg(&k)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                let values: Vec<Vec<u8>> = match kind.as_str() {
                    "string" => vec![c.get(&k).await.unwrap()],
                    "set" => c.smembers(&k).await.unwrap(),
                    other => panic!("unexpected redis type {other} at {k}"),
                };
                out.push((k, values));
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    out
}
