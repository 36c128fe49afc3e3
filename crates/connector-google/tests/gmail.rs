//! Gmail tools against the fake Gmail API.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use connector_core::{CallContext, Connector, ErrorKind, Registry};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn registers_with_oauth_metadata_and_scoped_tools() {
    let registry = Registry::from_inventory().unwrap();
    let entry = registry.get("google").expect("google is registered");
    let connector_core::AuthRequirement::OAuth2(spec) = &entry.metadata().auth else {
        panic!("oauth2 expected");
    };
    assert_eq!(
        spec.authorize_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(spec.token_url, "https://oauth2.googleapis.com/token");
    assert!(
        spec.extra_authorize_params
            .contains(&("access_type".into(), "offline".into()))
    );
    assert!(
        spec.extra_authorize_params
            .contains(&("include_granted_scopes".into(), "true".into()))
    );
    // Only while no refresh token is stored (the engine decides).
    assert_eq!(
        spec.consent_params,
        vec![("prompt".to_owned(), "consent".to_owned())]
    );
    assert!(
        !spec
            .extra_authorize_params
            .iter()
            .any(|(k, _)| k == "prompt")
    );

    let env = env(&[READONLY]).await;
    let tools = env.connector.tools(&CallContext::new(USER)).await.unwrap();
    let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
    for gmail in [
        "create_draft",
        "get_message",
        "list_labels",
        "search_messages",
        "send_message",
    ] {
        assert!(names.contains(&gmail), "{gmail} missing from {names:?}");
    }
    for t in &tools {
        t.validate().unwrap();
        assert!(!t.scopes.is_empty(), "{} declares no scope", t.name);
        assert!(!t.description.is_empty());
    }
    let err = env.call("delete_everything", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownTool);
}

#[tokio::test]
async fn search_lists_then_fetches_metadata() {
    let env = env(&[READONLY]).await;
    let out = env
        .ok(
            "search_messages",
            json!({"query": "from:alice@example.com has:attachment"}),
        )
        .await;
    let msgs = out["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["subject"], "Q3 report");
    assert_eq!(msgs[0]["from"], "Alice Example <alice@example.com>");
    assert_eq!(out["has_more"], false);
    let reqs = env.fake.requests();
    let list = &reqs[0];
    assert_eq!(list.path, "/gmail/v1/users/me/messages");
    assert!(
        list.query
            .contains(&("q".into(), "from:alice@example.com has:attachment".into()))
    );
    let get = reqs
        .iter()
        .find(|r| r.path == "/gmail/v1/users/me/messages/18c0a1b2c3d4e5f6")
        .unwrap();
    assert!(get.query.contains(&("format".into(), "metadata".into())));
    assert!(
        get.query
            .contains(&("metadataHeaders".into(), "Subject".into()))
    );
}

#[tokio::test]
async fn search_follows_page_tokens_up_to_the_limit() {
    let env = env(&[READONLY]).await;
    env.fake.add_generated_messages(250);
    env.fake.set_page_size(40);
    let out = env.ok("search_messages", json!({"max_results": 100})).await;
    assert_eq!(out["messages"].as_array().unwrap().len(), 100);
    assert_eq!(out["has_more"], true);
    let lists: Vec<_> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/gmail/v1/users/me/messages")
        .collect();
    assert_eq!(lists.len(), 3, "40 + 40 + 20");
    assert!(
        lists[1]
            .query
            .contains(&("pageToken".into(), "page-40".into()))
    );
    assert!(lists[2].query.contains(&("maxResults".into(), "20".into())));

    let err = env
        .call("search_messages", json!({"max_results": 0}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
}

#[tokio::test]
async fn get_message_decodes_the_plain_text_part_and_lists_attachments() {
    let env = env(&[READONLY]).await;
    let out = env
        .ok("get_message", json!({"id": "18c0a1b2c3d4e5f6"}))
        .await;
    assert_eq!(out["body_source"], "text/plain");
    assert_eq!(
        out["body"],
        "Hi Bob,\r\n\r\nThe Q3 report is attached. Café at 10?\r\n\r\n— Alice\r\n"
    );
    assert_eq!(out["cc"], "carol@example.com");
    assert_eq!(out["message_id"], "<CAF=abc123@mail.gmail.com>");
    assert_eq!(
        out["attachments"],
        json!([{"filename": "q3-report.pdf", "mime_type": "application/pdf", "size": 45873,
                "attachment_id": "ANGjdJ8wXyZ_attachment_1"}])
    );
    assert_eq!(out["body_truncated"], false);

    // HTML only, unpadded base64url: converted to text.
    let out = env
        .ok("get_message", json!({"id": "18c0a1b2c3d4e5f7"}))
        .await;
    assert_eq!(out["body_source"], "text/html");
    assert_eq!(out["body"], "Your invoice & receipt\n\nTotal: 42 EUR");

    let out = env
        .ok(
            "get_message",
            json!({"id": "18c0a1b2c3d4e5f6", "max_body_chars": 6}),
        )
        .await;
    assert_eq!(out["body"], "Hi Bob");
    assert_eq!(out["body_truncated"], true);

    let err = env
        .call("get_message", json!({"id": "ffffffffffffffff"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = env
        .call("get_message", json!({"id": "../labels"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
}

#[tokio::test]
async fn list_labels_returns_ids_names_and_types() {
    let env = env(&[READONLY]).await;
    let out = env.ok("list_labels", json!({})).await;
    let labels = out["labels"].as_array().unwrap();
    assert!(labels.contains(&json!({"id": "Label_1", "name": "Invoices", "type": "user"})));
    assert!(labels.contains(&json!({"id": "INBOX", "name": "INBOX", "type": "system"})));
}

/// Splits a raw message into its header lines (unfolded) and body.
fn parse(raw: &[u8]) -> (Vec<(String, String)>, String) {
    let text = std::str::from_utf8(raw).unwrap();
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let unfolded = head.replace("\r\n ", " ");
    let headers = unfolded
        .split("\r\n")
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    (headers, body.to_owned())
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn send_message_sends_a_correct_rfc2822_message() {
    let env = env(&[SEND]).await;
    let body = "Bonjour Bob,\nÇa marche pour demain.\n";
    let out = env
        .ok(
            "send_message",
            json!({"to": ["Bob <bob@example.com>"], "cc": ["carol@example.com"],
                   "subject": "Réunion demain", "body": body}),
        )
        .await;
    assert_eq!(out["label_ids"], json!(["SENT"]));
    let sent = env.fake.sent();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].draft);
    assert_eq!(sent[0].thread_id, None);
    let (headers, encoded) = parse(&sent[0].raw);
    assert_eq!(get(&headers, "To"), Some("Bob <bob@example.com>"));
    assert_eq!(get(&headers, "Cc"), Some("carol@example.com"));
    assert_eq!(get(&headers, "MIME-Version"), Some("1.0"));
    assert_eq!(get(&headers, "Content-Transfer-Encoding"), Some("base64"));
    let subject = get(&headers, "Subject").unwrap();
    let decoded: String = subject
        .split(' ')
        .map(|w| {
            let b64 = w
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(decoded, "Réunion demain");
    assert!(encoded.split("\r\n").all(|l| l.len() <= 76));
    let text = STANDARD.decode(encoded.replace("\r\n", "")).unwrap();
    assert_eq!(String::from_utf8(text).unwrap(), body);

    // Header injection and a message without recipients are refused.
    let err = env
        .call(
            "send_message",
            json!({"to": ["bob@example.com\r\nBcc: x@example.com"], "body": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    let err = env
        .call("send_message", json!({"body": "nobody"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert_eq!(env.fake.sent().len(), 1);
}

#[tokio::test]
async fn replies_carry_threading_headers_and_thread_id() {
    let env = env(&[COMPOSE, READONLY]).await;
    env.ok(
        "send_message",
        json!({"to": ["alice@example.com"], "body": "Yes.", "reply_to_message_id": "18c0a1b2c3d4e5f6"}),
    )
    .await;
    let sent = env.fake.sent();
    assert_eq!(sent[0].thread_id.as_deref(), Some("18c0a1b2c3d4e5f6"));
    let (headers, _) = parse(&sent[0].raw);
    assert_eq!(
        get(&headers, "In-Reply-To"),
        Some("<CAF=abc123@mail.gmail.com>")
    );
    assert_eq!(
        get(&headers, "References"),
        Some("<CAF=root000@mail.gmail.com> <CAF=abc123@mail.gmail.com>")
    );
    assert_eq!(get(&headers, "Subject"), Some("Re: Q3 report"));

    // A subject that already starts with "Re:" is kept.
    env.ok(
        "create_draft",
        json!({"to": ["billing@example.com"], "body": "Thanks", "reply_to_message_id": "18c0a1b2c3d4e5f7"}),
    )
    .await;
    let (headers, _) = parse(&env.fake.sent()[1].raw);
    assert_eq!(get(&headers, "Subject"), Some("Re: Your invoice"));
}

#[tokio::test]
async fn create_draft_saves_a_draft() {
    let env = env(&[COMPOSE]).await;
    let out = env
        .ok(
            "create_draft",
            json!({"to": ["bob@example.com"], "subject": "Draft", "body": "Later"}),
        )
        .await;
    assert!(out["draft_id"].as_str().unwrap().starts_with("r-"));
    assert_eq!(out["label_ids"], json!(["DRAFT"]));
    assert!(env.fake.sent()[0].draft);
}

#[tokio::test]
async fn missing_scopes_are_named_before_any_request() {
    let env = env(&[SEND]).await;
    let err = env.call("search_messages", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    assert!(
        err.model_message().contains(READONLY),
        "{}",
        err.model_message()
    );
    assert!(env.fake.requests().is_empty());
    // A reply needs to read the original too.
    let err = env
        .call("send_message", json!({"to": ["a@example.com"], "body": "x", "reply_to_message_id": "18c0a1b2c3d4e5f6"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    assert!(err.model_message().contains(READONLY));
    // Broader grants cover narrower needs.
    let env = env_modify().await;
    env.ok("list_labels", json!({})).await;
    env.ok(
        "create_draft",
        json!({"to": ["a@example.com"], "body": "x"}),
    )
    .await;
}

async fn env_modify() -> Env {
    env(&[MODIFY]).await
}

#[tokio::test]
async fn a_missing_grant_needs_authorization_naming_google() {
    let env = env(&[READONLY]).await;
    let cx = CallContext::new("bob");
    let err = env
        .connector
        .call(&cx, "list_labels", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsAuthorization);
    assert_eq!(err.provider(), Some("google"));
}

#[tokio::test]
async fn passes_the_conformance_check() {
    let registry = Registry::builder()
        .connector::<connector_google::GoogleConnector>()
        .build()
        .unwrap();
    let reports = connector_testkit::conformance::assert_registry_conforms(&registry).await;
    assert_eq!(reports.len(), 1);
}

fn text_of(out: &connector_core::ToolOutput) -> String {
    match &out.content[..] {
        [connector_core::Content::Text { text }] => text.clone(),
        other => panic!("one text block expected, got {other:?}"),
    }
}

#[tokio::test]
async fn results_read_as_concise_text_with_the_json_alongside() {
    let env = env(&[READONLY, COMPOSE]).await;
    let out = env
        .call(
            "get_message",
            json!({"id": "18c0a1b2c3d4e5f6", "max_body_chars": 6}),
        )
        .await
        .unwrap();
    let text = text_of(&out);
    assert!(text.contains("Cc: carol@example.com\n"), "{text}");
    assert!(
        text.contains("Attachment: q3-report.pdf (application/pdf, 45873 bytes)"),
        "{text}"
    );
    assert!(text.contains("\n\nHi Bob\n… [body truncated"), "{text}");
    assert_eq!(out.structured.unwrap()["body"], "Hi Bob");

    let out = env.call("search_messages", json!({})).await.unwrap();
    let text = text_of(&out);
    assert!(text.starts_with("2 messages:\n- "), "{text}");
    assert!(text.contains("(id 18c0a1b2c3d4e5f6)"), "{text}");
    assert!(!text.trim_start().starts_with('{'), "not JSON: {text}");
    // Gmail's snippets are HTML-escaped; the model reads them decoded.
    assert!(text.contains("Your invoice & receipt"), "{text}");

    let out = env
        .call(
            "create_draft",
            json!({"to": ["bob@example.com"], "subject": "Hi", "body": "Hello"}),
        )
        .await
        .unwrap();
    assert!(text_of(&out).starts_with("Draft "), "{}", text_of(&out));
    assert!(
        env.fake.violations().is_empty(),
        "{:?}",
        env.fake.violations()
    );
}
