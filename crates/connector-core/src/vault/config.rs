//! The `[store]` table of `connectors.toml`, and opening a vault from it.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, KEYS_ENV, Keyring, MemoryStore, RedisStore, TokenStore, Vault};
use crate::Error;

/// Which backend holds the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// One crash-safe file (`redb`), the default.
    #[default]
    Embedded,
    /// Redis, single node or cluster.
    Redis,
    /// Process memory (tokens are lost on exit).
    Memory,
}

/// The `[store]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The backend.
    #[serde(default)]
    pub backend: StoreBackend,
    /// Redis: the server's URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Redis Cluster: the nodes' URLs.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Embedded: the database file (default: `connectors/vault.redb` in the
    /// user's data directory).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The prefix of every key (default `connectors`), so several
    /// deployments can share one Redis.
    #[serde(default)]
    pub prefix: Option<String>,
}

impl StoreConfig {
    /// The key prefix in force.
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or("connectors")
    }

    /// The embedded database path in force.
    pub fn embedded_path(&self) -> Result<PathBuf, Error> {
        if let Some(p) = &self.path {
            return Ok(p.clone());
        }
        dirs::data_dir()
            .map(|d| d.join("connectors").join("vault.redb"))
            .ok_or_else(|| Error::config("no data directory on this system; set [store].path"))
    }

    /// Opens the configured vault. Encryption keys come from
    /// `CONNECTORS_ENCRYPTION_KEYS`; the embedded backend creates a key file
    /// beside its database when none is given, the Redis backend refuses to
    /// start without one.
    pub async fn open(&self) -> Result<Vault, Error> {
        let env = std::env::var(KEYS_ENV).ok();
        let keyring = self.resolve_keyring(env.as_deref())?;
        self.open_with_keyring(keyring).await
    }

    /// The keyring [`StoreConfig::open`] uses, given the value of
    /// `CONNECTORS_ENCRYPTION_KEYS` (`None` or blank: unset). With no keys,
    /// Redis is refused, the embedded backend loads or creates the key file
    /// beside its database (`vault.redb` → `vault.key`, mode 0600) and the
    /// memory backend uses a random key.
    pub fn resolve_keyring(&self, env_keys: Option<&str>) -> Result<Keyring, Error> {
        if let Some(spec) = env_keys.filter(|s| !s.trim().is_empty()) {
            return Keyring::parse(spec);
        }
        match self.backend {
            StoreBackend::Redis => Err(Error::config(format!(
                "the redis token store needs encryption keys: set {KEYS_ENV} \
                 (`id:base64key[,id:base64key...]`, 32-byte keys) in every process \
                 sharing the store"
            ))),
            StoreBackend::Embedded => {
                Keyring::load_or_create_file(&self.embedded_path()?.with_extension("key"))
            }
            StoreBackend::Memory => Keyring::generate("mem").map(|(k, _)| k),
        }
    }

    /// Opens the configured store with `keyring` (tests, and applications
    /// that manage keys themselves).
    pub async fn open_with_keyring(&self, keyring: Keyring) -> Result<Vault, Error> {
        let store: Arc<dyn TokenStore> = match self.backend {
            StoreBackend::Memory => Arc::new(MemoryStore::new()),
            StoreBackend::Embedded => Arc::new(EmbeddedStore::open(&self.embedded_path()?).await?),
            StoreBackend::Redis => match (&self.url, self.urls.as_slice()) {
                (Some(_), [_, ..]) => {
                    return Err(Error::config(
                        "[store]: give either `url` (one Redis node) or `urls` (Redis Cluster), not both",
                    ));
                }
                (Some(url), []) => Arc::new(RedisStore::open(url, self.prefix()).await?),
                (None, urls @ [_, ..]) => {
                    Arc::new(RedisStore::open_cluster(urls, self.prefix()).await?)
                }
                (None, []) => {
                    return Err(Error::config(
                        "[store]: backend \"redis\" needs `url` (one node) or `urls` (cluster nodes)",
                    ));
                }
            },
        };
        Ok(Vault::new(store, keyring))
    }
}
