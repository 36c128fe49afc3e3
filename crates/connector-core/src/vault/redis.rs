//! The Redis store: one node through a [`ConnectionManager`], or Redis
//! Cluster through the async cluster client.
//!
//! Keys are [`StoreKey::render`]ed under the deployment prefix; every key of
//! one user carries the user's hash tag (`{escaped-user}`), so one user's keys
//! share a cluster slot and multi-key transactions work in cluster too.
//! [`TokenStore::list`] reads a per-user index set,
//! `prefix:~idx:{user}:ns`, holding the [`StoreKey::rest`] of every key of
//! that user and namespace stored without a ttl; `set`, `delete` and `take`
//! update it in the same `MULTI` transaction as the key. (`~idx` is never the
//! escape of a namespace, so the index cannot collide with a stored key.)
//!
//! Connections open lazily. Every call is bounded: connecting and each
//! response time out after 2 s and a whole call after [`CALL_TIMEOUT`], so a
//! dead Redis gives a prompt [`ErrorKind::Store`](crate::ErrorKind::Store)
//! error rather than a hang; the connection is rebuilt automatically, so
//! calls succeed again once Redis is back. Error messages name the server by
//! host and port only, never with the URL's credentials.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::OnceCell;

use super::key::escape;
use super::memory::random_lock_token;
use super::{LockToken, StoreKey, TokenStore};
use crate::Error;

/// Each connection attempt to a Redis node times out after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Each response from Redis times out after this.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole store call (reconnection included) times out after this.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// Deletes `KEYS[1]` only if it holds `ARGV[1]` (the lock token).
const UNLOCK_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                             return redis.call('DEL', KEYS[1]) else return 0 end";

/// A store on Redis, single node or cluster. Shared between processes.
pub struct RedisStore {
    backend: Backend,
    prefix: String,
    /// The server(s), as `host:port`, for messages (never credentials).
    target: String,
    /// The URL passwords, scrubbed from any message we pass on.
    secrets: Vec<String>,
}

enum Backend {
    Single(ConnectionManager),
    Cluster(Box<Cluster>),
}

/// The cluster client, and its connection once one succeeded (a failed
/// first connection is retried by the next call).
struct Cluster {
    client: ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.backend {
            Backend::Single(_) => "single",
            Backend::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A connection of either kind, cheap to clone.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// One request: a command or a pipeline.
enum Req<'a> {
    Cmd(&'a Cmd),
    Pipe(&'a Pipeline),
}

/// A parsed URL's `host:port` (or socket path) and password, or a message
/// that does not echo the URL.
fn describe_url(raw: &str) -> Result<(String, Option<String>), Error> {
    let url = url::Url::parse(raw)
        .map_err(|_| Error::config("the redis URL is not a valid URL (redis://host:port/)"))?;
    let password = url.password().map(str::to_owned);
    let target = match url.scheme() {
        "redis" | "rediss" | "valkey" | "valkeys" => {
            let host = url
                .host_str()
                .ok_or_else(|| Error::config("the redis URL has no host"))?;
            format!("{host}:{}", url.port().unwrap_or(6379))
        }
        "redis+unix" | "unix" | "valkey+unix" => url.path().to_owned(),
        other => {
            return Err(Error::config(format!(
                "the redis URL scheme `{other}` is not supported (use redis://, rediss:// or redis+unix://)"
            )));
        }
    };
    Ok((target, password))
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        // One attempt per reconnection: the next call starts another, so a
        // dead server costs each call at most one connect timeout.
        .set_number_of_retries(0)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
}

impl RedisStore {
    /// A store on the single Redis node at `url` (`redis://[user:pass@]host:port/[db]`,
    /// `rediss://` for TLS), with every key under `prefix`. No I/O happens
    /// here: the connection opens on first use and reopens after failures,
    /// so a Redis that is down now is used once it is up. Must be called
    /// inside a Tokio runtime (the connection's tasks run on it).
    pub async fn open(url: &str, prefix: &str) -> Result<Self, Error> {
        let (target, password) = describe_url(url)?;
        let client = redis::Client::open(url)
            .map_err(|_| Error::config(format!("the redis URL for {target} is not valid")))?;
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config())
            .map_err(|e| Error::store(format!("redis at {target}: creating the client: {e}")))?;
        Ok(RedisStore {
            backend: Backend::Single(manager),
            prefix: prefix.to_owned(),
            target,
            secrets: password.into_iter().collect(),
        })
    }

    /// A store on the Redis Cluster whose seed nodes are `urls`, with every
    /// key under `prefix`. Connects lazily, like [`RedisStore::open`]; a
    /// failed first connection is retried by the next call.
    pub async fn open_cluster(urls: &[String], prefix: &str) -> Result<Self, Error> {
        if urls.is_empty() {
            return Err(Error::config("redis cluster: no node URL given"));
        }
        let mut targets = Vec::with_capacity(urls.len());
        let mut secrets = Vec::new();
        for u in urls {
            let (t, p) = describe_url(u)?;
            targets.push(t);
            secrets.extend(p);
        }
        let target = format!("cluster {}", targets.join(","));
        let client = ClusterClient::builder(urls.iter().map(String::as_str))
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .overall_response_timeout(Some(CALL_TIMEOUT))
            .retries(2)
            .build()
            .map_err(|e| {
                Error::config(format!(
                    "redis {target}: invalid configuration: {}",
                    scrub(&e.to_string(), &secrets)
                ))
            })?;
        Ok(RedisStore {
            backend: Backend::Cluster(Box::new(Cluster {
                client,
                conn: OnceCell::new(),
            })),
            prefix: prefix.to_owned(),
            target,
            secrets,
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The name of the index set of `user`'s un-ttl'd keys in `namespace`.
    pub fn index_key(&self, namespace: &str, user: &str) -> String {
        format!(
            "{}:~idx:{{{}}}:{}",
            escape(&self.prefix),
            escape(user),
            escape(namespace)
        )
    }

    async fn conn(&self) -> Result<Conn, RedisError> {
        match &self.backend {
            Backend::Single(m) => Ok(Conn::Single(m.clone())),
            Backend::Cluster(c) => c
                .conn
                .get_or_try_init(|| c.client.get_async_connection())
                .await
                .cloned()
                .map(Conn::Cluster),
        }
    }

    async fn attempt<T: FromRedisValue>(&self, req: &Req<'_>) -> Result<T, RedisError> {
        let mut conn = self.conn().await?;
        match req {
            Req::Cmd(c) => c.query_async(&mut conn).await,
            Req::Pipe(p) => p.query_async(&mut conn).await,
        }
    }

    /// Runs `req`, bounded by [`CALL_TIMEOUT`]. A refused connection means
    /// the request was never sent, so it is retried once: the first call
    /// after Redis comes back then succeeds on the fresh connection.
    async fn query<T: FromRedisValue>(&self, op: &str, req: Req<'_>) -> Result<T, Error> {
        let call = async {
            match self.attempt(&req).await {
                Err(e) if e.is_connection_refusal() => self.attempt(&req).await,
                r => r,
            }
        };
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(op, &e)),
            Err(_) => Err(Error::store(format!(
                "redis at {} is unreachable: {op} timed out after {:.1}s",
                self.target,
                CALL_TIMEOUT.as_secs_f64()
            ))),
        }
    }

    fn error(&self, op: &str, e: &RedisError) -> Error {
        let reason = if e.is_connection_refusal() {
            "connection refused".to_owned()
        } else if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connection_dropped() {
            "connection lost".to_owned()
        } else {
            scrub(&e.to_string(), &self.secrets)
        };
        if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
            Error::store(format!(
                "redis at {} is unreachable: {reason} ({op})",
                self.target
            ))
        } else {
            Error::store(format!("redis at {}: {op} failed: {reason}", self.target))
        }
    }
}

/// Removes every occurrence of the secrets from `msg`.
fn scrub(msg: &str, secrets: &[String]) -> String {
    let mut out = msg.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "[redacted]");
    }
    out
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl TokenStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn get(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key.render(&self.prefix));
        self.query("get", Req::Cmd(&cmd)).await
    }

    async fn set(&self, key: &StoreKey, value: &[u8], ttl: Option<Duration>) -> Result<(), Error> {
        let name = key.render(&self.prefix);
        let index = key.user().map(|u| self.index_key(key.namespace(), u));
        let mut pipe = redis::pipe();
        pipe.atomic();
        match ttl {
            // Expired at once: what remains observable is a deletion.
            Some(t) if t.is_zero() => {
                pipe.cmd("DEL").arg(&name).ignore();
            }
            Some(t) => {
                pipe.cmd("SET")
                    .arg(&name)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms(t))
                    .ignore();
            }
            None => {
                pipe.cmd("SET").arg(&name).arg(value).ignore();
            }
        }
        if let Some(index) = &index {
            let verb = if ttl.is_none() { "SADD" } else { "SREM" };
            pipe.cmd(verb).arg(index).arg(key.rest()).ignore();
        }
        self.query::<()>("set", Req::Pipe(&pipe)).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<bool, Error> {
        let name = key.render(&self.prefix);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(&name);
        if let Some(u) = key.user() {
            pipe.cmd("SREM")
                .arg(self.index_key(key.namespace(), u))
                .arg(key.rest())
                .ignore();
        }
        let (n,): (i64,) = self.query("delete", Req::Pipe(&pipe)).await?;
        Ok(n > 0)
    }

    async fn take(&self, key: &StoreKey) -> Result<Option<Vec<u8>>, Error> {
        let name = key.render(&self.prefix);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("GETDEL").arg(&name);
        if let Some(u) = key.user() {
            pipe.cmd("SREM")
                .arg(self.index_key(key.namespace(), u))
                .arg(key.rest())
                .ignore();
        }
        let (v,): (Option<Vec<u8>>,) = self.query("take", Req::Pipe(&pipe)).await?;
        Ok(v)
    }

    async fn list(&self, namespace: &str, user: &str) -> Result<Vec<StoreKey>, Error> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(self.index_key(namespace, user));
        let members: Vec<String> = self.query("list", Req::Cmd(&cmd)).await?;
        let mut out: Vec<StoreKey> = members
            .iter()
            .filter_map(|m| StoreKey::from_rest(namespace, user, m))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn try_lock(&self, key: &StoreKey, ttl: Duration) -> Result<Option<LockToken>, Error> {
        let token = random_lock_token();
        let mut cmd = redis::cmd("SET");
        cmd.arg(key.render(&self.prefix))
            .arg(&token.0)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl));
        let ok: Option<String> = self.query("try_lock", Req::Cmd(&cmd)).await?;
        Ok(ok.map(|_| token))
    }

    async fn unlock(&self, key: &StoreKey, token: &LockToken) -> Result<(), Error> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(UNLOCK_SCRIPT)
            .arg(1)
            .arg(key.render(&self.prefix))
            .arg(&token.0);
        let _: i64 = self.query("unlock", Req::Cmd(&cmd)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_descriptions_never_hold_credentials() {
        let (t, p) = describe_url("redis://user:s3cr3t@db.example:6380/2").unwrap();
        assert_eq!(t, "db.example:6380");
        assert_eq!(p.as_deref(), Some("s3cr3t"));
        let (t, _) = describe_url("redis://127.0.0.1/").unwrap();
        assert_eq!(t, "127.0.0.1:6379");
        let e = describe_url("not a url s3cr3t").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"));
        assert_eq!(
            scrub("auth s3cr3t failed", &["s3cr3t".to_owned()]),
            "auth [redacted] failed"
        );
    }

    #[tokio::test]
    async fn index_keys_share_the_user_slot_and_never_collide() {
        let store = RedisStore::open("redis://127.0.0.1:1/", "cx")
            .await
            .unwrap();
        let k = StoreKey::new("tok", Some("a:b"), &["p", "default"]);
        let idx = store.index_key("tok", "a:b");
        assert_eq!(idx, "cx:~idx:{a%3Ab}:tok");
        assert!(idx.contains(&k.user_tag().unwrap()));
        assert_ne!(idx, k.render("cx"));
    }
}
