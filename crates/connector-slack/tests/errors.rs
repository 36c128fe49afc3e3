//! `ok: false` answers, 429, missing tokens: typed errors that hold no token.

use std::time::{Duration, Instant};

use connector_core::{CallContext, Connector, ErrorKind};
use connector_slack::SlackConnector;
use serde_json::json;

use crate::common::{BOT_TOKEN, engine_with, setup, setup_bot_only};

#[tokio::test]
async fn ok_false_errors_become_typed_errors() {
    let s = setup().await;
    let cases = [
        ("channel_not_found", ErrorKind::NotFound),
        ("not_in_channel", ErrorKind::Forbidden),
        ("token_revoked", ErrorKind::NeedsReauthorization),
        ("account_inactive", ErrorKind::NeedsReauthorization),
        ("missing_scope", ErrorKind::InsufficientScope),
        ("is_archived", ErrorKind::Forbidden),
        ("brand_new_error", ErrorKind::Provider),
        // Last: it makes chat.postMessage cool down for a second.
        ("ratelimited", ErrorKind::RateLimited),
    ];
    for (code, kind) in cases {
        s.fake.fail_next("chat.postMessage", code);
        let e = s
            .err("post_message", json!({"channel": "C012AB3CD", "text": "x"}))
            .await;
        assert_eq!(e.kind(), kind, "{code}: {e}");
        assert_eq!(e.provider(), Some("slack"));
        assert!(e.to_string().contains(code), "{e}");
        assert!(!format!("{e} {e:?} {}", e.model_message()).contains(BOT_TOKEN));
    }
}

#[tokio::test]
async fn real_answers_for_unknown_and_foreign_channels() {
    let s = setup().await;
    let e = s.err("read_history", json!({"channel": "C999NOPE9"})).await;
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = s
        .err(
            "post_message",
            json!({"channel": "#outsiders", "text": "x"}),
        )
        .await;
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert!(
        e.model_message().contains("invite"),
        "{}",
        e.model_message()
    );
    let e = s
        .err("post_message", json!({"channel": "#nope", "text": "x"}))
        .await;
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.model_message().contains("nope"));
}

#[tokio::test]
async fn missing_scope_names_the_needed_scope() {
    let s = setup_bot_only(&["channels:read"]).await;
    let e = s
        .err("post_message", json!({"channel": "C012AB3CD", "text": "x"}))
        .await;
    assert_eq!(e.kind(), ErrorKind::InsufficientScope);
    assert!(
        e.model_message().contains("chat:write"),
        "{}",
        e.model_message()
    );
}

#[tokio::test]
async fn a_revoked_token_needs_reauthorization() {
    let s = setup().await;
    s.fake.revoke_token(BOT_TOKEN);
    let e = s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert!(e.needs_reauthorization(), "{e}");
    assert!(e.model_message().contains("slack"));
}

#[tokio::test]
async fn invalid_auth_refreshes_once_then_needs_reauthorization() {
    let s = setup().await;
    s.fake.fail_next("users.info", "invalid_auth");
    // No refresh token is stored: the refresh fails and the call is not
    // sent again.
    let e = s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert!(e.needs_reauthorization(), "{e}");
    assert_eq!(s.fake.call_count("users.info"), 1);
}

#[tokio::test]
async fn no_stored_token_needs_authorization_naming_slack() {
    let s = setup().await;
    let c = SlackConnector::builder()
        .engine(engine_with(None).await)
        .base_url(s.fake.url())
        .build()
        .unwrap();
    let e = c
        .call(
            &CallContext::new("bob"),
            "lookup_user",
            json!({"user_id": "W012A3CDE"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NeedsAuthorization);
    assert_eq!(e.provider(), Some("slack"));
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn http_429_waits_out_retry_after_then_succeeds() {
    let s = setup().await;
    s.fake.rate_limit_next("users.info", 1);
    let start = Instant::now();
    s.ok("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(s.fake.call_count("users.info"), 2);
}

#[tokio::test]
async fn http_429_beyond_the_bound_is_returned_with_retry_after() {
    let s = setup().await;
    // The setup waits at most 2 s by itself.
    s.fake.rate_limit_next("users.info", 30);
    let start = Instant::now();
    let e = s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(s.fake.call_count("users.info"), 1);

    // Nor past the call's deadline.
    let s = setup().await;
    s.fake.rate_limit_next("users.info", 1);
    let e = s
        .call_within(
            Duration::from_millis(500),
            "lookup_user",
            json!({"user_id": "W012A3CDE"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(s.fake.call_count("users.info"), 1);
}

#[tokio::test]
async fn repeated_429_gives_up_after_the_bounded_retries() {
    let s = setup().await;
    for _ in 0..3 {
        s.fake.rate_limit_next("users.info", 0);
    }
    let e = s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(s.fake.call_count("users.info"), 3);
}

#[tokio::test]
async fn server_errors_are_unavailable_and_not_echoed() {
    let s = setup().await;
    s.fake.status_next("chat.postMessage", 503);
    let e = s
        .err("post_message", json!({"channel": "C012AB3CD", "text": "x"}))
        .await;
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    // A write is not sent again by the client, and the model is told to
    // check before trying again.
    assert_eq!(s.fake.call_count("chat.postMessage"), 1);
    assert!(!format!("{e:?}").contains(BOT_TOKEN));
    assert!(
        e.model_message().contains("Check first"),
        "{}",
        e.model_message()
    );

    // A read that failed the same way may simply be tried again.
    s.fake.status_next("users.info", 503);
    let e = s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        !e.model_message().contains("Check first"),
        "{}",
        e.model_message()
    );
}

#[tokio::test]
async fn invalid_arguments_name_the_field() {
    let s = setup().await;
    let e = s.err("post_message", json!({"channel": "C012AB3CD"})).await;
    assert_eq!(e.kind(), ErrorKind::InvalidArguments);
    assert!(e.model_message().contains("text"));
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn a_post_whose_outcome_is_unknown_is_not_retried() {
    let s = setup().await;
    s.fake
        .delay_next("chat.postMessage", Duration::from_millis(1500));
    let cx = CallContext::new(crate::common::USER).with_timeout(Duration::from_millis(300));
    let e = s
        .connector
        .call(
            &cx,
            "post_message",
            json!({"channel": "C012AB3CD", "text": "maybe posted"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        e.model_message().contains("may have been"),
        "{}",
        e.model_message()
    );
    assert_eq!(s.fake.call_count("chat.postMessage"), 1);
    // The fake did post it: sending it again would have posted it twice.
    assert!(
        s.fake
            .messages("C012AB3CD")
            .iter()
            .any(|m| m["text"] == "maybe posted")
    );
}
