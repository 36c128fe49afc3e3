//! Each tool against the fake Slack.

use connector_core::{Connector, ErrorKind, RegisteredConnector};
use connector_testkit::slack::BOT_USER;
use serde_json::json;

use crate::common::setup;

#[tokio::test]
async fn the_connector_lists_nine_valid_tools() {
    let s = setup().await;
    let specs = s.connector.tools(&s.cx).await.unwrap();
    let mut names: Vec<_> = specs.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "add_reaction",
            "delete_message",
            "list_conversations",
            "lookup_user",
            "post_message",
            "read_history",
            "read_thread",
            "search_messages",
            "update_message"
        ]
    );
    for t in &specs {
        t.validate().unwrap();
        assert!(!t.description.is_empty());
        let props = t.input_schema["properties"].as_object().unwrap();
        for (name, p) in props {
            assert!(
                p.get("description").is_some(),
                "{}.{name} has no description",
                t.name
            );
        }
    }
    let e = s.err("no_such_tool", json!({})).await;
    assert_eq!(e.kind(), ErrorKind::UnknownTool);
}

#[tokio::test]
async fn metadata_is_slack_oauth_v2() {
    let m = connector_slack::SlackConnector::describe();
    assert_eq!(m.id, "slack");
    let connector_core::AuthRequirement::OAuth2(spec) = m.auth else {
        panic!("oauth2");
    };
    assert_eq!(spec.authorize_url, "https://slack.com/oauth/v2/authorize");
    assert_eq!(spec.token_url, "https://slack.com/api/oauth.v2.access");
    assert_eq!(spec.scope_separator, ",");
    assert_eq!(
        spec.client_auth,
        connector_core::ClientAuthMethod::ClientSecretBasic
    );
    assert!(
        spec.extra_authorize_params
            .iter()
            .any(|(k, v)| k == "user_scope" && v.contains("search:read"))
    );
    assert_eq!(spec.nested_grants, ["authed_user"]);
    let registry = connector_core::Registry::from_inventory().unwrap();
    assert!(registry.get("slack").is_some());
}

#[tokio::test]
async fn base_url_comes_from_provider_settings() {
    let s = setup().await;
    let settings = connector_core::oauth::ProviderSettings {
        base_url: Some(s.fake.url()),
        ..Default::default()
    };
    let cx = connector_core::BuildContext {
        oauth: crate::common::engine_with(Some(crate::common::BOT_TOKEN)).await,
        settings: Some(settings),
    };
    let c = connector_slack::SlackConnector::build(&cx).unwrap();
    let out = c
        .call(&s.cx, "lookup_user", json!({"user_id": "W012A3CDE"}))
        .await
        .unwrap();
    assert_eq!(out.structured.unwrap()["name"], "spengler");
    assert_eq!(s.fake.call_count("users.info"), 1);

    // Plain http only to loopback.
    let bad = connector_slack::SlackConnector::builder()
        .engine(crate::common::engine_with(None).await)
        .base_url("http://slack.example/api")
        .build()
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn post_message_by_id_and_by_name_and_in_a_thread() {
    let s = setup().await;
    let v = s
        .ok(
            "post_message",
            json!({"channel": "C012AB3CD", "text": "Hello"}),
        )
        .await;
    assert_eq!(v["channel"], "C012AB3CD");
    let ts = v["ts"].as_str().unwrap().to_owned();
    assert!(
        s.fake
            .messages("C012AB3CD")
            .iter()
            .any(|m| m["ts"] == ts.as_str() && m["text"] == "Hello")
    );

    let v = s
        .ok(
            "post_message",
            json!({"channel": "#random", "text": "hi random"}),
        )
        .await;
    assert_eq!(v["channel"], "C061EG9T2");

    let v = s
        .ok(
            "post_message",
            json!({"channel": "general", "text": "in thread", "thread_ts": ts}),
        )
        .await;
    assert_eq!(v["thread_ts"], ts.as_str());
    let parent = s.message("C012AB3CD", &ts).unwrap();
    assert_eq!(parent["reply_count"], 1);
    // Names are resolved once: `#random` listed the channels, `general`
    // came from what that listing saw.
    assert_eq!(s.fake.call_count("conversations.list"), 1);
}

#[tokio::test]
async fn update_and_delete_own_messages_only() {
    let s = setup().await;
    let v = s
        .ok(
            "post_message",
            json!({"channel": "C012AB3CD", "text": "draft"}),
        )
        .await;
    let ts = v["ts"].as_str().unwrap().to_owned();
    s.ok(
        "update_message",
        json!({"channel": "C012AB3CD", "ts": ts, "text": "final"}),
    )
    .await;
    let m = s.message("C012AB3CD", &ts).unwrap();
    assert_eq!(m["text"], "final");
    assert_eq!(m["user"], BOT_USER);

    // Someone else's message cannot be changed.
    let e = s
        .err(
            "update_message",
            json!({"channel": "C012AB3CD", "ts": "1512085950.000216", "text": "x"}),
        )
        .await;
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert!(e.to_string().contains("cant_update_message"), "{e}");

    s.ok("delete_message", json!({"channel": "C012AB3CD", "ts": ts}))
        .await;
    assert!(
        !s.fake
            .messages("C012AB3CD")
            .iter()
            .any(|m| m["ts"] == ts.as_str())
    );
    let e = s
        .err("delete_message", json!({"channel": "C012AB3CD", "ts": ts}))
        .await;
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn list_conversations_excludes_archived_and_filters_types() {
    let s = setup().await;
    let v = s.ok("list_conversations", json!({})).await;
    let names: Vec<_> = v["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["general", "random", "outsiders"]);
    assert_eq!(v["truncated"], false);
    assert_eq!(
        v["conversations"][0]["topic"],
        "Company-wide announcements and work-based matters"
    );

    let v = s
        .ok(
            "list_conversations",
            json!({"types": ["public_channel", "private_channel"], "exclude_archived": false}),
        )
        .await;
    let names: Vec<_> = v["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "general",
            "random",
            "outsiders",
            "old-projects",
            "secret-plans"
        ]
    );
}

#[tokio::test]
async fn pagination_follows_cursors_up_to_the_limit() {
    let s = setup().await;
    s.fake.set_max_page_size(Some(2));
    let v = s
        .ok(
            "list_conversations",
            json!({"types": ["public_channel", "private_channel"], "exclude_archived": false}),
        )
        .await;
    assert_eq!(v["conversations"].as_array().unwrap().len(), 5);
    assert_eq!(v["truncated"], false);
    assert_eq!(s.fake.call_count("conversations.list"), 3);

    let v = s
        .ok(
            "list_conversations",
            json!({"types": ["public_channel", "private_channel"], "exclude_archived": false, "limit": 3}),
        )
        .await;
    assert_eq!(v["conversations"].as_array().unwrap().len(), 3);
    assert_eq!(v["truncated"], true);
    // 3 earlier, then 2 pages (2 + 1).
    assert_eq!(s.fake.call_count("conversations.list"), 5);
}

#[tokio::test]
async fn read_history_newest_first_within_a_window_without_replies() {
    let s = setup().await;
    let v = s.ok("read_history", json!({"channel": "C012AB3CD"})).await;
    let ts: Vec<_> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap())
        .collect();
    assert_eq!(
        ts,
        [
            "1512105000.000600",
            "1512104434.000490",
            "1512085950.000216"
        ]
    );
    assert_eq!(v["messages"][1]["reply_count"], 2);
    assert_eq!(v["messages"][0]["bot_id"], "B0AB1CD2E");

    let v = s
        .ok(
            "read_history",
            json!({"channel": "#general", "oldest": "1512100000", "latest": "1512104434.000490"}),
        )
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(v["messages"][0]["ts"], "1512104434.000490");

    s.fake.set_max_page_size(Some(1));
    let v = s
        .ok("read_history", json!({"channel": "C012AB3CD", "limit": 2}))
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 2);
    assert_eq!(v["truncated"], true);

    // Rate limited after the first page (some apps get one history request
    // a minute): what was read comes back, marked incomplete.
    s.fake
        .delay_next("conversations.history", std::time::Duration::ZERO);
    s.fake.rate_limit_next("conversations.history", 60);
    let v = s
        .ok("read_history", json!({"channel": "C012AB3CD", "limit": 3}))
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(v["truncated"], true);
}

#[tokio::test]
async fn read_thread_gives_parent_then_replies() {
    let s = setup().await;
    let v = s
        .ok(
            "read_thread",
            json!({"channel": "C012AB3CD", "thread_ts": "1512104434.000490"}),
        )
        .await;
    let ts: Vec<_> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap())
        .collect();
    assert_eq!(
        ts,
        [
            "1512104434.000490",
            "1512104470.000500",
            "1512104482.000520"
        ]
    );
    let e = s
        .err(
            "read_thread",
            json!({"channel": "C012AB3CD", "thread_ts": "1.000000"}),
        )
        .await;
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn lookup_user_by_id_or_email() {
    let s = setup().await;
    let v = s.ok("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert_eq!(v["real_name"], "Egon Spengler");
    assert_eq!(v["email"], "spengler@ghostbusters.example.com");
    assert_eq!(v["tz"], "America/Los_Angeles");
    let v = s
        .ok("lookup_user", json!({"email": "glenda@south.oz.coven"}))
        .await;
    assert_eq!(v["id"], "U0BS9U4SV");
    assert_eq!(v["display_name"], "Glinda the Fairly Good");

    let e = s
        .err("lookup_user", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = s.err("lookup_user", json!({})).await;
    assert_eq!(e.kind(), ErrorKind::InvalidArguments);
    assert_eq!(s.fake.call_count("users.info"), 1);
}

#[tokio::test]
async fn add_reaction_strips_colons_and_is_idempotent() {
    let s = setup().await;
    let v = s
        .ok(
            "add_reaction",
            json!({"channel": "C012AB3CD", "timestamp": "1512085950.000216", "name": ":thumbsup:"}),
        )
        .await;
    assert_eq!(v["name"], "thumbsup");
    let m = s.message("C012AB3CD", "1512085950.000216").unwrap();
    assert_eq!(m["reactions"][0]["name"], "thumbsup");
    // Slack answers `already_reacted`: the reaction is there, as asked.
    let v = s
        .ok(
            "add_reaction",
            json!({"channel": "C012AB3CD", "timestamp": "1512085950.000216", "name": "thumbsup"}),
        )
        .await;
    assert_eq!(v["name"], "thumbsup");
    assert_eq!(s.fake.call_count("reactions.add"), 2);
    let m = s.message("C012AB3CD", "1512085950.000216").unwrap();
    assert_eq!(m["reactions"].as_array().unwrap().len(), 1);
}
