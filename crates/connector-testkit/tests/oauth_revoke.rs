//! `POST /revoke` (RFC 7009).

use reqwest::StatusCode;

use crate::common::*;

async fn revoke(
    server: &connector_testkit::oauth_server::FakeOAuthServer,
    client: As,
    form: &[(&str, &str)],
) -> Answer {
    post_form(&server.revocation_url(), client, form).await
}

#[tokio::test]
async fn revoking_an_access_token_revokes_only_it() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    let answer = revoke(
        &server,
        BASIC,
        &[
            ("token", &first.str("access_token")),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        userinfo(&server, &first.str("access_token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = refresh(&server, BASIC, &first.str("refresh_token")).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_family() {
    let server = server().await;
    let first = tokens(&server, POST, None).await;
    let second = refresh(&server, POST, &first.str("refresh_token")).await;
    // A wrong hint is ignored (RFC 7009 §2.1).
    let answer = revoke(
        &server,
        POST,
        &[
            ("token", &second.str("refresh_token")),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    for access in [first.str("access_token"), second.str("access_token")] {
        assert_eq!(
            userinfo(&server, &access).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let after = refresh(&server, POST, &second.str("refresh_token")).await;
    assert_oauth_error(&after, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn unknown_tokens_are_ok_but_bad_clients_are_not() {
    let server = server().await;
    let answer = revoke(&server, PUBLIC, &[("token", "made_up")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    let bad = revoke(
        &server,
        As::Basic(BASIC_ID, "wrong"),
        &[("token", "made_up")],
    )
    .await;
    assert_oauth_error(&bad, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(bad.header("www-authenticate").unwrap().starts_with("Basic"));
    let wrong_method = revoke(&server, As::Post(BASIC_ID, SECRET), &[("token", "made_up")]).await;
    assert_oauth_error(&wrong_method, StatusCode::UNAUTHORIZED, "invalid_client");
    let missing = revoke(&server, PUBLIC, &[]).await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(server.counters().revocations, 4);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    let answer = revoke(&server, POST, &[("token", &first.str("refresh_token"))]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(server.is_active(&first.str("refresh_token")));
    assert!(server.is_active(&first.str("access_token")));
}

#[tokio::test]
async fn revocation_requires_a_form_body() {
    let server = server().await;
    let first = tokens(&server, PUBLIC, None).await;
    let response = http()
        .post(server.revocation_url())
        .json(&serde_json::json!({ "token": first.str("access_token"), "client_id": PUBLIC_ID }))
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        &answer(response).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert!(server.is_active(&first.str("access_token")));
}
