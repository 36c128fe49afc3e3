//! `grant_type=authorization_code` (RFC 6749 §4.1.3-§4.1.4, RFC 7636 §4.5-§4.6).

use std::time::Duration;

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn a_valid_exchange_answers_rfc6749_5_1() {
    let server = server().await;
    for client in [BASIC, POST, PUBLIC] {
        let answer = tokens(&server, client, Some("read write")).await;
        assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(answer.str("token_type"), "Bearer");
        assert_eq!(answer.json["expires_in"], 3600);
        assert_eq!(answer.str("scope"), "read write");
        let access = answer.str("access_token");
        let refresh = answer.str("refresh_token");
        assert_ne!(access, refresh);
        let issued = server.issued_secrets();
        assert!(issued.contains(&access) && issued.contains(&refresh));
        assert!(server.is_active(&access) && server.is_active(&refresh));
        let info = userinfo(&server, &access).await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    }
    assert_eq!(server.counters().code_exchanges, 3);
}

#[tokio::test]
async fn no_scope_requested_means_no_scope_returned() {
    let server = server().await;
    let answer = tokens(&server, PUBLIC, None).await;
    assert!(answer.json.get("scope").is_none(), "{}", answer.text);
}

#[tokio::test]
async fn the_verifier_must_hash_to_the_challenge() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, PUBLIC, &pkce, None).await;
    let other = crate::common::pkce();
    let answer = exchange(&server, PUBLIC, &code, &other).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    // The code was burned by that attempt.
    let answer = exchange(&server, PUBLIC, &code, &pkce).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn sending_the_challenge_as_verifier_fails() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, PUBLIC, &pkce, None).await;
    let plain = Pkce {
        verifier: pkce.challenge.clone(),
        challenge: String::new(),
    };
    let answer = exchange(&server, PUBLIC, &code, &plain).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn the_verifier_is_required_and_well_formed() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, PUBLIC, &pkce, None).await;
    let missing = token(
        &server,
        PUBLIC,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    for bad in ["short", &"a".repeat(129), &format!("{}!", &pkce.verifier)] {
        let bad = Pkce {
            verifier: bad.to_owned(),
            challenge: String::new(),
        };
        let answer = exchange(&server, PUBLIC, &code, &bad).await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Malformed requests did not burn the code.
    let answer = exchange(&server, PUBLIC, &code, &pkce).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn the_redirect_uri_must_equal_the_authorization_one() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, BASIC, &pkce, None).await;
    let answer = token(
        &server,
        BASIC,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback/"),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    let missing = token(
        &server,
        BASIC,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_reused_code_fails_and_revokes_its_tokens() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, BASIC, &pkce, Some("read")).await;
    let first = exchange(&server, BASIC, &code, &pkce).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let access = first.str("access_token");
    let refresh_token = first.str("refresh_token");
    assert_eq!(userinfo(&server, &access).await.status, StatusCode::OK);

    let second = exchange(&server, BASIC, &code, &pkce).await;
    assert_oauth_error(&second, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(
        userinfo(&server, &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = refresh(&server, BASIC, &refresh_token).await;
    assert_oauth_error(&refreshed, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!server.is_active(&access) && !server.is_active(&refresh_token));
    assert_eq!(server.counters().invalid_grants, 2);
}

#[tokio::test]
async fn a_code_of_another_client_fails() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, BASIC, &pkce, None).await;
    let answer = exchange(&server, POST, &code, &pkce).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    // The owner can still use it.
    let answer = exchange(&server, BASIC, &code, &pkce).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn unknown_and_expired_codes_fail() {
    let server = server().await;
    let pkce = pkce();
    let answer = exchange(&server, BASIC, "code_made_up", &pkce).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    server.set_code_lifetime(Duration::ZERO);
    let code = code(&server, BASIC, &pkce, None).await;
    let answer = exchange(&server, BASIC, &code, &pkce).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn only_form_bodies_are_accepted() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, PUBLIC, &pkce, None).await;
    let json = http()
        .post(server.token_url())
        .json(&serde_json::json!({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": pkce.verifier,
            "client_id": PUBLIC_ID,
        }))
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        &answer(json).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    let mut url = url::Url::parse(&server.token_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_verifier", &pkce.verifier)
        .append_pair("client_id", PUBLIC_ID);
    let in_query = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        &answer(in_query).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    let get = http().get(server.token_url()).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);

    // None of that burned the code.
    let answer = exchange(&server, PUBLIC, &code, &pkce).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    let server = server().await;
    let pkce = pkce();
    let code = code(&server, PUBLIC, &pkce, None).await;
    let answer = token(
        &server,
        PUBLIC,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn grant_types_other_than_code_and_refresh_are_unsupported() {
    let server = server().await;
    let answer = token(&server, BASIC, &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let answer = token(&server, BASIC, &[("code", "x")]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}
