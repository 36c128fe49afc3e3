//! The toolbox against real components: the Slack and Google connectors
//! pointed at the testkit's strict fakes, grants stored in an in-memory
//! vault, and an MCP connector over the fake MCP server.

use std::sync::Arc;

use connector_agent::schema::Dialect;
use connector_agent::{CallOptions, Catalog, CatalogOptions, EntryKind, Rendered, Toolbox};
use connector_core::oauth::{OAuthEngine, OAuthProvider, ProviderSettings};
use connector_core::vault::{TokenKey, TokenRecord, Vault, now_unix};
use connector_core::{AuthRequirement, Connector, Content, Secret, ToolOutput};
use connector_google::GoogleConnector;
use connector_mcp::config::McpServerConfig;
use connector_mcp::connector::McpConnector;
use connector_slack::SlackConnector;
use connector_testkit::google::FakeGoogle;
use connector_testkit::mcp_server::{FakeMcpOptions, FakeMcpServer, TokenCheck};
use connector_testkit::slack::{FakeSlack, TokenKind};
use serde_json::{Value, json};

const USER: &str = "alice";
const SLACK_TOKEN: &str = "xoxb-17653672481-19874698323-work";
const SLACK_TOKEN_HOME: &str = "xoxb-17653672481-19874698323-home";
const GOOGLE_TOKEN: &str = "ya29.access-token-alice";
const GMAIL_MODIFY: &str = "https://www.googleapis.com/auth/gmail.modify";

fn record(token: &str, scopes: &[&str]) -> TokenRecord {
    let now = now_unix();
    TokenRecord {
        access_token: Secret::new(token),
        refresh_token: None,
        token_type: "Bearer".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        expires_at: Some(now + 3600),
        issuer: None,
        account_label: None,
        created_at: now,
        updated_at: now,
        extra: serde_json::Map::new(),
    }
}

struct Env {
    slack: FakeSlack,
    _google: FakeGoogle,
    mcp: FakeMcpServer,
    vault: Vault,
    toolbox: Toolbox,
}

/// Settings with a client and a redirect URI, so links can be made.
fn settings() -> ProviderSettings {
    ProviderSettings {
        client_id: Some("app".into()),
        client_secret: Some(Secret::new("app-secret")),
        redirect_uri: Some("http://127.0.0.1:9/callback".into()),
        ..ProviderSettings::default()
    }
}

/// Slack, Google and an MCP server `docs`; `grants` stored for the users.
/// Google has a redirect URI (links can be made), Slack has none.
async fn env(grants: &[(TokenKey, TokenRecord)]) -> Env {
    let slack = FakeSlack::start().await;
    slack.issue_token(
        SLACK_TOKEN,
        TokenKind::Bot,
        &["users:read", "channels:read", "chat:write"],
    );
    slack.issue_token(SLACK_TOKEN_HOME, TokenKind::Bot, &["users:read"]);
    let google = FakeGoogle::start().await;
    google.accept_token(GOOGLE_TOKEN);
    let mcp = FakeMcpServer::start(FakeMcpOptions::default()).await;
    mcp.add_tool(
        json!({
            "name": "search_docs",
            "description": "Searches the docs.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look for."},
                    "limit": {"type": "integer", "minimum": 1, "description": "At most this many."}
                },
                "required": ["query"],
                "additionalProperties": false
            }
        }),
        json!({"content": [{"type": "text", "text": "found it"}], "isError": false}),
    );

    let vault = Vault::in_memory().unwrap();
    for (key, r) in grants {
        vault.save_token(key, r).await.unwrap();
    }
    let AuthRequirement::OAuth2(slack_spec) = connector_slack::metadata().auth else {
        panic!("slack uses OAuth2");
    };
    let engine = OAuthEngine::builder(vault.clone())
        .provider(OAuthProvider::new("slack", slack_spec, None).unwrap())
        .provider(
            OAuthProvider::new("google", connector_google::oauth_spec(), Some(&settings()))
                .unwrap(),
        )
        .build()
        .unwrap();
    let slack_connector = SlackConnector::builder()
        .engine(engine.clone())
        .base_url(slack.url())
        .build()
        .unwrap();
    let google_connector = GoogleConnector::builder(engine.clone())
        .base_url(google.url())
        .build()
        .unwrap();
    let docs = McpConnector::builder(
        McpServerConfig::new(mcp.url())
            .resolve_with("docs", &|_| None)
            .unwrap(),
    )
    .build()
    .unwrap();
    let toolbox = Toolbox::builder(engine)
        .connector(Arc::new(slack_connector))
        .connector(Arc::new(google_connector))
        .connector(Arc::new(docs) as Arc<dyn Connector>)
        .build()
        .unwrap();
    Env {
        slack,
        _google: google,
        mcp,
        vault,
        toolbox,
    }
}

fn slack_key(account: Option<&str>) -> TokenKey {
    TokenKey::new("slack", USER, account)
}

fn names(c: &Catalog) -> Vec<&str> {
    c.tools().iter().map(|t| t.name.as_str()).collect()
}

fn text(out: &ToolOutput) -> String {
    out.content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The "authorization required" result of a tool that did not run, for
/// `provider`: its structured content.
fn needs_connecting(out: &ToolOutput, provider: &str) -> Value {
    assert!(out.is_error, "the tool did not run: {out:?}");
    let s = out.structured.clone().unwrap_or_default();
    assert_eq!(s["authorization_required"], true, "{s}");
    assert_eq!(s["provider"], provider, "{s}");
    s
}

async fn catalog(e: &Env, connect_tools: bool) -> Catalog {
    e.toolbox
        .catalog(USER, &CatalogOptions { connect_tools })
        .await
        .unwrap()
}

#[tokio::test]
async fn only_connected_providers_and_granted_scopes_are_listed() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let c = catalog(&e, false).await;
    let n = names(&c);
    assert!(n.contains(&"slack_lookup_user"), "{n:?}");
    assert!(n.contains(&"slack_list_conversations"), "{n:?}");
    // chat:write was not granted.
    assert!(!n.contains(&"slack_post_message"), "{n:?}");
    // Google is not connected: nothing of it without connect tools.
    assert!(!n.iter().any(|t| t.contains("google")), "{n:?}");
    // The MCP server needs no per-user authorization.
    assert!(n.contains(&"docs_search_docs"), "{n:?}");
    assert!(n.contains(&"docs_echo"), "{n:?}");
    // A single default account: no account argument.
    let lookup = c.get("slack_lookup_user").unwrap();
    assert!(lookup.accounts.is_empty());
    assert!(lookup.input_schema["properties"].get("account").is_none());
    assert!(c.omitted().is_empty(), "{:?}", c.omitted());

    // Another user has connected nothing.
    let c = e
        .toolbox
        .catalog("bob", &CatalogOptions::default())
        .await
        .unwrap();
    assert!(names(&c).iter().all(|n| n.starts_with("docs_")));
}

#[tokio::test]
async fn broader_google_scopes_cover_narrower_ones() {
    let e = env(&[(
        TokenKey::new("google", USER, None),
        record(GOOGLE_TOKEN, &[GMAIL_MODIFY]),
    )])
    .await;
    let c = catalog(&e, false).await;
    let n = names(&c);
    // gmail.modify covers gmail.readonly, gmail.send and gmail.compose...
    for t in [
        "google_search_messages",
        "google_get_message",
        "google_send_message",
        "google_create_draft",
    ] {
        assert!(n.contains(&t), "{t} missing from {n:?}");
    }
    // ... but not Calendar or Drive.
    assert!(!n.iter().any(|t| t.contains("event")), "{n:?}");
    assert!(!n.iter().any(|t| t.contains("file")), "{n:?}");
}

#[tokio::test]
async fn connect_tools_give_a_link_or_say_how_to_connect() {
    let e = env(&[]).await;
    let c = catalog(&e, true).await;
    let n = names(&c);
    assert!(n.contains(&"connect_google"), "{n:?}");
    assert!(n.contains(&"connect_slack"), "{n:?}");
    assert!(!n.iter().any(|t| t.starts_with("slack_")), "{n:?}");
    let connect = c.get("connect_google").unwrap();
    assert_eq!(connect.kind, EntryKind::Connect);
    assert_eq!(
        *connect.input_schema,
        *json!({"type": "object", "properties": {}, "additionalProperties": false})
            .as_object()
            .unwrap()
    );
    // The definition has no arguments in any dialect.
    let doc = c.render(Dialect::OpenAi, false).document;
    assert!(doc.to_string().contains("connect_google"));

    let opts = CallOptions::default();
    let out = e
        .toolbox
        .call_in(&c, "connect_google", json!({}), &opts)
        .await;
    assert!(!out.is_error, "{out:?}");
    let s = out.structured.clone().unwrap();
    assert_eq!(s["authorization_required"], true);
    assert_eq!(s["provider"], "google");
    let url = s["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{url}"
    );
    assert!(url.contains("state=") && url.contains("code_challenge="));
    assert!(text(&out).contains(url));

    // Slack has no redirect URI here: the model is told how to connect.
    let out = e
        .toolbox
        .call_in(&c, "connect_slack", Value::Null, &opts)
        .await;
    assert_eq!(out.structured.as_ref().unwrap()["url"], Value::Null);
    assert!(
        text(&out).contains("connectors connect slack --user alice"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn several_accounts_add_a_required_account_argument() {
    let e = env(&[
        (
            slack_key(Some("work")),
            record(SLACK_TOKEN, &["users:read", "channels:read", "chat:write"]),
        ),
        (
            slack_key(Some("home")),
            record(SLACK_TOKEN_HOME, &["users:read"]),
        ),
    ])
    .await;
    let c = catalog(&e, false).await;
    let lookup = c.get("slack_lookup_user").unwrap();
    assert_eq!(lookup.accounts, ["home", "work"]);
    assert_eq!(
        lookup.input_schema["properties"]["account"]["enum"],
        json!(["home", "work"])
    );
    assert!(
        lookup.input_schema["required"]
            .as_array()
            .unwrap()
            .contains(&json!("account"))
    );
    // Only the work account may post: no choice to make there.
    let post = c.get("slack_post_message").unwrap();
    assert!(post.accounts.is_empty());
    assert_eq!(post.implicit_account.as_deref(), Some("work"));
    assert!(post.input_schema["properties"].get("account").is_none());
    // MCP tools are not per account.
    assert!(c.get("docs_echo").unwrap().accounts.is_empty());

    let opts = CallOptions::default();
    let out = e
        .toolbox
        .call_in(
            &c,
            "slack_lookup_user",
            json!({"user_id": "W012A3CDE", "account": "home"}),
            &opts,
        )
        .await;
    assert!(!out.is_error, "{}", text(&out));
    assert_eq!(out.structured.unwrap()["id"], "W012A3CDE");
    assert!(
        e.slack.violations().is_empty(),
        "{:?}",
        e.slack.violations()
    );

    // Missing and unknown accounts are the model's to fix.
    let out = e
        .toolbox
        .call_in(
            &c,
            "slack_lookup_user",
            json!({"user_id": "W012A3CDE"}),
            &opts,
        )
        .await;
    assert!(out.is_error);
    assert!(
        text(&out).contains("`account` is required: one of home, work"),
        "{}",
        text(&out)
    );
    let out = e
        .toolbox
        .call_in(
            &c,
            "slack_lookup_user",
            json!({"user_id": "W012A3CDE", "account": "school"}),
            &opts,
        )
        .await;
    assert!(
        text(&out).contains("`school` is not one of"),
        "{}",
        text(&out)
    );

    // The account's own token is used: the implicit one for posting.
    let out = e
        .toolbox
        .call_in(
            &c,
            "slack_post_message",
            json!({"channel": "C012AB3CD", "text": "hi"}),
            &opts,
        )
        .await;
    assert!(!out.is_error, "{}", text(&out));
    assert!(
        e.slack.violations().is_empty(),
        "{:?}",
        e.slack.violations()
    );
}

#[tokio::test]
async fn strict_nulls_are_undone_before_validation() {
    let e = env(&[]).await;
    let c = catalog(&e, false).await;
    let strict = CallOptions {
        dialect: Dialect::OpenAi,
        strict: true,
        ..CallOptions::default()
    };
    // What a strict-mode model sends for the optional `limit` it leaves out.
    let out = e
        .toolbox
        .call_in(
            &c,
            "docs_search_docs",
            json!({"query": "x", "limit": null}),
            &strict,
        )
        .await;
    assert!(!out.is_error, "{}", text(&out));
    assert_eq!(text(&out), "found it");
    // The server received no `limit`.
    assert!(e.mcp.violations().is_empty(), "{:?}", e.mcp.violations());

    // Without strict mode a null is not what the schema allows.
    let out = e
        .toolbox
        .call_in(
            &c,
            "docs_search_docs",
            json!({"query": "x", "limit": null}),
            &CallOptions::default(),
        )
        .await;
    assert!(out.is_error);
    assert!(text(&out).contains("`/limit`"), "{}", text(&out));
}

#[tokio::test]
async fn invalid_arguments_name_the_field() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let c = catalog(&e, false).await;
    let opts = CallOptions::default();
    let out = e
        .toolbox
        .call_in(&c, "slack_lookup_user", json!({"user_id": 5}), &opts)
        .await;
    assert!(out.is_error);
    let t = text(&out);
    assert!(
        t.contains("slack_lookup_user") && t.contains("`/user_id`"),
        "{t}"
    );
    // Nothing reached Slack.
    assert_eq!(e.slack.call_count("users.info"), 0);

    let out = e
        .toolbox
        .call_in(&c, "docs_search_docs", json!({"limit": 0}), &opts)
        .await;
    let t = text(&out);
    assert!(t.contains("\"query\" is a required property"), "{t}");
    assert!(t.contains("`/limit`"), "{t}");
    let out = e
        .toolbox
        .call_in(
            &c,
            "docs_search_docs",
            json!({"query": "x", "extra": 1}),
            &opts,
        )
        .await;
    assert!(text(&out).contains("extra"), "{}", text(&out));
    // Not an object; not JSON.
    let out = e
        .toolbox
        .call_in(&c, "docs_search_docs", json!([1]), &opts)
        .await;
    assert!(
        text(&out).contains("must be a JSON object"),
        "{}",
        text(&out)
    );
    let out = e
        .toolbox
        .call_in(&c, "docs_search_docs", json!("{\"query\": "), &opts)
        .await;
    assert!(text(&out).contains("not valid JSON"), "{}", text(&out));
    // OpenAI's arguments string is accepted.
    let out = e
        .toolbox
        .call_in(&c, "docs_search_docs", json!("{\"query\": \"x\"}"), &opts)
        .await;
    assert!(!out.is_error, "{}", text(&out));
}

#[tokio::test]
async fn unknown_tools_name_close_matches() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let c = catalog(&e, false).await;
    let opts = CallOptions::default();
    let out = e
        .toolbox
        .call_in(&c, "slack_lookup_usr", json!({}), &opts)
        .await;
    assert!(out.is_error);
    let t = text(&out);
    assert!(t.contains("no tool named `slack_lookup_usr`"), "{t}");
    assert!(t.contains("`slack_lookup_user`"), "{t}");
    // The provider's own name is a close match too.
    let out = e.toolbox.call_in(&c, "lookup_user", json!({}), &opts).await;
    assert!(text(&out).contains("`slack_lookup_user`"), "{}", text(&out));
    // A name with a provider's prefix that the provider has not: unknown.
    let out = e
        .toolbox
        .call_in(&c, "slack_post_a_poem", json!({}), &opts)
        .await;
    assert!(out.is_error);
    assert!(text(&out).contains("no tool named"), "{}", text(&out));
    assert_eq!(
        out.structured.unwrap()["error"]["kind"],
        "unknown tool",
        "not an authorization question"
    );
    // Nonsense gets no suggestion but a clear answer.
    let out = e
        .toolbox
        .call_in(&c, &"z".repeat(500), json!({}), &opts)
        .await;
    assert!(out.is_error);
}

/// A tool the model's catalog does not have, of a provider the user has
/// not connected or has not granted what the tool needs, is answered
/// with the link to connect (or how to), not as an unknown tool; once the
/// user has connected, the same call goes through without a new catalog.
#[tokio::test]
async fn tools_left_out_for_authorization_answer_with_the_link_to_connect() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let c = catalog(&e, false).await;
    let opts = CallOptions::default();
    assert!(c.get("google_list_labels").is_none());
    assert!(c.get("slack_post_message").is_none());

    // Google is not connected: the link (Google has a redirect URI).
    let out = e
        .toolbox
        .call_in(&c, "google_list_labels", json!({}), &opts)
        .await;
    let s = needs_connecting(&out, "google");
    let url = s["url"].as_str().expect("a link");
    assert!(url.starts_with("https://accounts.google.com/"), "{url}");
    let t = text(&out);
    assert!(
        t.contains("`google_list_labels` needs the user's Google"),
        "{t}"
    );
    assert!(t.contains("not connected") && t.contains(url), "{t}");

    // Slack is connected without `chat:write`: the permission is named,
    // and as Slack has no redirect URI here, how to connect is said.
    let out = e
        .toolbox
        .call_in(
            &c,
            "slack_post_message",
            json!({"channel": "C1", "text": "hi"}),
            &opts,
        )
        .await;
    let s = needs_connecting(&out, "slack");
    assert!(s["url"].is_null(), "{s}");
    let t = text(&out);
    assert!(
        t.contains(
            "`slack_post_message` needs permissions the user has not granted to Slack (chat:write)"
        ),
        "{t}"
    );
    assert!(t.contains("connectors connect slack --user alice"), "{t}");
    assert!(!t.contains(SLACK_TOKEN), "no token in a result");

    // The user connects Google after the catalog was handed out: the
    // model's next call goes through, with the catalog it has.
    e.vault
        .save_token(
            &TokenKey::new("google", USER, None),
            &record(GOOGLE_TOKEN, &[GMAIL_MODIFY]),
        )
        .await
        .unwrap();
    let out = e
        .toolbox
        .call_in(&c, "google_list_labels", json!({}), &opts)
        .await;
    assert!(!out.is_error, "{}", text(&out));
    assert!(
        out.structured
            .as_ref()
            .is_none_or(|s| s.get("authorization_required").is_none()),
        "{:?}",
        out.structured
    );
}

/// An MCP server that wants the user to authorize before it lists
/// anything: a call to one of its tools says so (not "unknown tool").
#[tokio::test]
async fn an_mcp_server_that_needs_authorization_says_so_for_its_tools() {
    let e = env(&[]).await;
    e.mcp
        .require_bearer(Arc::new(|_: &str| TokenCheck::Invalid));
    let c = catalog(&e, false).await;
    assert!(c.get("docs_search_docs").is_none(), "{:?}", names(&c));
    let out = e
        .toolbox
        .call_in(
            &c,
            "docs_search_docs",
            json!({"query": "x"}),
            &CallOptions::default(),
        )
        .await;
    needs_connecting(&out, "docs");
    // A name with no provider's prefix is not asked of anyone.
    let out = e
        .toolbox
        .call_in(&c, "nodocs_search", json!({}), &CallOptions::default())
        .await;
    assert_eq!(
        out.structured.unwrap()["error"]["kind"],
        "unknown tool",
        "no provider's prefix"
    );
}

#[tokio::test]
async fn missing_authorization_comes_back_as_a_tool_result() {
    let key = TokenKey::new("google", USER, None);
    let e = env(&[(key.clone(), record(GOOGLE_TOKEN, &[GMAIL_MODIFY]))]).await;
    let c = catalog(&e, false).await;
    // The grant disappears after the catalog was handed out.
    e.vault.delete_token(&key).await.unwrap();
    let out = e
        .toolbox
        .call_in(
            &c,
            "google_search_messages",
            json!({"query": "is:unread"}),
            &CallOptions::default(),
        )
        .await;
    let s = needs_connecting(&out, "google");
    let url = s["url"].as_str().unwrap();
    assert!(text(&out).contains(url), "{}", text(&out));
    assert!(text(&out).contains("connected"), "{}", text(&out));
}

#[tokio::test]
async fn provider_errors_are_tool_results() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let c = catalog(&e, false).await;
    let out = e
        .toolbox
        .call_in(
            &c,
            "slack_lookup_user",
            json!({"user_id": "W000NOSUCH"}),
            &CallOptions::default(),
        )
        .await;
    assert!(out.is_error);
    assert!(out.structured.unwrap()["error"]["kind"].is_string());
    // Both or neither: the connector's own check, as a tool result.
    let out = e
        .toolbox
        .call_in(&c, "slack_lookup_user", json!({}), &CallOptions::default())
        .await;
    assert!(out.is_error);
    assert!(text(&out).contains("user_id"), "{}", text(&out));
    // An MCP tool that reports an error stays a result.
    let out = e
        .toolbox
        .call_in(&c, "docs_fail", json!({}), &CallOptions::default())
        .await;
    assert!(out.is_error);
}

#[tokio::test]
async fn call_builds_the_catalog_itself_and_render_covers_every_dialect() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let out = e
        .toolbox
        .call(
            USER,
            "slack_lookup_user",
            json!({"user_id": "W012A3CDE"}),
            &CallOptions::default(),
        )
        .await;
    assert!(!out.is_error, "{}", text(&out));
    let c = catalog(&e, true).await;
    for d in [
        Dialect::OpenAi,
        Dialect::Anthropic,
        Dialect::Gemini,
        Dialect::GeminiOpenApi,
        Dialect::Mcp,
    ] {
        for strict in [false, true] {
            let r = c.render(d, strict);
            assert!(r.skipped.is_empty(), "{d:?}: {:?}", r.skipped);
            let s = r.document.to_string();
            assert!(
                s.contains("slack_lookup_user") && s.contains("connect_google"),
                "{d:?}"
            );
        }
    }
}

/// A toolbox whose only connector is the MCP server `mcp`, named `id`
/// (no authorization: every user has its tools).
pub(crate) fn mcp_toolbox(mcp: &FakeMcpServer, id: &str) -> Toolbox {
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .build()
        .unwrap();
    let server = McpConnector::builder(
        McpServerConfig::new(mcp.url())
            .resolve_with(id, &|_| None)
            .unwrap(),
    )
    .build()
    .unwrap();
    Toolbox::builder(engine)
        .connector(Arc::new(server) as Arc<dyn Connector>)
        .build()
        .unwrap()
}

/// A toolbox over one MCP server whose tools have, each, the given number
/// of optional and of union-typed (required) properties, besides a
/// required `id`; its catalog for `USER`.
async fn catalog_of_loads(loads: &[(usize, usize)]) -> (FakeMcpServer, Catalog) {
    let mcp = FakeMcpServer::start(FakeMcpOptions::default()).await;
    for builtin in [
        "echo",
        "add",
        "slow",
        "fail",
        "image",
        "audio",
        "resource_link",
        "embedded_resource",
    ] {
        mcp.remove_tool(builtin);
    }
    let ok = json!({"content": [{"type": "text", "text": "ok"}], "isError": false});
    for (i, &(optional, unions)) in loads.iter().enumerate() {
        let mut props = serde_json::Map::new();
        let mut required = vec![json!("id")];
        props.insert("id".into(), json!({"type": "string"}));
        for k in 0..optional {
            props.insert(format!("opt{k}"), json!({"type": "integer"}));
        }
        for k in 0..unions {
            props.insert(format!("u{k}"), json!({"type": ["string", "integer"]}));
            required.push(json!(format!("u{k}")));
        }
        mcp.add_tool(
            json!({
                "name": format!("t{i:02}"),
                "description": "A tool.",
                "inputSchema": {"type": "object", "properties": props, "required": required}
            }),
            ok.clone(),
        );
    }
    let toolbox = mcp_toolbox(&mcp, "many");
    let c = toolbox
        .catalog(USER, &CatalogOptions::default())
        .await
        .unwrap();
    assert_eq!(c.len(), loads.len(), "{:?}", c.omitted());
    (mcp, c)
}

/// The strict tools of an Anthropic document, with their optional and
/// union-typed properties added up.
fn strict_totals(doc: &Value) -> (usize, usize, usize) {
    let strict: Vec<&Value> = doc
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["strict"] == true)
        .collect();
    let (mut optional, mut unions) = (0, 0);
    for t in &strict {
        let schema = &t["input_schema"];
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        for (k, v) in schema["properties"].as_object().unwrap() {
            optional += usize::from(!required.contains(&json!(k)));
            unions += usize::from(v["type"].is_array());
        }
    }
    (strict.len(), optional, unions)
}

/// Anthropic rejects a request whose strict tools together exceed 20
/// tools, 24 optional or 16 union-typed properties: `render` keeps the
/// catalog within them, lightest tools first, and says why for the rest.
#[tokio::test]
async fn anthropic_strict_limits_are_counted_across_the_catalog() {
    // 30 tools without optional or union properties: 20 stay strict.
    let (_mcp, c) = catalog_of_loads(&[(0, 0); 30]).await;
    let r = same_as_text(&c, Dialect::Anthropic, true);
    assert_eq!(
        r.document.as_array().unwrap().len(),
        30,
        "all still offered"
    );
    assert_eq!(strict_totals(&r.document), (20, 0, 0));
    assert_eq!(r.strict_fallbacks.len(), 10);
    for f in &r.strict_fallbacks {
        assert!(f.notes[0].contains("20 strict tools"), "{:?}", f.notes);
    }
    for t in r.document.as_array().unwrap() {
        if t["strict"] != true {
            assert!(t.get("strict").is_none());
            assert_ne!(t["input_schema"]["additionalProperties"], false);
        }
    }
    // OpenAI has no such request-wide limit; plain Anthropic is untouched.
    assert!(c.render(Dialect::OpenAi, true).strict_fallbacks.is_empty());
    assert!(
        c.render(Dialect::Anthropic, false)
            .strict_fallbacks
            .is_empty()
    );

    // Heavier first in the catalog: 3 tools with 9 union-typed properties,
    // then 12 with 3 optional ones. Lightest first: 8 optional ones (24),
    // then one union one (9); the others would go over.
    let mut loads = vec![(0, 9); 3];
    loads.extend([(3, 0); 12]);
    let (_mcp, c) = catalog_of_loads(&loads).await;
    let r = same_as_text(&c, Dialect::Anthropic, true);
    assert_eq!(strict_totals(&r.document), (9, 24, 9));
    let reasons: Vec<&str> = r
        .strict_fallbacks
        .iter()
        .map(|f| f.notes[0].as_str())
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|n| n.contains("limit of 24")).count(),
        4,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|n| n.contains("limit of 16")).count(),
        2,
        "{reasons:?}"
    );
}

/// `render`, after checking that `render_json` gives the same document as
/// text, the same fallbacks and the same omissions.
fn same_as_text(c: &Catalog, d: Dialect, strict: bool) -> Rendered {
    let v = c.render(d, strict);
    let j = c.render_json(d, strict);
    assert_eq!(
        serde_json::to_string(&v.document).unwrap(),
        j.document,
        "{d:?}, strict {strict}"
    );
    assert_eq!(
        v.strict_fallbacks, j.strict_fallbacks,
        "{d:?}, strict {strict}"
    );
    assert_eq!(v.skipped, j.skipped, "{d:?}, strict {strict}");
    v
}

/// `render_json` is `render` written as text, and keeps what it compiled:
/// rendering again compiles nothing, and a tool whose `account` choices
/// differ is compiled apart.
#[tokio::test]
async fn render_json_is_render_as_text_and_compiles_each_schema_once() {
    let e = env(&[(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )])
    .await;
    let c = catalog(&e, true).await;
    assert!(c.len() > 3, "{:?}", names(&c));
    for d in Dialect::ALL {
        for strict in [false, true] {
            same_as_text(&c, d, strict);
        }
    }
    let before = e.toolbox.cache_stats();
    // Five schema dialects (both OpenAI APIs share one), plain and strict;
    // OpenAI's strict schemas are Anthropic's plain ones in no case, so
    // every (tool, rules, strict) was compiled once.
    assert_eq!(before.misses, 10 * c.len() as u64, "{before:?}");
    assert_eq!(before.entries as u64, before.misses);
    assert_eq!(
        before.hits,
        2 * c.len() as u64,
        "the Responses API's renders"
    );
    let again = c.render_json(Dialect::Gemini, false);
    let after = e.toolbox.cache_stats();
    assert_eq!(after.misses, before.misses, "nothing compiled again");
    assert_eq!(after.hits, before.hits + c.len() as u64);
    assert_eq!(
        again.document,
        c.render_json(Dialect::Gemini, false).document
    );

    // A second Slack account: `slack_lookup_user` gains an `account`
    // argument, a different schema, compiled for itself.
    let two = env(&[
        (
            slack_key(Some("work")),
            record(SLACK_TOKEN, &["users:read", "channels:read"]),
        ),
        (
            slack_key(Some("home")),
            record(SLACK_TOKEN_HOME, &["users:read"]),
        ),
    ])
    .await;
    let one = catalog(&two, false).await;
    let base = two.toolbox.cache_stats();
    let doc: Value =
        serde_json::from_str(&one.render_json(Dialect::OpenAi, true).document).unwrap();
    let lookup = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "slack_lookup_user")
        .unwrap();
    assert_eq!(
        lookup["function"]["parameters"]["properties"]["account"]["enum"],
        json!(["home", "work"])
    );
    assert_eq!(
        two.toolbox.cache_stats().misses,
        base.misses + one.len() as u64
    );
}

/// `render_json_many` gives each request what `render_json` gives alone,
/// compiles what is missing once for every dialect that lacks it (the two
/// OpenAI APIs share their schemas), and takes what is compiled already.
#[tokio::test]
async fn render_json_many_is_render_json_for_each_request_compiled_together() {
    let grants = [(
        slack_key(None),
        record(SLACK_TOKEN, &["users:read", "channels:read"]),
    )];
    let requests: Vec<(Dialect, bool)> = Dialect::ALL
        .iter()
        .flat_map(|&d| [(d, true), (d, false)])
        .collect();

    // Alone, one request after the other, on one toolbox ...
    let alone = env(&grants).await;
    let c = catalog(&alone, true).await;
    let expected: Vec<_> = requests
        .iter()
        .map(|&(d, strict)| c.render_json(d, strict))
        .collect();

    // ... and together on another.
    let together = env(&grants).await;
    let c = catalog(&together, true).await;
    let n = c.len() as u64;
    let got = c.render_json_many(&requests);
    assert_eq!(got.len(), requests.len());
    for ((one, many), (d, strict)) in expected.iter().zip(&got).zip(&requests) {
        assert_eq!(one.document, many.document, "{d:?}, strict {strict}");
        assert_eq!(
            one.strict_fallbacks, many.strict_fallbacks,
            "{d:?}, strict {strict}"
        );
        assert_eq!(one.skipped, many.skipped, "{d:?}, strict {strict}");
    }
    let stats = together.toolbox.cache_stats();
    // Five schema dialects, strict and plain: every tool compiled once for
    // each, nothing found (the Responses requests were folded into
    // OpenAI's before looking).
    assert_eq!((stats.misses, stats.hits), (10 * n, 0), "{stats:?}");

    // Partly compiled: Gemini is there, MCP is not.
    let third = env(&grants).await;
    let c = catalog(&third, true).await;
    let gemini = c.render_json(Dialect::Gemini, false);
    let before = third.toolbox.cache_stats();
    let both = c.render_json_many(&[(Dialect::Gemini, false), (Dialect::Mcp, false)]);
    let after = third.toolbox.cache_stats();
    assert_eq!(both[0].document, gemini.document);
    assert_eq!(after.hits, before.hits + n, "Gemini's schemas found");
    assert_eq!(after.misses, before.misses + n, "MCP's compiled");
    assert_eq!(after.entries, before.entries + n as usize);
    assert!(c.render_json_many(&[]).is_empty());
}

/// The compiled schemas belong to the toolbox: a second user's catalog
/// finds them compiled, and a schema the server changes is compiled again
/// (the new one served, never the old).
#[tokio::test]
async fn compiled_schemas_are_shared_by_users_and_follow_a_changed_schema() {
    let mcp = FakeMcpServer::start(FakeMcpOptions::default()).await;
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .build()
        .unwrap();
    let mut config = McpServerConfig::new(mcp.url());
    // Every catalog asks the server (no cached tool list).
    config.tool_cache_ttl_secs = Some(0);
    let server = McpConnector::builder(config.resolve_with("srv", &|_| None).unwrap())
        .build()
        .unwrap();
    let toolbox = Toolbox::builder(engine)
        .connector(Arc::new(server) as Arc<dyn Connector>)
        .build()
        .unwrap();
    let options = CatalogOptions::default();

    let alice = toolbox.catalog("alice", &options).await.unwrap();
    assert!(alice.len() >= 8, "{:?}", alice.omitted());
    let first = alice.render_json(Dialect::Anthropic, true);
    let s1 = toolbox.cache_stats();
    assert_eq!((s1.hits, s1.misses), (0, alice.len() as u64));

    let bob = toolbox.catalog("bob", &options).await.unwrap();
    let second = bob.render_json(Dialect::Anthropic, true);
    assert_eq!(second.document, first.document);
    let s2 = toolbox.cache_stats();
    assert_eq!((s2.hits, s2.misses), (bob.len() as u64, s1.misses));

    mcp.add_tool(
        json!({
            "name": "echo",
            "description": "Echoes the message, several times.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "times": {"type": "integer", "minimum": 1}
                },
                "required": ["message"]
            }
        }),
        json!({"content": [{"type": "text", "text": "ok"}], "isError": false}),
    );
    // The server says `tools/list_changed`; the client lists again once
    // that arrives (bounded wait).
    let mut changed = None;
    for _ in 0..200 {
        let c = toolbox.catalog("alice", &options).await.unwrap();
        if c.get("srv_echo")
            .is_some_and(|t| t.input_schema["properties"].get("times").is_some())
        {
            changed = Some(c);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let changed = changed.expect("the changed list within 2 s");
    let third = same_as_text(&changed, Dialect::Anthropic, true);
    let s3 = toolbox.cache_stats();
    // The Value path compiles on its own; only `render_json` counts.
    assert_eq!(s3.misses, s2.misses + 1, "only the changed schema");
    assert_eq!(s3.hits, s2.hits + changed.len() as u64 - 1);
    let echo = third
        .document
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "srv_echo")
        .unwrap();
    assert_eq!(
        echo["input_schema"]["properties"]["times"]["type"],
        "integer"
    );
    // Anthropic's strict mode keeps optional properties optional.
    assert_eq!(echo["strict"], true);
    assert_eq!(echo["input_schema"]["required"], json!(["message"]));
}
