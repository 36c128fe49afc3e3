//! Providers added at run time and extra token parameters (RFC 8707
//! `resource` on the code exchange and every refresh).

use connector_core::oauth::{OAuthEngine, OAuthProvider};
use connector_core::vault::Vault;
use connector_core::{ClientAuthMethod, ErrorKind};

use super::*;

const RESOURCE: &str = "https://mcp.example.test/mcp";

fn mcp_provider(fake: &FakeOAuthServer, token_params: bool) -> OAuthProvider {
    let mut p = provider_for(fake, ClientAuthMethod::ClientSecretBasic);
    p.id = "mcp_runtime".into();
    p.spec.default_scopes = Vec::new();
    p.spec.extra_authorize_params = vec![("resource".into(), RESOURCE.into())];
    if token_params {
        p.spec.extra_token_params = vec![("resource".into(), RESOURCE.into())];
    }
    p
}

async fn connect_to(
    engine: &OAuthEngine,
    fake: &FakeOAuthServer,
    provider: &str,
) -> Result<(), connector_core::Error> {
    let req = engine.begin("u", provider, &[], None).await?;
    let callback = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    engine.handle_callback(&params, Some("u")).await.map(|_| ())
}

#[tokio::test]
async fn a_provider_added_at_run_time_runs_the_whole_cycle_with_the_resource() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.require_resource(true);
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .options(fast_options())
        .build()
        .unwrap();
    assert!(engine.provider("mcp_runtime").is_err());
    engine.add_provider(mcp_provider(&fake, true)).unwrap();
    // The same again is fine; a different one under the same id is not.
    engine.add_provider(mcp_provider(&fake, true)).unwrap();
    assert!(engine.add_provider(mcp_provider(&fake, false)).is_err());
    assert_eq!(engine.provider_ids(), vec!["mcp_runtime".to_owned()]);

    connect_to(&engine, &fake, "mcp_runtime").await.unwrap();
    let record = engine.access("u", "mcp_runtime", None).await.unwrap();
    let info = fake.token_info(record.access_token.expose()).unwrap();
    assert_eq!(info.resource.as_deref(), Some(RESOURCE));
    // A refresh carries the resource too (the fake requires it).
    let refreshed = engine.refresh("u", "mcp_runtime", None).await.unwrap();
    assert_ne!(refreshed.access_token, record.access_token);
    assert_eq!(fake.counters().refresh_successes, 1);
}

#[tokio::test]
async fn without_extra_token_params_the_strict_server_refuses_the_exchange() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    fake.require_resource(true);
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .options(fast_options())
        .build()
        .unwrap();
    engine.add_provider(mcp_provider(&fake, false)).unwrap();
    let e = connect_to(&engine, &fake, "mcp_runtime").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert!(e.to_string().contains("invalid_target"), "{e}");
}

#[tokio::test]
async fn ensure_provider_replaces_and_pending_provider_peeks() {
    let fake = fake_server(ClientAuthMethod::ClientSecretBasic).await;
    let engine = engine(Vault::in_memory().unwrap(), &fake, fast_options());
    let a = engine.ensure_provider(mcp_provider(&fake, false)).unwrap();
    let b = engine.ensure_provider(mcp_provider(&fake, false)).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "unchanged: the same provider");
    let c = engine.ensure_provider(mcp_provider(&fake, true)).unwrap();
    assert_eq!(c.spec.extra_token_params.len(), 1);
    assert_eq!(
        engine
            .provider("mcp_runtime")
            .unwrap()
            .spec
            .extra_token_params
            .len(),
        1
    );
    // Endpoints are checked as at build time.
    let mut bad = mcp_provider(&fake, true);
    bad.spec.token_url = "http://example.com/token".into();
    assert!(engine.ensure_provider(bad).is_err());

    let req = engine.begin("u", "mcp_runtime", &[], None).await.unwrap();
    assert_eq!(
        engine
            .pending_provider(&req.state)
            .await
            .unwrap()
            .as_deref(),
        Some("mcp_runtime")
    );
    // Peeking does not consume: the flow still completes.
    let callback = fake.approve(req.url.as_str()).await.unwrap();
    let params = CallbackParams::from_query(callback.query().unwrap_or(""));
    engine.handle_callback(&params, Some("u")).await.unwrap();
    assert_eq!(engine.pending_provider(&req.state).await.unwrap(), None);
    assert_eq!(engine.pending_provider("").await.unwrap(), None);
}
