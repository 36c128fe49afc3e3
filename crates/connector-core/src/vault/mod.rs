//! The token vault: where each user's tokens live, always encrypted.
//!
//! [`TokenStore`] is the storage backend: raw sealed bytes under structured
//! keys, single-use takes and expiring locks. Three backends implement it:
//! [`MemoryStore`] (tests), [`EmbeddedStore`] (the default, one `redb` file)
//! and [`RedisStore`] (production, single node or cluster). [`Vault`] sits on
//! top: it seals every value with AES-256-GCM ([`Keyring`]) bound to the
//! value's key name, and speaks in [`TokenRecord`]s.

mod config;
mod crypto;
mod embedded;
pub mod key;
mod memory;
mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use self::config::{StoreBackend, StoreConfig};
pub use self::crypto::{KEYS_ENV, Keyring};
pub use self::embedded::EmbeddedStore;
pub use self::key::StoreKey;
pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
use crate::{Error, Secret};

/// Proof of holding a lock, given back to [`TokenStore::unlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(pub String);

/// A storage backend for sealed values. Values are opaque bytes; the
/// [`Vault`] encrypts them before they get here.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// `"memory"`, `"embedded"` or `"redis"`.
    fn backend(&self) -> &'static str;

    /// Whether several processes share this store (and so need its locks to
    /// coordinate refreshes).
    fn is_shared(&self) -> bool;

    /// The value under `key`.
    async fn get(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error>;

    /// Stores `value` under `key`, expiring after `ttl` when given. A key
    /// with a user and no ttl is listed by [`TokenStore::list`].
    async fn set(&self, key: &StoreKey, value: &[u8], ttl: Option<Duration>) -> Result<(), Error>;

    /// Deletes `key`; whether it existed.
    async fn delete(&self, key: &StoreKey) -> Result<bool, Error>;

    /// Gets and deletes `key` atomically: of two concurrent takes, at most
    /// one sees the value (single-use states).
    async fn take(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error>;

    /// The keys of `user` in `namespace` stored without a ttl, sorted.
    async fn list(&self, namespace: &str, user: &str) -> Result<Vec<StoreKey>, Error>;

    /// Tries to take the lock `key` for `ttl`; `None` if someone holds it.
    async fn try_lock(&self, key: &StoreKey, ttl: Duration) -> Result<Option<LockToken>, Error>;

    /// Releases a lock taken with `token` (a no-op if it expired and someone
    /// else took it since).
    async fn unlock(&self, key: &StoreKey, token: &LockToken) -> Result<(), Error>;
}

/// Which of a user's tokens: provider, user, account, and for a nested
/// grant (Slack's user token inside its bot grant) the grant's name.
///
/// The store key of an account's own grant is `tok:{user}:provider:account`;
/// a nested grant adds a fourth component, `tok:{user}:provider:account:grant`.
/// Components are escaped (a `:` in an account name is `%3A`), so no account
/// name can produce a nested grant's key, and listings of connections, which
/// take only keys of exactly two parts after the user, never show one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenKey {
    /// The provider id.
    pub provider: String,
    /// The user id, as the embedding application names users.
    pub user: String,
    /// The account at the provider (a user may connect several); `default`
    /// when the application does not distinguish.
    pub account: String,
    /// The nested grant's name (`authed_user`); `None` for the account's
    /// own grant.
    pub grant: Option<String>,
}

/// The account name used when none is given.
pub const DEFAULT_ACCOUNT: &str = "default";

impl TokenKey {
    /// The key of `user`'s tokens at `provider`, account `account`
    /// (`None`: [`DEFAULT_ACCOUNT`]).
    pub fn new(provider: &str, user: &str, account: Option<&str>) -> Self {
        TokenKey {
            provider: provider.to_owned(),
            user: user.to_owned(),
            account: account.unwrap_or(DEFAULT_ACCOUNT).to_owned(),
            grant: None,
        }
    }

    /// The key of the nested grant `grant` inside this key's account.
    pub fn nested(&self, grant: &str) -> Self {
        TokenKey {
            grant: Some(grant.to_owned()),
            ..self.clone()
        }
    }

    /// The key of the account's own grant (itself, for a key that is not
    /// nested).
    pub fn parent(&self) -> Self {
        TokenKey {
            grant: None,
            ..self.clone()
        }
    }

    /// The key parts after the user: provider, account and, for a nested
    /// grant, its name.
    pub fn parts(&self) -> Vec<&str> {
        let mut parts = vec![self.provider.as_str(), self.account.as_str()];
        if let Some(g) = &self.grant {
            parts.push(g);
        }
        parts
    }

    /// The store key of the token record.
    pub fn store_key(&self) -> StoreKey {
        StoreKey::new(key::NS_TOKEN, Some(&self.user), &self.parts())
    }

    /// The store key of the refresh lock.
    pub fn lock_key(&self) -> StoreKey {
        StoreKey::new(key::NS_LOCK, Some(&self.user), &self.parts())
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One stored grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, when the provider gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// Usually `Bearer`.
    pub token_type: String,
    /// The scopes actually granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When the access token expires (Unix seconds), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Who issued the token (the token endpoint's origin or the issuer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// A human label for the account (an email, a workspace name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_label: Option<String>,
    /// When the grant was first stored (Unix seconds).
    pub created_at: i64,
    /// When the record was last written (Unix seconds).
    pub updated_at: i64,
    /// Provider-specific fields from the token response that are not secret
    /// (team id, bot user id, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl TokenRecord {
    /// Whether the access token expires within `margin` from now.
    pub fn expires_within(&self, margin: Duration) -> bool {
        match self.expires_at {
            Some(at) => at - now_unix() <= margin.as_secs() as i64,
            None => false,
        }
    }
}

/// The encrypted vault: a [`TokenStore`] plus a [`Keyring`]. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn TokenStore>,
    keyring: Arc<Keyring>,
    opened: Arc<OpenedCache>,
}

/// Token records this vault already opened, by token key, with the exact
/// sealed bytes they came from. [`Vault::load_token`] still reads the
/// store every time (so writes by other processes are seen at once), but when
/// the bytes are the ones already opened under that key it skips the
/// decryption and the decoding, which otherwise cost more than the store read
/// itself. A hit can only come from bytes that once opened under the same
/// key (or that this vault sealed for it), so the binding of each value to
/// its key holds. Bounded to `CAP` entries; holds nothing the process could
/// not decrypt anyway (it has the keys).
#[derive(Default)]
struct OpenedCache {
    map: std::sync::Mutex<std::collections::HashMap<TokenKey, Opened>>,
}

/// A token key's store key (built once), and the last record opened for it
/// with the sealed bytes it came from.
struct Opened {
    store_key: Arc<StoreKey>,
    sealed: Vec<u8>,
    record: TokenRecord,
    /// When the store last confirmed these bytes (a read or our own write).
    confirmed: Instant,
}

impl OpenedCache {
    const CAP: usize = 1024;

    /// The store key of `key`, built once.
    fn store_key(&self, key: &TokenKey) -> Arc<StoreKey> {
        let known = self
            .map
            .lock()
            .ok()
            .and_then(|map| map.get(key).map(|o| Arc::clone(&o.store_key)));
        known.unwrap_or_else(|| Arc::new(key.store_key()))
    }

    fn get(&self, key: &TokenKey, sealed: &[u8]) -> Option<TokenRecord> {
        let mut map = self.map.lock().ok()?;
        match map.get_mut(key) {
            Some(o) if o.sealed == sealed => {
                o.confirmed = Instant::now();
                Some(o.record.clone())
            }
            _ => None,
        }
    }

    /// The record of `key` if the store confirmed it within `max_age`.
    fn recent(&self, key: &TokenKey, max_age: Duration) -> Option<TokenRecord> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|o| o.confirmed.elapsed() < max_age)
            .map(|o| o.record.clone())
    }

    fn put(&self, key: &TokenKey, store_key: Arc<StoreKey>, sealed: Vec<u8>, record: TokenRecord) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= Self::CAP
                && !map.contains_key(key)
                && let Some(victim) = map.keys().next().cloned()
            {
                map.remove(&victim);
            }
            map.insert(
                key.clone(),
                Opened {
                    store_key,
                    sealed,
                    record,
                    confirmed: Instant::now(),
                },
            );
        }
    }

    fn forget(&self, key: &TokenKey) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.store)
            .field("keyring", &self.keyring)
            .finish()
    }
}

impl Vault {
    /// A vault over `store`, sealing with `keyring`.
    pub fn new(store: Arc<dyn TokenStore>, keyring: Keyring) -> Self {
        Vault {
            store,
            keyring: Arc::new(keyring),
            opened: Arc::default(),
        }
    }

    /// An in-memory vault with a random key, for tests and examples.
    pub fn in_memory() -> Result<Self, Error> {
        let (keyring, _) = Keyring::generate("mem")?;
        Ok(Vault::new(Arc::new(MemoryStore::new()), keyring))
    }

    /// The backend.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    fn seal<T: Serialize>(&self, key: &StoreKey, value: &T) -> Result<Vec<u8>, Error> {
        let plain = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("serializing a vault value: {e}")))?;
        self.keyring.seal(key.logical().as_bytes(), &plain)
    }

    fn open<T: DeserializeOwned>(&self, key: &StoreKey, sealed: &[u8]) -> Result<T, Error> {
        let plain = self.keyring.open(key.logical().as_bytes(), sealed)?;
        serde_json::from_slice(&plain).map_err(|e| {
            Error::store(format!(
                "value under {} does not decode: {}",
                key.logical(),
                e.classify_str()
            ))
        })
    }

    /// Seals `value` and stores it under `key`.
    pub async fn put_value<T: Serialize + Sync>(
        &self,
        key: &StoreKey,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        let sealed = self.seal(key, value)?;
        self.store.set(key, &sealed, ttl).await
    }

    /// Reads and opens the value under `key`.
    pub async fn get_value<T: DeserializeOwned>(&self, key: &StoreKey) -> Result<Option<T>, Error> {
        match self.store.get(key).await? {
            Some(sealed) => self.open(key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    /// Takes (gets and deletes, atomically) and opens the value under `key`.
    pub async fn take_value<T: DeserializeOwned>(
        &self,
        key: &StoreKey,
    ) -> Result<Option<T>, Error> {
        match self.store.take(key).await? {
            Some(sealed) => self.open(key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes the value under `key`.
    pub async fn delete_value(&self, key: &StoreKey) -> Result<bool, Error> {
        self.store.delete(key).await
    }

    /// The token record of `key`.
    pub async fn load_token(&self, key: &TokenKey) -> Result<Option<TokenRecord>, Error> {
        let store_key = self.opened.store_key(key);
        let Some(sealed) = self.store.get(&store_key).await? else {
            self.opened.forget(key);
            return Ok(None);
        };
        if let Some(record) = self.opened.get(key, &sealed) {
            return Ok(Some(record));
        }
        let record: TokenRecord = self.open(&store_key, &sealed)?;
        self.opened.put(key, store_key, sealed, record.clone());
        Ok(Some(record))
    }

    /// The token record of `key`, without reading the store when this vault
    /// read or wrote it less than `max_age` ago (zero: always read). A write
    /// by another process is seen once `max_age` has passed; one by this
    /// vault at once. For the hot path of handing out access tokens, where
    /// the store round trip would otherwise be most of a call's overhead.
    pub async fn load_token_recent(
        &self,
        key: &TokenKey,
        max_age: Duration,
    ) -> Result<Option<TokenRecord>, Error> {
        if !max_age.is_zero()
            && let Some(record) = self.opened.recent(key, max_age)
        {
            return Ok(Some(record));
        }
        self.load_token(key).await
    }

    /// Stores the token record of `key`.
    pub async fn save_token(&self, key: &TokenKey, record: &TokenRecord) -> Result<(), Error> {
        let store_key = self.opened.store_key(key);
        let sealed = self.seal(&store_key, record)?;
        // Forget first: if the write fails midway, no stale entry remains.
        self.opened.forget(key);
        self.store.set(&store_key, &sealed, None).await?;
        self.opened.put(key, store_key, sealed, record.clone());
        Ok(())
    }

    /// Deletes the token record of `key`.
    pub async fn delete_token(&self, key: &TokenKey) -> Result<bool, Error> {
        self.opened.forget(key);
        self.store.delete(&key.store_key()).await
    }

    /// Every token key of `user` for an account's own grant (no nested
    /// grant), sorted by provider then account.
    pub async fn list_tokens(&self, user: &str) -> Result<Vec<TokenKey>, Error> {
        let keys = self.store.list(key::NS_TOKEN, user).await?;
        let mut out: Vec<TokenKey> = keys
            .into_iter()
            .filter_map(|k| match k.parts() {
                [provider, account] => Some(TokenKey::new(provider, user, Some(account))),
                _ => None,
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every nested grant's token key of `user`, sorted by provider, account
    /// then grant.
    pub async fn list_nested_tokens(&self, user: &str) -> Result<Vec<TokenKey>, Error> {
        let keys = self.store.list(key::NS_TOKEN, user).await?;
        let mut out: Vec<TokenKey> = keys
            .into_iter()
            .filter_map(|k| match k.parts() {
                [provider, account, grant] => {
                    Some(TokenKey::new(provider, user, Some(account)).nested(grant))
                }
                _ => None,
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

trait ClassifyStr {
    fn classify_str(&self) -> &'static str;
}

impl ClassifyStr for serde_json::Error {
    // Never echo the plaintext (serde's message can quote input).
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_grant_keys_keep_the_ordinary_format_and_never_collide() {
        let parent = TokenKey::new("slack", "alice", None);
        assert_eq!(
            parent.store_key().logical(),
            "tok:{alice}:slack:default",
            "an ordinary record's key must not change"
        );
        let nested = parent.nested("authed_user");
        assert_eq!(
            nested.store_key().logical(),
            "tok:{alice}:slack:default:authed_user"
        );
        assert_eq!(
            nested.lock_key().logical(),
            "lock:{alice}:slack:default:authed_user"
        );
        assert_eq!(nested.parent(), parent);
        // An account whose name looks like a nested key stays one component.
        let forged = TokenKey::new("slack", "alice", Some("default:authed_user"));
        assert_ne!(forged.store_key().logical(), nested.store_key().logical());
        assert_eq!(forged.store_key().parts().len(), 2);
    }

    #[tokio::test]
    async fn listings_tell_connections_from_nested_grants() {
        let vault = Vault::in_memory().unwrap();
        let now = now_unix();
        let record = TokenRecord {
            access_token: Secret::new("a"),
            refresh_token: None,
            token_type: "Bearer".into(),
            scopes: Vec::new(),
            expires_at: None,
            issuer: None,
            account_label: None,
            created_at: now,
            updated_at: now,
            extra: serde_json::Map::new(),
        };
        let parent = TokenKey::new("slack", "alice", None);
        let odd = TokenKey::new("slack", "alice", Some("default:authed_user"));
        vault.save_token(&parent, &record).await.unwrap();
        vault.save_token(&odd, &record).await.unwrap();
        vault
            .save_token(&parent.nested("authed_user"), &record)
            .await
            .unwrap();
        assert_eq!(
            vault.list_tokens("alice").await.unwrap(),
            vec![parent.clone(), odd]
        );
        assert_eq!(
            vault.list_nested_tokens("alice").await.unwrap(),
            vec![parent.nested("authed_user")]
        );
    }
}
