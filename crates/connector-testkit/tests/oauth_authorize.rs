//! `GET /authorize`: RFC 6749 §4.1.1-§4.1.2.1 and RFC 7636 §4.3.

use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn binds_loopback_only() {
    let server = FakeOAuthServer::start().await;
    let url = url::Url::parse(&server.url()).unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    assert!(url.port().is_some());
    assert_eq!(server.token_url(), format!("{}/token", server.url()));
    assert_eq!(
        server.authorize_url(),
        format!("{}/authorize", server.url())
    );
    assert_eq!(server.revocation_url(), format!("{}/revoke", server.url()));
    assert_eq!(server.userinfo_url(), format!("{}/userinfo", server.url()));
}

#[tokio::test]
async fn approves_with_a_fresh_code_and_the_state() {
    let server = server().await;
    let pkce = pkce();
    let callback = server
        .approve(&authorization_url(&server, BASIC_ID, &pkce, &[]))
        .await
        .unwrap();
    assert_eq!(
        callback.as_str().split('?').next(),
        Some(REDIRECT),
        "{callback}"
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st-1"));
    let code = query_param(&callback, "code").unwrap();
    // At least 128 bits of randomness, and never twice the same.
    assert!(code.len() >= 22, "{code}");
    let again = query_param(
        &server
            .approve(&authorization_url(&server, BASIC_ID, &pkce, &[]))
            .await
            .unwrap(),
        "code",
    )
    .unwrap();
    assert_ne!(code, again);
    assert_eq!(server.issued_secrets(), vec![code, again]);
    assert_eq!(server.counters().authorize, 2);
}

#[tokio::test]
async fn answers_302_with_location_and_no_store() {
    let server = server().await;
    let response = http()
        .get(authorization_url(&server, BASIC_ID, &pkce(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(response.headers().contains_key("location"));
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn keeps_the_query_of_the_registered_redirect_uri() {
    let server = FakeOAuthServer::start().await;
    let redirect = "http://127.0.0.1:9/cb?tenant=a%20b";
    server.register_client(ClientConfig::public("q", redirect));
    let pkce = pkce();
    let mut url = url::Url::parse(&server.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "q")
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "s");
    let callback = server.approve(url.as_str()).await.unwrap();
    assert_eq!(query_param(&callback, "tenant").as_deref(), Some("a b"));
    assert!(query_param(&callback, "code").is_some());
    assert_eq!(query_param(&callback, "state").as_deref(), Some("s"));
}

#[tokio::test]
async fn refuses_without_redirecting_for_an_unknown_client() {
    let server = server().await;
    let error = server
        .approve(&authorization_url(&server, "nobody", &pkce(), &[]))
        .await
        .unwrap_err();
    assert!(
        error.contains("400") && error.contains("client_id"),
        "{error}"
    );
    assert!(server.issued_secrets().is_empty());
}

#[tokio::test]
async fn refuses_without_redirecting_unless_the_redirect_uri_matches_exactly() {
    let server = server().await;
    let pkce = pkce();
    for bad in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/Callback",
        "http://localhost:9/callback",
        "http://127.0.0.1:10/callback",
        "https://127.0.0.1:9/callback",
    ] {
        let url = authorization_url(&server, BASIC_ID, &pkce, &[])
            .replace(&url_encode(REDIRECT), &url_encode(bad));
        assert!(url.contains(&url_encode(bad)), "{url}");
        let error = server.approve(&url).await.unwrap_err();
        assert!(error.contains("redirect_uri"), "{bad}: {error}");
    }
    // Missing redirect_uri: refused too (no default even with one registered).
    let url = authorization_url(&server, BASIC_ID, &pkce, &[])
        .replace(&format!("redirect_uri={}&", url_encode(REDIRECT)), "");
    let error = server.approve(&url).await.unwrap_err();
    assert!(error.contains("redirect_uri"), "{error}");
    assert!(server.issued_secrets().is_empty());
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Replaces or removes one parameter of a valid request and returns the error
/// the server redirected with (asserting the state came back when sent).
async fn redirect_error(server: &FakeOAuthServer, edit: &[(&str, Option<&str>)]) -> String {
    let pkce = pkce();
    let valid = authorization_url(server, BASIC_ID, &pkce, &[]);
    let mut url = url::Url::parse(&valid).unwrap();
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for (name, value) in edit {
        pairs.retain(|(k, _)| k != name);
        if let Some(value) = value {
            pairs.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    url.query_pairs_mut().clear().extend_pairs(pairs.iter());
    let callback = server.approve(url.as_str()).await.unwrap();
    assert!(callback.as_str().starts_with(REDIRECT), "{callback}");
    assert!(query_param(&callback, "code").is_none(), "{callback}");
    let sent_state = pairs.iter().any(|(k, _)| k == "state");
    assert_eq!(query_param(&callback, "state").is_some(), sent_state);
    assert!(query_param(&callback, "error_description").is_some());
    query_param(&callback, "error").unwrap()
}

#[tokio::test]
async fn requires_pkce_s256() {
    let server = server().await;
    let missing_method = redirect_error(&server, &[("code_challenge_method", None)]).await;
    assert_eq!(missing_method, "invalid_request");
    let plain = redirect_error(&server, &[("code_challenge_method", Some("plain"))]).await;
    assert_eq!(plain, "invalid_request");
    let lower = redirect_error(&server, &[("code_challenge_method", Some("s256"))]).await;
    assert_eq!(lower, "invalid_request");
    let no_challenge = redirect_error(&server, &[("code_challenge", None)]).await;
    assert_eq!(no_challenge, "invalid_request");
    // A plain verifier sent as the challenge is not a SHA-256 digest.
    let verifier_as_challenge =
        redirect_error(&server, &[("code_challenge", Some(&pkce().verifier[..40]))]).await;
    assert_eq!(verifier_as_challenge, "invalid_request");
    assert!(server.issued_secrets().is_empty());
}

#[tokio::test]
async fn requires_response_type_code_and_state() {
    let server = server().await;
    assert_eq!(
        redirect_error(&server, &[("response_type", Some("token"))]).await,
        "unsupported_response_type"
    );
    assert_eq!(
        redirect_error(&server, &[("response_type", None)]).await,
        "invalid_request"
    );
    assert_eq!(
        redirect_error(&server, &[("state", None)]).await,
        "invalid_request"
    );
    assert_eq!(
        redirect_error(&server, &[("scope", Some("a  b"))]).await,
        "invalid_scope"
    );
    assert!(server.issued_secrets().is_empty());
}

#[tokio::test]
async fn refuses_repeated_parameters() {
    let server = server().await;
    let pkce = pkce();
    let url = authorization_url(&server, BASIC_ID, &pkce, &[("scope", "a"), ("scope", "b")]);
    let callback = server.approve(&url).await.unwrap();
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    let url = authorization_url(&server, BASIC_ID, &pkce, &[("client_id", BASIC_ID)]);
    let error = server.approve(&url).await.unwrap_err();
    assert!(error.contains("client_id"), "{error}");
}

#[tokio::test]
async fn deny_next_authorization_denies_once() {
    let server = server().await;
    server.deny_next_authorization();
    let pkce = pkce();
    let denied = server
        .approve(&authorization_url(&server, BASIC_ID, &pkce, &[]))
        .await
        .unwrap();
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&denied, "state").as_deref(), Some("st-1"));
    assert!(query_param(&denied, "code").is_none());
    let approved = server
        .approve(&authorization_url(&server, BASIC_ID, &pkce, &[]))
        .await
        .unwrap();
    assert!(query_param(&approved, "code").is_some(), "{approved}");
}

#[tokio::test]
async fn approve_refuses_foreign_urls() {
    let server = server().await;
    let error = server
        .approve("http://127.0.0.1:9/authorize?client_id=x")
        .await
        .unwrap_err();
    assert!(error.contains("this server"), "{error}");
}

#[tokio::test]
async fn partial_consent_grants_the_intersection() {
    let server = server().await;
    server.set_granted_scopes(Some(vec!["read".to_owned(), "admin".to_owned()]));
    let answer = tokens(&server, BASIC, Some("read write")).await;
    assert_eq!(answer.str("scope"), "read");
    let info = userinfo(&server, &answer.str("access_token")).await;
    assert_eq!(info.json["scopes"], serde_json::json!(["read"]));

    server.set_granted_scopes(None);
    let answer = tokens(&server, BASIC, Some("read write")).await;
    assert_eq!(answer.str("scope"), "read write");
}
