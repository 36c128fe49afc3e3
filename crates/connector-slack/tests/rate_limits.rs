//! Slack's limits are per method (per app, per workspace): a 429 on one
//! method holds back later calls to that method, and only to it.

use std::time::{Duration, Instant};

use connector_core::{CallContext, Connector, ErrorKind};
use connector_slack::{ClientOptions, SlackConnector};
use connector_testkit::slack::{FakeSlack, TokenKind};
use serde_json::json;

use crate::common::{
    ALL_BOT_SCOPES, ALL_USER_SCOPES, USER, bot_key, engine_for, record, setup_grants, test_options,
};

/// The client waits at most 2 s by itself and never sends a rate-limited
/// request again: what a 429 leaves behind is seen by the next call.
fn no_retries() -> ClientOptions {
    ClientOptions {
        max_rate_limit_retries: 0,
        ..test_options()
    }
}

fn post() -> serde_json::Value {
    json!({"channel": "C012AB3CD", "text": "hello"})
}

#[tokio::test]
async fn a_429_delays_the_next_call_to_that_method_only() {
    let s = setup_grants(ALL_BOT_SCOPES, Some(ALL_USER_SCOPES), no_retries()).await;
    s.fake.rate_limit_next("chat.postMessage", 1);
    let start = Instant::now();
    let e = s.err("post_message", post()).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));

    // Another method goes at once.
    let other = Instant::now();
    s.ok("list_conversations", json!({})).await;
    assert!(other.elapsed() < Duration::from_millis(500));

    // The same method waits out the rest of the second, then is sent once.
    s.ok("post_message", post()).await;
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(s.fake.call_count("chat.postMessage"), 2);
}

#[tokio::test]
async fn a_cooldown_longer_than_the_deadline_fails_fast_without_a_request() {
    let s = setup_grants(ALL_BOT_SCOPES, Some(ALL_USER_SCOPES), no_retries()).await;
    s.fake.rate_limit_next("chat.postMessage", 30);
    let e = s.err("post_message", post()).await;
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(s.fake.call_count("chat.postMessage"), 1);

    let cx = CallContext::new(USER).with_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let e = s
        .connector
        .call(&cx, "post_message", post())
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(200));
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    let after = e.retry_after().unwrap();
    assert!(
        after > Duration::from_secs(28) && after <= Duration::from_secs(30),
        "{after:?}"
    );
    assert!(e.model_message().contains("30 s"), "{}", e.model_message());
    // Nothing was sent.
    assert_eq!(s.fake.call_count("chat.postMessage"), 1);

    // Without a deadline, longer than the client waits by itself: the same.
    let e = s.err("post_message", post()).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(s.fake.call_count("chat.postMessage"), 1);

    // Other methods are not held back.
    s.ok("lookup_user", json!({"user_id": "W012A3CDE"})).await;
}

#[tokio::test]
async fn a_short_cooldown_that_fits_the_deadline_is_waited_out() {
    let s = setup_grants(ALL_BOT_SCOPES, Some(ALL_USER_SCOPES), no_retries()).await;
    s.fake.rate_limit_next("users.info", 1);
    s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    // Under a second left of the cooldown, but only 300 ms of deadline.
    let e = s
        .call_within(
            Duration::from_millis(300),
            "lookup_user",
            json!({"user_id": "W012A3CDE"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(s.fake.call_count("users.info"), 1);
    // With room for it, the call waits.
    s.call_within(
        Duration::from_secs(3),
        "lookup_user",
        json!({"user_id": "W012A3CDE"}),
    )
    .await
    .unwrap();
    assert_eq!(s.fake.call_count("users.info"), 2);
}

#[tokio::test]
async fn ratelimited_in_an_ok_false_answer_cools_the_method_down_too() {
    let s = setup_grants(ALL_BOT_SCOPES, Some(ALL_USER_SCOPES), no_retries()).await;
    s.fake.fail_next("users.info", "ratelimited");
    let start = Instant::now();
    let e = s.err("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(e.retry_after().is_some());
    s.ok("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn users_of_one_workspace_share_a_cooldown_and_others_do_not() {
    let fake = FakeSlack::start().await;
    for t in ["xoxb-a", "xoxb-b", "xoxb-c", "xoxb-d"] {
        fake.issue_token(t, TokenKind::Bot, ALL_BOT_SCOPES);
    }
    let engine = engine_for(&[
        (bot_key("ann"), record("xoxb-a", Some("T1"))),
        (bot_key("bob"), record("xoxb-b", Some("T1"))),
        (bot_key("cid"), record("xoxb-c", Some("T2"))),
        // No workspace known: the user's own cooldown.
        (bot_key("dan"), record("xoxb-d", None)),
    ])
    .await;
    let c = SlackConnector::builder()
        .engine(engine)
        .base_url(fake.url())
        .options(no_retries())
        .build()
        .unwrap();
    let cx = |u: &str| CallContext::new(u);
    fake.rate_limit_next("chat.postMessage", 30);
    c.call(&cx("ann"), "post_message", post())
        .await
        .unwrap_err();
    let e = c
        .call(&cx("bob"), "post_message", post())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(fake.call_count("chat.postMessage"), 1);
    c.call(&cx("cid"), "post_message", post()).await.unwrap();
    c.call(&cx("dan"), "post_message", post()).await.unwrap();
    assert_eq!(fake.call_count("chat.postMessage"), 3);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
