//! A strict fake of the Slack Web API.
//!
//! It serves `POST /api/<method>` on `127.0.0.1` and a free port, checks
//! every request the way Slack documents it (POST, a form or JSON body, the
//! token in `Authorization: Bearer`, never in the body; the arguments each
//! method requires) and answers with the documented shapes, seeded from
//! `tests/fixtures/slack/`: `ok: false` errors with HTTP 200, `missing_scope`
//! with `needed`/`provided`, 429 with `Retry-After`, and
//! `response_metadata.next_cursor` pagination. Tokens have a kind, as
//! Slack's do: `search.messages`, and `conversations.replies` in channels,
//! take user tokens only (a bot token there is answered as Slack does and
//! recorded). What it finds wrong with a request goes into
//! [`FakeSlack::violations`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::oauth_server::FakeOAuthServer;

const CONVERSATIONS: &str = include_str!("../tests/fixtures/slack/conversations.json");
const USERS: &str = include_str!("../tests/fixtures/slack/users.json");
const MESSAGES: &str = include_str!("../tests/fixtures/slack/messages.json");

/// The app's bot user in the fake workspace.
pub const BOT_USER: &str = "U0APPBOT1";
/// The app's bot id.
pub const BOT_ID: &str = "B0APPBOT1";
/// The fake workspace.
pub const TEAM: &str = "T012AB3C4";

/// What kind of token Slack issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `xoxb-`: the app's bot token.
    Bot,
    /// `xoxp-`: a user token.
    User,
}

#[derive(Debug, Clone)]
struct Grant {
    kind: TokenKind,
    scopes: HashSet<String>,
    revoked: bool,
}

/// One way to fail the next request to a method.
#[derive(Debug, Clone)]
enum Fault {
    /// `{"ok": false, "error": <code>}` with HTTP 200.
    Error(String),
    /// HTTP 429 with `Retry-After: <secs>`.
    RateLimit(u64),
    /// A bare HTTP status.
    Status(u16),
    /// Handle the request normally, but answer only after this long.
    Delay(std::time::Duration),
}

#[derive(Debug)]
struct Trust {
    server: FakeOAuthServer,
    marker: Option<String>,
    grant: Grant,
}

impl Trust {
    fn covers(&self, token: &str) -> bool {
        match &self.marker {
            None => self.server.is_active(token),
            Some(m) => self
                .server
                .token_info(token)
                // Slack separates scopes with commas, which a space-separated
                // authorization server keeps as one.
                .is_some_and(|i| {
                    i.active && i.scopes.iter().flat_map(|s| s.split(',')).any(|s| s == m)
                }),
        }
    }
}

#[derive(Debug, Default)]
struct FakeState {
    grants: HashMap<String, Grant>,
    /// Access tokens these authorization servers hold active are accepted
    /// too, as a grant of this kind and scopes, when the token's own grant
    /// there includes the marker scope (if any); the first rule that
    /// matches wins (token rotation tests).
    trusted: Vec<Trust>,
    conversations: Vec<Value>,
    users: Vec<Value>,
    /// Per conversation, oldest first.
    messages: HashMap<String, Vec<Value>>,
    faults: HashMap<String, VecDeque<Fault>>,
    calls: Vec<String>,
    violations: Vec<String>,
    max_page_size: Option<usize>,
    next_ts: u64,
}

struct Inner {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(tx) = lock(&self.shutdown).take() {
            let _ = tx.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The fake Slack API. Cheap to clone; stops when the last clone drops.
#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeSlack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSlack")
            .field("addr", &self.inner.addr)
            .finish()
    }
}

impl FakeSlack {
    /// Starts a fake on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// When the loopback socket cannot be bound or a fixture does not parse.
    #[allow(
        clippy::expect_used,
        reason = "test support: the fixed signature has no error path"
    )]
    pub async fn start() -> FakeSlack {
        Self::try_start()
            .await
            .expect("cannot start the fake Slack API on 127.0.0.1")
    }

    /// Starts a fake on `127.0.0.1` and a free port.
    pub async fn try_start() -> std::io::Result<FakeSlack> {
        let parse = |s: &str| serde_json::from_str::<Value>(s).map_err(std::io::Error::other);
        let conversations = match parse(CONVERSATIONS)? {
            Value::Array(a) => a,
            _ => return Err(std::io::Error::other("conversations.json is not an array")),
        };
        let users = match parse(USERS)? {
            Value::Array(a) => a,
            _ => return Err(std::io::Error::other("users.json is not an array")),
        };
        let messages = match parse(MESSAGES)? {
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| match v {
                    Value::Array(a) => (k, a),
                    _ => (k, Vec::new()),
                })
                .collect(),
            _ => return Err(std::io::Error::other("messages.json is not an object")),
        };
        let state = Arc::new(Mutex::new(FakeState {
            conversations,
            users,
            messages,
            ..FakeState::default()
        }));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // Without TCP_NODELAY, small keep-alive responses stall ~40 ms on
        // Nagle's algorithm meeting delayed ACKs.
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "fake Slack: cannot set TCP_NODELAY");
            }
        });
        let app = Router::new()
            .route("/api/{method}", post(handle))
            .fallback(fallback)
            .with_state(Arc::clone(&state));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake Slack stopped with an error");
            }
        });
        Ok(FakeSlack {
            inner: Arc::new(Inner {
                addr,
                state,
                shutdown: Mutex::new(Some(tx)),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.inner.state)
    }

    /// The Web API base URL, `http://127.0.0.1:PORT/api`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.inner.addr)
    }

    /// Accepts `token` as a token of `kind` with `scopes`.
    pub fn issue_token(&self, token: &str, kind: TokenKind, scopes: &[&str]) {
        self.state().grants.insert(
            token.to_owned(),
            Grant {
                kind,
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                revoked: false,
            },
        );
    }

    /// Also accepts every access token `server` holds active now, as a
    /// token of `kind` with `scopes`: Slack and its token endpoint share
    /// their tokens, so refreshed and rotated tokens work at once.
    pub fn trust_oauth_server(&self, server: &FakeOAuthServer, kind: TokenKind, scopes: &[&str]) {
        self.trust(server, None, kind, scopes);
    }

    /// Like [`FakeSlack::trust_oauth_server`], for the active tokens of
    /// `server` whose grant there includes the scope `marker` only: one
    /// authorization server issues both a bot and a user token (Slack's
    /// `authed_user`), told apart by their scopes. Call it before the
    /// catch-all [`FakeSlack::trust_oauth_server`]: the first rule wins.
    pub fn trust_oauth_server_when(
        &self,
        server: &FakeOAuthServer,
        marker: &str,
        kind: TokenKind,
        scopes: &[&str],
    ) {
        self.trust(server, Some(marker), kind, scopes);
    }

    fn trust(
        &self,
        server: &FakeOAuthServer,
        marker: Option<&str>,
        kind: TokenKind,
        scopes: &[&str],
    ) {
        self.state().trusted.push(Trust {
            server: server.clone(),
            marker: marker.map(str::to_owned),
            grant: Grant {
                kind,
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                revoked: false,
            },
        });
    }

    /// Answers `token_revoked` to `token` from now on.
    pub fn revoke_token(&self, token: &str) {
        if let Some(g) = self.state().grants.get_mut(token) {
            g.revoked = true;
        }
    }

    /// The next request to `method` gets `{"ok": false, "error": code}`.
    pub fn fail_next(&self, method: &str, code: &str) {
        self.push_fault(method, Fault::Error(code.to_owned()));
    }

    /// The next request to `method` gets HTTP 429 with `Retry-After: secs`.
    pub fn rate_limit_next(&self, method: &str, retry_after_secs: u64) {
        self.push_fault(method, Fault::RateLimit(retry_after_secs));
    }

    /// The next request to `method` gets a bare HTTP `status`.
    pub fn status_next(&self, method: &str, status: u16) {
        self.push_fault(method, Fault::Status(status));
    }

    fn push_fault(&self, method: &str, fault: Fault) {
        self.state()
            .faults
            .entry(method.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// The next request to `method` is handled (a post is posted) but
    /// answered only after `delay`: an outcome the client cannot know.
    pub fn delay_next(&self, method: &str, delay: std::time::Duration) {
        self.push_fault(method, Fault::Delay(delay));
    }

    /// Caps page sizes below what callers ask, to force cursors.
    pub fn set_max_page_size(&self, n: Option<usize>) {
        self.state().max_page_size = n;
    }

    /// Every method called, in order (failed and refused requests included).
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// How many times `method` was called.
    pub fn call_count(&self, method: &str) -> usize {
        self.state().calls.iter().filter(|c| *c == method).count()
    }

    /// What the fake found wrong with requests.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// The messages of `channel`, oldest first.
    pub fn messages(&self, channel: &str) -> Vec<Value> {
        self.state()
            .messages
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }

    /// Adds a message to `channel` (its `ts` must be set).
    pub fn add_message(&self, channel: &str, message: Value) {
        let mut s = self.state();
        let list = s.messages.entry(channel.to_owned()).or_default();
        list.push(message);
        list.sort_by(|a, b| ts_of(a).total_cmp(&ts_of(b)));
    }
}

fn ts_of(v: &Value) -> f64 {
    v.get("ts")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn ok(mut v: Value) -> Response {
    if let Some(m) = v.as_object_mut() {
        m.insert("ok".into(), Value::Bool(true));
    }
    axum::Json(v).into_response()
}

fn err(code: &str) -> Response {
    axum::Json(json!({"ok": false, "error": code})).into_response()
}

async fn fallback(
    State(state): State<Arc<Mutex<FakeState>>>,
    req: axum::extract::Request,
) -> Response {
    lock(&state).violations.push(format!(
        "{} {}: not a Web API method (POST /api/<method>)",
        req.method(),
        req.uri().path()
    ));
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The scopes each method needs (any one of them, as Slack documents).
fn needed_scopes(method: &str) -> &'static [&'static str] {
    match method {
        "chat.postMessage" | "chat.update" | "chat.delete" => &["chat:write"],
        "conversations.list" => &["channels:read", "groups:read", "im:read", "mpim:read"],
        "conversations.history" | "conversations.replies" => &[
            "channels:history",
            "groups:history",
            "im:history",
            "mpim:history",
        ],
        "users.info" => &["users:read"],
        "users.lookupByEmail" => &["users:read.email"],
        "reactions.add" => &["reactions:write"],
        "search.messages" => &["search:read"],
        _ => &[],
    }
}

type Params = BTreeMap<String, String>;

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut delay = None;
    let response = handle_now(&state, &method, &headers, &body, &mut delay);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

/// Handles a request at once; sets `delay` when the answer must wait.
fn handle_now(
    state: &Mutex<FakeState>,
    method: &str,
    headers: &HeaderMap,
    body: &Bytes,
    delay: &mut Option<std::time::Duration>,
) -> Response {
    let method = method.to_owned();
    let mut s = lock(state);
    s.calls.push(method.clone());

    // The body: a form, or JSON where the method accepts it.
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let params: Params = if ctype.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(body).into_owned().collect()
    } else if ctype.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
            _ => {
                s.violations
                    .push(format!("{method}: the JSON body is not an object"));
                return err("invalid_json");
            }
        }
    } else if body.is_empty() {
        Params::new()
    } else {
        s.violations
            .push(format!("{method}: unexpected content type `{ctype}`"));
        return err("invalid_form_data");
    };
    if params.contains_key("token") {
        s.violations.push(format!(
            "{method}: the token was sent in the body, not in Authorization"
        ));
    }

    // The token.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        s.violations
            .push(format!("{method}: no `Authorization: Bearer` header"));
        return err("not_authed");
    };
    let trusted = s
        .trusted
        .iter()
        .find(|t| t.covers(token))
        .map(|t| t.grant.clone());
    let Some(grant) = s.grants.get(token).cloned().or(trusted) else {
        return err("invalid_auth");
    };
    if grant.revoked {
        return err("token_revoked");
    }

    // Injected faults come after authentication, as Slack's own do.
    if let Some(fault) = s.faults.get_mut(&method).and_then(VecDeque::pop_front) {
        return match fault {
            Fault::Delay(d) => {
                *delay = Some(d);
                drop(s);
                answer(state, &method, &params, &grant)
            }
            Fault::Error(code) => err(&code),
            Fault::RateLimit(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response(),
            Fault::Status(code) => StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
        };
    }
    drop(s);
    answer(state, &method, &params, &grant)
}

/// The scope check and the method itself.
fn answer(state: &Mutex<FakeState>, method: &str, params: &Params, grant: &Grant) -> Response {
    let mut s = lock(state);
    // The token's kind comes first: a bot cannot hold `search:read`.
    if method == "search.messages" && grant.kind != TokenKind::User {
        s.violations
            .push("search.messages: called with a bot token (user tokens only)".to_owned());
        return err("not_allowed_token_type");
    }
    let needed = needed_scopes(method);
    if !needed.is_empty() && !needed.iter().any(|n| grant.scopes.contains(*n)) {
        let mut provided: Vec<&str> = grant.scopes.iter().map(String::as_str).collect();
        provided.sort_unstable();
        return axum::Json(json!({
            "ok": false,
            "error": "missing_scope",
            "needed": needed.join(","),
            "provided": provided.join(","),
        }))
        .into_response();
    }

    let s = &mut *s;
    match method {
        "conversations.list" => conversations_list(s, params),
        "conversations.history" => conversations_history(s, params, grant),
        "conversations.replies" => conversations_replies(s, params, grant),
        "chat.postMessage" => chat_post(s, params),
        "chat.update" => chat_update(s, params),
        "chat.delete" => chat_delete(s, params),
        "reactions.add" => reactions_add(s, params),
        "users.info" => users_info(s, params),
        "users.lookupByEmail" => users_lookup(s, params),
        "search.messages" => search(s, params),
        other => {
            s.violations.push(format!("{other}: unknown method"));
            err("unknown_method")
        }
    }
}

fn require<'a>(s: &mut FakeState, method: &str, p: &'a Params, key: &str) -> Option<&'a str> {
    let v = p.get(key).map(String::as_str).filter(|v| !v.is_empty());
    if v.is_none() {
        s.violations.push(format!(
            "{method}: the required argument `{key}` is missing"
        ));
    }
    v
}

/// The page size and start offset of a cursor-paginated request.
fn page(
    s: &mut FakeState,
    method: &str,
    p: &Params,
    default: usize,
) -> Result<(usize, usize), &'static str> {
    let mut size = match p.get("limit") {
        None => default,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(1000),
            _ => {
                s.violations
                    .push(format!("{method}: `limit` is not a positive integer"));
                return Err("invalid_limit");
            }
        },
    };
    if let Some(max) = s.max_page_size {
        size = size.min(max.max(1));
    }
    let offset = match p.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match B64
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        {
            Some(n) => n,
            None => return Err("invalid_cursor"),
        },
    };
    Ok((size, offset))
}

fn cursor_for(next: usize, total: usize) -> String {
    if next < total {
        B64.encode(format!("offset:{next}"))
    } else {
        String::new()
    }
}

fn conversation<'a>(s: &'a FakeState, id: &str) -> Option<&'a Value> {
    s.conversations
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn conversations_list(s: &mut FakeState, p: &Params) -> Response {
    const M: &str = "conversations.list";
    let types: Vec<String> = p
        .get("types")
        .map(|t| t.split(',').map(|x| x.trim().to_owned()).collect())
        .unwrap_or_else(|| vec!["public_channel".to_owned()]);
    for t in &types {
        if !matches!(
            t.as_str(),
            "public_channel" | "private_channel" | "im" | "mpim"
        ) {
            return err("invalid_types");
        }
    }
    let exclude_archived = p
        .get("exclude_archived")
        .is_some_and(|v| v == "true" || v == "1");
    let (size, offset) = match page(s, M, p, 100) {
        Ok(x) => x,
        Err(r) => return err(r),
    };
    let all: Vec<Value> = s
        .conversations
        .iter()
        .filter(|c| {
            let kind = if flag(c, "is_im") {
                "im"
            } else if flag(c, "is_mpim") {
                "mpim"
            } else if flag(c, "is_private") {
                "private_channel"
            } else {
                "public_channel"
            };
            types.iter().any(|t| t == kind) && !(exclude_archived && flag(c, "is_archived"))
        })
        .cloned()
        .collect();
    let end = (offset + size).min(all.len());
    let items = all.get(offset..end).unwrap_or_default().to_vec();
    ok(json!({
        "channels": items,
        "response_metadata": {"next_cursor": cursor_for(end, all.len())},
    }))
}

/// The conversation for a history-like call, or the error Slack gives.
/// `is_member` in the fixtures is the app's membership; a user token reads
/// every public channel (`channels:history`) and the private ones the
/// fixtures say it is in.
fn readable(
    s: &mut FakeState,
    method: &str,
    p: &Params,
    grant: &Grant,
) -> Result<String, &'static str> {
    let Some(id) = require(s, method, p, "channel") else {
        return Err("channel_not_found");
    };
    let Some(c) = conversation(s, id) else {
        return Err("channel_not_found");
    };
    let public = !flag(c, "is_private") && !flag(c, "is_im") && !flag(c, "is_mpim");
    let user_reads = grant.kind == TokenKind::User && public;
    if !flag(c, "is_im") && !flag(c, "is_member") && !user_reads {
        return Err("not_in_channel");
    }
    Ok(id.to_owned())
}

fn in_window(m: &Value, p: &Params) -> bool {
    let ts = ts_of(m);
    let inclusive = p.get("inclusive").is_some_and(|v| v == "true" || v == "1");
    let bound = |k: &str| p.get(k).and_then(|v| v.parse::<f64>().ok());
    let after = bound("oldest").is_none_or(|o| if inclusive { ts >= o } else { ts > o });
    let before = bound("latest").is_none_or(|l| if inclusive { ts <= l } else { ts < l });
    after && before
}

fn is_reply(m: &Value) -> bool {
    match m.get("thread_ts").and_then(Value::as_str) {
        Some(t) => Some(t) != m.get("ts").and_then(Value::as_str),
        None => false,
    }
}

fn conversations_history(s: &mut FakeState, p: &Params, grant: &Grant) -> Response {
    const M: &str = "conversations.history";
    let id = match readable(s, M, p, grant) {
        Ok(id) => id,
        Err(r) => return err(r),
    };
    let (size, offset) = match page(s, M, p, 100) {
        Ok(x) => x,
        Err(r) => return err(r),
    };
    let mut all: Vec<Value> = s
        .messages
        .get(&id)
        .map(|ms| {
            ms.iter()
                .filter(|m| !is_reply(m) && in_window(m, p))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    all.reverse();
    let end = (offset + size).min(all.len());
    let items = all.get(offset..end).unwrap_or_default().to_vec();
    ok(json!({
        "messages": items,
        "has_more": end < all.len(),
        "pin_count": 0,
        "channel_actions_ts": null,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": cursor_for(end, all.len())},
    }))
}

fn conversations_replies(s: &mut FakeState, p: &Params, grant: &Grant) -> Response {
    const M: &str = "conversations.replies";
    let id = match readable(s, M, p, grant) {
        Ok(id) => id,
        Err(r) => return err(r),
    };
    // "Bot user tokens may use this method for direct message and
    // multi-party direct message conversations, but lack sufficient
    // permissions to use this method on public and private channels."
    let direct = conversation(s, &id).is_some_and(|c| flag(c, "is_im") || flag(c, "is_mpim"));
    if grant.kind == TokenKind::Bot && !direct {
        s.violations.push(format!(
            "{M}: a bot token on the channel {id} (threads in channels need a user token)"
        ));
        return axum::Json(json!({
            "ok": false,
            "error": "missing_scope",
            "needed": "channels:history,groups:history",
            "provided": "(bot token)",
        }))
        .into_response();
    }
    let Some(ts) = require(s, M, p, "ts") else {
        return err("thread_not_found");
    };
    let (size, offset) = match page(s, M, p, 1000) {
        Ok(x) => x,
        Err(r) => return err(r),
    };
    let msgs = s.messages.get(&id).cloned().unwrap_or_default();
    let Some(parent) = msgs
        .iter()
        .find(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
    else {
        return err("thread_not_found");
    };
    // The parent comes first whatever the window, as Slack answers.
    let mut all = vec![parent.clone()];
    all.extend(
        msgs.iter()
            .filter(|m| {
                is_reply(m)
                    && m.get("thread_ts").and_then(Value::as_str) == Some(ts)
                    && in_window(m, p)
            })
            .cloned(),
    );
    let end = (offset + size).min(all.len());
    let items = all.get(offset..end).unwrap_or_default().to_vec();
    ok(json!({
        "messages": items,
        "has_more": end < all.len(),
        "response_metadata": {"next_cursor": cursor_for(end, all.len())},
    }))
}

fn writable(s: &mut FakeState, method: &str, p: &Params) -> Result<String, &'static str> {
    let Some(id) = require(s, method, p, "channel") else {
        return Err("channel_not_found");
    };
    let Some(c) = conversation(s, id) else {
        return Err("channel_not_found");
    };
    if flag(c, "is_archived") {
        return Err("is_archived");
    }
    if !flag(c, "is_im") && !flag(c, "is_member") {
        return Err("not_in_channel");
    }
    Ok(id.to_owned())
}

fn chat_post(s: &mut FakeState, p: &Params) -> Response {
    const M: &str = "chat.postMessage";
    let id = match writable(s, M, p) {
        Ok(id) => id,
        Err(r) => return err(r),
    };
    let text = p.get("text").filter(|t| !t.is_empty());
    if text.is_none() && !p.contains_key("blocks") && !p.contains_key("attachments") {
        return err("no_text");
    }
    if text.is_some_and(|t| t.chars().count() > 40_000) {
        return err("msg_too_long");
    }
    s.next_ts += 1;
    let ts = format!("{}.{:06}", 1_700_000_000 + s.next_ts, 100 + s.next_ts);
    let mut msg = json!({
        "type": "message",
        "user": BOT_USER,
        "bot_id": BOT_ID,
        "team": TEAM,
        "text": text.cloned().unwrap_or_default(),
        "ts": ts,
    });
    let msgs = s.messages.entry(id.clone()).or_default();
    if let Some(parent_ts) = p.get("thread_ts") {
        let Some(parent) = msgs
            .iter_mut()
            .find(|m| m.get("ts").and_then(Value::as_str) == Some(parent_ts.as_str()))
        else {
            return err("thread_not_found");
        };
        let count = parent
            .get("reply_count")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + 1;
        if let Some(o) = parent.as_object_mut() {
            o.insert("reply_count".into(), count.into());
            o.insert("thread_ts".into(), parent_ts.clone().into());
            o.insert("latest_reply".into(), ts.clone().into());
        }
        if let Some(o) = msg.as_object_mut() {
            o.insert("thread_ts".into(), parent_ts.clone().into());
        }
    }
    msgs.push(msg.clone());
    ok(json!({"channel": id, "ts": ts, "message": msg}))
}

fn own_message(
    s: &mut FakeState,
    method: &str,
    p: &Params,
    ts_key: &str,
) -> Result<(String, usize), &'static str> {
    let id = writable(s, method, p)?;
    let Some(ts) = require(s, method, p, ts_key).map(str::to_owned) else {
        return Err("message_not_found");
    };
    let msgs = s.messages.get(&id).cloned().unwrap_or_default();
    let Some(i) = msgs
        .iter()
        .position(|m| m.get("ts").and_then(Value::as_str) == Some(ts.as_str()))
    else {
        return Err("message_not_found");
    };
    Ok((id, i))
}

fn is_ours(m: &Value) -> bool {
    m.get("user").and_then(Value::as_str) == Some(BOT_USER)
}

fn chat_update(s: &mut FakeState, p: &Params) -> Response {
    let (id, i) = match own_message(s, "chat.update", p, "ts") {
        Ok(x) => x,
        Err(r) => return err(r),
    };
    let Some(msg) = s.messages.get_mut(&id).and_then(|ms| ms.get_mut(i)) else {
        return err("message_not_found");
    };
    if !is_ours(msg) {
        return err("cant_update_message");
    }
    let text = p.get("text").cloned().unwrap_or_default();
    if let Some(o) = msg.as_object_mut() {
        o.insert("text".into(), text.clone().into());
        o.insert(
            "edited".into(),
            json!({"user": BOT_USER, "ts": "1700009999.000001"}),
        );
    }
    let ts = msg.get("ts").cloned().unwrap_or(Value::Null);
    let message = msg.clone();
    ok(json!({"channel": id, "ts": ts, "text": text, "message": message}))
}

fn chat_delete(s: &mut FakeState, p: &Params) -> Response {
    let (id, i) = match own_message(s, "chat.delete", p, "ts") {
        Ok(x) => x,
        Err(r) => return err(r),
    };
    let Some(msgs) = s.messages.get_mut(&id) else {
        return err("message_not_found");
    };
    if !msgs.get(i).is_some_and(is_ours) {
        return err("cant_delete_message");
    }
    let msg = msgs.remove(i);
    ok(json!({"channel": id, "ts": msg.get("ts").cloned().unwrap_or(Value::Null)}))
}

fn reactions_add(s: &mut FakeState, p: &Params) -> Response {
    const M: &str = "reactions.add";
    let Some(name) = require(s, M, p, "name").map(str::to_owned) else {
        return err("invalid_name");
    };
    if name.contains(':') || name.contains(' ') {
        return err("invalid_name");
    }
    let (id, i) = match own_message(s, M, p, "timestamp") {
        Ok(x) => x,
        Err(r) => return err(r),
    };
    let Some(msg) = s.messages.get_mut(&id).and_then(|ms| ms.get_mut(i)) else {
        return err("message_not_found");
    };
    let reactions = msg
        .as_object_mut()
        .map(|o| o.entry("reactions").or_insert_with(|| json!([])));
    let Some(Value::Array(list)) = reactions else {
        return err("internal_error");
    };
    if let Some(r) = list
        .iter_mut()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name.as_str()))
    {
        if r.get("users")
            .and_then(Value::as_array)
            .is_some_and(|u| u.iter().any(|u| u == BOT_USER))
        {
            return err("already_reacted");
        }
        if let Some(Value::Array(u)) = r.get_mut("users") {
            u.push(BOT_USER.into());
        }
        let c = r.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
        if let Some(o) = r.as_object_mut() {
            o.insert("count".into(), c.into());
        }
    } else {
        list.push(json!({"name": name, "users": [BOT_USER], "count": 1}));
    }
    ok(json!({}))
}

fn users_info(s: &mut FakeState, p: &Params) -> Response {
    let Some(id) = require(s, "users.info", p, "user") else {
        return err("user_not_found");
    };
    match s
        .users
        .iter()
        .find(|u| u.get("id").and_then(Value::as_str) == Some(id))
    {
        Some(u) => ok(json!({"user": u})),
        None => err("user_not_found"),
    }
}

fn users_lookup(s: &mut FakeState, p: &Params) -> Response {
    let Some(email) = require(s, "users.lookupByEmail", p, "email") else {
        return err("users_not_found");
    };
    let email = email.to_ascii_lowercase();
    match s.users.iter().find(|u| {
        u.pointer("/profile/email")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    }) {
        Some(u) => ok(json!({"user": u})),
        None => err("users_not_found"),
    }
}

fn search(s: &mut FakeState, p: &Params) -> Response {
    let Some(query) = require(s, "search.messages", p, "query").map(str::to_ascii_lowercase) else {
        return err("no_query");
    };
    let count = p
        .get("count")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let page_no = p
        .get("page")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let mut matches = Vec::new();
    for (cid, msgs) in &s.messages {
        let name = conversation(s, cid)
            .and_then(|c| c.get("name"))
            .cloned()
            .unwrap_or(Value::Null);
        for m in msgs {
            let text = m.get("text").and_then(Value::as_str).unwrap_or("");
            if query
                .split_whitespace()
                .all(|w| text.to_ascii_lowercase().contains(w))
            {
                let ts = m.get("ts").and_then(Value::as_str).unwrap_or("");
                let mut hit = m.clone();
                if let Some(o) = hit.as_object_mut() {
                    o.insert(
                        "channel".into(),
                        json!({"id": cid, "name": name, "is_channel": true, "is_private": false}),
                    );
                    o.insert(
                        "permalink".into(),
                        format!(
                            "https://example.slack.com/archives/{cid}/p{}",
                            ts.replace('.', "")
                        )
                        .into(),
                    );
                    o.insert("iid".into(), format!("{cid}-{ts}").into());
                }
                matches.push(hit);
            }
        }
    }
    if p.get("sort").is_some_and(|v| v == "timestamp") {
        matches.sort_by(|a, b| ts_of(b).total_cmp(&ts_of(a)));
    }
    let total = matches.len();
    let start = (page_no - 1) * count;
    let page_items: Vec<Value> = matches.into_iter().skip(start).take(count).collect();
    let pages = total.div_ceil(count).max(1);
    ok(json!({
        "query": p.get("query"),
        "messages": {
            "total": total,
            "pagination": {
                "total_count": total,
                "page": page_no,
                "per_page": count,
                "page_count": pages,
                "first": start + 1,
                "last": (start + page_items.len()).max(start + 1),
            },
            "paging": {"count": count, "total": total, "page": page_no, "pages": pages},
            "matches": page_items,
        },
    }))
}
