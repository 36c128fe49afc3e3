//! Token vault on Redis: `Vault::load_token` (GET, then decrypt + decode, or
//! the record already opened from the same bytes) against a raw `GET` of the
//! same key on the same kind of connection (a `ConnectionManager` to the same
//! server), at concurrency 1 and 50, in one run against a `redis-server`
//! spawned by the testkit harness. Also measured: `Vault::get_value`, which
//! decrypts and decodes on every call (the cost without the opened-record
//! cache).
//!
//! `cargo bench -p connector-core --bench vault`. Prints ops/s for each and
//! the ratios to raw (target for `load_token` at concurrency 50: >= 0.8).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::Secret;
use connector_core::vault::{Keyring, RedisStore, TokenKey, TokenRecord, Vault, now_unix};
use connector_testkit::redis::RedisServer;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Operations per measurement, split evenly between the tasks.
const OPS: usize = 20_000;
/// A measurement stops early after this long.
const MAX_TIME: Duration = Duration::from_secs(3);
/// Rounds; each measures every variant back to back (in rotating order), so
/// the per-round ratios cancel out slow drifts in the machine's load. The
/// medians are reported.
const ROUNDS: usize = 15;
const PREFIX: &str = "bench";

fn realistic_record() -> TokenRecord {
    let now = now_unix();
    // A JWT-sized access token and an opaque refresh token.
    let access = format!(
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{}.sig",
        "A".repeat(700)
    );
    let mut extra = serde_json::Map::new();
    extra.insert("team_id".into(), serde_json::json!("T0123456789"));
    extra.insert("bot_user_id".into(), serde_json::json!("U0ABCDEF12"));
    TokenRecord {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(format!("xoxe-1-{}", "r".repeat(120)))),
        token_type: "Bearer".into(),
        scopes: ["channels:read", "chat:write", "users:read", "files:read"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        expires_at: Some(now + 43_200),
        issuer: Some("https://slack.com".into()),
        account_label: Some("acme-corp.slack.com".into()),
        created_at: now,
        updated_at: now,
        extra,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Vault,
    VaultUncached,
    Raw,
}

/// Runs `OPS` operations over `concurrency` tasks; ops/s.
async fn measure(
    which: Which,
    concurrency: usize,
    vault: &Vault,
    raw: &ConnectionManager,
    key: &TokenKey,
    raw_key: &str,
) -> Result<f64, BoxError> {
    let per_task = OPS / concurrency;
    let deadline = Instant::now() + MAX_TIME;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (vault, mut raw, key, raw_key) =
            (vault.clone(), raw.clone(), key.clone(), raw_key.to_owned());
        let store_key = key.store_key();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while done < per_task && (!done.is_multiple_of(256) || Instant::now() < deadline) {
                match which {
                    Which::Vault => {
                        let rec = vault.load_token(&key).await?;
                        black_box(rec.ok_or("record missing")?);
                    }
                    Which::VaultUncached => {
                        let rec: Option<TokenRecord> = vault.get_value(&store_key).await?;
                        black_box(rec.ok_or("record missing")?);
                    }
                    Which::Raw => {
                        let v: Option<Vec<u8>> = redis::cmd("GET")
                            .arg(&raw_key)
                            .query_async(&mut raw)
                            .await?;
                        black_box(v.ok_or("value missing")?);
                    }
                }
                done += 1;
            }
            Ok::<usize, BoxError>(done)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

async fn run() -> Result<(), BoxError> {
    let server = RedisServer::spawn()?;
    let store = RedisStore::open(&server.url(), PREFIX).await?;
    let (keyring, _) = Keyring::generate("bench")?;
    let vault = Vault::new(Arc::new(store), keyring);
    let key = TokenKey::new("slack", "user-42@example.com", None);
    vault.save_token(&key, &realistic_record()).await?;
    let raw_key = key.store_key().render(PREFIX);

    let client = redis::Client::open(server.url())?;
    let raw = ConnectionManager::new_with_config(
        client,
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2))),
    )
    .await?;
    let sealed: Vec<u8> = redis::cmd("GET")
        .arg(&raw_key)
        .query_async(&mut raw.clone())
        .await?;

    println!("Token vault (Redis): Vault::load_token vs raw GET, same server, ConnectionManager");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "{cpus} CPUs; tokio multi-thread runtime, one worker per CPU; redis-server on the same CPUs"
    );
    println!(
        "value: {} sealed bytes; {OPS} ops per measurement (max {}s); medians of {ROUNDS} rounds (ratios: median of per-round ratios)",
        sealed.len(),
        MAX_TIME.as_secs()
    );
    for concurrency in [1usize, 50] {
        let all = [Which::Vault, Which::VaultUncached, Which::Raw];
        // Warm-up.
        for which in all {
            measure(which, concurrency, &vault, &raw, &key, &raw_key).await?;
        }
        let mut ops = [Vec::new(), Vec::new(), Vec::new()];
        let (mut cached_ratio, mut uncached_ratio) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let mut this = [0.0; 3];
            for k in 0..all.len() {
                let i = (round + k) % all.len();
                this[i] = measure(all[i], concurrency, &vault, &raw, &key, &raw_key).await?;
                ops[i].push(this[i]);
            }
            cached_ratio.push(this[0] / this[2]);
            uncached_ratio.push(this[1] / this[2]);
        }
        let [v, u, r] = ops.map(median);
        println!(
            "concurrency {concurrency:>2}: load_token {v:>7.0} ops/s | get_value (uncached) {u:>7.0} ops/s | raw GET {r:>7.0} ops/s | load_token/raw {:.2} | uncached/raw {:.2}",
            median(cached_ratio),
            median(uncached_ratio)
        );
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}
