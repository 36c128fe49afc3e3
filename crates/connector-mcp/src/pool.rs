//! Sessions pooled per (user, account, server).
//!
//! An MCP session costs an `initialize` round trip (two for streamable
//! HTTP, plus a GET stream for legacy SSE), so [`SessionPool`] keeps one per
//! [`SessionKey`] and hands out cheap clones of it:
//!
//! - **Single flight.** Concurrent first uses of a key connect once; the
//!   others wait for that connection (and share its failure, rather than
//!   each trying again in turn against a server that is down).
//! - **Bounded.** At most [`PoolConfig::max_sessions`] sessions; when full,
//!   the least recently used *idle* session is closed to make room. When
//!   every session is busy the caller gets a retryable error instead of an
//!   unbounded pool.
//! - **Closed when idle.** A session unused for [`PoolConfig::idle_timeout`]
//!   is closed, by a lazy sweep on every acquisition and by a background task
//!   that holds only a `Weak` reference to the pool (so dropping the pool
//!   ends it).
//! - **Broken sessions are replaced.** [`SessionPool::with_session`] drops a
//!   session whose call failed with a transport or session error
//!   ([`is_session_error`]); the next call connects a new one, once.
//!
//! The pool is generic over [`PooledSession`] so its behaviour is tested with
//! counting fakes as well as with the real [`McpClient`](crate::client::McpClient).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use connector_core::{Error, ErrorKind};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the pool needs from a session: cheap clones and a way to close it.
pub trait PooledSession: Clone + Send + Sync + 'static {
    /// Ends the session (for MCP: the streamable HTTP `DELETE`, or dropping
    /// the legacy SSE stream). Errors are the session's business: the pool
    /// has already forgotten it.
    fn close(self) -> BoxFuture<'static, ()>;
}

/// Whose session and to which server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// The user id.
    pub user: String,
    /// The user's account at the server's provider, when one was chosen.
    pub account: Option<String>,
    /// The server (connector) id.
    pub server: String,
}

impl SessionKey {
    /// A key for `user`'s `account` at `server`.
    pub fn new(user: &str, account: Option<&str>, server: &str) -> Self {
        SessionKey {
            user: user.to_owned(),
            account: account.map(str::to_owned),
            server: server.to_owned(),
        }
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(a) => write!(f, "{}/{}@{}", self.user, a, self.server),
            None => write!(f, "{}@{}", self.user, self.server),
        }
    }
}

/// The pool's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Sessions open at once, over all keys (at least 1).
    pub max_sessions: usize,
    /// A session unused this long is closed.
    pub idle_timeout: Duration,
    /// How often the background task looks for idle sessions (the lazy
    /// sweep on acquisition runs regardless).
    pub sweep_interval: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_sessions: 1024,
            idle_timeout: Duration::from_secs(300),
            sweep_interval: Duration::from_secs(30),
        }
    }
}

/// Counters, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Sessions open now.
    pub open: usize,
    /// Connection attempts started (successful or not).
    pub connects: u64,
    /// Sessions closed: idle, evicted, broken or at shutdown.
    pub closed: u64,
    /// Of those, closed because they were idle too long.
    pub closed_idle: u64,
    /// Of those, closed to make room for another key.
    pub evicted: u64,
    /// Of those, dropped after a transport or session error.
    pub broken: u64,
}

/// Whether `error` means the session itself is unusable (the connection or
/// the stream failed, the server stopped answering), as opposed to a
/// failure of one request that a fresh session would not fix.
pub fn is_session_error(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Unavailable | ErrorKind::Timeout)
}

/// A copy of `e` (kind, diagnostic, provider, retry delay) for the callers
/// that waited on a connection attempt that failed.
fn copy_error(e: &Error) -> Error {
    let mut copy = Error::new(e.kind(), e.detail()).with_model_message(e.model_message());
    if let Some(p) = e.provider() {
        copy = copy.with_provider(p);
    }
    if let Some(r) = e.retry_after() {
        copy = copy.with_retry_after(r);
    }
    copy
}

enum SlotState<S> {
    /// Nobody has connected yet (the first caller holds `connecting`).
    Empty,
    Ready(S),
    /// Closed, evicted or broken: look the key up again.
    Gone,
    /// The connection attempt failed; waiters report this.
    Failed(Error),
}

struct SlotInner<S> {
    state: SlotState<S>,
    in_use: usize,
    last_used: Instant,
}

/// One key's session, or the attempt to make it.
struct Slot<S> {
    id: u64,
    /// Held while connecting, so concurrent first uses connect once.
    connecting: tokio::sync::Mutex<()>,
    inner: Mutex<SlotInner<S>>,
}

impl<S> Slot<S> {
    fn lock(&self) -> MutexGuard<'_, SlotInner<S>> {
        // A poisoned lock only means another thread panicked while holding
        // it; the data (a state and two counters) is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Shared<S> {
    config: PoolConfig,
    slots: Mutex<HashMap<SessionKey, Arc<Slot<S>>>>,
    next_id: AtomicU64,
    connects: AtomicU64,
    closed: AtomicU64,
    closed_idle: AtomicU64,
    evicted: AtomicU64,
    broken: AtomicU64,
    sweeper_started: AtomicUsize,
}

impl<S: PooledSession> Shared<S> {
    fn slots(&self) -> MutexGuard<'_, HashMap<SessionKey, Arc<Slot<S>>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes idle sessions; returns how many.
    fn sweep(&self, now: Instant) -> usize {
        let mut victims = Vec::new();
        {
            let mut slots = self.slots();
            slots.retain(|_, slot| {
                let mut inner = slot.lock();
                let idle = inner.in_use == 0
                    && now.saturating_duration_since(inner.last_used) >= self.config.idle_timeout;
                if idle && let SlotState::Ready(_) = inner.state {
                    if let SlotState::Ready(s) =
                        std::mem::replace(&mut inner.state, SlotState::Gone)
                    {
                        victims.push(s);
                    }
                    return false;
                }
                true
            });
        }
        let n = victims.len();
        self.closed_idle.fetch_add(n as u64, Ordering::Relaxed);
        for s in victims {
            self.close(s);
        }
        n
    }

    fn close(&self, session: S) {
        self.closed.fetch_add(1, Ordering::Relaxed);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(session.close());
            }
            Err(_) => drop(session),
        }
    }
}

/// Sessions per [`SessionKey`]. Cheap to clone (an `Arc`).
pub struct SessionPool<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for SessionPool<S> {
    fn clone(&self) -> Self {
        SessionPool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for SessionPool<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPool")
            .field("config", &self.shared.config)
            .finish()
    }
}

/// A session lent by the pool. While it lives the session counts as busy
/// (never closed as idle or evicted); dropping it marks the session used now.
pub struct Lease<S> {
    session: S,
    slot: Arc<Slot<S>>,
    key: SessionKey,
}

impl<S> Lease<S> {
    /// The session.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// The key it belongs to.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// Which session this is: distinct for every session the pool has made
    /// (a reconnect for the same key gets a new one).
    pub fn session_id(&self) -> u64 {
        self.slot.id
    }
}

impl<S> std::ops::Deref for Lease<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.session
    }
}

impl<S> Drop for Lease<S> {
    fn drop(&mut self) {
        let mut inner = self.slot.lock();
        inner.in_use = inner.in_use.saturating_sub(1);
        inner.last_used = Instant::now();
    }
}

/// How many times an acquisition looks the key up again after finding the
/// session it waited for gone (closed or broken meanwhile).
const MAX_LOOKUPS: usize = 4;

impl<S: PooledSession> SessionPool<S> {
    /// An empty pool. Does no I/O and spawns nothing: the idle sweeper starts
    /// with the first acquisition (inside a runtime).
    pub fn new(config: PoolConfig) -> Self {
        let config = PoolConfig {
            max_sessions: config.max_sessions.max(1),
            ..config
        };
        SessionPool {
            shared: Arc::new(Shared {
                config,
                slots: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                connects: AtomicU64::new(0),
                closed: AtomicU64::new(0),
                closed_idle: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
                broken: AtomicU64::new(0),
                sweeper_started: AtomicUsize::new(0),
            }),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> PoolConfig {
        self.shared.config
    }

    /// Counters.
    pub fn stats(&self) -> PoolStats {
        let open = self
            .shared
            .slots()
            .values()
            .filter(|s| matches!(s.lock().state, SlotState::Ready(_)))
            .count();
        PoolStats {
            open,
            connects: self.shared.connects.load(Ordering::Relaxed),
            closed: self.shared.closed.load(Ordering::Relaxed),
            closed_idle: self.shared.closed_idle.load(Ordering::Relaxed),
            evicted: self.shared.evicted.load(Ordering::Relaxed),
            broken: self.shared.broken.load(Ordering::Relaxed),
        }
    }

    /// Closes sessions idle longer than the limit now; returns how many.
    pub fn sweep_idle(&self) -> usize {
        self.shared.sweep(Instant::now())
    }

    /// Starts the background sweeper once, if we are inside a runtime. It
    /// holds a `Weak` reference and ends when the pool is dropped.
    fn start_sweeper(&self) {
        if self.shared.sweeper_started.swap(1, Ordering::AcqRel) != 0 {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.shared.sweeper_started.store(0, Ordering::Release);
            return;
        };
        let weak: Weak<Shared<S>> = Arc::downgrade(&self.shared);
        let period = self
            .shared
            .config
            .sweep_interval
            .max(Duration::from_millis(10));
        handle.spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            // Ends when the pool is gone: each turn needs a live `Arc`.
            loop {
                ticker.tick().await;
                let Some(shared) = weak.upgrade() else {
                    break;
                };
                shared.sweep(Instant::now());
            }
        });
    }

    /// The slot for `key`, created (after making room) when absent.
    fn slot(&self, key: &SessionKey) -> Result<Arc<Slot<S>>, Error> {
        let mut evicted = None;
        let slot = {
            let mut slots = self.shared.slots();
            if let Some(slot) = slots.get(key) {
                return Ok(Arc::clone(slot));
            }
            if slots.len() >= self.shared.config.max_sessions {
                // Close the least recently used idle session.
                let victim = slots
                    .iter()
                    .filter_map(|(k, s)| {
                        let inner = s.lock();
                        (inner.in_use == 0 && matches!(inner.state, SlotState::Ready(_)))
                            .then(|| (inner.last_used, k.clone()))
                    })
                    .min_by_key(|(at, _)| *at)
                    .map(|(_, k)| k);
                let Some(victim) = victim else {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!(
                            "all {} pooled MCP sessions are busy; try again shortly",
                            self.shared.config.max_sessions
                        ),
                    )
                    .with_provider(key.server.clone())
                    .with_retry_after(Duration::from_millis(100)));
                };
                if let Some(old) = slots.remove(&victim) {
                    let mut inner = old.lock();
                    if let SlotState::Ready(s) =
                        std::mem::replace(&mut inner.state, SlotState::Gone)
                    {
                        evicted = Some(s);
                    }
                }
            }
            let slot = Arc::new(Slot {
                id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
                connecting: tokio::sync::Mutex::new(()),
                inner: Mutex::new(SlotInner {
                    state: SlotState::Empty,
                    in_use: 0,
                    last_used: Instant::now(),
                }),
            });
            slots.insert(key.clone(), Arc::clone(&slot));
            slot
        };
        if let Some(s) = evicted {
            self.shared.evicted.fetch_add(1, Ordering::Relaxed);
            self.shared.close(s);
        }
        Ok(slot)
    }

    /// Removes `slot` from the map if it is still the one there.
    fn forget(&self, key: &SessionKey, slot: &Arc<Slot<S>>) {
        let mut slots = self.shared.slots();
        if slots.get(key).is_some_and(|s| s.id == slot.id) {
            slots.remove(key);
        }
    }

    /// The session for `key`, connecting with `connect` when there is none.
    /// Concurrent callers for one key connect once.
    pub async fn get<F, Fut>(&self, key: &SessionKey, connect: F) -> Result<Lease<S>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<S, Error>>,
    {
        self.start_sweeper();
        self.shared.sweep(Instant::now());
        let mut connect = Some(connect);
        for _ in 0..MAX_LOOKUPS {
            let slot = self.slot(key)?;
            // Fast path: a ready session.
            if let Some(lease) = self.lease(key, &slot) {
                return lease;
            }
            let _connecting = slot.connecting.lock().await;
            match self.lease(key, &slot) {
                Some(lease) => return lease,
                None if matches!(slot.lock().state, SlotState::Gone) => continue,
                None => {}
            }
            // Empty, and we hold the connecting lock: we are the one caller
            // that connects.
            let Some(connect) = connect.take() else {
                break;
            };
            self.shared.connects.fetch_add(1, Ordering::Relaxed);
            let result = connect().await;
            let mut inner = slot.lock();
            match result {
                Ok(session) => {
                    inner.state = SlotState::Ready(session.clone());
                    inner.in_use += 1;
                    inner.last_used = Instant::now();
                    drop(inner);
                    return Ok(Lease {
                        session,
                        slot: Arc::clone(&slot),
                        key: key.clone(),
                    });
                }
                Err(e) => {
                    inner.state = SlotState::Failed(copy_error(&e));
                    drop(inner);
                    self.forget(key, &slot);
                    return Err(e);
                }
            }
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!("the MCP session for {key} kept closing while it was being acquired"),
        )
        .with_provider(key.server.clone()))
    }

    /// A lease on a ready slot; the failure the waiters share; `None` when
    /// empty or gone.
    fn lease(&self, key: &SessionKey, slot: &Arc<Slot<S>>) -> Option<Result<Lease<S>, Error>> {
        let mut inner = slot.lock();
        match &inner.state {
            SlotState::Ready(s) => {
                let session = s.clone();
                inner.in_use += 1;
                inner.last_used = Instant::now();
                drop(inner);
                Some(Ok(Lease {
                    session,
                    slot: Arc::clone(slot),
                    key: key.clone(),
                }))
            }
            SlotState::Failed(e) => Some(Err(copy_error(e))),
            SlotState::Empty | SlotState::Gone => None,
        }
    }

    /// The key's ready session and its [`Lease::session_id`], without
    /// connecting, leasing or marking it used; `None` when there is none.
    pub fn peek(&self, key: &SessionKey) -> Option<(u64, S)> {
        let slot = self.shared.slots().get(key).cloned()?;
        let inner = slot.lock();
        match &inner.state {
            SlotState::Ready(s) => Some((slot.id, s.clone())),
            _ => None,
        }
    }

    /// Drops the leased session from the pool (closing it once no lease is
    /// left is the session's own business: it is closed now). The next
    /// acquisition for the key connects a new one.
    pub fn invalidate(&self, lease: &Lease<S>) {
        let removed = {
            let mut inner = lease.slot.lock();
            match std::mem::replace(&mut inner.state, SlotState::Gone) {
                SlotState::Ready(s) => Some(s),
                other => {
                    inner.state = other;
                    None
                }
            }
        };
        self.forget(&lease.key, &lease.slot);
        if let Some(s) = removed {
            self.shared.broken.fetch_add(1, Ordering::Relaxed);
            self.shared.close(s);
        }
    }

    /// Runs `f` on the key's session. When `f` fails with a session error
    /// ([`is_session_error`]) the session is dropped, so the next call
    /// reconnects; `f` itself is not retried (a tools/call that may have
    /// reached the server must not be sent twice).
    pub async fn with_session<F, Fut, C, CFut, T>(
        &self,
        key: &SessionKey,
        connect: C,
        f: F,
    ) -> Result<T, Error>
    where
        C: FnOnce() -> CFut,
        CFut: Future<Output = Result<S, Error>>,
        F: FnOnce(S) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let lease = self.get(key, connect).await?;
        let result = f(lease.session.clone()).await;
        if let Err(e) = &result
            && is_session_error(e)
        {
            tracing::debug!(session = %key, error = %e, "dropping a broken MCP session");
            self.invalidate(&lease);
        }
        result
    }

    /// Closes every session (leases in flight keep their clone).
    pub fn close_all(&self) {
        let drained: Vec<Arc<Slot<S>>> = self.shared.slots().drain().map(|(_, s)| s).collect();
        for slot in drained {
            let state = std::mem::replace(&mut slot.lock().state, SlotState::Gone);
            if let SlotState::Ready(s) = state {
                self.shared.close(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Fake(Arc<AtomicU64>);

    impl PooledSession for Fake {
        fn close(self) -> BoxFuture<'static, ()> {
            Box::pin(async move {
                self.0.fetch_add(1, Ordering::SeqCst);
            })
        }
    }

    fn key(u: &str) -> SessionKey {
        SessionKey::new(u, None, "srv")
    }

    #[tokio::test]
    async fn failed_connect_is_shared_then_retried_by_the_next_caller() {
        let pool: SessionPool<Fake> = SessionPool::new(PoolConfig::default());
        let closes = Arc::new(AtomicU64::new(0));
        let e = pool
            .get(&key("a"), || async {
                Err::<Fake, _>(Error::new(ErrorKind::Unavailable, "down"))
            })
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let c = closes.clone();
        let lease = pool
            .get(&key("a"), || async move { Ok(Fake(c)) })
            .await
            .unwrap();
        assert_eq!(lease.key(), &key("a"));
        assert_eq!(pool.stats().connects, 2);
        assert_eq!(pool.stats().open, 1);
    }

    #[test]
    fn display_of_key() {
        assert_eq!(SessionKey::new("u", Some("w"), "s").to_string(), "u/w@s");
        assert_eq!(SessionKey::new("u", None, "s").to_string(), "u@s");
    }
}
