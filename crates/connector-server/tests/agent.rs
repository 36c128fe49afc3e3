//! `connectors tools` and `connectors call` as a user runs them: Slack and
//! Google pointed at the testkit's fakes with `[providers.x] base_url`,
//! grants stored in the embedded store beforehand.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use connector_core::Secret;
use connector_core::vault::{StoreConfig, TokenKey, TokenRecord, now_unix};
use connector_testkit::google::FakeGoogle;
use connector_testkit::slack::{FakeSlack, TokenKind};
use serde_json::Value;

const SLACK_TOKEN: &str = "xoxb-17653672481-19874698323-clitoken";

struct Setup {
    slack: FakeSlack,
    _google: FakeGoogle,
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn store_toml(dir: &std::path::Path) -> String {
    format!(
        "backend = \"embedded\"\npath = \"{}\"",
        dir.join("vault.redb").display()
    )
}

/// Fakes, a configuration pointing at them, and `alice`'s Slack grant of
/// `scopes` when given.
async fn setup(slack_scopes: Option<&[&str]>) -> Setup {
    let slack = FakeSlack::start().await;
    slack.issue_token(
        SLACK_TOKEN,
        TokenKind::Bot,
        &["users:read", "channels:read", "chat:write"],
    );
    let google = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connectors.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\n{}\n\n[providers.slack]\nbase_url = \"{}\"\n\n[providers.google]\nbase_url = \"{}\"\n",
            store_toml(dir.path()),
            slack.url(),
            google.url()
        ),
    )
    .unwrap();
    if let Some(scopes) = slack_scopes {
        // The embedded store takes one process at a time: this vault is
        // dropped before the binary runs.
        let store: StoreConfig = toml::from_str(&store_toml(dir.path())).unwrap();
        let vault = store.open().await.unwrap();
        let now = now_unix();
        let record = TokenRecord {
            access_token: Secret::new(SLACK_TOKEN),
            refresh_token: None,
            token_type: "Bearer".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: Some(now + 3600),
            issuer: None,
            account_label: None,
            created_at: now,
            updated_at: now,
            extra: serde_json::Map::new(),
        };
        vault
            .save_token(&TokenKey::new("slack", "alice", None), &record)
            .await
            .unwrap();
    }
    Setup {
        slack,
        _google: google,
        dir,
        config,
    }
}

/// Runs to completion, bounded, without blocking the runtime that serves
/// the fakes.
async fn run(s: &Setup, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .arg("--config")
        .arg(&s.config)
        .args(args)
        .env("CONNECTORS_LOG", "trace")
        .env_remove("CONNECTORS_ENCRYPTION_KEYS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let wait = tokio::task::spawn_blocking(move || child.wait_with_output());
    match tokio::time::timeout(Duration::from_secs(60), wait).await {
        Ok(r) => r.unwrap().unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("connectors {args:?} did not finish within 60 s");
        }
    }
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Tool names in an OpenAI or Anthropic document (an array of definitions).
fn names(doc: &Value) -> Vec<String> {
    doc.as_array()
        .unwrap_or_else(|| panic!("an array expected: {doc}"))
        .iter()
        .map(|t| {
            t.pointer("/function/name")
                .or_else(|| t.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn tools_all_lists_every_registered_tool() {
    let s = setup(None).await;
    let o = run(&s, &["tools", "--all", "--format", "openai"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc = json_out(&o);
    let n = names(&doc);
    for t in [
        "google_search_messages",
        "google_send_message",
        "slack_lookup_user",
        "slack_post_message",
    ] {
        assert!(n.contains(&t.to_owned()), "{t} missing: {n:?}");
    }
    assert_eq!(doc[0]["type"], "function");
    // No I/O to the providers for a listing.
    assert!(s.slack.calls().is_empty());
}

#[tokio::test]
async fn tools_user_lists_what_the_grant_allows() {
    let s = setup(Some(&["users:read", "channels:read"])).await;
    let o = run(&s, &["tools", "--user", "alice", "--format", "anthropic"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n = names(&json_out(&o));
    assert!(n.contains(&"slack_lookup_user".to_owned()), "{n:?}");
    assert!(n.contains(&"slack_list_conversations".to_owned()), "{n:?}");
    assert!(n.iter().all(|t| t.starts_with("slack_")), "{n:?}");
    // chat:write was not granted.
    assert!(!n.contains(&"slack_post_message".to_owned()), "{n:?}");

    // Every dialect prints; strict too.
    for format in [
        "openai",
        "openai-responses",
        "gemini",
        "gemini-openapi",
        "mcp",
    ] {
        let o = run(
            &s,
            &["tools", "--user", "alice", "--format", format, "--strict"],
        )
        .await;
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("slack_lookup_user"), "{format}: {text}");
        assert!(!text.contains("google_"), "{format}");
    }

    // The Responses API's flat shape, strict always said.
    let o = run(
        &s,
        &[
            "tools",
            "--user",
            "alice",
            "--format",
            "openai-responses",
            "--strict",
        ],
    )
    .await;
    let doc = json_out(&o);
    let lookup = doc
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "slack_lookup_user"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(lookup["type"], "function", "{doc}");
    assert_eq!(lookup["strict"], true, "{doc}");
    assert_eq!(lookup["parameters"]["additionalProperties"], false, "{doc}");
    assert!(lookup.get("function").is_none(), "{doc}");

    // Someone with nothing connected: nothing, or connect tools.
    let o = run(&s, &["tools", "--user", "bob", "--format", "openai"]).await;
    assert!(names(&json_out(&o)).is_empty());
    let o = run(
        &s,
        &[
            "tools",
            "--user",
            "bob",
            "--format",
            "openai",
            "--connect-tools",
        ],
    )
    .await;
    let n = names(&json_out(&o));
    assert_eq!(n, ["connect_google", "connect_slack"]);

    // A bad format and a missing --user are command-line errors.
    let o = run(&s, &["tools", "--user", "alice", "--format", "cohere"]).await;
    assert_eq!(o.status.code(), Some(2));
    let o = run(&s, &["tools", "--format", "openai"]).await;
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test]
async fn call_dispatches_and_reports_problems_as_tool_results() {
    let s = setup(Some(&["users:read", "channels:read"])).await;
    let o = run(
        &s,
        &[
            "call",
            "slack_lookup_user",
            "--user",
            "alice",
            "--args",
            r#"{"user_id": "W012A3CDE"}"#,
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let out = json_out(&o);
    assert_eq!(out["isError"], false);
    assert_eq!(out["structuredContent"]["id"], "W012A3CDE");
    assert_eq!(out["content"][0]["type"], "text");
    assert!(
        s.slack.violations().is_empty(),
        "{:?}",
        s.slack.violations()
    );
    let mut all = String::from_utf8_lossy(&o.stdout).into_owned() + &stderr;

    // Invalid arguments: a tool result naming the field, exit code 1.
    let o = run(
        &s,
        &[
            "call",
            "slack_lookup_user",
            "--user",
            "alice",
            "--args",
            r#"{"user_id": 5}"#,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    let out = json_out(&o);
    assert_eq!(out["isError"], true);
    let text = out["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("`/user_id`"), "{text}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("reported an error (isError)"));

    // An unknown tool names the close one.
    let o = run(&s, &["call", "slack_lookup_usr", "--user", "alice"]).await;
    assert_eq!(o.status.code(), Some(1));
    let out = json_out(&o);
    assert!(
        out["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("`slack_lookup_user`"),
        "{out}"
    );

    // A user who has not connected Slack is told how to.
    let o = run(&s, &["call", "connect_slack", "--user", "bob"]).await;
    let out = json_out(&o);
    assert_eq!(out["structuredContent"]["authorization_required"], true);
    assert!(
        out["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("connectors connect slack --user bob"),
        "{out}"
    );
    all += &String::from_utf8_lossy(&o.stdout);
    all += &String::from_utf8_lossy(&o.stderr);

    // So is one who calls a Slack tool without having connected: the
    // answer is the same, and the call failed (exit code 1).
    let o = run(
        &s,
        &[
            "call",
            "slack_lookup_user",
            "--user",
            "bob",
            "--args",
            r#"{"user_id": "W012A3CDE"}"#,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    let out = json_out(&o);
    assert_eq!(out["isError"], true);
    assert_eq!(out["structuredContent"]["authorization_required"], true);
    let text = out["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("`slack_lookup_user` needs the user's Slack account")
            && text.contains("connectors connect slack --user bob"),
        "{out}"
    );
    all += &String::from_utf8_lossy(&o.stdout);
    all += &String::from_utf8_lossy(&o.stderr);
    assert!(!all.contains(SLACK_TOKEN), "a token was printed");
    drop(s.dir);
}
