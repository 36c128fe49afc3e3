//! Client authentication at the token endpoint (RFC 6749 §2.3.1, §5.2):
//! only the registered method is accepted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use reqwest::StatusCode;

use crate::common::*;

/// A refresh request needs no code, so it isolates client authentication.
const FORM: &[(&str, &str)] = &[("grant_type", "refresh_token"), ("refresh_token", "x")];

async fn assert_invalid_client(server: &FakeOAuthServer, client: As, basic_challenge: bool) {
    let answer = token(server, client, FORM).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    let challenge = answer.header("www-authenticate");
    if basic_challenge {
        assert!(
            challenge.as_deref().is_some_and(|c| c.starts_with("Basic")),
            "{challenge:?}"
        );
    } else {
        assert_eq!(challenge, None);
    }
}

#[tokio::test]
async fn each_client_passes_with_its_own_method() {
    let server = server().await;
    for client in [BASIC, POST, PUBLIC] {
        // Authenticated, so the answer is about the (unknown) refresh token.
        let answer = token(&server, client, FORM).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    }
}

#[tokio::test]
async fn a_basic_client_must_use_basic() {
    let server = server().await;
    assert_invalid_client(&server, As::Post(BASIC_ID, SECRET), true).await;
    assert_invalid_client(&server, As::Public(BASIC_ID), true).await;
    assert_invalid_client(&server, As::Basic(BASIC_ID, "wrong"), true).await;
    assert_invalid_client(&server, As::Basic("nobody", SECRET), true).await;
}

#[tokio::test]
async fn a_post_client_must_use_the_body() {
    let server = server().await;
    assert_invalid_client(&server, As::Basic(POST_ID, SECRET), true).await;
    assert_invalid_client(&server, As::Public(POST_ID), false).await;
    assert_invalid_client(&server, As::Post(POST_ID, "wrong"), false).await;
    assert_invalid_client(&server, As::Post("nobody", SECRET), false).await;
}

#[tokio::test]
async fn a_public_client_sends_no_secret() {
    let server = server().await;
    assert_invalid_client(&server, As::Post(PUBLIC_ID, SECRET), false).await;
    assert_invalid_client(&server, As::Basic(PUBLIC_ID, SECRET), true).await;
    assert_invalid_client(&server, As::Public("nobody"), false).await;
}

#[tokio::test]
async fn no_credentials_at_all_is_invalid_client() {
    let server = server().await;
    let response = http()
        .post(server.token_url())
        .form(FORM)
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        &answer(response).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    );
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_refused() {
    let server = server().await;
    let mut form = FORM.to_vec();
    form.push(("client_secret", SECRET));
    let answer = post_form(&server.token_url(), BASIC, &form).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_before_base64() {
    let server = FakeOAuthServer::start().await;
    let secret = "p+ss:w%rd/é";
    server.register_client(ClientConfig::basic("id:1", secret, REDIRECT));
    let send = |user: String, password: String| {
        let server = server.clone();
        async move {
            let credentials = STANDARD.encode(format!("{user}:{password}"));
            let response = http()
                .post(server.token_url())
                .header("authorization", format!("Basic {credentials}"))
                .form(FORM)
                .send()
                .await
                .unwrap();
            answer(response).await
        }
    };
    let encode =
        |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let right = send(encode("id:1"), encode(secret)).await;
    assert_oauth_error(&right, StatusCode::BAD_REQUEST, "invalid_grant");
    // The raw values, as a client that forgets the encoding sends them.
    let raw = send("id:1".to_owned(), secret.to_owned()).await;
    assert_oauth_error(&raw, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn basic_client_id_in_the_body_must_match() {
    let server = server().await;
    let mut form = FORM.to_vec();
    form.push(("client_id", POST_ID));
    let answer = post_form(&server.token_url(), BASIC, &form).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    let mut form = FORM.to_vec();
    form.push(("client_id", BASIC_ID));
    let answer = post_form(&server.token_url(), BASIC, &form).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}
