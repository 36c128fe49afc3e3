//! The MCP-facing side of the fake server: RFC 8414 / OpenID metadata,
//! dynamic registration (RFC 7591), client ID metadata documents, resource
//! indicators (RFC 8707) and `token_info`.

use axum::routing::get;
use connector_testkit::oauth_server::{FakeOAuthServer, OpenIdDiscovery};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const RESOURCE: &str = "https://mcp.example.test/mcp";

async fn get_json(url: &str) -> Answer {
    answer(http().get(url).send().await.unwrap()).await
}

#[tokio::test]
async fn rfc8414_metadata_at_the_root_by_default() {
    let server = FakeOAuthServer::start().await;
    let doc = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.url()
    ))
    .await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    assert_eq!(doc.str("issuer"), server.issuer());
    assert_eq!(doc.str("issuer"), server.url());
    assert_eq!(doc.str("authorization_endpoint"), server.authorize_url());
    assert_eq!(doc.str("token_endpoint"), server.token_url());
    assert_eq!(doc.str("registration_endpoint"), server.registration_url());
    assert_eq!(
        doc.json["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert!(
        doc.json
            .get("client_id_metadata_document_supported")
            .is_none()
    );
    // No OpenID document unless asked for.
    let oidc = get_json(&format!(
        "{}/.well-known/openid-configuration",
        server.url()
    ))
    .await;
    assert_eq!(oidc.status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.mcp_counters().metadata_requests,
        vec![
            "/.well-known/oauth-authorization-server".to_owned(),
            "/.well-known/openid-configuration".to_owned()
        ]
    );
}

#[tokio::test]
async fn issuer_path_and_openid_variants() {
    let server = FakeOAuthServer::start().await;
    server.set_issuer_path(Some("tenant1"));
    assert_eq!(server.issuer(), format!("{}/tenant1", server.url()));
    let base = server.url();
    let inserted = format!("{base}/.well-known/oauth-authorization-server/tenant1");
    assert_eq!(get_json(&inserted).await.str("issuer"), server.issuer());
    // The root document is gone once the issuer has a path.
    let root = format!("{base}/.well-known/oauth-authorization-server");
    assert_eq!(get_json(&root).await.status, StatusCode::NOT_FOUND);

    server.set_oauth_metadata(false);
    server.set_openid_discovery(OpenIdDiscovery::Inserted);
    assert_eq!(get_json(&inserted).await.status, StatusCode::NOT_FOUND);
    let oidc = get_json(&format!("{base}/.well-known/openid-configuration/tenant1")).await;
    assert_eq!(oidc.str("issuer"), server.issuer());
    assert_eq!(oidc.str("userinfo_endpoint"), server.userinfo_url());

    server.set_openid_discovery(OpenIdDiscovery::Appended);
    let appended = get_json(&format!("{base}/tenant1/.well-known/openid-configuration")).await;
    assert_eq!(appended.str("issuer"), server.issuer());
}

#[tokio::test]
async fn metadata_toggles() {
    let server = FakeOAuthServer::start().await;
    server.set_code_challenge_methods(None);
    server.set_dynamic_registration(false);
    server.set_client_id_metadata_documents(true);
    server.set_metadata_issuer_override(Some("https://evil.example".into()));
    server.set_scopes_supported(Some(vec!["read".into()]));
    let doc = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.url()
    ))
    .await;
    assert!(doc.json.get("code_challenge_methods_supported").is_none());
    assert!(doc.json.get("registration_endpoint").is_none());
    assert_eq!(doc.json["client_id_metadata_document_supported"], true);
    assert_eq!(doc.str("issuer"), "https://evil.example");
    assert_eq!(doc.json["scopes_supported"], json!(["read"]));
    let reg = http()
        .post(server.registration_url())
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), StatusCode::NOT_FOUND);
}

async fn register(server: &FakeOAuthServer, body: Value) -> Answer {
    answer(
        http()
            .post(server.registration_url())
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn dynamic_registration_public_and_confidential() {
    let server = FakeOAuthServer::start().await;
    let public = register(
        &server,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "client_name": "test"}),
    )
    .await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.text);
    assert!(public.json.get("client_secret").is_none());
    assert_eq!(public.str("client_name"), "test");
    let id = public.str("client_id");
    assert!(server.client(&id).is_some());
    // The registered client can run the whole flow.
    let leaked: &'static str = Box::leak(id.into_boxed_str());
    tokens(&server, As::Public(leaked), Some("read")).await;

    let confidential = register(
        &server,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    assert_eq!(confidential.status, StatusCode::CREATED);
    let secret = confidential.str("client_secret");
    assert_eq!(confidential.json["client_secret_expires_at"], 0);
    let id: &'static str = Box::leak(confidential.str("client_id").into_boxed_str());
    let secret: &'static str = Box::leak(secret.into_boxed_str());
    tokens(&server, As::Basic(id, secret), None).await;
    let c = server.mcp_counters();
    assert_eq!((c.registrations, c.registration_requests), (2, 2));
}

#[tokio::test]
async fn dynamic_registration_is_strict() {
    let server = FakeOAuthServer::start().await;
    for (body, error) in [
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://x.test/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["not a url"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
    ] {
        let a = register(&server, body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.text);
        assert_eq!(a.error(), error, "{body}");
    }
    let not_json = http()
        .post(server.registration_url())
        .form(&[("redirect_uris", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.mcp_counters().registrations, 0);
}

#[tokio::test]
async fn resource_must_match_in_code_exchange_and_refresh() {
    let server = server().await;
    let pkce = pkce();
    let url = authorization_url(&server, BASIC_ID, &pkce, &[("resource", RESOURCE)]);
    let callback = server.approve(&url).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    // Another resource: refused, and the code is burned.
    let mut form = base.to_vec();
    form.push(("resource", "https://other.example.test/mcp"));
    assert_oauth_error(
        &token(&server, BASIC, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_target",
    );
    // Same again with a fresh code, without the resource: refused too.
    let callback = server.approve(&url).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let mut form = base.to_vec();
    form[1] = ("code", code.as_str());
    assert_oauth_error(
        &token(&server, BASIC, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_target",
    );
    // And with it: tokens bound to the resource.
    let callback = server.approve(&url).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let mut form = base.to_vec();
    form[1] = ("code", code.as_str());
    form.push(("resource", RESOURCE));
    let ok = token(&server, BASIC, &form).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let info = server.token_info(&ok.str("access_token")).unwrap();
    assert_eq!(info.resource.as_deref(), Some(RESOURCE));
    assert_eq!(info.client_id, BASIC_ID);
    assert!(info.active);
    assert!(server.token_info("nope").is_none());

    // Refresh: the resource is required and checked, and a refusal does not
    // rotate the refresh token.
    let rt = ok.str("refresh_token");
    assert_oauth_error(
        &refresh(&server, BASIC, &rt).await,
        StatusCode::BAD_REQUEST,
        "invalid_target",
    );
    let wrong = token(
        &server,
        BASIC,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("resource", "https://x.test"),
        ],
    )
    .await;
    assert_oauth_error(&wrong, StatusCode::BAD_REQUEST, "invalid_target");
    let right = token(
        &server,
        BASIC,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("resource", RESOURCE),
        ],
    )
    .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    let info = server.token_info(&right.str("access_token")).unwrap();
    assert_eq!(info.resource.as_deref(), Some(RESOURCE));
}

#[tokio::test]
async fn require_resource_refuses_an_authorization_without_one() {
    let server = server().await;
    server.require_resource(true);
    let pkce = pkce();
    let callback = server
        .approve(&authorization_url(&server, BASIC_ID, &pkce, &[]))
        .await
        .unwrap();
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_target")
    );
    let callback = server
        .approve(&authorization_url(
            &server,
            BASIC_ID,
            &pkce,
            &[("resource", "rel/path")],
        ))
        .await
        .unwrap();
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_target")
    );
}

#[tokio::test]
async fn client_id_metadata_document_is_fetched_and_checked() {
    // The client hosts its document on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let doc_url = format!("http://{addr}/client.json");
    let bad_url = format!("http://{addr}/bad.json");
    let (d1, d2) = (doc_url.clone(), bad_url.clone());
    let app = axum::Router::new()
        .route(
            "/client.json",
            get(move || async move {
                axum::Json(
                    json!({"client_id": d1, "client_name": "c", "redirect_uris": [REDIRECT],
                                  "token_endpoint_auth_method": "none"}),
                )
            }),
        )
        .route(
            "/bad.json",
            get(move || async move {
                let _ = &d2;
                axum::Json(
                    json!({"client_id": "https://elsewhere.test/c.json", "client_name": "c",
                                  "redirect_uris": [REDIRECT]}),
                )
            }),
        );
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let server = FakeOAuthServer::start().await;
    let pkce = pkce();
    // Not advertised: an unknown URL client id is refused.
    let refused = server
        .approve(&authorization_url(&server, &doc_url, &pkce, &[]))
        .await
        .unwrap_err();
    assert!(refused.contains("unknown client_id"), "{refused}");
    server.set_client_id_metadata_documents(true);
    let err = server
        .approve(&authorization_url(&server, &bad_url, &pkce, &[]))
        .await
        .unwrap_err();
    assert!(err.contains("differs from its URL"), "{err}");
    let callback = server
        .approve(&authorization_url(&server, &doc_url, &pkce, &[]))
        .await
        .unwrap();
    let code = query_param(&callback, "code").unwrap();
    let id: &'static str = Box::leak(doc_url.clone().into_boxed_str());
    let answer = exchange(&server, As::Public(id), &code, &pkce).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // Cached: a second authorization does not fetch again.
    server
        .approve(&authorization_url(&server, &doc_url, &pkce, &[]))
        .await
        .unwrap();
    assert_eq!(server.mcp_counters().cimd_fetches, 1);
}
