//! An in-memory store, for tests and examples. Not shared between processes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{LockToken, StoreKey, TokenStore};
use crate::Error;

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// A store in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<StoreKey, Entry>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

pub(crate) fn random_lock_token() -> LockToken {
    use rand::RngCore as _;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    LockToken(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[async_trait]
impl TokenStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn get(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error> {
        let map = self.map.lock().await;
        let now = Instant::now();
        Ok(map
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone()))
    }

    async fn set(&self, key: &StoreKey, value: &[u8], ttl: Option<Duration>) -> Result<(), Error> {
        let mut map = self.map.lock().await;
        map.insert(
            key.clone(),
            Entry {
                value: value.to_vec(),
                expires: ttl.map(|t| Instant::now() + t),
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &StoreKey) -> Result<bool, Error> {
        let mut map = self.map.lock().await;
        let now = Instant::now();
        Ok(map.remove(key).is_some_and(|e| e.live(now)))
    }

    async fn take(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error> {
        let mut map = self.map.lock().await;
        let now = Instant::now();
        Ok(map.remove(key).filter(|e| e.live(now)).map(|e| e.value))
    }

    async fn list(&self, namespace: &str, user: &str) -> Result<Vec<StoreKey>, Error> {
        let map = self.map.lock().await;
        Ok(map
            .iter()
            .filter(|(k, e)| {
                e.expires.is_none() && k.namespace() == namespace && k.user() == Some(user)
            })
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn try_lock(&self, key: &StoreKey, ttl: Duration) -> Result<Option<LockToken>, Error> {
        let mut map = self.map.lock().await;
        let now = Instant::now();
        if map.get(key).is_some_and(|e| e.live(now)) {
            return Ok(None);
        }
        let token = random_lock_token();
        map.insert(
            key.clone(),
            Entry {
                value: token.0.clone().into_bytes(),
                expires: Some(now + ttl),
            },
        );
        Ok(Some(token))
    }

    async fn unlock(&self, key: &StoreKey, token: &LockToken) -> Result<(), Error> {
        let mut map = self.map.lock().await;
        if map.get(key).is_some_and(|e| e.value == token.0.as_bytes()) {
            map.remove(key);
        }
        Ok(())
    }
}
