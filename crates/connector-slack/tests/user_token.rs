//! The user's own token (`authed_user`, `xoxp-`): search, and threads in
//! channels, go with it; everything else with the bot token.

use std::time::Duration;

use connector_core::{CallContext, ErrorKind, Secret};
use connector_slack::{ClientOptions, Credential, SlackClient};
use serde_json::json;

use crate::common::{ALL_BOT_SCOPES, BOT_TOKEN, USER, setup, setup_bot_only};

#[tokio::test]
async fn search_goes_with_the_user_token() {
    let s = setup().await;
    // `ok` also checks the fake saw no bot token on search.messages.
    let v = s
        .ok(
            "search_messages",
            json!({"query": "release", "sort": "timestamp"}),
        )
        .await;
    assert_eq!(v["total"], 2);
    assert_eq!(v["messages"][0]["ts"], "1512105000.000600");
    assert_eq!(v["messages"][0]["channel"], "C012AB3CD");
    assert_eq!(v["messages"][0]["channel_name"], "general");
    assert!(
        v["messages"][0]["permalink"]
            .as_str()
            .unwrap()
            .contains("/archives/C012AB3CD/")
    );
    let v = s
        .ok("search_messages", json!({"query": "release", "limit": 1}))
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(v["truncated"], true);
}

#[tokio::test]
async fn without_a_user_grant_search_asks_to_reconnect_with_user_scopes() {
    let s = setup_bot_only(ALL_BOT_SCOPES).await;
    let e = s.err("search_messages", json!({"query": "release"})).await;
    assert_eq!(e.kind(), ErrorKind::NeedsAuthorization, "{e}");
    assert!(e.needs_reauthorization());
    assert_eq!(e.provider(), Some("slack"));
    let m = e.model_message();
    assert!(m.contains("reconnect Slack"), "{m}");
    assert!(m.contains("user_scope") && m.contains("search:read"), "{m}");
    // Nothing was sent: the bot token is never tried where Slack refuses it.
    assert!(s.fake.calls().is_empty(), "{:?}", s.fake.calls());
    // The bot token still serves everything else.
    s.ok("lookup_user", json!({"user_id": "W012A3CDE"})).await;
}

#[tokio::test]
async fn threads_in_channels_need_the_user_token_and_in_direct_messages_the_bot_token() {
    let s = setup_bot_only(ALL_BOT_SCOPES).await;
    let e = s
        .err(
            "read_thread",
            json!({"channel": "C012AB3CD", "thread_ts": "1512104434.000490"}),
        )
        .await;
    assert_eq!(e.kind(), ErrorKind::NeedsAuthorization, "{e}");
    assert_eq!(s.fake.call_count("conversations.replies"), 0);

    // A direct message with the app: the bot token reads it.
    s.fake.add_message(
        "D0C0F7S8Y",
        json!({"type": "message", "user": "U0BS9U4SV", "text": "psst", "ts": "1600000000.000100"}),
    );
    let v = s
        .ok(
            "read_thread",
            json!({"channel": "D0C0F7S8Y", "thread_ts": "1600000000.000100"}),
        )
        .await;
    assert_eq!(v["messages"][0]["text"], "psst");

    // With both tokens, a channel's thread is read with the user's.
    let s = setup().await;
    let v = s
        .ok(
            "read_thread",
            json!({"channel": "#general", "thread_ts": "1512104434.000490"}),
        )
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn invalid_auth_on_the_user_token_refreshes_it_once() {
    let s = setup().await;
    s.fake.fail_next("search.messages", "invalid_auth");
    // The stored user token has no refresh token: the refresh fails and
    // the search is not sent again.
    let e = s.err("search_messages", json!({"query": "release"})).await;
    assert!(e.needs_reauthorization(), "{e}");
    assert_eq!(s.fake.call_count("search.messages"), 1);
}

#[tokio::test]
async fn the_fake_refuses_a_bot_token_on_search_and_records_it() {
    let s = setup().await;
    let client = SlackClient::new(&s.fake.url(), ClientOptions::default()).unwrap();
    let bot = Credential::new(Secret::new(BOT_TOKEN));
    let cx = CallContext::new(USER).with_timeout(Duration::from_secs(5));
    let e = client
        .call(&cx, &bot, "search.messages", &[("query", "release".into())])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not_allowed_token_type"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_eq!(s.fake.violations().len(), 1, "{:?}", s.fake.violations());

    let e = client
        .call(
            &cx,
            &bot,
            "conversations.replies",
            &[
                ("channel", "C012AB3CD".into()),
                ("ts", "1512104434.000490".into()),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsufficientScope, "{e}");
    assert_eq!(s.fake.violations().len(), 2, "{:?}", s.fake.violations());
}
