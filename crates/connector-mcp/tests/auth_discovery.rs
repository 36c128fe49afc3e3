//! Discovery orders and refusals against the strict fake AS and a fake
//! protected resource, over real HTTP on 127.0.0.1.

use connector_core::ErrorKind;
use connector_mcp::BearerChallenge;
use connector_mcp::auth::{Discoverer, DiscoveryOptions};
use connector_testkit::oauth_server::{FakeOAuthServer, OpenIdDiscovery};
use url::Url;

use crate::auth_support::*;

async fn discover(
    env: &Env,
    challenge: Option<&BearerChallenge>,
) -> connector_mcp::auth::Discovery {
    Discoverer::new(allow_private())
        .unwrap()
        .discover(&Url::parse(&env.rs.url()).unwrap(), challenge)
        .await
        .unwrap()
}

fn challenge_for(env: &Env, path: &str) -> BearerChallenge {
    BearerChallenge {
        resource_metadata: Some(format!("{}{path}", env.rs.base())),
        ..BearerChallenge::default()
    }
}

#[tokio::test]
async fn challenge_resource_metadata_comes_first() {
    let env = Env::new(RsConfig {
        prm: PrmAt::Challenge("/custom/prm".into()),
        ..RsConfig::default()
    })
    .await;
    let d = discover(&env, Some(&challenge_for(&env, "/custom/prm"))).await;
    assert_eq!(env.rs.paths(), vec!["/custom/prm"]);
    assert_eq!(d.resource(), env.rs.resource());
    assert_eq!(d.issuer(), env.auth_server.issuer());
    assert_eq!(
        env.auth_server.mcp_counters().metadata_requests,
        vec!["/.well-known/oauth-authorization-server"]
    );
}

#[tokio::test]
async fn well_known_fallback_path_then_root() {
    let env = Env::new(RsConfig {
        prm: PrmAt::RootWellKnown,
        ..RsConfig::default()
    })
    .await;
    discover(&env, None).await;
    assert_eq!(
        env.rs.paths(),
        vec![
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );
    let env = Env::new(RsConfig {
        prm: PrmAt::PathWellKnown,
        ..RsConfig::default()
    })
    .await;
    discover(&env, None).await;
    assert_eq!(
        env.rs.paths(),
        vec!["/.well-known/oauth-protected-resource/mcp"]
    );
}

#[tokio::test]
async fn a_challenged_metadata_url_on_another_origin_is_ignored() {
    let env = Env::new(RsConfig {
        prm: PrmAt::PathWellKnown,
        ..RsConfig::default()
    })
    .await;
    // Another origin (a different port): never fetched.
    let other = FakeOAuthServer::start().await;
    let challenge = BearerChallenge {
        resource_metadata: Some(format!(
            "{}/.well-known/oauth-protected-resource",
            other.url()
        )),
        ..BearerChallenge::default()
    };
    discover(&env, Some(&challenge)).await;
    assert_eq!(
        env.rs.paths(),
        vec!["/.well-known/oauth-protected-resource/mcp"]
    );
    assert!(other.mcp_counters().metadata_requests.is_empty());
    // A same-origin one that is missing falls back to the well-known URLs.
    let missing = challenge_for(&env, "/nope");
    let env2 = Env::new(RsConfig {
        prm: PrmAt::RootWellKnown,
        ..RsConfig::default()
    })
    .await;
    let missing2 = BearerChallenge {
        resource_metadata: Some(format!("{}/nope", env2.rs.base())),
        ..missing
    };
    discover(&env2, Some(&missing2)).await;
    assert_eq!(
        env2.rs.paths(),
        vec![
            "/nope",
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );
}

#[tokio::test]
async fn issuer_with_a_path_tries_the_three_urls_in_order() {
    let env = Env::new(RsConfig::default()).await;
    env.auth_server.set_issuer_path(Some("tenant1"));
    env.auth_server.set_oauth_metadata(false);
    env.auth_server
        .set_openid_discovery(OpenIdDiscovery::Appended);
    let d = discover(&env, Some(&challenge_for(&env, "/prm"))).await;
    assert_eq!(d.issuer(), format!("{}/tenant1", env.auth_server.url()));
    assert_eq!(
        env.auth_server.mcp_counters().metadata_requests,
        vec![
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration",
        ]
    );
}

#[tokio::test]
async fn issuer_without_a_path_tries_oauth_then_openid() {
    let env = Env::new(RsConfig::default()).await;
    env.auth_server.set_oauth_metadata(false);
    env.auth_server
        .set_openid_discovery(OpenIdDiscovery::Inserted);
    discover(&env, Some(&challenge_for(&env, "/prm"))).await;
    assert_eq!(
        env.auth_server.mcp_counters().metadata_requests,
        vec![
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ]
    );
}

async fn discover_err(env: &Env, options: DiscoveryOptions) -> connector_core::Error {
    Discoverer::new(options)
        .unwrap()
        .discover(
            &Url::parse(&env.rs.url()).unwrap(),
            Some(&challenge_for(env, "/prm")),
        )
        .await
        .unwrap_err()
}

#[tokio::test]
async fn issuer_mismatch_is_refused() {
    let env = Env::new(RsConfig::default()).await;
    env.auth_server
        .set_metadata_issuer_override(Some("https://evil.example".into()));
    let e = discover_err(&env, allow_private()).await;
    assert!(e.to_string().contains("another issuer"), "{e}");
}

#[tokio::test]
async fn no_s256_is_refused() {
    let env = Env::new(RsConfig::default()).await;
    env.auth_server.set_code_challenge_methods(None);
    let e = discover_err(&env, allow_private()).await;
    assert!(e.to_string().contains("S256"), "{e}");
    env.auth_server
        .set_code_challenge_methods(Some(vec!["plain".into()]));
    let e = discover_err(&env, allow_private()).await;
    assert!(e.to_string().contains("S256"), "{e}");
    // And the whole flow refuses before sending the user anywhere.
    let (creds, browser) = env.interactive("alice");
    let e = call(&creds, &env.rs.url()).await.unwrap_err();
    assert!(e.to_string().contains("S256"), "{e}");
    assert_eq!(browser.count(), 0);
    assert_eq!(env.auth_server.counters().authorize, 0);
}

#[tokio::test]
async fn resource_for_another_server_is_refused() {
    let env = Env::new(RsConfig {
        resource: Some("http://127.0.0.1:1/elsewhere".into()),
        ..RsConfig::default()
    })
    .await;
    let e = discover_err(&env, allow_private()).await;
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert!(e.to_string().contains("another resource"), "{e}");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let env = Env::new(RsConfig::default()).await;
    let e = discover_err(&env, DiscoveryOptions::default()).await;
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("allow_private_addresses"), "{e}");
    assert!(env.rs.paths().is_empty(), "nothing was fetched");
    // Metadata that points at a private endpoint is refused too: a resource
    // whose document names an issuer on a link-local address.
    let d = Discoverer::new(DiscoveryOptions::default()).unwrap();
    let e = d
        .authorization_server("https://169.254.169.254/")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("allow_private_addresses"), "{e}");
    let e = d
        .authorization_server("http://localhost:1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("allow_private_addresses"), "{e}");
    let e = d
        .authorization_server("http://example.com")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("plain http"), "{e}");
}
