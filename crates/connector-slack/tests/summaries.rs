//! What a model reads: a concise text per tool (the JSON stays the
//! structured result), bounded and marked when cut.

use connector_core::tool::MODEL_TEXT_LIMIT;
use serde_json::json;

use crate::common::{setup, text_of};

#[tokio::test]
async fn history_is_one_line_per_message_with_time_author_and_ts() {
    let s = setup().await;
    let text = s.text("read_history", json!({"channel": "#general"})).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "3 messages in C012AB3CD, newest first (times UTC):",
            "[2017-12-01 05:10 · ts 1512105000.000600] bot B0AB1CD2E: Deploy finished: release 4.2 is live",
            "[2017-12-01 05:00 · ts 1512104434.000490] @W012A3CDE: What, you want to smell my shoes better? (2 replies in its thread)",
            "[2017-11-30 23:52 · ts 1512085950.000216] @U0BS9U4SV: I find you punny and would like to smell your nose letter",
        ]
    );

    let text = s
        .text(
            "read_thread",
            json!({"channel": "C012AB3CD", "thread_ts": "1512104434.000490", "limit": 2}),
        )
        .await;
    assert!(
        text.starts_with("A thread in C012AB3CD: the parent and 1 reply, oldest first"),
        "{text}"
    );
    assert!(text.contains("@U0BS9U4SV: Shoes, nose, it's all the same to me\n"));
    assert!(text.contains("Later replies were left out"), "{text}");
}

#[tokio::test]
async fn conversations_and_users_read_as_one_line_each() {
    let s = setup().await;
    let text = s
        .text(
            "list_conversations",
            json!({"types": ["public_channel", "private_channel", "im"], "exclude_archived": false}),
        )
        .await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "6 conversations:");
    assert_eq!(
        lines[1],
        "#general (C012AB3CD, 4 members): Company-wide announcements and work-based matters"
    );
    assert!(lines.contains(
        &"#outsiders (C0G9QF9GW, 2 members, the app is not a member): The app is not a member here."
    ));
    assert!(lines.contains(&"#old-projects (C0G9QKBBL, 1 member, archived): Archived."));
    assert!(lines.contains(&"#secret-plans (G0AKFJBEU, 3 members, private): Secret plans"));
    assert!(lines.contains(&"direct messages with @U0BS9U4SV (D0C0F7S8Y)"));

    let text = s.text("list_conversations", json!({"limit": 1})).await;
    assert!(text.contains("More conversations exist"), "{text}");

    let text = s.text("lookup_user", json!({"user_id": "W012A3CDE"})).await;
    assert_eq!(
        text,
        "Egon Spengler <spengler@ghostbusters.example.com> (W012A3CDE, @spengler, tz America/Los_Angeles), Parapsychologist"
    );
    let text = s
        .text("lookup_user", json!({"email": "glenda@south.oz.coven"}))
        .await;
    assert!(
        text.starts_with("Glinda Southgood <glenda@south.oz.coven> (U0BS9U4SV, @glinda, shown as \"Glinda the Fairly Good\", tz Europe/Amsterdam)"),
        "{text}"
    );
}

#[tokio::test]
async fn writes_say_what_was_done_and_the_ts() {
    let s = setup().await;
    let out = s
        .ok_output(
            "post_message",
            json!({"channel": "C012AB3CD", "text": "Hello"}),
        )
        .await;
    let ts = out.structured.as_ref().unwrap()["ts"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        text_of(&out),
        format!("Posted to C012AB3CD; the message's ts is {ts}.")
    );
    let text = s
        .text(
            "post_message",
            json!({"channel": "C012AB3CD", "text": "re", "thread_ts": ts}),
        )
        .await;
    assert!(text.starts_with(&format!("Posted a reply in the thread {ts} of C012AB3CD")));
    let text = s
        .text(
            "update_message",
            json!({"channel": "C012AB3CD", "ts": ts, "text": "Hello!"}),
        )
        .await;
    assert_eq!(text, format!("Updated the message {ts} in C012AB3CD."));
    let text = s
        .text(
            "add_reaction",
            json!({"channel": "C012AB3CD", "timestamp": ts, "name": "tada"}),
        )
        .await;
    assert_eq!(
        text,
        format!("Added :tada: to the message {ts} in C012AB3CD.")
    );
    let text = s
        .text("delete_message", json!({"channel": "C012AB3CD", "ts": ts}))
        .await;
    assert_eq!(text, format!("Deleted the message {ts} from C012AB3CD."));
}

#[tokio::test]
async fn search_results_name_channel_and_permalink() {
    let s = setup().await;
    let text = s
        .text(
            "search_messages",
            json!({"query": "release", "sort": "timestamp", "limit": 1}),
        )
        .await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "1 of 2 messages matching `release` (times UTC):",
            "[2017-12-01 05:10 · ts 1512105000.000600] #general (C012AB3CD) bot B0AB1CD2E: Deploy finished: release 4.2 is live",
            "    https://example.slack.com/archives/C012AB3CD/p1512105000000600",
            "More matches exist: raise `limit` (at most 100) or narrow the query.",
        ]
    );
    let text = s.text("search_messages", json!({"query": "zebra"})).await;
    assert_eq!(text, "No messages match `zebra`.\n");
}

#[tokio::test]
async fn long_texts_are_cut_and_marked_and_the_json_keeps_every_message() {
    let s = setup().await;
    s.fake.add_message(
        "C012AB3CD",
        json!({"type": "message", "user": "W012A3CDE", "text": "line one\nline two", "ts": "1500000000.000100"}),
    );
    let text = s
        .text(
            "read_history",
            json!({"channel": "C012AB3CD", "latest": "1500000000.000100"}),
        )
        .await;
    assert!(
        text.contains("@W012A3CDE: line one\n    line two\n"),
        "{text}"
    );

    // One very long message: cut in the JSON and marked in both.
    s.fake.add_message(
        "C012AB3CD",
        json!({"type": "message", "user": "W012A3CDE", "text": "é".repeat(5000), "ts": "1400000000.000100"}),
    );
    let out = s
        .ok_output(
            "read_history",
            json!({"channel": "C012AB3CD", "latest": "1400000000.000100"}),
        )
        .await;
    assert!(text_of(&out).contains("… [message truncated]"));
    let v = out.structured.unwrap();
    assert_eq!(v["messages"][0]["text_truncated"], true);
    let kept = v["messages"][0]["text"].as_str().unwrap();
    assert_eq!(kept.chars().count(), 4000);

    // Many long messages: the text is bounded and says so; the JSON has all.
    for i in 0..10 {
        s.fake.add_message(
            "C012AB3CD",
            json!({"type": "message", "user": "W012A3CDE", "text": "x".repeat(3900), "ts": format!("13000000{i:02}.000100")}),
        );
    }
    let out = s
        .ok_output(
            "read_history",
            json!({"channel": "C012AB3CD", "latest": "1300000099.000000"}),
        )
        .await;
    let text = text_of(&out);
    assert!(text.chars().count() < MODEL_TEXT_LIMIT + 100);
    assert!(
        text.contains("[truncated: "),
        "{}",
        &text[text.len() - 100..]
    );
    assert_eq!(
        out.structured.unwrap()["messages"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}
