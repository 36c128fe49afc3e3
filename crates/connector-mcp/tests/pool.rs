//! The session pool with counting fake sessions: single flight, bounds, idle
//! close, broken sessions replaced.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use connector_core::{Error, ErrorKind};
use connector_mcp::pool::{BoxFuture, PoolConfig, PooledSession, SessionKey, SessionPool};

/// A fake session: counts its closes; `id` tells sessions apart.
#[derive(Clone)]
struct Fake {
    id: u64,
    closes: Arc<AtomicU64>,
}

impl PooledSession for Fake {
    fn close(self) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.closes.fetch_add(1, Ordering::SeqCst);
        })
    }
}

/// Connects fake sessions, counting "initialize" round trips, each taking
/// `delay`.
#[derive(Clone, Default)]
struct Server {
    initializes: Arc<AtomicU64>,
    closes: Arc<AtomicU64>,
    delay: Duration,
}

impl Server {
    fn slow(delay: Duration) -> Self {
        Server {
            delay,
            ..Server::default()
        }
    }

    async fn connect(&self) -> Result<Fake, Error> {
        let id = self.initializes.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.delay).await;
        Ok(Fake {
            id,
            closes: self.closes.clone(),
        })
    }

    fn initializes(&self) -> u64 {
        self.initializes.load(Ordering::SeqCst)
    }

    fn closes(&self) -> u64 {
        self.closes.load(Ordering::SeqCst)
    }
}

fn key(user: &str) -> SessionKey {
    SessionKey::new(user, None, "srv")
}

async fn settle() {
    // Closes run on spawned tasks.
    for _ in 0..20 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_calls_initialize_once() {
    let pool = SessionPool::new(PoolConfig::default());
    let server = Server::slow(Duration::from_millis(50));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (pool, server) = (pool.clone(), server.clone());
        tasks.push(tokio::spawn(async move {
            pool.with_session(
                &key("alice"),
                || server.connect(),
                |s| async move { Ok(s.id) },
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 1);
    }
    assert_eq!(server.initializes(), 1);
    assert_eq!(pool.stats().open, 1);
    assert_eq!(pool.stats().connects, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_users_three_sessions_reused_across_calls() {
    let pool = SessionPool::new(PoolConfig::default());
    let server = Server::slow(Duration::from_millis(10));
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (pool, server) = (pool.clone(), server.clone());
        let user = ["alice", "bob", "carol"][i % 3];
        tasks.push(tokio::spawn(async move {
            pool.with_session(&key(user), || server.connect(), |s| async move { Ok(s.id) })
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(server.initializes(), 3);
    assert_eq!(pool.stats().open, 3);
    // Accounts are separate sessions too.
    let with_account = SessionKey::new("alice", Some("work"), "srv");
    pool.get(&with_account, || server.connect()).await.unwrap();
    assert_eq!(server.initializes(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_waiters_share_a_failed_connect() {
    let pool: SessionPool<Fake> = SessionPool::new(PoolConfig::default());
    let attempts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (pool, attempts) = (pool.clone(), attempts.clone());
        tasks.push(tokio::spawn(async move {
            pool.get(&key("alice"), || async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err::<Fake, _>(Error::new(ErrorKind::Unavailable, "connection refused"))
            })
            .await
            .err()
            .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().kind(), ErrorKind::Unavailable);
    }
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(pool.stats().open, 0);
}

#[tokio::test]
async fn bound_is_respected_and_the_lru_idle_session_is_closed() {
    let pool = SessionPool::new(PoolConfig {
        max_sessions: 2,
        ..PoolConfig::default()
    });
    let server = Server::default();
    drop(pool.get(&key("a"), || server.connect()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(pool.get(&key("b"), || server.connect()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Touch `a`, so `b` is the least recently used.
    drop(pool.get(&key("a"), || server.connect()).await.unwrap());
    drop(pool.get(&key("c"), || server.connect()).await.unwrap());
    settle().await;
    let stats = pool.stats();
    assert_eq!(stats.open, 2);
    assert_eq!(stats.evicted, 1);
    assert_eq!(server.closes(), 1);
    // `a` survived (no new initialize), `b` did not.
    assert_eq!(server.initializes(), 3);
    drop(pool.get(&key("a"), || server.connect()).await.unwrap());
    assert_eq!(server.initializes(), 3);
    drop(pool.get(&key("b"), || server.connect()).await.unwrap());
    assert_eq!(server.initializes(), 4);
    assert_eq!(pool.stats().open, 2);
}

#[tokio::test]
async fn a_full_pool_of_busy_sessions_refuses_with_a_retryable_error() {
    let pool = SessionPool::new(PoolConfig {
        max_sessions: 1,
        ..PoolConfig::default()
    });
    let server = Server::default();
    let busy = pool.get(&key("a"), || server.connect()).await.unwrap();
    let e = pool
        .get(&key("b"), || server.connect())
        .await
        .err()
        .unwrap();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.provider(), Some("srv"));
    drop(busy);
    pool.get(&key("b"), || server.connect()).await.unwrap();
    assert_eq!(pool.stats().open, 1);
}

#[tokio::test]
async fn idle_sessions_are_closed_by_the_background_sweeper() {
    let pool = SessionPool::new(PoolConfig {
        max_sessions: 10,
        idle_timeout: Duration::from_millis(100),
        sweep_interval: Duration::from_millis(20),
    });
    let server = Server::default();
    let held = pool.get(&key("busy"), || server.connect()).await.unwrap();
    drop(pool.get(&key("idle"), || server.connect()).await.unwrap());
    assert_eq!(pool.stats().open, 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    settle().await;
    let stats = pool.stats();
    // The leased session is busy however old: only the idle one closed.
    assert_eq!(stats.open, 1, "{stats:?}");
    assert_eq!(stats.closed_idle, 1);
    assert_eq!(server.closes(), 1);
    drop(held);
    tokio::time::sleep(Duration::from_millis(400)).await;
    settle().await;
    assert_eq!(pool.stats().open, 0);
    assert_eq!(server.closes(), 2);
    // The next call reconnects.
    drop(pool.get(&key("idle"), || server.connect()).await.unwrap());
    assert_eq!(server.initializes(), 3);
}

#[tokio::test]
async fn the_sweeper_holds_only_a_weak_reference() {
    let pool = SessionPool::new(PoolConfig {
        idle_timeout: Duration::from_secs(3600),
        sweep_interval: Duration::from_millis(10),
        ..PoolConfig::default()
    });
    let alive = Arc::new(AtomicU64::new(0));
    let session = Fake {
        id: 1,
        closes: alive.clone(),
    };
    drop(
        pool.get(&key("a"), || async move { Ok(session) })
            .await
            .unwrap(),
    );
    assert_eq!(Arc::strong_count(&alive), 2);
    // Let the sweeper run a few turns, then drop the pool: the session it
    // held goes with it (a strong reference in the task would keep it).
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(pool);
    settle().await;
    assert_eq!(Arc::strong_count(&alive), 1);
}

#[tokio::test]
async fn lazy_sweep_without_background_task() {
    let pool = SessionPool::new(PoolConfig {
        idle_timeout: Duration::from_millis(30),
        sweep_interval: Duration::from_secs(3600),
        ..PoolConfig::default()
    });
    let server = Server::default();
    drop(pool.get(&key("a"), || server.connect()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(pool.sweep_idle(), 1);
    settle().await;
    assert_eq!(server.closes(), 1);
}

#[tokio::test]
async fn a_session_error_drops_the_session_and_the_next_call_reconnects_once() {
    let pool = SessionPool::new(PoolConfig::default());
    let server = Server::default();
    let first = pool
        .with_session(&key("a"), || server.connect(), |s| async move { Ok(s.id) })
        .await
        .unwrap();
    assert_eq!(first, 1);
    // The call fails with a transport error: not retried, session dropped.
    let e = pool
        .with_session(
            &key("a"),
            || server.connect(),
            |_s| async { Err::<u64, _>(Error::new(ErrorKind::Unavailable, "stream reset")) },
        )
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    settle().await;
    assert_eq!(server.closes(), 1);
    assert_eq!(pool.stats().broken, 1);
    // The next calls reconnect once, and then reuse.
    for _ in 0..5 {
        let id = pool
            .with_session(&key("a"), || server.connect(), |s| async move { Ok(s.id) })
            .await
            .unwrap();
        assert_eq!(id, 2);
    }
    assert_eq!(server.initializes(), 2);
    // A tool-level failure keeps the session.
    let _ = pool
        .with_session(
            &key("a"),
            || server.connect(),
            |_s| async { Err::<u64, _>(Error::invalid_arguments("bad")) },
        )
        .await;
    assert_eq!(server.initializes(), 2);
    assert_eq!(pool.stats().broken, 1);
}

#[tokio::test]
async fn close_all_closes_every_session() {
    let pool = SessionPool::new(PoolConfig::default());
    let server = Server::default();
    for u in ["a", "b", "c"] {
        drop(pool.get(&key(u), || server.connect()).await.unwrap());
    }
    pool.close_all();
    settle().await;
    assert_eq!(server.closes(), 3);
    assert_eq!(pool.stats().open, 0);
}
