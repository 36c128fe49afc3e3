//! Concurrent refreshes: exactly one request reaches the token endpoint.

use std::time::Duration;

use connector_core::oauth::OAuthEngine;
use connector_core::vault::Vault;

use super::*;

/// 50 concurrent `access()` calls on a due token, spread over `engines`
/// (each its own vault instance over one store), make exactly one refresh.
pub async fn fifty_concurrent_access(engines: Vec<OAuthEngine>, fake: &FakeOAuthServer) {
    fake.set_access_token_lifetime(Duration::from_secs(30));
    connect(&engines[0], fake, "alice").await;
    fake.set_access_token_lifetime(Duration::from_secs(3600));
    // Widen the race: the refresh takes a while.
    fake.set_token_delay(Duration::from_millis(300));
    let before = fake.counters();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let engine = engines[i % engines.len()].clone();
        tasks.spawn(async move { engine.access("alice", PROVIDER, None).await });
    }
    let mut tokens = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Some(r) = tokio::time::timeout_at(deadline, tasks.join_next())
        .await
        .unwrap()
    {
        let record = r.unwrap().unwrap();
        tokens.insert(record.access_token.expose().to_owned());
    }
    let after = fake.counters();
    assert_eq!(
        after.refreshes - before.refreshes,
        1,
        "exactly one refresh request"
    );
    assert_eq!(after.invalid_grants, before.invalid_grants);
    assert_eq!(tokens.len(), 1, "every caller got the one refreshed token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_access_one_engine_memory() {
    let fake = fake_server(connector_core::ClientAuthMethod::ClientSecretBasic).await;
    let engine = engine(Vault::in_memory().unwrap(), &fake, fast_options());
    fifty_concurrent_access(vec![engine], &fake).await;
}
