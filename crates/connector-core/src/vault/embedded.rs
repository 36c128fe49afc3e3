//! The embedded store: one `redb` file.
//!
//! Each value is stored under its [`StoreKey::logical`] name, prefixed with
//! its expiry (Unix milliseconds, big-endian; `0` for none). Expired entries
//! are invisible to every read and removed lazily: by the next write of the
//! same key, and by a sweep (through a second table ordered by expiry) that
//! runs at most once a minute inside a write transaction. Locks are ordinary
//! expiring entries whose value is the lock token.
//!
//! redb locks the file for one process: a second process (or a second open in
//! this process) gets `DatabaseAlreadyOpen`. [`EmbeddedStore::open`] retries
//! with backoff for a bounded time, then fails with an error saying that the
//! embedded store serves one process at a time and that the Redis backend
//! shares tokens between processes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redb::{
    Database, DatabaseError, ReadableDatabase as _, ReadableTable as _, TableDefinition,
    WriteTransaction,
};

use super::crypto::create_private_dir;
use super::memory::random_lock_token;
use super::{LockToken, StoreKey, TokenStore};
use crate::Error;

/// Values by logical key name: 8 bytes of expiry (Unix ms, `0` for none),
/// then the sealed value.
const VALUES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("values");
/// `(expiry ms, logical key name)` of every entry with a ttl, for the sweep.
const EXPIRIES: TableDefinition<'static, (u64, &str), ()> = TableDefinition::new("expiries");

/// How long [`EmbeddedStore::open`] waits for another holder of the file.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(15);

const SWEEP_EVERY_MS: u64 = 60_000;
const SWEEP_BATCH: usize = 1_000;
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A store in one crash-safe `redb` file, for one process.
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    last_sweep_ms: Arc<AtomicU64>,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn expiry_ms(now: u64, ttl: Option<Duration>) -> u64 {
    match ttl {
        // `0` means "no expiry", so an immediate expiry is "now" (at least 1).
        Some(t) => now.saturating_add(t.as_millis() as u64).max(1),
        None => 0,
    }
}

fn encode(expiry: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expiry.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The expiry and value of a stored entry; `None` if it is too short.
fn decode(raw: &[u8]) -> Option<(u64, &[u8])> {
    let (exp, value) = raw.split_at_checked(8)?;
    let exp = u64::from_be_bytes(exp.try_into().ok()?);
    Some((exp, value))
}

fn live(expiry: u64, now: u64) -> bool {
    expiry == 0 || expiry > now
}

/// Creates `path` with mode 0600 (and its missing parents with mode 0700)
/// unless it exists.
fn create_private_file(path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::store(format!("creating {}: {e}", path.display()))),
    }
}

fn busy_error(path: &Path, waited: Duration) -> Error {
    Error::store(format!(
        "the embedded token store {} is in use by another process (waited {:.1}s): \
         the embedded store serves one process at a time; stop the other process, \
         or use the Redis backend ([store] backend = \"redis\") to share tokens between processes",
        path.display(),
        waited.as_secs_f64()
    ))
}

impl EmbeddedStore {
    /// Opens (creating when needed) the store at `path`, waiting up to
    /// [`DEFAULT_LOCK_WAIT`] for another process holding the file.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        EmbeddedStore::open_with_wait(path, DEFAULT_LOCK_WAIT).await
    }

    /// Opens the store at `path`, waiting up to `wait` (retrying with
    /// backoff) while another process, or another open in this process,
    /// holds the file. The file is created with mode 0600, its missing
    /// parent directories with mode 0700.
    pub async fn open_with_wait(path: &Path, wait: Duration) -> Result<Self, Error> {
        let path = path.to_path_buf();
        let started = Instant::now();
        let mut backoff = Duration::from_millis(25);
        loop {
            let p = path.clone();
            let attempt = tokio::task::spawn_blocking(move || -> Result<Database, OpenFailure> {
                create_private_file(&p).map_err(OpenFailure::Other)?;
                let mut builder = Database::builder();
                builder.set_cache_size(CACHE_BYTES);
                let db = builder.create(&p).map_err(|e| match e {
                    DatabaseError::DatabaseAlreadyOpen => OpenFailure::Busy,
                    e => OpenFailure::Other(Error::store(format!(
                        "opening the embedded token store {}: {e}",
                        p.display()
                    ))),
                })?;
                init_tables(&db).map_err(|e| {
                    OpenFailure::Other(Error::store(format!(
                        "initializing the embedded token store {}: {e}",
                        p.display()
                    )))
                })?;
                Ok(db)
            })
            .await
            .map_err(|e| Error::internal(format!("embedded store open task failed: {e}")))?;
            match attempt {
                Ok(db) => {
                    return Ok(EmbeddedStore {
                        db: Arc::new(db),
                        path,
                        last_sweep_ms: Arc::new(AtomicU64::new(0)),
                    });
                }
                Err(OpenFailure::Other(e)) => return Err(e),
                Err(OpenFailure::Busy) => {
                    let waited = started.elapsed();
                    if waited >= wait {
                        return Err(busy_error(&path, waited));
                    }
                    tokio::time::sleep(backoff.min(wait - waited)).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the database in a blocking task.
    async fn blocking<T, F>(&self, op: &'static str, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let res = tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| Error::internal(format!("embedded store task failed: {e}")))?;
        res.map_err(|e| {
            Error::store(format!(
                "embedded token store {}: {op} failed: {e}",
                self.path.display()
            ))
        })
    }

    /// Runs `f` in one write transaction (committed when `f` succeeds),
    /// sweeping expired entries first when the last sweep is old enough.
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction, u64) -> Result<T, redb::Error> + Send + 'static,
    {
        let last_sweep = Arc::clone(&self.last_sweep_ms);
        self.blocking(op, move |db| {
            let txn = db.begin_write()?;
            let now = now_ms();
            let last = last_sweep.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= SWEEP_EVERY_MS
                && last_sweep
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                sweep(&txn, now)?;
            }
            let out = f(&txn, now)?;
            txn.commit()?;
            Ok(out)
        })
        .await
    }
}

enum OpenFailure {
    Busy,
    Other(Error),
}

fn init_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(VALUES)?;
    txn.open_table(EXPIRIES)?;
    txn.commit()?;
    Ok(())
}

/// Removes up to [`SWEEP_BATCH`] expired entries.
fn sweep(txn: &WriteTransaction, now: u64) -> Result<(), redb::Error> {
    let mut expiries = txn.open_table(EXPIRIES)?;
    let mut values = txn.open_table(VALUES)?;
    let mut due: Vec<(u64, String)> = Vec::new();
    for item in expiries.range((1u64, "")..(now.saturating_add(1), ""))? {
        let (k, _) = item?;
        let (exp, name) = k.value();
        due.push((exp, name.to_owned()));
        if due.len() >= SWEEP_BATCH {
            break;
        }
    }
    for (exp, name) in due {
        expiries.remove((exp, name.as_str()))?;
        let stale = match values.get(name.as_str())? {
            Some(raw) => decode(raw.value()).is_some_and(|(e, _)| e == exp && !live(e, now)),
            None => false,
        };
        if stale {
            values.remove(name.as_str())?;
        }
    }
    Ok(())
}

/// Removes `name`, returning its value if it was live.
fn remove_entry(
    txn: &WriteTransaction,
    name: &str,
    now: u64,
) -> Result<Option<Vec<u8>>, redb::Error> {
    let mut values = txn.open_table(VALUES)?;
    let old = values.remove(name)?.map(|g| g.value().to_vec());
    let Some(old) = old else { return Ok(None) };
    let Some((exp, value)) = decode(&old) else {
        return Ok(None);
    };
    if exp != 0 {
        txn.open_table(EXPIRIES)?.remove((exp, name))?;
    }
    Ok(live(exp, now).then(|| value.to_vec()))
}

/// Stores `value` under `name` with `expiry` (replacing any old entry).
fn put_entry(
    txn: &WriteTransaction,
    name: &str,
    value: &[u8],
    expiry: u64,
    now: u64,
) -> Result<(), redb::Error> {
    remove_entry(txn, name, now)?;
    txn.open_table(VALUES)?
        .insert(name, encode(expiry, value).as_slice())?;
    if expiry != 0 {
        txn.open_table(EXPIRIES)?.insert((expiry, name), ())?;
    }
    Ok(())
}

#[async_trait]
impl TokenStore for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn get(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error> {
        let name = key.logical();
        self.blocking("get", move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(VALUES)?;
            let now = now_ms();
            Ok(table.get(name.as_str())?.and_then(|raw| {
                decode(raw.value())
                    .filter(|(exp, _)| live(*exp, now))
                    .map(|(_, v)| v.to_vec())
            }))
        })
        .await
    }

    async fn set(&self, key: &StoreKey, value: &[u8], ttl: Option<Duration>) -> Result<(), Error> {
        let name = key.logical();
        let value = value.to_vec();
        self.write("set", move |txn, now| {
            put_entry(txn, &name, &value, expiry_ms(now, ttl), now)
        })
        .await
    }

    async fn delete(&self, key: &StoreKey) -> Result<bool, Error> {
        let name = key.logical();
        self.write("delete", move |txn, now| {
            Ok(remove_entry(txn, &name, now)?.is_some())
        })
        .await
    }

    async fn take(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error> {
        let name = key.logical();
        self.write("take", move |txn, now| remove_entry(txn, &name, now))
            .await
    }

    async fn list(&self, namespace: &str, user: &str) -> Result<Vec<StoreKey>, Error> {
        // Every key of the user in the namespace starts with `ns:{user}`;
        // `}` never occurs in an escaped user, so nothing else does.
        let start = StoreKey::new(namespace, Some(user), &[]).logical();
        let (namespace, user) = (namespace.to_owned(), user.to_owned());
        self.blocking("list", move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(VALUES)?;
            let mut out = Vec::new();
            for item in table.range(start.as_str()..)? {
                let (k, v) = item?;
                let name = k.value();
                if !name.starts_with(start.as_str()) {
                    break;
                }
                // Only keys stored without a ttl are listed.
                if decode(v.value()).is_none_or(|(exp, _)| exp != 0) {
                    continue;
                }
                if let Some(key) = StoreKey::parse_logical(name)
                    && key.namespace() == namespace
                    && key.user() == Some(user.as_str())
                {
                    out.push(key);
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn try_lock(&self, key: &StoreKey, ttl: Duration) -> Result<Option<LockToken>, Error> {
        let name = key.logical();
        self.write("try_lock", move |txn, now| {
            let held = {
                let values = txn.open_table(VALUES)?;
                let raw = values.get(name.as_str())?;
                raw.is_some_and(|raw| decode(raw.value()).is_some_and(|(exp, _)| live(exp, now)))
            };
            if held {
                return Ok(None);
            }
            let token = random_lock_token();
            put_entry(
                txn,
                &name,
                token.0.as_bytes(),
                expiry_ms(now, Some(ttl)),
                now,
            )?;
            Ok(Some(token))
        })
        .await
    }

    async fn unlock(&self, key: &StoreKey, token: &LockToken) -> Result<(), Error> {
        let name = key.logical();
        let token = token.0.clone();
        self.write("unlock", move |txn, now| {
            let mine = {
                let values = txn.open_table(VALUES)?;
                let raw = values.get(name.as_str())?;
                raw.is_some_and(|raw| {
                    decode(raw.value()).is_some_and(|(_, v)| v == token.as_bytes())
                })
            };
            if mine {
                remove_entry(txn, &name, now)?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_encoding_roundtrips() {
        let raw = encode(42, b"abc");
        assert_eq!(decode(&raw), Some((42, &b"abc"[..])));
        assert_eq!(decode(b"short"), None);
        assert!(live(0, 100));
        assert!(live(101, 100));
        assert!(!live(100, 100));
        assert_eq!(expiry_ms(1000, Some(Duration::ZERO)), 1000);
        assert_eq!(expiry_ms(0, Some(Duration::ZERO)), 1);
    }
}
