//! `GET /userinfo`: bearer tokens per RFC 6750 §2.1 and §3.

use std::time::Duration;

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn a_valid_token_shows_the_subject() {
    let server = server().await;
    let pkce = pkce();
    let url = authorization_url(
        &server,
        BASIC_ID,
        &pkce,
        &[("login_hint", "alice"), ("scope", "read")],
    );
    let callback = server.approve(&url).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let answer = exchange(&server, BASIC, &code, &pkce).await;
    let info = userinfo(&server, &answer.str("access_token")).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.str("sub"), "alice");
    assert_eq!(info.str("email"), "alice@example.test");
    assert_eq!(info.json["scopes"], serde_json::json!(["read"]));

    let default = tokens(&server, BASIC, None).await;
    let info = userinfo(&server, &default.str("access_token")).await;
    assert_eq!(info.str("sub"), "user-1");
    assert_eq!(info.json["scopes"], serde_json::json!([]));
    assert_eq!(server.counters().userinfo, 2);
}

#[tokio::test]
async fn no_token_gets_a_bare_bearer_challenge() {
    let server = server().await;
    let response = http().get(server.userinfo_url()).send().await.unwrap();
    let answer = answer(response).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"fake\"")
    );
    // Another scheme counts as no credentials.
    let response = http()
        .get(server.userinfo_url())
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer_header(response).await.as_deref(),
        Some("Bearer realm=\"fake\"")
    );
    // The token in the query string is not accepted either.
    let token = tokens(&server, BASIC, None).await.str("access_token");
    let response = http()
        .get(format!("{}?access_token={token}", server.userinfo_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn answer_header(response: reqwest::Response) -> Option<String> {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    answer(response).await.header("www-authenticate")
}

#[track_caller]
fn assert_invalid_token(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    let challenge = answer.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn an_expired_token_is_invalid_token() {
    let server = server().await;
    server.set_access_token_lifetime(Duration::ZERO);
    let answer = tokens(&server, BASIC, None).await;
    assert_eq!(answer.json["expires_in"], 0);
    let info = userinfo(&server, &answer.str("access_token")).await;
    assert_invalid_token(&info);
    assert!(info.header("www-authenticate").unwrap().contains("expired"));
    // Refreshing gives a working token once the lifetime is back.
    server.set_access_token_lifetime(Duration::from_secs(120));
    let fresh = refresh(&server, BASIC, &answer.str("refresh_token")).await;
    assert_eq!(fresh.json["expires_in"], 120);
    assert_eq!(
        userinfo(&server, &fresh.str("access_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn expire_access_tokens_expires_every_issued_token() {
    let server = server().await;
    let a = tokens(&server, BASIC, None).await;
    let b = tokens(&server, PUBLIC, None).await;
    server.expire_access_tokens();
    assert_invalid_token(&userinfo(&server, &a.str("access_token")).await);
    assert_invalid_token(&userinfo(&server, &b.str("access_token")).await);
    // Refresh tokens still work, and new access tokens are valid.
    let fresh = refresh(&server, BASIC, &a.str("refresh_token")).await;
    assert_eq!(
        userinfo(&server, &fresh.str("access_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_tokens_and_refresh_tokens_are_invalid_token() {
    let server = server().await;
    let answer = tokens(&server, BASIC, None).await;
    assert_invalid_token(&userinfo(&server, "at_made_up").await);
    assert_invalid_token(&userinfo(&server, &answer.str("refresh_token")).await);
}
