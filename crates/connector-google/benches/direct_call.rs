//! The framework's overhead on one direct call: `GoogleConnector::call` of
//! `get_message` (the user's token from the Redis vault, the arguments
//! decoded, the scope check, the request, the MIME body decoded and the
//! result shaped for a model) against the same HTTP request made with plain
//! reqwest (a fixed bearer token, the body read into a `serde_json::Value`),
//! both to the same local fake Gmail API, in one run.
//!
//! Also measured: the same connector with `token_reuse` zero (a Redis read
//! on every call), and `OAuthEngine::access` alone.
//!
//! `cargo bench -p connector-google --bench direct_call`. Prints the median
//! latency of each and the ratio (target: at most 1.10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::oauth::{EngineOptions, OAuthEngine, OAuthProvider};
use connector_core::vault::{Keyring, RedisStore, TokenKey, TokenRecord, Vault, now_unix};
use connector_core::{CallContext, Connector, Secret};
use connector_google::GoogleConnector;
use connector_testkit::google::FakeGoogle;
use connector_testkit::redis::RedisServer;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USER: &str = "alice";
/// The fixture's multipart message (a text and an HTML part, an attachment).
const MESSAGE_ID: &str = "18c0a1b2c3d4e5f6";
const READONLY: &str = "https://www.googleapis.com/auth/gmail.readonly";
/// Calls of each kind per round.
const CALLS: usize = 400;
/// Rounds; each measures both kinds back to back (in alternating order), so
/// the per-round ratios cancel out slow drifts in the machine's load.
const ROUNDS: usize = 15;
/// A round stops early after this long.
const MAX_ROUND: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Framework,
    /// The connector with `token_reuse` zero: a Redis read on every call.
    FrameworkStoreRead,
    Plain,
    /// Only `OAuthEngine::access` (the token from the vault), to attribute
    /// the overhead.
    Access,
}

struct Bench {
    connector: GoogleConnector,
    connector_store_read: GoogleConnector,
    engine: OAuthEngine,
    plain: reqwest::Client,
    plain_url: String,
    token: String,
}

impl Bench {
    async fn once(&self, which: Which) -> Result<(), BoxError> {
        match which {
            Which::Framework | Which::FrameworkStoreRead => {
                let cx = CallContext::new(USER).with_timeout(Duration::from_secs(10));
                let connector = if which == Which::Framework {
                    &self.connector
                } else {
                    &self.connector_store_read
                };
                let out = connector
                    .call(&cx, "get_message", json!({"id": MESSAGE_ID}))
                    .await?;
                if out.is_error || out.structured.is_none() {
                    return Err("get_message failed".into());
                }
                std::hint::black_box(out);
            }
            Which::Plain => {
                let resp = self
                    .plain
                    .get(&self.plain_url)
                    .bearer_auth(&self.token)
                    .send()
                    .await?
                    .error_for_status()?;
                let v: Value = resp.json().await?;
                if v.get("id").and_then(Value::as_str) != Some(MESSAGE_ID) {
                    return Err("unexpected message".into());
                }
                std::hint::black_box(v);
            }
            Which::Access => {
                let record = self.engine.access(USER, "google", None).await?;
                std::hint::black_box(record);
            }
        }
        Ok(())
    }

    /// Per-call latencies of `CALLS` sequential calls.
    async fn measure(&self, which: Which) -> Result<Vec<Duration>, BoxError> {
        let started = Instant::now();
        let mut out = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let t = Instant::now();
            self.once(which).await?;
            out.push(t.elapsed());
            if started.elapsed() > MAX_ROUND {
                break;
            }
        }
        Ok(out)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn record(token: &str) -> TokenRecord {
    let now = now_unix();
    TokenRecord {
        access_token: Secret::new(token),
        refresh_token: Some(Secret::new(format!("1//{}", "r".repeat(100)))),
        token_type: "Bearer".into(),
        scopes: vec![
            "openid".into(),
            "email".into(),
            READONLY.into(),
            "https://www.googleapis.com/auth/calendar.readonly".into(),
        ],
        expires_at: Some(now + 3_600),
        issuer: Some("https://oauth2.googleapis.com".into()),
        account_label: Some("alice@example.com".into()),
        created_at: now,
        updated_at: now,
        extra: serde_json::Map::new(),
    }
}

async fn run() -> Result<(), BoxError> {
    let redis = RedisServer::spawn()?;
    let store = RedisStore::open(&redis.url(), "bench").await?;
    let (keyring, _) = Keyring::generate("bench")?;
    let vault = Vault::new(Arc::new(store), keyring);
    // A Google access token is about 200 characters.
    let token = format!("ya29.{}", "a".repeat(200));
    vault
        .save_token(&TokenKey::new("google", USER, None), &record(&token))
        .await?;
    let fake = FakeGoogle::start().await;
    fake.accept_token(&token);
    let provider = || OAuthProvider::new("google", connector_google::oauth_spec(), None);
    let engine = OAuthEngine::builder(vault.clone())
        .provider(provider()?)
        .build()?;
    let engine_store_read = OAuthEngine::builder(vault)
        .provider(provider()?)
        .options(EngineOptions {
            token_reuse: Duration::ZERO,
            ..EngineOptions::default()
        })
        .build()?;
    let connector = GoogleConnector::builder(engine.clone())
        .base_url(fake.url())
        .build()?;
    let connector_store_read = GoogleConnector::builder(engine_store_read)
        .base_url(fake.url())
        .build()?;
    let bench = Bench {
        connector,
        connector_store_read,
        engine,
        plain: reqwest::Client::new(),
        plain_url: format!(
            "{}/gmail/v1/users/me/messages/{MESSAGE_ID}?format=full",
            fake.url()
        ),
        token,
    };

    // The plain request is the very request the connector makes.
    bench.once(Which::Framework).await?;
    let seen = fake.requests();
    let last = seen.last().ok_or("the fake saw no request")?;
    let query: Vec<String> = last.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let framework_url = format!("{}{}?{}", fake.url(), last.path, query.join("&"));
    if framework_url != bench.plain_url {
        return Err(format!(
            "the baseline differs: {framework_url} vs {}",
            bench.plain_url
        )
        .into());
    }
    // Warm up both (connections, caches).
    for _ in 0..200 {
        bench.once(Which::Framework).await?;
        bench.once(Which::FrameworkStoreRead).await?;
        bench.once(Which::Plain).await?;
    }

    println!(
        "Direct call: GoogleConnector get_message (Redis vault, decode, request, shape) vs plain reqwest GET, same fake"
    );
    let mut ratios = Vec::with_capacity(ROUNDS);
    let mut all_framework = Vec::new();
    let mut all_plain = Vec::new();
    let mut all_access = Vec::new();
    let mut all_store_read = Vec::new();
    let mut ratios_r = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 {
            [
                Which::Framework,
                Which::Plain,
                Which::FrameworkStoreRead,
                Which::Access,
            ]
        } else {
            [
                Which::Access,
                Which::FrameworkStoreRead,
                Which::Plain,
                Which::Framework,
            ]
        };
        let mut framework = Vec::new();
        let mut store_read = Vec::new();
        let mut plain = Vec::new();
        let mut access = Vec::new();
        for which in order {
            let lat = bench.measure(which).await?;
            match which {
                Which::Framework => framework = lat,
                Which::FrameworkStoreRead => store_read = lat,
                Which::Plain => plain = lat,
                Which::Access => access = lat,
            }
        }
        all_framework.extend_from_slice(&framework);
        all_plain.extend_from_slice(&plain);
        all_access.extend_from_slice(&access);
        all_store_read.extend_from_slice(&store_read);
        let (f, p, a, r) = (
            median(framework),
            median(plain),
            median(access),
            median(store_read),
        );
        let ratio = f.as_secs_f64() / p.as_secs_f64();
        let ratio_r = r.as_secs_f64() / p.as_secs_f64();
        println!(
            "round {round:2}: framework {:6.1} µs | plain {:6.1} µs | ratio {ratio:.3} | store read every call {:6.1} µs, ratio {ratio_r:.3} | token alone {:5.1} µs",
            f.as_secs_f64() * 1e6,
            p.as_secs_f64() * 1e6,
            r.as_secs_f64() * 1e6,
            a.as_secs_f64() * 1e6
        );
        ratios.push(ratio);
        ratios_r.push(ratio_r);
    }
    if !fake.violations().is_empty() {
        return Err(format!("the fake saw bad requests: {:?}", fake.violations()).into());
    }
    let (f, p, a) = (median(all_framework), median(all_plain), median(all_access));
    println!(
        "median: framework {:.1} µs | plain {:.1} µs | overhead {:.1} µs (token alone {:.1} µs) | ratio (median of rounds) {:.3} (target <= 1.10)",
        f.as_secs_f64() * 1e6,
        p.as_secs_f64() * 1e6,
        (f.as_secs_f64() - p.as_secs_f64()) * 1e6,
        a.as_secs_f64() * 1e6,
        median_f(ratios)
    );
    let r = median(all_store_read);
    println!(
        "store read every call (token_reuse 0): {:.1} µs | ratio (median of rounds) {:.3}",
        r.as_secs_f64() * 1e6,
        median_f(ratios_r)
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}
