//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection.

use connector_testkit::oauth_server::Counters;
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let server = server().await;
    let first = tokens(&server, BASIC, Some("read write")).await;
    let second = refresh(&server, BASIC, &first.str("refresh_token")).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(second.str("token_type"), "Bearer");
    assert_eq!(second.str("scope"), "read write");
    assert_ne!(second.str("refresh_token"), first.str("refresh_token"));
    assert_ne!(second.str("access_token"), first.str("access_token"));
    assert_eq!(
        userinfo(&server, &second.str("access_token")).await.status,
        StatusCode::OK
    );
    // Rotation alone does not revoke the earlier access token.
    assert_eq!(
        userinfo(&server, &first.str("access_token")).await.status,
        StatusCode::OK
    );
    let third = refresh(&server, BASIC, &second.str("refresh_token")).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let server = server().await;
    let first = tokens(&server, POST, None).await;
    let second = refresh(&server, POST, &first.str("refresh_token")).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let newest_access = second.str("access_token");
    let newest_refresh = second.str("refresh_token");

    let reuse = refresh(&server, POST, &first.str("refresh_token")).await;
    assert_oauth_error(&reuse, StatusCode::BAD_REQUEST, "invalid_grant");

    let info = userinfo(&server, &newest_access).await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    assert!(
        info.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let after = refresh(&server, POST, &newest_refresh).await;
    assert_oauth_error(&after, StatusCode::BAD_REQUEST, "invalid_grant");

    // Other grants of the same client and user are untouched.
    let other = tokens(&server, POST, None).await;
    assert_eq!(
        userinfo(&server, &other.str("access_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_let_exactly_one_win() {
    let server = server().await;
    server.set_token_delay(std::time::Duration::from_millis(50));
    let first = tokens(&server, PUBLIC, None).await;
    let refresh_token = first.str("refresh_token");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let server = server.clone();
        let refresh_token = refresh_token.clone();
        tasks.push(tokio::spawn(async move {
            refresh(&server, PUBLIC, &refresh_token).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == StatusCode::OK {
            winners.push(answer);
        } else {
            assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
    assert_eq!(winners.len(), 1);
    // The losers presented a rotated token: the winner's tokens are revoked.
    assert!(!server.is_active(&winners[0].str("access_token")));
    let counters = server.counters();
    assert_eq!(counters.refreshes, 4);
    assert_eq!(counters.refresh_successes, 1);
    assert_eq!(counters.invalid_grants, 3);
}

#[tokio::test]
async fn a_narrower_scope_is_granted_a_wider_one_refused() {
    let server = server().await;
    let first = tokens(&server, BASIC, Some("read write")).await;
    let narrow = token(
        &server,
        BASIC,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first.str("refresh_token")),
            ("scope", "read"),
        ],
    )
    .await;
    assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.text);
    assert_eq!(narrow.str("scope"), "read");
    let info = userinfo(&server, &narrow.str("access_token")).await;
    assert_eq!(info.json["scopes"], serde_json::json!(["read"]));

    // The grant keeps its original scope: asking for write again is fine.
    let back = token(
        &server,
        BASIC,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &narrow.str("refresh_token")),
        ],
    )
    .await;
    assert_eq!(back.str("scope"), "read write");

    let wider = token(
        &server,
        BASIC,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &back.str("refresh_token")),
            ("scope", "read admin"),
        ],
    )
    .await;
    assert_oauth_error(&wider, StatusCode::BAD_REQUEST, "invalid_scope");
    // A refused scope does not consume the refresh token.
    let again = refresh(&server, BASIC, &back.str("refresh_token")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    let stolen = refresh(&server, POST, &first.str("refresh_token")).await;
    assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant");
    let own = refresh(&server, BASIC, &first.str("refresh_token")).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
}

#[tokio::test]
async fn unknown_refresh_tokens_and_access_tokens_as_refresh_fail() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    let unknown = refresh(&server, BASIC, "rt_made_up").await;
    assert_oauth_error(&unknown, StatusCode::BAD_REQUEST, "invalid_grant");
    let access = refresh(&server, BASIC, &first.str("access_token")).await;
    assert_oauth_error(&access, StatusCode::BAD_REQUEST, "invalid_grant");
    let missing = token(&server, BASIC, &[("grant_type", "refresh_token")]).await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn counters_count_what_was_received() {
    let server = server().await;
    assert_eq!(server.counters(), Counters::default());
    let first = tokens(&server, BASIC, None).await;
    let second = refresh(&server, BASIC, &first.str("refresh_token")).await;
    let _reuse = refresh(&server, BASIC, &first.str("refresh_token")).await;
    let _bad_client = refresh(
        &server,
        As::Basic(BASIC_ID, "wrong"),
        &second.str("refresh_token"),
    )
    .await;
    let _info = userinfo(&server, &second.str("access_token")).await;
    assert_eq!(
        server.counters(),
        Counters {
            authorize: 1,
            code_exchanges: 1,
            refreshes: 3,
            refresh_successes: 1,
            invalid_grants: 1,
            revocations: 0,
            userinfo: 1,
            token_requests: 4,
        }
    );
}
