//! The `[store]` table of `connectors.toml`, and opening a vault from it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Vault;
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
        Err(Error::config(format!(
            "store backend {:?} is not available yet",
            self.backend
        )))
    }
}
