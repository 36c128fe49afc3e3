//! Fault injection and lifecycle of the fake server.

use std::time::{Duration, Instant};

use connector_testkit::oauth_server::FakeOAuthServer;
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn fail_next_token_requests_answers_non_json_then_recovers() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    server.fail_next_token_requests(2, 503);
    for _ in 0..2 {
        let answer = refresh(&server, BASIC, &first.str("refresh_token")).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(answer.json.is_null(), "not JSON: {}", answer.text);
    }
    // The failures did not touch the refresh token.
    let answer = refresh(&server, BASIC, &first.str("refresh_token")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let counters = server.counters();
    assert_eq!(counters.token_requests, 4);
    assert_eq!(counters.refreshes, 1);
    assert_eq!(counters.refresh_successes, 1);
}

#[tokio::test]
async fn token_delay_delays_every_answer() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    server.set_token_delay(Duration::from_millis(300));
    let started = Instant::now();
    let answer = refresh(&server, BASIC, &first.str("refresh_token")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.set_token_delay(Duration::ZERO);
    let started = Instant::now();
    let _ = refresh(&server, BASIC, &answer.str("refresh_token")).await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn a_client_that_gives_up_during_the_delay_has_still_rotated() {
    let server = server().await;
    let first = tokens(&server, BASIC, None).await;
    server.set_token_delay(Duration::from_secs(5));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let lost = impatient
        .post(server.token_url())
        .basic_auth(BASIC_ID, Some(SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first.str("refresh_token")),
        ])
        .send()
        .await;
    assert!(lost.unwrap_err().is_timeout());
    assert!(!server.is_active(&first.str("refresh_token")));
}

#[tokio::test]
async fn keep_alive_requests_are_fast() {
    // A latency guard for keep-alive connections. The server sets
    // TCP_NODELAY against Nagle/delayed-ACK stalls (~40 ms per answer); on
    // this loopback hyper answers in one segment, so this test passes
    // without it too and does not prove that the option is set.
    let server = server().await;
    let client = http();
    let started = Instant::now();
    for _ in 0..20 {
        let response = client.get(server.userinfo_url()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let server = FakeOAuthServer::start().await;
    let clone = server.clone();
    let url = server.userinfo_url();
    drop(server);
    // A clone keeps it alive.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert!(client.get(&url).send().await.is_ok());
    drop(clone);
    let mut stopped = false;
    for _ in 0..100 {
        if client.get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stopped, "server still answering after drop");
}
